"""tfjpeg.jpeg.islow: libjpeg's integer DCT, IDCT and range limit."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfjpeg.jpeg.dct import block_dct, block_idct
from tfjpeg.jpeg.islow import islow_fdct, islow_idct, range_limit


def test_islow_fdct_is_eight_times_the_dct_within_rounding():
    rng = np.random.default_rng(1)
    blocks = rng.integers(-128, 128, (50, 8, 8))
    exact = islow_fdct(tf.constant(blocks, tf.int32)).numpy()
    reference = 8 * block_dct(tf.constant(blocks, tf.float64)).numpy()
    assert np.abs(exact - reference).max() <= 2.0
    assert islow_fdct(tf.fill([1, 8, 8], 5)).numpy()[0, 0, 0] == 8 * 8 * 5


def test_islow_idct_is_close_to_the_float_idct():
    rng = np.random.default_rng(2)
    coef = rng.integers(-60, 60, (40, 8, 8)).astype(np.int32)
    exact = islow_idct(tf.constant(coef)).numpy()
    reference = np.clip(block_idct(tf.constant(coef, tf.float64)).numpy() + 128, 0, 255)
    assert np.abs(exact - reference).max() <= 1.0


def test_range_limit_clamps_then_wraps_like_libjpegs_mask():
    out = range_limit(tf.constant([-600, -129, 0, 200, 600], tf.int64)).numpy()
    np.testing.assert_array_equal(out, [255, 0, 128, 255, 0])
