"""tfjpeg/losses/posterior.py: the consistency, first- and second-moment penalties (Man et al.
2023, eq. 4, 5, 7) on known answers and on real JPEG coefficients."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from conftest import natural_image

from tfjpeg.jpeg import encode
from tfjpeg.jpeg.tables import quality_tables
from tfjpeg.losses import (
    consistency_penalty,
    cosine_schedule,
    first_moment_penalty,
    second_moment_penalty,
)
from tfjpeg.losses.posterior import split_samples


def test_moment_penalties_known_answers():
    target = tf.fill([1, 2, 2, 1], 0.5)
    samples = tf.stack([tf.fill([1, 2, 2, 1], 0.4), tf.fill([1, 2, 2, 1], 0.8)])  # mean 0.6
    np.testing.assert_allclose(first_moment_penalty(samples, target), [0.01], rtol=1e-5)
    mmse = tf.fill([1, 2, 2, 1], 0.3)  # (x − X̄)² = 0.04; Var = 0.04 → SM = 0
    np.testing.assert_allclose(second_moment_penalty(samples, target, mmse), [0.0], atol=1e-7)
    np.testing.assert_allclose(second_moment_penalty(samples, target, target), [0.04], rtol=1e-5)
    tiled = tf.reshape(tf.range(6.0), [6, 1])  # K = 3 draws of B = 2 files, k·B + b
    np.testing.assert_array_equal(split_samples(tiled, 3)[:, 1, 0], [1.0, 3.0, 5.0])
    np.testing.assert_allclose(
        [cosine_schedule(s, 10, 1.0, 1e3) for s in (0, 5, 10)], [1.0, 500.5, 1e3], rtol=1e-5
    )


def test_consistency_penalty_is_zero_on_the_files_image_and_has_a_gradient():
    image = tf.constant(natural_image(32, 32, seed=2)[None].astype(np.float32))
    tables = quality_tables(tf.constant([20.0]))
    coefs = encode(image, tables, "420")["coefficients"]
    assert float(consistency_penalty(image, coefs, tables, "420")[0]) == 0.0
    moved = image + 6.0  # the DC of every block leaves its bin
    with tf.GradientTape() as tape:
        tape.watch(moved)
        penalty = consistency_penalty(moved, coefs, tables, "420")
    assert float(penalty[0]) > 0.0
    assert float(tf.reduce_sum(tf.abs(tape.gradient(penalty, moved)))) > 0.0  # straight-through
