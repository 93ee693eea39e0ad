"""Chroma subsampling: libjpeg's downsampling and libjpeg-turbo's upsampling.

Encoding averages 2×2 (4:2:0) or 2×1 (4:2:2) neighbourhoods. libjpeg adds an alternating
rounding bias (1, 2, 1, 2, … for 2×2; 0, 1, 0, 1, … for 2×1; ``jcsample.c``) before the
integer division, which ``downsample_exact`` reproduces. Decoding uses libjpeg-turbo's "fancy"
triangle filter (``jdsample.c`` ``h2v1_fancy_upsample`` / ``h2v2_fancy_upsample``: ¾ nearer +
¼ farther sample, edges replicated) or plain replication. See the explorable-decoding paper
(Bahat & Michaeli 2021) §4 on chroma. The factors of each named layout are in
:mod:`tfjpeg.jpeg.layout`.
"""

from __future__ import annotations

import tensorflow as tf

from tfjpeg.errors import InvalidArgumentError

__all__ = [
    "downsample",
    "downsample_exact",
    "upsample",
    "upsample_exact",
]


def _split(plane: tf.Tensor, fh: int, fv: int) -> tf.Tensor:
    shape = tf.shape(plane)
    return tf.reshape(plane, [shape[0], shape[1] // fv, fv, shape[2] // fh, fh])


def downsample(plane: tf.Tensor, fh: int, fv: int) -> tf.Tensor:
    """Average (N, H, W) float over fv×fh cells; H and W must be multiples of the factors."""
    if fh == 1 and fv == 1:
        return plane
    return tf.reduce_mean(_split(plane, fh, fv), axis=[2, 4])


def downsample_exact(plane: tf.Tensor, fh: int, fv: int) -> tf.Tensor:
    """libjpeg's integer downsampling with its alternating rounding bias, int32 in and out."""
    if fh == 1 and fv == 1:
        return plane
    sums = tf.reduce_sum(_split(plane, fh, fv), axis=[2, 4])
    cols = tf.range(tf.shape(sums)[2])
    if (fh, fv) == (2, 2):
        bias = 1 + (cols % 2)  # 1, 2, 1, 2, ... restarting every row
        return tf.bitwise.right_shift(sums + bias, 2)
    if (fh, fv) == (2, 1):
        bias = cols % 2  # 0, 1, 0, 1, ...
        return tf.bitwise.right_shift(sums + bias, 1)
    raise InvalidArgumentError(f"Unsupported downsampling factors. Received: fh={fh}, fv={fv}")


def _neighbours(x: tf.Tensor, axis: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Previous and next samples along ``axis`` (1 or 2) with edge replication."""
    if axis == 1:
        prev = tf.concat([x[:, :1], x[:, :-1]], axis=1)
        nxt = tf.concat([x[:, 1:], x[:, -1:]], axis=1)
    else:
        prev = tf.concat([x[:, :, :1], x[:, :, :-1]], axis=2)
        nxt = tf.concat([x[:, :, 1:], x[:, :, -1:]], axis=2)
    return prev, nxt


def _interleave(even: tf.Tensor, odd: tf.Tensor, axis: int) -> tf.Tensor:
    stacked = tf.stack([even, odd], axis=axis + 1)
    shape = tf.shape(even)
    new_shape = tf.tensor_scatter_nd_update(shape, [[axis]], [shape[axis] * 2])
    return tf.reshape(stacked, new_shape)


def _fancy_float(x: tf.Tensor, axis: int) -> tf.Tensor:
    prev, nxt = _neighbours(x, axis)
    return _interleave(0.75 * x + 0.25 * prev, 0.75 * x + 0.25 * nxt, axis)


def upsample(plane: tf.Tensor, fh: int, fv: int, method: str = "fancy") -> tf.Tensor:
    """Float upsampling of (N, h, w) by (fh, fv); ``method`` is "fancy" or "nearest"."""
    if fh == 1 and fv == 1:
        return plane
    if method == "nearest":
        return tf.repeat(tf.repeat(plane, fv, axis=1), fh, axis=2)
    if fv == 2:
        plane = _fancy_float(plane, axis=1)
    if fh == 2:
        plane = _fancy_float(plane, axis=2)
    return plane


def upsample_exact(plane: tf.Tensor, fh: int, fv: int, method: str = "fancy") -> tf.Tensor:
    """libjpeg-turbo's integer upsampling of int32 (N, h, w) samples by (fh, fv)."""
    if fh == 1 and fv == 1:
        return plane
    if method == "nearest":
        return tf.repeat(tf.repeat(plane, fv, axis=1), fh, axis=2)
    shift = tf.bitwise.right_shift
    if (fh, fv) == (2, 1):  # h2v1_fancy_upsample
        prev, nxt = _neighbours(plane, 2)
        return _interleave(shift(3 * plane + prev + 1, 2), shift(3 * plane + nxt + 2, 2), 2)
    if (fh, fv) == (2, 2):  # h2v2_fancy_upsample: vertical column sums, then horizontal
        above, below = _neighbours(plane, 1)
        colsum = _interleave(3 * plane + above, 3 * plane + below, 1)
        prev, nxt = _neighbours(colsum, 2)
        return _interleave(shift(3 * colsum + prev + 8, 4), shift(3 * colsum + nxt + 7, 4), 2)
    raise InvalidArgumentError(f"Unsupported upsampling factors. Received: fh={fh}, fv={fv}")
