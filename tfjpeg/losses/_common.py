"""Tensor helpers shared by the losses and metrics (input checks, filters, gray conversion)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfjpeg.errors import InvalidImageError

__all__ = [
    "GRAY_WEIGHTS",
    "as_image_batch",
    "check_same_shape",
    "depthwise_filter",
    "gaussian_kernel_1d",
    "rgb_to_gray",
    "safe_sqrt",
    "separable_filter",
]

#: Luma weights of MATLAB's ``rgb2gray`` (and scikit-video's), used by NIQE.
GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)


def as_image_batch(
    images: tf.Tensor | np.ndarray, name: str = "images", channels: tuple[int, ...] = (3,)
) -> tf.Tensor:
    """Converts ``images`` to a float tensor (N, H, W, C) and checks its rank and channels.

    Integer inputs become float32; float inputs keep their dtype. Static shapes are checked in
    Python (clear ``InvalidImageError``); fully dynamic shapes are accepted as they are.
    """
    if not tf.is_tensor(images):
        images = np.asarray(images)
        if images.dtype == np.float64:
            images = images.astype(np.float32)
    images = tf.convert_to_tensor(images)
    if not images.dtype.is_floating:
        images = tf.cast(images, tf.float32)
    rank = images.shape.rank
    if rank is not None and rank != 4:
        raise InvalidImageError(
            f"{name} must be a batch of images shaped (N, H, W, C). Received: shape={images.shape}"
        )
    if rank == 4 and images.shape[-1] is not None and images.shape[-1] not in channels:
        raise InvalidImageError(
            f"{name} must have {' or '.join(map(str, channels))} channels. "
            f"Received: shape={images.shape}"
        )
    return images


def check_same_shape(a: tf.Tensor, b: tf.Tensor) -> None:
    """Raises ``InvalidImageError`` if two statically known shapes differ."""
    if a.shape.is_fully_defined() and b.shape.is_fully_defined() and a.shape != b.shape:
        raise InvalidImageError(
            f"Both images must have the same shape. Received: shapes {a.shape} and {b.shape}"
        )


def rgb_to_gray(images: tf.Tensor, weights: tuple[float, float, float] = GRAY_WEIGHTS) -> tf.Tensor:
    """(N, H, W, 3) → (N, H, W, 1) weighted sum; one-channel inputs pass through."""
    if images.shape[-1] == 1:
        return images
    w = tf.constant(weights, images.dtype)
    return tf.reduce_sum(images * w, axis=-1, keepdims=True)


def gaussian_kernel_1d(size: int, sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian of odd or even ``size`` centred on the middle (float64)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def depthwise_filter(images: tf.Tensor, kernel: np.ndarray, padding: str = "VALID") -> tf.Tensor:
    """Correlates every channel of (N, H, W, C) with the same 2-D ``kernel`` (kh, kw)."""
    channels = images.shape[-1]
    k = tf.constant(np.asarray(kernel)[:, :, None, None], images.dtype)
    k = tf.tile(k, [1, 1, channels, 1])
    return tf.nn.depthwise_conv2d(images, k, strides=[1, 1, 1, 1], padding=padding)


def separable_filter(images: tf.Tensor, kernel_1d: np.ndarray, padding: str = "VALID") -> tf.Tensor:
    """Correlates every channel with ``kernel_1d`` along H then W (a separable 2-D filter)."""
    k = np.asarray(kernel_1d, dtype=np.float64)
    out = depthwise_filter(images, k[:, None], padding)
    return depthwise_filter(out, k[None, :], padding)


def safe_sqrt(x: tf.Tensor) -> tf.Tensor:
    """sqrt(x) for x ≥ 0 whose gradient is 0 (not inf/NaN) where x == 0."""
    positive = x > 0
    safe = tf.where(positive, x, tf.ones_like(x))
    return tf.where(positive, tf.sqrt(safe), tf.zeros_like(x))
