"""A fast consistent decoder: a small U-Net over the 8×8 block grid, table-conditioned.

:class:`BlockUNetDecoder` has the input and output contract of
:class:`~tfjpeg.decoders.ConsistentDecoder` (a residual Δ ∈ (−½, ½) per quantized coefficient,
so every output is consistent with the file by construction, Bahat & Michaeli 2021 §3.2) but is
sized for CPUs: it works at one position per luma block (64 coefficients as channels, 1/64 of
the pixels), goes down the block grid with stride-2 convolutions for a receptive field of tens
of blocks, and is told the quality by the quantization tables themselves (FiLM of every level
from the log tables, as JDEC and the one-model-for-all-qualities decoders do), so one model
serves every quality.

**Never worse than the standard decode, by design.** The standard decoding is Δ = 0 (every
coefficient at the centre of its bin). The last factor of Δ is a *blend* g(M) ∈ (0, 1) per
component and frequency, a function of the table only (a dense map of the log tables): the
model can learn to turn its correction off for the tables (qualities) and frequencies where it
does not help, and the training loss (L1 to the original over qualities 5–95) pays for every
quality where it would make things worse. The projection and uint8 correction of
:func:`tfjpeg.decoders.core.decode_core` then keep the image consistent.

Reference: Bahat & Michaeli 2021 (Δ-parametrized consistent decoding); Han et al., "JDEC:
JPEG Decoding via Enhanced Continuous Cosine Coefficients", CVPR 2024 (decoding from the DCT
coefficients and the table, one model for all qualities); Perez et al. 2018 (FiLM).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfjpeg.decoders.geometry import chroma_factors, image_from_coefficients, z_on_chroma_grid
from tfjpeg.decoders.inputs import unpack_call_inputs
from tfjpeg.jpeg.blocks import ceil_div
from tfjpeg.jpeg.tables import component_table

__all__ = ["BlockUNetDecoder"]

_COEF_SCALE = 1.0 / 32.0  # dequantized DCT values → input scale
_XQ_CLIP = 8.0  # the bin index also enters as clip(X_Q, ±8)/8


def _check_ints(name: str, values: Any) -> tuple[int, ...]:
    values = tuple(values)
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ValueError(f"{name} must be positive integers. Received: {name}={values!r}")
    return values


@keras.saving.register_keras_serializable(package="tfjpeg")
class BlockUNetDecoder(keras.Model):
    """Consistent JPEG decoder: a U-Net over the luma block grid, conditioned on the tables.

    Inputs and outputs as :class:`~tfjpeg.decoders.ConsistentDecoder` (a dict with ``"y"``,
    ``"cb"``, ``"cr"``, ``"tables"``, ``"height"``, ``"width"``, optional ``"z"``; the
    ``subsampling`` call argument; returns ``"decoded"``, ``"ycbcr"``, ``"coefficients"``,
    ``"delta"``).

    Per luma block the input is the dequantized luma coefficients, the clipped bin indices,
    the dequantized chroma coefficients of the chroma block over it and the control signal z
    (320 channels, a 1×1 convolution). Level ℓ of the U-Net runs ``depths[ℓ]`` 3×3
    convolutions of ``widths[ℓ]`` channels at 1/2^ℓ of the block grid (stride-2 convolutions
    down, nearest upsampling + 1×1 convolution + additive skip + one 3×3 convolution up); the
    first convolution of every level is modulated by a FiLM of the log tables. Heads: luma Δ
    (64 logits) per block; chroma Δ (2 × 64) from the features averaged over each chroma
    block. Δ = g(M) · (σ(logits + sign(X_Q)(a + b log M)) − ½)(1 − 2·delta_margin), with the
    blend g(M) described in the module docstring.

    Args:
        widths: channels per level (level 0 = the luma block grid).
        depths: 3×3 convolutions per encoder level.
        leaky_slope: LeakyReLU slope.
        offset_init: initial per-frequency reconstruction offset a_k (sigmoid-input units).
        delta_margin: Δ ∈ (−½ + margin, ½ − margin).

    Example:
        >>> dec = BlockUNetDecoder(widths=(16, 24), depths=(1, 1))
        >>> out = dec(decoder_inputs(jpeg)[0], subsampling="420")  # doctest: +SKIP
    """

    #: ``decode_core`` stops the projection / clipping rounds once no sample is more than half
    #: a gray level outside [0, 255] (the final rounding and the exact uint8 correction pass take
    #: it from there): the rounds cost more than this network (measured: up to 5 rounds at 1 MP
    #: ≈ 0.5 s, the network 0.13 s).
    projection_tolerance = 0.5

    def __init__(
        self,
        widths: tuple[int, ...] | list[int] = (48, 96, 128),
        depths: tuple[int, ...] | list[int] = (1, 2, 2),
        leaky_slope: float = 0.1,
        offset_init: float = -0.4,
        delta_margin: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.widths = _check_ints("widths", widths)
        self.depths = _check_ints("depths", depths)
        if len(self.widths) != len(self.depths):
            raise ValueError(
                f"widths and depths must have the same length. Received: widths={self.widths}, "
                f"depths={self.depths}"
            )
        if not 0.0 <= float(leaky_slope) < 1.0:
            raise ValueError(f"leaky_slope must be in [0, 1). Received: leaky_slope={leaky_slope}")
        if not 0.0 <= float(delta_margin) < 0.5:
            raise ValueError(
                f"delta_margin must be in [0, 0.5). Received: delta_margin={delta_margin}"
            )
        self.leaky_slope = float(leaky_slope)
        self.offset_init = float(offset_init)
        self.delta_margin = float(delta_margin)
        levels = len(self.widths)

        def conv(filters: int, kernel: int, name: str, strides: int = 1, zero: bool = False):
            init = "zeros" if zero else keras.initializers.HeNormal()
            return keras.layers.Conv2D(
                filters, kernel, strides=strides, padding="same", kernel_initializer=init, name=name
            )

        # Plain attributes (not lists) so TF checkpoints track every layer.
        self.stem = conv(self.widths[0], 1, "stem")
        for lv in range(levels):
            for k in range(self.depths[lv]):
                setattr(self, f"enc{lv}_{k}", conv(self.widths[lv], 3, f"enc{lv}_{k}"))
            setattr(self, f"film{lv}", keras.layers.Dense(2 * self.widths[lv], name=f"film{lv}"))
            if lv + 1 < levels:
                setattr(self, f"down{lv}", conv(self.widths[lv + 1], 2, f"down{lv}", 2))
                setattr(self, f"up{lv}", conv(self.widths[lv], 1, f"up{lv}"))
                setattr(self, f"dec{lv}", conv(self.widths[lv], 3, f"dec{lv}"))
        self.luma_head = conv(64, 1, "luma_head", zero=True)
        self.chroma_head = conv(128, 1, "chroma_head", zero=True)
        self.blend = keras.layers.Dense(
            192, bias_initializer=keras.initializers.Constant(3.0), name="blend"
        )
        init = keras.initializers.Constant(
            np.stack([np.full(64, self.offset_init), np.zeros(64)]).astype(np.float32)
        )
        self.offsets = self.add_weight(shape=(3, 2, 64), initializer=init, name="offsets")

    # ------------------------------------------------------------------ geometry
    @property
    def block_alignment(self) -> int:
        """The block grid is downsampled by this factor: tiles start on multiples of it."""
        return 2 ** (len(self.widths) - 1)

    @property
    def receptive_field_blocks(self) -> int:
        """A bound on how far (luma blocks) an input block reaches an output coefficient."""
        field = 0
        for lv, depth in enumerate(self.depths):
            scale = 2**lv
            field += depth * scale  # encoder 3×3 convolutions
            if lv + 1 < len(self.depths):
                field += scale + 2 * scale + scale  # stride-2 down, nearest up, decoder 3×3
        return field + 4  # chroma: the chroma block over a luma block, and the pooling back

    # ------------------------------------------------------------------ pieces
    def _act(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.leaky_relu(x, alpha=self.leaky_slope)

    def _delta(self, logits, xq, log_m, offset, gate) -> tf.Tensor:
        per_freq = offset[0] + offset[1] * log_m[:, None, None, :]
        unit = tf.sigmoid(logits + tf.sign(xq) * per_freq) - 0.5
        return unit * (1.0 - 2.0 * self.delta_margin) * gate[:, None, None, :]

    def _unet(self, x: tf.Tensor, films: list[tf.Tensor]) -> tf.Tensor:
        skips = []
        levels = len(self.widths)
        for lv in range(levels):
            for k in range(self.depths[lv]):
                x = getattr(self, f"enc{lv}_{k}")(x)
                if k == 0:
                    scale, shift = tf.split(films[lv], 2, axis=-1)
                    x = x * (1.0 + scale[:, None, None, :]) + shift[:, None, None, :]
                x = self._act(x)
            if lv + 1 < levels:
                skips.append(x)
                x = self._act(getattr(self, f"down{lv}")(x))
        for lv in reversed(range(levels - 1)):
            skip = skips[lv]
            x = tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)[
                :, : tf.shape(skip)[1], : tf.shape(skip)[2]
            ]
            x = self._act(getattr(self, f"up{lv}")(x) + skip)
            x = self._act(getattr(self, f"dec{lv}")(x))
        return x

    # ------------------------------------------------------------------ call
    def call(self, inputs: dict[str, Any], training=None, subsampling: str = "420") -> dict:
        y, n, hb, wb, tables, height, width, z, gray = unpack_call_inputs(inputs, subsampling)
        per_comp = [tf.reshape(component_table(tables, c), [n, 64]) for c in range(3)]
        log_m = [(tf.math.log(t) - 3.0) / 2.0 for t in per_comp]
        table_features = tf.concat(log_m, axis=-1)  # (N, 192)
        films = [getattr(self, f"film{lv}")(table_features) for lv in range(len(self.widths))]
        gate = tf.sigmoid(self.blend(table_features))

        xq_y = tf.reshape(y, [n, hb, wb, 64])
        features = [
            xq_y * per_comp[0][:, None, None, :] * _COEF_SCALE,
            tf.clip_by_value(xq_y, -_XQ_CLIP, _XQ_CLIP) / _XQ_CLIP,
        ]
        if gray:
            fh = fv = 1
            features.append(tf.zeros([n, hb, wb, 128]))
        else:
            fh, fv = chroma_factors(subsampling) if isinstance(subsampling, str) else subsampling
            chroma = []
            for c, key in ((1, "cb"), (2, "cr")):
                xq = tf.cast(inputs[key], tf.float32)
                cs = tf.shape(xq)
                xq = tf.reshape(xq, [n, cs[1], cs[2], 64])
                chroma.append(xq)
                deq = xq * per_comp[c][:, None, None, :] * _COEF_SCALE
                up = tf.repeat(tf.repeat(deq, fv, axis=1), fh, axis=2)[:, :hb, :wb]
                features.append(up)
        features.append(z)
        x = self.stem(tf.concat(features, axis=-1))
        # Pad the grid to whole cells of the coarsest level (zeros), crop at the end.
        align = self.block_alignment
        ph, pw = ceil_div(hb, align) * align - hb, ceil_div(wb, align) * align - wb
        x = tf.pad(x, [[0, 0], [0, ph], [0, pw], [0, 0]])
        x = self._unet(x, films)[:, :hb, :wb]

        delta_y = self._delta(self.luma_head(x), xq_y, log_m[0], self.offsets[0], gate[:, :64])
        coef_y = tf.reshape(xq_y + delta_y, [n, hb, wb, 8, 8])
        if gray:
            return {
                **image_from_coefficients((coef_y,), tables, height, width),
                "coefficients": (coef_y,),
                "delta": (tf.reshape(delta_y, [n, hb, wb, 8, 8]),),
            }
        hbc, wbc = tf.shape(chroma[0])[1], tf.shape(chroma[0])[2]
        logits = self.chroma_head(z_on_chroma_grid(x, hbc, wbc, fh, fv))
        deltas = [delta_y]
        coefs = [coef_y]
        for c in (1, 2):
            lo = (c - 1) * 64
            d = self._delta(
                logits[..., lo : lo + 64],
                chroma[c - 1],
                log_m[c],
                self.offsets[c],
                gate[:, 64 * c : 64 * c + 64],
            )
            deltas.append(d)
            coefs.append(tf.reshape(chroma[c - 1] + d, [n, hbc, wbc, 8, 8]))
        return {
            **image_from_coefficients(tuple(coefs), tables, height, width, fh, fv),
            "coefficients": tuple(coefs),
            "delta": tuple(tf.reshape(d, tf.shape(c)) for d, c in zip(deltas, coefs, strict=True)),
        }

    @classmethod
    def from_preset(cls, preset: str) -> BlockUNetDecoder:
        """The shipped model ``preset`` (a registry name, :mod:`tfjpeg.models`) with its
        weights; cached, so callers share one instance.

        Example:
            >>> model = BlockUNetDecoder.from_preset("block-unet")  # doctest: +SKIP
        """
        from tfjpeg.models.presets import load

        return load(preset, cls=cls)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            widths=list(self.widths),
            depths=list(self.depths),
            leaky_slope=self.leaky_slope,
            offset_init=self.offset_init,
            delta_margin=self.delta_margin,
        )
        return config
