"""Small helpers shared by the benchmark scripts: threads, progress, timing, PSNR, results on disk.

Benchmarks print their figures, write a JSON file with every number and the conditions they were
measured under (threads, CPU, load, library versions), and a markdown table. They are never
tests: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "Progress",
    "configure_threads",
    "environment",
    "fmt_psnr",
    "median_seconds",
    "psnr_from_sse",
    "time_runs",
    "write_results",
]


def configure_threads(threads: int) -> dict[str, Any]:
    """Limit TensorFlow (and PyTorch, when imported later) to ``threads`` compute threads.

    Must run before TensorFlow executes its first op. Returns what was set, for the JSON.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(min(2, threads + 1))
    return {
        "intra_op_threads": threads,
        "inter_op_threads": min(2, threads + 1),
        "torch_threads": threads,
        "torch_interop_threads": 1,
        "OMP_NUM_THREADS": os.environ["OMP_NUM_THREADS"],
    }


def environment() -> dict[str, Any]:
    """Machine, load and library versions, for the JSON."""
    import numpy as np
    import PIL
    import tensorflow as tf
    from PIL import features

    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "load_average_1_5_15": list(os.getloadavg()),
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "pillow_libjpeg_turbo": features.version("libjpeg_turbo"),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        import jpeglib

        info["jpeglib"] = jpeglib.__version__
    except (ImportError, AttributeError):
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def check_arguments(
    parser: argparse.ArgumentParser, args: argparse.Namespace, positive: tuple[str, ...]
) -> None:
    """Parse ``args.qualities`` ("5,10") into ints in 1..100; require ``positive`` options >= 1."""
    try:
        args.qualities = [int(q) for q in args.qualities.split(",") if q.strip()]
    except ValueError:
        parser.error(f"--qualities must be comma-separated integers. Received: {args.qualities!r}")
    if not args.qualities or any(not 1 <= q <= 100 for q in args.qualities):
        parser.error(f"--qualities must be integers in 1..100. Received: {args.qualities}")
    for name in positive:
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1. Received: {getattr(args, name)}")


def time_runs(
    runs: dict[str, Callable[[], Any]],
    repeats: int,
    *,
    warmup: int = 1,
    round_robin: bool = True,
    catch_errors: bool = False,
    clock: Callable[[], float] = time.perf_counter,
    cpu_clock: Callable[[], float] | None = None,
    on_warmup: Callable[[str], None] | None = None,
    on_round: Callable[[int], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """The one timing loop of the benchmarks: warm-up, ``repeats`` timed calls, median and best.

    Args:
        runs: name → a call to time (its result is ignored).
        repeats: timed calls per run (>= 1).
        warmup: untimed-in-the-figures calls per run first (tracing, XLA / inductor compilation);
            their total time is reported as ``warmup_s`` when > 0.
        round_robin: time the runs in turns (one call each per round), so that on a shared
            machine all of them see the same changing load; else each run's calls back to back.
        catch_errors: a run whose warm-up raises is reported as ``{"error": ...}`` and skipped
            (a framework failing is a result to report), instead of the exception propagating.
        clock: seconds (``time.perf_counter``; a fake clock in tests).
        cpu_clock: also record each timed call's CPU seconds by this clock (e.g.
            ``time.process_time``: the process's own, all threads, the part other jobs on a
            shared machine do not inflate) as ``cpu_times_s`` and ``median_cpu_s``.
        on_warmup: called with the run's name after its warm-up.
        on_round: called with the round index (0-based) before each timing round (round robin)
            or before each run's calls (the index of the run).

    Returns:
        name → ``{"warmup_s"?, "times_s", "median_s", "best_s"}`` (and ``"cpu_times_s"``,
        ``"median_cpu_s"`` with ``cpu_clock``) or ``{"error"}``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1. Received: repeats={repeats}")
    results: dict[str, dict[str, Any]] = {}
    for key, fn in runs.items():
        t0 = clock()
        try:
            for _ in range(warmup):
                fn()
        except Exception as err:
            if not catch_errors:
                raise
            results[key] = {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"}
        else:
            results[key] = {"warmup_s": clock() - t0} if warmup else {}
            results[key]["times_s"] = []
            if cpu_clock is not None:
                results[key]["cpu_times_s"] = []
        if on_warmup is not None:
            on_warmup(key)
    live = [key for key in runs if "error" not in results[key]]

    def timed(key: str) -> None:
        c0 = cpu_clock() if cpu_clock is not None else 0.0
        t0 = clock()
        runs[key]()
        results[key]["times_s"].append(clock() - t0)
        if cpu_clock is not None:
            results[key]["cpu_times_s"].append(cpu_clock() - c0)

    if round_robin:
        for r in range(repeats):
            if on_round is not None:
                on_round(r)
            for key in live:
                timed(key)
    else:
        for i, key in enumerate(live):
            if on_round is not None:
                on_round(i)
            for _ in range(repeats):
                timed(key)
    for key in live:
        results[key]["median_s"] = statistics.median(results[key]["times_s"])
        results[key]["best_s"] = min(results[key]["times_s"])
        if cpu_clock is not None:
            results[key]["median_cpu_s"] = statistics.median(results[key]["cpu_times_s"])
    return results


def median_seconds(
    fn: Callable[[], Any],
    repeats: int,
    *,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median seconds of ``repeats`` calls of ``fn`` after ``warmup`` calls (:func:`time_runs`)."""
    return time_runs({"fn": fn}, repeats, warmup=warmup, clock=clock)["fn"]["median_s"]


def psnr_from_sse(sse: float, count: int, peak: float = 255.0) -> float:
    """PSNR in dB from a summed squared error over ``count`` values (inf when identical)."""
    if count <= 0:
        raise ValueError(f"count must be positive. Received: count={count}")
    mse = sse / count
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def fmt_psnr(value: float) -> str:
    """'∞' for identical images, else two decimals."""
    return "∞" if math.isinf(value) else f"{value:.2f}"


class Progress:
    """A one-line progress indicator with elapsed time and ETA on stderr (a log line if not a TTY).

    Example:
        >>> bar = Progress(24, "fidelity")  # doctest: +SKIP
        >>> bar.update("kodim01")  # doctest: +SKIP
    """

    def __init__(self, total: int, label: str) -> None:
        self.total = max(int(total), 1)
        self.label = label
        self.done = 0
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()

    def update(self, note: str = "", step: int = 1) -> None:
        self.done += step
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        width = 24
        filled = int(width * self.done / self.total)
        bar = "#" * filled + "." * (width - filled)
        line = (
            f"[{self.label}] [{bar}] {self.done}/{self.total} {note} "
            f"elapsed {elapsed:6.0f}s eta {eta:6.0f}s"
        )
        if self.tty:
            end = "\n" if self.done >= self.total else ""
            sys.stderr.write("\r" + line + end)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def write_results(out_dir: Path, stem: str, results: dict[str, Any], markdown: str) -> None:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir`` (atomically, via rename)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for suffix, text in (
        (".json", json.dumps(_finite(results), indent=2, default=_json_default) + "\n"),
        (".md", markdown),
    ):
        target = out_dir / f"{stem}{suffix}"
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
        print(f"wrote {target}")


def _finite(value: Any) -> Any:
    """Strict JSON: infinite PSNRs (identical images) become the string "inf"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    try:
        return value.item()
    except AttributeError:
        return str(value)
