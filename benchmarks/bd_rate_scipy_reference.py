"""The SciPy reference behind the golden values of tests/test_metrics_bd_rate.py.

Needs numpy + scipy (not tfjpeg dependencies): PchipInterpolator or a cubic np.polyfit of
log-rate over quality, scipy.integrate.quad of the gap, band ends by brentq on the anchor fit.
Run: python benchmarks/bd_rate_scipy_reference.py
"""

import math

import numpy as np
from scipy.integrate import quad
from scipy.interpolate import PchipInterpolator
from scipy.optimize import brentq


def bd(ra, qa, rt, qt, band=None, method="pchip"):
    la, lt = np.log(ra), np.log(rt)
    oa, ot = np.argsort(qa), np.argsort(qt)
    if method == "pchip":
        fa = PchipInterpolator(qa[oa], la[oa])
        ft = PchipInterpolator(qt[ot], lt[ot])
    else:
        pa = np.polyfit(qa, la, 3)
        pt = np.polyfit(qt, lt, 3)

        def fa(q):
            return np.polyval(pa, q)

        def ft(q):
            return np.polyval(pt, q)

    lo, hi = max(qa.min(), qt.min()), min(qa.max(), qt.max())
    if band:
        lo = max(lo, brentq(lambda q: fa(q) - math.log(band[0]), qa.min(), qa.max()))
        hi = min(hi, brentq(lambda q: fa(q) - math.log(band[1]), qa.min(), qa.max()))
    val = quad(lambda q: ft(q) - fa(q), lo, hi, limit=200)[0] / (hi - lo)
    return 100 * (math.exp(val) - 1)


ra = np.array([0.12, 0.21, 0.33, 0.52, 0.81, 1.25, 1.9])
qa = np.array([27.1, 29.3, 31.0, 32.9, 34.6, 36.4, 38.0])
rt = np.array([0.10, 0.17, 0.29, 0.47, 0.70, 1.10, 1.75])
qt = np.array([26.8, 29.5, 31.4, 33.0, 34.4, 36.5, 38.3])
for band in (None, (0.15, 0.5), (0.5, 1.5)):
    for m in ("pchip", "cubic"):
        print(band, m, repr(bd(ra, qa, rt, qt, band, m)))
