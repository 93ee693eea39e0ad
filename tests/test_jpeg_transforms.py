"""Block DCT, libjpeg's integer DCT, colour conversion and chroma sampling."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfjpeg.jpeg import color, sampling
from tfjpeg.jpeg.blocks import blocks_to_plane, pad_edges, plane_to_blocks
from tfjpeg.jpeg.dct import block_dct, block_idct, dct_matrix
from tfjpeg.jpeg.islow import islow_fdct, islow_idct, range_limit


@pytest.mark.parametrize("n", [8, 16])
def test_dct_matrix_is_orthonormal(n):
    d = dct_matrix(n)
    np.testing.assert_allclose(d @ d.T, np.eye(n), atol=1e-12)


def test_dct_of_constant_block_has_only_dc_equal_to_8_times_value():
    coef = block_dct(tf.fill([1, 8, 8], 10.0)).numpy()[0]
    assert coef[0, 0] == pytest.approx(80.0, abs=1e-4)
    coef[0, 0] = 0
    np.testing.assert_allclose(coef, 0, atol=1e-4)


@pytest.mark.parametrize("n", [8, 16])
def test_idct_inverts_dct(n):
    x = tf.random.stateless_uniform([3, 2, n, n], seed=[1, 2], minval=-128, maxval=127)
    np.testing.assert_allclose(block_idct(block_dct(x)).numpy(), x.numpy(), atol=1e-3)


def test_dct_matches_the_t81_definition_on_a_random_block():
    rng = np.random.default_rng(0)
    block = rng.uniform(-128, 127, (8, 8))
    u = np.arange(8)
    c = np.where(u == 0, 1 / np.sqrt(2), 1.0)
    cos = np.cos((2 * u[:, None] + 1) * u[None, :] * np.pi / 16)  # [x, u]
    expected = 0.25 * c[:, None] * c[None, :] * (cos.T @ block @ cos)
    got = block_dct(tf.constant(block[None], tf.float64)).numpy()[0]
    np.testing.assert_allclose(got, expected, atol=1e-9)


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


def test_pad_edges_replicates_last_row_and_column():
    x = tf.reshape(tf.range(6), [1, 2, 3])
    out = pad_edges(x, 4, 5).numpy()[0]
    np.testing.assert_array_equal(out[:, 3:], np.repeat(out[:, 2:3], 2, axis=1))
    np.testing.assert_array_equal(out[2:], np.repeat(out[1:2], 2, axis=0))
    np.testing.assert_array_equal(out[:2, :3], x.numpy()[0])


def test_blocks_round_trip_and_use_row_major_block_order():
    plane = tf.reshape(tf.range(16 * 24), [1, 16, 24])
    blocks = plane_to_blocks(plane)
    assert blocks.shape == (1, 2, 3, 8, 8)
    assert int(blocks[0, 1, 2, 0, 0]) == 8 * 24 + 16
    np.testing.assert_array_equal(blocks_to_plane(blocks).numpy(), plane.numpy())


def test_range_limit_clamps_then_wraps_like_libjpegs_mask():
    out = range_limit(tf.constant([-600, -129, 0, 200, 600], tf.int64)).numpy()
    np.testing.assert_array_equal(out, [255, 0, 128, 255, 0])
