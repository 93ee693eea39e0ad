"""How often does the TF-only reader ``coefficients_from_jpeg_bytes`` match ``read_jpeg`` exactly?

For each Kodak image and quality, Pillow (libjpeg-turbo) encodes the image
(``tfjpeg.io.encode_pixels``); ``tfjpeg.io.read_jpeg`` (jpeglib) gives the reference
coefficients, tables and geometry; ``tfjpeg.io.coefficients_from_jpeg_bytes`` runs as a
``tf.function`` with a scalar ``tf.string`` signature, as in a served SavedModel. Reported per
quality: images whose coefficients all agree, the fraction and number of differing coefficients
(Y, Cb, Cr, real blocks), whether tables / size / sampling agree, and the time per image (median of
the timed calls; the graph is traced once before timing). The same is measured for the reader's
first estimate alone (``refine_iterations=0, search_sweeps=0``: forward DCT of libjpeg's decoded
sample planes), to show what the decode-consistency refinement and local search add.

Run (all 24 images, 8 qualities: ~4 min on one core of a shared 2-core CPU, tracing included):

    python benchmarks/graph_reader_agreement.py --kodak-dir $TFJPEG_KODAK_DIR --threads 1
    python benchmarks/graph_reader_agreement.py --images 2 --out /tmp/quick   # quick look

Reference: ARCHITECTURE.md "Serving" (stock TF ops only); Bahat & Michaeli, CVPR 2021.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parent.parent))  # an installed tfjpeg first

from benchutil import (
    Progress,
    check_arguments,
    configure_threads,
    environment,
    median_seconds,
    write_results,
)

DEFAULT_QUALITIES = (5, 10, 20, 30, 50, 75, 90, 95)
STEM = "graph_reader_agreement"
VARIANTS = {"full": {}, "forward DCT only": {"refine_iterations": 0, "search_sweeps": 0}}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kodak-dir", default=None, help="Kodak folder (default: $TFJPEG_KODAK_DIR)")
    p.add_argument("--images", type=int, default=24, help="use the first N images (default 24)")
    p.add_argument("--qualities", default=",".join(map(str, DEFAULT_QUALITIES)))
    p.add_argument("--subsampling", default="420", choices=("420", "422", "444"))
    p.add_argument("--threads", type=int, default=1, help="TF compute threads")
    p.add_argument("--repeats", type=int, default=1, help="timed calls per file (median)")
    p.add_argument("--no-baseline", action="store_true", help="skip the forward-DCT-only variant")
    p.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results",
        help="output folder",
    )
    args = p.parse_args(argv)
    check_arguments(p, args, ("images", "threads", "repeats"))
    return args


def compare(out: dict, ref: Any) -> dict[str, Any]:
    """Differences between the graph reader's output and ``read_jpeg``'s."""
    differing = total = 0
    for key, comp in zip(("y", "cb", "cr"), ref.components, strict=False):
        mine = out[key].numpy()
        if mine.shape != comp.shape:
            differing += comp.size
        else:
            differing += int(np.count_nonzero(mine != comp))
        total += comp.size
    ref_tables = ref.component_tables.astype(np.float32)
    tables_ok = bool(np.array_equal(out["tables"].numpy()[: ref.num_components], ref_tables))
    sampling = tuple(
        tuple(int(v) for v in row) for row in out["sampling"].numpy()[: ref.num_components]
    )
    geometry_ok = (
        int(out["height"]) == ref.height
        and int(out["width"]) == ref.width
        and int(out["num_components"]) == ref.num_components
        and sampling == ref.sampling
    )
    return {
        "differing": differing,
        "total": total,
        "tables_ok": tables_ok,
        "geometry_ok": geometry_ok,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    threads = configure_threads(args.threads)
    import tensorflow as tf

    from tfjpeg.data.folders import dataset_dir, iter_images
    from tfjpeg.errors import TfjpegError
    from tfjpeg.io import coefficients_from_jpeg_bytes, encode_pixels, read_jpeg

    try:
        folder = dataset_dir("kodak", args.kodak_dir)
    except TfjpegError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    images = list(iter_images(folder, limit=args.images))
    variants = {k: v for k, v in VARIANTS.items() if not (args.no_baseline and v)}
    spec = [tf.TensorSpec([], tf.string)]
    readers = {
        name: tf.function(
            lambda b, kw=kw: coefficients_from_jpeg_bytes(b, **kw), input_signature=spec
        )
        for name, kw in variants.items()
    }
    # Trace once per variant (not timed).
    probe = tf.constant(encode_pixels(images[0][1][:64, :64], 50, subsampling=args.subsampling))
    trace_s = {}
    for name, fn in readers.items():
        t0 = time.perf_counter()
        fn(probe)
        trace_s[name] = time.perf_counter() - t0

    records: dict[str, dict[str, list[dict]]] = {
        v: {str(q): [] for q in args.qualities} for v in variants
    }
    bar = Progress(len(images) * len(args.qualities), "graph reader")
    t_start = time.monotonic()
    for name, image in images:
        for q in args.qualities:
            data = encode_pixels(image, q, subsampling=args.subsampling)
            ref = read_jpeg(data)
            tensor = tf.constant(data)
            for variant, fn in readers.items():
                last: dict[str, Any] = {}

                def read(fn=fn, last=last, tensor=tensor) -> None:
                    last["out"] = fn(tensor)
                    _ = last["out"]["y"].numpy()

                # Traced above on a probe: no warm-up, the median of --repeats reads.
                seconds = median_seconds(read, args.repeats, warmup=0)
                rec = compare(last["out"], ref)
                rec.update(image=name, seconds=seconds)
                records[variant][str(q)].append(rec)
            full = records["full"][str(q)][-1]
            bar.update(f"{name} q{q}: {full['differing']} differ, {1e3 * full['seconds']:.0f} ms")

    summary: dict[str, Any] = {}
    for variant, per_q in records.items():
        summary[variant] = {}
        for q, recs in per_q.items():
            total = sum(r["total"] for r in recs)
            differing = sum(r["differing"] for r in recs)
            summary[variant][q] = {
                "images": len(recs),
                "images_exact": sum(r["differing"] == 0 for r in recs),
                "coefficients": total,
                "differing": differing,
                "agreement": 1 - differing / total,
                "tables_exact": sum(r["tables_ok"] for r in recs),
                "geometry_exact": sum(r["geometry_ok"] for r in recs),
                "ms_per_image_median": 1e3 * statistics.median(r["seconds"] for r in recs),
                "ms_per_image_mean": 1e3 * statistics.mean(r["seconds"] for r in recs),
                "per_image_differing": {r["image"]: r["differing"] for r in recs},
            }
    command = "python benchmarks/graph_reader_agreement.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    results = {
        "command": command.strip(),
        "config": {
            "images": [n for n, _ in images],
            "qualities": args.qualities,
            "subsampling": args.subsampling,
            "threads": threads,
            "repeats": args.repeats,
            "variants": variants,
        },
        "environment": environment(),
        "trace_seconds": trace_s,
        "summary": summary,
        "total_seconds": time.monotonic() - t_start,
    }
    results["environment"]["load_average_at_end"] = list(os.getloadavg())
    text = markdown(results)
    print(text)
    write_results(args.out, STEM, results, text)
    return 0


def markdown(results: dict) -> str:
    s = results["summary"]
    cfg = results["config"]
    env = results["environment"]
    n = len(cfg["images"])
    lines = [
        f"`coefficients_from_jpeg_bytes` (TF ops only) vs `read_jpeg` (jpeglib) on {n} Kodak "
        f"images encoded by Pillow/libjpeg-turbo {env['pillow_libjpeg_turbo']}, "
        f"{cfg['subsampling'][0]}:{cfg['subsampling'][1]}:{cfg['subsampling'][2]}; time per image "
        f"is the median of one call per file in a traced `tf.function`, "
        f"{cfg['threads']['intra_op_threads']} TF compute thread(s) on a shared "
        f"{env['cpu_count']}-core CPU:",
        "",
        "| quality | images exact | coefficients equal (%) | differing / total "
        "| tables, size, sampling exact | ms / image "
        "| forward DCT only: images exact, equal (%), ms |",
        "|---|---|---|---|---|---|---|",
    ]
    base = s.get("forward DCT only")
    for q, r in s["full"].items():
        header_ok = min(r["tables_exact"], r["geometry_exact"])
        b = (
            f"{base[q]['images_exact']}/{base[q]['images']}, {100 * base[q]['agreement']:.5f}, "
            f"{base[q]['ms_per_image_median']:.0f} ms"
            if base
            else "—"
        )
        lines.append(
            f"| {q} | {r['images_exact']}/{r['images']} | {100 * r['agreement']:.5f} | "
            f"{r['differing']:,} / {r['coefficients']:,} | {header_ok}/{r['images']} | "
            f"{r['ms_per_image_median']:.0f} | {b} |"
        )
    lines += ["", f"Command: `{results['command']}`"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
