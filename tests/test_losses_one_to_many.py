"""tfjpeg.losses.one_to_many: the JPEG interval loss and the perceptual loss (Guo & Chao 2017)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image

from tfjpeg.losses import nlpd
from tfjpeg.losses.one_to_many import (
    diversity_loss,
    interval_projection,
    jpeg_loss,
    perceptual_distance,
)


def _blocks(seed: int, shape=(2, 2, 3, 8, 8)) -> tf.Tensor:
    return tf.constant(np.random.default_rng(seed).integers(-5, 6, shape), tf.float32)


def test_jpeg_loss_is_zero_inside_the_intervals_and_truncated_squared_outside():
    xq = [_blocks(0), _blocks(1, (2, 1, 2, 8, 8)), _blocks(2, (2, 1, 2, 8, 8))]
    tables = tf.constant(np.stack([np.full((8, 8), 10.0), np.full((8, 8), 20.0)])[None])
    inside = [x + tf.random.uniform(tf.shape(x), -0.49, 0.49, seed=1) for x in xq]
    np.testing.assert_array_equal(jpeg_loss(inside, xq, tables), [0.0, 0.0])
    # one luma coefficient of image 1 at 1.5 bins (1 bin past the edge, M = 10), one Cr
    # coefficient of image 0 at −0.75 bins (¼ bin past, M = 20): (10·1)² and (20·¼)² over the
    # 2·3·64 luma coefficients of an image
    moved = [tf.identity(x).numpy() for x in xq]
    moved[0][1, 0, 2, 3, 4] += 1.5
    moved[2][0, 0, 1, 7, 0] -= 0.75
    loss = jpeg_loss([tf.constant(m) for m in moved], xq, tables).numpy()
    np.testing.assert_allclose(loss, [25.0 / 384, 100.0 / 384], rtol=1e-5)
    gray = jpeg_loss(moved[:1], xq[:1], tables)  # gray files: the luma alone
    np.testing.assert_allclose(gray, [0.0, 100.0 / 384], rtol=1e-5)
    with pytest.raises(ValueError, match="1 \\(gray\\) or 3"):
        jpeg_loss(moved[:2], xq[:2], tables)


def test_nlpd_perceptual_loss_properties():
    """The perceptual loss without VGG weights is NLPD: zero for identical images, symmetric,
    growing with the noise added."""
    assert perceptual_distance(None) is nlpd
    image = tf.constant(natural_image(48, 48, seed=5)[None], tf.float32)
    noise = tf.random.stateless_normal(image.shape, [3, 4])
    values = [float(nlpd(image, image + s * noise)[0]) for s in (0.0, 2.0, 5.0, 12.0)]
    assert values[0] == 0.0
    assert values[1] < values[2] < values[3]
    other = image + 5.0 * noise
    np.testing.assert_allclose(nlpd(image, other), nlpd(other, image), rtol=1e-5)


def test_vgg_perceptual_loss_needs_a_local_file(tmp_path):
    with pytest.raises(ValueError, match="weights"):
        perceptual_distance(tmp_path / "missing.h5")


def test_interval_projection_clips_into_the_file_intervals_and_passes_gradients_inside():
    xq = [_blocks(3, (1, 1, 2, 8, 8))]
    offset = tf.Variable(np.linspace(-1.0, 1.0, 128).reshape(1, 1, 2, 8, 8), dtype=tf.float32)
    with tf.GradientTape() as tape:
        (projected,) = interval_projection([xq[0] + offset], xq)
        total = tf.reduce_sum(projected)
    np.testing.assert_allclose(projected - xq[0], np.clip(offset.numpy(), -0.5, 0.5), atol=1e-6)
    inside = (np.abs(offset.numpy()) < 0.5).astype(np.float32)
    np.testing.assert_array_equal(tape.gradient(total, offset), inside)
    with pytest.raises(ValueError, match="as many components"):
        interval_projection(xq * 3, xq)


def test_diversity_loss_is_the_bounded_ratio_and_reaches_both_outputs():
    """Yang et al. 2019: 0 for identical outputs, −ratio below the bound, −τ above it; the
    gradient reaches both passes (and vanishes once the bound is reached)."""
    rng = np.random.default_rng(0)
    z1, z2 = (tf.constant(rng.normal(size=(2, 3, 4, 64)), tf.float32) for _ in range(2))
    noise = np.abs(z1.numpy() - z2.numpy()).reshape(2, -1).mean(1)
    image = tf.constant(rng.uniform(size=(2, 16, 16, 3)), tf.float32)
    np.testing.assert_array_equal(diversity_loss(image, image, z1, z2), [0.0, 0.0])
    step = tf.constant([[[[0.01]]], [[[0.05]]]])  # mean |difference| 0.01 and 0.05
    loss = diversity_loss(image, image + step, z1, z2, bound=0.02).numpy()
    np.testing.assert_allclose(loss[0], -0.01 / noise[0], rtol=1e-4)
    assert loss[1] == pytest.approx(-0.02) and -0.02 <= loss.min() <= loss.max() <= 0.0
    first, second = tf.Variable(image), tf.Variable(image + step)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(diversity_loss(first, second, z1, z2, bound=0.02))
    g1, g2 = tape.gradient(loss, [first, second])
    assert np.all(g1.numpy()[0] > 0) and np.all(g2.numpy()[0] < 0)  # pushed apart
    assert not np.any(g1.numpy()[1]) and not np.any(g2.numpy()[1])  # bound reached: no push
    with pytest.raises(ValueError, match="bound"):
        diversity_loss(image, image, z1, z2, bound=0.0)
    with pytest.raises(ValueError, match="matching shapes"):
        diversity_loss(image, image[:, :8], z1, z2)
