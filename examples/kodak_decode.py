"""Decoding comparison on Kodak: libjpeg-turbo, jpegqs, and tfjpeg's consistent decoders.

Every Kodak image is compressed with libjpeg-turbo (Pillow, 4:2:0) at each quality and decoded by

- ``libjpeg``: libjpeg-turbo's own decoder (:func:`tfjpeg.io.decode_pixels`);
- ``jpegqs`` / ``jpegqs-q6``: the classical consistent "quant smooth" decoder (Debian package
  ``jpegqs``; ``apt-get download jpegqs && dpkg -x jpegqs_*.deb DIR``) at its default and ``-q 6``;
- ``consistent-l1``, ``consistent-gan``: the shipped networks' own output (clipped, rounded);
  the GAN with a random per-channel z (seed = image index);
- ``consistent-l1+P``, ``consistent-gan+P``: the same followed by the projection / clipping
  rounds of :func:`tfjpeg.decode` (what ``tfjpeg decode`` writes).

Measured: PSNR-RGB and PSNR-Y against the original, consistency (fraction of re-quantized
coefficients equal to the file's, and consistency RMSE in gray levels; float and uint8, see
:func:`tfjpeg.jpeg.consistency.consistency_report`), NIQE (:func:`tfjpeg.metrics.niqe_score`;
the originals' NIQE is reported too), the mean per-pixel standard deviation over ``--samples``
z draws (GAN, on the first ``--z-images`` images), and decoding seconds per megapixel.

Usage:
    python examples/kodak_decode.py --jpegqs /path/to/usr/bin/jpegqs [--images N]

Writes benchmarks/results/kodak_decode.{json,md} and kodak_decode_crops.png.
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

from tfjpeg.api.decoding import PROJECTION_ITERATIONS, PROJECTION_MARGIN  # noqa: E402
from tfjpeg.data.folders import dataset_dir, iter_images  # noqa: E402
from tfjpeg.decoders import ConsistentDecoder, decoder_inputs, z_from_seed  # noqa: E402
from tfjpeg.io import decode_pixels, encode_pixels, read_jpeg  # noqa: E402
from tfjpeg.jpeg.consistency import consistency_report, project  # noqa: E402
from tfjpeg.metrics import niqe_score, psnr, psnr_y  # noqa: E402

QUALITIES = (5, 10, 20, 30, 40)
METHODS = (
    "libjpeg",
    "jpegqs",
    "jpegqs-q6",
    "consistent-l1",
    "consistent-l1+P",
    "consistent-gan",
    "consistent-gan+P",
)


def _jpegqs(binary: str, data: bytes, extra: list[str]) -> tuple[np.ndarray, float]:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.jpg"), os.path.join(tmp, "out.jpg")
        Path(src).write_bytes(data)
        start = time.perf_counter()
        subprocess.run(
            [binary, "-t", "1", "-i", "0", *extra, src, dst],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - start
        return decode_pixels(Path(dst).read_bytes()), seconds


def _network(name: str, jpeg, seed: int | None) -> tuple[np.ndarray, float]:
    model = ConsistentDecoder.from_preset(name)
    z = None if seed is None else z_from_seed(seed, *jpeg.components[0].shape[:2])
    inputs, subsampling = decoder_inputs(jpeg, z=z)
    start = time.perf_counter()
    decoded = model(inputs, training=False, subsampling=subsampling)["decoded"][0].numpy()
    return decoded, time.perf_counter() - start


def _projected(decoded: np.ndarray, jpeg) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = project(decoded, jpeg, margin=PROJECTION_MARGIN, iterations=PROJECTION_ITERATIONS)
    return out, time.perf_counter() - start


def _row(original, decoded: np.ndarray, jpeg, seconds: float) -> dict[str, float]:
    rounded = np.clip(np.round(decoded), 0, 255).astype(np.uint8)
    report = consistency_report(decoded, jpeg)
    return {
        "psnr_rgb": float(psnr(rounded, original)),
        "psnr_y": float(psnr_y(rounded, original)),
        "consistent_float": report["fraction_float"],
        "rmse_float": report["rmse_float"],
        "consistent_uint8": report["fraction_uint8"],
        "rmse_uint8": report["rmse_uint8"],
        "niqe": float(niqe_score(rounded)),
        "s_per_mp": seconds / (original.shape[0] * original.shape[1] / 1e6),
    }


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
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--name", default="kodak_decode", help="output file stem")
    parser.add_argument(
        "--merge", nargs="+", type=Path, help="merge shard JSONs into --out/--name and exit"
    )
    args = parser.parse_args(argv)
    if args.merge:
        return _merge(args.merge, args.out, args.name, argv)
    qualities = [int(q) for q in args.qualities.split(",")]
    methods = [m for m in METHODS if args.jpegqs or not m.startswith("jpegqs")]
    images = list(iter_images(dataset_dir("kodak")))[args.first : args.first + args.images]
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    z_std: dict[str, list[float]] = {}
    crops: dict[tuple[int, str], np.ndarray] = {}
    crop_box = (300, 380, 128)
    niqe_originals = []
    t0 = time.time()
    for index, (name, original) in enumerate(images):
        original = np.asarray(original)[..., :3].astype(np.uint8)
        niqe_originals.append(float(niqe_score(original)))
        for q in qualities:
            data = encode_pixels(original, q, subsampling="420")
            jpeg = read_jpeg(data)
            outs: dict[str, tuple[np.ndarray, float]] = {}
            start = time.perf_counter()
            outs["libjpeg"] = (decode_pixels(data), time.perf_counter() - start)
            if args.jpegqs:
                outs["jpegqs"] = _jpegqs(args.jpegqs, data, [])
                outs["jpegqs-q6"] = _jpegqs(args.jpegqs, data, ["-q", "6"])
            outs["consistent-l1"] = _network("consistent-l1", jpeg, None)
            proj, secs = _projected(outs["consistent-l1"][0], jpeg)
            outs["consistent-l1+P"] = (proj, outs["consistent-l1"][1] + secs)
            outs["consistent-gan"] = _network("consistent-gan", jpeg, index)
            proj, secs = _projected(outs["consistent-gan"][0], jpeg)
            outs["consistent-gan+P"] = (proj, outs["consistent-gan"][1] + secs)
            for method in methods:
                decoded, seconds = outs[method]
                row = _row(original, decoded, jpeg, seconds)
                row["image"] = name
                results.setdefault(str(q), {}).setdefault(method, []).append(row)
                if index == 0 and q == 10:
                    crops[(q, method)] = _crop(decoded, crop_box)
            if index == 0 and q == 10:
                crops[(q, "original")] = _crop(original, crop_box)
            if args.first + index < args.z_images:  # the first --z-images of the whole set
                samples = [_network("consistent-gan", jpeg, s)[0] for s in range(args.samples)]
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
        "projection": {"margin": PROJECTION_MARGIN, "iterations": PROJECTION_ITERATIONS},
        "z_std_images": max(0, min(args.z_images - args.first, len(images))),
        "z_samples": args.samples,
        "niqe_originals": float(np.mean(niqe_originals)),
        "niqe_originals_per_image": niqe_originals,
        "z_std_per_image": z_std,
        "summary": summary,
        "per_image": results,
        "wall_seconds": time.time() - t0,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (args.out / f"{args.name}.md").write_text(_markdown(doc) + "\n")
    if crops:
        _figure(crops, methods, args.out / f"{args.name}_crops.png")
    print(_markdown(doc))
    return 0


def _merge(paths: list[Path], out: Path, name: str, argv) -> int:
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
        "images": [n for d in docs for n in d["images"]],
        "z_std_images": sum(d["z_std_images"] for d in docs),
        "niqe_originals": float(np.mean(niqe)),
        "niqe_originals_per_image": niqe,
        "z_std_per_image": z_std,
        "summary": _summarize(results, z_std, niqe),
        "per_image": results,
        "wall_seconds": max(d["wall_seconds"] for d in docs),
    }
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


def _markdown(doc: dict) -> str:
    lines = [
        f"Kodak ({len(doc['images'])} images), 4:2:0 libjpeg-turbo files. "
        f"Originals' NIQE: {doc['niqe_originals']:.2f}. Command: `{doc['command']}`",
        "",
        "Network rows (consistent-l1, consistent-gan) are the output clipped to [0, 255]; before "
        "clipping it re-quantizes to the file exactly (by construction; "
        "tests/test_decoders_consistent.py). '+P': followed by tfjpeg.decode's projection and "
        "clipping rounds. z-std: mean per-pixel std (gray levels) over "
        f"{doc['z_samples']} seeds on the first {doc['z_std_images']} images. s/MP on a shared, "
        "heavily loaded 2-core machine, one TensorFlow thread.",
        "",
        "| q | method | PSNR-RGB | PSNR-Y | consistent (float) | RMSE (float) | "
        "consistent (uint8) | RMSE (uint8) | NIQE | z-std | s/MP |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for q, per_method in doc["summary"].items():
        for method, m in per_method.items():
            z = f"{m['z_std']:.2f}" if "z_std" in m else "-"
            lines.append(
                f"| {q} | {method} | {m['psnr_rgb']:.2f} | {m['psnr_y']:.2f} | "
                f"{100 * m['consistent_float']:.4f}% | {m['rmse_float']:.3f} | "
                f"{100 * m['consistent_uint8']:.4f}% | {m['rmse_uint8']:.3f} | "
                f"{m['niqe']:.2f} | {z} | {m['s_per_mp']:.3f} |"
            )
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
