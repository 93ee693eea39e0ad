"""Reading and writing real JPEG files: quantized coefficients with jpeglib, pixels with Pillow.

This is the boundary between tfjpeg and the standard codecs:

* :func:`read_jpeg` gives the quantized DCT coefficients and tables of a file exactly as libjpeg
  stores them (jpeglib with libjpeg-turbo 2.1, ``jpeg_read_coefficients``);
* :func:`encode_pixels` is "the standard encoder" (Pillow's libjpeg-turbo with IJG tables, or
  mozjpeg through jpeglib); :func:`decode_pixels` is "the standard decoder" (Pillow);
* :func:`encode_coefficients` writes coefficients back to a standard ``.jpg`` losslessly, so
  editors and decoders can always hand back a real file;
* :func:`save_bytes_atomic` stores bytes without ever leaving a half-written file or clobbering the
  user's input.

Safety. Every input is first validated by the pure-Python marker parser
(:func:`tfjpeg.io.markers.parse_jpeg_header`): truncation anywhere, malformed segments,
unsupported kinds of JPEG and decompression bombs (:data:`DEFAULT_MAX_PIXELS`, overridable per
call or with the ``TFJPEG_MAX_PIXELS`` environment variable) are rejected before libjpeg sees a
byte. jpeglib's build of libjpeg replaces ``error_exit`` (which would call ``exit()``) by a C++
exception that becomes an ``OSError``; libjpeg's *warnings* ("Corrupt JPEG data: bad Huffman
code", "Premature end of JPEG file", ...) only go to C ``stderr`` while the data are silently
zero-filled, so the reader captures file descriptor 2 during the call and turns any such warning
into :class:`~tfjpeg.errors.InvalidJpegError`. jpeglib keeps global state (the selected libjpeg
version, marker buffers), so all jpeglib calls are serialized by one lock and the version is
restored afterwards.

Reference: ITU-T T.81; libjpeg-turbo; jpeglib (Beneš et al., "Know your library: how the libjpeg
version influences compression and decompression results", IH&MMSec 2022).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import math
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import jpeglib
import numpy as np
from PIL import Image

from tfjpeg.errors import (
    ImageTooLargeError,
    InvalidImageError,
    InvalidJpegError,
    TfjpegError,
)
from tfjpeg.io.markers import LIBJPEG_MAX_DIMENSION, parse_jpeg_header, renumber_components

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "JPEGLIB_MOZJPEG_VERSION",
    "JPEGLIB_READ_VERSION",
    "MAX_PIXELS_ENV",
    "JpegCoefficients",
    "decode_pixels",
    "encode_coefficients",
    "encode_pixels",
    "read_jpeg",
    "resolve_max_pixels",
    "save_bytes_atomic",
]

#: Default decompression-bomb limit (pixels = height × width), checked from the header.
DEFAULT_MAX_PIXELS = 100_000_000
#: Environment variable that overrides :data:`DEFAULT_MAX_PIXELS` (a positive integer).
MAX_PIXELS_ENV = "TFJPEG_MAX_PIXELS"
#: jpeglib's libjpeg used to read and write coefficients (libjpeg-turbo 2.1, like Pillow's family).
JPEGLIB_READ_VERSION = "turbo210"
#: jpeglib's libjpeg used by ``encode_pixels(..., encoder="mozjpeg")``.
JPEGLIB_MOZJPEG_VERSION = "mozjpeg403"

_SUBSAMPLINGS = ("444", "422", "420")
_PILLOW_SUBSAMPLING = {"444": 0, "422": 1, "420": 2}
#: jpeglib's ``samp_factor`` is (v, h) per component.
_JPEGLIB_SAMP_FACTOR = {
    "444": ((1, 1), (1, 1), (1, 1)),
    "422": ((1, 2), (1, 1), (1, 1)),
    "420": ((2, 2), (1, 1), (1, 1)),
}
_SUBSAMPLING_NAMES = {
    (1, 1): "444",
    (2, 1): "422",
    (2, 2): "420",
    (1, 2): "440",
    (4, 1): "411",
    (4, 2): "410",
}

# libjpeg-turbo's warning texts (jerror.h, JWRN_*) and jpeglib's own marker-buffer messages:
# any of these during a read means the coefficients are not what the file intended.
_LIBJPEG_WARNING = re.compile(
    r"^(Corrupt JPEG data|Premature end of JPEG file|Inconsistent progression sequence|"
    r"Invalid SOS parameters|Unknown Adobe color transform|Application transferred too many|"
    r"Too many markers|Error parsing marker)"
)
# Harmless libjpeg warnings (metadata only).
_LIBJPEG_BENIGN = re.compile(r"^Warning: unknown JFIF revision number")

# jpeglib keeps global state (selected library, marker buffers): one call at a time.
_JPEGLIB_LOCK = threading.RLock()


def resolve_max_pixels(max_pixels: int | None = None) -> int:
    """The pixel limit in force: ``max_pixels`` if given, else ``$TFJPEG_MAX_PIXELS``, else 100 M.

    Args:
        max_pixels: an explicit limit (a positive integer) or None.

    Returns:
        The limit as an int.

    Raises:
        ValueError: the argument or the environment variable is not a positive integer.

    Example:
        >>> resolve_max_pixels(1_000)
        1000
    """
    if max_pixels is not None:
        if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)):
            raise ValueError(
                f"max_pixels must be a positive integer. Received: max_pixels={max_pixels!r}"
            )
        if max_pixels < 1:
            raise ValueError(
                f"max_pixels must be a positive integer. Received: max_pixels={max_pixels}"
            )
        return int(max_pixels)
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ValueError(
            f"The environment variable {MAX_PIXELS_ENV} must be a positive integer. "
            f"Received: {MAX_PIXELS_ENV}={value!r}"
        )
    return limit


# ------------------------------------------------------------------------------------ coefficients
@dataclasses.dataclass(frozen=True, eq=False)
class JpegCoefficients:
    """The quantized DCT coefficients, tables and geometry of a JPEG file.

    ``components[c]`` is exactly what ``jpeglib.read_dct`` returns for component c (Y, Cb, Cr):
    int16 of shape (height_in_blocks, width_in_blocks, 8, 8), each block in natural row-major order
    (``block[u, v]``: u vertical, v horizontal frequency), *quantized* (multiply by the table to get
    DCT values). The arrays hold only the component's real blocks, libjpeg's ``height_in_blocks``
    × ``width_in_blocks`` = :meth:`real_block_shape`, and **not** the dummy blocks that pad the
    last MCU row/column of interleaved scans: a 100×100 4:2:0 image has 13×13 Y blocks (not 14×14)
    and 7×7 blocks per chroma component. :meth:`padded_block_shape` gives the MCU-padded size; a
    writer fills the dummy blocks itself (DC of the neighbour, AC zero, as libjpeg does).

    The dataclass is frozen (fields cannot be reassigned); the arrays are ordinary numpy arrays, so
    copy them before editing in place. Construct one by hand to write new coefficients with
    :func:`encode_coefficients`; shapes and ranges are validated.

    Attributes:
        components: 1 (grayscale) or 3 (Y, Cb, Cr) int16 arrays (Hb, Wb, 8, 8).
        tables: uint16 (K, 8, 8) quantization tables in natural order, 1 ≤ K ≤ 3, one per DQT
            table slot used, in order of first use (for IJG-style files: [luma, chroma], even
            when they are equal, as at quality 100).
        table_index: for each component, the index into ``tables`` of its table.
        sampling: (h, v) sampling factors per component, as in the SOF header.
        height: image height in pixels.
        width: image width in pixels.
        progressive: whether the file was progressive (the coefficients do not depend on it).

    Example:
        >>> coeffs = read_jpeg("photo.jpg")  # doctest: +SKIP
        >>> coeffs.subsampling, coeffs.components[0].shape  # doctest: +SKIP
        ('420', (64, 96, 8, 8))
        >>> same = read_jpeg(encode_coefficients(coeffs))  # doctest: +SKIP
    """

    components: tuple[np.ndarray, ...]
    tables: np.ndarray
    table_index: tuple[int, ...]
    sampling: tuple[tuple[int, int], ...]
    height: int
    width: int
    progressive: bool = False

    def __post_init__(self) -> None:
        comps = tuple(_as_int16_blocks(c, i) for i, c in enumerate(self.components))
        if len(comps) not in (1, 3):
            raise ValueError(
                "components must hold 1 (grayscale) or 3 (Y, Cb, Cr) arrays. "
                f"Received: len(components)={len(comps)}"
            )
        tables = np.asarray(self.tables)
        if tables.ndim == 2:
            tables = tables[None]
        if tables.ndim != 3 or tables.shape[1:] != (8, 8) or not 1 <= tables.shape[0] <= 3:
            raise ValueError(
                "tables must have shape (K, 8, 8) with K in 1..3. "
                f"Received: tables.shape={tables.shape}"
            )
        if tables.dtype.kind not in "iu" or tables.min() < 1 or tables.max() > 65535:
            raise ValueError("tables must be integers in [1, 65535].")
        table_index = tuple(int(i) for i in self.table_index)
        if len(table_index) != len(comps) or any(not 0 <= i < len(tables) for i in table_index):
            raise ValueError(
                f"table_index must give one index in [0, {len(tables)}) per component. "
                f"Received: table_index={self.table_index}"
            )
        sampling = tuple((int(h), int(v)) for h, v in self.sampling)
        if len(sampling) != len(comps) or any(
            not (1 <= h <= 4 and 1 <= v <= 4) for h, v in sampling
        ):
            raise ValueError(
                "sampling must give (h, v) factors in 1..4 per component. "
                f"Received: sampling={self.sampling}"
            )
        hmax = max(h for h, _ in sampling)
        vmax = max(v for _, v in sampling)
        if len(sampling) > 1 and sum(h * v for h, v in sampling) > 10:
            raise ValueError(
                "an MCU holds at most 10 blocks (sum of h·v over the components, T.81 B.2.3). "
                f"Received: sampling={sampling}"
            )
        if any(hmax % h or vmax % v for h, v in sampling):
            raise ValueError(
                f"sampling factors must divide the largest ones. Received: sampling={sampling}"
            )
        height, width = int(self.height), int(self.width)
        if not (1 <= height <= LIBJPEG_MAX_DIMENSION and 1 <= width <= LIBJPEG_MAX_DIMENSION):
            raise ValueError(
                f"height and width must be in 1..{LIBJPEG_MAX_DIMENSION}. "
                f"Received: height={self.height}, width={self.width}"
            )
        object.__setattr__(self, "components", comps)
        object.__setattr__(self, "tables", tables.astype(np.uint16))
        object.__setattr__(self, "table_index", table_index)
        object.__setattr__(self, "sampling", sampling)
        object.__setattr__(self, "height", height)
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "progressive", bool(self.progressive))
        for c, comp in enumerate(comps):
            if comp.shape[:2] != self.real_block_shape(c):
                raise ValueError(
                    f"component {c} must have {self.real_block_shape(c)} blocks for a "
                    f"{width}x{height} image with sampling {sampling}. Received: "
                    f"components[{c}].shape={comp.shape}"
                )

    @property
    def num_components(self) -> int:
        """1 for grayscale, 3 for YCbCr."""
        return len(self.components)

    @property
    def subsampling(self) -> str:
        """Chroma subsampling name: "gray", "444", "422", "420", "440", "411", "410".

        Other layouts are spelled out as "HxV,HxV,HxV" (the sampling factors).
        """
        if self.num_components == 1:
            return "gray"
        (hy, vy), (hb, vb), (hr, vr) = self.sampling
        if (hb, vb) == (hr, vr) and hy % hb == 0 and vy % vb == 0:
            name = _SUBSAMPLING_NAMES.get((hy // hb, vy // vb))
            if name is not None:
                return name
        return ",".join(f"{h}x{v}" for h, v in self.sampling)

    @property
    def component_tables(self) -> np.ndarray:
        """uint16 (num_components, 8, 8): the table of each component (``tables[table_index]``)."""
        return self.tables[list(self.table_index)]

    def real_block_shape(self, c: int) -> tuple[int, int]:
        """Blocks of component ``c`` that hold image data: ⌈⌈H·v/vmax⌉/8⌉ × ⌈⌈W·h/hmax⌉/8⌉.

        For a single-component (grayscale) image the factors are irrelevant: ⌈H/8⌉ × ⌈W/8⌉.
        """
        if self.num_components == 1:
            return (math.ceil(self.height / 8), math.ceil(self.width / 8))
        h, v = self.sampling[c]
        hmax = max(s[0] for s in self.sampling)
        vmax = max(s[1] for s in self.sampling)
        return (
            math.ceil(math.ceil(self.height * v / vmax) / 8),
            math.ceil(math.ceil(self.width * h / hmax) / 8),
        )

    def padded_block_shape(self, c: int) -> tuple[int, int]:
        """Blocks of component ``c`` including the MCU padding of interleaved scans.

        (MCU rows × v, MCU columns × h) with MCU = 8·vmax × 8·hmax pixels; equal to
        :meth:`real_block_shape` for grayscale images.
        """
        if self.num_components == 1:
            return self.real_block_shape(c)
        h, v = self.sampling[c]
        hmax = max(s[0] for s in self.sampling)
        vmax = max(s[1] for s in self.sampling)
        return (math.ceil(self.height / (8 * vmax)) * v, math.ceil(self.width / (8 * hmax)) * h)


def _as_int16_blocks(comp, index: int) -> np.ndarray:
    arr = np.asarray(comp)
    if arr.ndim != 4 or arr.shape[2:] != (8, 8):
        raise ValueError(
            f"components[{index}] must have shape (height_in_blocks, width_in_blocks, 8, 8). "
            f"Received: shape={arr.shape}"
        )
    if arr.dtype != np.int16:
        if arr.dtype.kind not in "iu":
            raise ValueError(f"components[{index}] must be int16. Received: dtype={arr.dtype}")
        if arr.size and (arr.min() < -32768 or arr.max() > 32767):
            raise ValueError(f"components[{index}] has values outside the int16 range.")
        arr = arr.astype(np.int16)
    return arr


# ----------------------------------------------------------------------------------- libjpeg calls
@contextlib.contextmanager
def _stderr_captured(sink: list[str]) -> Iterator[None]:
    """Redirect file descriptor 2 (C ``stderr``, where libjpeg prints) into ``sink``."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    with tempfile.TemporaryFile() as tmp:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: capture, then close it again
            saved = None
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            if saved is None:
                os.close(2)
            else:
                os.dup2(saved, 2)
                os.close(saved)
            tmp.seek(0)
            sink.append(tmp.read().decode("utf-8", "replace"))


class _Diagnostics:
    """What libjpeg printed during a :func:`_jpeglib_session`.

    The caller sets ``failed`` when jpeglib raised; then every captured line is kept as the reason.
    Otherwise only libjpeg's warning lines are kept, and other lines (e.g. another thread logging
    meanwhile) are passed on to stderr.
    """

    def __init__(self) -> None:
        self.failed = False
        self.messages: list[str] = []

    @property
    def problems(self) -> list[str]:
        """The distinct messages that mean the result cannot be trusted."""
        out: list[str] = []
        for m in self.messages:
            if (self.failed or not _LIBJPEG_BENIGN.match(m)) and m not in out:
                out.append(m)
        return out


@contextlib.contextmanager
def _jpeglib_session(version: str) -> Iterator[_Diagnostics]:
    """Run jpeglib calls with ``version`` selected, serialized, with libjpeg's messages captured."""
    diagnostics = _Diagnostics()
    captured: list[str] = []
    with _JPEGLIB_LOCK:
        previous = jpeglib.version.get()
        jpeglib.version.set(version)
        try:
            with _stderr_captured(captured):
                yield diagnostics
        finally:
            if previous is not None and previous != version:
                jpeglib.version.set(previous)
            others = []
            for line in "".join(captured).splitlines():
                if not line.strip():
                    continue
                if (
                    diagnostics.failed
                    or _LIBJPEG_WARNING.match(line)
                    or _LIBJPEG_BENIGN.match(line)
                ):
                    diagnostics.messages.append(line.strip())
                else:
                    others.append(line)
            if others:
                with contextlib.suppress(OSError):
                    os.write(2, ("\n".join(others) + "\n").encode())


# -------------------------------------------------------------------------------------------- read
def _load(source) -> tuple[bytes, str | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        with open(path, "rb") as f:
            return f.read(), str(path)
    raise TypeError(
        "source must be a path (str or os.PathLike) or the file's bytes. "
        f"Received: type(source)={type(source).__name__}"
    )


@contextlib.contextmanager
def _naming(label: str | None) -> Iterator[None]:
    """Prefix tfjpeg errors with the file name, so batch jobs say which file was bad."""
    try:
        yield
    except TfjpegError as e:
        if label is None:
            raise
        raise type(e)(f"{label}: {e}") from None


def read_jpeg(
    source: str | os.PathLike | bytes, *, max_pixels: int | None = None
) -> JpegCoefficients:
    """Read the quantized DCT coefficients and quantization tables of a JPEG file.

    The file is validated first (:func:`tfjpeg.io.markers.parse_jpeg_header`), then read with
    jpeglib's libjpeg-turbo 2.1 (:data:`JPEGLIB_READ_VERSION`). Baseline, extended, progressive and
    arithmetic-coded 8-bit files with 1 or 3 components and any integer sampling (4:4:4, 4:2:2,
    4:2:0, 4:4:0, 4:1:1, ...) are supported; progressive and arithmetic files give exactly the
    coefficients of the equivalent baseline file.

    Args:
        source: a path, or the file's bytes.
        max_pixels: refuse images with more pixels (height × width) than this, checked from the
            header before anything is decoded. None: ``$TFJPEG_MAX_PIXELS`` or 100 megapixels.

    Returns:
        The :class:`JpegCoefficients`.

    Raises:
        InvalidJpegError: not a JPEG, empty, truncated, or corrupt (including corruption that
            libjpeg only warns about, such as bad Huffman codes inside the scan data).
        UnsupportedJpegError: 12-bit, lossless, hierarchical, CMYK/YCCK, RGB-coded, ...
        ImageTooLargeError: more than ``max_pixels`` pixels.
        FileNotFoundError: the path does not exist.

    Example:
        >>> coeffs = read_jpeg(encode_pixels(np.zeros((16, 24, 3), np.uint8), quality=75))
        >>> coeffs.components[0].shape, coeffs.subsampling
        ((2, 3, 8, 8), '420')
    """
    data, label = _load(source)
    with _naming(label):
        header = parse_jpeg_header(data, max_pixels=resolve_max_pixels(max_pixels))
        components = _read_dct(data[: header.end], len(header.components))
        # Tables as latched by the decoder at each component's first scan, one per (slot, value):
        # components sharing a DQT slot share an entry (slots are only split if redefined).
        keys: list[tuple[int, bytes]] = []
        tables: list[np.ndarray] = []
        table_index: list[int] = []
        for comp, table in zip(header.components, header.tables, strict=True):
            key = (comp.table_slot, table.tobytes())
            if key not in keys:
                keys.append(key)
                tables.append(table)
            table_index.append(keys.index(key))
        try:
            return JpegCoefficients(
                components=tuple(components),
                tables=np.stack(tables),
                table_index=tuple(table_index),
                sampling=header.sampling,
                height=header.height,
                width=header.width,
                progressive=header.progressive,
            )
        except ValueError as e:  # libjpeg and the header disagree: never hand out such arrays
            raise InvalidJpegError(f"Inconsistent JPEG: {e}") from None


def _read_dct(data: bytes, num_components: int) -> list[np.ndarray]:
    with tempfile.TemporaryDirectory(prefix="tfjpeg-") as tmp:
        path = os.path.join(tmp, "input.jpg")
        with open(path, "wb") as f:
            f.write(data)
        failure: OSError | None = None
        comps: list[np.ndarray] = []
        with _jpeglib_session(JPEGLIB_READ_VERSION) as diagnostics:
            try:
                jpeg = jpeglib.read_dct(path)
                comps = [jpeg.Y] + ([jpeg.Cb, jpeg.Cr] if num_components == 3 else [])
            except OSError as e:
                diagnostics.failed, failure = True, e
    problems = diagnostics.problems
    if failure is not None or any(c is None for c in comps):
        detail = "; ".join(problems) or str(failure)
        raise InvalidJpegError(f"libjpeg could not read the JPEG: {detail}.")
    if problems:
        raise InvalidJpegError(
            f"Corrupt JPEG data (libjpeg: {'; '.join(problems)}). libjpeg would decode it with "
            "missing or garbled blocks, so tfjpeg refuses it."
        )
    return [np.ascontiguousarray(c, dtype=np.int16) for c in comps]


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
    data, label = _load(source)
    with _naming(label):
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


# ------------------------------------------------------------------------------------------- write
def _check_image(image) -> np.ndarray:
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


def _check_quality(quality) -> int:
    if (
        isinstance(quality, bool)
        or not isinstance(quality, (int, np.integer))
        or not 1 <= quality <= 100
    ):
        raise ValueError(f"quality must be an integer in [1, 100]. Received: quality={quality!r}")
    return int(quality)


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
    arr = _check_image(image)
    quality = _check_quality(quality)
    if subsampling not in _SUBSAMPLINGS:
        raise ValueError(
            f"subsampling must be one of {_SUBSAMPLINGS}. Received: subsampling={subsampling!r}"
        )
    if encoder not in ("libjpeg", "mozjpeg"):
        raise ValueError(f"encoder must be 'libjpeg' or 'mozjpeg'. Received: encoder={encoder!r}")
    if encoder == "libjpeg":
        buf = io.BytesIO()
        kwargs = {} if arr.ndim == 2 else {"subsampling": _PILLOW_SUBSAMPLING[subsampling]}
        Image.fromarray(arr).save(
            buf,
            "JPEG",
            quality=quality,
            optimize=bool(optimize),
            progressive=bool(progressive),
            **kwargs,
        )
        return buf.getvalue()
    data = _encode_mozjpeg(arr, quality, subsampling)
    if progressive:
        return data
    coeffs = read_jpeg(data, max_pixels=arr.shape[0] * arr.shape[1])
    return encode_coefficients(dataclasses.replace(coeffs, progressive=False), optimize=optimize)


def _encode_mozjpeg(arr: np.ndarray, quality: int, subsampling: str) -> bytes:
    spatial = arr if arr.ndim == 3 else arr[..., None]
    with tempfile.TemporaryDirectory(prefix="tfjpeg-") as tmp:
        path = os.path.join(tmp, "mozjpeg.jpg")
        failure: OSError | None = None
        with _jpeglib_session(JPEGLIB_MOZJPEG_VERSION) as diagnostics:
            try:
                jpeg = jpeglib.from_spatial(np.ascontiguousarray(spatial))
                if spatial.shape[-1] == 3:
                    jpeg.samp_factor = np.array(_JPEGLIB_SAMP_FACTOR[subsampling], dtype=np.int32)
                jpeg.write_spatial(path, qt=quality, flags=["+FORCE_BASELINE"])
            except OSError as e:
                diagnostics.failed, failure = True, e
        if failure is not None:
            detail = "; ".join(diagnostics.problems) or failure
            raise TfjpegError(f"mozjpeg failed to encode the image: {detail}")
        with open(path, "rb") as f:
            return f.read()


def _check_coefficient_range(coeffs: JpegCoefficients) -> None:
    """8-bit JPEG limits: |AC| ≤ 1023, DC in [-1024, 1023] (so DC differences fit in 11 bits)."""
    for c, comp in enumerate(coeffs.components):
        if comp.size == 0:
            continue
        dc = comp[..., 0, 0]
        ac = comp.reshape(*comp.shape[:2], 64)[..., 1:]
        if dc.min() < -1024 or dc.max() > 1023 or np.abs(ac.astype(np.int32)).max() > 1023:
            raise ValueError(
                f"components[{c}] is out of range for an 8-bit JPEG: DC must be in [-1024, 1023] "
                f"and AC in [-1023, 1023]. Received: DC in [{dc.min()}, {dc.max()}], "
                f"max |AC| = {np.abs(ac.astype(np.int32)).max()}"
            )


def encode_coefficients(coeffs: JpegCoefficients, *, optimize: bool = False) -> bytes:
    """Write quantized coefficients and tables to a standard sequential JPEG, losslessly.

    Uses jpeglib's libjpeg-turbo 2.1 (``jpeg_write_coefficients``): the file decodes with any
    JPEG decoder and :func:`read_jpeg` gives back exactly ``coeffs`` (components, tables,
    table_index, sampling, size). The file is baseline (SOF0) when every table entry is ≤ 255, else
    extended sequential with 16-bit tables (SOF1); JFIF, component ids 1, 2, 3.

    Args:
        coeffs: the coefficients, e.g. from :func:`read_jpeg` or a decoder/editor.
        optimize: optimized Huffman tables instead of the standard (Annex K) ones.

    Returns:
        The JPEG file as bytes.

    Raises:
        ValueError: coefficients outside the 8-bit JPEG range, or tables over 32767 (libjpeg).

    Example:
        >>> coeffs = read_jpeg(encode_pixels(np.zeros((8, 8), np.uint8), quality=50))
        >>> again = read_jpeg(encode_coefficients(coeffs))
        >>> np.array_equal(again.components[0], coeffs.components[0])
        True
    """
    if not isinstance(coeffs, JpegCoefficients):
        raise TypeError(
            f"coeffs must be a JpegCoefficients. Received: type={type(coeffs).__name__}"
        )
    _check_coefficient_range(coeffs)
    if coeffs.tables.max() > 32767:
        raise ValueError(
            f"libjpeg writes table entries up to 32767. Received: max={coeffs.tables.max()}"
        )
    # Renumber tables in order of first use: jpeglib's table writer relies on it.
    order: list[int] = []
    for i in coeffs.table_index:
        if i not in order:
            order.append(i)
    tables = coeffs.tables[order].astype(np.uint16)
    slots = np.array([order.index(i) for i in coeffs.table_index], dtype=np.int16)
    comps = coeffs.components
    samp = np.array([[v, h] for h, v in coeffs.sampling], dtype=np.int32)
    with tempfile.TemporaryDirectory(prefix="tfjpeg-") as tmp:
        path = os.path.join(tmp, "coefficients.jpg")
        failure: OSError | None = None
        with _jpeglib_session(JPEGLIB_READ_VERSION) as diagnostics:
            try:
                jpeg = jpeglib.from_dct(
                    Y=comps[0],
                    Cb=comps[1] if len(comps) == 3 else None,
                    Cr=comps[2] if len(comps) == 3 else None,
                    qt=tables,
                    quant_tbl_no=slots,
                )
                jpeg.height, jpeg.width, jpeg.samp_factor = coeffs.height, coeffs.width, samp
                jpeg.write_dct(path, flags=["+OPTIMIZE_CODING" if optimize else "-OPTIMIZE_CODING"])
            except OSError as e:
                diagnostics.failed, failure = True, e
        if failure is not None or diagnostics.problems:
            detail = "; ".join(diagnostics.problems) or failure
            raise TfjpegError(f"libjpeg failed to write the coefficients: {detail}")
        with open(path, "rb") as f:
            data = f.read()
    # jpeglib numbers components 0, 1, 2; JFIF wants 1, 2, 3.
    return renumber_components(data, tuple(range(1, len(comps) + 1)))


def save_bytes_atomic(
    path: str | os.PathLike,
    data: bytes,
    *,
    overwrite: bool = False,
    source: str | os.PathLike | None = None,
) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, then a rename.

    Readers never see a half-written file, and a crash leaves either the old file or the new one.
    Without ``overwrite`` an existing file is never replaced (the final step is a hard link, which
    fails if the name exists, where the file system supports it). ``source`` — the user's input
    file — is never written to, even with ``overwrite=True`` (also when ``path`` is a hard or
    symbolic link to it).

    Args:
        path: destination file.
        data: the bytes to write.
        overwrite: allow replacing an existing file.
        source: the input file this output was made from, if any.

    Returns:
        The destination as a :class:`pathlib.Path`.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        ValueError: ``path`` is ``source``.

    Example:
        >>> save_bytes_atomic("out.jpg", jpeg_bytes, source="in.jpg")  # doctest: +SKIP
        PosixPath('out.jpg')
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes. Received: type(data)={type(data).__name__}")
    dest = Path(os.fspath(path))
    if source is not None and _same_file(dest, Path(os.fspath(source))):
        raise ValueError(
            f"Refusing to write onto the input file {os.fspath(source)!r}; "
            "choose another output path."
        )
    if dest.exists() and not overwrite:
        raise FileExistsError(
            errno.EEXIST, "Output file exists; pass overwrite=True to replace it", str(dest)
        )
    folder = dest.parent if str(dest.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())
        if overwrite:
            os.replace(tmp_name, dest)
        else:
            try:
                os.link(tmp_name, dest)  # atomic "create only if absent"
            except FileExistsError:
                raise FileExistsError(
                    errno.EEXIST, "Output file exists; pass overwrite=True to replace it", str(dest)
                ) from None
            except OSError:  # no hard links on this file system
                if dest.exists():
                    raise FileExistsError(
                        errno.EEXIST,
                        "Output file exists; pass overwrite=True to replace it",
                        str(dest),
                    ) from None
                os.replace(tmp_name, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    _fsync_dir(folder)
    return dest


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def _umask() -> int:
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
