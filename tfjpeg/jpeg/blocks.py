"""Plane geometry: edge-replication padding, splitting planes into blocks and back.

libjpeg pads every component plane to whole blocks by replicating its last column and row
(``jcprepct.c`` ``expand_right_edge`` / ``expand_bottom_edge``); decoders crop back.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["blocks_to_plane", "ceil_div", "pad_edges", "plane_to_blocks"]


def ceil_div(a: tf.Tensor | int, b: int) -> tf.Tensor | int:
    """Integer ceiling division that works on Python ints and int tensors."""
    return -(-a // b)


def pad_edges(x: tf.Tensor, height: tf.Tensor | int, width: tf.Tensor | int) -> tf.Tensor:
    """Pad (N, H, W, ...) to (N, height, width, ...) by repeating the last row and column.

    ``height``/``width`` may be dynamic and must be ≥ the current size.
    """
    shape = tf.shape(x)
    pad_h = height - shape[1]
    pad_w = width - shape[2]
    x = tf.concat([x, tf.repeat(x[:, -1:], pad_h, axis=1)], axis=1)
    return tf.concat([x, tf.repeat(x[:, :, -1:], pad_w, axis=2)], axis=2)


def plane_to_blocks(plane: tf.Tensor, block: int = 8) -> tf.Tensor:
    """(N, hb·n, wb·n) → (N, hb, wb, n, n) blocks in natural (row-major) order."""
    shape = tf.shape(plane)
    hb, wb = shape[1] // block, shape[2] // block
    x = tf.reshape(plane, [shape[0], hb, block, wb, block])
    return tf.transpose(x, [0, 1, 3, 2, 4])


def blocks_to_plane(blocks: tf.Tensor) -> tf.Tensor:
    """(N, hb, wb, n, n) → (N, hb·n, wb·n); inverse of :func:`plane_to_blocks`."""
    shape = tf.shape(blocks)
    n = blocks.shape[-1]
    x = tf.transpose(blocks, [0, 1, 3, 2, 4])
    return tf.reshape(x, [shape[0], shape[1] * n, shape[2] * n])
