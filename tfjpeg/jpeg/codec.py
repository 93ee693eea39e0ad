"""The JPEG codec as TF ops, and the ``DiffJPEG`` Keras layer.

``encode`` maps RGB (or grayscale) pixels to quantized DCT coefficients exactly as libjpeg-turbo
does (``rounding="hard"``/``"ste"``: fixed-point colour conversion, biased chroma downsampling,
integer islow DCT and quantizer) or with float math and a differentiable rounding surrogate
(``"poly3"``, ``"noise"``; pre-editing paper, Talebi et al. 2020, §3.1). ``decode`` maps
coefficients back to pixels, exactly as libjpeg-turbo (integer IDCT, fancy upsampling, integer
colour conversion) or in float for gradients.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfjpeg._checks import check_choice, check_quality, check_quality_values
from tfjpeg.errors import InvalidImageError
from tfjpeg.jpeg import color, islow, sampling
from tfjpeg.jpeg.blocks import blocks_to_plane, ceil_div, pad_edges, plane_to_blocks
from tfjpeg.jpeg.dct import block_dct, block_idct
from tfjpeg.jpeg.layout import component_factors
from tfjpeg.jpeg.rounding import ROUNDING_MODES, apply_rounding, straight_through
from tfjpeg.jpeg.tables import component_table, quality_tables, validate_tables

__all__ = ["UPSAMPLING_METHODS", "DiffJPEG", "decode", "encode"]

UPSAMPLING_METHODS = ("fancy", "nearest")


def _check_images(images: tf.Tensor) -> tf.Tensor:
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or images.shape[-1] not in (1, 3):
        raise InvalidImageError(
            "images must have shape (N, H, W, 3) or (N, H, W, 1). "
            f"Received: images.shape={tuple(images.shape)}"
        )
    if not (images.dtype.is_floating or images.dtype.is_integer):
        raise InvalidImageError(f"images must be numeric. Received: dtype={images.dtype.name}")
    # NaN/inf would silently turn into arbitrary integers in the exact path: refuse them when the
    # values are at hand (eagerly); inside graphs the check would cost an op per call.
    if (
        tf.executing_eagerly()
        and images.dtype.is_floating
        and not bool(tf.reduce_all(tf.math.is_finite(images)))
    ):
        raise InvalidImageError("images must be finite. Received: images with NaN or inf values")
    return images


def _check_quality(quality: Any, n: int | None) -> None:
    """Refuse out-of-range or misshaped qualities whose values are known (eager or constant).

    Symbolic qualities (graph tensors, variables in a graph) are clipped to [1, 100] by
    :func:`tfjpeg.jpeg.tables.quality_tables` instead.
    """
    if isinstance(quality, tf.Variable):
        value = quality.numpy() if tf.executing_eagerly() else None
    else:
        try:
            value = tf.get_static_value(quality)
        except (TypeError, ValueError, AttributeError, NotImplementedError):
            value = None
    if value is None:
        return
    check_quality_values(value, n)


def _component_plane(
    plane: tf.Tensor, fh: int, fv: int, height: tf.Tensor, width: tf.Tensor, exact: bool
) -> tf.Tensor:
    """Pad one full-resolution component as libjpeg's prep controller does, then downsample."""
    comp_h, comp_w = ceil_div(height, fv), ceil_div(width, fh)
    hb, wb = ceil_div(comp_h, 8), ceil_div(comp_w, 8)
    # Right edge: replicated at full resolution to the downsampled block width (jcsample.c);
    # bottom edge: replicated to a whole number of sample rows, then after downsampling.
    plane = pad_edges(plane[..., None], comp_h * fv, wb * 8 * fh)[..., 0]
    plane = (
        sampling.downsample_exact(plane, fh, fv) if exact else sampling.downsample(plane, fh, fv)
    )
    return pad_edges(plane[..., None], hb * 8, wb * 8)[..., 0]


def _prepare(images: tf.Tensor, quality: Any, tables: Any, differentiable: bool) -> tf.Tensor:
    n = tf.shape(images)[0]
    if tables is not None:
        t = validate_tables(tables)
    else:
        _check_quality(quality, images.shape[0])
        t = quality_tables(quality, differentiable=differentiable)
    return tf.broadcast_to(t, tf.stack([n, t.shape[1], 8, 8]))


def encode(
    images: tf.Tensor,
    tables: tf.Tensor,
    subsampling: str = "420",
    rounding: str = "hard",
    seed: int | None = None,
) -> dict[str, Any]:
    """Pixels → quantized DCT coefficients.

    Args:
        images: (N, H, W, 3) RGB or (N, H, W, 1) gray, values in [0, 255].
        tables: float32 (N, 2, 8, 8) [luma, chroma] or (N, 3, 8, 8) per-component tables.
        subsampling: "444", "422" or "420" (ignored for gray).
        rounding: one of "hard", "poly3", "ste", "noise".
        seed: seed for ``"noise"``.

    Returns:
        dict with ``coefficients`` (tuple of float32 (N, hb, wb, 8, 8), one per component; exact
        integers for "hard", and in the forward pass for "ste") and ``unrounded`` (the same before
        rounding: float math; for "hard" libjpeg-turbo's own integer DCT in quantization steps,
        the value its quantizer rounds, as mozjpeg's trellis sees it).
    """
    images = tf.cast(_check_images(images), tf.float32)
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    channels = images.shape[-1]
    factors = component_factors(channels, subsampling)
    table_of = [component_table(tables, c) for c in range(3)]

    exact_coefs = None
    if rounding in ("hard", "ste"):
        pixels = tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.int32)
        planes = color.rgb_to_ycbcr_exact(pixels) if channels == 3 else pixels
        exact_coefs, exact_unrounded = [], []
        for c, (fh, fv) in enumerate(factors):
            plane = _component_plane(planes[..., c], fh, fv, height, width, exact=True)
            fdct = islow.islow_fdct(plane_to_blocks(plane) - 128)
            q = tf.cast(table_of[c], tf.int32)[:, None, None]
            exact_coefs.append(tf.cast(islow.quantize_exact(fdct, q), tf.float32))
            if rounding == "hard":  # islow's output is 8× the DCT
                exact_unrounded.append(tf.cast(fdct, tf.float32) / (8.0 * tf.cast(q, tf.float32)))
        if rounding == "hard":
            return {"coefficients": tuple(exact_coefs), "unrounded": tuple(exact_unrounded)}

    planes = color.rgb_to_ycbcr(images) if channels == 3 else images
    unrounded, rounded = [], []
    for c, (fh, fv) in enumerate(factors):
        plane = _component_plane(planes[..., c], fh, fv, height, width, exact=False)
        coef = block_dct(plane_to_blocks(plane) - 128.0) / table_of[c][:, None, None]
        unrounded.append(coef)
        if exact_coefs is not None:  # "ste": exact forward value, identity gradient
            rounded.append(straight_through(exact_coefs[c], coef))
        else:
            rounded.append(apply_rounding(coef, rounding, seed=seed))
    return {"coefficients": tuple(rounded), "unrounded": tuple(unrounded)}


def decode(
    coefficients: tuple[tf.Tensor, ...] | list[tf.Tensor],
    tables: tf.Tensor,
    height: tf.Tensor | int,
    width: tf.Tensor | int,
    subsampling: str = "420",
    upsampling: str = "fancy",
    exact: bool = False,
) -> tf.Tensor:
    """Quantized coefficients → pixels (N, H, W, C) float32 in [0, 255].

    Args:
        coefficients: one (N, hb, wb, 8, 8) tensor per component (1 or 3); blocks beyond the
            component's real size (MCU padding) are ignored.
        tables: (N, 2, 8, 8) [luma, chroma] or (N, 3, 8, 8) per-component tables.
        height, width: image size.
        subsampling: chroma subsampling of the coefficients.
        upsampling: "fancy" (libjpeg-turbo default) or "nearest".
        exact: reproduce libjpeg-turbo's integer decoder bit for bit (not differentiable).
    """
    check_choice(upsampling, UPSAMPLING_METHODS, "upsampling")
    factors = component_factors(len(coefficients), subsampling)
    table_of = [component_table(tables, c) for c in range(3)]
    planes = []
    for c, (fh, fv) in enumerate(factors):
        comp_h, comp_w = ceil_div(height, fv), ceil_div(width, fh)
        hb, wb = ceil_div(comp_h, 8), ceil_div(comp_w, 8)
        coef = coefficients[c][:, :hb, :wb]
        q = table_of[c][:, None, None]
        if exact:
            deq = tf.cast(tf.round(coef), tf.int32) * tf.cast(q, tf.int32)
            plane = blocks_to_plane(islow.islow_idct(deq))[:, :comp_h, :comp_w]
            plane = sampling.upsample_exact(plane, fh, fv, upsampling)
        else:
            plane = blocks_to_plane(block_idct(tf.cast(coef, tf.float32) * q) + 128.0)
            plane = tf.clip_by_value(plane[:, :comp_h, :comp_w], 0.0, 255.0)
            plane = sampling.upsample(plane, fh, fv, upsampling)
        planes.append(plane[:, :height, :width])
    ycc = tf.stack(planes, axis=-1)
    if exact:
        rgb = color.ycbcr_to_rgb_exact(ycc) if len(planes) == 3 else ycc
        return tf.cast(rgb, tf.float32)
    rgb = color.ycbcr_to_rgb(ycc) if len(planes) == 3 else ycc
    return tf.clip_by_value(rgb, 0.0, 255.0)


@keras.saving.register_keras_serializable(package="tfjpeg")
class DiffJPEG(keras.layers.Layer):
    """JPEG compression and decompression as a Keras layer, exact or differentiable.

    ``layer(images, quality=None, tables=None)`` takes float RGB images in [0, 255] of shape
    (N, H, W, 3), or (N, H, W, 1) grayscale, any H and W, and returns a dict:

    - ``"decoded"``: the decompressed image, float32, same shape;
    - ``"coefficients"``: tuple of quantized DCT blocks (N, hb, wb, 8, 8) per component (Y, Cb, Cr);
    - ``"unrounded"``: the coefficients before rounding (float math; None for "hard");
    - ``"tables"``: the quantization tables used, (N, 2, 8, 8) [luma, chroma] (or (N, 3, 8, 8)
      when per-component tables were given).

    ``quality`` may be a scalar or one value per image, in [1, 100] (known values outside it, or of
    the wrong length, raise ``ValueError``; symbolic ones are clipped); with neither it nor
    ``tables`` the layer's ``quality`` is used. Non-finite pixel values raise
    :class:`tfjpeg.InvalidImageError` when called eagerly. With ``rounding="hard"`` the
    coefficients and the decoded pixels are those of libjpeg-turbo (Pillow) bit for bit; "ste"
    gives the same forward coefficients with an identity gradient; "poly3" and "noise" are float
    surrogates for training.

    Args:
        subsampling: "420", "422" or "444".
        rounding: "hard", "poly3", "ste" or "noise".
        quality: default quality 1..100 when the call gives none.
        upsampling: chroma upsampling on decode, "fancy" or "nearest".
        differentiable_quality: pass gradients to a float ``quality`` through the tables.

    Example:
        >>> jpeg = DiffJPEG(subsampling="420", rounding="poly3")
        >>> out = jpeg(tf.random.uniform([2, 32, 48, 3], 0, 255), quality=[10, 90])
        >>> out["decoded"].shape
        TensorShape([2, 32, 48, 3])

    Reference: Talebi et al. 2020, "Better compression with deep pre-editing", §3.1.
    """

    def __init__(
        self,
        subsampling: str = "420",
        rounding: str = "poly3",
        quality: int = 75,
        upsampling: str = "fancy",
        differentiable_quality: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        component_factors(3, subsampling)
        check_choice(rounding, ROUNDING_MODES, "rounding")
        check_choice(upsampling, UPSAMPLING_METHODS, "upsampling")
        check_quality(quality)
        self.subsampling = subsampling
        self.rounding = rounding
        self.quality = quality
        self.upsampling = upsampling
        self.differentiable_quality = differentiable_quality

    def call(self, images: tf.Tensor, quality: Any = None, tables: Any = None) -> dict[str, Any]:
        images = _check_images(images)
        if quality is None and tables is None:
            quality = self.quality
        differentiable = self.differentiable_quality and self.rounding != "hard"
        used_tables = _prepare(images, quality, tables, differentiable)
        encoded = encode(images, used_tables, self.subsampling, self.rounding)
        shape = tf.shape(images)
        decoded = decode(
            encoded["coefficients"],
            used_tables,
            shape[1],
            shape[2],
            self.subsampling,
            self.upsampling,
            exact=self.rounding == "hard",
        )
        return {
            "decoded": decoded,
            "coefficients": encoded["coefficients"],
            "unrounded": encoded["unrounded"],
            "tables": used_tables,
        }

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            subsampling=self.subsampling,
            rounding=self.rounding,
            quality=self.quality,
            upsampling=self.upsampling,
            differentiable_quality=self.differentiable_quality,
        )
        return config
