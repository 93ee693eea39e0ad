"""Pixels in and out of JPEG with the standard codecs: Pillow's libjpeg-turbo, and mozjpeg.

* :func:`encode_pixels` is "the standard encoder" (Pillow's libjpeg-turbo with IJG tables, or
  mozjpeg through jpeglib);
* :func:`decode_pixels` is "the standard decoder" (Pillow), after the same validation as
  :func:`tfjpeg.io.read_jpeg`.
"""

from __future__ import annotations

import dataclasses
import io
import os

import numpy as np
from PIL import Image

from tfjpeg._checks import check_choice, check_quality
from tfjpeg.errors import ImageTooLargeError, InvalidImageError, InvalidJpegError
from tfjpeg.io.jpeglib_backend import encode_coefficients, encode_mozjpeg, read_jpeg
from tfjpeg.io.limits import load_source, naming, resolve_max_pixels
from tfjpeg.io.markers import LIBJPEG_MAX_DIMENSION, parse_jpeg_header
from tfjpeg.jpeg.layout import CODEC_SUBSAMPLINGS, LAYOUTS

__all__ = ["ENCODERS", "check_image", "decode_pixels", "encode_pixels"]

#: The standard encoders :func:`encode_pixels` runs.
ENCODERS = ("libjpeg", "mozjpeg")
#: Pillow's ``subsampling`` option for each chroma (fh, fv).
_PILLOW_SUBSAMPLING = {(1, 1): 0, (2, 1): 1, (2, 2): 2}


def decode_pixels(
    source: str | os.PathLike | bytes, *, max_pixels: int | None = None
) -> np.ndarray:
    """Decode a JPEG to uint8 pixels with Pillow (libjpeg-turbo): "the standard decoder".

    The file gets the same validation as :func:`read_jpeg` first (structure, truncation, supported
    kind, pixel limit). Pillow uses libjpeg's defaults: accurate integer IDCT (``JDCT_ISLOW``),
    fancy (triangular) chroma upsampling, YCbCr → RGB conversion. Bit errors *inside* the
    entropy-coded data, which libjpeg only warns about, are not detected here; use
    :func:`read_jpeg` for a strict check.

    Args:
        source: a path, or the file's bytes.
        max_pixels: as in :func:`read_jpeg`.

    Returns:
        uint8 array (height, width, 3) for colour files, (height, width, 1) for grayscale ones
        (like ``tf.io.decode_jpeg``).

    Raises:
        InvalidJpegError, UnsupportedJpegError, ImageTooLargeError: as in :func:`read_jpeg`.

    Example:
        >>> pixels = decode_pixels(encode_pixels(np.full((8, 8, 3), 200, np.uint8), quality=90))
        >>> pixels.shape, pixels.dtype
        ((8, 8, 3), dtype('uint8'))
    """
    data, label = load_source(source)
    with naming(label):
        header = parse_jpeg_header(data, max_pixels=resolve_max_pixels(max_pixels))
        try:
            with Image.open(io.BytesIO(data[: header.end]), formats=["JPEG"]) as im:
                im.load()
                pixels = np.asarray(im)
        except Image.DecompressionBombError as e:
            raise ImageTooLargeError(
                f"Pillow refuses the image as a decompression bomb ({e}); raise "
                "PIL.Image.MAX_IMAGE_PIXELS as well to decode it."
            ) from None
        except (OSError, SyntaxError, ValueError) as e:
            raise InvalidJpegError(f"Pillow could not decode the JPEG: {e}") from None
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        expected = (header.height, header.width, len(header.components))
        if pixels.shape != expected or pixels.dtype != np.uint8:
            raise InvalidJpegError(
                f"Pillow decoded an array of shape {pixels.shape} and dtype {pixels.dtype}; "
                f"expected {expected} uint8."
            )
        return pixels


def check_image(image) -> np.ndarray:
    """A uint8 (H, W, 3) RGB or (H, W) gray image libjpeg can encode, contiguous."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise InvalidImageError(
            "image must have dtype uint8 (values 0..255); convert with "
            f"np.clip(np.round(x), 0, 255).astype(np.uint8). Received: dtype={arr.dtype}"
        )
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 3)):
        raise InvalidImageError(
            "image must have shape (H, W, 3), (H, W, 1) or (H, W). "
            f"Received: shape={np.shape(image)}"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InvalidImageError(f"image must not be empty. Received: shape={np.shape(image)}")
    if max(arr.shape[:2]) > LIBJPEG_MAX_DIMENSION:
        raise ImageTooLargeError(
            f"JPEG images are at most {LIBJPEG_MAX_DIMENSION} pixels per side (libjpeg). "
            f"Received: shape={np.shape(image)}"
        )
    return np.ascontiguousarray(arr)


def encode_pixels(
    image: np.ndarray,
    quality: int,
    *,
    subsampling: str = "420",
    encoder: str = "libjpeg",
    optimize: bool = False,
    progressive: bool = False,
) -> bytes:
    """Encode uint8 pixels to JPEG bytes with a standard encoder.

    ``encoder="libjpeg"``: Pillow's libjpeg-turbo with the IJG tables of ``quality``
    (``jpeg_set_quality(..., force_baseline=TRUE)``, i.e.
    :func:`tfjpeg.jpeg.tables.quality_to_tables`), accurate integer DCT, JFIF YCbCr.

    ``encoder="mozjpeg"``: mozjpeg 4.0.3 through jpeglib (:data:`JPEGLIB_MOZJPEG_VERSION`) with its
    default ``JCP_MAX_COMPRESSION`` profile: trellis quantization and mozjpeg's own default tables
    (table set 3, N. Robidoux's "ImageMagick" tables, the same table for luma and chroma) scaled by
    the IJG quality formula and clamped to 8 bits, so they are **not**
    ``quality_to_tables(quality)``: read them back with :func:`read_jpeg`. jpeglib cannot turn off
    mozjpeg's progressive scan script, so ``progressive=False`` is produced by losslessly
    re-entropy-coding mozjpeg's coefficients as a sequential file (:func:`encode_coefficients`,
    honouring ``optimize``); with ``progressive=True`` mozjpeg's file is returned as is, and its
    Huffman tables are always optimized.

    Args:
        image: uint8 array (H, W, 3) RGB, or (H, W) / (H, W, 1) grayscale.
        quality: IJG quality factor, an integer in 1..100.
        subsampling: chroma subsampling for colour images: "420", "422" or "444" (ignored for
            grayscale).
        encoder: "libjpeg" or "mozjpeg".
        optimize: optimized Huffman tables (smaller file, same coefficients).
        progressive: progressive scans (same coefficients).

    Returns:
        The JPEG file as bytes.

    Raises:
        InvalidImageError: wrong dtype or shape.
        ValueError: bad quality, subsampling or encoder.

    Example:
        >>> data = encode_pixels(np.zeros((16, 16, 3), np.uint8), quality=75, subsampling="444")
        >>> data[:2]
        b'\\xff\\xd8'
    """
    arr = check_image(image)
    quality = check_quality(quality)
    check_choice(subsampling, CODEC_SUBSAMPLINGS, "subsampling")
    check_choice(encoder, ENCODERS, "encoder")
    if encoder == "libjpeg":
        buf = io.BytesIO()
        kwargs = (
            {}
            if arr.ndim == 2
            else {"subsampling": _PILLOW_SUBSAMPLING[LAYOUTS[subsampling].chroma]}
        )
        Image.fromarray(arr).save(
            buf,
            "JPEG",
            quality=quality,
            optimize=bool(optimize),
            progressive=bool(progressive),
            **kwargs,
        )
        return buf.getvalue()
    data = encode_mozjpeg(arr, quality, subsampling)
    if progressive:
        return data
    coeffs = read_jpeg(data, max_pixels=arr.shape[0] * arr.shape[1])
    return encode_coefficients(dataclasses.replace(coeffs, progressive=False), optimize=optimize)
