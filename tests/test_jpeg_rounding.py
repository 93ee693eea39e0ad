"""tfjpeg.jpeg.rounding: libjpeg's rounding and its differentiable surrogates."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfjpeg.errors import InvalidArgumentError
from tfjpeg.jpeg.rounding import ROUNDING_MODES, apply_rounding, straight_through


def test_rounding_modes_constant_lists_every_mode():
    assert set(ROUNDING_MODES) == {"hard", "poly3", "ste", "noise"}


def test_straight_through_value_is_bit_exact_and_gradient_is_the_surrogates():
    surrogate = tf.random.stateless_uniform([10000], seed=[9, 9], minval=-300, maxval=300)
    forward = tf.round(surrogate * 1.37)
    with tf.GradientTape() as tape:
        tape.watch(surrogate)
        out = straight_through(forward, 3.0 * surrogate)
    np.testing.assert_array_equal(out.numpy(), forward.numpy())
    np.testing.assert_array_equal(tape.gradient(out, surrogate).numpy(), np.full(10000, 3.0))


def test_poly3_rounding_is_cubic_around_integers_in_value_and_gradient():
    x = tf.constant([0.2, -0.2, 1.4, 2.5, -3.6])
    with tf.GradientTape() as tape:
        tape.watch(x)
        got = apply_rounding(x, "poly3")
    r = np.array([0.0, -0.0, 1.0, 3.0, -4.0])  # ties away from zero, as libjpeg
    np.testing.assert_allclose(got.numpy(), r + (x.numpy() - r) ** 3, atol=1e-6)
    grad = tape.gradient(got, x).numpy()
    np.testing.assert_allclose(grad, 3 * (x.numpy() - r) ** 2, atol=1e-5)


def test_an_unknown_rounding_mode_raises_an_argument_error():
    x = tf.constant([0.4])
    with pytest.raises(InvalidArgumentError, match="Received: rounding='floor'"):
        apply_rounding(x, "floor")
