"""The consistent DCT-domain decoder of explorable JPEG decoding (Bahat & Michaeli 2021).

The network never outputs pixels. For every 8×8 block of quantized coefficients X_Q it predicts a
residual Δ with entries in (−½, ½) and reconstructs X̂_D = (X_Q + Δ) ⊙ M, so re-quantizing its
output gives back exactly the file's coefficients: every decoding is consistent with the JPEG by
construction (§3.2). A control signal z (same grid as X_Q, 64 channels) is concatenated to every
layer's input, so different z give different — all consistent — decodings (§3.2, §5).
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfjpeg.decoders.geometry import (
    chroma_factors,
    coefficients_to_plane,
    fit_plane,
    image_from_coefficients,
    luma_on_chroma_grid,
    z_on_chroma_grid,
)
from tfjpeg.decoders.inputs import unpack_call_inputs
from tfjpeg.jpeg.tables import component_table

__all__ = ["NORMALIZATIONS", "ConsistentDecoder", "ConvStack"]

#: Normalization layers the conv stacks can use (the paper: batch for ψ, layer for the critic).
NORMALIZATIONS = ("batch", "layer", "none")

_COEF_SCALE = 1.0 / 32.0  # dequantized 8×8 DCT values → network input scale
_LUMA16_SCALE = 1.0 / 64.0  # 16×16 DCT of the luma (twice the 8×8 DC gain)
_XQ_CLIP = 8.0  # quantized coefficients enter also as clip(X_Q, ±8)/8 ("which bin")


def _log_table(table: tf.Tensor) -> tf.Tensor:
    """(N, 8, 8) table → (N, 64) features (log M − 3) / 2, about [−1.5, 1.3] for 8-bit tables."""
    n = tf.shape(table)[0]
    return (tf.math.log(tf.reshape(table, [n, 64])) - 3.0) / 2.0


def _make_norm(norm: str, name: str) -> keras.layers.Layer | None:
    if norm == "batch":
        return keras.layers.BatchNormalization(name=name)
    if norm == "layer":
        return keras.layers.LayerNormalization(name=name)
    return None


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return value


@keras.saving.register_keras_serializable(package="tfjpeg")
class ConvStack(keras.layers.Layer):
    """N_ℓ × (3×3 conv → norm → LeakyReLU) with a control signal concatenated to every input.

    A table embedding (a dense map of the log quantization table) is added after the first conv,
    which is the same as feeding the spatially constant table as extra input channels but cheaper.
    The last 3×3 conv (also fed the control signal) gives ``outputs`` channels.

    Args:
        width: channels of the hidden layers.
        depth: number of conv → norm → LeakyReLU layers N_ℓ.
        outputs: channels of the last conv.
        norm: "batch", "layer" or "none".
        leaky_slope: negative slope of the LeakyReLU.
        spectral: wrap every conv in spectral normalization (the WGAN critic).

    Reference: Bahat & Michaeli 2021, §3.2 and appendix E.
    """

    def __init__(
        self,
        width: int,
        depth: int,
        outputs: int,
        norm: str = "batch",
        leaky_slope: float = 0.2,
        spectral: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _positive_int("width", width)
        _positive_int("depth", depth)
        _positive_int("outputs", outputs)
        if norm not in NORMALIZATIONS:
            raise ValueError(f"norm must be one of {NORMALIZATIONS}. Received: norm={norm!r}")
        if not 0.0 <= float(leaky_slope) < 1.0:
            raise ValueError(f"leaky_slope must be in [0, 1). Received: leaky_slope={leaky_slope}")
        self.width = width
        self.depth = depth
        self.outputs = outputs
        self.norm = norm
        self.leaky_slope = float(leaky_slope)
        self.spectral = bool(spectral)

        def conv(filters: int, name: str, scale: float = 1.0) -> keras.layers.Layer:
            init = (
                keras.initializers.VarianceScaling(scale, "fan_in", "truncated_normal")
                if scale > 0
                else "zeros"
            )
            layer = keras.layers.Conv2D(
                filters, 3, padding="same", kernel_initializer=init, name=name
            )
            if self.spectral:
                return keras.layers.SpectralNormalization(layer, name=f"sn_{name}")
            return layer

        # Plain attributes, not lists: TF checkpoints (tf.train.Checkpoint, SavedModel
        # variables) do not track Keras 3 layers held in Python lists.
        for i in range(depth):
            setattr(self, f"conv{i}", conv(width, f"conv{i}", 2.0))
            layer = _make_norm(norm, f"norm{i}")
            if layer is not None:
                setattr(self, f"norm{i}", layer)
        self.table_embedding = keras.layers.Dense(width, name="table_embedding")
        self.head = conv(outputs, "head", 0.0)

    @property
    def convs(self) -> list[keras.layers.Layer]:
        """The hidden convolutions, first to last."""
        return [getattr(self, f"conv{i}") for i in range(self.depth)]

    @property
    def norms(self) -> list[keras.layers.Layer | None]:
        """The normalization layer after each hidden convolution (None for norm="none")."""
        return [getattr(self, f"norm{i}", None) for i in range(self.depth)]

    def call(
        self, features: tf.Tensor, control: tf.Tensor, table_features: tf.Tensor, training=None
    ) -> tf.Tensor:
        h = features
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            h = conv(tf.concat([h, control], axis=-1))
            if i == 0:
                h = h + self.table_embedding(table_features)[:, None, None, :]
            if norm is not None:
                h = norm(h, training=training)
            h = tf.nn.leaky_relu(h, alpha=self.leaky_slope)
        return self.head(tf.concat([h, control], axis=-1))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            width=self.width,
            depth=self.depth,
            outputs=self.outputs,
            norm=self.norm,
            leaky_slope=self.leaky_slope,
            spectral=self.spectral,
        )
        return config


@keras.saving.register_keras_serializable(package="tfjpeg")
class ConsistentDecoder(keras.Model):
    """Consistent JPEG decoder ψ(X_Q, z): luma and chroma networks in the DCT domain.

    Call it on a dict (fixed keys) of one batch of same-size files:

    - ``"y"``: quantized luma coefficients, (N, hb, wb, 8, 8) in natural order (as
      :func:`tfjpeg.io.read_jpeg` and :func:`tfjpeg.jpeg.encode` give them);
    - ``"cb"``, ``"cr"``: quantized chroma coefficients (N, hbc, wbc, 8, 8); omit for gray files;
    - ``"tables"``: (N, 2, 8, 8) [luma, chroma] or (N, 3, 8, 8) per-component tables — the table
      is an input, so one model serves every quality;
    - ``"height"``, ``"width"``: image size (int scalars);
    - ``"z"``: optional control signal (N, hb, wb, 64); zeros when absent;

    with ``subsampling`` "420" (default), "422", "440", "444" or "gray" as a call argument, or
    the chroma factors (fh, fv) as int32 scalar tensors (one graph for every colour layout, as in
    the SavedModels; the same numbers as the layout's name).

    **Luma** (§3.2): the m×n×64 grid of X_Q (as dequantized values and as the clipped bin
    index) passes N_ℓ layers of 3×3 conv → norm → LeakyReLU with z concatenated to every layer's
    input and a table embedding, then a 3×3 conv to 64 channels; a shifted sigmoid gives
    Δ ∈ (−½, ½) (scaled by ``1 − 2·delta_margin`` so float round-off in the IDCT → DCT round trip
    cannot cross a bin edge). A learnable per-frequency reconstruction offset
    ``sign(X_Q) · (a_k + b_k · log-table_k)`` is added to the sigmoid's input: the classical
    biased reconstruction towards zero of Laplacian-distributed coefficients, initialised to
    Δ ≈ −0.1·sign(X_Q). X̂_D = (X_Q + Δ) ⊙ M; block IDCT.

    **Chroma** (§4.1–4.2): the 16×16 DCT of the decoded luma under each chroma block (256
    channels) concatenated with the chroma blocks (their 64 nonzero low-frequency channels; the
    zero padding to 16×16 is dropped as in the paper's footnote 3) and z averaged onto the chroma
    grid, through the same kind of stack (``chroma_width``), giving Δ for Cb and Cr. Chroma
    planes are upsampled with :func:`consistent_upsample`, whose box average is exactly the
    decoded chroma, so the colour output stays consistent too. Other layouts than 4:2:0 repeat
    the luma by (2/fh, 2/fv) first, so each chroma block still covers 16×16 luma samples.

    Returns a dict with fixed keys: ``"decoded"`` float32 (N, H, W, C) in [0, 255] (RGB, or
    gray); ``"ycbcr"`` the unclipped full-resolution planes (N, H, W, C); ``"coefficients"`` the
    tuple of reconstructed coefficients X_Q + Δ per component (quantized units); ``"delta"`` the
    tuple of Δ.

    Args:
        luma_width, luma_depth: hidden channels and layers of the luma stack (paper: 320, 10).
        chroma_width, chroma_depth: the same for the chroma stack (paper: 160, 10).
        norm: "batch" (paper), "layer" or "none".
        leaky_slope: LeakyReLU slope.
        offset_init: initial a_k of the per-frequency offset (sigmoid-input units; −0.4 gives
            Δ ≈ −0.1 on nonzero coefficients).
        delta_margin: Δ ∈ (−½ + margin, ½ − margin).

    Example:
        >>> dec = ConsistentDecoder(luma_width=16, luma_depth=2, chroma_width=8, chroma_depth=1)
        >>> jpeg = read_jpeg("photo.jpg")  # doctest: +SKIP
        >>> out = dec(decoder_inputs(jpeg), subsampling=jpeg.subsampling)  # doctest: +SKIP

    Reference: Bahat & Michaeli, "What's in the Image? Explorable Decoding of Compressed
    Images", CVPR 2021, §3–4 and appendix E.
    """

    def __init__(
        self,
        luma_width: int = 320,
        luma_depth: int = 10,
        chroma_width: int = 160,
        chroma_depth: int = 10,
        norm: str = "batch",
        leaky_slope: float = 0.2,
        offset_init: float = -0.4,
        delta_margin: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= float(delta_margin) < 0.5:
            raise ValueError(
                f"delta_margin must be in [0, 0.5). Received: delta_margin={delta_margin}"
            )
        if not math.isfinite(float(offset_init)):
            raise ValueError(f"offset_init must be finite. Received: offset_init={offset_init}")
        self.luma_width = luma_width
        self.luma_depth = luma_depth
        self.chroma_width = chroma_width
        self.chroma_depth = chroma_depth
        self.norm = norm
        self.leaky_slope = float(leaky_slope)
        self.offset_init = float(offset_init)
        self.delta_margin = float(delta_margin)
        self.luma_net = ConvStack(luma_width, luma_depth, 64, norm, leaky_slope, name="luma")
        self.chroma_net = ConvStack(
            chroma_width, chroma_depth, 128, norm, leaky_slope, name="chroma"
        )
        init = keras.initializers.Constant(
            np.stack([np.full(64, self.offset_init), np.zeros(64)]).astype(np.float32)
        )
        self.luma_offset = self.add_weight(shape=(2, 64), initializer=init, name="luma_offset")
        self.cb_offset = self.add_weight(shape=(2, 64), initializer=init, name="cb_offset")
        self.cr_offset = self.add_weight(shape=(2, 64), initializer=init, name="cr_offset")

    # ---------------------------------------------------------------------------- pieces
    def _delta(self, logits: tf.Tensor, xq: tf.Tensor, log_m: tf.Tensor, offset) -> tf.Tensor:
        """Shifted sigmoid of logits + sign(X_Q)·(a + b·log M): Δ ∈ (−½ + margin, ½ − margin)."""
        per_freq = offset[0] + offset[1] * log_m[:, None, None, :]
        logits = logits + tf.sign(xq) * per_freq
        return (tf.sigmoid(logits) - 0.5) * (1.0 - 2.0 * self.delta_margin)

    @staticmethod
    def _features(xq: tf.Tensor, table: tf.Tensor) -> tf.Tensor:
        m = tf.reshape(table, [tf.shape(table)[0], 1, 1, 64])
        return [xq * m * _COEF_SCALE, tf.clip_by_value(xq, -_XQ_CLIP, _XQ_CLIP) / _XQ_CLIP]

    def call(self, inputs: dict[str, Any], training=None, subsampling: str = "420") -> dict:
        y, n, hb, wb, tables, height, width, z, gray = unpack_call_inputs(inputs, subsampling)

        # Luma (§3.2).
        table_y = component_table(tables, 0)
        log_y = _log_table(table_y)
        xq_y = tf.reshape(y, [n, hb, wb, 64])
        logits = self.luma_net(
            tf.concat(self._features(xq_y, table_y), -1), z, log_y, training=training
        )
        delta_y = self._delta(logits, xq_y, log_y, self.luma_offset)
        coef_y = tf.reshape(xq_y + delta_y, [n, hb, wb, 8, 8])
        if gray:
            return {
                **image_from_coefficients((coef_y,), tables, height, width),
                "coefficients": (coef_y,),
                "delta": (tf.reshape(delta_y, [n, hb, wb, 8, 8]),),
            }
        luma = fit_plane(coefficients_to_plane(coef_y, table_y), height, width)

        # Chroma (§4.2).
        fh, fv = chroma_factors(subsampling) if isinstance(subsampling, str) else subsampling
        cb = tf.cast(inputs["cb"], tf.float32)
        cr = tf.cast(inputs["cr"], tf.float32)
        cshape = tf.shape(cb)
        hbc, wbc = cshape[1], cshape[2]
        table_cb, table_cr = component_table(tables, 1), component_table(tables, 2)
        log_cb, log_cr = _log_table(table_cb), _log_table(table_cr)
        xq_cb = tf.reshape(cb, [n, hbc, wbc, 64])
        xq_cr = tf.reshape(cr, [n, hbc, wbc, 64])
        luma16 = luma_on_chroma_grid(tf.stop_gradient(luma), (cb, cr), fh, fv)
        features = tf.concat(
            [
                luma16 * _LUMA16_SCALE,
                *self._features(xq_cb, table_cb),
                *self._features(xq_cr, table_cr),
            ],
            axis=-1,
        )
        z_c = z_on_chroma_grid(z, hbc, wbc, fh, fv)
        logits = self.chroma_net(features, z_c, tf.concat([log_cb, log_cr], -1), training=training)
        delta_cb = self._delta(logits[..., :64], xq_cb, log_cb, self.cb_offset)
        delta_cr = self._delta(logits[..., 64:], xq_cr, log_cr, self.cr_offset)
        coef_cb = tf.reshape(xq_cb + delta_cb, [n, hbc, wbc, 8, 8])
        coef_cr = tf.reshape(xq_cr + delta_cr, [n, hbc, wbc, 8, 8])
        coefs = (coef_y, coef_cb, coef_cr)
        return {
            **image_from_coefficients(coefs, tables, height, width, fh, fv),
            "coefficients": (coef_y, coef_cb, coef_cr),
            "delta": tuple(
                tf.reshape(d, tf.shape(c))
                for d, c in zip(
                    (delta_y, delta_cb, delta_cr), (coef_y, coef_cb, coef_cr), strict=True
                )
            ),
        }

    @property
    def receptive_field_blocks(self) -> int:
        """How far (luma blocks, any direction) an input block can change an output
        coefficient: the luma stack's 3×3 convs (depth + head), the chroma stack's on a grid
        of two luma blocks, which also sees the 16×16 luma under each chroma block."""
        luma = self.luma_depth + 1
        return max(luma, 2 * (self.chroma_depth + 1) + luma + 2)

    @classmethod
    def from_preset(cls, preset: str) -> ConsistentDecoder:
        """The shipped model ``preset`` (a registry name, :mod:`tfjpeg.models`) with its
        weights; cached, so callers share one instance.

        Example:
            >>> model = ConsistentDecoder.from_preset("consistent-l1")  # doctest: +SKIP
        """
        from tfjpeg.models.presets import load

        return load(preset, cls=cls)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            luma_width=self.luma_width,
            luma_depth=self.luma_depth,
            chroma_width=self.chroma_width,
            chroma_depth=self.chroma_depth,
            norm=self.norm,
            leaky_slope=self.leaky_slope,
            offset_init=self.offset_init,
            delta_margin=self.delta_margin,
        )
        return config
