"""Does the rate model follow custom quantization tables? Predicted vs real bits, validation split.

Issue 10, item 4 ("the rate model must follow custom tables"). For each validation image (sorted
index % 10 == 0 of the training folder) and quality, the shipped rate model for libjpeg-turbo
``optimize=True`` (``RatePredictor.from_preset("rate_predictor", encoder="libjpeg-optimize",
rounding="hard")``, whole image, exact coefficients) predicts the file's bits for several table
kinds, and the real file is written with those tables (``tfjpeg.io.encode_pixels(...,
tables=T, optimize=True)``): standard IJG tables, the learned family (``--tables``), the standard
tables scaled by 0.6 and 1.6, a random log-normal perturbation of them (σ = 0.3, seeded), and a
flat table (every entry the luma table's mean). Reports the mean absolute percentage error and
the mean signed error per kind.

Usage::

    nice -n 10 python benchmarks/tables_rate_accuracy.py --tables runs/tables/tables.json \
        --out /tmp/tables_rate
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUALITIES = (10, 20, 40, 75)


def table_kinds(q: int, family, rng: np.random.Generator) -> dict[str, np.ndarray]:
    from tfjpeg.jpeg.tables import quality_to_tables

    std = quality_to_tables(q)
    flat = np.full_like(std, round(std[0].mean()))
    kinds = {
        "standard": std,
        "scaled x0.6": np.clip(np.round(std * 0.6), 1, 255),
        "scaled x1.6": np.clip(np.round(std * 1.6), 1, 255),
        "perturbed": np.clip(np.round(std * np.exp(rng.normal(0, 0.3, std.shape))), 1, 255),
        "flat": flat,
    }
    lo, hi = family.quality_range
    if lo <= q <= hi:
        kinds["learned"] = family.tables(q)
    return {k: v.astype(np.int32) for k, v in kinds.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tables", default="learned_tables")
    p.add_argument("--train-dir", default=None)
    p.add_argument("--images", type=int, default=0)
    p.add_argument("--qualities", default=",".join(map(str, QUALITIES)))
    p.add_argument(
        "--rounding",
        default="hard",
        choices=("hard", "ste"),
        help="hard: exact symbol counts; ste: the soft counts training differentiates",
    )
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    import tensorflow as tf

    from benchmarks.tables_validation import load_family
    from tfjpeg.data.folders import dataset_dir, load_image
    from tfjpeg.data.splits import split_images
    from tfjpeg.io import encode_pixels
    from tfjpeg.rate import RatePredictor

    family = load_family(args.tables)
    files = split_images(dataset_dir("train", args.train_dir), "validation")[: args.images or None]
    rate = RatePredictor.from_preset(
        "rate_predictor", encoder="libjpeg-optimize", rounding=args.rounding
    )
    rng = np.random.default_rng(0)
    errors: dict[str, list[float]] = {}
    start = time.time()
    for n, path in enumerate(files):
        image = load_image(path)
        x = tf.constant(image[None], tf.float32)
        for q in (int(v) for v in args.qualities.split(",")):
            for kind, tables in table_kinds(q, family, rng).items():
                real = 8.0 * len(encode_pixels(image, None, tables=tables, optimize=True))
                pred = float(rate(x, tables=tables[None])[0])
                errors.setdefault(kind, []).append(100.0 * (pred - real) / real)
        print(f"{n + 1}/{len(files)} images, {time.time() - start:.0f} s", flush=True)
    lines = [
        "# Rate model on custom tables (validation split, libjpeg-turbo optimize=True)",
        "",
        f"{len(files)} images x qualities {args.qualities}; error = predicted - real file bits.",
        "",
        "| tables | files | MAPE % | mean signed error % | max abs error % |",
        "|---|---|---|---|---|",
    ]
    lines[0] += f", rounding={args.rounding}"
    summary = {}
    for kind, e in errors.items():
        a = np.asarray(e)
        summary[kind] = {"n": len(a), "mape": float(np.mean(np.abs(a))),
                         "bias": float(np.mean(a)), "max": float(np.max(np.abs(a)))}  # fmt: skip
        s = summary[kind]
        lines.append(f"| {kind} | {s['n']} | {s['mape']:.2f} | {s['bias']:+.2f} | {s['max']:.1f} |")
    from benchutil import write_results

    write_results(args.out, f"tables_rate_accuracy_{args.rounding}",
                  {"summary": summary, "tables": args.tables, "images": len(files),
                   "seconds": time.time() - start}, "\n".join(lines) + "\n")  # fmt: skip
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
