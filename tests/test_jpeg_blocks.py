"""tfjpeg.jpeg.blocks: edge padding and the 8x8 block grid."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfjpeg.jpeg.blocks import blocks_to_plane, pad_edges, plane_to_blocks


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
