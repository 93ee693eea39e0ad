"""The penalties of posterior-sampling JPEG decoding (Man et al. 2023, eq. 4, 5, 7; appendix C).

All take images in [0, 1] (divide tfjpeg's [0, 255] by 255) and return per-example values, to be
averaged with ``tf.nn.compute_average_loss``. The adversarial terms (non-saturating GAN and R1)
are :func:`tfjpeg.losses.adversarial.ns_generator_loss`, ``ns_critic_loss`` and ``r1_penalty``;
the VGG term is :class:`tfjpeg.losses.distance.VGGFeatureDistance`.

- :func:`consistency_penalty` (eq. 4): ‖Y − JPEG_Q(X̂)‖² with the exact libjpeg encoder in the
  forward pass and the identity as the rounding's gradient (``rounding="ste"``, §4.2), computed
  on the dequantized coefficients (the block DCT is orthonormal, so this is the squared error
  of the decoded planes, chroma on its own grid).
- :func:`first_moment_penalty` (eq. 5): ‖X − E_Z[G(Z, Y)]‖², the mean over samples.
- :func:`second_moment_penalty` (eq. 7 / 16): ‖(X − X̄(Y))² − Var_Z[G(Z, Y)]‖₁ with an MMSE
  estimate X̄ (a frozen regression decoder).
"""

from __future__ import annotations

import math

import tensorflow as tf

from tfjpeg.jpeg.codec import encode
from tfjpeg.jpeg.tables import component_table

__all__ = [
    "consistency_penalty",
    "cosine_schedule",
    "first_moment_penalty",
    "second_moment_penalty",
    "split_samples",
]


def split_samples(images: tf.Tensor, samples: int) -> tf.Tensor:
    """(K·B, ...) decodings of ``tf.tile``-d inputs (sample k of image b at row k·B + b) →
    (K, B, ...)."""
    shape = tf.shape(images)
    return tf.reshape(images, tf.concat([[samples, shape[0] // samples], shape[1:]], 0))


def consistency_penalty(
    decoded: tf.Tensor, coefficients, tables: tf.Tensor, subsampling: str
) -> tf.Tensor:
    """Per-image C = mean squared dequantized difference between the file's coefficients and
    those of the decoding re-encoded exactly (straight-through rounding), over [0, 1] images.

    Args:
        decoded: (N, H, W, 3) RGB (or (N, H, W, 1) gray) in [0, 255], the decoder's output.
        coefficients: the file's quantized blocks per component, (N, hb, wb, 8, 8) each.
        tables: (N, K, 8, 8) quantization tables.
        subsampling: the files' chroma layout ("420", "422", "444", or "gray").

    Returns:
        (N,) penalties (mean over every coefficient of every component).
    """
    layout = "444" if subsampling == "gray" else subsampling
    again = encode(decoded, tables, layout, rounding="ste")["coefficients"]
    total, count = 0.0, 0.0
    for c, (mine, file) in enumerate(zip(again, coefficients, strict=True)):
        table = component_table(tables, c)[:, None, None]
        diff = (mine - tf.cast(file, tf.float32)) * table / 255.0
        total += tf.reduce_sum(tf.square(diff), axis=[1, 2, 3, 4])
        count += tf.cast(tf.reduce_prod(tf.shape(diff)[1:]), tf.float32)
    return total / count


def first_moment_penalty(samples: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Per-image FM = mean over pixels of (x − mean_k x̂_k)², eq. 5.

    Args:
        samples: (K, B, H, W, C) decodings of the same files with K noise draws, in [0, 1].
        target: (B, H, W, C) originals in [0, 1].
    """
    mean = tf.reduce_mean(samples, axis=0)
    return tf.reduce_mean(tf.square(target - mean), axis=[1, 2, 3])


def second_moment_penalty(samples: tf.Tensor, target: tf.Tensor, mmse: tf.Tensor) -> tf.Tensor:
    """Per-image SM = mean over pixels of |(x − X̄(Y))² − Var_k x̂_k|, eq. 7 and appendix C
    (the samples' variance about their own mean, eq. 15; the target's about the MMSE estimate,
    eq. 14).

    Args:
        samples: (K, B, H, W, C) in [0, 1]; target, mmse: (B, H, W, C) in [0, 1].
    """
    variance = tf.math.reduce_variance(samples, axis=0)
    return tf.reduce_mean(tf.abs(tf.square(target - mmse) - variance), axis=[1, 2, 3])


def cosine_schedule(step: tf.Tensor, total: int, start: float, end: float) -> tf.Tensor:
    """``start`` → ``end`` by cosine annealing over ``total`` steps (appendix A.2's λ_C)."""
    t = tf.clip_by_value(tf.cast(step, tf.float32) / float(max(total, 1)), 0.0, 1.0)
    return end + 0.5 * (start - end) * (1.0 + tf.cos(math.pi * t))
