"""Seconds per megapixel of ``tfjpeg.compress`` end to end, against libjpeg-turbo and mozjpeg.

Issue 10 item 6: the default ``tfjpeg.compress(image, quality=q)`` must run at <= 0.5 s/MP on the
project's 2-core machine. Timed here, in one run and in turns (``benchutil.time_runs``, round
robin, so all see the same load), from a uint8 array to the JPEG bytes:

- ``default``: ``tfjpeg.compress(image, quality=q)`` (no editor, ``tables="auto"``, one trellis
  loop written by libjpeg-turbo);
- ``no trellis``: ``tfjpeg.compress(image, quality=q, trellis=0)`` (the learned tables alone,
  the default before the trellis);
- ``EDITOR``: ``tfjpeg.compress(image, quality=q, editor=EDITOR)`` for each shipped editor;
- ``optimize=N``: ``tfjpeg.compress(image, quality=q, optimize=N)`` (rate-distortion optimized
  pre-editing, no editor);
- ``libjpeg-turbo``: Pillow, optimize=True, 4:2:0 (``tfjpeg.io.encode_pixels``), the anchor;
- ``mozjpeg``: mozjpeg 4.0.3 through jpeglib (``encode_pixels(encoder="mozjpeg")``).

Images: validation images of the training folder (sorted index % 10 == 0; never Kodak) at full
size (one timed call encodes all of them), and one validation image resized (Lanczos) to about
2 and 8 megapixels. The slow methods (editors, optimize) run with fewer repeats, and are skipped
above ``--slow-max-mp``. Besides wall seconds, each timed call's process CPU seconds (all
threads) are recorded: the part that does not grow with other jobs on a shared machine. Writes
``results.json`` and ``results.md`` into ``--out``.

Usage::

    python benchmarks/compress_speed.py --out /tmp/compress_speed [--images 4] [--quality 30]
        [--megapixels 2,8] [--editors smoothing,stn,cascade] [--optimize 1] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # an installed tfjpeg first
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from benchutil import configure_threads, environment, time_runs, write_results  # noqa: E402

BASELINES = ("libjpeg-turbo", "mozjpeg")


def resized(image: np.ndarray, megapixels: float) -> np.ndarray:
    """``image`` resized (Lanczos, aspect kept) to about ``megapixels`` million pixels."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = (megapixels * 1e6 / (h * w)) ** 0.5
    size = (round(w * scale), round(h * scale))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def method_calls(
    quality: int, editors: list[str], optimize: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fast, slow): name → ``f(image) -> bytes``."""
    import tfjpeg
    from tfjpeg.io import encode_pixels

    fast = {
        "default": lambda im: tfjpeg.compress(im, quality=quality),
        "no trellis": lambda im: tfjpeg.compress(im, quality=quality, trellis=0),
        "libjpeg-turbo": lambda im: encode_pixels(im, quality, subsampling="420", optimize=True),
        "mozjpeg": lambda im: encode_pixels(im, quality, subsampling="420", encoder="mozjpeg"),
    }
    slow = {e: (lambda im, e=e: tfjpeg.compress(im, quality=quality, editor=e)) for e in editors}
    if optimize:
        slow[f"optimize={optimize}"] = lambda im: tfjpeg.compress(
            im, quality=quality, optimize=optimize
        )
    return fast, slow


def time_group(
    images: list[np.ndarray], calls: dict[str, Any], repeats: int
) -> dict[str, dict[str, Any]]:
    """Each call run over all ``images`` per timed call; adds ``s_per_mp`` and ``bpp``."""
    mp = sum(im.shape[0] * im.shape[1] for im in images) / 1e6
    runs = {name: (lambda f=f: [f(im) for im in images]) for name, f in calls.items()}
    timed = time_runs(runs, repeats, warmup=1, cpu_clock=time.process_time)
    pixels = sum(im.shape[0] * im.shape[1] for im in images)
    for name, row in timed.items():
        row["s_per_mp"] = row["median_s"] / mp
        row["cpu_s_per_mp"] = row["median_cpu_s"] / mp
        row["bpp"] = 8.0 * sum(len(calls[name](im)) for im in images) / pixels
    return timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for results.json/.md")
    parser.add_argument(
        "--train-dir",
        type=Path,
        default=None,
        help="training images (default: $TFJPEG_TRAIN_DIR); their validation split is timed",
    )
    parser.add_argument("--images", type=int, default=4, help="full-size validation images")
    parser.add_argument("--quality", type=int, default=30)
    parser.add_argument("--megapixels", default="2,8", help="sizes of the resized image")
    parser.add_argument("--editors", default="smoothing,stn,cascade")
    parser.add_argument("--optimize", type=int, default=1, help="steps (0: not timed)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls, fast methods")
    parser.add_argument("--slow-repeats", type=int, default=2, help="timed calls, slow methods")
    parser.add_argument("--slow-max-mp", type=float, default=2.5, help="slow methods up to it")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.images < 1 or args.repeats < 1 or args.slow_repeats < 1 or args.threads < 1:
        parser.error("--images, --repeats, --slow-repeats and --threads must be >= 1")
    threads = configure_threads(args.threads)
    from tfjpeg.data.folders import dataset_dir, load_image
    from tfjpeg.data.splits import split_images

    files = split_images(dataset_dir("train", args.train_dir), "validation")
    if not files:
        parser.error(f"no validation images under {args.train_dir}")
    files = files[: args.images]
    full = [load_image(f) for f in files]
    groups = [(f"validation x{len(full)} (full size)", full)]
    for mp in [float(v) for v in args.megapixels.split(",") if v.strip()]:
        big = resized(full[0], mp)
        groups.append((f"{big.shape[1]}x{big.shape[0]} ({mp:g} MP)", [big]))
    fast, slow = method_calls(
        args.quality, [e for e in args.editors.split(",") if e], args.optimize
    )
    rows = []
    for label, images in groups:
        mp = sum(im.shape[0] * im.shape[1] for im in images) / 1e6
        timed = time_group(images, fast, args.repeats)
        if mp <= args.slow_max_mp:
            timed.update(time_group(images, slow, args.slow_repeats))
        for name in (*fast, *slow):
            row = {"images": label, "megapixels": round(mp, 3), "method": name}
            if name in timed:
                keys = ("s_per_mp", "cpu_s_per_mp", "median_s", "times_s", "bpp")
                row.update({k: timed[name][k] for k in keys})
            else:
                row["skipped"] = f"above --slow-max-mp {args.slow_max_mp}"
            rows.append(row)
            print(
                label, name, f"{row.get('s_per_mp', float('nan')):.3f} s/MP, "
                f"{row.get('cpu_s_per_mp', float('nan')):.3f} CPU-s/MP", flush=True,
            )  # fmt: skip
    names = [*fast, *slow]
    lines = [
        f"# tfjpeg.compress speed, s/MP (median), quality {args.quality}, {args.threads} threads",
        "",
        "Uint8 array in, JPEG bytes out; every method timed in the same run, in turns. "
        "`default` = `tfjpeg.compress(image, quality=q)` (no editor, learned tables, one "
        "trellis loop, written by libjpeg-turbo); `no trellis` = the same with `trellis=0`; "
        "editors = `editor=NAME`; libjpeg-turbo = Pillow optimize=True. Each cell: wall s/MP "
        "(CPU-s/MP of the process, all threads). Load average during the run: "
        f"{os.getloadavg()[0]:.1f} (1 min, at the end).",
        "",
        "| images | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for label, _ in groups:
        cells = []
        for name in names:
            row = next(r for r in rows if r["images"] == label and r["method"] == name)
            cells.append(
                "-" if "skipped" in row else f"{row['s_per_mp']:.3f} ({row['cpu_s_per_mp']:.3f})"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    doc = {
        "command": "python benchmarks/compress_speed.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "quality": args.quality,
        "threads": threads,
        "environment": environment(),
        "validation_images": [f.name for f in files],
        "rows": rows,
    }
    write_results(args.out, "results", doc, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
