"""Per-image quantization tables: the file's tables chosen by rate–distortion on the image itself.

The RD-OPT idea (Ratnakar & Livny 1995: optimize the quantization table per image for its own
rate–distortion trade-off), restricted to a small, cheap family around a good base: the base
luma table scaled by ℓ and the base chroma table by c (rounded, clipped to 1..255), on the grids
:data:`LUMA_SCALES` × :data:`CHROMA_SCALES`. Each candidate is encoded as the caller's mode
would encode it (real bits R, the decoded image), and the one minimizing

    J = D + λ·R,    D = 1 − MS-SSIM (RGB) of the decoded candidate against the original,

is chosen: the per-image form of Talebi et al. 2020 eq. 4 (distortion + μ·bits) over tables
instead of pixels. λ is the image's own local slope of the base curve, −ΔD/ΔR between the base
tables scaled uniformly by 1/:data:`SLOPE_SCALE` and by :data:`SLOPE_SCALE` (a finer and a
coarser point of the base family, on the same image; a symmetric secant, so moving along the
base curve itself does not lower J). The base is a candidate, so the choice never loses under
that local linear trade-off; without a usable slope (flat or non-monotone) the base is kept.

Measured on the validation split (8 images, learned base tables, one trellis loop): it does not
pay. MS-SSIM BD-rate −1.0 / −2.0 points against the base (0.1–0.5 / 0.5–1.5 bpp), Butteraugli
+1.7 / +5.2, for 17 encodes per quality; MSE and mixed criteria, and other grids, trade the
same way (``benchmarks/results/per_image_tables/``). The search refines chroma on nearly every
image: RGB distortions value chroma more than Butteraugli does.

Example:
    >>> choice = choose_tables(image, base, lambda ts: trellis_files(image, ts))  # doctest: +SKIP
    >>> choice.luma_scale, choice.chroma_scale  # doctest: +SKIP
    (1.1, 0.7)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from tfjpeg.errors import InvalidArgumentError
from tfjpeg.jpeg.tables import check_baseline_tables

__all__ = [
    "BATCH_PIXELS",
    "CHROMA_SCALES",
    "DISTORTIONS",
    "LUMA_SCALES",
    "MS_SSIM_MIN_SIDE",
    "SLOPE_SCALE",
    "TableChoice",
    "choose_tables",
    "scaled_tables",
]

#: Scales of the base luma table tried per image.
LUMA_SCALES = (0.9, 1.0, 1.1)
#: Scales of the base chroma table(s) tried per image.
CHROMA_SCALES = (0.55, 0.7, 0.85, 1.0, 1.25)
#: Uniform scale of the two points that measure the image's local slope λ.
SLOPE_SCALE = 1.2
#: ``distortion`` choices: 1 − MS-SSIM (RGB), the mean squared error / 255², or both, each
#: relative to the base's (their sum: a candidate must not trade one for the other).
DISTORTIONS = ("ms-ssim", "mse", "ms-ssim+mse")
#: Images narrower than this on a side (MS-SSIM's 11-pixel filter, ``tfjpeg.losses.ms_ssim``)
#: are measured by "mse" instead: MS-SSIM is not defined there.
MS_SSIM_MIN_SIDE = 11
#: Most image pixels encoded or measured in one batch (candidates × H × W).
BATCH_PIXELS = 4_000_000


@dataclasses.dataclass(frozen=True)
class TableChoice:
    """The search's result: the chosen candidate, its file and the criterion's numbers."""

    #: int32 (K, 8, 8) tables of the chosen candidate (K as the base's)
    tables: np.ndarray
    luma_scale: float
    chroma_scale: float
    #: the chosen candidate's file, as the search's ``encode`` wrote it
    jpeg: bytes
    #: J = D + λ·R (R in bits per pixel) of the chosen candidate and of the base
    cost: float
    base_cost: float
    #: the image's local slope (D per bpp); 0 when none was usable (the base is then kept)
    lam: float
    #: (luma scale, chroma scale, bpp, D) of every candidate encoded, base first
    candidates: tuple[tuple[float, float, float, float], ...]


def scaled_tables(base: np.ndarray, luma_scale: float, chroma_scale: float) -> np.ndarray:
    """``base`` (K, 8, 8) with its luma table × ``luma_scale`` and its chroma table(s) ×
    ``chroma_scale``, rounded and clipped to the baseline range 1..255 (int32)."""
    scales = np.full((base.shape[0], 1, 1), float(chroma_scale))
    scales[0] = float(luma_scale)
    return np.clip(np.round(base * scales), 1, 255).astype(np.int32)


def _check_scales(name: str, scales: Sequence[float]) -> tuple[float, ...]:
    try:
        values = tuple(float(s) for s in scales)
    except (TypeError, ValueError):
        values = ()
    if not values or not all(0.0 < s <= 16.0 for s in values):
        raise InvalidArgumentError(
            f"{name} must be a non-empty sequence of numbers in (0, 16]. Received: {scales!r}"
        )
    return tuple(dict.fromkeys((1.0, *values)))  # the base's own scale first, no repeats


def _distortions(files: list[bytes], original: np.ndarray, distortion: str) -> np.ndarray:
    """D of each file's decoding (the first is the base's), by ``distortion``
    (:data:`DISTORTIONS`); decoded a chunk at a time, so memory stays bounded."""
    from tfjpeg.io import decode_pixels
    from tfjpeg.metrics import ms_ssim_score

    parts = ("ms-ssim", "mse") if distortion == "ms-ssim+mse" else (distortion,)
    values: dict[str, list[float]] = {part: [] for part in parts}
    reference = original.astype(np.float32)
    for chunk in _chunks(files, original):
        decoded = np.stack([decode_pixels(f) for f in chunk]).astype(np.float32)
        if "mse" in values:
            errors = np.mean(np.square(decoded - reference), axis=(1, 2, 3), dtype=np.float64)
            values["mse"] += list(errors / 255.0**2)
        if "ms-ssim" in values:
            scores = ms_ssim_score(decoded, np.broadcast_to(reference, decoded.shape))
            values["ms-ssim"] += [1.0 - float(v) for v in np.reshape(scores, -1)]
    # the combined distortion: each part relative to the base's, so neither dominates
    arrays = [np.asarray(values[part], np.float64) for part in parts]
    if len(arrays) == 1:
        return arrays[0]
    return sum(a / max(a[0], 1e-12) for a in arrays)


def _chunks(items: list, image: np.ndarray) -> list[list]:
    """``items`` in runs of at most :data:`BATCH_PIXELS` image pixels (at least one each)."""
    size = max(1, BATCH_PIXELS // (image.shape[0] * image.shape[1]))
    return [items[i : i + size] for i in range(0, len(items), size)]


def choose_tables(
    original: np.ndarray,
    base: np.ndarray,
    encode: Callable[[list[np.ndarray]], list[bytes]],
    *,
    luma_scales: Sequence[float] = LUMA_SCALES,
    chroma_scales: Sequence[float] = CHROMA_SCALES,
    distortion: str = "ms-ssim",
) -> TableChoice:
    """The candidate tables of least J = D + λ·R on ``original`` (see the module docstring).

    Args:
        original: uint8 (H, W, C) image the decodings are compared with (before any editor).
        base: the base (2|3, 8, 8) tables at the file's quality.
        encode: a list of tables → their JPEG files, the way the caller's mode encodes (or a
            cheaper proxy); called with at most :data:`BATCH_PIXELS` image pixels at a time.
        luma_scales, chroma_scales: the grids (1.0 is always added: the base is a candidate);
            a gray image tries the luma grid only.
        distortion: "ms-ssim" (1 − MS-SSIM), "mse" (mean squared error / 255²) or
            "ms-ssim+mse" (:data:`DISTORTIONS`); "mse" for images under
            :data:`MS_SSIM_MIN_SIDE` pixels on a side.

    Raises:
        InvalidArgumentError: bad tables, grids or distortion.
    """
    if distortion not in DISTORTIONS:
        raise InvalidArgumentError(
            f"distortion must be one of {DISTORTIONS}. Received: distortion={distortion!r}"
        )
    if min(original.shape[:2]) < MS_SSIM_MIN_SIDE:
        distortion = "mse"
    base = check_baseline_tables(base, "base")
    lumas = _check_scales("luma_scales", luma_scales)
    chromas = (1.0,) if original.shape[-1] == 1 else _check_scales("chroma_scales", chroma_scales)
    grid = [(lu, ch, scaled_tables(base, lu, ch)) for lu in lumas for ch in chromas]
    slope = [scaled_tables(base, s, s) for s in (1 / SLOPE_SCALE, SLOPE_SCALE)]
    distinct = list({t.tobytes(): t for t in [g[2] for g in grid] + slope}.values())
    files = [f for chunk in _chunks(distinct, original) for f in encode(chunk)]
    dists = _distortions(files, original, distortion)
    pixels = original.shape[0] * original.shape[1]
    measured = {
        t.tobytes(): (f, 8.0 * len(f) / pixels, float(d))
        for t, f, d in zip(distinct, files, dists, strict=True)
    }
    (_, finer_rate, finer_dist), (_, coarser_rate, coarser_dist) = (
        measured[t.tobytes()] for t in slope
    )
    lam = 0.0
    if finer_rate > coarser_rate and finer_dist < coarser_dist:
        lam = (coarser_dist - finer_dist) / (finer_rate - coarser_rate)
    points = [(lu, ch, t, *measured[t.tobytes()]) for lu, ch, t in grid]
    costs = [d + lam * r for *_, r, d in points]
    best = int(np.argmin(costs)) if lam > 0 else 0
    lu, ch, tables, jpeg, _, _ = points[best]
    return TableChoice(
        tables=tables,
        luma_scale=lu,
        chroma_scale=ch,
        jpeg=jpeg,
        cost=costs[best],
        base_cost=costs[0],
        lam=lam,
        candidates=tuple((p[0], p[1], p[4], p[5]) for p in points),
    )
