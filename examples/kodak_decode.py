"""Decoding comparison on Kodak: libjpeg-turbo, jpegqs, and tfjpeg's consistent decoders.

Every Kodak image is compressed with libjpeg-turbo (Pillow, 4:2:0) at each quality and decoded by

- ``libjpeg``: libjpeg-turbo's own decoder (:func:`tfjpeg.io.decode_pixels`);
- ``jpegqs`` / ``jpegqs-q6``: the classical consistent "quant smooth" decoder (Debian package
  ``jpegqs``; ``apt-get download jpegqs && dpkg -x jpegqs_*.deb DIR``) at its default and ``-q 6``;
- each shipped decoder ``NAME`` (``consistent-l1``, ``consistent-gan``, ``block-unet``): the
  network's own output (float, scored clipped and rounded; the GAN with a random per-channel z,
  seed = image index);
- ``NAME+P``: what :func:`tfjpeg.decode` returns by default and ``tfjpeg decode`` writes: the
  network, the projection / clipping rounds and the uint8 correction pass (uint8 output).

``--methods`` picks among those rows (default: every one). Every learned row is one
:func:`tfjpeg.decode` call and every row is scored by
:func:`tfjpeg.metrics.evaluation.evaluate_decoding`; the seconds are that one timed call per file
(for the network rows: reading the coefficients, the network and, for ``+P``, the projection and
the correction).

Measured (``--metrics``): PSNR-RGB, PSNR-Y, PSNR-B (Yim & Bovik 2011, per RGB channel) and SSIM
against the original, consistency (fraction of re-quantized coefficients equal to the file's,
and consistency RMSE in gray levels; float and uint8, see
:func:`tfjpeg.decoders.consistency.consistency_report`), NIQE (:func:`tfjpeg.metrics.niqe_score`;
the originals' NIQE is reported too), the mean per-pixel standard deviation over ``--samples``
z draws (GAN, on the first ``--z-images`` images), and decoding seconds per megapixel.

Usage:
    python examples/kodak_decode.py --jpegqs /path/to/usr/bin/jpegqs [--images N] [--out DIR]

**Stochastic decoders** (``--sampling posterior[,one-to-many]``): instead of the table above,
every image is compressed at each quality and decoded by the baselines (``libjpeg`` and
``--baseline``, default consistent-l1, with the projection: what ``tfjpeg decode`` writes) and
by each stochastic decoder ``--samples`` times (seeds 0 … K−1, each sample projected by
``tfjpeg.decode``), scored by :func:`tfjpeg.metrics.evaluation.evaluate_sampling`: per-pixel std
over the samples (images in [0, 1]), uint8 consistency (worst sample), PSNR of single samples and
of the mean of the K, NIQE; and a grid of the first samples (crop) per quality is written to
DIR/NAME_grid_q{q}.png. ``--split validation`` takes the validation split of
``$TFJPEG_TRAIN_DIR`` (:mod:`tfjpeg.data.splits`; for choosing models), ``--folder DIR`` any
folder; Kodak otherwise (final reports)::

    python examples/kodak_decode.py --sampling posterior --split validation --qualities 10 \
        --images 10 --out /tmp/posterior_val

``--sampling`` also takes export folders (a trainer's ``--export DIR``) to compare candidates
before shipping one. ``--temperatures 0.4,0.6,1`` scores each stochastic decoder at each of
these sampling temperatures (rows ``posterior@T0.6``; the decoder's ``temperature``, the scale
of its noise) instead of its own, e.g. to choose it on the validation split.


Writes DIR/NAME.{json,md} and NAME_crops.png (``--name``, default kodak_decode), DIR by default
./kodak_decode_results in the current directory; ``--summary-only`` leaves the per-image rows
out of the JSON (shards to be merged need them).
Reference: Bahat & Michaeli 2021 (appendix A evaluation); Man et al. 2023 §5 (consistency RMSE).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import tfjpeg  # noqa: E402
from tfjpeg.api.decoding import (  # noqa: E402
    PROJECTION_ITERATIONS,
    PROJECTION_MARGIN,
    load_decoder_model,
)
from tfjpeg.data.folders import dataset_dir, iter_images  # noqa: E402
from tfjpeg.io import decode_pixels, encode_pixels  # noqa: E402
from tfjpeg.metrics import niqe_score  # noqa: E402
from tfjpeg.metrics.evaluation import evaluate_decoding  # noqa: E402
from tfjpeg.models import names  # noqa: E402

QUALITIES = (5, 10, 20, 30, 40, 50, 75, 90)
#: Every row: the standard decoders, then each shipped decoder without and with ``+P``.
METHODS = (
    "libjpeg",
    "jpegqs",
    "jpegqs-q6",
    *(f"{name}{suffix}" for name in names("decoder") for suffix in ("", "+P")),
)
#: What every row can measure (``--metrics``); ``consistency`` gives four columns.
METRICS = ("psnr_rgb", "psnr_y", "psnr_b", "ssim", "consistency", "niqe")


#: The columns of a row, in the order of the JSON (records of evaluate_decoding, renamed).
ROW_KEYS = (
    "psnr_rgb",
    "psnr_y",
    "psnr_b",
    "ssim",
    "consistent_float",
    "rmse_float",
    "consistent_uint8",
    "rmse_uint8",
    "niqe",
    "s_per_mp",
)


def _jpegqs(binary: str, extra: list[str]):
    """jpegqs as a decode function (file bytes → uint8 pixels)."""

    def decode(data: bytes) -> np.ndarray:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, "in.jpg"), os.path.join(tmp, "out.jpg")
            Path(src).write_bytes(data)
            subprocess.run(
                [binary, "-t", "1", "-i", "0", *extra, src, dst],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            return decode_pixels(Path(dst).read_bytes())

    return decode


def _network(name: str, seed: int | None, project: bool):
    """``tfjpeg.decode`` with decoder ``name`` as a decode function: the network's float output
    (``project=False``), or the uint8 image users get (projection and uint8 correction)."""
    dtype = "uint8" if project else "float32"

    def decode(data: bytes) -> np.ndarray:
        return tfjpeg.decode(data, decoder=name, seed=seed, project=project, dtype=dtype)

    return decode


def _decoders(args, index: int, methods: list[str]) -> dict:
    """Method → decode function; the GAN draws its z from seed = image index."""
    fns = {"libjpeg": lambda data: tfjpeg.decode(data, decoder="libjpeg")}
    if args.jpegqs:
        fns["jpegqs"] = _jpegqs(args.jpegqs, [])
        fns["jpegqs-q6"] = _jpegqs(args.jpegqs, ["-q", "6"])
    for name in names("decoder"):
        seed = index if name == "consistent-gan" else None
        fns[name] = _network(name, seed, project=False)
        fns[f"{name}+P"] = _network(name, seed, project=True)
    return {m: fns[m] for m in methods}


def _crop(image: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    y, x, size = box
    return np.asarray(image)[y : y + size, x : x + size, :3].astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jpegqs", help="path of the jpegqs binary (rows skipped without it)")
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images")
    parser.add_argument("--qualities", default=",".join(map(str, QUALITIES)))
    parser.add_argument("--samples", type=int, default=16, help="z draws for the per-pixel std")
    parser.add_argument("--z-images", type=int, default=4, help="images used for the z std")
    parser.add_argument("--first", type=int, default=0, help="skip the first K images (shards)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("kodak_decode_results"),
        help="output folder (default: ./kodak_decode_results in the current directory; the "
        "committed results were written with --out benchmarks/results)",
    )
    parser.add_argument("--name", default="kodak_decode", help="output file stem")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"rows, among: {', '.join(METHODS)}"
    )
    parser.add_argument(
        "--metrics", default=",".join(METRICS), help=f"measures, among: {', '.join(METRICS)}"
    )
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow compute threads")
    parser.add_argument("--summary-only", action="store_true", help="no per-image rows in the JSON")
    parser.add_argument(
        "--merge", nargs="+", type=Path, help="merge shard JSONs into --out/--name and exit"
    )
    parser.add_argument(
        "--sampling",
        help="stochastic decoders to score (comma list of names or export folders, e.g. "
        "posterior,one-to-many)",
    )
    parser.add_argument("--baseline", default="consistent-l1", help="MMSE decoder row (sampling)")
    parser.add_argument(
        "--temperatures", help="sampling temperatures to score (comma list; default: shipped)"
    )
    parser.add_argument(
        "--split", choices=("validation", "train", "all"), help="images of $TFJPEG_TRAIN_DIR"
    )
    parser.add_argument("--folder", type=Path, help="images of this folder (instead of Kodak)")
    args = parser.parse_args(argv)
    if args.merge:
        return _merge(args.merge, args.out, args.name, argv, args.summary_only)
    if args.sampling:
        return _sampling(args, argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    qualities = [int(q) for q in args.qualities.split(",")]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    unknown = [m for m in methods if m not in METHODS] + [m for m in metrics if m not in METRICS]
    if unknown:
        parser.error(f"unknown methods or metrics: {', '.join(unknown)}")
    methods = [m for m in methods if args.jpegqs or not m.startswith("jpegqs")]
    images = list(iter_images(dataset_dir("kodak")))[args.first : args.first + args.images]
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    z_std: dict[str, list[float]] = {}
    crops: dict[tuple[int, str], np.ndarray] = {}
    crop_box = (300, 380, 128)
    niqe_originals = []
    for name in {m.removesuffix("+P") for m in methods} & set(names("decoder")):
        load_decoder_model(name)  # loaded (and cached) before any timed decode
    # Trace every learned row's tf.function (one graph for every size) outside the timing.
    tiny = encode_pixels(np.full((16, 16, 3), 128, np.uint8), 50, subsampling="420")
    for method, fn in _decoders(args, 0, methods).items():
        if method.removesuffix("+P") in names("decoder"):
            fn(tiny)
    t0 = time.time()
    for index, (name, original) in enumerate(images):
        original = np.asarray(original)[..., :3].astype(np.uint8)
        if "niqe" in metrics:
            niqe_originals.append(float(niqe_score(original)))
        for q in qualities:
            data = encode_pixels(original, q, subsampling="420")
            decoders = _decoders(args, index, methods)
            for method in methods:
                decoded = {}

                def keep(data, fn=decoders[method], decoded=decoded):
                    decoded["image"] = fn(data)
                    return decoded["image"]

                (record,) = evaluate_decoding(keep, [data], [(name, original)], metrics=metrics)
                row = {key: record[key] for key in ROW_KEYS if key in record}
                row["image"] = name
                results.setdefault(str(q), {}).setdefault(method, []).append(row)
                if index == 0 and q == 10:
                    crops[(q, method)] = _crop(decoded["image"], crop_box)
            if index == 0 and q == 10:
                crops[(q, "original")] = _crop(original, crop_box)
            gan_rows = "consistent-gan" in methods
            if gan_rows and args.first + index < args.z_images:  # the first --z-images
                gan = [_network("consistent-gan", s, project=False) for s in range(args.samples)]
                samples = [fn(data) for fn in gan]
                std = float(np.mean(np.std(np.stack(samples), axis=0)))
                z_std.setdefault(str(q), []).append(std)
            print(
                f"[{time.time() - t0:7.0f}s] {name} q{q}: "
                + ", ".join(f"{m} {results[str(q)][m][-1]['psnr_rgb']:.2f}dB" for m in methods),
                flush=True,
            )
    summary = _summarize(results, z_std, niqe_originals)
    doc = {
        "command": "python examples/kodak_decode.py " + " ".join(argv or sys.argv[1:]),
        "images": [name for name, _ in images],
        "qualities": qualities,
        "subsampling": "420",
        "encoder": "libjpeg-turbo (Pillow)",
        "threads": args.threads,
        "projection": {"margin": PROJECTION_MARGIN, "iterations": PROJECTION_ITERATIONS},
        "z_std_images": max(0, min(args.z_images - args.first, len(images))),
        "z_samples": args.samples,
        "niqe_originals": float(np.mean(niqe_originals)) if niqe_originals else None,
        "niqe_originals_per_image": niqe_originals,
        "z_std_per_image": z_std,
        "summary": summary,
        "per_image": results,
        "wall_seconds": time.time() - t0,
    }
    if args.summary_only:
        del doc["per_image"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (args.out / f"{args.name}.md").write_text(_markdown(doc) + "\n")
    if crops:
        _figure(crops, methods, args.out / f"{args.name}_crops.png")
    print(_markdown(doc))
    return 0


def _images(args) -> list[tuple[str, np.ndarray]]:
    """The evaluated images: ``--split`` of the training folder, ``--folder``, or Kodak."""
    from tfjpeg.data.folders import load_image
    from tfjpeg.data.splits import split_images

    if args.split:
        paths = split_images(dataset_dir("train"), args.split)
        chosen = paths[args.first : args.first + args.images]
        return [(p.stem, load_image(p)) for p in chosen]
    folder = args.folder if args.folder else dataset_dir("kodak")
    return list(iter_images(folder))[args.first : args.first + args.images]


def _stochastic_rows(names: list[str], temperatures: str | None) -> dict:
    """{row label: decoder (name or instance)}: each decoder (a registry name, or an export
    folder) as it is, or at each temperature (a copy with another ``temperature``)."""
    from tfjpeg.models.presets import load_folder
    from tfjpeg.models.saving import build_model

    rows: dict = {}
    for name in names:
        exported = Path(name).is_dir()  # a candidate's export folder, e.g. before shipping it
        model = load_folder(name) if exported else load_decoder_model(name)
        if not temperatures:
            rows[name] = model if exported else name
            continue
        config = model.get_config()
        if "temperature" not in config:
            raise SystemExit(f"--temperatures: decoder {name!r} has no sampling temperature")
        for t in (float(v) for v in temperatures.split(",")):
            copy = type(model).from_config({**config, "temperature": t})
            build_model(copy)
            copy.set_weights(model.get_weights())
            rows[f"{name}@T{t:g}"] = copy
    return rows


def _sampling(args, argv) -> int:
    """The stochastic-decoder evaluation (module docstring, "Stochastic decoders")."""
    from tfjpeg.io import contact_sheet, png_bytes
    from tfjpeg.metrics.evaluation import evaluate_sampling

    qualities = [int(q) for q in args.qualities.split(",")]
    images = _images(args)
    load_decoder_model(args.baseline)
    stochastic = _stochastic_rows(args.sampling.split(","), args.temperatures)
    args.out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, list[dict]]] = {}
    niqe_originals = [float(niqe_score(np.asarray(im)[..., :3])) for _, im in images]
    t0 = time.time()
    for q in qualities:
        grid: list[np.ndarray] = []
        for index, (name, original) in enumerate(images):
            original = np.asarray(original)[..., :3].astype(np.uint8)
            data = encode_pixels(original, q, subsampling="420")
            for method in ("libjpeg", f"{args.baseline}+P"):
                fn = _network(args.baseline, None, project=True)
                fn = (lambda d: tfjpeg.decode(d, decoder="libjpeg")) if method == "libjpeg" else fn
                (record,) = evaluate_decoding(fn, [data], [(name, original)])
                rows.setdefault(str(q), {}).setdefault(method, []).append(
                    {
                        k: record[k]
                        for k in (
                            "image",
                            "psnr_rgb",
                            "consistent_uint8",
                            "rmse_uint8",
                            "niqe",
                            "s_per_mp",
                        )
                    }
                )
            for label, decoder in stochastic.items():

                def keep(_name, drawn, index=index, original=original, grid=grid):
                    if index == 0:  # the grid: original, then the first samples, centre crop
                        size = min(128, original.shape[0], original.shape[1])
                        top = (original.shape[0] - size) // 2
                        left = (original.shape[1] - size) // 2
                        crop = (slice(top, top + size), slice(left, left + size))
                        grid.extend([original[crop]] + [d[crop] for d in drawn[:7]])

                (record,) = evaluate_sampling(
                    lambda d, s, decoder=decoder: tfjpeg.decode(d, decoder=decoder, seed=s),
                    [data],
                    [(name, original)],
                    samples=args.samples,
                    on_samples=keep,
                )
                rows.setdefault(str(q), {}).setdefault(label, []).append(record)
            print(f"[{time.time() - t0:6.0f}s] q{q} {name}", flush=True)
        if grid:
            (args.out / f"{args.name}_grid_q{q}.png").write_bytes(
                png_bytes(contact_sheet(grid, columns=8))
            )
    summary = {
        q: {
            m: {k: float(np.mean([r[k] for r in rs])) for k in rs[0] if k != "image"}
            for m, rs in per.items()
        }
        for q, per in rows.items()
    }
    doc = {
        "command": "python examples/kodak_decode.py " + " ".join(argv or sys.argv[1:]),
        "images": [name for name, _ in images],
        "qualities": qualities,
        "samples": args.samples,
        "niqe_originals": float(np.mean(niqe_originals)),
        "summary": summary,
        "per_image": rows,
        "wall_seconds": time.time() - t0,
    }
    (args.out / f"{args.name}_sampling.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = [
        f"{len(images)} images ({doc['images'][0]} …), 4:2:0 libjpeg-turbo files, "
        f"{args.samples} samples per file. Originals' NIQE {doc['niqe_originals']:.2f}. "
        f"Command: `{doc['command']}`",
        "",
        "| q | method | PSNR sample | PSNR mean of K | per-pixel std [0,1] | "
        "consistent uint8 (worst) | RMSE uint8 (worst) | NIQE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for q, per in summary.items():
        for m, v in per.items():
            psnr = v.get("psnr_sample", v.get("psnr_rgb"))
            mean = f"{v['psnr_mean']:.2f}" if "psnr_mean" in v else "-"
            std = f"{v['std']:.4f}" if "std" in v else "-"
            lines.append(
                f"| {q} | {m} | {psnr:.2f} | {mean} | {std} | "
                f"{100 * v['consistent_uint8']:.4f}% | {v['rmse_uint8']:.3f} | {v['niqe']:.2f} |"
            )
    (args.out / f"{args.name}_sampling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def _merge(paths: list[Path], out: Path, name: str, argv, summary_only: bool = False) -> int:
    """Combine shard results (``--first``) into one table."""
    docs = [json.loads(p.read_text()) for p in paths]
    results: dict = {}
    z_std: dict = {}
    for d in docs:
        for q, per_method in d["per_image"].items():
            for method, rows in per_method.items():
                results.setdefault(q, {}).setdefault(method, []).extend(rows)
        for q, values in d["z_std_per_image"].items():
            z_std.setdefault(q, []).extend(values)
    niqe = [v for d in docs for v in d["niqe_originals_per_image"]]
    doc = {
        **docs[0],
        "command": " ; ".join(d["command"] for d in docs)
        + " ; python examples/kodak_decode.py "
        + " ".join(argv or sys.argv[1:]),
        # shards split the images, or the methods (each image once)
        "images": list(dict.fromkeys(n for d in docs for n in d["images"])),
        "z_std_images": sum(d["z_std_images"] for d in docs),
        "niqe_originals": float(np.mean(niqe)) if niqe else None,
        "niqe_originals_per_image": niqe,
        "z_std_per_image": z_std,
        "summary": _summarize(results, z_std, niqe),
        "per_image": results,
        "wall_seconds": max(d["wall_seconds"] for d in docs),
    }
    if summary_only:
        del doc["per_image"]
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / f"{name}.md").write_text(_markdown(doc) + "\n")
    print(_markdown(doc))
    return 0


def _summarize(results, z_std, niqe_originals) -> dict:
    summary = {}
    for q, per_method in results.items():
        summary[q] = {}
        for method, rows in per_method.items():
            mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "image"}
            if method == "consistent-gan" and q in z_std:
                mean["z_std"] = float(np.mean(z_std[q]))
            summary[q][method] = mean
    return summary


#: Markdown columns: (title, key, format); a column shows only if some row has the key.
_COLUMNS = (
    ("PSNR-RGB", "psnr_rgb", "{:.2f}"),
    ("PSNR-Y", "psnr_y", "{:.2f}"),
    ("PSNR-B", "psnr_b", "{:.2f}"),
    ("SSIM", "ssim", "{:.4f}"),
    ("consistent (float)", "consistent_float", "pct"),
    ("RMSE (float)", "rmse_float", "{:.3f}"),
    ("consistent (uint8)", "consistent_uint8", "pct"),
    ("RMSE (uint8)", "rmse_uint8", "{:.3f}"),
    ("NIQE", "niqe", "{:.2f}"),
    ("z-std", "z_std", "{:.2f}"),
    ("s/MP", "s_per_mp", "{:.3f}"),
)


def _markdown(doc: dict) -> str:
    rows = [(q, method, m) for q, pm in doc["summary"].items() for method, m in pm.items()]
    columns = [c for c in _COLUMNS if any(c[1] in m for _, _, m in rows)]
    niqe = doc.get("niqe_originals")
    lines = [
        f"Kodak ({len(doc['images'])} images), 4:2:0 libjpeg-turbo files."
        + (f" Originals' NIQE: {niqe:.2f}." if niqe is not None else "")
        + f" Command: `{doc['command']}`",
        "",
        "Network rows (no suffix) are the network's float output, scored clipped and rounded; "
        "before clipping it re-quantizes to the file exactly (by construction; "
        "tests/test_decoders_consistent.py). '+P': tfjpeg.decode's default uint8 output "
        "(projection and clipping rounds, then the uint8 correction pass). "
        + (
            f"z-std: mean per-pixel std (gray levels) over {doc['z_samples']} seeds on the "
            f"first {doc['z_std_images']} images. "
            if any("z_std" in m for _, _, m in rows)
            else ""
        )
        + "s/MP on a shared 2-core machine, "
        f"{doc.get('threads', 1)} TensorFlow thread(s) per process, jpegqs -t 1.",
        "",
        "| q | method | " + " | ".join(c[0] for c in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for q, method, m in rows:
        cells = []
        for _, key, fmt in columns:
            if key not in m:
                cells.append("-")
            elif fmt == "pct":
                cells.append(f"{100 * m[key]:.4f}%")
            else:
                cells.append(fmt.format(m[key]))
        lines.append(f"| {q} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _figure(crops, methods, path: Path) -> None:
    names = ["original", *methods]
    tiles = [crops[(10, n)] for n in names if (10, n) in crops]
    if not tiles:
        return
    size = tiles[0].shape[0]
    sheet = Image.new("RGB", (size * len(tiles) * 2, size * 2 + 24), "white")
    from PIL import ImageDraw

    draw = ImageDraw.Draw(sheet)
    for i, (name, tile) in enumerate(
        zip([n for n in names if (10, n) in crops], tiles, strict=True)
    ):
        big = Image.fromarray(tile).resize((size * 2, size * 2), Image.NEAREST)
        sheet.paste(big, (i * size * 2, 24))
        draw.text((i * size * 2 + 4, 4), name, fill="black")
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG", optimize=True)
    path.write_bytes(buffer.getvalue())


if __name__ == "__main__":
    sys.exit(main())
