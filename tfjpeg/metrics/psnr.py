"""PSNR on RGB and on the luma channel (JFIF Y), and PSNR-B (blocking-penalized), per image."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfjpeg.errors import InvalidImageError
from tfjpeg.jpeg.color import rgb_to_ycbcr
from tfjpeg.metrics._wrap import as_batch, finish

__all__ = ["blocking_effect_factor", "psnr", "psnr_b", "psnr_tf", "psnr_y", "psnr_y_tf"]


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


def blocking_effect_factor(plane: tf.Tensor, block: int = 8) -> tf.Tensor:
    """BEF of (N, H, W) planes → (N,) (Yim & Bovik 2011, eq. 9–12).

    η·(D_B − D_B^c), 0 where D_B ≤ D_B^c: D_B the mean squared difference of the horizontally
    and vertically neighbouring samples across the ``block`` grid's boundaries, D_B^c the same
    inside blocks, η = log2(block) / log2(min(H, W)).
    """
    plane = tf.convert_to_tensor(plane)
    h, w = plane.shape[1], plane.shape[2]
    dx = tf.square(plane[:, :, 1:] - plane[:, :, :-1])  # (N, H, W-1), pair (j, j+1)
    dy = tf.square(plane[:, 1:] - plane[:, :-1])
    on_x = tf.constant([(j + 1) % block == 0 for j in range(w - 1)])
    on_y = tf.constant([(i + 1) % block == 0 for i in range(h - 1)])
    boundary = tf.reduce_sum(tf.where(on_x, dx, 0.0), [1, 2]) + tf.reduce_sum(
        tf.where(on_y[:, None], dy, 0.0), [1, 2]
    )
    inside = tf.reduce_sum(dx, [1, 2]) + tf.reduce_sum(dy, [1, 2]) - boundary
    n_boundary = h * (w // block - 1) + w * (h // block - 1)
    n_inside = h * (w - 1) + w * (h - 1) - n_boundary
    d_b = boundary / max(n_boundary, 1)
    d_bc = inside / max(n_inside, 1)
    eta = np.log2(block) / np.log2(min(h, w))
    return tf.where(d_b > d_bc, eta * (d_b - d_bc), tf.zeros_like(d_b))


def psnr_b(x, y, max_val: float = 255.0):
    """PSNR-B in dB of decoded images ``x`` against originals ``y`` (Yim & Bovik, "Quality
    assessment of deblocked images", IEEE TIP 2011): 10·log10(max² / (MSE + BEF(x))) per
    channel, averaged over the channels (as the JPEG artifact-removal papers report it on
    colour images, e.g. FBCNN, JDEC). Calling convention as :func:`psnr`.
    """
    xb, yb, single = _pair(x, y)
    xb = tf.cast(xb, tf.float32)
    yb = tf.cast(yb, tf.float32)
    per_channel = []
    for c in range(xb.shape[-1]):
        mse = tf.reduce_mean(tf.square(xb[..., c] - yb[..., c]), axis=[1, 2])
        bef = blocking_effect_factor(xb[..., c])
        per_channel.append(10.0 * tf.math.log(max_val**2 / (mse + bef)) / tf.math.log(10.0))
    return finish(tf.reduce_mean(tf.stack(per_channel, -1), -1), single)
