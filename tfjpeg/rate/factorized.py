"""A noisy deep-factorized density: one learned univariate density per channel.

The cumulative distribution of each channel is a small monotone network (Ballé et al. 2018,
"Variational image compression with a scale hyperprior", Appendix 6.1; Ballé et al. 2017,
"End-to-end optimized image compression"): ``c(x) = sigmoid(f_K ∘ … ∘ f_1(x))`` with
``f_k(x) = g_k(softplus(H_k) x + b_k)`` and ``g_k(x) = x + tanh(a_k) ⊙ tanh(x)``. The probability
of a quantization bin of width w around y is ``c(y + w/2) − c(y − w/2)``. In training, adding
uniform noise U(−½, ½)·w to the values makes this the density of the noisy variable (the
continuous relaxation of quantization); at inference the values are quantized and it is the
probability mass of the bin. Bits are ``−log2`` of it. tensorflow-compression cannot be used
with Keras 3, so this is a plain Keras layer.

Used by the pre-editing paper (Talebi et al. 2020, §3.1, "Entropy prediction") as the rate
model of the JPEG coefficients: one density per DCT frequency and colour component (64 × 3).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

__all__ = ["DeepFactorizedDensity"]

_LIKELIHOOD_BOUND = 1e-9


@keras.saving.register_keras_serializable(package="tfjpeg")
class DeepFactorizedDensity(keras.layers.Layer):
    """Learned univariate densities for the last axis of a tensor (one per channel).

    ``layer(values, widths=1.0, training=False)`` returns the bits ``−log2 P`` of each value
    (same shape as ``values``): with ``training=True`` the values get additive uniform noise of
    the bin width (noisy relaxation), otherwise they are rounded to the bin grid (multiples of
    the width) first. ``layer.bits(values, widths)`` evaluates the given values as they are
    (e.g. soft-rounded coefficients; differentiable).

    Args:
        channels: number of independent densities (the size of the last axis).
        filters: hidden widths of the cumulative network (Ballé et al. use (3, 3, 3)).
        init_scale: initial spread of the densities, in units of ``values``.

    Example:
        >>> density = DeepFactorizedDensity(channels=2)
        >>> bits = density(tf.zeros([5, 2]))  # (5, 2) bits per value

    Reference: Ballé, Minnen, Singh, Hwang, Johnston 2018, Appendix 6.1; used as B_q in Talebi et
    al. 2020, §3.1.
    """

    def __init__(
        self,
        channels: int = 192,
        filters: tuple[int, ...] | list[int] = (3, 3, 3),
        init_scale: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive integer. Received: channels={channels}")
        filters = tuple(int(f) for f in filters)
        if not filters or min(filters) < 1:
            raise ValueError(f"filters must be positive integers. Received: filters={filters}")
        if not init_scale > 0:
            raise ValueError(f"init_scale must be positive. Received: init_scale={init_scale}")
        self.channels = channels
        self.filters = filters
        self.init_scale = float(init_scale)
        dims = (1, *filters, 1)
        scale = self.init_scale ** (1.0 / (len(filters) + 1))
        self._matrices, self._biases, self._factors = [], [], []
        for i in range(len(filters) + 1):
            init = float(np.log(np.expm1(1.0 / scale / dims[i + 1])))
            self._matrices.append(
                self.add_weight(
                    name=f"matrix_{i}",
                    shape=(channels, dims[i + 1], dims[i]),
                    initializer=keras.initializers.Constant(init),
                )
            )
            self._biases.append(
                self.add_weight(
                    name=f"bias_{i}",
                    shape=(channels, dims[i + 1], 1),
                    initializer=keras.initializers.RandomUniform(-0.5, 0.5, seed=i),
                )
            )
            if i < len(filters):
                self._factors.append(
                    self.add_weight(
                        name=f"factor_{i}", shape=(channels, dims[i + 1], 1), initializer="zeros"
                    )
                )

    def build(self, *args: Any, **kwargs: Any) -> None:
        """All weights are created in ``__init__``; nothing to build from input shapes."""
        self.built = True

    def logits_cdf(self, x: tf.Tensor) -> tf.Tensor:
        """Logits of the cumulative distribution at ``x`` (..., channels)."""
        x = tf.convert_to_tensor(x, tf.float32)
        shape = tf.shape(x)
        h = tf.reshape(tf.transpose(tf.reshape(x, [-1, self.channels])), [self.channels, 1, -1])
        for i, (matrix, bias) in enumerate(zip(self._matrices, self._biases, strict=True)):
            h = tf.linalg.matmul(tf.nn.softplus(matrix), h) + bias
            if i < len(self._factors):
                h = h + tf.tanh(self._factors[i]) * tf.tanh(h)
        return tf.reshape(tf.transpose(tf.reshape(h, [self.channels, -1])), shape)

    def likelihood(self, values: tf.Tensor, widths: tf.Tensor | float = 1.0) -> tf.Tensor:
        """Probability of the bin of width ``widths`` centred at ``values`` (lower bounded)."""
        values = tf.convert_to_tensor(values, tf.float32)
        half = 0.5 * tf.cast(widths, tf.float32)
        lower = self.logits_cdf(values - half)
        upper = self.logits_cdf(values + half)
        # evaluate in the tail where the sigmoids are far from 1 (numerically stable)
        sign = -tf.sign(tf.stop_gradient(lower + upper))
        p = tf.abs(tf.sigmoid(sign * upper) - tf.sigmoid(sign * lower))
        return tf.maximum(p, _LIKELIHOOD_BOUND)

    def bits(self, values: tf.Tensor, widths: tf.Tensor | float = 1.0) -> tf.Tensor:
        """``−log2`` of :meth:`likelihood` (same shape as ``values``)."""
        return -tf.math.log(self.likelihood(values, widths)) / np.log(2.0)

    def call(
        self, values: tf.Tensor, widths: tf.Tensor | float = 1.0, training: bool | None = None
    ) -> tf.Tensor:
        values = tf.convert_to_tensor(values, tf.float32)
        w = tf.cast(widths, tf.float32) * tf.ones_like(values)
        if training:
            values = values + tf.random.uniform(tf.shape(values), -0.5, 0.5) * w
        else:
            values = tf.round(values / w) * w
        return self.bits(values, w)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            channels=self.channels, filters=list(self.filters), init_scale=self.init_scale
        )
        return config
