"""Full-reference distances dist(x, z) for eq. (5) of the pre-editing paper.

Every function takes two batches of float RGB images (N, H, W, 3) in [0, ``max_val``] (default
255) and returns one value per image, shape (N,). All are differentiable, pure TensorFlow and
safe inside ``tf.function`` and ``tf.distribute`` replicas.

- :func:`l1_distance`, :func:`l2_distance`: mean absolute / squared error on images scaled to
  [0, 1].
- :func:`ssim`, :func:`ms_ssim`, :func:`ms_ssim_loss` (1 − MS-SSIM): Wang, Simoncelli & Bovik,
  "Multiscale structural similarity for image quality assessment", 2003 (Gaussian 11×11, σ 1.5,
  K1 0.01, K2 0.03, weights 0.0448, 0.2856, 0.3001, 0.2363, 0.1333; the same conventions as
  ``tf.image.ssim_multiscale``). Small images: see :func:`ms_ssim_scales`.
- :func:`nlpd`: normalized Laplacian pyramid distance, Laparra, Ballé, Berardino & Simoncelli,
  "Perceptual image quality assessment using a normalized Laplacian pyramid", HVEI 2016, with
  the authors' published parameters (``NLP_dist.m``: 6 levels, Burt–Adelson filter, divisive
  normalisation fitted on McGill).
- :class:`VGGFeatureDistance`: L1 distance between VGG-16 activations (the paper's choice is the
  second convolution before the first max pooling, ``block1_conv2``), with weights loaded from a
  user-given file (no downloads).

Reference: Talebi et al., "Better Compression with Deep Pre-Editing", 2020, §3.1.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from tfjpeg.losses._common import (
    as_image_batch,
    check_same_shape,
    gaussian_kernel_1d,
    rgb_to_gray,
    safe_sqrt,
    separable_filter,
)

__all__ = [
    "DISTANCES",
    "MS_SSIM_WEIGHTS",
    "VGGFeatureDistance",
    "get_distance",
    "l1_distance",
    "l2_distance",
    "ms_ssim",
    "ms_ssim_loss",
    "ms_ssim_scales",
    "nlpd",
    "ssim",
]

#: Wang et al. 2003 exponents of the five MS-SSIM scales (finest first).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _pair(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    x = as_image_batch(x, "x", channels=(1, 3))
    y = as_image_batch(y, "y", channels=(1, 3))
    y = tf.cast(y, x.dtype)
    check_same_shape(x, y)
    return x, y


def _check_max_val(max_val: float) -> float:
    if not (isinstance(max_val, int | float) and max_val > 0 and math.isfinite(max_val)):
        raise ValueError(f"max_val must be a positive number. Received: max_val={max_val!r}")
    return float(max_val)


def l1_distance(x: tf.Tensor, y: tf.Tensor, max_val: float = 255.0) -> tf.Tensor:
    """Mean absolute difference per image, on images scaled to [0, 1] → (N,)."""
    x, y = _pair(x, y)
    scale = 1.0 / _check_max_val(max_val)
    return tf.reduce_mean(tf.abs(x - y), axis=[1, 2, 3]) * scale


def l2_distance(x: tf.Tensor, y: tf.Tensor, max_val: float = 255.0) -> tf.Tensor:
    """Mean squared difference per image, on images scaled to [0, 1] (MSE/max²) → (N,)."""
    x, y = _pair(x, y)
    scale = 1.0 / _check_max_val(max_val) ** 2
    return tf.reduce_mean(tf.square(x - y), axis=[1, 2, 3]) * scale


def _ssim_terms(
    x: tf.Tensor,
    y: tf.Tensor,
    max_val: float,
    filter_size: int,
    filter_sigma: float,
    k1: float,
    k2: float,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-channel SSIM and contrast-structure term, each (N, C) (valid Gaussian window)."""
    kernel = gaussian_kernel_1d(filter_size, filter_sigma)
    c1 = (k1 * max_val) ** 2
    c2 = (k2 * max_val) ** 2
    mu_x = separable_filter(x, kernel)
    mu_y = separable_filter(y, kernel)
    xx = separable_filter(x * x, kernel) - mu_x * mu_x
    yy = separable_filter(y * y, kernel) - mu_y * mu_y
    xy = separable_filter(x * y, kernel) - mu_x * mu_y
    luminance = (2.0 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    cs_map = (2.0 * xy + c2) / (xx + yy + c2)
    ssim_val = tf.reduce_mean(luminance * cs_map, axis=[1, 2])
    cs = tf.reduce_mean(cs_map, axis=[1, 2])
    return ssim_val, cs


def _check_ssim_size(x: tf.Tensor, filter_size: int, what: str) -> None:
    h, w = x.shape[1], x.shape[2]
    for side in (h, w):
        if side is not None and side < filter_size:
            raise ValueError(
                f"{what} needs images of at least {filter_size}x{filter_size} pixels "
                f"(filter_size). Received: shape={x.shape}"
            )


def ssim(
    x: tf.Tensor,
    y: tf.Tensor,
    max_val: float = 255.0,
    filter_size: int = 11,
    filter_sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> tf.Tensor:
    """Single-scale SSIM per image (mean over channels) → (N,); 1 for identical images.

    Same conventions as ``tf.image.ssim``: Gaussian window, valid positions only, per-channel
    SSIM averaged over channels. Images must be at least ``filter_size`` pixels on each side.
    """
    x, y = _pair(x, y)
    max_val = _check_max_val(max_val)
    _check_ssim_size(x, filter_size, "SSIM")
    value, _ = _ssim_terms(x, y, max_val, filter_size, filter_sigma, k1, k2)
    return tf.reduce_mean(value, axis=-1)


def ms_ssim_scales(height: int, width: int, filter_size: int = 11, max_scales: int = 5) -> int:
    """How many MS-SSIM scales an image of this size supports (each scale ≥ ``filter_size``).

    Each halving pads an odd side by one row/column first, so scale k (1-based) has
    ceil(side / 2^(k−1)) pixels. With the 11-tap window the standard five scales need
    min(H, W) ≥ 161; smaller images (e.g. the 128-px crops used in training) drop the coarsest
    scales: 81–160 px → 4 scales, 41–80 → 3, 21–40 → 2, 11–20 → 1. Below 11 px SSIM is
    undefined and a ``ValueError`` is raised.
    """
    side = min(int(height), int(width))
    if side < filter_size:
        raise ValueError(
            f"MS-SSIM needs images of at least {filter_size}x{filter_size} pixels. "
            f"Received: height={height}, width={width}"
        )
    scales = 1
    while scales < max_scales and math.ceil(side / 2**scales) >= filter_size:
        scales += 1
    return scales


def _halve(x: tf.Tensor) -> tf.Tensor:
    """2×2 average pooling; odd sides are first padded by repeating the last row/column."""
    shape = tf.shape(x)
    pad_h = shape[1] % 2
    pad_w = shape[2] % 2
    x = tf.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="SYMMETRIC")
    return tf.nn.avg_pool2d(x, ksize=2, strides=2, padding="VALID")


def ms_ssim(
    x: tf.Tensor,
    y: tf.Tensor,
    max_val: float = 255.0,
    scales: int | None = None,
    weights: tuple[float, ...] = MS_SSIM_WEIGHTS,
    filter_size: int = 11,
    filter_sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> tf.Tensor:
    """Multi-scale SSIM per image → (N,) in [0, 1]; 1 for identical images.

    Args:
        x, y: float images (N, H, W, 3) or (N, H, W, 1) in [0, max_val].
        max_val: dynamic range (255 for 8-bit images).
        scales: number of scales; None chooses ``ms_ssim_scales(H, W)`` (5 for images ≥ 161
            px, fewer for smaller crops; 5 when H or W is not known statically, e.g. under a
            ``tf.function`` with a (None, None, None, 3) signature — pass ``scales`` there for
            small images). When fewer than ``len(weights)`` scales are used, the
            first ``scales`` weights are renormalised to sum to 1 so the value stays in [0, 1].
        weights: per-scale exponents, finest first (Wang et al. 2003).

    Returns:
        (N,) MS-SSIM: product over scales of the (ReLU'd) contrast-structure terms and the
        coarsest-scale SSIM, each to its weight, averaged over colour channels — as
        ``tf.image.ssim_multiscale`` (which needs at least 176 pixels).
    """
    x, y = _pair(x, y)
    max_val = _check_max_val(max_val)
    h, w = x.shape[1], x.shape[2]
    if scales is None:
        scales = len(weights) if h is None or w is None else ms_ssim_scales(h, w, filter_size)
        scales = min(scales, len(weights))
    if not (isinstance(scales, int) and 1 <= scales <= len(weights)):
        raise ValueError(
            f"scales must be an integer in [1, {len(weights)}]. Received: scales={scales!r}"
        )
    if h is not None and w is not None and ms_ssim_scales(h, w, filter_size) < scales:
        raise ValueError(
            f"{scales} MS-SSIM scales need images of at least "
            f"{(filter_size - 1) * 2 ** (scales - 1) + 1} "
            f"pixels per side. Received: shape={x.shape}"
        )
    power = np.asarray(weights[:scales], dtype=np.float64)
    if scales < len(weights):
        power = power / power.sum()
    values = []
    for scale in range(scales):
        if scale > 0:
            x, y = _halve(x), _halve(y)
        ssim_val, cs = _ssim_terms(x, y, max_val, filter_size, filter_sigma, k1, k2)
        values.append(ssim_val if scale == scales - 1 else cs)
    stacked = tf.stack(values, axis=-1)  # (N, C, scales)
    # ReLU as tf.image does, floored at a tiny positive value so the fractional power keeps a
    # finite gradient (negative structure terms contribute zero gradient, as with ReLU).
    stacked = tf.maximum(stacked, tf.constant(1e-6, stacked.dtype))
    value = tf.reduce_prod(tf.pow(stacked, tf.constant(power, stacked.dtype)), axis=-1)
    return tf.reduce_mean(value, axis=-1)


def ms_ssim_loss(x: tf.Tensor, y: tf.Tensor, max_val: float = 255.0, **kwargs) -> tf.Tensor:
    """1 − MS-SSIM per image → (N,); 0 for identical images. See :func:`ms_ssim`."""
    return 1.0 - ms_ssim(x, y, max_val=max_val, **kwargs)


# --- NLPD (Laparra et al. 2016; parameters from the authors' NLP_dist.m) -------------------------

_NLPD_LEVELS = 6
_NLPD_SIGMAS = (0.0248, 0.0185, 0.0179, 0.0191, 0.0220, 0.2782)
_BURT_ADELSON = np.array([0.05, 0.25, 0.4, 0.25, 0.05])


def _dn_filters() -> list[np.ndarray]:
    filters = [np.zeros((5, 5)) for _ in range(_NLPD_LEVELS)]
    filters[0][1, 2], filters[0][3, 2] = 0.1011, 0.1015
    filters[0][2, 1], filters[0][2, 3], filters[0][2, 4] = 0.1493, 0.1460, 0.0072
    centre3 = [
        [[0, 0.0757, 0], [0.1986, 0, 0.1846], [0, 0.0837, 0]],
        [[0, 0.0477, 0], [0.2138, 0, 0.2243], [0, 0.0467, 0]],
        [[0, 0, 0], [0.2503, 0, 0.2616], [0, 0, 0]],
        [[0, 0, 0], [0.2598, 0, 0.2552], [0, 0, 0]],
        [[0, 0, 0], [0.2215, 0, 0.0717], [0, 0, 0]],
    ]
    for level, block in enumerate(centre3, start=1):
        filters[level][1:4, 1:4] = block
    return filters


_NLPD_DN_FILTERS = _dn_filters()
#: Smallest side NLPD accepts: five halvings must leave at least 2 pixels.
NLPD_MIN_SIDE = 2 ** (_NLPD_LEVELS - 1)


def _lp_downsample(j: tf.Tensor) -> tf.Tensor:
    """MATLAB ``imfilter(J, f'*f, 'symmetric')`` then keep every other sample from the first."""
    padded = tf.pad(j, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="SYMMETRIC")
    low = separable_filter(padded, _BURT_ADELSON)
    return low[:, ::2, ::2, :]


def _lp_upsample(small: tf.Tensor, height: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    """MATLAB upsample of NLP_dist.m: replicate-pad 1, zero-insert ×4, filter, crop to size."""
    padded = tf.pad(small, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")  # = replicate
    s = tf.shape(padded)
    grid = 4.0 * padded[:, :, None, :, None, :]
    grid = tf.pad(grid, [[0, 0], [0, 0], [0, 1], [0, 0], [0, 1], [0, 0]])
    up = tf.reshape(grid, [s[0], 2 * s[1], 2 * s[2], s[3]])
    up = tf.pad(up, [[0, 0], [2, 2], [2, 2], [0, 0]])  # imfilter's default zero border
    up = separable_filter(up, _BURT_ADELSON)
    return up[:, 2 : 2 + height, 2 : 2 + width, :]


def _normalized_laplacian_pyramid(image: tf.Tensor) -> list[tf.Tensor]:
    levels = []
    j = image
    for level in range(_NLPD_LEVELS):
        if level < _NLPD_LEVELS - 1:
            low = _lp_downsample(j)
            shape = tf.shape(j)
            band = j - _lp_upsample(low, shape[1], shape[2])
        else:
            band = j
        # conv2(|L|, F2, 'same'): a true convolution with zero padding → correlate with the flip.
        f2 = _NLPD_DN_FILTERS[level][::-1, ::-1]
        channels = band.shape[-1]
        kernel = tf.tile(tf.constant(f2[:, :, None, None], band.dtype), [1, 1, channels, 1])
        energy = tf.nn.depthwise_conv2d(
            tf.pad(tf.abs(band), [[0, 0], [2, 2], [2, 2], [0, 0]]),
            kernel,
            strides=[1, 1, 1, 1],
            padding="VALID",
        )
        levels.append(band / (_NLPD_SIGMAS[level] + energy))
        if level < _NLPD_LEVELS - 1:
            j = low
    return levels


def nlpd(x: tf.Tensor, y: tf.Tensor, max_val: float = 255.0, color: str = "rgb") -> tf.Tensor:
    """Normalized Laplacian pyramid distance per image → (N,); 0 for identical images.

    Follows the authors' ``NLP_dist.m`` (Laparra et al. 2016): images scaled to [0, 1], a
    6-level Laplacian pyramid (Burt–Adelson 5-tap filter, symmetric borders), divisive
    normalisation of each band by σ_k + (F_k ∗ |band|), the root-mean-square difference per
    level, averaged over levels.

    Args:
        x, y: float images (N, H, W, 3) in [0, max_val], at least 32×32 (``NLPD_MIN_SIDE``).
        max_val: dynamic range.
        color: "rgb" applies the (gray-level) model to each RGB channel and averages the three
            distances; "gray" applies it once to the luma (0.2989 R + 0.5870 G + 0.1140 B).
    """
    x, y = _pair(x, y)
    max_val = _check_max_val(max_val)
    if color not in ("rgb", "gray"):
        raise ValueError(f"color must be 'rgb' or 'gray'. Received: color={color!r}")
    for side in (x.shape[1], x.shape[2]):
        if side is not None and side < NLPD_MIN_SIDE:
            raise ValueError(
                f"NLPD needs images of at least {NLPD_MIN_SIDE}x{NLPD_MIN_SIDE} pixels. "
                f"Received: shape={x.shape}"
            )
    if color == "gray":
        x, y = rgb_to_gray(x), rgb_to_gray(y)
    x = x / max_val
    y = y / max_val
    per_level = []
    pyramids = zip(_normalized_laplacian_pyramid(x), _normalized_laplacian_pyramid(y), strict=True)
    for a, b in pyramids:
        per_level.append(safe_sqrt(tf.reduce_mean(tf.square(a - b), axis=[1, 2])))  # (N, C)
    return tf.reduce_mean(tf.reduce_mean(tf.stack(per_level, axis=-1), axis=-1), axis=-1)


# --- VGG-16 feature distance ------------------------------------------------------------------

_VGG_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="tfjpeg")
class VGGFeatureDistance(keras.layers.Layer):
    """L1 distance between VGG-16 activations of two images (the paper's perceptual distance).

    ``keras.applications.VGG16(include_top=False)`` is built and its weights are read from
    ``weights`` — typically Keras's ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`` that
    the user copied to the machine (tfjpeg never downloads anything), or a ``.weights.h5`` saved
    from a VGG16 model. The features are those of ``layer`` (default ``block1_conv2``, the second
    convolution before the first max pooling, §3.1); inputs get the Caffe preprocessing of
    ``keras.applications.vgg16.preprocess_input`` (RGB→BGR, ImageNet mean subtracted) inside the
    graph. The VGG weights are frozen.

    Args:
        weights: path to a VGG16 (no top) weights file, or None for random weights (only useful
            in tests: random features are not a perceptual metric).
        layer: name of the VGG16 layer whose output is compared.
        max_val: dynamic range of the inputs (they are rescaled to [0, 255]).

    Call: ``distance(x, y)`` with two (N, H, W, 3) batches → (N,) mean |F(x) − F(y)|.

    Example:
        >>> d = VGGFeatureDistance(weights="/data/vgg16_notop.h5")  # doctest: +SKIP
        >>> d(decoded, original)  # doctest: +SKIP
    """

    def __init__(
        self,
        weights: str | None = None,
        layer: str = "block1_conv2",
        max_val: float = 255.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if weights is not None:
            if not isinstance(weights, str | os.PathLike):
                raise ValueError(
                    f"weights must be a path to a VGG16 weights file or None. "
                    f"Received: weights={weights!r}"
                )
            weights = os.fspath(weights)
            if weights == "imagenet":
                raise ValueError(
                    "weights='imagenet' would need a download; pass the path of a local copy of "
                    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5. "
                    "Received: weights='imagenet'"
                )
            if not os.path.isfile(weights):
                raise ValueError(f"VGG16 weights file not found. Received: weights={weights!r}")
        self.weights_path = weights
        self.layer = layer
        self.max_val = _check_max_val(max_val)
        vgg = keras.applications.VGG16(
            include_top=False, weights=weights, input_shape=(None, None, 3)
        )
        names = [lyr.name for lyr in vgg.layers]
        if layer not in names:
            raise ValueError(f"layer must be one of {names[1:]}. Received: layer={layer!r}")
        self.features = keras.Model(vgg.input, vgg.get_layer(layer).output, name="vgg16_features")
        self.features.trainable = False

    def feature_maps(self, images: tf.Tensor) -> tf.Tensor:
        """VGG features of (N, H, W, 3) images in [0, max_val]."""
        images = as_image_batch(images, "images")
        bgr = images[..., ::-1] * (255.0 / self.max_val)
        bgr = bgr - tf.constant(_VGG_MEAN_BGR, images.dtype)
        return self.features(bgr, training=False)

    def call(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        x, y = _pair(x, y)
        diff = tf.abs(self.feature_maps(x) - self.feature_maps(y))
        return tf.reduce_mean(diff, axis=[1, 2, 3])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"weights": self.weights_path, "layer": self.layer, "max_val": self.max_val})
        return config


#: Name → per-image distance function f(x, y, max_val=...) → (N,), lower is closer.
DISTANCES: dict[str, Callable[..., tf.Tensor]] = {
    "ms-ssim": ms_ssim_loss,
    "l1": l1_distance,
    "l2": l2_distance,
    "nlpd": nlpd,
}


def get_distance(name: str) -> Callable[..., tf.Tensor]:
    """The distance function registered under ``name`` (see ``DISTANCES``; VGG is a layer)."""
    if name not in DISTANCES:
        raise ValueError(
            f"distance must be one of {sorted(DISTANCES)} or 'vgg'. Received: distance={name!r}"
        )
    return DISTANCES[name]
