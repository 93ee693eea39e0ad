"""The noisy deep-factorized density."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfjpeg.rate import DeepFactorizedDensity


def _quantized_laplace_entropy(scale: float) -> float:
    k = np.arange(-4000, 4001, dtype=np.float64)

    def cdf(x):
        return np.where(
            x < 0,
            0.5 * np.exp(np.minimum(x, 0) / scale),
            1 - 0.5 * np.exp(-np.maximum(x, 0) / scale),
        )

    p = cdf(k + 0.5) - cdf(k - 0.5)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def test_noisy_training_on_laplacian_samples_gives_the_analytic_entropy():
    scales = np.array([0.5, 2.0, 8.0], np.float32)
    density = DeepFactorizedDensity(channels=3, init_scale=10.0)
    opt = keras.optimizers.Adam(1e-2)
    rng = np.random.default_rng(0)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(density(x, training=True))
        grads = tape.gradient(loss, density.trainable_weights)
        opt.apply_gradients(zip(grads, density.trainable_weights, strict=True))
        return loss

    for _ in range(500):
        step(tf.constant(rng.laplace(0.0, scales, (2048, 3)).astype(np.float32)))
    samples = rng.laplace(0.0, scales, (50_000, 3)).astype(np.float32)
    estimate = density(tf.constant(samples)).numpy().mean(axis=0)  # quantized at inference
    for got, scale in zip(estimate, scales, strict=True):
        assert got == pytest.approx(_quantized_laplace_entropy(float(scale)), abs=0.05)


def test_bin_probabilities_sum_to_one_and_widths_scale_the_grid():
    density = DeepFactorizedDensity(channels=2, init_scale=5.0)
    grid = np.arange(-400, 401, dtype=np.float32)
    values = np.stack([grid, grid * 0.5], axis=1)
    widths = np.array([[1.0, 0.5]], np.float32)
    p = density.likelihood(tf.constant(values), tf.constant(widths)).numpy()
    np.testing.assert_allclose(p.sum(axis=0), 1.0, atol=1e-3)
    # bits of quantized evaluation equal −log2 of the bin probability
    bits = density(tf.constant(values[:3]), tf.constant(widths)).numpy()
    np.testing.assert_allclose(bits, -np.log2(p[:3]), rtol=1e-5)


def test_config_round_trip_and_validation():
    density = DeepFactorizedDensity(channels=4, filters=(2, 2), init_scale=3.0)
    again = DeepFactorizedDensity.from_config(density.get_config())
    assert again.get_config() == density.get_config()
    again.set_weights(density.get_weights())
    x = tf.constant(np.linspace(-5, 5, 12, dtype=np.float32).reshape(3, 4))
    np.testing.assert_allclose(again(x).numpy(), density(x).numpy())
    with pytest.raises(ValueError, match="channels"):
        DeepFactorizedDensity(channels=0)
    with pytest.raises(ValueError, match="init_scale"):
        DeepFactorizedDensity(init_scale=-1.0)
