"""TensorBoard scalars and images written with core TensorFlow only.

``tf.summary.scalar``/``tf.summary.image`` need the ``tensorboard`` package, which TensorFlow
no longer installs. These write the same event records (the TensorBoard "scalars" and
"images" plugin formats) through ``tf.summary.write``, so training needs no extra dependency;
install ``tensorboard`` only to view the logs (``tensorboard --logdir RUN_DIR/logs``).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

__all__ = ["write_images", "write_scalar"]


def _metadata(plugin: str) -> summary_pb2.SummaryMetadata:
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin)
    )


def write_scalar(name: str, value: Any, step: int | tf.Tensor) -> bool:
    """Write a float scalar to the default summary writer (as ``tf.summary.scalar`` would)."""
    return tf.summary.write(
        name, tf.cast(value, tf.float32), step=step, metadata=_metadata("scalars")
    )


def write_images(name: str, images: Any, step: int | tf.Tensor, max_outputs: int = 4) -> bool:
    """Write up to ``max_outputs`` images of a (N, H, W, C) batch as PNGs.

    ``images`` is uint8, or float in [0, 1] (clipped), like ``tf.summary.image``; C is 1, 3 or 4.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"images must be (N, H, W, C). Received: shape={images.shape}")
    images = tf.image.convert_image_dtype(images[:max_outputs], tf.uint8, saturate=True)
    shape = tf.shape(images)
    dims = tf.stack([tf.as_string(shape[2]), tf.as_string(shape[1])])
    encoded = tf.map_fn(tf.image.encode_png, images, fn_output_signature=tf.string)
    return tf.summary.write(
        name, tf.concat([dims, encoded], 0), step=step, metadata=_metadata("images")
    )
