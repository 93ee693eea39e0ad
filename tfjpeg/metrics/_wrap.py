"""Numpy-friendly calling convention shared by the metrics."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfjpeg.errors import InvalidImageError

__all__ = ["as_batch", "finish"]


def as_batch(image, name: str = "image") -> tuple[tf.Tensor, bool]:
    """(H, W, C) or (N, H, W, C) array/tensor, any real dtype → float32 (N, H, W, C), single?"""
    if tf.is_tensor(image):
        t = image
    else:
        arr = np.asarray(image)
        if arr.dtype == bool or not (
            np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
        ):
            raise InvalidImageError(f"{name} must be numeric. Received: dtype={arr.dtype}")
        t = tf.convert_to_tensor(arr)
    rank = t.shape.rank
    if rank not in (3, 4):
        raise InvalidImageError(
            f"{name} must be (H, W, C) or (N, H, W, C). Received: shape={tuple(t.shape)}"
        )
    if t.shape[-1] not in (1, 3):
        raise InvalidImageError(
            f"{name} must have 1 or 3 channels. Received: shape={tuple(t.shape)}"
        )
    t = tf.cast(t, tf.float32) if t.dtype != tf.float64 else t
    return (t[None] if rank == 3 else t), rank == 3


def finish(values: tf.Tensor, single: bool):
    """Tensor (N,) → Python float for a single image, else a float64 numpy array."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr[0]) if single else arr
