"""Training steps of the consistent decoder: L1 initialization, then WGAN-GP + range + map losses.

Kept apart from ``trainers/decoder/train.py``'s command line so the steps can be driven by any
loop (``trainers.common.TrainingLoop``, or a test). The losses themselves (WGAN-GP, range, map and
the inner z optimization) are the plain functions of :mod:`tfjpeg.losses.adversarial`.
Reference: Bahat & Michaeli 2021, §3.2, §3.3 and appendix E.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfjpeg.decoders import ConsistencyCritic, ConsistentDecoder
from tfjpeg.decoders.geometry import chroma_factors, consistent_upsample
from tfjpeg.decoders.inputs import model_inputs
from tfjpeg.jpeg import color, encode, sampling
from tfjpeg.jpeg.tables import quality_tables
from tfjpeg.losses import adversarial
from tfjpeg.losses.adversarial import range_loss

__all__ = [
    "DecoderSteps",
    "jpeg_inputs",
    "range_loss",
    "real_planes",
]


def jpeg_inputs(images: tf.Tensor, quality: tf.Tensor, subsampling: str) -> dict[str, Any]:
    """Compress a batch exactly as libjpeg-turbo would and return the decoder's input dict.

    Args:
        images: float (B, H, W, 3) RGB in [0, 255] (or (B, H, W, 1) for "gray").
        quality: (B,) integer-valued qualities (IJG scaling, as the paper's M = 50·Q/QF below 50).
        subsampling: "420", "422", "444" or "gray".
    """
    if subsampling == "gray" and images.shape[-1] == 3:
        images = tf.round(color.rgb_to_ycbcr(images)[..., :1])
    tables = quality_tables(quality)
    coefs = encode(images, tables, "444" if subsampling == "gray" else subsampling, "hard")
    coefs = coefs["coefficients"]
    shape = tf.shape(images)
    return model_inputs(list(coefs), tables, shape[1], shape[2])


def real_planes(images: tf.Tensor, subsampling: str) -> tf.Tensor:
    """The originals as the critic should see them: YCbCr with chroma through the decoder's
    chroma path (box-downsampled, then :func:`consistent_upsample`), so that real and decoded
    images differ only in what the decoder can change."""
    if subsampling == "gray":
        return tf.round(color.rgb_to_ycbcr(images)[..., :1]) if images.shape[-1] == 3 else images
    ycc = color.rgb_to_ycbcr(images)
    fh, fv = chroma_factors(subsampling)
    chroma = [consistent_upsample(sampling.downsample(ycc[..., c], fh, fv), fh, fv) for c in (1, 2)]
    return tf.stack([ycc[..., 0], chroma[0], chroma[1]], axis=-1)


def _l1(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return adversarial.map_loss(a, b)


def _l2(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Per-image mean squared error (the loss PSNR measures)."""
    return tf.reduce_mean(tf.square(a - b), axis=tf.range(1, tf.rank(a)))


#: ``pixel_loss`` choices of the initialization phase.
PIXEL_LOSSES = {"l1": _l1, "l2": _l2}


class DecoderSteps:
    """Per-replica training steps for :class:`ConsistentDecoder` (and its critic).

    Args:
        decoder: the generator ψ.
        optimizer: its optimizer.
        global_batch_size: for ``tf.nn.compute_average_loss``.
        subsampling: chroma layout of the training JPEGs.
        critic, critic_optimizer: for the adversarial phase.
        gp_weight: WGAN-GP gradient-penalty weight (Gulrajani et al.: 10).
        range_weight, map_weight: λ_Range and λ_Map (paper: 200 and 0.1).
        critic_steps: critic updates per generator update (paper: 10).
        map_steps: inner Adam steps on z for L_Map (paper: 10).
        map_learning_rate: their step size (z lives in [−1, 1]).
        pixel_loss: the initialization phase's loss, "l1" (the paper) or "l2" (the squared
            error, for fine-tuning towards PSNR).
    """

    def __init__(
        self,
        decoder: ConsistentDecoder,
        optimizer: keras.optimizers.Optimizer,
        global_batch_size: int,
        subsampling: str = "420",
        critic: ConsistencyCritic | None = None,
        critic_optimizer: keras.optimizers.Optimizer | None = None,
        gp_weight: float = 10.0,
        range_weight: float = 200.0,
        map_weight: float = 0.1,
        critic_steps: int = 10,
        map_steps: int = 10,
        map_learning_rate: float = 0.1,
        pixel_loss: str = "l1",
    ) -> None:
        self.decoder = decoder
        self.optimizer = optimizer
        self.global_batch_size = int(global_batch_size)
        self.subsampling = subsampling
        self.critic = critic
        self.critic_optimizer = critic_optimizer
        self.gp_weight = float(gp_weight)
        self.range_weight = float(range_weight)
        self.map_weight = float(map_weight)
        self.critic_steps = int(critic_steps)
        self.map_steps = int(map_steps)
        self.map_learning_rate = float(map_learning_rate)
        if pixel_loss not in PIXEL_LOSSES:
            raise ValueError(
                f"pixel_loss must be one of {tuple(PIXEL_LOSSES)}. Received: {pixel_loss!r}"
            )
        self.pixel_loss = pixel_loss

    def _avg(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def _decode(self, inputs: dict, z: tf.Tensor, training: bool) -> dict:
        return self.decoder({**inputs, "z": z}, training=training, subsampling=self.subsampling)

    def _random_z(self, inputs: dict) -> tf.Tensor:
        shape = tf.shape(inputs["y"])
        z = tf.random.uniform(tf.stack([shape[0], 1, 1, 64]), -1.0, 1.0)
        return tf.broadcast_to(z, tf.stack([shape[0], shape[1], shape[2], 64]))

    # ------------------------------------------------------------------------------- L1 phase
    def l1_step(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Initialization phase: L1 (or, with ``pixel_loss="l2"``, the squared error) between the
        decoded and the original RGB (z = 0)."""
        images = batch["images"]
        inputs = jpeg_inputs(images, batch["quality"], self.subsampling)
        z = tf.zeros_like(self._random_z(inputs))
        target = real_planes(images, "gray")[..., :1] if self.subsampling == "gray" else images
        with tf.GradientTape() as tape:
            out = self._decode(inputs, z, training=True)
            per_image = PIXEL_LOSSES[self.pixel_loss](out["decoded"], target)
            loss = self._avg(per_image)
        variables = self.decoder.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        mse = tf.reduce_mean(tf.square(out["decoded"] - target), axis=[1, 2, 3])
        return {
            self.pixel_loss: loss,
            "psnr": self._avg(10.0 * tf.math.log(255.0**2 / mse) / tf.math.log(10.0)),
        }

    # ----------------------------------------------------------------------- adversarial phase
    def _critic(self, planes: tf.Tensor, inputs: dict, training: bool = True) -> tf.Tensor:
        return self.critic(
            {**inputs, "ycbcr": planes}, training=training, subsampling=self.subsampling
        )

    def _z_step(self, inputs: dict, target: tf.Tensor, z, m, v, t):
        """One Adam step on z for ‖ψ(X_Q, z) − x‖₁ (its own graph function, traced once)."""

        def loss_fn(z):
            decoded = self._decode(inputs, z, training=False)["decoded"]
            return tf.reduce_sum(adversarial.map_loss(decoded, target))

        return adversarial.adam_z_step(loss_fn, z, m, v, t, self.map_learning_rate)

    def _optimal_z(self, inputs: dict, target: tf.Tensor, z0: tf.Tensor) -> tf.Tensor:
        """z* ≈ argmin_z ‖ψ(X_Q, z) − x‖₁ by ``map_steps`` Adam steps, z kept in [−1, 1]."""

        def step_fn(z, m, v, t):
            return self._z_step_fn(inputs, target, z, m, v, t)

        return adversarial.optimal_z(None, z0, self.map_steps, step_fn=step_fn)

    def _critic_update(self, inputs: dict, real: tf.Tensor) -> dict[str, tf.Tensor]:
        """One WGAN-GP critic update on decodings with a fresh random z (its own graph function)."""
        n = tf.shape(real)[0]
        fake = tf.stop_gradient(self._decode(inputs, self._random_z(inputs), True)["ycbcr"])
        eps = tf.random.uniform(tf.stack([n, 1, 1, 1]))

        def critic(planes):
            return self._critic(planes, inputs)

        with tf.GradientTape() as tape:
            gp_per = adversarial.gradient_penalty(critic, real, fake, epsilon=eps)
            d_real = critic(real)
            d_fake = critic(fake)
            per = adversarial.wgan_critic_loss(d_real, d_fake) + self.gp_weight * gp_per
            critic_loss = self._avg(per)
        cvars = self.critic.trainable_variables
        self.critic_optimizer.apply_gradients(
            zip(tape.gradient(critic_loss, cvars), cvars, strict=True)
        )
        return {
            "critic": critic_loss,
            "gradient_penalty": self._avg(gp_per),
            "wasserstein": self._avg(d_real - d_fake),
        }

    def gan_step(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Adversarial phase: ``critic_steps`` WGAN-GP critic updates, then one generator update
        on L_Adv + λ_Range·L_Range (random per-channel z) plus L_Adv + λ_Range·L_Range + λ_Map·L_Map
        (the same batch fed again with z* from the inner optimization), appendix E."""
        if self.critic is None or self.critic_optimizer is None:
            raise ValueError("gan_step needs a critic and a critic_optimizer.")
        if not hasattr(self, "_critic_update_fn"):
            # Sub-steps are graph functions of their own: traced once, called many times, so the
            # step's graph does not grow with critic_steps and map_steps.
            self._critic_update_fn = tf.function(self._critic_update)
            self._z_step_fn = tf.function(self._z_step)
        images = batch["images"]
        inputs = jpeg_inputs(images, batch["quality"], self.subsampling)
        real = real_planes(images, self.subsampling)
        target = real_planes(images, "gray")[..., :1] if self.subsampling == "gray" else images

        for _ in range(self.critic_steps):
            critic_stats = self._critic_update_fn(inputs, real)

        z_random = self._random_z(inputs)
        z_star = self._optimal_z(inputs, target, z_random)
        with tf.GradientTape() as tape:
            out_r = self._decode(inputs, z_random, training=True)
            out_m = self._decode(inputs, z_star, training=True)
            adv = adversarial.wgan_generator_loss(
                self._critic(out_r["ycbcr"], inputs)
            ) + adversarial.wgan_generator_loss(self._critic(out_m["ycbcr"], inputs))
            rng = range_loss(out_r["ycbcr"][..., 0]) + range_loss(out_m["ycbcr"][..., 0])
            map_l1 = adversarial.map_loss(out_m["decoded"], target)
            per = adv + self.range_weight * rng + self.map_weight * map_l1
            loss = self._avg(per)
        gvars = self.decoder.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, gvars), gvars, strict=True))
        return {
            "generator": loss,
            **critic_stats,
            "adversarial": self._avg(adv),
            "range": self._avg(rng),
            "map_l1": self._avg(map_l1),
        }
