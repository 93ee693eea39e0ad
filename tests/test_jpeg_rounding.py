"""tfjpeg.jpeg.rounding: libjpeg's rounding and its differentiable surrogates."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfjpeg.errors import InvalidArgumentError
from tfjpeg.jpeg.rounding import ROUNDING_MODES, apply_rounding, straight_through

#: Known answers at x = 2.3 and -1.5: (forward value(s), d out / d x) per mode.
_KNOWN = {
    "hard": ([2.0, -2.0], [0.0, 0.0]),
    "poly3": ([2.0 + 0.3**3, -2.0 + 0.5**3], [3 * 0.3**2, 3 * 0.5**2]),
    "ste": ([2.0, -2.0], [1.0, 1.0]),
}


@pytest.mark.parametrize("mode", ROUNDING_MODES)
def test_every_listed_rounding_mode_has_its_documented_value_and_gradient(mode):
    x = tf.constant([2.3, -1.5])
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = apply_rounding(x, mode, seed=1)
    grad = tape.gradient(out, x)
    if mode == "noise":  # additive U(-1/2, 1/2): inside the bin around x, identity gradient
        assert np.all(np.abs(out.numpy() - x.numpy()) <= 0.5)
        np.testing.assert_allclose(grad.numpy(), [1.0, 1.0])
        return
    value, slope = _KNOWN[mode]
    np.testing.assert_allclose(out.numpy(), value, rtol=1e-5)
    np.testing.assert_allclose(np.zeros(2) if grad is None else grad.numpy(), slope, rtol=1e-4)


def test_a_mode_outside_the_list_is_refused_naming_the_argument():
    with pytest.raises(InvalidArgumentError, match="rounding"):
        apply_rounding(tf.constant([0.5]), "floor")


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
