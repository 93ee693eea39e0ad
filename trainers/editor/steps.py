"""Training steps of the pre-editing networks (Talebi et al. 2020): denoising pre-training (§5),
the eq. (5) phase and distillation of the optimize mode (:mod:`trainers.editor.distill`).

Kept apart from ``trainers/editor/train.py`` (config → models → loop) so the steps can be driven
by any loop (``trainers.common.TrainingLoop``, or a test).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfjpeg.jpeg import encode
from tfjpeg.jpeg.rounding import apply_rounding, straight_through
from trainers.common import replica_seed
from trainers.editor.distill import distillation_loss

__all__ = ["EditorSteps", "rate_bits"]


def rate_bits(rate, codec, images: tf.Tensor, encoded: dict[str, Any], quality) -> tf.Tensor:
    """The rate predictor's bits (N,) of ``images`` reusing the codec's encoding of them.

    ``encoded`` is ``codec(images, quality=quality)``. When the predictor would quantize with the
    same tables and layout (libjpeg encoders, the codec's subsampling), the codec's float
    coefficients (``unrounded``) are rounded the predictor's way and priced with
    :meth:`~tfjpeg.rate.RatePredictor.bits_from_coefficients`: the same rounding mode reuses the
    codec's coefficients as they are; "ste" adds only the exact integer quantizer for the forward
    value (:func:`tfjpeg.jpeg.encode` with "hard") and takes its gradient from the shared float
    path; "poly3" rounds the shared float coefficients. The result is identical to
    ``rate(images, quality=quality)`` (tested). Otherwise (mozjpeg's tables and trellis model, a
    different layout, "noise" rounding, or a codec with exact "hard" rounding and no float path)
    it falls back to ``rate(images, quality=quality)``.
    """
    shared = (
        rate.encoder != "mozjpeg"
        and rate.subsampling == codec.subsampling
        and images.shape[-1] == 3
        and rate.differentiable_quality == codec.differentiable_quality
    )
    mode = rate.rounding
    if shared and mode == codec.rounding and mode != "noise":
        coefficients = encoded["coefficients"]
    elif shared and encoded["unrounded"] is not None and mode in ("ste", "poly3", "hard"):
        unrounded = encoded["unrounded"]
        if mode == "poly3":
            coefficients = tuple(apply_rounding(u, "poly3") for u in unrounded)
        else:
            exact = encode(images, encoded["tables"], rate.subsampling, "hard")["coefficients"]
            if mode == "hard":
                coefficients = exact
            else:
                coefficients = tuple(
                    straight_through(e, u) for e, u in zip(exact, unrounded, strict=True)
                )
    else:
        return rate(images, quality=quality)
    return rate.bits_from_coefficients(coefficients, encoded["tables"])


class EditorSteps:
    """Per-replica training steps of a pre-editing network.

    Args:
        editor: the editor T (a :mod:`tfjpeg.editors` model).
        optimizer: its optimizer.
        codec: :class:`tfjpeg.jpeg.DiffJPEG`, the differentiable stand-in C_q for the encoder.
        global_batch_size: for ``tf.nn.compute_average_loss``.
        rate: :class:`tfjpeg.rate.RatePredictor` B_q (eq. (5) phase).
        loss: :class:`tfjpeg.losses.PreEditLoss` with ``reduction="none"`` (eq. (5) phase).
        mu_table: (100,) μ for qualities 1..100 (the rate weight per image, μ(q)); None: the
            loss's constant ``mu``.
        seed: seed of the pre-training noise (:func:`trainers.common.replica_seed`).
        noise_sigma_range: (low, high) σ of the pre-training noise, of [0, 1] pixels.
        pretrain_through_jpeg: pre-train ``‖C_q(T(z + n)) − z‖²`` instead of ``‖T(z + n) − z‖²``.
        inference_mode_edits: the eq. (5) step runs the editor as it runs when used
            (``training=False``: batch normalization with its moving statistics, which then stay
            fixed), so the loss is that of the edits that are shipped; the weights, BN scales and
            offsets still train. With small batches, batch statistics make the training edits
            differ a lot from the used ones (shipped smoothing editor, 4 × 176-px validation
            crops: edit RMSE 8.1 in training mode vs 1.9 as used). Also used by the distillation
            step.
        distill_loss: :func:`trainers.editor.distill.distillation_loss` ``kind`` of the
            distillation step.

    Reference: Talebi et al. 2020, "Better compression with deep pre-editing", eq. (5) and §5.
    """

    def __init__(
        self,
        editor,
        optimizer,
        codec,
        global_batch_size: int,
        rate=None,
        loss=None,
        mu_table=None,
        seed: int = 0,
        noise_sigma_range: tuple[float, float] = (0.0, 0.15),
        pretrain_through_jpeg: bool = False,
        inference_mode_edits: bool = False,
        distill_loss: str = "coefficients",
    ) -> None:
        self.editor = editor
        self.optimizer = optimizer
        self.codec = codec
        self.global_batch_size = int(global_batch_size)
        self.rate = rate
        self.loss = loss
        self.mu_lookup = None if mu_table is None else tf.constant(mu_table, tf.float32)
        self.seed = int(seed)
        self.sigma_low, self.sigma_high = (float(v) for v in noise_sigma_range)
        self.pretrain_through_jpeg = bool(pretrain_through_jpeg)
        self.inference_mode_edits = bool(inference_mode_edits)
        self.distill_loss = distill_loss

    def _avg(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def _apply(self, tape: tf.GradientTape, loss: tf.Tensor) -> None:
        variables = self.editor.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))

    def mu(self, quality: tf.Tensor) -> tf.Tensor | None:
        """μ(q) per image from the table (None without a table: the loss's constant μ)."""
        if self.mu_lookup is None:
            return None
        index = tf.clip_by_value(tf.cast(tf.round(quality), tf.int32) - 1, 0, 99)
        return tf.gather(self.mu_lookup, index)

    def pretrain_step(self, batch: dict[str, tf.Tensor], step: tf.Tensor) -> dict[str, tf.Tensor]:
        """§5: denoise crops with white Gaussian noise of a random σ per image (L2 loss)."""
        z, q = batch["images"], batch["quality"]
        n = tf.shape(z)[0]
        s = replica_seed(self.seed, step)
        sigma = tf.random.stateless_uniform([n], s, self.sigma_low, self.sigma_high)
        noise_seed = tf.add(s, tf.constant([0, 1 << 40], tf.int64))
        noise = tf.random.stateless_normal(tf.shape(z), noise_seed)
        noisy = z + noise * 255.0 * sigma[:, None, None, None]
        with tf.GradientTape() as tape:
            out = self.editor(noisy, quality=q, noise_sigma=sigma, training=True)["edited"]
            if self.pretrain_through_jpeg:
                out = self.codec(out, quality=q)["decoded"]
            per_image = tf.reduce_mean(tf.square((out - z) / 255.0), axis=[1, 2, 3])
            scaled = self._avg(per_image)
        self._apply(tape, scaled)
        noisy_l2 = tf.reduce_mean(tf.square((tf.clip_by_value(noisy, 0, 255) - z) / 255.0))
        return {"total": tf.reduce_mean(per_image), "noisy_l2": noisy_l2}

    def preedit_step(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Eq. (5): dist(C_q(T(z)), z) + λ·Q(C_q(T(z))) + μ(q)·B_q(T(z)), one encoding per batch
        shared by C_q and B_q (see :func:`rate_bits`)."""
        if self.rate is None or self.loss is None:
            raise ValueError("preedit_step needs a rate predictor and a loss.")
        z, q = batch["images"], batch["quality"]
        with tf.GradientTape() as tape:
            training = not self.inference_mode_edits
            edited = self.editor(z, quality=q, training=training)["edited"]
            encoded = self.codec(edited, quality=q)
            bits = rate_bits(self.rate, self.codec, edited, encoded, q)
            terms = dict(self.loss(z, encoded["decoded"], bits, mu=self.mu(q)))
            scaled = self._avg(terms["total"])
        self._apply(tape, scaled)
        out = {k: tf.reduce_mean(v) for k, v in terms.items()}
        out["bpp"] = tf.reduce_mean(bits) / tf.cast(tf.shape(z)[1] * tf.shape(z)[2], tf.float32)
        out["edit_rmse"] = tf.sqrt(tf.reduce_mean(tf.square(edited - z)))
        return out

    def distill_step(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Distillation: the editor's output towards the optimize mode's teacher image
        (:func:`trainers.editor.distill.distillation_loss`, with the teacher's tables)."""
        z, q = batch["images"], batch["quality"]
        with tf.GradientTape() as tape:
            training = not self.inference_mode_edits
            edited = self.editor(z, quality=q, training=training)["edited"]
            teacher, tables = batch["teacher"], batch["tables"]
            per_image = distillation_loss(edited, teacher, tables, self.distill_loss)
            scaled = self._avg(per_image)
        self._apply(tape, scaled)
        return {
            "total": tf.reduce_mean(per_image),
            "edit_rmse": tf.sqrt(tf.reduce_mean(tf.square(edited - z))),
            "teacher_rmse": tf.sqrt(tf.reduce_mean(tf.square(edited - batch["teacher"]))),
        }
