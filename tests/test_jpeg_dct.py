"""tfjpeg.jpeg.dct: the orthonormal block DCT and its inverse."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfjpeg.jpeg.dct import block_dct, block_idct, dct_matrix


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
