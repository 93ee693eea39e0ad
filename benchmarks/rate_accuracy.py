"""Accuracy of the rate predictor against real encoders on Kodak (issue 3, item 3).

For each Kodak image and quality, the predicted bits per pixel of ``tfjpeg.rate.RatePredictor``
(JPEG-aware and factorized models, shipped parameters, exact rounding) are compared with the
real files of libjpeg-turbo (standard Huffman tables, ``optimize=True``) and mozjpeg (trellis,
optimized tables, sequential; ``tfjpeg.io.encode_pixels``), all 4:2:0: mean absolute percentage
error and Pearson r over the images, per quality. Edits are tracked with pairs (image, image
smoothed by a Gaussian of σ = 0.7 px): the correlation of predicted and real changes in bytes,
and how often the sign of the change agrees.

Usage::

    nohup python benchmarks/rate_accuracy.py [--images 24] > /tmp/rate_accuracy.log 2>&1 &

Writes ``benchmarks/results/rate_accuracy.json`` and ``.md``; per-image results are cached in
``--cache`` so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUALITIES = (5, 10, 15, 20, 30, 40, 50, 75, 90, 95)
PAIR_QUALITIES = (10, 50, 90)
MODELS = ("jpeg", "factorized")


def parse_args(argv):
    p = argparse.ArgumentParser(description="Rate predictor accuracy on Kodak.")
    p.add_argument("--images", type=int, default=24, help="first N Kodak images")
    p.add_argument("--qualities", default=",".join(map(str, QUALITIES)))
    p.add_argument("--pair-qualities", default=",".join(map(str, PAIR_QUALITIES)))
    p.add_argument("--sigma", type=float, default=0.7, help="Gaussian smoothing of the pairs")
    p.add_argument("--kodak-dir", default=None)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "rate_accuracy"))
    p.add_argument("--cache", default="/tmp/tfjpeg_rate_accuracy_cache.json")
    args = p.parse_args(argv)
    args.qualities = [int(q) for q in args.qualities.split(",")]
    args.pair_qualities = [int(q) for q in args.pair_qualities.split(",")]
    if args.images < 2:
        p.error(f"--images must be at least 2 (Pearson r). Received: {args.images}")
    return args


def gaussian_smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur (radius 3σ, edge reflection), rounded to uint8."""
    radius = max(1, int(np.ceil(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    img = image.astype(np.float64)
    pad = np.pad(img, ((radius, radius), (0, 0), (0, 0)), mode="reflect")
    img = sum(k[i] * pad[i : i + image.shape[0]] for i in range(len(k)))
    pad = np.pad(img, ((0, 0), (radius, radius), (0, 0)), mode="reflect")
    img = sum(k[i] * pad[:, i : i + image.shape[1]] for i in range(len(k)))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def pearson(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from tfjpeg.data.folders import dataset_dir, iter_images
    from tfjpeg.io import save_bytes_atomic
    from tfjpeg.rate import ENCODERS, RatePredictor
    from trainers.rate.fit import real_sizes

    cache_path = Path(args.cache)
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    predictors = {}
    for model in MODELS:
        for enc in ENCODERS:
            pred = RatePredictor(model=model, encoder=enc, rounding="hard")
            predictors[(model, enc)] = tf.function(
                lambda x, q, pred=pred: pred(x, quality=q), reduce_retracing=True
            )
    timing = {f"{m}/{e}": 0.0 for m, e in predictors}
    t_start = time.time()
    folder = dataset_dir("kodak", args.kodak_dir)
    names = []
    for name, image in iter_images(folder, limit=args.images):
        names.append(name)
        key = f"{name}|{args.sigma}|{args.qualities}|{args.pair_qualities}"
        if key in cache:
            continue
        entry = {"pixels": int(image.shape[0] * image.shape[1]), "real": {}, "pred": {}}
        smooth = gaussian_smooth(image, args.sigma)
        variants = {"orig": (image, args.qualities), "smooth": (smooth, args.pair_qualities)}
        for variant, (img, qs) in variants.items():
            entry["real"][variant] = {
                enc: [8 * real_sizes(img, q)[enc]["size"] for q in qs] for enc in ENCODERS
            }
            batch = tf.constant(np.repeat(img[None], len(qs), axis=0), tf.float32)
            qual = tf.constant(qs, tf.float32)
            entry["pred"][variant] = {}
            for (model, enc), fn in predictors.items():
                t0 = time.time()
                bits = fn(batch, qual).numpy()
                timing[f"{model}/{enc}"] += time.time() - t0
                entry["pred"][variant][f"{model}/{enc}"] = bits.tolist()
        cache[key] = entry
        cache_path.write_text(json.dumps(cache))
        print(f"{name} done ({time.time() - t_start:.0f} s)", flush=True)

    entries = [cache[f"{n}|{args.sigma}|{args.qualities}|{args.pair_qualities}"] for n in names]
    results = {"accuracy": {}, "tracking": {}}
    for model in MODELS:
        for enc in ENCODERS:
            k = f"{model}/{enc}"
            rows = {}
            for j, q in enumerate(args.qualities):
                actual = np.array([e["real"]["orig"][enc][j] / e["pixels"] for e in entries])
                pred = np.array([e["pred"]["orig"][k][j] / e["pixels"] for e in entries])
                ape = np.abs(pred - actual) / actual * 100
                rows[str(q)] = {
                    "mape": float(ape.mean()),
                    "max_ape": float(ape.max()),
                    "pearson_r": pearson(pred, actual),
                    "mean_actual_bpp": float(actual.mean()),
                    "mean_predicted_bpp": float(pred.mean()),
                }
            results["accuracy"][k] = rows
            d_actual, d_pred, per_q = [], [], {}
            for j, q in enumerate(args.pair_qualities):
                jo = args.qualities.index(q) if q in args.qualities else None
                if jo is None:
                    raise SystemExit(f"pair quality {q} must be one of --qualities")
                real = [(e["real"]["smooth"][enc][j], e["real"]["orig"][enc][jo]) for e in entries]
                da = np.array([(s - o) / 8 for s, o in real])
                dp = np.array(
                    [(e["pred"]["smooth"][k][j] - e["pred"]["orig"][k][jo]) / 8 for e in entries]
                )
                per_q[str(q)] = {
                    "pearson_r": pearson(dp, da),
                    "sign_agreement": float(np.mean(np.sign(dp) == np.sign(da))),
                    "mean_actual_delta_bytes": float(da.mean()),
                    "mean_predicted_delta_bytes": float(dp.mean()),
                }
                d_actual += da.tolist()
                d_pred += dp.tolist()
            results["tracking"][k] = {
                "pearson_r": pearson(d_pred, d_actual),
                "sign_agreement": float(np.mean(np.sign(d_pred) == np.sign(d_actual))),
                "per_quality": per_q,
            }
    results["setup"] = {
        "images": len(entries),
        "qualities": args.qualities,
        "pair_qualities": args.pair_qualities,
        "sigma": args.sigma,
        "subsampling": "420",
        "rounding": "hard",
        "command": "python benchmarks/rate_accuracy.py " + " ".join(argv or sys.argv[1:]),
        "prediction_seconds": {k: round(v, 1) for k, v in timing.items()},
        "wall_seconds": round(time.time() - t_start, 1),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared)",
        "tensorflow": tf.__version__,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_bytes_atomic(
        out.with_suffix(".json"), json.dumps(results, indent=1).encode(), overwrite=True
    )
    save_bytes_atomic(out.with_suffix(".md"), markdown(results).encode(), overwrite=True)
    print(markdown(results))
    return 0


def markdown(results) -> str:
    setup = results["setup"]
    qs = [str(q) for q in setup["qualities"]]
    lines = [
        "# Rate predictor accuracy on Kodak",
        "",
        f"`{setup['command']}` — {setup['images']} images, 4:2:0, exact rounding; "
        "bits per pixel predicted by `tfjpeg.rate.RatePredictor` vs the real file.",
        "",
        "## MAPE % (Pearson r) per quality",
        "",
        "| model / encoder | " + " | ".join(f"q{q}" for q in qs) + " |",
        "|---|" + "---|" * len(qs),
    ]
    for k, rows in results["accuracy"].items():
        cells = [f"{rows[q]['mape']:.2f} ({rows[q]['pearson_r']:.4f})" for q in qs]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"## Tracking edits: image vs Gaussian-smoothed (sigma = {setup['sigma']} px) image",
        "",
        "Pearson r of predicted vs real change in bytes (all pairs), sign agreement, and r per "
        "quality.",
        "",
        "| model / encoder | r (all) | sign agreement | "
        + " | ".join(f"r q{q}" for q in setup["pair_qualities"])
        + " |",
        "|---|---|---|" + "---|" * len(setup["pair_qualities"]),
    ]
    for k, t in results["tracking"].items():
        per = [f"{t['per_quality'][str(q)]['pearson_r']:.4f}" for q in setup["pair_qualities"]]
        lines.append(
            f"| {k} | {t['pearson_r']:.4f} | {100 * t['sign_agreement']:.1f}% | "
            + " | ".join(per)
            + " |"
        )
    lines += [
        "",
        f"Wall time {setup['wall_seconds']:.0f} s on {setup['machine']}; TensorFlow "
        f"{setup['tensorflow']}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
