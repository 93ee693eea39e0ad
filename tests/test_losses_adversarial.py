"""tfjpeg.losses.adversarial: known answers on tiny inputs for the critic/generator losses, the
WGAN-GP and R1 penalties, the range and map losses and the inner z optimization."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfjpeg.losses import adversarial


def _linear_critic(slope: float):
    """D(x) = slope · Σ x per example: ∇_x D = slope everywhere."""
    return lambda x: slope * tf.reduce_sum(x, axis=[1, 2, 3])


def test_gradient_penalty_of_a_linear_critic_is_its_known_slope_gap():
    real = tf.random.uniform([3, 2, 2, 1], 0, 255, seed=1)
    fake = tf.random.uniform([3, 2, 2, 1], 0, 255, seed=2)
    # ‖∇D‖ = slope · √4 = 2·slope, whatever the mixing point
    gp = adversarial.gradient_penalty(_linear_critic(0.75), real, fake)
    np.testing.assert_allclose(gp.numpy(), [(1.5 - 1.0) ** 2] * 3, rtol=1e-5)
    # a critic with unit gradient norm is not penalized
    gp = adversarial.gradient_penalty(_linear_critic(0.5), real, fake, tf.fill([3, 1, 1, 1], 0.3))
    np.testing.assert_allclose(gp.numpy(), [0.0] * 3, atol=1e-6)


def test_gradient_penalty_is_evaluated_at_the_mixed_point_and_trains_the_critic():
    w = tf.Variable(2.0)
    # D(x) = w · Σ x²: ∇D = 2 w x, so at x̃ = ε·real + (1 − ε)·fake the norm is 2 w ‖x̃‖
    real, fake = tf.fill([1, 1, 1, 1], 3.0), tf.fill([1, 1, 1, 1], 1.0)
    eps = tf.fill([1, 1, 1, 1], 0.25)  # x̃ = 1.5, ‖∇D‖ = 6
    with tf.GradientTape() as tape:
        gp = adversarial.gradient_penalty(
            lambda x: w * tf.reduce_sum(tf.square(x), axis=[1, 2, 3]), real, fake, eps
        )
    np.testing.assert_allclose(gp.numpy(), [25.0], rtol=1e-6)
    # d/dw (2·1.5·w − 1)² = 2 (3w − 1) · 3 = 30 at w = 2 (a second-order gradient)
    np.testing.assert_allclose(tape.gradient(gp, w).numpy(), 30.0, rtol=1e-5)


def test_wgan_losses_and_their_gradient_direction():
    d_real, d_fake = tf.constant([2.0, -1.0]), tf.constant([0.5, 1.0])
    np.testing.assert_array_equal(adversarial.wgan_critic_loss(d_real, d_fake).numpy(), [-1.5, 2])
    np.testing.assert_array_equal(adversarial.wgan_generator_loss(d_fake).numpy(), [-0.5, -1.0])
    # the critic loss falls when real scores rise and fake scores fall
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([d_real, d_fake])
        loss = tf.reduce_sum(adversarial.wgan_critic_loss(d_real, d_fake))
        gen = tf.reduce_sum(adversarial.wgan_generator_loss(d_fake))
    assert np.all(tape.gradient(loss, d_real).numpy() < 0)
    assert np.all(tape.gradient(loss, d_fake).numpy() > 0)
    assert np.all(tape.gradient(gen, d_fake).numpy() < 0)  # the generator raises D(fake)


def test_non_saturating_losses_known_answers():
    log2 = np.log(2.0)
    np.testing.assert_allclose(
        adversarial.ns_critic_loss(tf.zeros([2]), tf.zeros([2])).numpy(), [2 * log2] * 2
    )
    np.testing.assert_allclose(adversarial.ns_generator_loss(tf.zeros([1])).numpy(), [log2])
    # −log σ(3) − log(1 − σ(−2)) = softplus(−3) + softplus(−2)
    expected = np.log1p(np.exp(-3.0)) + np.log1p(np.exp(-2.0))
    got = adversarial.ns_critic_loss(tf.constant([3.0]), tf.constant([-2.0])).numpy()
    np.testing.assert_allclose(got, [expected], rtol=1e-6)
    # non-saturating: the generator's gradient stays large where the critic rejects the fake
    d_fake = tf.constant([-10.0])
    with tf.GradientTape() as tape:
        tape.watch(d_fake)
        loss = adversarial.ns_generator_loss(d_fake)
    np.testing.assert_allclose(tape.gradient(loss, d_fake).numpy(), [-1.0], atol=1e-4)


def test_r1_penalty_is_the_squared_gradient_norm_on_real_data():
    real = tf.random.uniform([2, 2, 2, 1], seed=3)
    np.testing.assert_allclose(
        adversarial.r1_penalty(_linear_critic(3.0), real).numpy(), [36.0, 36.0], rtol=1e-6
    )
    w = tf.Variable(3.0)
    # D(x) = w · Σ x²: ‖∇D‖² = 4 w² Σ x²; with Σ x² = 2 that is 8 w² = 72, d/dw = 16 w = 48
    x = tf.constant([[[[1.0]], [[1.0]]]])  # (1, 2, 1, 1)
    with tf.GradientTape() as tape:
        r1 = adversarial.r1_penalty(lambda v: w * tf.reduce_sum(tf.square(v), [1, 2, 3]), x)
    np.testing.assert_allclose(r1.numpy(), [72.0], rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(r1, w).numpy(), 48.0, rtol=1e-6)


def test_range_loss_is_zero_inside_and_the_mean_excess_outside():
    inside = tf.constant([[[16.0, 100.0], [200.0, 235.0]]])
    assert adversarial.range_loss(inside).numpy().tolist() == [0.0]
    outside = tf.constant([[[10.0, 100.0], [245.0, 235.0]]])  # excess 6 and 10 over 4 samples
    np.testing.assert_allclose(adversarial.range_loss(outside).numpy(), [4.0])
    # the pixel range [0, 255]
    pixels = tf.constant([[[0.0, 255.0], [128.0, 3.0]], [[-5.0, 260.0], [0.0, 0.0]]])
    np.testing.assert_allclose(
        adversarial.range_loss(pixels, 0.0, 255.0).numpy(), [0.0, 2.5], atol=0
    )
    # its gradient pushes values back into the range and leaves values inside alone
    values = tf.constant([[[-5.0, 100.0, 300.0]]])
    with tf.GradientTape() as tape:
        tape.watch(values)
        loss = adversarial.range_loss(values, 0.0, 255.0)
    grad = tape.gradient(loss, values).numpy().ravel()
    assert grad[0] < 0 and grad[1] == 0 and grad[2] > 0


def test_map_loss_and_the_inner_z_optimization_find_the_best_latent():
    target = tf.constant([[[[0.3]]], [[[-0.6]]]])

    def decode(z):
        return 2.0 * z

    np.testing.assert_allclose(
        adversarial.map_loss(decode(tf.zeros([2, 1, 1, 1])), target).numpy(), [0.3, 0.6]
    )

    def loss_fn(z):
        return tf.reduce_sum(adversarial.map_loss(decode(z), target))

    z_star = adversarial.optimal_z(loss_fn, tf.zeros([2, 1, 1, 1]), steps=200, learning_rate=0.01)
    np.testing.assert_allclose(z_star.numpy().ravel(), [0.15, -0.3], atol=0.02)
    # bounded: a target out of reach ends at the bound
    far = adversarial.optimal_z(
        lambda z: tf.reduce_sum(tf.abs(z - 5.0)), tf.zeros([1]), steps=30, learning_rate=0.5
    )
    assert far.numpy().tolist() == [1.0]
    # the first Adam step moves by the learning rate against the gradient's sign
    z, _, _ = adversarial.adam_z_step(
        loss_fn, tf.zeros([2, 1, 1, 1]), tf.zeros([2, 1, 1, 1]), tf.zeros([2, 1, 1, 1]),
        tf.constant(1.0), 0.1,
    )  # fmt: skip
    np.testing.assert_allclose(z.numpy().ravel(), [0.1, -0.1], rtol=1e-5)


@pytest.mark.parametrize("fn", [adversarial.gradient_penalty, adversarial.r1_penalty])
def test_penalties_work_inside_tf_function(fn):
    critic = _linear_critic(0.5)
    x = tf.ones([2, 2, 2, 1])
    args = (x, x) if fn is adversarial.gradient_penalty else (x,)
    graph = tf.function(lambda *a: fn(critic, *a))(*args)
    np.testing.assert_allclose(graph.numpy(), fn(critic, *args).numpy(), rtol=1e-6)
