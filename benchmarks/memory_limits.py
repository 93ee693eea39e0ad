"""Peak memory of reading and decoding a JPEG, per pixel: the data behind the default size limits.

For synthetic JPEGs of a few sizes (smooth noise made with numpy, encoded with Pillow at quality
50), each measurement runs in a fresh child process, and the peak resident set size of that child
is read with ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` by an intermediate process (so the
maximum is that of one child only). Measured:

* ``read+pixels``: :func:`tfjpeg.io.read_jpeg` then :func:`tfjpeg.io.decode_pixels`;
* ``decode-l1``: ``tfjpeg.decode(path, decoder="consistent-l1")`` (the learned decoder);
* ``decode-unet``: ``tfjpeg.decode`` with an untrained :class:`tfjpeg.decoders.BlockUNetDecoder`
  of the ``trainers/configs/decoder_block_unet.json`` size (memory does not depend on the
  weights).

The learned decoders run on tiles (:mod:`tfjpeg.decoders.tiling`), so their network's memory is
bounded by the tile size; the projection and the uint8 correction run on the whole image.

A straight line ``peak = base + slope · pixels`` is fitted per task; ``slope`` is the memory cost
in bytes per pixel, ``base`` the cost of the imports. The limit proposed for a memory budget is
``(budget · safety − base) / slope`` pixels.

Usage::

    python benchmarks/memory_limits.py --sizes 1 2 4 --out ./memory_limits_results

Writes ``memory_limits.json`` and ``memory_limits.md`` to ``--out``. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

TASKS = ("read+pixels", "decode-l1", "decode-unet")
#: The memory a single request may use on the reference machine, and the share of it we allow.
BUDGET_BYTES = 8 * 1024**3
SAFETY = 0.5


def make_jpeg(megapixels: float, path: Path, seed: int = 0) -> tuple[int, int]:
    """A smooth-noise RGB image of about ``megapixels`` MP, 3:2, as a Pillow q50 JPEG."""
    import numpy as np
    from PIL import Image

    width = round((megapixels * 1e6 * 1.5) ** 0.5 / 16) * 16
    height = round(megapixels * 1e6 / width / 16) * 16
    rng = np.random.default_rng(seed)
    coarse = rng.random((height // 32 + 2, width // 32 + 2, 3)).astype(np.float32)
    small = Image.fromarray((coarse * 255).astype(np.uint8)).resize((width, height), Image.BICUBIC)
    pixels = np.asarray(small).astype(np.float32) + rng.normal(0, 6, (height, width, 3))
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=50)
    return height, width


def _work(task: str, path: str) -> None:
    """The measured work (runs in the grandchild)."""
    if task == "import":
        import tfjpeg
        from tfjpeg.io import decode_pixels, read_jpeg

        return
    if task == "read+pixels":
        from tfjpeg.io import decode_pixels, read_jpeg

        read_jpeg(path, max_pixels=10**9)
        decode_pixels(path, max_pixels=10**9)
        return
    if task == "decode-l1":
        import tfjpeg

        tfjpeg.decode(path, decoder="consistent-l1", max_pixels=10**9)
        return
    if task == "decode-unet":
        import tfjpeg
        from tfjpeg.decoders import BlockUNetDecoder

        config = json.loads(
            (Path(__file__).parents[1] / "trainers/configs/decoder_block_unet.json").read_text()
        )
        tfjpeg.decode(path, decoder=BlockUNetDecoder(**config["model"]), max_pixels=10**9)
        return
    raise SystemExit(f"unknown task {task}")


def _measure(task: str, path: str) -> None:
    """Run the work in a child and print its peak RSS in bytes (runs in the intermediate)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--_work", task, path], check=False)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    print(json.dumps({"rc": proc.returncode, "peak_bytes": peak_kib * 1024, "seconds": seconds}))


def measure(task: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--_measure", task, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise RuntimeError(f"{task} on {path} failed (rc={result['rc']}): {out.stderr[-2000:]}")
    return result


def fit(points: list[tuple[int, int]]) -> tuple[float, float]:
    """Least-squares ``peak = base + slope · pixels``; returns (slope, base)."""
    n = len(points)
    mx = sum(p for p, _ in points) / n
    my = sum(b for _, b in points) / n
    var = sum((p - mx) ** 2 for p, _ in points)
    slope = sum((p - mx) * (b - my) for p, b in points) / var if var else 0.0
    return slope, my - slope * mx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=float,
        nargs="+",
        default=[1.0, 2.0, 4.0],
        help="image sizes in megapixels (default: 1 2 4)",
    )
    parser.add_argument("--tasks", nargs="+", default=list(TASKS[:2]), choices=TASKS)
    parser.add_argument(
        "--out",
        default="./memory_limits_results",
        help="output folder (default: ./memory_limits_results)",
    )
    parser.add_argument("--_work", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--_measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._work:
        _work(*args._work)
        return 0
    if args._measure:
        _measure(*args._measure)
        return 0

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images = []
    for mp in args.sizes:
        path = out / f"synthetic_{mp:g}mp.jpg"
        height, width = make_jpeg(mp, path)
        images.append((path, height, width))
    base = measure("import", images[0][0])
    print(f"imports only: peak {base['peak_bytes'] / 2**20:.0f} MiB", flush=True)
    rows, fits = [], {}
    for task in args.tasks:
        points = []
        for path, height, width in images:
            r = measure(task, path)
            pixels = height * width
            points.append((pixels, r["peak_bytes"]))
            rows.append(
                {
                    "task": task,
                    "height": height,
                    "width": width,
                    "pixels": pixels,
                    "peak_bytes": r["peak_bytes"],
                    "seconds": round(r["seconds"], 2),
                }
            )
            print(
                f"{task:12s} {width}x{height} ({pixels / 1e6:.2f} MP): peak "
                f"{r['peak_bytes'] / 2**20:.0f} MiB, {r['seconds']:.1f} s",
                flush=True,
            )
        slope, intercept = fit(points)
        limit = max(0.0, (BUDGET_BYTES * SAFETY - intercept) / slope) if slope > 0 else None
        fits[task] = {
            "bytes_per_pixel": slope,
            "base_bytes": intercept,
            "max_pixels_for_budget": int(limit) if limit is not None else None,
        }
        print(
            f"{task:12s} fit: {slope:.0f} bytes/pixel + {intercept / 2**20:.0f} MiB; "
            f"{SAFETY:.0%} of {BUDGET_BYTES / 2**30:.0f} GiB allows "
            f"{(limit or 0) / 1e6:.1f} MP",
            flush=True,
        )
    result = {
        "budget_bytes": BUDGET_BYTES,
        "safety": SAFETY,
        "imports_peak_bytes": base["peak_bytes"],
        "measurements": rows,
        "fits": fits,
        "environment": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load": os.getloadavg(),
        },
    }
    (out / "memory_limits.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| task | size | pixels | peak RSS (MiB) | time (s) |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['task']} | {r['width']}x{r['height']} | {r['pixels'] / 1e6:.2f} MP | "
            f"{r['peak_bytes'] / 2**20:.0f} | {r['seconds']} |"
        )
    lines += [
        "",
        "| task | bytes/pixel | base (MiB) | max pixels within "
        f"{SAFETY:.0%} of {BUDGET_BYTES / 2**30:.0f} GiB |",
        "|---|---|---|---|",
    ]
    for task, f in fits.items():
        mp = (f["max_pixels_for_budget"] or 0) / 1e6
        lines.append(
            f"| {task} | {f['bytes_per_pixel']:.0f} | {f['base_bytes'] / 2**20:.0f} | {mp:.1f} MP |"
        )
    (out / "memory_limits.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
