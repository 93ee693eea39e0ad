"""The one-to-many network of Guo & Chao 2017: a noise-driven proposal network on pixels.

:class:`OneToManyDecoder` is the *proposal component* of "One-to-Many Network for Visually
Pleasing Compression Artifacts Reduction" (CVPR 2017, §3.2): an image branch on the standard
decoding of the file and a z branch on a noise map, each a stride-2 convolution followed by
residual units (the pre-activation units of He et al. 2016: BN → ReLU → conv, twice), their
features concatenated and passed through an aggregation sub-network of residual units, then a
stride-2 deconvolution back to full resolution followed by **shift-and-average** (§3.2.2: the
deconvolution's output averaged with its copies shifted by one pixel right, down, and right and
down), so that a constant input gives a constant output and the deconvolution cannot print the
grid-like (checkerboard) pattern of a filter whose four phases have different sums.

It follows the call contract of every tfjpeg decoder (:func:`tfjpeg.decoders.inputs.
unpack_call_inputs`): quantized blocks and tables in, reconstructed coefficients out, so the
decoding core (:func:`tfjpeg.decoders.core.decode_core`) runs it on tiles, projects its output
onto the file's consistent set and rounds to uint8 with the exact correction, in ``tfjpeg.decode``
and in the SavedModel alike. Concretely:

- the **image branch** sees the standard decoding, computed in-graph from the inputs (every
  coefficient at its bin centre, :func:`tfjpeg.decoders.geometry.image_from_coefficients`), as
  full-resolution YCbCr planes on the padded block grid; a dense map of the log tables is added
  after its first convolution, so one model serves every quality (the paper trains one model per
  quality; this is the deviation that lets the table-driven decoding core serve it);
- the **z branch** sees a one-channel noise map at full resolution: the control signal z
  (hb, wb, 64) of the call contract with each block's 64 values laid out as its 8×8 pixels
  (``depth_to_space``). The paper samples z from N(0, σ²) (§3.2); :func:`tfjpeg.explore.control.
  noise_from_seed` draws exactly that from a seed, statelessly, so ``tfjpeg.decode(...,
  seed=s)`` and the SavedModel's ``seed`` input give the same decoding. z = 0 (seed < 0 in the
  SavedModel, no seed in the API) is the noise-free decoding. A noise value per pixel is the
  paper's noise map; z on the block grid keeps the decoding core's tiling exact (a window's z is
  the slice of the file's z);
- the network predicts a **residual** in YCbCr (255 × the output of shift-and-average) added to
  the standard decoding; the last deconvolution starts at zero, so an untrained model is the
  standard decoding;
- the output planes are moved back to coefficients as the encoder would (chroma: the encoder's
  box downsampling; :func:`tfjpeg.decoders.geometry.plane_to_coefficients`), unrounded and
  unclipped: the paper's JPEG loss pulls them into their quantization intervals during training,
  the decoding core's projection puts them there at inference.

Reference: J. Guo and H. Chao, "One-to-Many Network for Visually Pleasing Compression Artifacts
Reduction", CVPR 2017, §3.2 (Fig. 3, 4); K. He et al., "Identity Mappings in Deep Residual
Networks", ECCV 2016 (the residual unit).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfjpeg.decoders.geometry import (
    chroma_factors,
    downsample_box,
    image_from_coefficients,
    plane_to_coefficients,
)
from tfjpeg.decoders.inputs import unpack_call_inputs
from tfjpeg.jpeg.blocks import ceil_div, pad_edges
from tfjpeg.jpeg.tables import component_table

__all__ = ["OneToManyDecoder", "ResidualUnit", "shift_and_average"]

#: What ``control_signal`` says about z: a noise map (per-pixel N(0, 1) values), see
#: :func:`tfjpeg.explore.control.control_from_seed`.
NOISE = "noise"
_NORMS = ("batch", "none")


def shift_and_average(x: tf.Tensor, stride: int = 2) -> tf.Tensor:
    """Guo & Chao 2017 §3.2.2: average a stride-``stride`` deconvolution's output with its
    copies shifted right, down, and right and down by 0 … stride−1 pixels (stride² shifts in
    all), so that every output pixel mixes each phase of the filter once and a constant input
    gives a constant output. The shifted copies repeat the first row / column at the border.

    Args:
        x: (N, H, W, C).
        stride: the deconvolution's stride.
    """
    total = 0.0
    for dy in range(stride):
        for dx in range(stride):
            shifted = x
            if dy:
                shifted = tf.concat([tf.repeat(shifted[:, :1], dy, axis=1), shifted[:, :-dy]], 1)
            if dx:
                shifted = tf.concat(
                    [tf.repeat(shifted[:, :, :1], dx, axis=2), shifted[:, :, :-dx]], 2
                )
            total = total + shifted
    return total / float(stride * stride)


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return value


def _check_non_negative(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0. Received: {name}={value!r}")
    return value


def _conv(filters: int, kernel: int, name: str, strides: int = 1) -> keras.layers.Conv2D:
    # The paper's He uniform initializer (§4, "Parameter Settings").
    return keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        kernel_initializer=keras.initializers.HeUniform(),
        name=name,
    )


@keras.saving.register_keras_serializable(package="tfjpeg")
class ResidualUnit(keras.layers.Layer):
    """He et al. 2016's pre-activation residual unit: x + conv(ReLU(BN(conv(ReLU(BN(x)))))),
    3×3 convolutions of ``width`` channels (Guo & Chao 2017 §3.2.1).

    Args:
        width: channels (input and output).
        norm: "batch" (the paper) or "none".
    """

    def __init__(self, width: int, norm: str = "batch", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width = _check_positive("width", width)
        if norm not in _NORMS:
            raise ValueError(f"norm must be one of {_NORMS}. Received: norm={norm!r}")
        self.norm = norm
        self.conv_a = _conv(width, 3, "conv_a")
        self.conv_b = _conv(width, 3, "conv_b")
        if norm == "batch":
            self.norm_a = keras.layers.BatchNormalization(name="norm_a")
            self.norm_b = keras.layers.BatchNormalization(name="norm_b")

    def _pre(self, x: tf.Tensor, which: str, training) -> tf.Tensor:
        if self.norm == "batch":
            x = getattr(self, f"norm_{which}")(x, training=training)
        return tf.nn.relu(x)

    def call(self, x: tf.Tensor, training=None) -> tf.Tensor:
        h = self.conv_a(self._pre(x, "a", training))
        return x + self.conv_b(self._pre(h, "b", training))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(width=self.width, norm=self.norm)
        return config


@keras.saving.register_keras_serializable(package="tfjpeg")
class OneToManyDecoder(keras.Model):
    """The proposal network of Guo & Chao 2017 as a tfjpeg decoder (see the module docstring).

    Inputs and outputs as :class:`~tfjpeg.decoders.ConsistentDecoder` (a dict with ``"y"``,
    ``"cb"``, ``"cr"``, ``"tables"``, ``"height"``, ``"width"``, optional ``"z"`` (N, hb, wb,
    64), the noise map; the ``subsampling`` call argument; returns ``"decoded"``, ``"ycbcr"``,
    ``"coefficients"`` (quantized units, unrounded, not clipped to their bins), ``"delta"``
    (coefficients − X_Q)).

    Args:
        width: channels of every convolution but the last (paper: 64).
        branch_units: residual units of the image branch and of the z branch each.
        aggregate_units: residual units of the aggregation sub-network.
        norm: "batch" (the paper) or "none".

    Example:
        >>> dec = OneToManyDecoder(width=8, branch_units=1, aggregate_units=1)
        >>> out = dec(decoder_inputs(jpeg)[0], subsampling="420")  # doctest: +SKIP

    Reference: Guo & Chao, CVPR 2017, §3.2.
    """

    #: z is a per-pixel noise map (:func:`tfjpeg.explore.control.control_from_seed`).
    control_signal = NOISE

    def __init__(
        self,
        width: int = 64,
        branch_units: int = 5,
        aggregate_units: int = 10,
        norm: str = "batch",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.width = _check_positive("width", width)
        self.branch_units = _check_non_negative("branch_units", branch_units)
        self.aggregate_units = _check_non_negative("aggregate_units", aggregate_units)
        if norm not in _NORMS:
            raise ValueError(f"norm must be one of {_NORMS}. Received: norm={norm!r}")
        self.norm = norm
        # Plain attributes (not lists) so TF checkpoints track every layer.
        for branch in ("image", "noise"):
            setattr(self, f"{branch}_stem", _conv(width, 3, f"{branch}_stem"))
            setattr(self, f"{branch}_down", _conv(width, 3, f"{branch}_down", strides=2))
            for k in range(branch_units):
                setattr(self, f"{branch}_unit{k}", ResidualUnit(width, norm, name=f"{branch}_{k}"))
        self.table_embedding = keras.layers.Dense(width, name="table_embedding")
        self.merge = _conv(width, 1, "merge")
        for k in range(aggregate_units):
            setattr(self, f"aggregate_unit{k}", ResidualUnit(width, norm, name=f"aggregate_{k}"))
        if norm == "batch":
            self.out_norm = keras.layers.BatchNormalization(name="out_norm")
        self.up = keras.layers.Conv2DTranspose(
            3, 4, strides=2, padding="same", kernel_initializer="zeros", name="up"
        )

    # ------------------------------------------------------------------ geometry
    @property
    def receptive_field_pixels(self) -> int:
        """A bound on how far (pixels) an input pixel reaches an output pixel: the stem 3×3
        (1), the stride-2 3×3 (2), two 3×3 convolutions per residual unit at half resolution
        (4 each), the 4×4 stride-2 deconvolution (2) and shift-and-average (1)."""
        return 1 + 2 + 4 * (self.branch_units + self.aggregate_units) + 2 + 1

    @property
    def receptive_field_blocks(self) -> int:
        """The same in luma blocks, plus the reach of the standard decoding's chroma
        upsampling (a chroma block and its neighbours: 4 luma blocks) and of the chroma
        output block (16 luma samples: 2 luma blocks), plus one for block rounding."""
        return -(-self.receptive_field_pixels // 8) + 4 + 2 + 1

    # ------------------------------------------------------------------ pieces
    def _branch(self, name: str, x: tf.Tensor, training, bias: tf.Tensor | None = None):
        x = getattr(self, f"{name}_stem")(x)
        if bias is not None:
            x = x + bias[:, None, None, :]
        x = getattr(self, f"{name}_down")(tf.nn.relu(x))
        for k in range(self.branch_units):
            x = getattr(self, f"{name}_unit{k}")(x, training=training)
        return x

    def _residual(self, planes: tf.Tensor, noise: tf.Tensor, table_features, training):
        """(N, H, W, 3) YCbCr planes (H, W multiples of 8) and (N, H, W, 1) noise → residual."""
        bias = self.table_embedding(table_features)
        image = self._branch("image", (planes - 128.0) / 64.0, training, bias)
        noisy = self._branch("noise", noise, training)
        x = self.merge(tf.concat([image, noisy], axis=-1))
        for k in range(self.aggregate_units):
            x = getattr(self, f"aggregate_unit{k}")(x, training=training)
        if self.norm == "batch":
            x = self.out_norm(x, training=training)
        return 255.0 * shift_and_average(self.up(tf.nn.relu(x)))

    # ------------------------------------------------------------------ call
    def call(self, inputs: dict[str, Any], training=None, subsampling: str = "420") -> dict:
        y, n, hb, wb, tables, height, width, z, gray = unpack_call_inputs(inputs, subsampling)
        per_comp = [tf.reshape(component_table(tables, c), [n, 64]) for c in range(3)]
        table_features = tf.concat([(tf.math.log(t) - 3.0) / 2.0 for t in per_comp], axis=-1)
        noise = tf.nn.depth_to_space(z, 8)  # (N, 8hb, 8wb, 1): one value per pixel
        if gray:
            fh = fv = 1
            xq: tuple[tf.Tensor, ...] = (y,)
        else:
            fh, fv = chroma_factors(subsampling) if isinstance(subsampling, str) else subsampling
            xq = (y, tf.cast(inputs["cb"], tf.float32), tf.cast(inputs["cr"], tf.float32))
        # The image branch's input: the standard decoding on the padded block grid.
        standard = image_from_coefficients(xq, tables, height, width, fh, fv)["ycbcr"]
        planes = pad_edges(standard, 8 * hb, 8 * wb)
        if gray:
            neutral = tf.fill(tf.shape(planes), 128.0)
            planes = tf.concat([planes, neutral, neutral], -1)  # Y, Cb = Cr = 128
        out = planes + self._residual(planes, noise, table_features, training)
        coefs = []
        for c, comp in enumerate(xq):
            # As the encoder: the image edge-padded to whole blocks (chroma: whole cells, box
            # downsampled, then whole chroma blocks).
            rows, cols = tf.shape(comp)[1], tf.shape(comp)[2]
            f_h, f_v = (1, 1) if c == 0 else (fh, fv)
            plane = out[:, :height, :width, c : c + 1]
            plane = pad_edges(plane, ceil_div(height, f_v) * f_v, 8 * cols * f_h)[..., 0]
            plane = downsample_box(plane, f_h, f_v) if c else plane
            plane = pad_edges(plane[..., None], 8 * rows, 8 * cols)[..., 0]
            coefs.append(plane_to_coefficients(plane, component_table(tables, c)))
        coefs = tuple(coefs)
        return {
            **image_from_coefficients(coefs, tables, height, width, fh, fv),
            "coefficients": coefs,
            "delta": tuple(c - x for c, x in zip(coefs, xq, strict=True)),
        }

    @classmethod
    def from_preset(cls, preset: str) -> OneToManyDecoder:
        """The shipped model ``preset`` (a registry name, :mod:`tfjpeg.models`), cached.

        Example:
            >>> model = OneToManyDecoder.from_preset("one-to-many")  # doctest: +SKIP
        """
        from tfjpeg.models.presets import load

        return load(preset, cls=cls)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            width=self.width,
            branch_units=self.branch_units,
            aggregate_units=self.aggregate_units,
            norm=self.norm,
        )
        return config


__all__ += ["NOISE"]
