"""PSNR on RGB and on the luma channel (JFIF Y), per image."""

from __future__ import annotations

import tensorflow as tf

from tfjpeg.errors import InvalidImageError
from tfjpeg.jpeg.color import rgb_to_ycbcr
from tfjpeg.metrics._wrap import as_batch, finish

__all__ = ["psnr", "psnr_tf", "psnr_y", "psnr_y_tf"]


def psnr_tf(x: tf.Tensor, y: tf.Tensor, max_val: float = 255.0) -> tf.Tensor:
    """10·log10(max² / MSE) per image over all pixels and channels → (N,); +inf if identical.

    Differentiable TF op on (N, H, W, C) float tensors (use it inside graphs/training).
    """
    x = tf.convert_to_tensor(x)
    y = tf.cast(y, x.dtype)
    mse = tf.reduce_mean(tf.square(x - y), axis=[1, 2, 3])
    return 10.0 * tf.math.log(max_val**2 / mse) / tf.math.log(tf.constant(10.0, x.dtype))


def psnr_y_tf(x: tf.Tensor, y: tf.Tensor, max_val: float = 255.0) -> tf.Tensor:
    """PSNR of the JFIF luma Y = 0.299 R + 0.587 G + 0.114 B (not rounded) → (N,)."""
    x = tf.convert_to_tensor(x)
    y = tf.cast(y, x.dtype)
    return psnr_tf(rgb_to_ycbcr(x)[..., :1], rgb_to_ycbcr(y)[..., :1], max_val)


def _pair(x, y):
    xb, single = as_batch(x, "x")
    yb, _ = as_batch(y, "y")
    if xb.shape != yb.shape:
        raise InvalidImageError(
            f"x and y must have the same shape. Received: {tuple(xb.shape)} and {tuple(yb.shape)}"
        )
    return xb, tf.cast(yb, xb.dtype), single


def psnr(x, y, max_val: float = 255.0):
    """PSNR in dB of images (H, W, C) or batches (N, H, W, C), numpy or TF, any real dtype.

    Returns a float for one image, a numpy array (N,) for a batch; ``inf`` where identical.

    Example:
        >>> import numpy as np
        >>> round(psnr(np.zeros((4, 4, 3)), np.ones((4, 4, 3))), 2)
        48.13
    """
    xb, yb, single = _pair(x, y)
    return finish(psnr_tf(xb, yb, max_val), single)


def psnr_y(x, y, max_val: float = 255.0):
    """PSNR in dB of the JFIF luma of RGB images (see :func:`psnr` for the calling convention)."""
    xb, yb, single = _pair(x, y)
    if xb.shape[-1] != 3:
        raise InvalidImageError(f"psnr_y needs RGB images. Received: shape={tuple(xb.shape)}")
    return finish(psnr_y_tf(xb, yb, max_val), single)
