"""Coefficients → uint8 pixels that a stock encoder quantizes back to exactly those coefficients.

The optimizer of :mod:`tfjpeg.rdo.optimize` chooses quantized DCT coefficients; what the user gets
is a standard encoder's file of some uint8 image. :func:`realize` builds that image: each
component plane is the inverse DCT of the dequantized coefficients (the centre of each
quantization bin), chroma is held constant over each subsampling cell (so libjpeg's box
downsampling returns it), the planes go back to RGB and are rounded to uint8. Rounding and gamut
clipping move a few coefficients off their bin; :func:`realize` then re-encodes exactly
(:func:`tfjpeg.jpeg.codec.encode`, bit-exact with libjpeg-turbo) and adds the inverse DCT of
the remaining error, a projection onto the set of images that encode to the chosen coefficients
(as the consistency projection of the decoders, Bahat & Michaeli 2021 §3).

Reference: Talebi et al. 2020, "Better compression with deep pre-editing", eq. 4 (the edited
image x is only seen through C_q(x)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfjpeg.jpeg import color
from tfjpeg.jpeg.blocks import blocks_to_plane
from tfjpeg.jpeg.codec import encode
from tfjpeg.jpeg.dct import block_idct
from tfjpeg.jpeg.layout import component_factors
from tfjpeg.jpeg.tables import component_table

__all__ = ["REALIZE_ITERATIONS", "coefficient_planes", "realize"]

#: Correction passes after the first rounding (each one exact re-encode + inverse DCT).
REALIZE_ITERATIONS = 4


def coefficient_planes(
    coefficients: Sequence[tf.Tensor],
    tables: tf.Tensor,
    height: int,
    width: int,
    subsampling: str,
    level_shift: float = 128.0,
) -> tf.Tensor:
    """Float YCbCr (or Y) planes (N, H, W, C) whose chroma is constant over each sampling cell.

    Each component is the inverse DCT of its dequantized coefficients (+ ``level_shift``; 0 for a
    difference of coefficients), upsampled by
    replication (not the decoder's triangle filter): the encoder's box average of a constant
    cell returns the value itself.
    """
    factors = component_factors(len(coefficients), subsampling)
    planes = []
    for c, (fh, fv) in enumerate(factors):
        q = component_table(tables, c)[:, None, None]
        plane = blocks_to_plane(block_idct(tf.cast(coefficients[c], tf.float32) * q)) + level_shift
        plane = tf.repeat(tf.repeat(plane, fv, axis=1), fh, axis=2)
        planes.append(plane[:, :height, :width])
    return tf.stack(planes, axis=-1)


def _to_pixels(planes: tf.Tensor) -> tf.Tensor:
    rgb = color.ycbcr_to_rgb(planes) if planes.shape[-1] == 3 else planes
    return tf.clip_by_value(tf.round(rgb), 0.0, 255.0)


def realize(
    coefficients: Sequence[tf.Tensor],
    tables: tf.Tensor,
    height: int,
    width: int,
    subsampling: str = "420",
    iterations: int = REALIZE_ITERATIONS,
) -> tuple[np.ndarray, float]:
    """uint8 images (N, H, W, C) whose libjpeg-turbo coefficients are ``coefficients``.

    Args:
        coefficients: integer-valued float (N, hb, wb, 8, 8) per component (1 or 3).
        tables: (N, 2|3, 8, 8) quantization tables the encoder will use.
        height, width: image size.
        subsampling: chroma subsampling the encoder will use.
        iterations: correction passes (exact re-encode, inverse DCT of the error).

    Returns:
        (pixels, mismatch): uint8 array and the fraction of coefficients the stock encoder
        still quantizes differently (0 for a perfect realization).
    """
    tables = tf.convert_to_tensor(tables, tf.float32)
    target = [tf.cast(c, tf.float32) for c in coefficients]
    planes = coefficient_planes(target, tables, height, width, subsampling)
    pixels = _to_pixels(planes)
    mismatch = 1.0
    for step in range(iterations + 1):
        got = encode(pixels, tables, subsampling, "hard")["coefficients"]
        wrong = [
            tf.cast(g != t[:, : g.shape[1], : g.shape[2]], tf.float32)
            for g, t in zip(got, target, strict=True)
        ]
        total = sum(float(tf.reduce_sum(w)) for w in wrong)
        mismatch = total / sum(int(tf.size(w)) for w in wrong)
        if total == 0 or step == iterations:
            break
        # Move the pixels by the inverse DCT of the error, only where a coefficient is off.
        error = [(t - g) * w for t, g, w in zip(target, got, wrong, strict=True)]
        planes = planes + coefficient_planes(error, tables, height, width, subsampling, 0.0)
        pixels = _to_pixels(planes)
    return pixels.numpy().astype(np.uint8), mismatch
