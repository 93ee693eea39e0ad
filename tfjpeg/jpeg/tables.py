"""Quantization tables: IJG quality scaling exactly as libjpeg's ``jcparam.c``, zigzag order.

The one home of the base tables (libjpeg's Annex K.1 tables and mozjpeg's default table), of the
IJG quality scaling that turns a base table and a quality into a quantization table (exact
integers, and a float variant of the same formula for gradients), and of the zigzag order.

Reference: ITU-T T.81 Annex K.1 (the example tables) and libjpeg ``jpeg_quality_scaling`` /
``jpeg_add_quant_table``; mozjpeg ``jcparam.c`` (table set 3). The pre-editing paper
(Talebi et al. 2020) §3.1 uses the same quality factor q.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tfjpeg._checks import check_quality
from tfjpeg.errors import InvalidArgumentError

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = [
    "CHROMA_BASE_TABLE",
    "LUMA_BASE_TABLE",
    "MOZJPEG_BASE_TABLE",
    "ZIGZAG",
    "check_baseline_tables",
    "component_table",
    "mozjpeg_quality_tables",
    "quality_scaling",
    "quality_tables",
    "quality_to_tables",
    "scaled_tables",
    "validate_tables",
]

#: Annex K.1 luminance table, natural (row-major) order.
LUMA_BASE_TABLE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.int32,
)

#: Annex K.1 chrominance table, natural (row-major) order.
CHROMA_BASE_TABLE = np.array(
    [
        [17, 18, 24, 47, 99, 99, 99, 99],
        [18, 21, 26, 66, 99, 99, 99, 99],
        [24, 26, 56, 99, 99, 99, 99, 99],
        [47, 66, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
    ],
    dtype=np.int32,
)


#: mozjpeg's default quantization table (table set 3, N. Robidoux), used for luma and chroma;
#: scaled by the IJG quality formula and clamped to 1..255 (checked against mozjpeg 4.0.3).
MOZJPEG_BASE_TABLE = np.array(
    [
        [16, 16, 16, 18, 25, 37, 56, 85],
        [16, 17, 20, 27, 34, 40, 53, 75],
        [16, 20, 24, 31, 43, 62, 91, 135],
        [18, 27, 31, 40, 53, 74, 106, 156],
        [25, 34, 43, 53, 69, 94, 131, 189],
        [37, 40, 62, 74, 94, 124, 169, 238],
        [56, 53, 91, 106, 131, 169, 226, 311],
        [85, 75, 135, 156, 189, 238, 311, 418],
    ],
    dtype=np.int32,
)

#: [luma, chroma] base tables of libjpeg (Annex K.1) and of mozjpeg (one table for both).
_IJG_BASES = np.stack([LUMA_BASE_TABLE, CHROMA_BASE_TABLE])
_MOZJPEG_BASES = np.stack([MOZJPEG_BASE_TABLE, MOZJPEG_BASE_TABLE])


def _zigzag_order(n: int = 8) -> np.ndarray:
    """Natural (row-major) index of the k-th coefficient in zigzag order."""
    order = sorted(
        ((r, c) for r in range(n) for c in range(n)),
        key=lambda rc: (rc[0] + rc[1], rc[0] if (rc[0] + rc[1]) % 2 else rc[1]),
    )
    return np.array([r * n + c for r, c in order], dtype=np.int32)


#: ``ZIGZAG[k]``: natural index of the k-th zigzag coefficient (libjpeg ``jpeg_natural_order``).
ZIGZAG = _zigzag_order()


def _ijg_scale(quality, where=None):
    """libjpeg ``jpeg_quality_scaling``: ``5000 / q`` below 50, ``200 − 2q`` from 50 up.

    The one copy of the formula. Integer ``quality`` (a Python int or an int tensor) gives
    libjpeg's integer percentage (floor division); a float tensor gives the continuous scaling
    used for gradients. ``where`` selects elementwise for tensors (``tf.where``); without it
    ``quality`` is a Python number. ``quality`` must already be in [1, 100].
    """
    integer = isinstance(quality, int) or bool(
        getattr(getattr(quality, "dtype", None), "is_integer", False)
    )
    low = 5000 // quality if integer else 5000.0 / quality
    high = 200 - 2 * quality
    if where is None:
        return low if quality < 50 else high
    return where(quality < 50, low, high)


def quality_scaling(quality: int) -> int:
    """libjpeg ``jpeg_quality_scaling``: quality 1..100 → percentage scale factor."""
    return _ijg_scale(check_quality(quality))


def quality_to_tables(
    quality: int, force_baseline: bool = True, base: np.ndarray = _IJG_BASES
) -> np.ndarray:
    """The (2, 8, 8) int32 [luma, chroma] tables libjpeg builds for ``quality``.

    Args:
        quality: IJG quality, an integer in 1..100.
        force_baseline: clamp entries to 255 (libjpeg's ``force_baseline=TRUE``), else to 32767.
        base: (K, 8, 8) base tables; libjpeg's [luma, chroma] Annex K tables by default.

    Example:
        >>> quality_to_tables(50)[0, 0, 0]
        16
    """
    scale = quality_scaling(quality)
    top = 255 if force_baseline else 32767
    return np.clip((base * scale + 50) // 100, 1, top).astype(np.int32)


def scaled_tables(
    base: np.ndarray, quality: tf.Tensor | float, differentiable: bool = False
) -> tf.Tensor:
    """Base tables scaled by the IJG formula for a batch of qualities: float32 (N, K, 8, 8).

    The forward value is always exactly libjpeg's table for ``round(quality)`` (clipped to 1..100)
    and clamped to 1..255 (baseline). With ``differentiable=True`` the gradient with respect to
    ``quality`` is that of the continuous scaling ``clip((base · s(q) + 50) / 100, 1, 255)`` with
    ``s(q) = 5000/q`` below 50 and ``200 − 2q`` above (a straight-through estimator for the integer
    steps).

    Args:
        base: (K, 8, 8) integer base tables (e.g. [luma, chroma]).
        quality: scalar or (N,) qualities in [1, 100].
        differentiable: give a useful gradient with respect to ``quality``.
    """
    import tensorflow as tf

    from tfjpeg.jpeg.rounding import straight_through

    q = tf.reshape(tf.cast(quality, tf.float32), [-1])
    qi = tf.cast(tf.clip_by_value(tf.round(q), 1.0, 100.0), tf.int32)
    scale_int = _ijg_scale(qi, tf.where)
    base = tf.constant(base, tf.int32)
    hard = tf.clip_by_value((base[None] * scale_int[:, None, None, None] + 50) // 100, 1, 255)
    hard = tf.cast(hard, tf.float32)
    if not differentiable:
        return hard
    scale = _ijg_scale(tf.clip_by_value(q, 1.0, 100.0), tf.where)
    soft = tf.clip_by_value(
        (tf.cast(base, tf.float32)[None] * scale[:, None, None, None] + 50.0) / 100.0, 1.0, 255.0
    )
    return straight_through(hard, soft)


def quality_tables(quality: tf.Tensor | float, differentiable: bool = False) -> tf.Tensor:
    """libjpeg's (N, 2, 8, 8) [luma, chroma] tables for a batch of qualities, float32.

    :func:`scaled_tables` of the Annex K tables: the forward value is exactly libjpeg's table for
    ``round(quality)`` (clipped to 1..100); ``differentiable=True`` gives the gradient of the
    continuous scaling.

    Args:
        quality: scalar or (N,) qualities in [1, 100].
        differentiable: give a useful gradient with respect to ``quality``.

    Returns:
        float32 tensor (N, 2, 8, 8); N = 1 for a scalar quality.
    """
    return scaled_tables(_IJG_BASES, quality, differentiable)


def mozjpeg_quality_tables(quality: tf.Tensor | float, differentiable: bool = False) -> tf.Tensor:
    """mozjpeg's (N, 2, 8, 8) [luma, chroma] tables for a batch of qualities (float32).

    Same conventions as :func:`quality_tables`, with mozjpeg's default base table for both.
    """
    return scaled_tables(_MOZJPEG_BASES, quality, differentiable)


def check_baseline_tables(tables: Any, name: str = "tables") -> np.ndarray:
    """Explicit tables a baseline JPEG writer takes: int32 (K, 8, 8), K = 2 or 3, natural order.

    K = 2 is [luma, chroma] (Cb and Cr share the chroma table); K = 3 is one table per component
    (Y, Cb, Cr). Entries must be integers (integer-valued floats are accepted) in 1..255, the
    8-bit tables of a baseline file (T.81 B.2.4.1).

    Raises:
        InvalidArgumentError: naming ``name``: not numeric, wrong shape, NaN/inf, non-integer or
            out-of-range entries.

    Example:
        >>> check_baseline_tables(quality_to_tables(50)).shape
        (2, 8, 8)
    """
    try:
        arr = np.asarray(tables)
        numeric = arr.dtype.kind in "iuf" and arr.dtype != object
    except (TypeError, ValueError):
        numeric = False
    if not numeric:
        raise InvalidArgumentError(
            f"{name} must be a numeric array of shape (2, 8, 8) or (3, 8, 8). "
            f"Received: {name} of type {type(tables).__name__}"
        )
    if arr.shape not in ((2, 8, 8), (3, 8, 8)):
        raise InvalidArgumentError(
            f"{name} must have shape (2, 8, 8) [luma, chroma] or (3, 8, 8) [Y, Cb, Cr], natural "
            f"(row-major) order. Received: {name}.shape={arr.shape}"
        )
    values = arr.astype(np.float64)
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        raise InvalidArgumentError(f"{name} must hold finite integers (no NaN, inf or fractions).")
    if values.min() < 1 or values.max() > 255:
        raise InvalidArgumentError(
            f"{name} entries must be integers in [1, 255] (baseline 8-bit tables). "
            f"Received: {name} in [{values.min():g}, {values.max():g}]"
        )
    return values.astype(np.int32)


def validate_tables(tables: np.ndarray | tf.Tensor) -> tf.Tensor:
    """Check and normalize explicit tables to float32 (N, K, 8, 8).

    Accepts (8, 8), (K, 8, 8) or (N, K, 8, 8). K = 1 (one table for all components) is expanded
    to [luma, chroma] = K = 2; K = 2 is [luma, chroma]; K = 3 is one table per component (Y, Cb,
    Cr), for files whose Cb and Cr use different tables. Entries must be in 1..65535.
    """
    import tensorflow as tf

    t = tf.convert_to_tensor(tables)
    t = tf.cast(t, tf.float32)
    if t.shape.rank == 2:
        t = t[None, None]
    elif t.shape.rank == 3:
        t = t[None]
    if t.shape.rank != 4 or t.shape[-2:] != (8, 8) or t.shape[1] not in (1, 2, 3):
        raise InvalidArgumentError(
            "tables must have shape (8, 8), (K, 8, 8) or (N, K, 8, 8) with K = 1, 2 or 3. "
            f"Received: tables.shape={tuple(t.shape)}"
        )
    if tf.executing_eagerly() and (
        bool(tf.reduce_any(t < 1.0)) or bool(tf.reduce_any(t > 65535.0))
    ):
        raise InvalidArgumentError("quantization table entries must be in [1, 65535].")
    if t.shape[1] == 1:
        t = tf.concat([t, t], axis=1)
    return t


def component_table(tables: tf.Tensor, component: int) -> tf.Tensor:
    """The (N, 8, 8) table of component 0 (Y), 1 (Cb) or 2 (Cr) from (N, 2 or 3, 8, 8) tables."""
    if tables.shape[1] == 3:
        return tables[:, component]
    return tables[:, min(component, 1)]
