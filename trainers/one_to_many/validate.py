"""Validate a one-to-many decoder on the validation split of the training images, at one quality.

The honest protocol (:mod:`tfjpeg.data.splits`: never Kodak): centre crops of the validation
images are compressed with libjpeg-turbo at ``--quality`` and decoded by

- ``libjpeg``: the standard decoding;
- ``consistent-l1`` (or the ``--baseline`` decoders): ``tfjpeg.decode``;
- the one-to-many model (a folder written by ``--export`` / :func:`tfjpeg.serving.decoders.
  export_decoder`) with ``tfjpeg.decode(..., seed=s)`` for ``--seeds`` seeds, and with z = 0.

Per decoder: mean PSNR-RGB of single decodings (each seed's decoding measured on its own, then
averaged), the uint8 consistency after the decoding core's projection (fraction of re-quantized
coefficients equal to the file's, :func:`tfjpeg.decoders.consistency.consistency_report`); for
the one-to-many model also the per-pixel standard deviation over the seeds (images in [0, 1],
averaged over pixels and images) — how different the candidates are — and the PSNR-RGB of the
mean of the seeds' decodings (rounded to uint8; Man et al. 2023's "Ours-A"). Prints a table and
writes ``<out>/validation_q<quality>.json``.

Usage:
    python -m trainers.one_to_many.validate --model saved_models/one-to-many/1 --out DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main", "validate"]


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def validate(
    model: Any,
    crops: list[tuple[str, np.ndarray]],
    quality: int,
    seeds: int,
    baselines: Sequence[str] = ("consistent-l1",),
) -> dict[str, Any]:
    """The measures above for ``model`` (a decoder instance) on ``crops`` at ``quality``."""
    import tfjpeg
    from tfjpeg.io import encode_pixels
    from tfjpeg.metrics import evaluate_decoding
    from tfjpeg.metrics.psnr import psnr

    files = [encode_pixels(image, quality) for _, image in crops]
    metrics = ("psnr_rgb", "consistency")

    def summary(rows: list[dict]) -> dict[str, float]:
        return {
            "psnr_rgb": _mean(rows, "psnr_rgb"),
            "consistent_uint8": _mean(rows, "consistent_uint8"),
            "rmse_uint8": _mean(rows, "rmse_uint8"),
        }

    results: dict[str, Any] = {"quality": quality, "images": [n for n, _ in crops]}
    for name in ("libjpeg", *baselines):
        rows = evaluate_decoding(
            lambda data, name=name: tfjpeg.decode(data, decoder=name), files, crops,
            metrics=metrics,
        )  # fmt: skip
        results[name] = summary(rows)
    rows = evaluate_decoding(
        lambda data: tfjpeg.decode(data, decoder=model), files, crops, metrics=metrics
    )
    results["one-to-many z=0"] = summary(rows)
    per_seed, samples = [], []
    for seed in range(seeds):
        decoded = []

        def decode(data: bytes, seed: int = seed, decoded: list = decoded) -> np.ndarray:
            decoded.append(tfjpeg.decode(data, decoder=model, seed=seed))
            return decoded[-1]

        per_seed.append(evaluate_decoding(decode, files, crops, metrics=metrics))
        samples.append(decoded)
    flat = [row for rows in per_seed for row in rows]
    std = [
        float(np.mean(np.std(np.stack([s[i] for s in samples]).astype(np.float64) / 255.0, 0)))
        for i in range(len(files))
    ]
    mean_psnr = [
        psnr(np.round(np.mean([s[i] for s in samples], axis=0, dtype=np.float64)), image)
        for i, (_, image) in enumerate(crops)
    ]
    results["one-to-many (single seeds)"] = {
        **summary(flat),
        "psnr_rgb_mean_of_seeds": float(np.mean(mean_psnr)),
        "psnr_rgb_seed_spread": float(np.std([_mean(rows, "psnr_rgb") for rows in per_seed])),
        "pixel_std_over_seeds": float(np.mean(std)),
        "seeds": seeds,
    }
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (see the module docstring). Returns 0."""
    from tfjpeg.models.presets import load_folder
    from trainers.editor.validation import validation_crops

    parser = argparse.ArgumentParser(prog="python -m trainers.one_to_many.validate")
    parser.add_argument("--model", type=Path, required=True, help="exported one-to-many folder")
    parser.add_argument("--out", type=Path, required=True, help="folder of the JSON summary")
    parser.add_argument(
        "--data-dir", type=Path, help="training folder (default: $TFJPEG_TRAIN_DIR)"
    )
    parser.add_argument("--quality", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--images", type=int, default=30, help="first N validation images")
    parser.add_argument("--crop", type=int, default=192, help="centre crop side (pixels)")
    parser.add_argument(
        "--baseline",
        action="append",
        help="learned decoders to compare (default consistent-l1; none: libjpeg only)",
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    crops = validation_crops(args.data_dir, args.images, args.crop)
    model = load_folder(args.model)
    baselines = [b for b in args.baseline or ["consistent-l1"] if b != "none"]
    results = validate(model, crops, args.quality, args.seeds, baselines)
    results["crop"] = args.crop
    print(f"| decoder (q{args.quality}, {len(crops)} validation crops of {args.crop} px) "
          "| PSNR-RGB | PSNR-RGB of the mean of the seeds | consistent uint8 "
          "| pixel std over seeds |")  # fmt: skip
    print("|---|---|---|---|---|")
    for name, row in results.items():
        if isinstance(row, dict):
            std = row.get("pixel_std_over_seeds")
            mean = row.get("psnr_rgb_mean_of_seeds")
            print(
                f"| {name} | {row['psnr_rgb']:.2f} | {'-' if mean is None else f'{mean:.2f}'} | "
                f"{100 * row['consistent_uint8']:.4f}% | {'-' if std is None else f'{std:.4f}'} |"
            )
    from tfjpeg.io import save_bytes_atomic

    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"validation_q{args.quality}.json"
    save_bytes_atomic(target, (json.dumps(results, indent=2) + "\n").encode(), overwrite=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
