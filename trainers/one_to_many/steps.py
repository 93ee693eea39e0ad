"""Training step of the one-to-many network (Guo & Chao 2017, §3.4): discriminator, then proposal.

Each step is the paper's two-step iteration: (1) one update of the discriminator D on real
images against proposals made with fresh noise (binary cross-entropy, eq. 3 — the
non-saturating GAN of :mod:`tfjpeg.losses.adversarial`, with an R1 penalty for stability), then
(2) one update of the proposal network on eq. 7, λ_p·L_p + λ_n·L_n + λ_j·L_j (perceptual,
naturalness, JPEG). The paper trains the first epoch without D; here λ_n is 0 for the first
``warmup_steps`` steps (D is updated all along: on the block grid it costs little, and it is
ready when the naturalness loss starts). The crops are aligned with the coding blocks (they are
compressed in-graph, :func:`trainers.decoder.steps.jpeg_inputs`), so λ_j is always on (the
paper sets it to 0 only for misaligned patches).

The discriminator is :class:`~tfjpeg.decoders.ConsistencyCritic` (conditioned on the file's
coefficients, spectral normalization) rather than the paper's unconditional DCGAN-style
classifier, and real images enter it through the decoder's own chroma path
(:func:`trainers.decoder.steps.real_planes`), as for consistent-gan.

Reference: J. Guo and H. Chao, CVPR 2017, §3.3–3.4.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from tfjpeg.decoders import ConsistencyCritic, OneToManyDecoder
from tfjpeg.losses import adversarial
from tfjpeg.losses.one_to_many import jpeg_loss
from trainers.common.loop import replica_seed
from trainers.decoder.steps import jpeg_inputs, real_planes

__all__ = ["OneToManySteps"]


class OneToManySteps:
    """Per-replica training step for :class:`OneToManyDecoder` and its discriminator.

    Args:
        decoder, optimizer: the proposal network and its optimizer.
        critic, critic_optimizer: the discriminator D and its optimizer.
        perceptual: L_p, (x, y) RGB in [0, 255] → (N,)
            (:func:`tfjpeg.losses.one_to_many.perceptual_distance`).
        global_batch_size: for ``tf.nn.compute_average_loss``.
        subsampling: chroma layout of the training JPEGs.
        perceptual_weight, naturalness_weight, jpeg_weight: λ_p, λ_n, λ_j of eq. 7.
        r1_weight: γ of the R1 penalty γ/2·‖∇D(real)‖² (0: none).
        warmup_steps: steps without the naturalness loss (the paper: the first epoch).
        noise_std: σ of the noise map z ~ N(0, σ²).
        seed: seed of the noise (stateless, per step and replica: a resumed run draws the same).
    """

    def __init__(
        self,
        decoder: OneToManyDecoder,
        optimizer: keras.optimizers.Optimizer,
        critic: ConsistencyCritic,
        critic_optimizer: keras.optimizers.Optimizer,
        perceptual: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
        global_batch_size: int,
        subsampling: str = "420",
        perceptual_weight: float = 1.0,
        naturalness_weight: float = 0.01,
        jpeg_weight: float = 0.001,
        r1_weight: float = 1.0,
        warmup_steps: int = 0,
        noise_std: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.decoder = decoder
        self.optimizer = optimizer
        self.critic = critic
        self.critic_optimizer = critic_optimizer
        self.perceptual = perceptual
        self.global_batch_size = int(global_batch_size)
        self.subsampling = subsampling
        self.perceptual_weight = float(perceptual_weight)
        self.naturalness_weight = float(naturalness_weight)
        self.jpeg_weight = float(jpeg_weight)
        self.r1_weight = float(r1_weight)
        self.warmup_steps = int(warmup_steps)
        self.noise_std = float(noise_std)
        self.seed = int(seed)

    def _avg(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def _noise(self, inputs: dict, step: tf.Tensor) -> tf.Tensor:
        """The noise map z ~ N(0, σ²), (N, hb, wb, 64): one value per pixel."""
        shape = tf.shape(inputs["y"])
        size = tf.stack([shape[0], shape[1], shape[2], 64])
        return self.noise_std * tf.random.stateless_normal(size, replica_seed(self.seed, step))

    def _critic(self, planes: tf.Tensor, inputs: dict) -> tf.Tensor:
        return self.critic({**inputs, "ycbcr": planes}, training=True, subsampling=self.subsampling)

    def train_step(self, batch: dict[str, tf.Tensor], step: tf.Tensor) -> dict[str, tf.Tensor]:
        """D update (eq. 3 + R1), then proposal update (eq. 7); returns this replica's means."""
        images = batch["images"]
        inputs = jpeg_inputs(images, batch["quality"], self.subsampling)
        xq = [inputs["y"]] + ([] if self.subsampling == "gray" else [inputs["cb"], inputs["cr"]])
        target = real_planes(images, "gray")[..., :1] if self.subsampling == "gray" else images
        real = real_planes(images, self.subsampling)
        z = self._noise(inputs, step)

        # (1) the discriminator, the proposal network fixed.
        fake = tf.stop_gradient(
            self.decoder({**inputs, "z": z}, training=True, subsampling=self.subsampling)["ycbcr"]
        )
        with tf.GradientTape() as tape:
            critic_per = adversarial.ns_critic_loss(
                self._critic(real, inputs), self._critic(fake, inputs)
            )
            if self.r1_weight:
                r1 = adversarial.r1_penalty(lambda x: self._critic(x, inputs), real)
                critic_per = critic_per + 0.5 * self.r1_weight * r1
            critic_loss = self._avg(critic_per)
        cvars = self.critic.trainable_variables
        self.critic_optimizer.apply_gradients(
            zip(tape.gradient(critic_loss, cvars), cvars, strict=True)
        )

        # (2) the proposal network on eq. 7, D fixed.
        on = tf.cast(step >= self.warmup_steps, tf.float32)
        with tf.GradientTape() as tape:
            out = self.decoder({**inputs, "z": z}, training=True, subsampling=self.subsampling)
            decoded = out["decoded"]
            rgb = tf.concat([decoded] * 3, -1) if self.subsampling == "gray" else decoded
            ref = tf.concat([target] * 3, -1) if self.subsampling == "gray" else target
            perceptual = self.perceptual(rgb, ref)
            natural = adversarial.ns_generator_loss(self._critic(out["ycbcr"], inputs))
            jpeg = jpeg_loss(out["coefficients"], xq, inputs["tables"])
            per = (
                self.perceptual_weight * perceptual
                + on * self.naturalness_weight * natural
                + self.jpeg_weight * jpeg
            )
            loss = self._avg(per)
        gvars = self.decoder.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, gvars), gvars, strict=True))
        mse = tf.reduce_mean(tf.square(tf.round(decoded) - target), axis=[1, 2, 3])
        return {
            "loss": loss,
            "perceptual": self._avg(perceptual),
            "naturalness": self._avg(natural),
            "jpeg": self._avg(jpeg),
            "critic": critic_loss,
            "psnr": self._avg(10.0 * tf.math.log(255.0**2 / mse) / tf.math.log(10.0)),
        }
