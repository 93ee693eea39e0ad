"""RGB ↔ YCbCr as JFIF / libjpeg: full range, chroma offset 128.

Float versions are differentiable. The ``*_exact`` versions reproduce libjpeg's fixed-point
arithmetic (``jccolor.c`` ``rgb_ycc_convert`` and ``jdcolor.c`` ``ycc_rgb_convert``, 16 fraction
bits) bit for bit on integer samples. Explorable-decoding paper (Bahat & Michaeli 2021) §4 and
posterior-sampling paper (Man et al. 2023) appendix D discuss why these rounding details matter.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = [
    "RGB_TO_YCBCR",
    "YCBCR_TO_RGB",
    "rgb_to_ycbcr",
    "rgb_to_ycbcr_exact",
    "ycbcr_to_rgb",
    "ycbcr_to_rgb_exact",
]

#: JFIF forward matrix (rows Y, Cb, Cr); Cb and Cr get +128 afterwards.
RGB_TO_YCBCR = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.168735892, -0.331264108, 0.5],
        [0.5, -0.418687589, -0.081312411],
    ]
)
#: JFIF inverse matrix (columns Y, Cb−128, Cr−128).
YCBCR_TO_RGB = np.array(
    [
        [1.0, 0.0, 1.402],
        [1.0, -0.344136286, -0.714136286],
        [1.0, 1.772, 0.0],
    ]
)

_SCALEBITS = 16
_ONE_HALF = 1 << (_SCALEBITS - 1)


def _fix(x: float) -> int:
    return int(x * (1 << _SCALEBITS) + 0.5)


def rgb_to_ycbcr(rgb: tf.Tensor) -> tf.Tensor:
    """Float RGB (..., 3) in [0, 255] → float YCbCr (..., 3), Cb/Cr centred on 128."""
    rgb = tf.convert_to_tensor(rgb)
    ycc = tf.tensordot(rgb, tf.constant(RGB_TO_YCBCR.T, rgb.dtype), axes=1)
    return ycc + tf.constant([0.0, 128.0, 128.0], rgb.dtype)


def ycbcr_to_rgb(ycbcr: tf.Tensor) -> tf.Tensor:
    """Float YCbCr (..., 3) → float RGB (..., 3); not clipped."""
    ycbcr = tf.convert_to_tensor(ycbcr)
    centred = ycbcr - tf.constant([0.0, 128.0, 128.0], ycbcr.dtype)
    return tf.tensordot(centred, tf.constant(YCBCR_TO_RGB.T, ycbcr.dtype), axes=1)


def rgb_to_ycbcr_exact(rgb: tf.Tensor) -> tf.Tensor:
    """libjpeg's integer RGB → YCbCr on int32 samples in 0..255 (..., 3) → int32 (..., 3)."""
    rgb = tf.cast(rgb, tf.int32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    cbcr_offset = 128 << _SCALEBITS
    y = _fix(0.29900) * r + _fix(0.58700) * g + _fix(0.11400) * b + _ONE_HALF
    cb = -_fix(0.16874) * r - _fix(0.33126) * g + _fix(0.5) * b + cbcr_offset + _ONE_HALF - 1
    cr = _fix(0.5) * r - _fix(0.41869) * g - _fix(0.08131) * b + cbcr_offset + _ONE_HALF - 1
    out = tf.stack([y, cb, cr], axis=-1)
    return tf.bitwise.right_shift(out, _SCALEBITS)


def ycbcr_to_rgb_exact(ycbcr: tf.Tensor) -> tf.Tensor:
    """libjpeg's integer YCbCr → RGB with range limiting, int32 (..., 3) → int32 in 0..255."""
    ycc = tf.cast(ycbcr, tf.int32)
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 128, ycc[..., 2] - 128
    shift = tf.bitwise.right_shift
    r = y + shift(_fix(1.40200) * cr + _ONE_HALF, _SCALEBITS)
    g = y + shift(-_fix(0.34414) * cb - _fix(0.71414) * cr + _ONE_HALF, _SCALEBITS)
    b = y + shift(_fix(1.77200) * cb + _ONE_HALF, _SCALEBITS)
    return tf.clip_by_value(tf.stack([r, g, b], axis=-1), 0, 255)
