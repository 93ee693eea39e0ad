"""Rounding of DCT coefficients: exact, or one of the differentiable surrogates.

- ``"hard"``: round half away from zero (libjpeg); zero gradient.
- ``"poly3"``: ``round(x) + (x − round(x))³`` forward and backward (Shin & Song 2017, used by the
  pre-editing paper, Talebi et al. 2020, §3.1 "Differentiable JPEG").
- ``"ste"``: exact forward, identity gradient (straight-through estimator).
- ``"noise"``: ``x + u``, ``u ~ U(−½, ½)``, the continuous relaxation for rate training
  (Ballé et al. 2017).
"""

from __future__ import annotations

import tensorflow as tf

from tfjpeg.errors import InvalidArgumentError

__all__ = ["ROUNDING_MODES", "apply_rounding", "round_half_away", "straight_through"]

ROUNDING_MODES = ("hard", "poly3", "ste", "noise")


def straight_through(forward: tf.Tensor, surrogate: tf.Tensor) -> tf.Tensor:
    """``forward`` exactly in value, with the gradient of ``surrogate``.

    Written as ``forward + (surrogate − stop_gradient(surrogate))`` so the value is bit-exact
    (``surrogate + stop_gradient(forward − surrogate)`` is off by float rounding).
    """
    return forward + (surrogate - tf.stop_gradient(surrogate))


def round_half_away(x: tf.Tensor) -> tf.Tensor:
    """Round to nearest, ties away from zero (as libjpeg's quantizer)."""
    return tf.sign(x) * tf.floor(tf.abs(x) + 0.5)


def apply_rounding(x: tf.Tensor, mode: str, seed: int | None = None) -> tf.Tensor:
    """Round ``x`` with one of :data:`ROUNDING_MODES`."""
    if mode == "hard":
        return tf.stop_gradient(round_half_away(x))
    if mode == "poly3":
        r = tf.stop_gradient(round_half_away(x))
        return r + (x - r) ** 3
    if mode == "ste":
        return straight_through(tf.stop_gradient(round_half_away(x)), x)
    if mode == "noise":
        return x + tf.random.uniform(tf.shape(x), -0.5, 0.5, dtype=x.dtype, seed=seed)
    raise InvalidArgumentError(
        f"rounding must be one of {ROUNDING_MODES}. Received: rounding={mode!r}"
    )
