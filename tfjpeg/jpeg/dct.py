"""Orthonormal block DCT-II / IDCT as matrix products, for 8×8 and 16×16 blocks.

JPEG's forward DCT (ITU-T T.81 A.3.3) is exactly the orthonormal 2-D DCT-II on 8×8 blocks, so
quantized coefficients from a real file divide out to these. The 16×16 transform serves the
chroma network of the explorable decoder (Bahat & Michaeli 2021, §4.2).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["block_dct", "block_idct", "dct_matrix"]


def dct_matrix(n: int = 8) -> np.ndarray:
    """Orthonormal DCT-II matrix ``D`` (n × n): ``coefficients = D @ block @ D.T``."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.cos((2 * i + 1) * k * np.pi / (2 * n)) * np.sqrt(2.0 / n)
    d[0] /= np.sqrt(2.0)
    return d


def _kron_matrix(n: int, dtype: tf.DType) -> tf.Tensor:
    d = dct_matrix(n)
    return tf.constant(np.kron(d, d).T, dtype=dtype)  # vec(D X D^T) = vec(X) @ kron(D, D)^T


def block_dct(blocks: tf.Tensor) -> tf.Tensor:
    """2-D DCT of every trailing (n, n) block; ``blocks`` is (..., n, n) float."""
    blocks = tf.convert_to_tensor(blocks)
    n = blocks.shape[-1]
    shape = tf.shape(blocks)
    flat = tf.reshape(blocks, [-1, n * n])
    out = tf.matmul(flat, _kron_matrix(n, blocks.dtype))
    return tf.reshape(out, shape)


def block_idct(coefficients: tf.Tensor) -> tf.Tensor:
    """Inverse of :func:`block_dct` on (..., n, n) float coefficient blocks."""
    coefficients = tf.convert_to_tensor(coefficients)
    n = coefficients.shape[-1]
    shape = tf.shape(coefficients)
    flat = tf.reshape(coefficients, [-1, n * n])
    out = tf.matmul(flat, _kron_matrix(n, coefficients.dtype), transpose_b=True)
    return tf.reshape(out, shape)
