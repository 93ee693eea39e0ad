"""Control signals z of explorable decoding (Bahat & Michaeli 2021 §3.2, appendix E).

A consistent decoder takes a control signal z on the luma block grid (hb, wb, 64); different z give
different decodings, all consistent with the file. z = 0 is the neutral, pre-exploration decoding;
the helpers here draw the paper's random z (a per-channel constant) from a seed.

Layer rule: ``explore`` sits above ``decoders`` and below ``serving``/``api`` (serving and the API
import these; decoders do not).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["random_z", "z_from_seed"]


def z_from_seed(seed: int | tf.Tensor, block_height, block_width) -> tf.Tensor:
    """The per-channel constant control signal of a seed: z ~ U[−1, 1]^64 on an (hb, wb) grid.

    This is the paper's random z of the adversarial phase (appendix E); z = 0 is the neutral,
    pre-exploration decoding. Stateless (``tf.random.stateless_uniform``), so the Python API and
    the SavedModel give the same z for the same seed.

    Returns:
        float32 (block_height, block_width, 64).
    """
    key = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    values = tf.random.stateless_uniform([1, 1, 64], seed=key, minval=-1.0, maxval=1.0)
    return tf.broadcast_to(values, tf.stack([block_height, block_width, 64]))


def random_z(
    num_images: int, block_height: int, block_width: int, seed: int | None = None
) -> tf.Tensor:
    """A batch of per-channel constant control signals, image i from seed ``seed + i``.

    With ``seed=None`` the seeds are drawn at random. See :func:`z_from_seed`.

    Returns:
        float32 (num_images, block_height, block_width, 64).
    """
    if seed is None:
        seed = int(np.random.default_rng().integers(0, 2**31 - 1))
    return tf.stack([z_from_seed(seed + i, block_height, block_width) for i in range(num_images)])
