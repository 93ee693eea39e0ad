"""Training steps of the posterior sampler (Man et al. 2023, eq. 8–10, appendix A.2).

``mse_step``: the regression initialization (appendix A.2, "initialized from a model trained ...
as a regression model using an MSE loss"). ``gan_step``: one critic update on eq. 9
(non-saturating loss + λ_R1/2 · R1 on real images), then one generator update on eq. 10:
λ_Adv · V + λ_C · C (exact codec, straight-through rounding; λ_C cosine-annealed) + λ_FM · FM +
λ_SM · SM (K noise draws of the first ``moment_images`` files of the batch, against the frozen
MMSE decoder) + λ_P · VGG (when a local VGG16 weights file is given), then the EMA of the
generator's weights (decay 0.999 in the paper). The losses are the functions of
:mod:`tfjpeg.losses.posterior` and :mod:`tfjpeg.losses.adversarial`.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfjpeg.losses import adversarial
from tfjpeg.losses.posterior import (
    consistency_penalty,
    cosine_schedule,
    first_moment_penalty,
    second_moment_penalty,
    split_samples,
)
from trainers.common import replica_seed
from trainers.decoder.steps import jpeg_inputs, real_planes

__all__ = ["ExponentialAverage", "PosteriorSteps"]


class ExponentialAverage(tf.Module):
    """EMA copies of a model's trainable weights (``update`` after each step, ``copy_to`` the
    model before exporting). Checkpointed as a tf.Module."""

    def __init__(self, model: keras.Model, decay: float) -> None:
        super().__init__(name="ema")
        self.decay = float(decay)
        self.weights = [
            tf.Variable(w, trainable=False, name=w.name.replace(":", "_") + "_ema")
            for w in model.trainable_weights
        ]
        self._model = model

    def update(self) -> None:
        for avg, w in zip(self.weights, self._model.trainable_weights, strict=True):
            avg.assign(self.decay * avg + (1.0 - self.decay) * w)

    def copy_to(self, model: keras.Model) -> None:
        for avg, w in zip(self.weights, model.trainable_weights, strict=True):
            w.assign(avg)


def _noise(inputs: dict, seed: tf.Tensor) -> tf.Tensor:
    shape = tf.shape(inputs["y"])
    return tf.random.stateless_normal(tf.stack([shape[0], shape[1], shape[2], 64]), seed=seed)


def _tile(inputs: dict, times: int) -> dict:
    """The batch repeated ``times`` (sample k of file b at row k·B + b)."""
    out = {}
    for key, value in inputs.items():
        if key in ("height", "width"):
            out[key] = value
        else:
            rank = len(value.shape)
            out[key] = tf.tile(value, [times] + [1] * (rank - 1))
    return out


class PosteriorSteps:
    """Per-replica steps for :class:`~tfjpeg.decoders.PosteriorSampler` and its critic.

    Args:
        generator, optimizer: G_θ and its optimizer.
        global_batch_size: for ``tf.nn.compute_average_loss``.
        subsampling: chroma layout of the training JPEGs.
        critic, critic_optimizer: D_ω (a :class:`~tfjpeg.decoders.ConsistencyCritic`) and its
            optimizer (the GAN phase).
        mmse: the frozen MMSE decoder X̄(Y) for SM (None: the generator's ``base``).
        ema: the generator's :class:`ExponentialAverage`, updated after each generator step.
        vgg: a :class:`~tfjpeg.losses.VGGFeatureDistance` or None (no perceptual term).
        weights: the loss weights ``adversarial`` (1e-3), ``r1`` (1), ``fm`` (1), ``sm`` (1e3),
            ``vgg`` (1e-2), ``consistency_start``/``consistency_end`` (1 → 1e3).
        samples: K noise draws per file for FM and SM (paper 16); ``moment_images`` files of
            the batch get them (paper 8).
        total_steps: the length of λ_C's cosine schedule.
        seed: the seed of the noise (per step and replica, :func:`replica_seed`).
    """

    def __init__(
        self,
        generator: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        global_batch_size: int,
        subsampling: str = "420",
        critic: keras.Model | None = None,
        critic_optimizer: keras.optimizers.Optimizer | None = None,
        mmse: keras.Model | None = None,
        ema: ExponentialAverage | None = None,
        vgg: Any = None,
        weights: dict[str, float] | None = None,
        samples: int = 4,
        moment_images: int = 4,
        total_steps: int = 1,
        seed: int = 0,
    ) -> None:
        self.generator = generator
        self.optimizer = optimizer
        self.global_batch_size = int(global_batch_size)
        self.subsampling = subsampling
        self.critic = critic
        self.critic_optimizer = critic_optimizer
        self.mmse = mmse if mmse is not None else getattr(generator, "base", None)
        self.ema = ema
        self.vgg = vgg
        self.weights = {
            "adversarial": 1e-3,
            "r1": 1.0,
            "fm": 1.0,
            "sm": 1e3,
            "vgg": 1e-2,
            "consistency_start": 1.0,
            "consistency_end": 1e3,
            **(weights or {}),
        }
        self.samples = int(samples)
        self.moment_images = int(moment_images)
        self.total_steps = int(total_steps)
        self.seed = int(seed)

    def _avg(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def _target(self, images: tf.Tensor) -> tf.Tensor:
        return real_planes(images, "gray")[..., :1] if self.subsampling == "gray" else images

    def _generate(self, inputs: dict, z: tf.Tensor, training: bool = True) -> dict:
        return self.generator({**inputs, "z": z}, training=training, subsampling=self.subsampling)

    def _apply(self, tape, loss, model, optimizer) -> None:
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))

    # ------------------------------------------------------------------------- regression
    def mse_step(self, batch: dict[str, tf.Tensor], step: tf.Tensor) -> dict[str, tf.Tensor]:
        """The regression initialization: MSE to the original ([0, 1] images), random noise."""
        inputs = jpeg_inputs(batch["images"], batch["quality"], self.subsampling)
        target = self._target(batch["images"]) / 255.0
        z = _noise(inputs, replica_seed(self.seed, step))
        with tf.GradientTape() as tape:
            decoded = self._generate(inputs, z)["decoded"] / 255.0
            per = tf.reduce_mean(tf.square(decoded - target), axis=[1, 2, 3])
            loss = self._avg(per)
        self._apply(tape, loss, self.generator, self.optimizer)
        if self.ema is not None:
            self.ema.update()
        return {"mse": loss, "psnr": self._avg(-10.0 * tf.math.log(per) / tf.math.log(10.0))}

    # -------------------------------------------------------------------------- adversarial
    def _critic(self, planes: tf.Tensor, inputs: dict) -> tf.Tensor:
        return self.critic({**inputs, "ycbcr": planes}, training=True, subsampling=self.subsampling)

    def gan_step(self, batch: dict[str, tf.Tensor], step: tf.Tensor) -> dict[str, tf.Tensor]:
        """One critic update (eq. 9) and one generator update (eq. 10)."""
        if self.critic is None or self.critic_optimizer is None:
            raise ValueError("gan_step needs a critic and a critic_optimizer.")
        w = self.weights
        images = batch["images"]
        inputs = jpeg_inputs(images, batch["quality"], self.subsampling)
        real = real_planes(images, self.subsampling)
        target = self._target(images) / 255.0
        seed = replica_seed(self.seed, step)

        # Critic (eq. 9): non-saturating loss + λ_R1/2 · R1 on the real images.
        fake = tf.stop_gradient(self._generate(inputs, _noise(inputs, seed))["ycbcr"])
        with tf.GradientTape() as tape:
            r1 = adversarial.r1_penalty(lambda x: self._critic(x, inputs), real)
            d_real, d_fake = self._critic(real, inputs), self._critic(fake, inputs)
            critic_per = adversarial.ns_critic_loss(d_real, d_fake) + 0.5 * w["r1"] * r1
            critic_loss = self._avg(critic_per)
        self._apply(tape, critic_loss, self.critic, self.critic_optimizer)

        # Generator (eq. 10): K draws of the first files for the moments, one of the others.
        k, m = self.samples, self.moment_images
        few = {
            key: (value if key in ("height", "width") else value[:m])
            for key, value in inputs.items()
        }
        tiled = _tile(few, k)
        noise_seed = seed + tf.constant([0, 1], tf.int64) * 7919
        mmse = (
            tf.stop_gradient(
                self.mmse(few, training=False, subsampling=self.subsampling)["decoded"]
            )
            / 255.0
        )
        lam_c = cosine_schedule(
            step, self.total_steps, w["consistency_start"], w["consistency_end"]
        )
        with tf.GradientTape() as tape:
            out = self._generate(tiled, _noise(tiled, noise_seed))
            samples = split_samples(out["decoded"] / 255.0, k)
            fm = first_moment_penalty(samples, target[:m])
            sm = second_moment_penalty(samples, target[:m], mmse)
            rest = self._generate(inputs, _noise(inputs, seed + tf.constant([0, 2], tf.int64)))
            adv = adversarial.ns_generator_loss(self._critic(rest["ycbcr"], inputs))
            cons = consistency_penalty(
                rest["decoded"],
                self._file_coefficients(inputs),
                inputs["tables"],
                self.subsampling,
            )
            per = w["adversarial"] * adv + lam_c * cons
            if self.vgg is not None:
                vgg = self.vgg(rest["decoded"], images)
                per = per + w["vgg"] * vgg
            # The moments are per file of the first m: spread over the batch for averaging.
            n = tf.cast(tf.shape(images)[0], tf.float32)
            moments = (w["fm"] * tf.reduce_sum(fm) + w["sm"] * tf.reduce_sum(sm)) / n
            loss = self._avg(per + moments)
        self._apply(tape, loss, self.generator, self.optimizer)
        if self.ema is not None:
            self.ema.update()
        std = tf.reduce_mean(tf.sqrt(tf.math.reduce_variance(samples, axis=0) + 1e-12))
        mean_mse = tf.reduce_mean(tf.square(tf.reduce_mean(samples, 0) - target[:m]))
        return {
            "generator": loss,
            "critic": critic_loss,
            "r1": self._avg(r1),
            "adversarial": self._avg(adv),
            "consistency": self._avg(cons),
            "lambda_c": lam_c,
            "fm": tf.reduce_mean(fm),
            "sm": tf.reduce_mean(sm),
            "sample_std": std,
            "psnr_mean": -10.0 * tf.math.log(mean_mse) / tf.math.log(10.0),
        }

    def _file_coefficients(self, inputs: dict) -> tuple:
        if self.subsampling == "gray":
            return (inputs["y"],)
        return (inputs["y"], inputs["cb"], inputs["cr"])
