"""Pixels in and out of JPEG with the standard codecs: Pillow's libjpeg-turbo, and mozjpeg.

* :func:`encode_pixels` is "the standard encoder" (Pillow's libjpeg-turbo with IJG tables, or
  mozjpeg through jpeglib);
* :func:`decode_pixels` is "the standard decoder" (Pillow), after the same validation as
  :func:`tfjpeg.io.read_jpeg`;
* :func:`load_pillow_image` and :func:`pillow_to_uint8` turn any other image file (PNG, TIFF, ...)
  of any Pillow mode into the uint8 RGB or gray pixels the encoders take.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import warnings

import numpy as np
from PIL import Image

from tfjpeg._checks import check_bool, check_choice, check_quality
from tfjpeg.errors import (
    ImageTooLargeError,
    InvalidArgumentTypeError,
    InvalidImageError,
    InvalidJpegError,
    TfjpegError,
)
from tfjpeg.io.jpeglib_backend import encode_coefficients, encode_mozjpeg, read_jpeg
from tfjpeg.io.limits import load_source, naming, resolve_max_pixels
from tfjpeg.io.markers import LIBJPEG_MAX_DIMENSION, parse_jpeg_header
from tfjpeg.jpeg.layout import CODEC_SUBSAMPLINGS, LAYOUTS
from tfjpeg.jpeg.tables import check_baseline_tables

__all__ = [
    "ENCODERS",
    "check_image",
    "decode_pixels",
    "encode_pixels",
    "load_pillow_image",
    "pillow_to_uint8",
]

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
    quality: int | None,
    *,
    subsampling: str = "420",
    encoder: str = "libjpeg",
    optimize: bool = False,
    progressive: bool = False,
    tables: np.ndarray | None = None,
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

    ``tables`` replaces the quality's tables with explicit ones (e.g. learned tables,
    :mod:`tfjpeg.jpeg.learned`), with either encoder: the file's DQT segment holds exactly these
    tables (natural order given, zigzag written, as T.81 requires); everything else is as above
    (mozjpeg still runs its trellis quantization, now for these tables).

    Args:
        image: uint8 array (H, W, 3) RGB, or (H, W) / (H, W, 1) grayscale.
        quality: IJG quality factor, an integer in 1..100; may be None when ``tables`` is given
            (and is not used for the tables then).
        subsampling: chroma subsampling for colour images: "420", "422" or "444" (ignored for
            grayscale).
        encoder: "libjpeg" or "mozjpeg".
        optimize: optimized Huffman tables (smaller file, same coefficients).
        progressive: progressive scans (same coefficients).
        tables: None (the quality's tables), or integers in 1..255 of shape (2, 8, 8)
            [luma, chroma] or (3, 8, 8) [Y, Cb, Cr] in natural (row-major) order; a grayscale
            image uses the first.

    Returns:
        The JPEG file as bytes.

    Raises:
        InvalidImageError: wrong dtype or shape.
        ValueError: bad quality, subsampling, encoder or tables (``InvalidArgumentError`` naming
            the argument).

    Example:
        >>> data = encode_pixels(np.zeros((16, 16, 3), np.uint8), quality=75, subsampling="444")
        >>> data[:2]
        b'\\xff\\xd8'
    """
    arr = check_image(image)
    if tables is None or quality is not None:
        quality = check_quality(quality)
    if tables is not None:
        tables = check_baseline_tables(tables)
        if arr.ndim == 2:
            tables = tables[:1]
    check_choice(subsampling, CODEC_SUBSAMPLINGS, "subsampling")
    check_choice(encoder, ENCODERS, "encoder")
    optimize = check_bool(optimize, "optimize")
    progressive = check_bool(progressive, "progressive")
    if encoder == "libjpeg":
        buf = io.BytesIO()
        kwargs = (
            {}
            if arr.ndim == 2
            else {"subsampling": _PILLOW_SUBSAMPLING[LAYOUTS[subsampling].chroma]}
        )
        if tables is None:
            kwargs["quality"] = quality
        else:
            # Pillow (>= 8.3) takes natural order and, without ``quality``, adds each table
            # unscaled (jpeg_add_quant_table at 100 %); table i goes to component i, the rest
            # keep slot 1 (so two tables give Cb and Cr the chroma table).
            kwargs["qtables"] = [t.reshape(64).tolist() for t in tables]
        Image.fromarray(arr).save(
            buf,
            "JPEG",
            optimize=bool(optimize),
            progressive=bool(progressive),
            **kwargs,
        )
        return buf.getvalue()
    data = encode_mozjpeg(arr, quality, subsampling, tables=tables)
    if progressive:
        return data
    coeffs = read_jpeg(data, max_pixels=arr.shape[0] * arr.shape[1])
    return encode_coefficients(dataclasses.replace(coeffs, progressive=False), optimize=optimize)


# ------------------------------------------------------------------------ other image formats
#: Pillow modes whose samples are 16-bit (or wider) integers.
_WIDE_INT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
#: What ``pillow_to_uint8`` may be asked for.
PIXEL_MODES = (None, "RGB", "L")
_BOMB_SIZE = re.compile(r"Image size \((\d+) pixels\)")


def _over_white(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``color`` composited over a white background with straight ``alpha`` (both uint8)."""
    a = alpha.astype(np.float64)[..., None] / 255.0 if color.ndim == 3 else alpha / 255.0
    out = color.astype(np.float64) * a + 255.0 * (1.0 - a)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def pillow_to_uint8(img: Image.Image, mode: str | None = None) -> np.ndarray:
    """The pixels of a Pillow image of any mode as uint8 RGB (H, W, 3) or gray (H, W).

    How each mode is converted (so that no image silently turns white, black or garbled):

    * ``1``, ``L``: gray (``1`` gives 0 and 255); ``RGB``, ``RGBX``: RGB; ``YCbCr``, ``CMYK``,
      ``LAB``, ``HSV``: Pillow's ``convert("RGB")`` (CMYK with Pillow's simple formula, no ICC
      profile).
    * ``I;16``, ``I;16B``, ``I;16L``, ``I;16N`` (16-bit PNG, TIFF): the 0..65535 range scaled to
      0..255 with rounding, ``round(v / 257)`` (the inverse of the usual 8 → 16-bit ``v · 257``).
    * ``I`` (32-bit signed integers, also what older Pillow gives for 16-bit PNGs): taken as
      16-bit samples and scaled the same way; values outside 0..65535 are refused (there is no
      right way to guess their range).
    * ``F`` (32-bit float): non-finite values and values outside [0, 255] are refused; when every
      value is ≤ 1 the image is taken to be in [0, 1] (scaled by 255), else in [0, 255]; then
      rounded.
    * Transparency (``LA``, ``La``, ``RGBA``, ``RGBa``, ``PA``, and ``P`` or ``L``/``RGB`` with a
      ``transparency`` entry) is composited over **white**, as browsers show such images on a
      white page; fully transparent pixels become white.
    * ``P`` without transparency: its palette colours (RGB).

    Args:
        img: an opened (loaded or not) Pillow image.
        mode: None to keep gray images gray (H, W) and give colour ones as (H, W, 3); ``"RGB"``
            for (H, W, 3) always (gray repeated); ``"L"`` for gray (H, W) always (colour
            converted with Pillow's ITU-R 601 luma).

    Returns:
        A C-contiguous uint8 array.

    Raises:
        InvalidImageError: an integer image outside 0..65535, a float image with non-finite
            values or values outside [0, 255], or a mode Pillow cannot convert to RGB.
        InvalidArgumentError: a ``mode`` other than None, "RGB" or "L".

    Example:
        >>> img = Image.fromarray(np.array([[0, 65535]], np.uint16))  # mode "I;16"
        >>> pillow_to_uint8(img).tolist()
        [[0, 255]]
    """
    if not isinstance(img, Image.Image):
        raise InvalidArgumentTypeError(
            f"img must be a PIL.Image.Image. Received: type(img)={type(img).__name__}"
        )
    check_choice(mode, PIXEL_MODES, "mode")
    src = img.mode
    if src in ("P", "L", "RGB") and "transparency" in img.info:
        img, src = img.convert("RGBA" if src != "L" else "LA"), "RGBA" if src != "L" else "LA"
    if src in ("PA", "RGBa", "La"):
        img, src = img.convert("RGBA" if src != "La" else "LA"), "RGBA" if src != "La" else "LA"
    if src == "1":
        gray = np.asarray(img.convert("L"))
    elif src == "L":
        gray = np.asarray(img)
    elif src == "LA":
        la = np.asarray(img)
        gray = _over_white(la[..., 0], la[..., 1])
    elif src in _WIDE_INT_MODES:
        values = np.asarray(img).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise InvalidImageError(
                f"a {src} image must hold 16-bit values in 0..65535 to be converted to 8 bits. "
                f"Received: values in [{values.min()}, {values.max()}]"
            )
        gray = ((values * 255 + 32767) // 65535).astype(np.uint8)  # round(v / 257)
    elif src == "F":
        values = np.asarray(img).astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise InvalidImageError("a floating-point (F) image must not hold NaN or infinity.")
        low, high = (values.min(), values.max()) if values.size else (0.0, 0.0)
        if low < 0 or high > 255:
            raise InvalidImageError(
                "a floating-point (F) image must hold values in [0, 1] or [0, 255]. "
                f"Received: values in [{low}, {high}]"
            )
        scaled = values * 255.0 if high <= 1.0 else values
        gray = np.clip(np.round(scaled), 0, 255).astype(np.uint8)
    else:
        gray = None
        if src == "RGBA":
            rgba = np.asarray(img)
            rgb = _over_white(rgba[..., :3], rgba[..., 3])
        elif src == "RGB":
            rgb = np.asarray(img)
        else:  # P, RGBX, CMYK, YCbCr, LAB, HSV, ...
            try:
                rgb = np.asarray(img.convert("RGB"))
            except (ValueError, OSError) as e:
                raise InvalidImageError(
                    f"cannot convert a Pillow image of mode {src!r} to RGB ({e})."
                ) from None
    if gray is not None:
        if mode == "RGB":
            return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=-1))
        return np.ascontiguousarray(gray, dtype=np.uint8)
    if mode == "L":
        return np.ascontiguousarray(np.asarray(Image.fromarray(rgb).convert("L")))
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def load_pillow_image(
    source: str | os.PathLike | bytes, *, mode: str | None = None, max_pixels: int | None = None
) -> np.ndarray:
    """Open an image file (any format Pillow reads) as uint8 pixels, with the pixel limit first.

    The size is checked against ``max_pixels`` before any pixel is decoded, and before Pillow's
    own decompression-bomb check can raise its own error: an image over the limit always raises
    :class:`~tfjpeg.errors.ImageTooLargeError` naming its size and the limit. The pixels are then
    converted by :func:`pillow_to_uint8` (every Pillow mode, see there).

    Args:
        source: a path or the file's bytes.
        mode: as in :func:`pillow_to_uint8`.
        max_pixels: as in :func:`tfjpeg.io.read_jpeg` (None: ``$TFJPEG_MAX_PIXELS`` or the
            default :data:`tfjpeg.io.limits.DEFAULT_MAX_PIXELS`).

    Returns:
        uint8 (H, W, 3) or (H, W), as :func:`pillow_to_uint8`.

    Raises:
        ImageTooLargeError: more pixels than ``max_pixels`` (or than Pillow's
            ``PIL.Image.MAX_IMAGE_PIXELS`` bomb limit).
        InvalidImageError: not an image Pillow can read, or values that cannot be converted.
        FileNotFoundError: the path does not exist.
    """
    check_choice(mode, PIXEL_MODES, "mode")
    limit = resolve_max_pixels(max_pixels)
    data, label = load_source(source)
    with naming(label):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as e:
            found = _BOMB_SIZE.search(str(e))
            size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
            if found and int(found.group(1)) <= limit:
                raise ImageTooLargeError(
                    f"The image has {size}, within tfjpeg's limit of {limit:,} but over Pillow's "
                    f"decompression-bomb limit ({e}); raise PIL.Image.MAX_IMAGE_PIXELS as well "
                    "to read it."
                ) from None
            raise ImageTooLargeError(
                f"The image has {size}, more than the limit of {limit:,} (raise it with "
                "max_pixels=... or the TFJPEG_MAX_PIXELS environment variable if you trust the "
                "file)."
            ) from None
        except (OSError, SyntaxError, ValueError) as e:
            raise InvalidImageError(f"cannot read the image ({e}).") from None
        with img:
            width, height = img.size
            if width * height > limit:
                raise ImageTooLargeError(
                    f"The image is {width}x{height} = {width * height:,} pixels, more than the "
                    f"limit of {limit:,} (raise it with max_pixels=... or the TFJPEG_MAX_PIXELS "
                    "environment variable if you trust the file)."
                )
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    img.load()
                return pillow_to_uint8(img, mode)
            except TfjpegError:
                raise
            except (OSError, SyntaxError, ValueError, EOFError) as e:
                raise InvalidImageError(f"cannot decode the image ({e}).") from None
