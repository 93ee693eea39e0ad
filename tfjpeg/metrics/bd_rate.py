"""Bjøntegaard delta rate (BD-rate) between two rate-quality curves, within a bitrate band.

G. Bjøntegaard, "Calculation of average PSNR differences between RD-curves", VCEG-M33, 2001:
log-rate is fitted as a function of quality for each curve and the mean horizontal gap
between the fits over a common quality interval gives the average rate change at equal quality,
``exp(mean Δ log R) − 1``. Fits: ``"pchip"`` (monotone piecewise-cubic Hermite through the
points, as in current codec-comparison tools; default) or ``"cubic"`` (the original
least-squares cubic polynomial, ≥ 4 points).

:func:`rate_change_at_equal_quality` is the same measure for single points (e.g. the files of an
edited image at a few qualities) against a densely sampled anchor curve: the rate the anchor
needs for each point's quality, by interpolation, instead of a fit of the test curve.

Band: with ``band=(lo, hi)`` (bpp) the quality interval is the part of the anchor's curve whose
rate lies in [lo, hi] (the anchor's quality at rates lo and hi, by its own fit), intersected
with the quality ranges both curves actually measured (no extrapolation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tfjpeg.errors import TfjpegError

__all__ = ["BDRateError", "bd_rate", "rate_change_at_equal_quality"]


class BDRateError(TfjpegError, ValueError):
    """The curves cannot give a BD-rate (not monotone, too few points, no overlap)."""


def _curve(rates, quality, name: str) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rates, dtype=np.float64).ravel()
    q = np.asarray(quality, dtype=np.float64).ravel()
    if r.shape != q.shape:
        raise BDRateError(f"{name}: rates and quality differ in length ({r.size} vs {q.size})")
    if r.size < 2:
        raise BDRateError(f"{name}: needs at least 2 points. Received: {r.size}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
        raise BDRateError(f"{name}: rates and quality must be finite")
    if np.any(r <= 0):
        raise BDRateError(f"{name}: rates must be positive")
    order = np.argsort(r)
    r, q = r[order], q[order]
    if np.any(np.diff(r) <= 0) or np.any(np.diff(q) <= 0):
        raise BDRateError(
            f"{name}: quality must increase strictly with rate (rates {np.round(r, 4).tolist()}, "
            f"quality {np.round(q, 4).tolist()}); the curve is not monotone"
        )
    return np.log(r), q


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fritsch–Carlson derivatives (the same rule as scipy.interpolate.PchipInterpolator)."""
    h = np.diff(x)
    delta = np.diff(y) / h
    n = x.size
    if n == 2:
        return np.array([delta[0], delta[0]])
    d = np.zeros(n)
    for k in range(1, n - 1):
        if delta[k - 1] * delta[k] <= 0:
            d[k] = 0.0
        else:
            w1 = 2 * h[k] + h[k - 1]
            w2 = h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])

    def edge(h0, h1, m0, m1):
        d0 = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        if np.sign(d0) != np.sign(m0):
            return 0.0
        if np.sign(m0) != np.sign(m1) and abs(d0) > abs(3 * m0):
            return 3 * m0
        return d0

    d[0] = edge(h[0], h[1], delta[0], delta[1])
    d[-1] = edge(h[-1], h[-2], delta[-1], delta[-2])
    return d


def _pchip(x: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    d = _pchip_slopes(x, y)
    k = np.clip(np.searchsorted(x, t, side="right") - 1, 0, x.size - 2)
    h = x[k + 1] - x[k]
    s = (t - x[k]) / h
    h00 = (1 + 2 * s) * (1 - s) ** 2
    h10 = s * (1 - s) ** 2
    h01 = s * s * (3 - 2 * s)
    h11 = s * s * (s - 1)
    return h00 * y[k] + h10 * h * d[k] + h01 * y[k + 1] + h11 * h * d[k + 1]


def _fit(x: np.ndarray, y: np.ndarray, method: str, name: str):
    if method == "pchip":
        return lambda t: _pchip(x, y, np.asarray(t, dtype=np.float64))
    if x.size < 4:
        raise BDRateError(f"{name}: the cubic fit needs at least 4 points. Received: {x.size}")
    coeffs = np.polyfit(x, y, 3)
    return lambda t: np.polyval(coeffs, np.asarray(t, dtype=np.float64))


def _quality_at_log_rate(log_rate: float, fit, q_lo: float, q_hi: float) -> float:
    """Inverts a fitted log-rate(quality) on [q_lo, q_hi] by bisection (fits are monotone there
    for pchip on monotone data; the cubic is checked)."""
    a, b = q_lo, q_hi
    fa, fb = fit(a) - log_rate, fit(b) - log_rate
    if fa >= 0:
        return a
    if fb <= 0:
        return b
    for _ in range(200):
        m = 0.5 * (a + b)
        fm = fit(m) - log_rate
        if fm < 0:
            a = m
        else:
            b = m
    return 0.5 * (a + b)


def bd_rate(
    anchor_rates: Sequence[float],
    anchor_quality: Sequence[float],
    test_rates: Sequence[float],
    test_quality: Sequence[float],
    band: tuple[float, float] | None = None,
    method: str = "pchip",
    errors: str = "raise",
    samples: int = 2001,
) -> float:
    """BD-rate of ``test`` against ``anchor`` in percent (negative = test needs fewer bits).

    Args:
        anchor_rates, anchor_quality: the reference curve (e.g. bpp and PSNR/MS-SSIM per quality
            setting); any order, quality must increase strictly with rate.
        test_rates, test_quality: the curve being compared.
        band: optional (lo, hi) bpp band on the anchor's rate axis (see the module docstring).
        method: "pchip" or "cubic".
        errors: "raise" (default) raises :class:`BDRateError` when the curves are not monotone,
            have too few points or do not overlap within the band; "nan" returns NaN instead.
        samples: points of the numerical integration (Simpson's rule) over the interval.

    Returns:
        100 · (exp(mean over the quality interval of log R_test − log R_anchor) − 1).

    Example:
        >>> r = [0.1, 0.2, 0.4, 0.8]; q = [25.0, 28.0, 31.0, 34.0]
        >>> round(bd_rate(r, q, [0.9 * x for x in r], q), 6)
        -10.0
    """
    if errors not in ("raise", "nan"):
        raise ValueError(f"errors must be 'raise' or 'nan'. Received: errors={errors!r}")
    if method not in ("pchip", "cubic"):
        raise ValueError(f"method must be 'pchip' or 'cubic'. Received: method={method!r}")
    try:
        return _bd_rate(
            anchor_rates, anchor_quality, test_rates, test_quality, band, method, samples
        )
    except BDRateError:
        if errors == "nan":
            return math.nan
        raise


def _bd_rate(anchor_rates, anchor_quality, test_rates, test_quality, band, method, samples):
    la, qa = _curve(anchor_rates, anchor_quality, "anchor")
    lt, qt = _curve(test_rates, test_quality, "test")
    fit_a = _fit(qa, la, method, "anchor")
    fit_t = _fit(qt, lt, method, "test")
    lo_q = max(qa[0], qt[0])
    hi_q = min(qa[-1], qt[-1])
    if band is not None:
        b_lo, b_hi = (float(v) for v in band)
        if not (0 < b_lo < b_hi):
            raise ValueError(f"band must be (lo, hi) with 0 < lo < hi. Received: band={band!r}")
        if b_hi <= math.exp(la[0]) or b_lo >= math.exp(la[-1]):
            raise BDRateError(
                f"the anchor's rates {math.exp(la[0]):.4f}-{math.exp(la[-1]):.4f} do not reach "
                f"the band {b_lo}-{b_hi}"
            )
        lo_q = max(lo_q, _quality_at_log_rate(math.log(b_lo), fit_a, qa[0], qa[-1]))
        hi_q = min(hi_q, _quality_at_log_rate(math.log(b_hi), fit_a, qa[0], qa[-1]))
    if not hi_q > lo_q:
        raise BDRateError(
            f"the curves do not overlap in quality{' within the band' if band else ''} "
            f"(anchor {qa[0]:.4f}-{qa[-1]:.4f}, test {qt[0]:.4f}-{qt[-1]:.4f})"
        )
    n = samples if samples % 2 == 1 else samples + 1
    t = np.linspace(lo_q, hi_q, n)
    diff = fit_t(t) - fit_a(t)
    weights = np.ones(n)
    weights[1:-1:2] = 4
    weights[2:-1:2] = 2
    mean = float(np.sum(weights * diff) / (3 * (n - 1)))
    return 100.0 * (math.exp(mean) - 1.0)


def rate_change_at_equal_quality(
    anchor_rates: Sequence[float],
    anchor_quality: Sequence[float],
    rates: Sequence[float],
    quality: Sequence[float],
) -> tuple[float, float]:
    """Mean rate change (%) of points against an anchor curve at equal quality.

    For each point (rate, quality) the anchor's rate at that quality is read off its curve
    (log-rate linear in quality between the anchor's points; the anchor is made monotone by
    keeping only the points that raise its best quality so far), and the result is
    ``100 · (exp(mean log(rate / anchor rate)) − 1)``, negative when the points need fewer bits.
    Points outside the anchor's quality range take its nearest end (counted in the second value).

    Returns:
        (rate change in percent, fraction of points outside the anchor's quality range).

    Raises:
        BDRateError: fewer than 2 anchor points, non-positive or non-finite rates.

    Example:
        >>> anchor_r = [0.1, 0.2, 0.4]; anchor_q = [0.8, 0.9, 0.95]
        >>> change, outside = rate_change_at_equal_quality(anchor_r, anchor_q, [0.18], [0.9])
        >>> round(change, 6), outside
        (-10.0, 0.0)
    """
    r = np.asarray(anchor_rates, np.float64).ravel()
    q = np.asarray(anchor_quality, np.float64).ravel()
    pr = np.asarray(rates, np.float64).ravel()
    pq = np.asarray(quality, np.float64).ravel()
    if r.shape != q.shape or pr.shape != pq.shape or r.size < 2 or pr.size < 1:
        raise BDRateError(
            "give at least 2 anchor points and 1 point, rates and qualities of equal length. "
            f"Received: {r.size}/{q.size} anchor and {pr.size}/{pq.size} points"
        )
    values = np.concatenate([r, q, pr, pq])
    if not np.all(np.isfinite(values)) or np.any(r <= 0) or np.any(pr <= 0):
        raise BDRateError("rates must be positive and all values finite")
    order = np.argsort(r)
    r, q = r[order], q[order]
    keep = np.concatenate([[True], q[1:] > np.maximum.accumulate(q)[:-1]])
    r, q = r[keep], q[keep]
    if r.size < 2:
        raise BDRateError("the anchor's quality does not increase with its rate")
    anchor_log_rate = np.interp(pq, q, np.log(r))
    outside = float(np.mean((pq < q[0]) | (pq > q[-1])))
    return 100.0 * (math.exp(float(np.mean(np.log(pr) - anchor_log_rate))) - 1.0), outside
