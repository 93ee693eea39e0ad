"""Latency of one exploration edit: each tool on a 128×128 region of a 512×768 image.

Times, round-robin (:func:`benchutil.time_runs`, median of ``--repeats`` after one warm-up call
that traces the tool's compiled step), on ``--threads`` threads:

* ``pillow``: libjpeg-turbo's decode of the same file (the baseline);
* ``open``: ``Explorer(file)`` (reading, the network on the whole image, projection, uint8);
  its first call in the process (tracing included) is reported separately;
* each tool of :class:`tfjpeg.explore.Explorer` with its default parameters (``--steps`` Adam
  steps) on the region ``--region`` (default: 128×128 at the image's centre), each call
  starting from the same state (undo after each).

The image: ``--image`` (any picture Pillow reads, cropped/padded to 512×768), else kodim23 of
``$TFJPEG_KODAK_DIR`` when set, else the synthetic test chart
(:func:`tfjpeg.data.synthetic.make_test_chart`), compressed with libjpeg-turbo at
``--quality`` (4:2:0).

Usage::

    nice -n 10 python benchmarks/explore_latency.py --threads 2 --out /tmp/explore_latency

Writes ``explore_latency.json`` and ``explore_latency.md`` to ``--out``. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # an installed tfjpeg first
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchutil import configure_threads, environment, time_runs, write_results  # noqa: E402

HEIGHT, WIDTH = 512, 768


def source_image(path: str | None) -> tuple[np.ndarray, str]:
    """uint8 (512, 768, 3) and where it came from."""
    from tfjpeg.io.pixels import load_pillow_image

    kodak = os.environ.get("TFJPEG_KODAK_DIR")
    if path is None and kodak and (Path(kodak) / "kodim23.png").is_file():
        path = str(Path(kodak) / "kodim23.png")
    if path is None:
        from tfjpeg.data.synthetic import make_test_chart

        return make_test_chart(HEIGHT, WIDTH), "synthetic test chart"
    image = load_pillow_image(path, mode="RGB")
    if image.shape[0] > image.shape[1]:
        image = image.transpose(1, 0, 2)
    out = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    h, w = min(HEIGHT, image.shape[0]), min(WIDTH, image.shape[1])
    out[:h, :w] = image[:h, :w]
    return out, path


def tool_params(tool: str, region: tuple[int, int, int, int], image: np.ndarray) -> dict:
    """Parameters for the tools that need some (the rest run with their defaults)."""
    y0, x0, y1, x1 = region
    if tool in ("scribble", "imprint"):
        content = image[y0:y1, x0:x1].copy()
        content[(y1 - y0) // 4 : 3 * (y1 - y0) // 4, (x1 - x0) // 4 : 3 * (x1 - x0) // 4] = 230
        return {"content": content}
    if tool == "patch":
        return {"source_y0": 0, "source_x0": 0, "source_y1": 64, "source_x1": 64}
    if tool == "periodicity":
        return {"period_x": 8, "period_y": 8}
    if tool == "classifier":
        return {"target": 3}
    return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the JSON and markdown")
    parser.add_argument("--image", default=None)
    parser.add_argument("--quality", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--tools", nargs="*", default=None, help="default: every tool")
    parser.add_argument("--region", type=int, nargs=4, default=(192, 320, 320, 448))
    args = parser.parse_args(argv)
    threads = configure_threads(args.threads)

    from tfjpeg.explore import Explorer
    from tfjpeg.io import decode_pixels, encode_pixels

    image, origin = source_image(args.image)
    data = encode_pixels(image, args.quality)
    region = tuple(args.region)
    start = time.perf_counter()
    ex = Explorer(data)
    first_open = time.perf_counter() - start
    tools = args.tools or list(ex.tools)
    runs = {"pillow": lambda: decode_pixels(data), "open": lambda: Explorer(data)}

    def edit(tool: str):
        params = tool_params(tool, region, image)

        def run() -> None:
            ex.apply(tool, region, steps=args.steps, **params)
            ex.undo()

        return run

    for tool in tools:
        runs[tool] = edit(tool)
    timed = time_runs(
        runs, args.repeats, catch_errors=True, cpu_clock=time.process_time,
        on_warmup=lambda n: print("warm", n, flush=True),
    )  # fmt: skip
    first = {name: r["warmup_s"] for name, r in timed.items() if "warmup_s" in r}
    pillow = timed["pillow"]["median_s"]
    lines = [
        f"# Exploration latency: {HEIGHT}x{WIDTH}, q{args.quality}, region {region} "
        f"({region[2] - region[0]}x{region[3] - region[1]}), {args.steps} Adam steps, "
        f"{args.threads} threads",
        "",
        f"Image: {origin}. First `Explorer(...)` in the process (tracing): {first_open:.2f} s.",
        "",
        "Wall seconds on a shared machine (its load average is in the JSON); CPU seconds are "
        "the process's own (all threads), the part that does not depend on other jobs.",
        "",
        "| run | median s | best s | median CPU s | first call s (tracing) | x Pillow decode |",
        "|---|---|---|---|---|---|",
    ]
    for name, result in timed.items():
        if "error" in result:
            lines.append(f"| {name} | error: {result['error']} | | | | |")
            continue
        result["cpu_s"] = result.pop("cpu_times_s")
        cpu_median = result.pop("median_cpu_s")
        lines.append(
            f"| {name} | {result['median_s']:.3f} | {result['best_s']:.3f} | {cpu_median:.3f} | "
            f"{first.get(name, float('nan')):.2f} | {result['median_s'] / pillow:.0f} |"
        )
    markdown = "\n".join(lines) + "\n"
    print(markdown)
    results = {
        "image": origin,
        "size": [HEIGHT, WIDTH],
        "quality": args.quality,
        "region": list(region),
        "steps": args.steps,
        "first_open_s": first_open,
        "first_call_s": first,
        "runs": timed,
        "threads": threads,
        "environment": environment(),
    }
    write_results(Path(args.out), "explore_latency", results, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
