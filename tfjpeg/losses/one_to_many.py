"""The measurement component of the one-to-many network (Guo & Chao 2017, §3.3): perceptual and
JPEG losses (the naturalness loss is the non-saturating GAN of :mod:`tfjpeg.losses.adversarial`).

- :func:`perceptual_distance`: the perceptual loss L_p. The paper compares deep VGG features
  (§3.3.1, "relu5_4"); tfjpeg never downloads weights, so with a local VGG-16 weights file this is
  :class:`~tfjpeg.losses.VGGFeatureDistance` on ``block5_conv3`` (VGG-16's last convolution) and
  without one it is :func:`~tfjpeg.losses.nlpd`, the normalized Laplacian pyramid distance of
  Laparra et al. 2016 (a perceptual distance with published parameters, no learned weights).
- :func:`jpeg_loss`: the JPEG loss L_j (§3.3.3, eq. 4–6): the truncated squared distance of each
  DCT coefficient of the output to its quantization interval ``[(X_Q − ½)·M, (X_Q + ½)·M]``;
  zero for any image that re-quantizes to the file's coefficients.
- :func:`diversity_loss` (**not in the paper**, an addition): the diversity-sensitive term of
  Yang et al. 2019 (the mode-seeking ratio of Mao et al. 2019, bounded), −min(τ, mean|G(x, z₁) −
  G(x, z₂)| / mean|z₁ − z₂|). Trained on the paper's loss alone, the network learns to ignore
  its noise map (mode collapse: the perceptual loss against the one original rewards the
  mean); this term rewards outputs that move with z. Measure it on
  :func:`interval_projection`'s coefficients: only variation inside each coefficient's
  quantization interval survives the decoding core's projection.

Every loss returns one value per image, shape (N,).

Reference: J. Guo and H. Chao, "One-to-Many Network for Visually Pleasing Compression Artifacts
Reduction", CVPR 2017, §3.3; D. Yang, S. Hong, Y. Jang, T. Zhao and H. Lee, "Diversity-Sensitive
Conditional Generative Adversarial Networks", ICLR 2019 (eq. 3); Q. Mao, H.-Y. Lee, H.-Y. Tseng,
S. Ma and M.-H. Yang, "Mode Seeking Generative Adversarial Networks for Diverse Image
Synthesis", CVPR 2019; V. Laparra, J. Ballé, A. Berardino and E. P. Simoncelli,
"Perceptual image quality assessment using a normalized Laplacian pyramid", HVEI 2016.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import tensorflow as tf

from tfjpeg.jpeg.tables import component_table, validate_tables
from tfjpeg.losses.distance import VGGFeatureDistance, nlpd

__all__ = [
    "VGG_LAYER",
    "diversity_loss",
    "interval_projection",
    "jpeg_loss",
    "perceptual_distance",
]

#: The VGG-16 layer of the perceptual loss: its last convolution (the paper's deepest features).
VGG_LAYER = "block5_conv3"


def perceptual_distance(
    vgg_weights: str | os.PathLike | None = None, layer: str = VGG_LAYER
) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The perceptual loss L_p(x, y) → (N,) for RGB images in [0, 255].

    Args:
        vgg_weights: a local VGG-16 (no top) weights file: mean |F(x) − F(y)| of ``layer``'s
            activations (:class:`~tfjpeg.losses.VGGFeatureDistance`); None: NLPD
            (:func:`~tfjpeg.losses.nlpd`, images of at least 32×32).
        layer: the VGG-16 layer (with ``vgg_weights`` only).

    Raises:
        ValueError: a weights file that does not exist, or an unknown layer.
    """
    if vgg_weights is None:
        return nlpd
    return VGGFeatureDistance(weights=os.fspath(vgg_weights), layer=layer)


def jpeg_loss(
    coefficients: Sequence[tf.Tensor], quantized: Sequence[tf.Tensor], tables: tf.Tensor
) -> tf.Tensor:
    """Guo & Chao 2017 eq. 6: Σ over the DCT coefficients of the output of the squared distance
    to the file's quantization interval, ``max(|C − X_Q| − ½, 0)² · M²`` (gray levels²: the
    8×8 DCT is orthonormal), divided by the number of luma coefficients (≈ pixels).

    Args:
        coefficients: per component, the output's DCT coefficients in quantized units
            (N, hb, wb, 8, 8), unrounded (a decoder's ``"coefficients"``).
        quantized: the file's quantized coefficients X_Q, same shapes.
        tables: (N, K, 8, 8) quantization tables (K = 2 [luma, chroma] or 3, one per component).

    Returns:
        (N,) losses; 0 when every coefficient lies in its interval.
    """
    if len(coefficients) != len(quantized) or len(coefficients) not in (1, 3):
        raise ValueError(
            "coefficients and quantized must both hold 1 (gray) or 3 components. Received: "
            f"{len(coefficients)} and {len(quantized)}"
        )
    tables = validate_tables(tables)
    total = 0.0
    for c, (coef, xq) in enumerate(zip(coefficients, quantized, strict=True)):
        coef = tf.cast(coef, tf.float32)
        excess = tf.nn.relu(tf.abs(coef - tf.cast(xq, tf.float32)) - 0.5)
        excess = excess * component_table(tables, c)[:, None, None]
        total = total + tf.reduce_sum(tf.square(excess), axis=[1, 2, 3, 4])
    luma = tf.shape(coefficients[0])
    return total / tf.cast(luma[1] * luma[2] * 64, tf.float32)


def interval_projection(
    coefficients: Sequence[tf.Tensor], quantized: Sequence[tf.Tensor]
) -> tuple[tf.Tensor, ...]:
    """Each output coefficient clipped into its file's quantization interval, X_Q + clip(C −
    X_Q, −½, ½) (quantized units): eq. 2 of Bahat & Michaeli 2021, the projection the decoding
    core applies at inference (without its [0, 255] rounds). The gradient passes to the
    coefficients inside their intervals only.

    Args:
        coefficients: per component, (N, hb, wb, 8, 8) output coefficients (unrounded).
        quantized: the file's X_Q, same shapes.
    """
    if len(coefficients) != len(quantized):
        raise ValueError(
            "coefficients and quantized must hold as many components. Received: "
            f"{len(coefficients)} and {len(quantized)}"
        )
    out = []
    for coef, xq in zip(coefficients, quantized, strict=True):
        xq = tf.cast(xq, tf.float32)
        out.append(xq + tf.clip_by_value(tf.cast(coef, tf.float32) - xq, -0.5, 0.5))
    return tuple(out)


def _per_image_mean_abs(x: tf.Tensor) -> tf.Tensor:
    x = tf.abs(tf.cast(x, tf.float32))
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def diversity_loss(
    first: tf.Tensor,
    second: tf.Tensor,
    z_first: tf.Tensor,
    z_second: tf.Tensor,
    bound: float = 0.02,
) -> tf.Tensor:
    """Yang et al. 2019's diversity-sensitive term, −min(τ, mean|G(x, z₁) − G(x, z₂)| /
    mean|z₁ − z₂|) per image: in [−τ, 0], 0 when the two outputs agree, −τ once they differ by
    at least τ per unit of noise distance (the bound keeps the reward from growing without
    limit, which Mao et al. 2019's unbounded ratio does). **Not part of Guo & Chao 2017**: the
    one-to-many trainer adds it (``diversity_weight``) because the paper's loss alone lets the
    network ignore z.

    For two independent Gaussian samples of per-pixel standard deviation σ, mean|x₁ − x₂| =
    2σ/√π, and for z ~ N(0, 1), mean|z₁ − z₂| = 2/√π: with images in [0, 1] the ratio is σ,
    so ``bound`` is the spread (std over seeds, [0, 1] units) beyond which no more is asked.

    Args:
        first, second: (N, ...) the outputs for z₁ and z₂ on the same inputs (e.g. the projected
            decodings in [0, 1]).
        z_first, z_second: (N, ...) the two noise maps.
        bound: τ > 0.

    Returns:
        (N,) losses in [−τ, 0].
    """
    if not bound > 0:
        raise ValueError(f"bound must be > 0. Received: bound={bound!r}")
    if first.shape != second.shape or z_first.shape != z_second.shape:
        raise ValueError(
            "the two outputs and the two noise maps must have matching shapes. Received: "
            f"{first.shape}, {second.shape}; {z_first.shape}, {z_second.shape}"
        )
    noise = _per_image_mean_abs(tf.cast(z_first, tf.float32) - tf.cast(z_second, tf.float32))
    ratio = _per_image_mean_abs(tf.cast(first, tf.float32) - tf.cast(second, tf.float32)) / (
        noise + 1e-8
    )
    return -tf.minimum(float(bound), ratio)
