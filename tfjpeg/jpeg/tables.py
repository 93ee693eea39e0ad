"""Quantization tables: IJG quality scaling exactly as libjpeg's ``jcparam.c``, zigzag order.

Reference: ITU-T T.81 Annex K.1 (the example tables) and libjpeg ``jpeg_quality_scaling`` /
``jpeg_add_quant_table``. The pre-editing paper (Talebi et al. 2020) §3.1 uses the same
quality factor q.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfjpeg.jpeg.rounding import straight_through

__all__ = [
    "CHROMA_BASE_TABLE",
    "LUMA_BASE_TABLE",
    "ZIGZAG",
    "component_table",
    "quality_scaling",
    "quality_tables",
    "quality_to_tables",
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


def _zigzag_order(n: int = 8) -> np.ndarray:
    """Natural (row-major) index of the k-th coefficient in zigzag order."""
    order = sorted(
        ((r, c) for r in range(n) for c in range(n)),
        key=lambda rc: (rc[0] + rc[1], rc[0] if (rc[0] + rc[1]) % 2 else rc[1]),
    )
    return np.array([r * n + c for r, c in order], dtype=np.int32)


#: ``ZIGZAG[k]``: natural index of the k-th zigzag coefficient (libjpeg ``jpeg_natural_order``).
ZIGZAG = _zigzag_order()


def quality_scaling(quality: int) -> int:
    """libjpeg ``jpeg_quality_scaling``: quality 1..100 → percentage scale factor."""
    quality = int(quality)
    if quality < 1 or quality > 100:
        raise ValueError(f"quality must be an integer in [1, 100]. Received: quality={quality}")
    return 5000 // quality if quality < 50 else 200 - 2 * quality


def quality_to_tables(quality: int, force_baseline: bool = True) -> np.ndarray:
    """The (2, 8, 8) int32 [luma, chroma] tables libjpeg builds for ``quality``.

    Example:
        >>> quality_to_tables(50)[0, 0, 0]
        16
    """
    scale = quality_scaling(quality)
    top = 255 if force_baseline else 32767
    base = np.stack([LUMA_BASE_TABLE, CHROMA_BASE_TABLE])
    return np.clip((base * scale + 50) // 100, 1, top).astype(np.int32)


def quality_tables(quality: tf.Tensor | float, differentiable: bool = False) -> tf.Tensor:
    """Tables for a batch of qualities as a float32 tensor of shape (N, 2, 8, 8).

    The forward value is always exactly libjpeg's table for ``round(quality)`` (clipped to 1..100).
    With ``differentiable=True`` the gradient with respect to ``quality`` is that of the continuous
    scaling ``clip((base · s(q) + 50) / 100, 1, 255)`` with ``s(q) = 5000/q`` below 50 and
    ``200 − 2q`` above (a straight-through estimator for the integer steps).

    Args:
        quality: scalar or (N,) qualities in [1, 100].
        differentiable: give a useful gradient with respect to ``quality``.

    Returns:
        float32 tensor (N, 2, 8, 8); N = 1 for a scalar quality.
    """
    q = tf.reshape(tf.cast(quality, tf.float32), [-1])
    q_int = tf.clip_by_value(tf.round(q), 1.0, 100.0)
    qi = tf.cast(q_int, tf.int32)
    scale_int = tf.where(qi < 50, 5000 // tf.maximum(qi, 1), 200 - 2 * qi)
    base = tf.constant(np.stack([LUMA_BASE_TABLE, CHROMA_BASE_TABLE]), tf.int32)
    hard = tf.clip_by_value((base[None] * scale_int[:, None, None, None] + 50) // 100, 1, 255)
    hard = tf.cast(hard, tf.float32)
    if not differentiable:
        return hard
    qc = tf.clip_by_value(q, 1.0, 100.0)
    scale = tf.where(qc < 50.0, 5000.0 / qc, 200.0 - 2.0 * qc)
    soft = tf.clip_by_value(
        (tf.cast(base, tf.float32)[None] * scale[:, None, None, None] + 50.0) / 100.0, 1.0, 255.0
    )
    return straight_through(hard, soft)


def validate_tables(tables: np.ndarray | tf.Tensor) -> tf.Tensor:
    """Check and normalize explicit tables to float32 (N, K, 8, 8).

    Accepts (8, 8), (K, 8, 8) or (N, K, 8, 8). K = 1 (one table for all components) is expanded
    to [luma, chroma] = K = 2; K = 2 is [luma, chroma]; K = 3 is one table per component (Y, Cb,
    Cr), for files whose Cb and Cr use different tables. Entries must be in 1..65535.
    """
    t = tf.convert_to_tensor(tables)
    t = tf.cast(t, tf.float32)
    if t.shape.rank == 2:
        t = t[None, None]
    elif t.shape.rank == 3:
        t = t[None]
    if t.shape.rank != 4 or t.shape[-2:] != (8, 8) or t.shape[1] not in (1, 2, 3):
        raise ValueError(
            "tables must have shape (8, 8), (K, 8, 8) or (N, K, 8, 8) with K = 1, 2 or 3. "
            f"Received: tables.shape={tuple(t.shape)}"
        )
    if tf.executing_eagerly() and (
        bool(tf.reduce_any(t < 1.0)) or bool(tf.reduce_any(t > 65535.0))
    ):
        raise ValueError("quantization table entries must be in [1, 65535].")
    if t.shape[1] == 1:
        t = tf.concat([t, t], axis=1)
    return t


def component_table(tables: tf.Tensor, component: int) -> tf.Tensor:
    """The (N, 8, 8) table of component 0 (Y), 1 (Cb) or 2 (Cr) from (N, 2 or 3, 8, 8) tables."""
    if tables.shape[1] == 3:
        return tables[:, component]
    return tables[:, min(component, 1)]
