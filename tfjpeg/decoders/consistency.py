"""Consistency with a JPEG file: projection onto the consistent set, and how consistent an image is.

An image is *consistent* with a JPEG file when compressing it with the file's tables and chroma
layout gives back exactly the file's quantized coefficients. :func:`project` moves any image onto
that set (eq. 2 of Bahat & Michaeli 2021; eq. 11 of Man et al. 2023): every DCT coefficient is
clipped into its quantization interval ``[X_Q − ½, X_Q + ½] ⊙ M``. :func:`consistency_report`
measures the fraction of re-quantized coefficients equal to the file's and the consistency RMSE
of Man et al. 2023 §5 (RMSE in gray levels between the compressed-decompressed image and the
file's own decoding), both at float precision and after rounding to uint8.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tensorflow as tf

from tfjpeg.decoders.geometry import chroma_factors
from tfjpeg.errors import InvalidImageError
from tfjpeg.io.coefficients import JpegCoefficients
from tfjpeg.io.jpeglib_backend import read_jpeg
from tfjpeg.jpeg import color, sampling
from tfjpeg.jpeg.blocks import blocks_to_plane, ceil_div, pad_edges, plane_to_blocks
from tfjpeg.jpeg.codec import decode, encode
from tfjpeg.jpeg.dct import block_dct, block_idct
from tfjpeg.jpeg.rounding import round_half_away
from tfjpeg.jpeg.tables import validate_tables

__all__ = ["consistency_report", "project", "project_tensors", "requantize"]


def _as_jpeg(jpeg: JpegCoefficients | bytes | str | os.PathLike) -> JpegCoefficients:
    return jpeg if isinstance(jpeg, JpegCoefficients) else read_jpeg(jpeg)


def _layout(jpeg: JpegCoefficients) -> tuple[str, list[tuple[int, int]]]:
    name = jpeg.subsampling
    fh, fv = chroma_factors(name)
    if jpeg.num_components == 1:
        return name, [(1, 1)]
    return name, [(1, 1), (fh, fv), (fh, fv)]


def _check_image(image: Any, jpeg: JpegCoefficients) -> tf.Tensor:
    x = tf.convert_to_tensor(image)
    if not (x.dtype.is_floating or x.dtype.is_integer):
        raise InvalidImageError(f"image must be numeric. Received: dtype={x.dtype.name}")
    x = tf.cast(x, tf.float32)
    if x.shape.rank == 2:
        x = x[..., None]
    if x.shape.rank == 4 and x.shape[0] == 1:
        x = x[0]
    expected = (jpeg.height, jpeg.width, jpeg.num_components)
    if tuple(x.shape) != expected:
        raise InvalidImageError(
            f"image must have shape {expected} (height, width, components of the JPEG). "
            f"Received: image.shape={tuple(x.shape)}"
        )
    return x


def _planes(image: tf.Tensor, jpeg: JpegCoefficients) -> tf.Tensor:
    """(H, W, C) RGB or gray → (1, H, W, C) float YCbCr (float JFIF conversion)."""
    return (color.rgb_to_ycbcr(image) if jpeg.num_components == 3 else image)[None]


def _component(plane: tf.Tensor, fh: int, fv: int, jpeg: JpegCoefficients, c: int):
    """Encoder's padding + box downsampling of one full-resolution plane (1, H, W)."""
    comp_h, comp_w = ceil_div(jpeg.height, fv), ceil_div(jpeg.width, fh)
    hb, wb = jpeg.real_block_shape(c)
    plane = pad_edges(plane[..., None], comp_h * fv, wb * 8 * fh)[..., 0]
    plane = sampling.downsample(plane, fh, fv)
    return pad_edges(plane[..., None], hb * 8, wb * 8)[..., 0], comp_h, comp_w


def requantize(image: Any, jpeg: JpegCoefficients | bytes | str | os.PathLike) -> tuple:
    """Unrounded quantized-unit coefficients of ``image`` under the file's tables and layout.

    Float colour conversion, box downsampling and DCT (the encoder without its integer
    arithmetic), one (hb, wb, 8, 8) float64 array per component.
    """
    jpeg = _as_jpeg(jpeg)
    _, factors = _layout(jpeg)
    planes = _planes(_check_image(image, jpeg), jpeg)
    tables = jpeg.component_tables.astype(np.float32)
    out = []
    for c, (fh, fv) in enumerate(factors):
        plane, _, _ = _component(planes[..., c], fh, fv, jpeg, c)
        coef = block_dct(plane_to_blocks(plane) - 128.0) / tables[c]
        out.append(coef[0].numpy().astype(np.float64))
    return tuple(out)


def _project_once(planes: tf.Tensor, components, tables, height, width, factors, margin: float):
    """One projection of (1, H, W, C) planes; tensors or arrays, Python or tensor sizes."""
    from tfjpeg.decoders.geometry import _cond, downsample_box, upsample_nearest

    out = []
    for c, (fh, fv) in enumerate(factors):
        full = planes[..., c]
        xq = tf.cast(components[c], tf.float32)[None]
        hb, wb = (
            components[c].shape[:2]
            if isinstance(components[c], np.ndarray)
            else (tf.shape(xq)[1], tf.shape(xq)[2])
        )
        comp_h, comp_w = ceil_div(height, fv), ceil_div(width, fh)
        # The encoder's padding + box downsampling of the full-resolution plane.
        plane = pad_edges(full[..., None], comp_h * fv, wb * 8 * fh)[..., 0]
        plane = downsample_box(plane, fh, fv)
        plane = pad_edges(plane[..., None], hb * 8, wb * 8)[..., 0]
        table = tables[c]
        coef = block_dct(plane_to_blocks(plane) - 128.0) / table
        coef = xq + tf.clip_by_value(coef - xq, margin - 0.5, 0.5 - margin)
        projected = blocks_to_plane(block_idct(coef * table) + 128.0)

        def spread(projected=projected, plane=plane, full=full, fh=fh, fv=fv, ch=comp_h, cw=comp_w):
            change = (projected - plane)[:, :ch, :cw]
            return full + upsample_nearest(change, fh, fv)[:, :height, :width]

        def same(projected=projected):
            return projected[:, :height, :width]

        full_size = (
            (fh == 1 and fv == 1)
            if isinstance(fh, int) and isinstance(fv, int)
            else (tf.equal(fh, 1) & tf.equal(fv, 1))
        )
        out.append(_cond(full_size, same, spread))
    return tf.stack(out, axis=-1)


def project_tensors(
    image: tf.Tensor,
    components,
    tables,
    height,
    width,
    factors=(1, 1),
    clip: bool = True,
    margin: float = 1e-3,
    iterations=20,
    tolerance: float = 1e-3,
) -> tf.Tensor:
    """:func:`project` on tensors: graph-compatible (SavedModels), one implementation for both.

    Args:
        image: float32 (H, W, C) RGB (C = 3) or gray (C = 1), C static.
        components: the file's quantized blocks, 1 or 3 (hb, wb, 8, 8) tensors or arrays.
        tables: (≥ C, 8, 8) float32, the table of each component.
        height, width: image size (ints or int32 scalar tensors).
        factors: (fh, fv) chroma factors (ints or int32 scalar tensors); ignored for gray.
        clip, margin, iterations: as in :func:`project` (``iterations`` may be a tensor).
        tolerance: the rounds stop once a projection leaves no sample more than this outside
            [0, 255] (gray levels).

    Returns:
        float32 (H, W, C).
    """
    rgb = tf.cast(image, tf.float32)[None]
    is_color = len(components) == 3
    to_ycc = color.rgb_to_ycbcr if is_color else tf.identity
    to_rgb = color.ycbcr_to_rgb if is_color else tf.identity
    per_component = [(1, 1), tuple(factors), tuple(factors)][: len(components)]

    def once(rgb):
        planes = _project_once(
            to_ycc(rgb), components, tables, height, width, per_component, margin
        )
        return to_rgb(planes)

    if not clip:
        return once(rgb)[0]

    def body(i, rgb, done):
        rgb = once(rgb)
        outside = tf.reduce_max(tf.maximum(-rgb, rgb - 255.0))
        rgb = tf.clip_by_value(rgb, 0.0, 255.0)
        return i + 1, rgb, tf.cast(outside, tf.float64) <= tolerance

    _, rgb, _ = tf.while_loop(
        lambda i, rgb, done: (i < iterations) & tf.logical_not(done),
        body,
        (tf.constant(0), rgb, tf.constant(False)),
    )
    return rgb[0]


def project(
    image: Any,
    jpeg: JpegCoefficients | bytes | str | os.PathLike,
    clip: bool = True,
    margin: float = 1e-3,
    iterations: int = 20,
) -> np.ndarray:
    """Project an image onto the set of images consistent with a JPEG file.

    Each DCT coefficient of the image's (padded, downsampled) component planes is clipped into
    its quantization interval: X̂_D ← (clip_{[−½, ½]}(X̂_D ⊘ M − X_Q) + X_Q) ⊙ M (eq. 2 of Bahat &
    Michaeli; eq. 11 of Man et al.). Luma gets the inverse DCT of the projected blocks. A chroma
    plane gets the nearest-neighbour upsampled *change* of its downsampled plane added at full
    resolution — the smallest (least-squares) full-resolution change whose box average is the
    projected plane — so the image's own chroma detail is kept.

    With ``clip`` the result must also be a valid image (RGB in [0, 255]); clipping can undo part
    of a projection, so projection and clipping alternate (POCS, projections onto the two convex
    sets) until the projected image needs no clipping, at most ``iterations`` rounds.

    Args:
        image: (H, W, 3) RGB or (H, W, 1)/(H, W) gray, values in [0, 255], any numeric dtype.
        jpeg: the file (path, bytes or :class:`tfjpeg.io.JpegCoefficients`).
        clip: keep the result in [0, 255] (see above); False gives the plain eq. 2 projection.
        margin: clip into [X_Q − ½ + margin, X_Q + ½ − margin] instead of the closed interval,
            so float round-off of the DCT round trip cannot land on the other side of a bin
            edge (an interval end itself is ambiguous under round-half-away).
        iterations: at most this many projection/clipping rounds when ``clip``.

    Returns:
        float32 (H, W, C) array.

    Raises:
        InvalidImageError: wrong shape or dtype. UnsupportedJpegError: a chroma layout other
            than gray, 4:4:4, 4:2:2, 4:4:0, 4:2:0.

    The computation is :func:`project_tensors`, which the decoder SavedModels run in-graph.

    Reference: Bahat & Michaeli 2021, eq. 2; Man et al. 2023, §4.3 eq. 11.
    """
    if not 0.0 <= float(margin) < 0.5:
        raise ValueError(f"margin must be in [0, 0.5). Received: margin={margin}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive integer. Received: {iterations!r}")
    jpeg = _as_jpeg(jpeg)
    _, factors = _layout(jpeg)
    projected = project_tensors(
        _check_image(image, jpeg),
        [c.astype(np.float32) for c in jpeg.components],
        jpeg.component_tables.astype(np.float32),
        jpeg.height,
        jpeg.width,
        factors[-1],
        clip=clip,
        margin=margin,
        iterations=iterations,
    )
    return projected.numpy().astype(np.float32)


def _rmse(a: tf.Tensor, b: tf.Tensor) -> float:
    return float(
        tf.sqrt(tf.reduce_mean(tf.square(tf.cast(a, tf.float64) - tf.cast(b, tf.float64))))
    )


def consistency_report(
    image: Any, jpeg: JpegCoefficients | bytes | str | os.PathLike
) -> dict[str, float]:
    """How consistent an image is with a JPEG file, at float precision and as uint8.

    - ``fraction_float``: fraction of the file's coefficients that re-quantizing the float image
      (float colour conversion, box downsampling, float DCT, round half away from zero)
      reproduces exactly.
    - ``rmse_float``: RMSE (gray levels, over all samples of all output channels) between the
      float decodings of the re-quantized and of the file's coefficients.
    - ``fraction_uint8``, ``rmse_uint8``: the same after rounding the image to uint8 and
      re-encoding it exactly as libjpeg-turbo does (:func:`tfjpeg.jpeg.encode`, "hard"), with
      libjpeg-turbo's exact decoder for the RMSE — what a user re-encoding the PNG would see.
    - ``coefficients``: number of coefficients compared.

    RMSE is the consistency measure of Man et al. 2023 §5: "the RMSE between the
    compressed-decompressed versions of the original and the restored images using the same JPEG
    settings", here against the file itself, which is the compressed-decompressed original.

    Args:
        image: (H, W, C) RGB or gray, values in [0, 255] (float or integer).
        jpeg: the file (path, bytes or :class:`tfjpeg.io.JpegCoefficients`).

    Returns:
        dict with the keys above (floats).

    Example:
        >>> data = tfjpeg.io.encode_pixels(img, quality=10)  # doctest: +SKIP
        >>> pixels = tfjpeg.io.decode_pixels(data)  # doctest: +SKIP
        >>> consistency_report(pixels, data)["fraction_uint8"]  # doctest: +SKIP
        0.9999...
    """
    jpeg = _as_jpeg(jpeg)
    name, _ = _layout(jpeg)
    subsampling = "444" if name == "gray" else name
    image = _check_image(image, jpeg)
    file_coefs = [tf.constant(c[None].astype(np.float32)) for c in jpeg.components]
    tables = validate_tables(jpeg.component_tables[None].astype(np.float32))
    total = sum(int(np.prod(c.shape)) for c in jpeg.components)
    h, w = jpeg.height, jpeg.width

    requant = [tf.cast(round_half_away(c[None]), tf.float32) for c in requantize(image, jpeg)]
    same_float = sum(
        int(tf.reduce_sum(tf.cast(a == b, tf.int64)))
        for a, b in zip(requant, file_coefs, strict=True)
    )
    ref_float = decode(file_coefs, tables, h, w, subsampling, exact=False)
    rmse_float = _rmse(decode(requant, tables, h, w, subsampling, exact=False), ref_float)

    pixels = tf.clip_by_value(tf.round(image), 0.0, 255.0)[None]
    coefs = encode(pixels, tables, subsampling, "hard")["coefficients"]
    same_uint8 = sum(
        int(tf.reduce_sum(tf.cast(a == b, tf.int64)))
        for a, b in zip(coefs, file_coefs, strict=True)
    )
    ref_exact = decode(file_coefs, tables, h, w, subsampling, exact=True)
    rmse_uint8 = _rmse(decode(coefs, tables, h, w, subsampling, exact=True), ref_exact)
    return {
        "fraction_float": same_float / total,
        "rmse_float": rmse_float,
        "fraction_uint8": same_uint8 / total,
        "rmse_uint8": rmse_uint8,
        "coefficients": float(total),
    }
