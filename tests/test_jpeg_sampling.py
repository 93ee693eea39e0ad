"""tfjpeg.jpeg.sampling: libjpeg's chroma downsampling and libjpeg-turbo's upsampling."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfjpeg.jpeg import sampling


def test_downsample_exact_uses_libjpeg_alternating_bias():
    plane = tf.constant([[[0, 1, 0, 1, 0, 1], [1, 1, 1, 1, 1, 1]]], tf.int32)  # 2x2 sums are 3
    out = sampling.downsample_exact(plane, 2, 2).numpy()
    np.testing.assert_array_equal(out, [[[1, 1, 1]]])  # (3+1)>>2, (3+2)>>2, (3+1)>>2
    plane = tf.constant([[[1, 2, 1, 2, 1, 2]]], tf.int32)  # 2x1 sums are 3
    np.testing.assert_array_equal(sampling.downsample_exact(plane, 2, 1).numpy(), [[[1, 2, 1]]])


@pytest.mark.parametrize("factors", [(2, 1), (2, 2)])
def test_fancy_upsampling_keeps_constants_and_matches_float_within_one(factors):
    assert np.all(sampling.upsample_exact(tf.fill([1, 3, 5], 77), *factors).numpy() == 77)
    plane = tf.random.stateless_uniform([1, 6, 7], seed=[7, 8], maxval=256, dtype=tf.int32)
    exact = sampling.upsample_exact(plane, *factors).numpy()
    approx = sampling.upsample(tf.cast(plane, tf.float32), *factors).numpy()
    assert exact.shape == (1, 6 * factors[1], 14)
    assert np.abs(exact - approx).max() <= 1.0


def test_nearest_upsampling_replicates_samples():
    plane = tf.constant([[[1, 2], [3, 4]]])
    out = sampling.upsample_exact(plane, 2, 2, method="nearest").numpy()[0]
    np.testing.assert_array_equal(out, [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
