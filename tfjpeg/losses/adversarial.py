"""Adversarial losses for decoders: critic and generator losses, penalties, range and map terms.

Plain functions of tensors and callables (no trainer state), so any training step can use them:

- WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", eq. 3):
  :func:`wgan_critic_loss`, :func:`wgan_generator_loss`, :func:`gradient_penalty`;
- the non-saturating GAN loss (Goodfellow et al. 2014) with the R1 penalty (Mescheder et al.
  2018, "Which Training Methods for GANs do actually Converge?"), as used by Man et al. 2023
  ("High-Perceptual Quality JPEG Decoding via Posterior Sampling"): :func:`ns_critic_loss`,
  :func:`ns_generator_loss`, :func:`r1_penalty`;
- the range and map losses of Bahat & Michaeli 2021 ("What's in the Image? Explorable Decoding
  of Compressed Images", §3.2 and appendix E): :func:`range_loss`, :func:`map_loss` and the
  inner optimization of the latent z, :func:`adam_z_step` / :func:`optimal_z`.

Every loss returns one value per example, shape (N,); average it with
``tf.nn.compute_average_loss`` (or ``tf.reduce_mean``). A "critic" argument is any callable
images (N, ...) → scores (N,).
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

__all__ = [
    "adam_z_step",
    "gradient_penalty",
    "map_loss",
    "ns_critic_loss",
    "ns_generator_loss",
    "optimal_z",
    "r1_penalty",
    "range_loss",
    "wgan_critic_loss",
    "wgan_generator_loss",
]

Critic = Callable[[tf.Tensor], tf.Tensor]


def _per_example_sum(x: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


# --------------------------------------------------------------------------------- WGAN-GP
def wgan_critic_loss(d_real: tf.Tensor, d_fake: tf.Tensor) -> tf.Tensor:
    """Per-example Wasserstein critic loss ``D(fake) − D(real)`` (Gulrajani et al. 2017, eq. 3,
    without the penalty; add ``gp_weight ·`` :func:`gradient_penalty`).

    Args:
        d_real, d_fake: critic scores (N,) of real and generated examples.

    Returns:
        (N,) losses; minimizing them widens ``D(real) − D(fake)``, the Wasserstein estimate.
    """
    return d_fake - d_real


def wgan_generator_loss(d_fake: tf.Tensor) -> tf.Tensor:
    """Per-example WGAN generator loss ``−D(fake)`` (L_Adv of Bahat & Michaeli 2021, §3.2)."""
    return -d_fake


def gradient_penalty(
    critic: Critic, real: tf.Tensor, fake: tf.Tensor, epsilon: tf.Tensor | None = None
) -> tf.Tensor:
    """WGAN-GP two-sided gradient penalty ``(‖∇_x D(x̃)‖₂ − 1)²`` per example (Gulrajani et al.
    2017, eq. 3), at ``x̃ = ε·real + (1 − ε)·fake``.

    Call it inside the critic's ``GradientTape``: the penalty is differentiable w.r.t. the
    critic's variables (a second-order gradient).

    Args:
        critic: images (N, ...) → scores (N,).
        real, fake: (N, ...) batches of the same shape (``fake`` usually ``stop_gradient``-ed).
        epsilon: (N, 1, ..., 1) mixing weights; None draws ``ε ~ U[0, 1)`` per example.

    Returns:
        (N,) penalties.

    Example:
        >>> critic = lambda x: 2.0 * tf.reduce_sum(x, axis=[1, 2, 3])  # ‖∇‖ = 2·√(H·W·C)
        >>> gradient_penalty(critic, tf.ones([1, 1, 1, 1]), tf.zeros([1, 1, 1, 1]))  # [1.0]
    """
    if epsilon is None:
        shape = tf.concat([tf.shape(real)[:1], tf.ones([tf.rank(real) - 1], tf.int32)], axis=0)
        epsilon = tf.random.uniform(shape)
    mixed = epsilon * real + (1.0 - epsilon) * fake
    with tf.GradientTape() as inner:
        inner.watch(mixed)
        d_mixed = critic(mixed)
    grad = inner.gradient(d_mixed, mixed)
    norm = tf.sqrt(_per_example_sum(tf.square(grad)) + 1e-12)
    return tf.square(norm - 1.0)


# ------------------------------------------------------------- non-saturating GAN with R1
def ns_critic_loss(d_real: tf.Tensor, d_fake: tf.Tensor) -> tf.Tensor:
    """Per-example non-saturating discriminator loss on logits:
    ``softplus(−D(real)) + softplus(D(fake))`` = −log σ(D(real)) − log(1 − σ(D(fake)))
    (Goodfellow et al. 2014; the loss of Man et al. 2023 with :func:`r1_penalty`).

    Example:
        >>> ns_critic_loss(tf.zeros([1]), tf.zeros([1]))  # 2·log 2
    """
    return tf.nn.softplus(-d_real) + tf.nn.softplus(d_fake)


def ns_generator_loss(d_fake: tf.Tensor) -> tf.Tensor:
    """Per-example non-saturating generator loss ``softplus(−D(fake))`` = −log σ(D(fake))."""
    return tf.nn.softplus(-d_fake)


def r1_penalty(critic: Critic, real: tf.Tensor) -> tf.Tensor:
    """R1 penalty ``‖∇_x D(x)‖₂²`` per example on real data (Mescheder et al. 2018, eq. 9; the
    loss adds ``γ/2 ·`` it). Call it inside the critic's ``GradientTape``.

    Args:
        critic: images (N, ...) → logits (N,).
        real: (N, ...) real examples.

    Returns:
        (N,) squared gradient norms.

    Example:
        >>> critic = lambda x: 3.0 * tf.reduce_sum(x, axis=[1, 2, 3])
        >>> r1_penalty(critic, tf.zeros([1, 2, 2, 1]))  # 9 · 4 = [36.0]
    """
    with tf.GradientTape() as inner:
        inner.watch(real)
        d_real = critic(real)
    grad = inner.gradient(d_real, real)
    return _per_example_sum(tf.square(grad))


# ------------------------------------------------------------- Bahat & Michaeli 2021 terms
def range_loss(luma: tf.Tensor, low: float = 16.0, high: float = 235.0) -> tf.Tensor:
    """Per-image L_Range = mean ``|Y − clip(Y, low, high)|`` over the samples (Bahat & Michaeli
    2021, §3.2): zero inside the valid range, the mean distance to it outside.

    Args:
        luma: (N, H, W) (or (N, H, W, C)) values; by default the decoder's luma, whose valid
            range is [16, 235].
        low, high: the valid range.

    Returns:
        (N,) losses.
    """
    excess = tf.abs(luma - tf.clip_by_value(luma, low, high))
    return tf.reduce_mean(tf.reshape(excess, [tf.shape(luma)[0], -1]), axis=1)


def map_loss(decoded: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Per-image L_Map = mean ``|ψ(X_Q, z*) − x|`` (Bahat & Michaeli 2021, §3.2): the L1
    distance of the decoding at the best latent ``z*`` (see :func:`optimal_z`) to the original."""
    return tf.reduce_mean(tf.abs(decoded - target), axis=tf.range(1, tf.rank(decoded)))


def adam_z_step(
    loss_fn: Callable[[tf.Tensor], tf.Tensor],
    z: tf.Tensor,
    m: tf.Tensor,
    v: tf.Tensor,
    t: tf.Tensor,
    learning_rate: float,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    bounds: tuple[float, float] = (-1.0, 1.0),
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """One Adam step on ``z`` for ``loss_fn(z)`` (a scalar), ``z`` clipped to ``bounds``.

    Args:
        loss_fn: z → scalar loss, e.g. ``Σ_i ‖ψ(X_Q, z)_i − x_i‖₁``.
        z, m, v: the latent and Adam's first and second moments (same shape).
        t: the 1-based step number (float) for the bias corrections.

    Returns:
        ``(z, m, v)`` after the step.
    """
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = loss_fn(z)
    g = tape.gradient(loss, z)
    m = beta_1 * m + (1.0 - beta_1) * g
    v = beta_2 * v + (1.0 - beta_2) * tf.square(g)
    step = (m / (1.0 - beta_1**t)) / (tf.sqrt(v / (1.0 - beta_2**t)) + epsilon)
    return tf.clip_by_value(z - learning_rate * step, bounds[0], bounds[1]), m, v


def optimal_z(
    loss_fn: Callable[[tf.Tensor], tf.Tensor] | None,
    z0: tf.Tensor,
    steps: int,
    learning_rate: float = 0.1,
    step_fn: Callable[..., tuple[tf.Tensor, tf.Tensor, tf.Tensor]] | None = None,
) -> tf.Tensor:
    """``z* ≈ argmin_z loss_fn(z)`` by ``steps`` Adam steps from ``z0`` (the inner optimization of
    L_Map, Bahat & Michaeli 2021 appendix E: 10 steps), returned with ``stop_gradient``.

    Args:
        loss_fn: z → scalar loss (for :func:`adam_z_step`); unused when ``step_fn`` is given.
        z0: the starting latent.
        steps: the number of Adam steps.
        learning_rate: their step size.
        step_fn: optional ``(z, m, v, t) → (z, m, v)`` replacing :func:`adam_z_step` (e.g. the
            same step as a ``tf.function`` traced once, so a graph does not grow with ``steps``).
    """
    if step_fn is None:

        def step_fn(z, m, v, t):
            return adam_z_step(loss_fn, z, m, v, t, learning_rate)

    z, m, v = z0, tf.zeros_like(z0), tf.zeros_like(z0)
    for t in range(1, int(steps) + 1):
        z, m, v = step_fn(z, m, v, tf.constant(float(t)))
    return tf.stop_gradient(z)
