"""Control signals z of explorable decoding (Bahat & Michaeli 2021 §3.2, appendix E).

A consistent decoder takes a control signal z on the luma block grid (hb, wb, 64); different z give
different decodings, all consistent with the file. z = 0 is the neutral, pre-exploration decoding;
the helpers here draw the paper's random z (a per-channel constant) from a seed, or, for a
decoder whose z is a noise map (Guo & Chao 2017, ``control_signal = "noise"``), i.i.d. N(0, 1)
values, one per pixel (:func:`noise_from_seed`); :func:`control_from_seed` picks the decoder's.

Layer rule: ``explore`` sits above ``decoders`` and below ``serving``/``api`` (serving and the API
import these; decoders do not).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["CONTROL_SIGNALS", "control_from_seed", "noise_from_seed", "random_z", "z_from_seed"]

#: What a decoder's ``control_signal`` attribute may say its z is: a per-channel constant
#: (explorable decoding, the default) or per-pixel Gaussian noise (stochastic decoders).
CONTROL_SIGNALS = ("constant", "noise")


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


def noise_from_seed(seed: int | tf.Tensor, block_height, block_width) -> tf.Tensor:
    """Per-pixel standard-normal noise of a seed on the luma block grid (hb, wb, 64): each
    block's 64 channels are its 8×8 pixels (the noise Z of a stochastic decoder such as
    :class:`~tfjpeg.decoders.PosteriorSampler`, Man et al. 2023). Stateless
    (``tf.random.stateless_normal``), so the API and the SavedModel draw the same noise.

    Returns:
        float32 (block_height, block_width, 64).
    """
    key = tf.stack([tf.cast(seed, tf.int64), tf.constant(1, tf.int64)])
    return tf.random.stateless_normal(tf.stack([block_height, block_width, 64]), seed=key)


def control_from_seed(model, seed: int | tf.Tensor, block_height, block_width) -> tf.Tensor:
    """The control signal z a decoder draws from a seed, by its ``control_signal`` attribute:
    ``"noise"`` (:func:`noise_from_seed`) or ``"constant"`` (:func:`z_from_seed`, the default
    for decoders without the attribute). The one place the API and the serving module pick it.

    Returns:
        float32 (block_height, block_width, 64).
    """
    kind = getattr(model, "control_signal", "constant")
    if kind not in CONTROL_SIGNALS:
        raise ValueError(f"control_signal must be one of {CONTROL_SIGNALS}. Received: {kind!r}")
    draw = noise_from_seed if kind == "noise" else z_from_seed
    return draw(seed, block_height, block_width)


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
