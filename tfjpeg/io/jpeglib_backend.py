"""libjpeg through jpeglib: a file's quantized coefficients, writing them back, mozjpeg encoding.

This is tfjpeg's boundary with libjpeg itself:

* :func:`read_jpeg` gives the quantized DCT coefficients and tables of a file exactly as libjpeg
  stores them (jpeglib with libjpeg-turbo 2.1, ``jpeg_read_coefficients``);
* :func:`encode_coefficients` writes coefficients back to a standard ``.jpg`` losslessly, so
  editors and decoders can always hand back a real file;
* :func:`encode_mozjpeg` is mozjpeg's encoder (used by :func:`tfjpeg.io.encode_pixels`).

Safety. Every input is first validated by the pure-Python marker parser
(:func:`tfjpeg.io.markers.parse_jpeg_header`): truncation anywhere, malformed segments,
unsupported kinds of JPEG and decompression bombs (:mod:`tfjpeg.io.limits`) are rejected before
libjpeg sees a byte. jpeglib's build of libjpeg replaces ``error_exit`` (which would call
``exit()``) by a C++ exception that becomes an ``OSError``; libjpeg's *warnings* ("Corrupt JPEG
data: bad Huffman code", "Premature end of JPEG file", ...) only go to C ``stderr`` while the
data are silently zero-filled, so the reader captures file descriptor 2 during the call and turns
any such warning into :class:`~tfjpeg.errors.InvalidJpegError`. jpeglib keeps global state (the
selected libjpeg version, marker buffers), so all jpeglib calls are serialized by one lock and the
version is restored afterwards.

Reference: ITU-T T.81; libjpeg-turbo; jpeglib (Beneš et al., "Know your library: how the libjpeg
version influences compression and decompression results", IH&MMSec 2022).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator

import jpeglib
import numpy as np

from tfjpeg._checks import check_bool, check_choice
from tfjpeg.errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
    InvalidJpegError,
    TfjpegError,
    TfjpegIOError,
    UnsupportedJpegError,
)
from tfjpeg.io.coefficients import JpegCoefficients
from tfjpeg.io.limits import load_source, naming, resolve_max_pixels
from tfjpeg.io.markers import parse_jpeg_header, renumber_components
from tfjpeg.io.messages import RGB_CODED
from tfjpeg.jpeg.layout import CODEC_SUBSAMPLINGS, LAYOUTS

__all__ = [
    "JPEGLIB_MOZJPEG_VERSION",
    "JPEGLIB_READ_VERSION",
    "encode_coefficients",
    "encode_mozjpeg",
    "read_jpeg",
]

#: jpeglib's libjpeg used to read and write coefficients (libjpeg-turbo 2.1, like Pillow's family).
JPEGLIB_READ_VERSION = "turbo210"
#: jpeglib's libjpeg used by ``encode_pixels(..., encoder="mozjpeg")``.
JPEGLIB_MOZJPEG_VERSION = "mozjpeg403"

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


def _jpeglib_samp_factor(subsampling: str) -> np.ndarray:
    """jpeglib's ``samp_factor`` of a colour layout: (v, h) per component."""
    return np.array([(v, h) for h, v in LAYOUTS[subsampling].sampling], dtype=np.int32)


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


@contextlib.contextmanager
def _scratch_folder(what: str) -> Iterator[str]:
    """A private temporary folder for jpeglib's file-based API.

    Any ``OSError`` of tfjpeg's own file handling in it (``$TMPDIR`` full, read-only or missing)
    becomes :class:`~tfjpeg.errors.TfjpegIOError` naming the cause; tfjpeg's own errors (which
    the body raises for bad data) pass unchanged.
    """
    try:
        with tempfile.TemporaryDirectory(prefix="tfjpeg-") as tmp:
            yield tmp
    except TfjpegError:
        raise
    except OSError as e:
        raise TfjpegIOError(
            e.errno,
            f"tfjpeg could not use its temporary files in {tempfile.gettempdir()!r} while {what} "
            f"({e.strerror or e}); free some space or point TMPDIR at a writable folder",
        ) from e


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


def read_jpeg(
    source: str | os.PathLike | bytes, *, max_pixels: int | None = None, allow_rgb: bool = False
) -> JpegCoefficients:
    """Read the quantized DCT coefficients and quantization tables of a JPEG file.

    The file is validated first (:func:`tfjpeg.io.markers.parse_jpeg_header`), then read with
    jpeglib's libjpeg-turbo 2.1 (:data:`JPEGLIB_READ_VERSION`). Baseline, extended and
    progressive Huffman-coded 8-bit files with 1 or 3 components and any integer sampling (4:4:4,
    4:2:2, 4:2:0, 4:4:0, 4:1:1, ...) are supported; progressive files give exactly the
    coefficients of the equivalent baseline file. RGB-coded files (``cjpeg -rgb``) are read only
    with ``allow_rgb=True``: their ``color_space`` is then ``"rgb"``. They are refused by default
    because most code that takes coefficients (the learned decoders, the consistency projection)
    assumes YCbCr components and would silently produce wrong colours.
    Arithmetic-coded files are refused (their truncation is undetectable, see
    :mod:`tfjpeg.io.markers`).

    Args:
        source: a path, or the file's bytes.
        max_pixels: refuse images with more pixels (height × width) than this, checked from the
            header before anything is decoded. None: ``$TFJPEG_MAX_PIXELS`` or 100 megapixels.
        allow_rgb: also read RGB-coded files (``JpegCoefficients.color_space == "rgb"``); the
            caller must then handle components that are R, G, B rather than Y, Cb, Cr.

    Returns:
        The :class:`JpegCoefficients`.

    Raises:
        InvalidJpegError: not a JPEG, empty, truncated, or corrupt (including corruption that
            libjpeg only warns about, such as bad Huffman codes inside the scan data).
        UnsupportedJpegError: 12-bit, lossless, hierarchical, arithmetic-coded, CMYK/YCCK,
            RGB-coded without ``allow_rgb``, ...
        ImageTooLargeError: more than ``max_pixels`` pixels.
        FileNotFoundError: the path does not exist.
        TfjpegIOError: tfjpeg's temporary files could not be written (e.g. ``$TMPDIR`` full).

    Example:
        >>> coeffs = read_jpeg(encode_pixels(np.zeros((16, 24, 3), np.uint8), quality=75))
        >>> coeffs.components[0].shape, coeffs.subsampling
        ((2, 3, 8, 8), '420')
    """
    allow_rgb = check_bool(allow_rgb, "allow_rgb")
    data, label = load_source(source)
    with naming(label):
        header = parse_jpeg_header(data, max_pixels=resolve_max_pixels(max_pixels))
        if header.color_space == "rgb" and not allow_rgb:
            raise UnsupportedJpegError(RGB_CODED)
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
                color_space=header.color_space,
            )
        except ValueError as e:  # libjpeg and the header disagree: never hand out such arrays
            raise InvalidJpegError(f"Inconsistent JPEG: {e}") from None


def _read_dct(data: bytes, num_components: int) -> list[np.ndarray]:
    with _scratch_folder("reading the JPEG with libjpeg") as tmp:
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


def encode_mozjpeg(
    arr: np.ndarray, quality: int | None, subsampling: str, tables: np.ndarray | None = None
) -> bytes:
    """mozjpeg 4.0.3's file for checked uint8 pixels (H, W, 3) or (H, W), progressive.

    Called by :func:`tfjpeg.io.encode_pixels`, which checks the arguments and describes the
    settings (``JCP_MAX_COMPRESSION``, trellis quantization, mozjpeg's tables, baseline).
    ``tables``: checked (K, 8, 8) tables in 1..255, natural order, used instead of ``quality``'s
    (jpeglib hands them to ``jpeg_add_quant_table`` unscaled; K = 1 for gray, 2 or 3 for colour).
    """
    check_choice(subsampling, CODEC_SUBSAMPLINGS, "subsampling")
    spatial = arr if arr.ndim == 3 else arr[..., None]
    with _scratch_folder("encoding with mozjpeg") as tmp:
        path = os.path.join(tmp, "mozjpeg.jpg")
        failure: OSError | None = None
        with _jpeglib_session(JPEGLIB_MOZJPEG_VERSION) as diagnostics:
            try:
                jpeg = jpeglib.from_spatial(np.ascontiguousarray(spatial))
                if spatial.shape[-1] == 3:
                    jpeg.samp_factor = _jpeglib_samp_factor(subsampling)
                qt = quality if tables is None else np.ascontiguousarray(tables, np.uint16)
                jpeg.write_spatial(path, qt=qt, flags=["+FORCE_BASELINE"])
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
            raise InvalidArgumentError(
                f"components[{c}] is out of range for an 8-bit JPEG: DC must be in [-1024, 1023] "
                f"and AC in [-1023, 1023]. Received: DC in [{dc.min()}, {dc.max()}], "
                f"max |AC| = {np.abs(ac.astype(np.int32)).max()}"
            )


def encode_coefficients(coeffs: JpegCoefficients, *, optimize: bool = False) -> bytes:
    """Write quantized coefficients and tables to a standard sequential JPEG, losslessly.

    Uses jpeglib's libjpeg-turbo 2.1 (``jpeg_write_coefficients``): the file decodes with any
    JPEG decoder and :func:`read_jpeg` gives back exactly ``coeffs`` (components, tables,
    table_index, sampling, size, colour space). The file is baseline (SOF0) when every table
    entry is ≤ 255, else extended sequential with 16-bit tables (SOF1); JFIF with component ids
    1, 2, 3, or for ``color_space="rgb"`` an Adobe APP14 transform-0 segment with ids 'R', 'G',
    'B' (as ``cjpeg -rgb``).

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
        raise InvalidArgumentTypeError(
            f"coeffs must be a JpegCoefficients. Received: type={type(coeffs).__name__}"
        )
    optimize = check_bool(optimize, "optimize")
    _check_coefficient_range(coeffs)
    if coeffs.tables.max() > 32767:
        raise InvalidArgumentError(
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
    with _scratch_folder("writing the coefficients with libjpeg") as tmp:
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
    if coeffs.color_space == "rgb":
        # As ``cjpeg -rgb``: no JFIF segment, an Adobe segment with transform 0, ids 'R', 'G', 'B'
        # (libjpeg's default_decompress_parms then reads the components as RGB).
        return _mark_rgb(renumber_components(data, (82, 71, 66)))
    # jpeglib numbers components 0, 1, 2; JFIF wants 1, 2, 3.
    return renumber_components(data, tuple(range(1, len(comps) + 1)))


#: APP14 "Adobe" segment, version 100, no flags, transform 0 (the components are not YCbCr).
_ADOBE_RGB_APP14 = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"


def _mark_rgb(data: bytes) -> bytes:
    """libjpeg's file with its JFIF APP0 segment(s) replaced by an Adobe transform-0 segment."""
    out = bytearray(data[:2])
    pos = 2
    while data[pos + 1] != 0xDA:  # header segments up to the first SOS (libjpeg's own output)
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if data[pos + 1] != 0xE0:
            out += data[pos : pos + 2 + length]
        pos += 2 + length
    return bytes(out[:2] + _ADOBE_RGB_APP14 + out[2:] + data[pos:])
