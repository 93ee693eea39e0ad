"""Speed and savings of rate-distortion optimized pre-editing (``tfjpeg.compress(optimize=N)``).

On validation images of the training folder (sorted index % 10 == 0; never Kodak), for each
step count: s/MP of :func:`tfjpeg.rdo.optimize_image` and the BD-rates of its real
libjpeg-turbo files (optimize=True) against libjpeg-turbo and mozjpeg at equal MS-SSIM, PSNR and
Butteraugli (``butteraugli_main``, 3-norm, when installed), in 0.1–0.5 and 0.5–1.5 bpp.
libjpeg-turbo and mozjpeg encodes are timed in the same run.

    python benchmarks/optimize_speed.py --out results/optimize --images 6 --crop 256 \\
        --steps 0,1,3,5 --qualities 3,5,8,12,16,22,30,40,55,70,85

``--tables learned`` writes every optimized file with the shipped learned tables
(``tfjpeg.compress(..., tables="learned")``; qualities must lie in their range) and adds a
"learned tables" curve (no optimizer) for reference; ``--variant NAME:key=value,...`` (repeatable)
adds optimizer curves with other :class:`tfjpeg.rdo.RDOSettings` (e.g.
``--variant w:frequency_weight=1,dc=1`` or ``--variant t:method=trellis,distortion=mozjpeg``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from tfjpeg.data.splits import split_images
from tfjpeg.errors import TfjpegError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import configure_threads, environment, median_seconds, write_results

BANDS = {"low": (0.1, 0.5), "high": (0.5, 1.5)}


def load(path: Path, crop: int) -> np.ndarray:
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB"))
    if crop:
        h, w = img.shape[:2]
        y, x = max(0, (h - crop) // 2), max(0, (w - crop) // 2)
        img = img[y : y + crop, x : x + crop]
    return np.ascontiguousarray(img)


def butteraugli(original: np.ndarray, decoded: np.ndarray) -> float | None:
    """Butteraugli 3-norm (:mod:`tfjpeg.metrics.butteraugli`), or None without the tool."""
    from tfjpeg.metrics.butteraugli import butteraugli_binary, butteraugli_scores

    try:
        butteraugli_binary()
    except TfjpegError:
        return None
    return butteraugli_scores(decoded, original).p_norm


def measure(original: np.ndarray, data: bytes, with_butteraugli: bool) -> dict[str, float]:
    from tfjpeg.io import decode_pixels
    from tfjpeg.metrics.psnr import psnr
    from tfjpeg.metrics.ssim import ms_ssim_score

    decoded = decode_pixels(data)
    row = {
        "bpp": 8.0 * len(data) / (original.shape[0] * original.shape[1]),
        "psnr": float(psnr(decoded, original)),
        "ms_ssim": float(ms_ssim_score(decoded, original)),
    }
    if with_butteraugli:
        value = butteraugli(original, decoded)
        if value is not None:
            row["butteraugli"] = -value  # negated: BD-rate needs quality increasing with rate
    return row


def mean_curve(rows: list[list[dict[str, float]]]) -> dict[str, list[float]]:
    """Average over images per quality: rows[image][quality] → {metric: [per quality]}."""
    keys = rows[0][0].keys()
    return {
        k: [float(np.mean([img[j][k] for img in rows])) for j in range(len(rows[0]))] for k in keys
    }


def bd_table(anchor: dict, test: dict) -> dict[str, float]:
    from tfjpeg.metrics.bd_rate import bd_rate

    out = {}
    for metric in ("ms_ssim", "psnr", "butteraugli"):
        if metric not in anchor:
            continue
        for band, limits in BANDS.items():
            out[f"{metric}_{band}"] = bd_rate(
                anchor["bpp"], anchor[metric], test["bpp"], test[metric], band=limits, errors="nan"
            )
    return out


def _value(text: str) -> float | str:
    """A variant's setting: a number where it parses as one, else the word (e.g. a method)."""
    try:
        return float(text)
    except ValueError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for the JSON/markdown")
    parser.add_argument(
        "--train-dir",
        type=Path,
        default=Path(os.environ.get("TFJPEG_TRAIN_DIR", "/work/shared/data/train")),
    )
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--crop", type=int, default=256, help="centre crop side (0: whole)")
    parser.add_argument("--steps", default="0,1,3,5")
    parser.add_argument("--qualities", default="3,5,8,12,16,22,30,40,55,70,85")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-butteraugli", action="store_true")
    parser.add_argument(
        "--tables", choices=("standard", "learned"), default="standard", help="the files' tables"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,...",
        help="extra optimizer settings (RDOSettings keywords, numbers or words); repeatable",
    )
    parser.add_argument(
        "--no-default", action="store_true", help="only the --variant curves (no default one)"
    )
    parser.add_argument(
        "--graph", action="store_true", help="price bits with the traced graph at any size"
    )
    args = parser.parse_args()
    threads = configure_threads(args.threads)
    from tfjpeg.io import encode_pixels
    from tfjpeg.rdo import RDOSettings, optimize_image

    family = None
    if args.tables == "learned":
        from tfjpeg.jpeg.learned import TableFamily
        from tfjpeg.models import default_name
        from tfjpeg.models.presets import load as load_preset

        family = load_preset(default_name("tables"), cls=TableFamily)

    def tables_at(q: int) -> np.ndarray | None:
        return None if family is None else family.tables(q)

    variants = {} if args.no_default else {"": RDOSettings(compiled=args.graph or None)}
    for spec in args.variant:
        name, _, pairs = spec.partition(":")
        kwargs = {k: _value(v) for k, v in (p.split("=") for p in pairs.split(",") if p)}
        variants[f" {name}"] = RDOSettings(**{"compiled": args.graph or None, **kwargs})

    files = split_images(args.train_dir, "validation")
    files = files[:: max(1, len(files) // args.images)][: args.images]
    images = [load(f, args.crop) for f in files]
    qualities = [int(q) for q in args.qualities.split(",")]
    steps_list = [int(s) for s in args.steps.split(",")]
    with_ba = not args.no_butteraugli

    def run(make) -> dict[str, list[float]]:
        rows = []
        for img in images:
            rows.append([measure(img, make(img, q), with_ba) for q in qualities])
            print(".", end="", flush=True)
        print(flush=True)
        return mean_curve(rows)

    curves = {
        "libjpeg-turbo": run(lambda img, q: encode_pixels(img, q, optimize=True)),
        "mozjpeg": run(lambda img, q: encode_pixels(img, q, encoder="mozjpeg", optimize=True)),
    }

    mismatch: dict[str, list[float]] = {}

    def optimized(
        img: np.ndarray, q: int, steps: int, settings: RDOSettings, label: str | None = None
    ) -> bytes:
        t = tables_at(q)
        report: dict[str, float] = {}
        out = optimize_image(img, q, steps, tables=t, settings=settings, report=report)
        if label is not None:
            mismatch.setdefault(label, []).append(report["mismatch"])
        return encode_pixels(out, q, optimize=True, tables=t)

    if family is not None:
        curves["learned tables"] = run(
            lambda img, q: encode_pixels(img, q, optimize=True, tables=tables_at(q))
        )
    for label, settings in variants.items():
        for steps in steps_list:
            name = f"optimize={steps}{label}"
            curves[name] = run(
                lambda img, q, s=steps, st=settings, n=name: optimized(img, q, s, st, n)
            )
    probe, q_probe = images[0], qualities[len(qualities) // 2]
    mp = probe.shape[0] * probe.shape[1] / 1e6
    speed = {
        "libjpeg-turbo": median_seconds(lambda: encode_pixels(probe, q_probe, optimize=True), 3)
        / mp,
        "mozjpeg": median_seconds(
            lambda: encode_pixels(probe, q_probe, encoder="mozjpeg", optimize=True), 3
        )
        / mp,
    }
    if family is not None:
        speed["learned tables"] = (
            median_seconds(
                lambda: encode_pixels(probe, q_probe, optimize=True, tables=tables_at(q_probe)), 3
            )
            / mp
        )
    for label, settings in variants.items():
        for steps in steps_list:
            speed[f"optimize={steps}{label}"] = (
                median_seconds(lambda s=steps, st=settings: optimized(probe, q_probe, s, st), 2)
                / mp
            )
    bd = {
        name: {
            "vs_libjpeg_turbo": bd_table(curves["libjpeg-turbo"], c),
            "vs_mozjpeg": bd_table(curves["mozjpeg"], c),
        }
        for name, c in curves.items()
    }
    cols = [f"{m}_{b}" for m in ("ms_ssim", "psnr", "butteraugli") for b in BANDS]
    lines = [
        "| method | s/MP | mismatch % | "
        + " | ".join(f"vs turbo {c}" for c in cols)
        + " | "
        + " | ".join(f"vs moz {c}" for c in cols)
        + " |",
        "|---" * (3 + 2 * len(cols)) + "|",
    ]
    for name in curves:
        vt, vm = bd[name]["vs_libjpeg_turbo"], bd[name]["vs_mozjpeg"]
        lines.append(
            f"| {name} | {speed[name]:.3f} | "
            + (f"{100 * np.mean(mismatch[name]):.3f} | " if name in mismatch else "- | ")
            + " | ".join(f"{vt.get(c, float('nan')):+.1f}" for c in cols)
            + " | "
            + " | ".join(f"{vm.get(c, float('nan')):+.1f}" for c in cols)
            + " |"
        )
    table = "\n".join(lines) + "\n"
    print(table)
    results = {
        "images": [f.name for f in files],
        "crop": args.crop,
        "qualities": qualities,
        "steps": steps_list,
        "tables": args.tables,
        "variants": {k.strip() or "default": vars(v) for k, v in variants.items()},
        "curves": curves,
        "bd_rate_percent": bd,
        "seconds_per_mp": speed,
        # fraction of coefficients libjpeg-turbo quantizes the realized pixels differently from
        # the chosen ones: mean and worst over images × qualities
        "realize_mismatch": {
            k: {"mean": float(np.mean(v)), "max": float(np.max(v))} for k, v in mismatch.items()
        },
        "speed_probe": {"image": files[0].name, "quality": q_probe},
        "butteraugli": "3-norm, negated in curves" if with_ba else None,
        "threads": threads,
        "environment": environment(),
    }
    write_results(args.out, "optimize_speed", results, table)


if __name__ == "__main__":
    main()
