"""tfjpeg.metrics.bd_rate: known answers, bands, and clear failures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tfjpeg.metrics import BDRateError, bd_rate

RATES = np.array([0.08, 0.15, 0.25, 0.4, 0.6, 0.9, 1.4, 2.0])


def _psnr_like(rates):
    """A concave, increasing rate-quality curve (quality in dB)."""
    return 30.0 + 6.0 * np.log2(rates) - 0.3 * np.log2(rates) ** 2


@pytest.mark.parametrize("method", ["pchip", "cubic"])
@pytest.mark.parametrize("factor", [0.8, 1.1])
def test_constant_rate_factor_gives_exactly_that_percentage(method, factor):
    q = _psnr_like(RATES)
    result = bd_rate(RATES, q, RATES * factor, q, method=method)
    assert result == pytest.approx(100 * (factor - 1), abs=1e-9)
    banded = bd_rate(RATES, q, RATES * factor, q, band=(0.1, 0.5), method=method)
    assert banded == pytest.approx(100 * (factor - 1), abs=1e-9)


def test_known_answer_with_a_gap_that_changes_inside_the_band():
    # anchor: q = 10 ln r + 30; test: q = 12 ln r + 31 → ln r_test(q) = (q − 31) / 12.
    # Both are linear in ln r, which pchip and the cubic reproduce exactly, so the mean gap over
    # [q(lo), q(hi)] is the gap at the midpoint quality.
    rates = np.geomspace(0.05, 3.0, 9)
    qa = 10 * np.log(rates) + 30
    qt = 12 * np.log(rates) + 31
    for band in [(0.1, 0.5), (0.5, 1.5)]:
        q_lo, q_hi = (10 * math.log(b) + 30 for b in band)
        q_mid = 0.5 * (q_lo + q_hi)
        gap = (q_mid - 31) / 12 - (q_mid - 30) / 10
        expected = 100 * (math.exp(gap) - 1)
        for method in ("pchip", "cubic"):
            got = bd_rate(rates, qa, rates, qt, band=band, method=method)
            assert got == pytest.approx(expected, abs=1e-6)
    # the two bands really differ: the steeper test curve costs bits at low rates, saves at high
    low = bd_rate(rates, qa, rates, qt, band=(0.1, 0.5))
    high = bd_rate(rates, qa, rates, qt, band=(0.5, 1.5))
    assert low > 0 > high


def test_order_of_points_does_not_matter():
    q = _psnr_like(RATES)
    perm = np.random.default_rng(0).permutation(RATES.size)
    a = bd_rate(RATES, q, RATES * 0.9, q + 0.2, band=(0.1, 0.5))
    b = bd_rate(RATES[perm], q[perm], (RATES * 0.9)[::-1], (q + 0.2)[::-1], band=(0.1, 0.5))
    assert a == pytest.approx(b, abs=1e-12)
    assert a < 100 * (0.9 - 1)  # better quality at 0.9× the rate saves more than 10%


def test_non_monotone_curves_raise_or_give_nan():
    q = _psnr_like(RATES)
    bumpy = q.copy()
    bumpy[3] = bumpy[4] + 0.1
    with pytest.raises(BDRateError, match="not monotone"):
        bd_rate(RATES, q, RATES, bumpy)
    assert math.isnan(bd_rate(RATES, q, RATES, bumpy, errors="nan"))
    with pytest.raises(BDRateError, match="not monotone"):
        bd_rate(np.r_[RATES, RATES[-1]], np.r_[q, q[-1] + 1], RATES, q)


def test_curves_without_overlap_raise_or_give_nan():
    q = _psnr_like(RATES)
    with pytest.raises(BDRateError, match="do not overlap"):
        bd_rate(RATES, q, RATES, q + 50)
    with pytest.raises(BDRateError, match="do not reach the band"):
        bd_rate(RATES, q, RATES, q, band=(3.0, 5.0))
    assert math.isnan(bd_rate(RATES, q, RATES, q, band=(3.0, 5.0), errors="nan"))
    with pytest.raises(BDRateError, match="at least 4 points"):
        bd_rate(RATES[:3], q[:3], RATES[:3], q[:3], method="cubic")
    with pytest.raises(BDRateError, match="positive"):
        bd_rate(RATES - 1, q, RATES, q)


def test_invalid_options_raise_value_errors():
    q = _psnr_like(RATES)
    with pytest.raises(ValueError, match="method"):
        bd_rate(RATES, q, RATES, q, method="akima")
    with pytest.raises(ValueError, match="errors"):
        bd_rate(RATES, q, RATES, q, errors="ignore")
    with pytest.raises(ValueError, match="band"):
        bd_rate(RATES, q, RATES, q, band=(0.5, 0.1))


def test_three_point_curves_identical_is_zero_and_uniformly_better_is_negative():
    rates = np.array([0.1, 0.3, 1.0])
    q = np.array([25.0, 30.0, 32.0])
    assert bd_rate(rates, q, rates, q) == pytest.approx(0.0, abs=1e-12)
    assert bd_rate(rates, q, rates, q + 0.5) < 0


# Golden values from SciPy 1.17.1: PchipInterpolator / np.polyfit(3) of log-rate over quality,
# scipy.integrate.quad of the gap, band ends by brentq on the anchor's fit (same definition).
_RA = np.array([0.12, 0.21, 0.33, 0.52, 0.81, 1.25, 1.9])
_QA = np.array([27.1, 29.3, 31.0, 32.9, 34.6, 36.4, 38.0])
_RT = np.array([0.10, 0.17, 0.29, 0.47, 0.70, 1.10, 1.75])
_QT = np.array([26.8, 29.5, 31.4, 33.0, 34.4, 36.5, 38.3])
_SCIPY_GOLDEN = {
    (None, "pchip"): -16.210627964307367,
    (None, "cubic"): -15.52841857890661,
    ((0.15, 0.5), "pchip"): -20.59649321109034,
    ((0.15, 0.5), "cubic"): -19.870081843422017,
    ((0.5, 1.5), "pchip"): -11.51858075422757,
    ((0.5, 1.5), "cubic"): -11.154310343168493,
}


@pytest.mark.parametrize(("band", "method"), sorted(_SCIPY_GOLDEN, key=str))
def test_matches_scipy_pchip_and_polyfit_reference(band, method):
    got = bd_rate(_RA, _QA, _RT, _QT, band=band, method=method)
    assert got == pytest.approx(_SCIPY_GOLDEN[(band, method)], abs=1e-7)


def test_rate_change_at_equal_quality_of_points_against_a_dense_anchor():
    from tfjpeg.metrics.bd_rate import rate_change_at_equal_quality

    q = np.linspace(0.7, 0.99, 30)
    anchor = np.exp(8 * q) / 1000  # log-rate linear in quality: interpolation is exact
    points_q = np.array([0.75, 0.8, 0.9])
    change, outside = rate_change_at_equal_quality(anchor, q, 0.8 * np.exp(8 * points_q) / 1000,
                                                   points_q)  # fmt: skip
    assert change == pytest.approx(-20.0) and outside == 0.0
    # a non-monotone anchor point (quality drops at a higher rate) is ignored
    bumpy_q = q.copy()
    bumpy_q[10] = 0.5
    again, _ = rate_change_at_equal_quality(anchor, bumpy_q, [0.8 * np.exp(8 * 0.9) / 1000], [0.9])
    assert again == pytest.approx(-20.0)
    _, outside = rate_change_at_equal_quality(anchor, q, [0.1, 0.1], [0.5, 0.9])
    assert outside == 0.5
    with pytest.raises(BDRateError):
        rate_change_at_equal_quality([0.1], [0.9], [0.1], [0.9])
