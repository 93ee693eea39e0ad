"""tfjpeg.jpeg.color: JFIF colour conversion, exact (libjpeg) and float."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfjpeg.jpeg import color


def test_exact_colour_conversion_known_values():
    rgb = tf.constant([[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]])
    ycc = color.rgb_to_ycbcr_exact(rgb).numpy()
    np.testing.assert_array_equal(
        ycc, [[255, 128, 128], [0, 128, 128], [76, 85, 255], [150, 44, 21], [29, 255, 107]]
    )


def test_float_colour_conversion_round_trips():
    rgb = tf.random.stateless_uniform([100, 3], seed=[3, 4], maxval=255.0, dtype=tf.float64)
    back = color.ycbcr_to_rgb(color.rgb_to_ycbcr(rgb))
    np.testing.assert_allclose(back.numpy(), rgb.numpy(), atol=1e-6)


def test_exact_and_float_colour_agree_within_one_level():
    rgb = tf.random.stateless_uniform([1000, 3], seed=[5, 6], maxval=256, dtype=tf.int32)
    exact = color.rgb_to_ycbcr_exact(rgb).numpy()
    approx = color.rgb_to_ycbcr(tf.cast(rgb, tf.float64)).numpy()
    assert np.abs(exact - approx).max() < 1.0
