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

With ``diversity_weight`` > 0 (**an addition to the paper**), the proposal network also runs
on a second noise map z₂ (one pass over the batch twice, the JPEG inputs encoded once), eq. 7
is averaged over the two proposals, and λ_d·L_d is added: the diversity-sensitive term of Yang
et al. 2019 (:func:`tfjpeg.losses.one_to_many.diversity_loss`) on the two decodings *after*
the projection onto the file's intervals (:func:`~tfjpeg.losses.one_to_many.
interval_projection`), so only the variation that the decoding core keeps is rewarded. The
paper's loss alone lets the network ignore z (the shipped model's samples differ by 0.0026
per pixel). With ``mean_weight`` > 0 (also an addition), λ_m times the first-moment penalty of
Man et al. 2023 (eq. 5, :func:`tfjpeg.losses.first_moment_penalty`) on the two proposals pulls
their mean toward the original, so that averaging samples approaches an MMSE decoding while
the diversity term keeps them apart (also on a doubled batch).

The discriminator is :class:`~tfjpeg.decoders.ConsistencyCritic` (conditioned on the file's
coefficients, spectral normalization) rather than the paper's unconditional DCGAN-style
classifier, and real images enter it through the decoder's own chroma path
(:func:`trainers.decoder.steps.real_planes`), as for consistent-gan.

Reference: J. Guo and H. Chao, CVPR 2017, §3.3–3.4; D. Yang et al., "Diversity-Sensitive
Conditional Generative Adversarial Networks", ICLR 2019.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from tfjpeg.decoders import ConsistencyCritic, OneToManyDecoder
from tfjpeg.decoders.geometry import chroma_factors, image_from_coefficients
from tfjpeg.losses import adversarial, first_moment_penalty
from tfjpeg.losses.one_to_many import diversity_loss, interval_projection, jpeg_loss
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
        diversity_weight: λ_d of the diversity-sensitive term (0: the paper's loss, one pass).
        diversity_bound: its τ, the spread ([0, 1] units per unit of noise distance) beyond
            which no more diversity is rewarded.
        mean_weight: λ_m of the first-moment penalty on the two proposals' mean, in [0, 1]
            units (0: none).
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
        diversity_weight: float = 0.0,
        diversity_bound: float = 0.02,
        mean_weight: float = 0.0,
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
        self.diversity_weight = float(diversity_weight)
        self.diversity_bound = float(diversity_bound)
        self.mean_weight = float(mean_weight)
        if self.diversity_weight < 0 or not self.diversity_bound > 0 or not self.mean_weight >= 0:
            raise ValueError(
                "diversity_weight and mean_weight must be >= 0 and diversity_bound > 0. "
                f"Received: diversity_weight={diversity_weight!r}, "
                f"diversity_bound={diversity_bound!r}, mean_weight={mean_weight!r}"
            )
        self.seed = int(seed)

    def _avg(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def _noise(self, inputs: dict, step: tf.Tensor, stream: int = 0) -> tf.Tensor:
        """The noise map z ~ N(0, σ²), (N, hb, wb, 64): one value per pixel; ``stream`` 1 is
        an independent second map (the diversity term's z₂)."""
        shape = tf.shape(inputs["y"])
        size = tf.stack([shape[0], shape[1], shape[2], 64])
        seed = replica_seed(self.seed, step)
        if stream:
            seed = tf.random.experimental.stateless_fold_in(seed, stream)
        return self.noise_std * tf.random.stateless_normal(size, seed)

    def _diversity(self, out: dict, inputs: dict, xq: list, z: tf.Tensor, z2: tf.Tensor):
        """L_d on the two halves of a doubled batch: their decodings after the projection onto
        the file's intervals, in [0, 1]."""
        projected = interval_projection(out["coefficients"], xq)
        fh, fv = (1, 1) if self.subsampling == "gray" else chroma_factors(self.subsampling)
        image = (
            image_from_coefficients(
                projected, inputs["tables"], inputs["height"], inputs["width"], fh, fv
            )["decoded"]
            / 255.0
        )
        first, second = tf.split(image, 2, axis=0)
        return diversity_loss(first, second, z, z2, self.diversity_bound)

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

        # (2) the proposal network on eq. 7, D fixed; with the diversity term, on the batch
        # twice (z and z₂), each loss the mean over the two proposals (also for the mean term).
        copies = 2 if self.diversity_weight or self.mean_weight else 1
        gen_inputs, gen_xq, gen_target = inputs, xq, target
        gen_z = z
        if copies == 2:
            z2 = self._noise(inputs, step, stream=1)
            gen_inputs = {
                k: tf.concat([v, v], 0) if k in ("y", "cb", "cr", "tables") else v
                for k, v in inputs.items()
            }
            gen_xq = [tf.concat([x, x], 0) for x in xq]
            gen_target = tf.concat([target, target], 0)
            gen_z = tf.concat([z, z2], 0)

        def halves(per: tf.Tensor) -> tf.Tensor:
            return tf.reduce_mean(tf.reshape(per, [copies, -1]), axis=0)

        on = tf.cast(step >= self.warmup_steps, tf.float32)
        with tf.GradientTape() as tape:
            out = self.decoder(
                {**gen_inputs, "z": gen_z}, training=True, subsampling=self.subsampling
            )
            decoded = out["decoded"]
            rgb = tf.concat([decoded] * 3, -1) if self.subsampling == "gray" else decoded
            ref = tf.concat([gen_target] * 3, -1) if self.subsampling == "gray" else gen_target
            perceptual = halves(self.perceptual(rgb, ref))
            natural = halves(adversarial.ns_generator_loss(self._critic(out["ycbcr"], gen_inputs)))
            jpeg = halves(jpeg_loss(out["coefficients"], gen_xq, gen_inputs["tables"]))
            per = (
                self.perceptual_weight * perceptual
                + on * self.naturalness_weight * natural
                + self.jpeg_weight * jpeg
            )
            if self.diversity_weight:
                diversity = self._diversity(out, gen_inputs, gen_xq, z, z2)
                per = per + self.diversity_weight * diversity
            if self.mean_weight:
                proposals = tf.stack(tf.split(decoded / 255.0, 2, axis=0))
                moment = first_moment_penalty(proposals, target / 255.0)
                per = per + self.mean_weight * moment
            loss = self._avg(per)
        gvars = self.decoder.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, gvars), gvars, strict=True))
        first = decoded[: tf.shape(target)[0]]
        mse = tf.reduce_mean(tf.square(tf.round(first) - target), axis=[1, 2, 3])
        metrics = {
            "loss": loss,
            "perceptual": self._avg(perceptual),
            "naturalness": self._avg(natural),
            "jpeg": self._avg(jpeg),
            "critic": critic_loss,
            "psnr": self._avg(10.0 * tf.math.log(255.0**2 / mse) / tf.math.log(10.0)),
        }
        if self.diversity_weight:
            metrics["diversity"] = self._avg(-diversity)  # the (bounded) ratio, ≥ 0
        if self.mean_weight:
            metrics["mean_mse"] = self._avg(moment)
        return metrics
