"""Learned quantization tables vs the standard ones, real encoders, on the validation split.

Issue 10, item 4. The validation images are the training folder's sorted images whose index
% 10 == 0 (never trained on). For each image and quality, real files are written by
libjpeg-turbo (Pillow, ``optimize=True``, sequential, 4:2:0) and mozjpeg (trellis, sequential,
optimized Huffman tables), each with its standard tables and with the learned family
(``--tables``), decoded by Pillow and measured: bpp (real file size), PSNR (RGB), MS-SSIM (RGB)
and Butteraugli (``butteraugli_main``: max norm and 3-norm). The curves (mean bpp, mean metric
per quality) give BD-rates (:func:`tfjpeg.metrics.bd_rate`, PCHIP) in 0.1–0.5 and 0.5–1.5 bpp
against libjpeg-turbo and against mozjpeg.

Usage::

    nice -n 10 python benchmarks/tables_validation.py --tables runs/tables/tables.json \
        --out /tmp/tables_validation

Writes ``tables_validation.json`` and ``.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from tfjpeg.metrics.butteraugli import butteraugli_scores

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUALITIES = (5, 8, 10, 15, 20, 25, 30, 40, 50, 60, 75, 90)
BANDS = ((0.1, 0.5), (0.5, 1.5))
METRICS = ("msssim", "psnr", "butteraugli", "butteraugli_3norm")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tables", default="learned_tables",
                   help="a learned-tables JSON/folder, or a registry name")  # fmt: skip
    p.add_argument("--train-dir", default=None, help="default: $TFJPEG_TRAIN_DIR")
    p.add_argument("--images", type=int, default=0, help="first N validation images (0: all)")
    p.add_argument("--qualities", default=",".join(map(str, QUALITIES)))
    p.add_argument("--no-butteraugli", action="store_true")
    p.add_argument(
        "--max-side",
        type=int,
        default=0,
        help="centre-crop larger images to this side (0: whole images); speeds up a loaded machine",
    )
    p.add_argument("--no-mozjpeg", action="store_true", help="libjpeg-turbo configurations only")
    p.add_argument("--mozjpeg-only", action="store_true", help="mozjpeg configurations only")
    p.add_argument(
        "--extra-tables",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="another family to compare (libjpeg-turbo only), e.g. a second run's tables.json",
    )
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    args.qualities = [int(q) for q in args.qualities.split(",")]
    return args


def load_family(spec: str):
    from tfjpeg.jpeg.learned import TableFamily

    if Path(spec).exists():
        return TableFamily.load(spec)
    from tfjpeg.models.presets import load

    return load(spec, cls=TableFamily)


def curves(rows: list[dict], config: str, qualities: list[int]) -> dict[str, list[float]]:
    """Mean bpp and mean metric per quality for one configuration."""
    out: dict[str, list[float]] = {"bpp": []}
    for m in METRICS:
        out[m] = []
    for q in qualities:
        sel = [r for r in rows if r["config"] == config and r["quality"] == q]
        if not sel:
            continue
        out["bpp"].append(float(np.mean([r["bpp"] for r in sel])))
        for m in METRICS:
            if m in sel[0]:
                out[m].append(float(np.mean([r[m] for r in sel])))
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    from tfjpeg.data.folders import dataset_dir, load_image
    from tfjpeg.data.splits import split_images
    from tfjpeg.io import decode_pixels, encode_pixels
    from tfjpeg.metrics import bd_rate, ms_ssim_score, psnr

    families = {"learned": load_family(args.tables)}
    for spec in args.extra_tables:
        label, _, path = spec.partition("=")
        families[label] = load_family(path)
    lo = max(f.quality_range[0] for f in families.values())
    hi = min(f.quality_range[1] for f in families.values())
    qualities = [q for q in args.qualities if lo <= q <= hi]
    files = split_images(dataset_dir("train", args.train_dir), "validation")
    if args.images:
        files = files[: args.images]
    use_ba = not args.no_butteraugli and shutil.which("butteraugli_main") is not None
    configs = {"libjpeg": ("libjpeg", None), "libjpeg+learned": ("libjpeg", "learned")}
    if not args.no_mozjpeg:
        configs.update({"mozjpeg": ("mozjpeg", None), "mozjpeg+learned": ("mozjpeg", "learned")})
    for label in list(families)[1:]:
        configs[f"libjpeg+{label}"] = ("libjpeg", label)
    if args.mozjpeg_only:
        configs = {k: v for k, v in configs.items() if v[0] == "mozjpeg"}
    rows: list[dict] = []
    start = time.time()
    for n, path in enumerate(files):
        image = load_image(path)
        if args.max_side:
            h, w = image.shape[:2]
            y, x = max(h - args.max_side, 0) // 2, max(w - args.max_side, 0) // 2
            image = np.ascontiguousarray(image[y : y + args.max_side, x : x + args.max_side])
        for q in qualities:
            for name, (encoder, learned) in configs.items():
                data = encode_pixels(
                    image, q, encoder=encoder, optimize=True,
                    tables=families[learned].tables(q) if learned else None,
                )  # fmt: skip
                decoded = decode_pixels(data)
                row = {
                    "image": path.name, "quality": q, "config": name,
                    "bpp": 8.0 * len(data) / (image.shape[0] * image.shape[1]),
                    "psnr": float(psnr(decoded, image)),
                    "msssim": float(ms_ssim_score(decoded, image)),
                }  # fmt: skip
                if use_ba:
                    row["butteraugli"], row["butteraugli_3norm"] = butteraugli_scores(
                        decoded, image
                    )
                rows.append(row)
        print(f"{n + 1}/{len(files)} images, {time.time() - start:.0f} s", flush=True)
    table = {name: curves(rows, name, qualities) for name in configs}
    results: dict = {"images": [p.name for p in files], "qualities": qualities,
                     "max_side": args.max_side,
                     "tables": str(args.tables), "curves": table, "bd_rate": {}}  # fmt: skip
    lines = [
        "# Learned tables on the validation split (real encoders, real files)",
        "",
        f"{len(files)} validation images (sorted index % 10 == 0 of the training folder), "
        f"qualities {qualities}, tables `{args.tables}`"
        + (f", images centre-cropped to at most {args.max_side} px a side" if args.max_side else "")
        + ". BD-rate in % (negative = fewer bits at "
        "equal quality), PCHIP on the mean curves; Butteraugli as -distance.",
        "",
        "| test | anchor | band (bpp) | MS-SSIM | PSNR | Butteraugli | Butteraugli 3-norm |",
        "|---|---|---|---|---|---|---|",
    ]
    pairs = [("libjpeg+learned", "libjpeg"), ("libjpeg+learned", "mozjpeg"),
             ("mozjpeg+learned", "mozjpeg"), ("mozjpeg", "libjpeg")]  # fmt: skip
    pairs = [(t, a) for t, a in pairs if t in configs and a in configs]
    pairs += [(f"libjpeg+{label}", "libjpeg") for label in list(families)[1:]]
    for test, anchor in pairs:
        for band in BANDS:
            key = f"{test} vs {anchor} {band[0]}-{band[1]}"
            vals = {}
            for m in METRICS:
                a, t = table[anchor], table[test]
                if not a.get(m):
                    continue
                sign = -1.0 if m.startswith("butteraugli") else 1.0
                vals[m] = bd_rate(a["bpp"], [sign * v for v in a[m]], t["bpp"],
                                  [sign * v for v in t[m]], band=band, errors="nan")  # fmt: skip
            results["bd_rate"][key] = vals
            cells = [f"{vals[m]:+.1f}" if m in vals else "—" for m in METRICS]
            lines.append(f"| {test} | {anchor} | {band[0]}-{band[1]} | " + " | ".join(cells) + " |")
    lines += ["", "Mean curves (bpp / MS-SSIM / PSNR / Butteraugli per quality):", ""]
    for name, c in table.items():
        pts = ", ".join(
            f"q{q}: {b:.3f}/{s:.4f}/{p:.2f}" + (f"/{c['butteraugli'][i]:.2f}" if c["butteraugli"]
                                                 else "")
            for i, (q, b, s, p) in enumerate(zip(qualities, c["bpp"], c["msssim"], c["psnr"],
                                                 strict=True))
        )  # fmt: skip
        lines.append(f"- {name}: {pts}")
    results["seconds"] = time.time() - start
    from benchutil import write_results

    write_results(args.out, "tables_validation", results, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
