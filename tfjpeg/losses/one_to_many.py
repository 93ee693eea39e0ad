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

Every loss returns one value per image, shape (N,).

Reference: J. Guo and H. Chao, "One-to-Many Network for Visually Pleasing Compression Artifacts
Reduction", CVPR 2017, §3.3; V. Laparra, J. Ballé, A. Berardino and E. P. Simoncelli,
"Perceptual image quality assessment using a normalized Laplacian pyramid", HVEI 2016.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import tensorflow as tf

from tfjpeg.jpeg.tables import component_table, validate_tables
from tfjpeg.losses.distance import VGGFeatureDistance, nlpd

__all__ = ["VGG_LAYER", "jpeg_loss", "perceptual_distance"]

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
