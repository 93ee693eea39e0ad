"""A stochastic JPEG decoder that samples from the posterior p(x | JPEG) (Man et al. 2023).

:class:`PosteriorSampler` is the generator G_θ(Z, Y) of "High-Perceptual Quality JPEG Decoding
via Posterior Sampling" (appendix A.1, figure 5): the standard decoding Y of the file's
coefficients (computed in-graph from the decoder inputs) is pixel-unshuffled to half resolution
(×4 channels), passes an RRDB trunk (Real-ESRGAN's residual-in-residual dense blocks) with a
Gaussian noise channel concatenated at the start of every RDB and of the upsampling block, every
RRDB and the upsampling block modulated by a FiLM of the quantization tables, and is brought
back to full resolution. The output image is turned back into coefficients per component
(chroma box-averaged onto its grid), so the decoder has the call contract of every tfjpeg
decoder and :func:`tfjpeg.decoders.core.decode_core` applies to it unchanged: tiling, the
projection onto the file's consistent set (the paper's eq. 11, "Ours-P") and the exact uint8
correction. The SavedModel therefore is the same decoder as ``tfjpeg.decode``.

**Noise Z.** The control signal ``z`` of the call contract, (N, hb, wb, 64) on the luma block
grid, is read as one standard-normal value per pixel (each block's 64 channels are its 8×8
pixels; :func:`tfjpeg.explore.control.noise_from_seed` draws it statelessly from a seed). It is
sliced with the tiles like every input, so a tiled decoding sees the same noise as one pass.
After the pixel unshuffle each half-resolution position holds 4 noise values; injection point k
concatenates the fixed unit-norm combination ``w_k · n`` of them (``w_k`` drawn once from
``noise_seed``; not a weight), the upsampling block the full-resolution noise itself. z = 0 is
the noise-free, deterministic decoding.

**Base estimate (optional).** With ``base`` (a serialized tfjpeg decoder, e.g. the shipped
consistent-l1), the trunk also sees that decoder's MMSE-oriented estimate and the output is that
estimate plus the trunk's residual (its last convolution starts at zero): the sampler starts as
the MMSE decoder, which is how a short CPU run can reach its fidelity. Without it (the paper)
the residual is added to the standard decoding. ``train_base`` says whether the base is trained.

Call it like :class:`~tfjpeg.decoders.ConsistentDecoder` (:func:`~tfjpeg.decoders.inputs.
model_inputs`); returns ``"decoded"`` (N, H, W, C) in [0, 255], ``"ycbcr"`` the unclipped
planes, ``"coefficients"`` per component (quantized units, not yet projected) and ``"delta"``
(coefficients − X_Q).

Reference: Man, Ohayon, Adrai, Elad, "High-Perceptual Quality JPEG Decoding via Posterior
Sampling", CVPRW 2023, §4 and appendix A; Wang et al., Real-ESRGAN 2021 (RRDB); Perez et al.
2018 (FiLM).
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfjpeg.decoders.geometry import (
    chroma_factors,
    downsample_box,
    fit_plane,
    image_from_coefficients,
    plane_to_coefficients,
)
from tfjpeg.decoders.inputs import unpack_call_inputs
from tfjpeg.jpeg.tables import component_table

__all__ = ["PosteriorSampler"]

_GROWTH_CONVS = 5  # convolutions per RDB (ESRGAN)


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return value


def _conv(filters: int, name: str, zero: bool = False, scale: float = 1.0) -> keras.layers.Layer:
    init = (
        "zeros" if zero else keras.initializers.VarianceScaling(scale, "fan_in", "truncated_normal")
    )
    return keras.layers.Conv2D(filters, 3, padding="same", kernel_initializer=init, name=name)


def _unshuffle(x: tf.Tensor) -> tf.Tensor:
    return tf.nn.space_to_depth(x, 2)


@keras.saving.register_keras_serializable(package="tfjpeg")
class PosteriorSampler(keras.Model):
    """Stochastic consistent-by-projection JPEG decoder G_θ(Z, Y) (Man et al. 2023).

    Args:
        features: trunk channels (paper 64).
        blocks: RRDBs in the trunk (paper 23).
        growth: channels added by each dense convolution (paper 32).
        rdbs: RDBs per RRDB (paper 3).
        residual_scale: the RDB / RRDB residual scaling (ESRGAN 0.2).
        noise: inject the noise channels (False: a deterministic regression model).
        noise_seed: seed of the fixed mixing vectors w_k of the injected noise.
        base: None, or a serialized tfjpeg decoder (``keras.saving.serialize_keras_object``)
            whose estimate the sampler perturbs (see the module docstring).
        train_base: train the base decoder's weights too (default: frozen).
        temperature: the standard deviation the noise z is scaled to before injection (Glow's
            sampling temperature, Kingma & Dhariwal 2018): training uses 1; a smaller value
            draws samples nearer the noise-free decoding. The shipped model's value was chosen
            on the validation split (its MODEL_CARD.md).

    Example:
        >>> gen = PosteriorSampler(features=16, blocks=1, growth=8)
        >>> out = gen(decoder_inputs(read_jpeg("a.jpg"))[0], subsampling="420")  # doctest: +SKIP
    """

    #: The control signal is per-pixel Gaussian noise (``explore.control.control_from_seed``).
    control_signal = "noise"

    def __init__(
        self,
        features: int = 64,
        blocks: int = 23,
        growth: int = 32,
        rdbs: int = 3,
        residual_scale: float = 0.2,
        noise: bool = True,
        noise_seed: int = 0,
        base: dict[str, Any] | keras.Model | None = None,
        train_base: bool = False,
        temperature: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.features = _check_positive("features", features)
        self.blocks = _check_positive("blocks", blocks)
        self.growth = _check_positive("growth", growth)
        self.rdbs = _check_positive("rdbs", rdbs)
        if not (math.isfinite(float(residual_scale)) and 0.0 < float(residual_scale) <= 1.0):
            raise ValueError(
                f"residual_scale must be in (0, 1]. Received: residual_scale={residual_scale}"
            )
        self.residual_scale = float(residual_scale)
        number = isinstance(temperature, (int, float, np.integer, np.floating))
        if isinstance(temperature, bool) or not (
            number and math.isfinite(float(temperature)) and float(temperature) >= 0.0
        ):
            raise ValueError(
                f"temperature must be a finite number ≥ 0. Received: temperature={temperature}"
            )
        self.temperature = float(temperature)
        self.noise = bool(noise)
        self.noise_seed = int(noise_seed)
        self.train_base = bool(train_base)
        if isinstance(base, dict):
            base = keras.saving.deserialize_keras_object(base)
        if base is not None and not hasattr(base, "receptive_field_blocks"):
            raise ValueError(
                "base must be a tfjpeg decoder (or its serialized config). "
                f"Received: base of type {type(base).__name__}"
            )
        self.base = base
        if base is not None:
            base.trainable = self.train_base

        rng = np.random.default_rng(self.noise_seed)
        mix = rng.standard_normal((self.blocks * self.rdbs, 4)).astype(np.float32)
        #: (injections, 4) unit-norm noise mixing vectors w_k (constants, not weights).
        self._noise_mix = mix / np.linalg.norm(mix, axis=1, keepdims=True)

        f, g = self.features, self.growth
        self.first = _conv(f, "first")
        for b in range(self.blocks):
            for r in range(self.rdbs):
                for k in range(_GROWTH_CONVS):
                    last = k == _GROWTH_CONVS - 1
                    name = f"rrdb{b}_rdb{r}_conv{k}"
                    setattr(self, name, _conv(f if last else g, name, scale=0.1 if last else 2.0))
            setattr(
                self,
                f"film{b}",
                keras.layers.Dense(2 * f, kernel_initializer="zeros", name=f"film{b}"),
            )
        self.trunk_conv = _conv(f, "trunk_conv")
        self.up_conv = _conv(f, "up_conv")
        self.up_film = keras.layers.Dense(2 * f, kernel_initializer="zeros", name="up_film")
        self.hr_conv = _conv(f, "hr_conv")
        self.last = _conv(3, "last", zero=True)

    # ---------------------------------------------------------------------------- pieces
    def _rdb(self, x: tf.Tensor, noise: tf.Tensor | None, b: int, r: int) -> tf.Tensor:
        feats = [x] if noise is None else [x, noise]
        for k in range(_GROWTH_CONVS):
            h = getattr(self, f"rrdb{b}_rdb{r}_conv{k}")(tf.concat(feats, -1))
            if k < _GROWTH_CONVS - 1:
                feats.append(tf.nn.leaky_relu(h, 0.2))
        return x + self.residual_scale * h

    @staticmethod
    def _film(h: tf.Tensor, layer: keras.layers.Layer, table_features: tf.Tensor) -> tf.Tensor:
        gamma, beta = tf.split(layer(table_features)[:, None, None, :], 2, axis=-1)
        return h * (1.0 + gamma) + beta

    def _trunk(self, planes: tf.Tensor, extra: tf.Tensor | None, pixel_noise, table_features):
        """(N, H, W, 3) normalized planes (H, W even) → the (N, H, W, 3) residual."""
        x = _unshuffle(planes)
        if extra is not None:
            x = tf.concat([x, _unshuffle(extra)], -1)
        half_noise = _unshuffle(pixel_noise) if self.noise else None
        h0 = self.first(x)
        h = h0
        mix = tf.constant(self._noise_mix)
        for b in range(self.blocks):
            inner = h
            for r in range(self.rdbs):
                noise = None
                if half_noise is not None:
                    w = mix[b * self.rdbs + r]
                    noise = tf.reduce_sum(half_noise * w, axis=-1, keepdims=True)
                inner = self._rdb(inner, noise, b, r)
            h = h + self.residual_scale * inner
            h = self._film(h, getattr(self, f"film{b}"), table_features)
        h = h0 + self.trunk_conv(h)
        h = tf.image.resize(h, tf.shape(planes)[1:3], method="nearest")
        if self.noise:
            h = tf.concat([h, pixel_noise], -1)
        h = tf.nn.leaky_relu(self._film(self.up_conv(h), self.up_film, table_features), 0.2)
        h = tf.nn.leaky_relu(self.hr_conv(h), 0.2)
        return self.last(h)

    def call(self, inputs: dict[str, Any], training=None, subsampling: Any = "420") -> dict:
        y, n, hb, wb, tables, height, width, z, gray = unpack_call_inputs(inputs, subsampling)
        if gray:
            comps = (y,)
            fh, fv = 1, 1
        else:
            fh, fv = chroma_factors(subsampling) if isinstance(subsampling, str) else subsampling
            comps = (y, tf.cast(inputs["cb"], tf.float32), tf.cast(inputs["cr"], tf.float32))
        ph, pw = 8 * hb, 8 * wb  # the whole luma block grid (even sizes)
        per_table = [component_table(tables, c) for c in range(len(comps))]
        table_features = (
            tf.math.log(tf.reshape(tf.stack(per_table, 1), [n, 64 * len(comps)])) - 3.0
        ) / 2.0
        if gray:  # gray files: the chroma channels stay at their neutral value
            table_features = tf.tile(table_features, [1, 3])

        def planes_of(coefs) -> tf.Tensor:
            ycc = image_from_coefficients(coefs, tables, ph, pw, fh, fv)["ycbcr"]
            if gray:
                ycc = tf.concat(
                    [ycc, tf.fill(tf.shape(ycc), 128.0), tf.fill(tf.shape(ycc), 128.0)], -1
                )
            return (ycc - 128.0) / 128.0

        standard = planes_of(comps)
        extra = None
        if self.base is not None:
            # The base decoder's own control signal stays neutral: z is this model's noise.
            base_inputs = {k: v for k, v in inputs.items() if k != "z"}
            base_out = self.base(
                base_inputs, training=bool(training) and self.train_base, subsampling=subsampling
            )
            extra = planes_of(tuple(base_out["coefficients"]))
        # (N, 8hb, 8wb, 1): one value per pixel, at the sampling temperature
        pixel_noise = self.temperature * tf.nn.depth_to_space(z, 8)
        residual = self._trunk(standard, extra, pixel_noise, table_features)
        planes = (standard if extra is None else extra) + residual
        planes = planes * 128.0 + 128.0
        coefs = [plane_to_coefficients(planes[..., 0], per_table[0])]
        if not gray:
            shape = tf.shape(comps[1])
            for c in (1, 2):
                chroma = downsample_box(planes[..., c], fh, fv)
                chroma = fit_plane(chroma, 8 * shape[1], 8 * shape[2])
                coefs.append(plane_to_coefficients(chroma, per_table[c]))
        coefs = tuple(coefs)
        image = image_from_coefficients(coefs, tables, height, width, fh, fv)
        return {
            **image,
            "coefficients": coefs,
            "delta": tuple(c - x for c, x in zip(coefs, comps, strict=True)),
        }

    @property
    def receptive_field_blocks(self) -> int:
        """How far (luma blocks) an input block can change an output coefficient: the 3×3
        convolutions at half resolution (2 pixels each), those at full resolution, the
        chroma box (a 4:2:0 block covers 16 pixels) and the base decoder's own field."""
        half = 1 + self.blocks * self.rdbs * _GROWTH_CONVS + 1
        pixels = 2 * half + 3 + 16
        own = -(-pixels // 8) + 1
        return own + (int(self.base.receptive_field_blocks) if self.base is not None else 0)

    @classmethod
    def from_preset(cls, preset: str) -> PosteriorSampler:
        """The shipped model ``preset`` (a registry name, :mod:`tfjpeg.models`), cached.

        Example:
            >>> model = PosteriorSampler.from_preset("posterior")  # doctest: +SKIP
        """
        from tfjpeg.models.presets import load

        return load(preset, cls=cls)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            features=self.features,
            blocks=self.blocks,
            growth=self.growth,
            rdbs=self.rdbs,
            residual_scale=self.residual_scale,
            noise=self.noise,
            noise_seed=self.noise_seed,
            base=None if self.base is None else keras.saving.serialize_keras_object(self.base),
            train_base=self.train_base,
            temperature=self.temperature,
        )
        return config
