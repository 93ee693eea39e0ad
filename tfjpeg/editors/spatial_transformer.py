"""The patch-based spatial transformer editor of deep pre-editing (Talebi et al. 2020, §3.2.2)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from tfjpeg._checks import check_quality
from tfjpeg.editors.conditioning import constant_channel, per_image
from tfjpeg.editors.padding import crop_to, pad_to_multiple
from tfjpeg.editors.sampler import bilinear_sample
from tfjpeg.editors.smoothing import ReflectConv2D, _check_positive_int

__all__ = ["PATCH_SIZE", "SpatialTransformerEditor", "averaged_sampling_grid"]

#: Side of the warped patch centred on each 8×8 JPEG block (§3.2.2).
PATCH_SIZE = 32
_BLOCK = 8


def _window_sums(fields: Any) -> Any:
    """Sum of block-level fields over the 4×4 patches that cover each half-block.

    A 32×32 patch centred on block k spans [8k − 12, 8k + 20): a pixel in the first half of block
    i (offset 0..3) lies in the patches of blocks i−2..i+1, one in the second half in those of
    blocks i−1..i+2. With ``W[m] = Σ_{k=m−2}^{m+1} F[k]`` (zero outside the image) the first half
    of block i uses ``W[i]`` and the second half ``W[i+1]``.

    Args:
        fields: (N, hb, wb, C) per-block values.

    Returns:
        (N, 2·hb, 2·wb, C) sums at half-block resolution.
    """
    padded = ops.pad(fields, ((0, 0), (2, 2), (2, 2), (0, 0)))
    channels = ops.shape(fields)[-1]
    kernel = ops.ones((4, 4, 1, 1), dtype=fields.dtype)
    # Depthwise 4×4 box sum, stride 1: (hb + 1, wb + 1) window positions m = 0..hb.
    kernel = ops.tile(kernel, (1, 1, channels, 1))
    sums = ops.depthwise_conv(padded, kernel, strides=1, padding="valid")
    shape = ops.shape(fields)
    hb, wb = shape[1], shape[2]
    rows = (ops.arange(2 * hb, dtype="int32") + 1) // 2  # half t → W[(t + 1) // 2]
    cols = (ops.arange(2 * wb, dtype="int32") + 1) // 2
    return ops.take(ops.take(sums, rows, axis=1), cols, axis=2)


def averaged_sampling_grid(params: Any, height: Any, width: Any) -> tuple[Any, Any]:
    """Per-pixel sampling positions: each 32×32 patch's affine grid, averaged where they overlap.

    Patch k (centred at c_k, the centre of 8×8 block k) maps pixel p to
    ``c_k + A_k (p − c_k) + 16 t_k`` (the affine transform acts on patch coordinates in [−1, 1],
    half-size 16 px). Every pixel is covered by 4×4 patches; their grid values for that pixel are
    averaged, so neighbouring blocks' warps join without seams. The central 8×8 of each patch is
    where its own grid is used, together with its neighbours'.

    Args:
        params: (N, hb, wb, 6) per block ``(a11, a12, a21, a22, t_row, t_col)`` with
            ``A = I + [[a11, a12], [a21, a22]]`` in (row, col) order.
        height, width: the padded image size, 8·hb × 8·wb.

    Returns:
        (rows, cols): float32 (N, height, width) source coordinates.
    """
    params = ops.cast(params, "float32")
    shape = ops.shape(params)
    n, hb, wb = shape[0], shape[1], shape[2]
    half = PATCH_SIZE / 2.0
    centre_r = ops.cast(ops.arange(hb), "float32") * _BLOCK + (_BLOCK - 1) / 2.0
    centre_c = ops.cast(ops.arange(wb), "float32") * _BLOCK + (_BLOCK - 1) / 2.0
    cr = ops.broadcast_to(ops.reshape(centre_r, (1, -1, 1)), (n, hb, wb))
    cc = ops.broadcast_to(ops.reshape(centre_c, (1, 1, -1)), (n, hb, wb))
    a11, a12, a21, a22, tr, tc = (params[..., i] for i in range(6))
    # displacement_k(p) = D_k p − D_k c_k + 16 t_k, D_k = A_k − I: linear in p, so average the
    # coefficients D_k and the offsets (−D_k c_k + 16 t_k) over the covering patches.
    off_r = -(a11 * cr + a12 * cc) + half * tr
    off_c = -(a21 * cr + a22 * cc) + half * tc
    fields = ops.stack([a11, a12, a21, a22, off_r, off_c, ops.ones_like(a11)], axis=-1)
    sums = _window_sums(fields)
    mean = sums[..., :6] / sums[..., 6:7]
    # Half-block (4×4 pixels) resolution → pixels.
    pix_r = ops.arange(height, dtype="int32") // (_BLOCK // 2)
    pix_c = ops.arange(width, dtype="int32") // (_BLOCK // 2)
    mean = ops.take(ops.take(mean, pix_r, axis=1), pix_c, axis=2)
    pr = ops.reshape(ops.cast(ops.arange(height), "float32"), (1, -1, 1))
    pc = ops.reshape(ops.cast(ops.arange(width), "float32"), (1, 1, -1))
    rows = pr + mean[..., 0] * pr + mean[..., 1] * pc + mean[..., 4]
    cols = pc + mean[..., 2] * pr + mean[..., 3] * pc + mean[..., 5]
    return rows, cols


@keras.saving.register_keras_serializable(package="tfjpeg")
class SpatialTransformerEditor(keras.Model):
    """Patch-based spatial transformer (STN) that warps an image locally before JPEG.

    A small CNN with reflect padding (a full-resolution convolution, three stride-2 convolutions
    down to one position per 8×8 JPEG block, then ``context_layers`` 3×3 convolutions at block
    resolution) predicts 6 affine parameters for the 32×32 patch centred on every block (§3.2.2,
    Fig. 4): ``A = I + max_linear·tanh(·)`` and a translation ``max_translation·tanh(·)`` in
    patch units (1 = 16 px). Each patch's sampling grid is the affine map of its pixel grid; grid
    values that overlap between neighbouring patches are averaged (:func:`averaged_sampling_grid`),
    and the image is bilinearly resampled (:func:`tfjpeg.editors.sampler.bilinear_sample`). The
    last convolution starts at zero, so an untrained editor is the identity.

    ``editor(images, quality=None, training=False)`` takes float RGB (N, H, W, 3) in [0, 255], any
    H, W (reflect-padded to a multiple of 8, cropped back) and returns a dict: ``"edited"``,
    ``"displacement"`` (N, H, W, 2) (source − target position, pixels, (row, col)) and
    ``"affine"`` (N, ceil(H/8), ceil(W/8), 6).

    Args:
        filters: feature maps of the localisation CNN.
        context_layers: 3×3 convolutions at block resolution (receptive field ≳ one 32×32 patch).
        leaky_slope: LeakyReLU negative slope.
        max_linear: bound of the linear part's deviation from the identity.
        max_translation: bound of the translation, in half-patches (16 px).
        quality: default JPEG quality (conditioning channel) when the call gives none.

    Reference: Talebi et al. 2020, §3.2.2; Jaderberg et al. 2015 (spatial transformers);
    Rott Shaham & Michaeli 2018 (deformation-aware compression).
    """

    def __init__(
        self,
        filters: int = 64,
        context_layers: int = 2,
        leaky_slope: float = 0.2,
        max_linear: float = 0.25,
        max_translation: float = 0.25,
        quality: float = 20.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_positive_int("filters", filters)
        if (
            isinstance(context_layers, bool)
            or not isinstance(context_layers, int)
            or context_layers < 0
        ):
            raise ValueError(
                "context_layers must be a non-negative integer. "
                f"Received: context_layers={context_layers!r}"
            )
        if not 0.0 <= float(leaky_slope) < 1.0:
            raise ValueError(f"leaky_slope must be in [0, 1). Received: leaky_slope={leaky_slope}")
        for name, value in (("max_linear", max_linear), ("max_translation", max_translation)):
            if not 0.0 < float(value) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]. Received: {name}={value}")
        check_quality(quality, integer=False)
        self.filters = filters
        self.context_layers = context_layers
        self.leaky_slope = float(leaky_slope)
        self.max_linear = float(max_linear)
        self.max_translation = float(max_translation)
        self.quality = float(quality)
        f4 = max(filters // 4, 1)
        f2 = max(filters // 2, 1)
        self.convs = [
            ReflectConv2D(f4, 3, name="loc_conv0"),
            ReflectConv2D(f2, 3, strides=2, name="loc_down1"),
            ReflectConv2D(filters, 3, strides=2, name="loc_down2"),
            ReflectConv2D(filters, 3, strides=2, name="loc_down3"),
        ] + [ReflectConv2D(filters, 3, name=f"loc_context{i}") for i in range(context_layers)]
        # tf.train.Checkpoint follows attributes, not Keras' tracked lists: expose every layer.
        for layer in self.convs:
            setattr(self, layer.name, layer)
        self.params_head = ReflectConv2D(6, 3, zero_init=True, name="affine_head")

    def call(
        self, images: Any, quality: Any = None, training: bool | None = None
    ) -> dict[str, Any]:
        del training
        images = ops.cast(images, "float32")
        batch = ops.shape(images)[0]
        padded, height, width = pad_to_multiple(images, _BLOCK)
        x = padded / 255.0 - 0.5
        q = per_image(quality, batch, self.quality) / 100.0
        x = ops.concatenate([x, constant_channel(q, x)], axis=-1)
        for conv in self.convs:
            x = ops.leaky_relu(conv(x), negative_slope=self.leaky_slope)
        raw = ops.tanh(self.params_head(x))
        scale = ops.convert_to_tensor([self.max_linear] * 4 + [self.max_translation] * 2)
        params = raw * ops.cast(scale, raw.dtype)
        shape = ops.shape(padded)
        rows, cols = averaged_sampling_grid(params, shape[1], shape[2])
        warped = bilinear_sample(padded, rows, cols)
        base_r = ops.reshape(ops.cast(ops.arange(shape[1]), "float32"), (1, -1, 1))
        base_c = ops.reshape(ops.cast(ops.arange(shape[2]), "float32"), (1, 1, -1))
        displacement = ops.stack([rows - base_r, cols - base_c], axis=-1)
        return {
            "edited": crop_to(warped, height, width),
            "displacement": crop_to(displacement, height, width),
            "affine": params,
        }

    @classmethod
    def from_preset(cls, preset: str) -> SpatialTransformerEditor:
        """The shipped model ``preset`` (a registry name, :mod:`tfjpeg.models`) with its
        weights; cached, so callers share one instance.

        Example:
            >>> model = SpatialTransformerEditor.from_preset("stn")  # doctest: +SKIP
        """
        from tfjpeg.models.presets import load

        return load(preset, cls=cls)

    def get_config(self) -> dict[str, Any]:
        return {
            "filters": self.filters,
            "context_layers": self.context_layers,
            "leaky_slope": self.leaky_slope,
            "max_linear": self.max_linear,
            "max_translation": self.max_translation,
            "quality": self.quality,
        }
