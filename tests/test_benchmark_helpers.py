"""The pooling arithmetic of the benchmark scripts (known answers; no TF work, no timing)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_psnr_from_summed_squared_error_known_answers():
    benchutil = _load("benchutil")
    assert benchutil.psnr_from_sse(0.0, 10) == math.inf
    assert benchutil.psnr_from_sse(10.0, 10) == pytest.approx(20 * math.log10(255), abs=1e-12)
    assert benchutil.psnr_from_sse(4.0 * 7, 7) == pytest.approx(42.1102, abs=1e-4)  # MSE 4
    with pytest.raises(ValueError, match="count"):
        benchutil.psnr_from_sse(1.0, 0)
    assert benchutil.fmt_psnr(math.inf) == "∞" and benchutil.fmt_psnr(41.234) == "41.23"


def _record(sse: float, equal: int, values: int = 300, total: int = 100) -> dict:
    rec = {"values": values, "bytes": 75, "coef_total": total, "hard_max_abs": 0.0}
    for mode in ("hard", "poly3", "ste", "real_vs_original", "kornia"):
        rec[f"{mode}_sse"] = sse
    for mode in ("hard", "ste", "float"):
        rec[f"{mode}_coef_equal"] = equal
    return rec


def test_fidelity_pools_errors_over_images_and_keeps_the_worst_image():
    bench = _load("codec_fidelity_speed")
    state = {"a": {"50": _record(0.0, 100)}, "b": {"50": _record(4.0 * 300, 90)}}
    row = bench.aggregate_fidelity(state, [50], with_kornia=True)["50"]
    # Pooled MSE = (0 + 4·300) / 600 = 2; worst image MSE = 4.
    assert row["hard_psnr"] == pytest.approx(10 * math.log10(255**2 / 2))
    assert row["hard_psnr_worst_image"] == pytest.approx(10 * math.log10(255**2 / 4))
    assert row["hard_identical_images"] == 1
    assert row["float_coef_agreement"] == pytest.approx(190 / 200)
    assert row["float_coef_differing"] == 10
    assert row["bpp"] == pytest.approx(8 * 150 / 200)  # 150 bytes over 2 × 100 pixels
    exact = bench.aggregate_fidelity({"a": state["a"]}, [50], with_kornia=False)["50"]
    assert exact["hard_psnr"] == math.inf and "kornia_psnr" not in exact


def test_results_are_strict_json_with_infinite_psnr_as_a_string(tmp_path):
    benchutil = _load("benchutil")
    benchutil.write_results(tmp_path, "x", {"psnr": math.inf, "rows": [1.5, -math.inf]}, "| a |\n")
    data = json.loads((tmp_path / "x.json").read_text(), parse_constant=pytest.fail)
    assert data == {"psnr": "inf", "rows": [1.5, "-inf"]}
    assert (tmp_path / "x.md").read_text() == "| a |\n"
    assert not list(tmp_path.glob(".*.tmp"))


class _FakeClock:
    """A clock that only moves when a timed call says so (``advance``)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_time_runs_warms_up_then_reports_median_and_best_in_round_robin_order():
    benchutil = _load("benchutil")
    clock = _FakeClock()
    order: list[str] = []
    durations = {"a": iter([9.0, 3.0, 1.0, 2.0]), "b": iter([5.0, 4.0, 6.0, 8.0])}

    def run(key):
        def call():
            order.append(key)
            clock.advance(next(durations[key]))

        return call

    rounds: list[int] = []
    timed = benchutil.time_runs(
        {"a": run("a"), "b": run("b")}, 3, clock=clock, on_round=rounds.append
    )
    assert order == ["a", "b", "a", "b", "a", "b", "a", "b"]  # warm-ups, then turns
    assert rounds == [0, 1, 2]
    assert timed["a"] == {
        "warmup_s": 9.0,
        "times_s": [3.0, 1.0, 2.0],
        "median_s": 2.0,
        "best_s": 1.0,
    }
    assert timed["b"]["warmup_s"] == 5.0 and timed["b"]["median_s"] == 6.0
    assert timed["b"]["best_s"] == 4.0


def test_time_runs_back_to_back_reports_failures_and_median_seconds_skips_nothing():
    benchutil = _load("benchutil")
    clock = _FakeClock()
    order: list[str] = []

    def good():
        order.append("good")
        clock.advance(1.5)

    def bad():
        raise RuntimeError("no kernel\nmore text")

    timed = benchutil.time_runs(
        {"bad": bad, "good": good}, 2, round_robin=False, catch_errors=True, clock=clock
    )
    assert timed["bad"] == {"error": "RuntimeError: no kernel"}  # first line only
    assert timed["good"] == {"warmup_s": 1.5, "times_s": [1.5, 1.5], "median_s": 1.5, "best_s": 1.5}
    assert order == ["good", "good", "good"]
    no_warmup = benchutil.time_runs({"good": good}, 1, warmup=0, clock=clock)
    assert no_warmup["good"] == {"times_s": [1.5], "median_s": 1.5, "best_s": 1.5}
    with pytest.raises(RuntimeError):
        benchutil.time_runs({"bad": bad}, 1, clock=clock)
    with pytest.raises(ValueError, match="repeats"):
        benchutil.time_runs({"good": good}, 0, clock=clock)
    steps = iter([4.0, 1.0, 3.0, 2.0])
    assert benchutil.median_seconds(lambda: clock.advance(next(steps)), 3, clock=clock) == 2.0


def test_time_runs_records_cpu_seconds_of_the_timed_calls_only():
    benchutil = _load("benchutil")
    wall, cpu = _FakeClock(), _FakeClock()
    costs = iter([(5.0, 7.0), (2.0, 3.0), (4.0, 1.0), (3.0, 2.0)])  # (wall, cpu) per call

    def call():
        w, c = next(costs)
        wall.advance(w)
        cpu.advance(c)

    timed = benchutil.time_runs({"a": call}, 3, clock=wall, cpu_clock=cpu)
    assert timed["a"]["warmup_s"] == 5.0  # the warm-up's CPU seconds are not recorded
    assert timed["a"]["times_s"] == [2.0, 4.0, 3.0]
    assert timed["a"]["cpu_times_s"] == [3.0, 1.0, 2.0] and timed["a"]["median_cpu_s"] == 2.0
