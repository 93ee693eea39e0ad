"""A small pure-Python JPEG marker parser that validates a file before libjpeg sees it.

libjpeg is forgiving in ways that are wrong for a coefficient reader: a file that ends early is
padded with zeros after a mere warning ("Premature end of JPEG file"), and the jpeglib wrapper keeps
some state in fixed-size buffers (at most 50 APPn/COM segments, at most 4 components). This module
walks every marker segment and every entropy-coded segment of the file (ITU-T T.81 Annex B) and
raises a clear :class:`~tfjpeg.errors.TfjpegError` for anything tfjpeg cannot read exactly:

* not a JPEG, empty, truncated anywhere (inside a segment, inside a scan, or before EOI), malformed
  segments, restart markers out of order, components that never receive scan data
  → :class:`~tfjpeg.errors.InvalidJpegError`;
* 12/16-bit, lossless, hierarchical, JPEG-LS, arithmetic-coded (see below), CMYK/YCCK
  (4 components), 2 or more than 4 components, fractional sampling ratios, a height defined by
  DNL → :class:`~tfjpeg.errors.UnsupportedJpegError`;
* more pixels than ``max_pixels`` or a side over libjpeg's 65500
  → :class:`~tfjpeg.errors.ImageTooLargeError`.

Supported: 8-bit baseline (SOF0), extended sequential (SOF1) and progressive (SOF2) Huffman-coded
files with 1 (grayscale) or 3 components: YCbCr, or RGB-coded (Adobe transform 0, or ids 'R', 'G',
'B'), reported as :attr:`JpegHeader.color_space` and decided exactly as libjpeg does
(:func:`libjpeg_color_space`). Bit errors inside entropy-coded data cannot be seen without
decoding; the reader in :mod:`tfjpeg.io.jpeglib_backend` catches those from libjpeg's warnings.

Arithmetic coding (SOF9/SOF10) is refused: an arithmetic decoder that meets a marker must go on
with zero bytes (T.81 D.2.6, libjpeg ``jdarith.c``), and encoders drop trailing zero bytes, so a
scan cut short and followed by a marker (e.g. EOI) is a *valid* stream that libjpeg decodes with
zeros, without any warning. Unlike Huffman data, truncation cannot be told from a legitimate end
without a full decode, so tfjpeg cannot read such files exactly and safely.

Reference: ITU-T T.81 (1992) Annex B (syntax), Annex G (progressive); libjpeg-turbo ``jdmarker.c``.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np

from tfjpeg._checks import check_positive_int
from tfjpeg.errors import (
    ImageTooLargeError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    InvalidJpegError,
    UnsupportedJpegError,
)
from tfjpeg.io import messages as msg
from tfjpeg.jpeg.tables import ZIGZAG

__all__ = [
    "COLOR_SPACES",
    "LIBJPEG_MAX_DIMENSION",
    "MAX_MARKERS",
    "MAX_METADATA_SEGMENTS",
    "MAX_SCANS",
    "MAX_TABLES_PER_SEGMENT",
    "FrameComponent",
    "JpegHeader",
    "component_blocks",
    "libjpeg_color_space",
    "min_scan_bytes",
    "parse_jpeg_header",
    "renumber_components",
]

#: libjpeg's ``JPEG_MAX_DIMENSION``: it refuses wider or taller images.
LIBJPEG_MAX_DIMENSION = 65500
#: jpeglib stores APPn/COM segments in a fixed array of 50 entries; more would overflow it.
MAX_METADATA_SEGMENTS = 50
#: The colour spaces of the files tfjpeg reads (see :func:`libjpeg_color_space`).
COLOR_SPACES = ("gray", "ycbcr", "rgb")
#: Guard against "scan bombs" (thousands of tiny progressive scans that make decoding slow).
MAX_SCANS = 1000
#: Guard against files made of many tiny segments (each costs the in-graph reader a loop step).
MAX_MARKERS = 5000
#: At most this many tables in one DQT segment (twice as many in one DHT segment): libjpeg writes
#: one or two; more only make a file slow to walk.
MAX_TABLES_PER_SEGMENT = 4
#: Most blocks one Huffman symbol can cover in a progressive AC scan (an EOB run: T.81 G.1.2.2,
#: EOBn with n ≤ 14 extra bits, libjpeg ``jdphuff.c``).
MAX_EOB_RUN = 32767

_SOI, _EOI, _SOS, _DQT, _DHT, _DRI, _DNL, _DAC, _COM, _TEM = (
    0xD8,
    0xD9,
    0xDA,
    0xDB,
    0xC4,
    0xDD,
    0xDC,
    0xCC,
    0xFE,
    0x01,
)
_SUPPORTED_SOF = {0xC0, 0xC1, 0xC2, 0xC9, 0xCA}
_PROGRESSIVE_SOF = {0xC2, 0xCA}
_ARITHMETIC_SOF = {0xC9, 0xCA}
_UNSUPPORTED_SOF = msg.UNSUPPORTED_SOF_KINDS
_SUPPORTED_TEXT = msg.SUPPORTED_TEXT

# End of an entropy-coded segment: one or more 0xFF followed by a byte that is neither a stuffed
# zero nor another fill byte. RSTn (D0-D7) matches too and is handled by the caller.
# (Spelled with a literal first byte so that the regex engine can skip ahead quickly: ~15x faster.)
_ECS_MARKER = re.compile(rb"\xff(?:\xff)*([^\x00\xff])")


@dataclasses.dataclass(frozen=True)
class FrameComponent:
    """One component of the frame header (SOF).

    Attributes:
        component_id: the identifier C_i (1, 2, 3 in JFIF files).
        h: horizontal sampling factor H_i (1..4).
        v: vertical sampling factor V_i (1..4).
        table_slot: the quantization table destination Tq_i (0..3).
    """

    component_id: int
    h: int
    v: int
    table_slot: int


@dataclasses.dataclass(frozen=True, eq=False)
class JpegHeader:
    """What the marker parser learned about a JPEG file it accepted.

    Attributes:
        sof_marker: the frame marker code (0xC0 baseline, 0xC1, 0xC2 progressive, 0xC9, 0xCA).
        precision: sample precision in bits (always 8 for accepted files).
        height: image height in pixels.
        width: image width in pixels.
        components: the frame components, in frame order.
        progressive: whether the frame is progressive (SOF2/SOF10).
        arithmetic: whether the entropy coding is arithmetic (SOF9/SOF10).
        color_space: ``"gray"``, ``"ycbcr"`` or ``"rgb"`` (RGB-coded: the three components are
            R, G, B without the YCbCr transform), decided as libjpeg does
            (:func:`libjpeg_color_space`).
        tables: per component, the (8, 8) uint16 quantization table in natural (row-major) order
            that was in force when the component's first scan started (what a decoder uses).
        num_scans: number of scans (SOS segments).
        restart_interval: the last DRI value (0 when none).
        jfif: whether a JFIF APP0 segment precedes the first scan.
        adobe_transform: the Adobe APP14 colour transform code, or None without that segment.
        end: offset just past the EOI marker; bytes after it are ignored.

    Example:
        >>> header = parse_jpeg_header(open("photo.jpg", "rb").read())  # doctest: +SKIP
        >>> header.width, header.height, header.progressive  # doctest: +SKIP
        (768, 512, False)
    """

    sof_marker: int
    precision: int
    height: int
    width: int
    components: tuple[FrameComponent, ...]
    progressive: bool
    arithmetic: bool
    color_space: str
    tables: tuple[np.ndarray, ...]
    num_scans: int
    restart_interval: int
    jfif: bool
    adobe_transform: int | None
    end: int

    @property
    def num_pixels(self) -> int:
        """``height * width``."""
        return self.height * self.width

    @property
    def sampling(self) -> tuple[tuple[int, int], ...]:
        """(h, v) sampling factors per component, as written in the SOF header."""
        return tuple((c.h, c.v) for c in self.components)


def _name(code: int) -> str:
    return msg.marker_name(code)


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\xff\x0a", "a JPEG XL codestream"),
    (b"\x00\x00\x00\x0cJXL ", "a JPEG XL file"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 file"),
)


def _what_is_it(data: bytes) -> str:
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            return f"; it looks like {what}"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "; it looks like a WebP image"
    return ""


def _truncated(where: str, n: int) -> InvalidJpegError:
    return InvalidJpegError(msg.TRUNCATED.format(where=where, n=n))


def component_blocks(height: int, width: int, h: int, v: int, hmax: int, vmax: int) -> int:
    """8x8 blocks of a component of a ``height`` x ``width`` frame: ⌈⌈H·v/vmax⌉/8⌉·⌈⌈W·h/hmax⌉/8⌉.

    What a non-interleaved scan codes (T.81 A.2.2); an interleaved one adds the MCU padding.
    """
    return math.ceil(math.ceil(height * v / vmax) / 8) * math.ceil(math.ceil(width * h / hmax) / 8)


def min_scan_bytes(blocks: int, dc_or_sequential: bool) -> int:
    """The fewest bytes of entropy-coded data a valid Huffman-coded scan of ``blocks`` blocks has.

    Every block of a sequential scan and of a progressive DC scan costs at least one bit (a DC
    Huffman code, or the refinement bit); in a progressive AC scan one EOB-run symbol (≥ 1 bit)
    covers at most :data:`MAX_EOB_RUN` blocks. Stuffed bytes, restart markers and padding only
    add bytes, so a scan shorter than this is cut short (or its frame header claims a larger
    image than the data holds: a decompression bomb of a few hundred bytes).
    """
    bits = blocks if dc_or_sequential else math.ceil(blocks / MAX_EOB_RUN)
    return math.ceil(bits / 8)


def _check_huffman_table(counts: bytes, symbols: bytes, is_dc: bool, where: str) -> None:
    """The checks of libjpeg's ``jpeg_make_d_derived_tbl`` (code space and DC symbol range)."""
    code = 0
    for length in range(1, 17):
        code += counts[length - 1]
        if code >= (1 << length) and any(counts[length - 1 :]):
            raise InvalidJpegError(msg.DHT_CODE_SPACE.format(where=where, length=length))
        code <<= 1
    if is_dc and any(s > 15 for s in symbols):
        raise InvalidJpegError(msg.DHT_DC_SYMBOL.format(where=where))


def libjpeg_color_space(
    component_ids: tuple[int, ...], *, jfif: bool, adobe_transform: int | None
) -> str:
    """The colour space libjpeg assumes for a file's components, from its header alone.

    Exactly libjpeg-turbo's ``default_decompress_parms`` (``jdapimin.c``) for 1 and 3
    components, which is what every libjpeg-based decoder (Pillow, ``djpeg``, browsers) uses:

    * 1 component → ``"gray"``;
    * 3 components: a JFIF APP0 segment → ``"ycbcr"``; else an Adobe APP14 segment: transform 0
      → ``"rgb"``, 1 (or an unknown code, after a warning) → ``"ycbcr"``; else (no such marker)
      the component ids: 1, 2, 3 → ``"ycbcr"``, ``'R'``, ``'G'``, ``'B'`` (82, 71, 66) → ``"rgb"``,
      anything else → ``"ycbcr"``.

    Only APP0/APP14 segments *before the first scan* count (libjpeg decides when it reads the
    first SOS).

    Args:
        component_ids: the frame's component ids, in frame order.
        jfif: whether a JFIF APP0 segment precedes the first scan.
        adobe_transform: the Adobe APP14 transform code, or None without that segment.

    Returns:
        ``"gray"``, ``"ycbcr"`` or ``"rgb"``.

    Raises:
        UnsupportedJpegError: a number of components other than 1 or 3.

    Example:
        >>> libjpeg_color_space((82, 71, 66), jfif=False, adobe_transform=None)
        'rgb'
        >>> libjpeg_color_space((82, 71, 66), jfif=True, adobe_transform=None)
        'ycbcr'
    """
    if len(component_ids) == 1:
        return "gray"
    if len(component_ids) != 3:
        raise UnsupportedJpegError(msg.COMPONENTS.format(nf=len(component_ids)))
    if jfif:
        return "ycbcr"
    if adobe_transform is not None:
        return "rgb" if adobe_transform == 0 else "ycbcr"
    return "rgb" if tuple(component_ids) == (82, 71, 66) else "ycbcr"


class _Parser:
    """State of one pass over the file (a fresh one per call: no module-level mutable state)."""

    def __init__(self, data: bytes, max_pixels: int | None, allow_arithmetic: bool = False):
        self.data = data
        self.allow_arithmetic = allow_arithmetic
        self.n = len(data)
        self.max_pixels = max_pixels
        self.frame: tuple | None = None  # (sof, precision, height, width, components)
        self.quant: dict[int, np.ndarray] = {}
        self.latched: dict[int, np.ndarray] = {}
        self.dc_tables: set[int] = set()
        self.ac_tables: set[int] = set()
        self.restart_interval = 0
        self.num_scans = 0
        self.metadata_segments = 0
        self.jfif = False
        self.adobe_transform: int | None = None
        self.color_space: str | None = None
        self.scanned: dict[int, int] = {}  # component index → number of scans containing it
        # progressive: per component, libjpeg's coef_bits (-1 = never coded, else current Al)
        self.coef_bits: dict[int, list[int]] = {}
        self.scan_blocks = (0, 0)  # the current scan's (blocks, fewest bytes of data)

    # ----------------------------------------------------------------------------------- segments
    def parse(self) -> JpegHeader:
        data, n = self.data, self.n
        if n == 0:
            raise InvalidJpegError(msg.EMPTY)
        if n < 2 or data[0] != 0xFF or data[1] != _SOI:
            raise InvalidJpegError(
                msg.NOT_JPEG.format(
                    start=data[:4].hex(" ").upper() or "nothing", what=_what_is_it(data)
                )
            )
        pos = 2
        markers = 0
        while True:
            if pos >= n:
                raise _truncated(msg.WHERE_BETWEEN, n)
            if data[pos] != 0xFF:
                raise InvalidJpegError(msg.GARBAGE.format(pos=pos, byte=msg.hex2(data[pos])))
            while pos < n and data[pos] == 0xFF:  # fill bytes
                pos += 1
            if pos >= n:
                raise _truncated(msg.WHERE_IN_MARKER, n)
            markers += 1
            if markers > MAX_MARKERS:
                raise UnsupportedJpegError(msg.TOO_MANY_MARKERS.format(limit=MAX_MARKERS))
            code = data[pos]
            marker_at = pos - 1
            pos += 1
            if code == _EOI:
                return self._finish(pos)
            if code == 0x00:
                raise InvalidJpegError(msg.FF00.format(at=marker_at))
            if code == _SOI:
                raise InvalidJpegError(msg.SECOND_SOI.format(at=marker_at))
            if 0xD0 <= code <= 0xD7 or code == _TEM:
                continue  # parameterless markers; libjpeg ignores them between segments
            if pos + 2 > n:
                raise _truncated(msg.WHERE_IN_LENGTH.format(name=_name(code)), n)
            length = (data[pos] << 8) | data[pos + 1]
            if length < 2:
                raise InvalidJpegError(
                    msg.BAD_LENGTH.format(name=_name(code), at=marker_at, length=length)
                )
            end = pos + length
            if end > n:
                raise _truncated(msg.WHERE_IN_SEGMENT.format(name=_name(code), at=marker_at), n)
            payload = data[pos + 2 : end]
            where = msg.SEGMENT.format(name=_name(code), at=marker_at)
            pos = end
            if code in _SUPPORTED_SOF or code in _UNSUPPORTED_SOF:
                self._frame(code, payload, where)
            elif code == _DQT:
                self._dqt(payload, where)
            elif code == _DHT:
                self._dht(payload, where)
            elif code == _DAC:
                self._dac(payload, where)
            elif code == _DRI:
                if length != 4:
                    raise InvalidJpegError(msg.LENGTH_4.format(where=where))
                self.restart_interval = (payload[0] << 8) | payload[1]
            elif code == _DNL:
                if length != 4:
                    raise InvalidJpegError(msg.LENGTH_4.format(where=where))
            elif 0xE0 <= code <= 0xEF or code == _COM:
                self._metadata(code, payload)
            elif code == _SOS:
                self._scan_header(payload, where)
                start, pos = pos, self._entropy_coded_segment(pos)
                blocks, need = self.scan_blocks
                if pos - start < need:
                    raise InvalidJpegError(
                        msg.SCAN_TOO_SHORT.format(
                            scan=self.num_scans, size=pos - start, need=need, blocks=blocks
                        )
                    )
            else:
                raise InvalidJpegError(msg.UNKNOWN_MARKER.format(code=msg.hex2(code), at=marker_at))

    def _frame(self, code: int, p: bytes, where: str) -> None:
        if code in _UNSUPPORTED_SOF:
            raise UnsupportedJpegError(
                msg.UNSUPPORTED_SOF.format(kind=_UNSUPPORTED_SOF[code].capitalize())
            )
        if code in _ARITHMETIC_SOF and not self.allow_arithmetic:
            raise UnsupportedJpegError(msg.ARITHMETIC)
        if self.frame is not None:
            raise InvalidJpegError(msg.SECOND_FRAME.format(where=where))
        if len(p) < 6:
            raise InvalidJpegError(msg.FRAME_SHORT.format(where=where))
        precision, height, width, nf = p[0], (p[1] << 8) | p[2], (p[3] << 8) | p[4], p[5]
        if len(p) != 6 + 3 * nf:
            raise InvalidJpegError(
                msg.FRAME_LENGTH.format(where=where, length=len(p) + 2, nf=nf, expected=8 + 3 * nf)
            )
        if precision != 8:
            if precision in (12, 16):
                raise UnsupportedJpegError(msg.PRECISION.format(precision=precision))
            raise InvalidJpegError(msg.BAD_PRECISION.format(precision=precision, where=where))
        if nf == 0:
            raise InvalidJpegError(msg.NO_COMPONENTS.format(where=where))
        comps = []
        for k in range(nf):
            cid, hv, tq = p[6 + 3 * k], p[7 + 3 * k], p[8 + 3 * k]
            h, v = hv >> 4, hv & 15
            if not (1 <= h <= 4 and 1 <= v <= 4):
                raise InvalidJpegError(msg.BAD_SAMPLING.format(cid=cid, h=h, v=v))
            if tq > 3:
                raise InvalidJpegError(msg.BAD_TABLE_SLOT.format(cid=cid, tq=tq))
            if any(c.component_id == cid for c in comps):
                raise InvalidJpegError(msg.DUPLICATE_ID.format(cid=cid, where=where))
            comps.append(FrameComponent(cid, h, v, tq))
        if nf == 4:
            if self.adobe_transform == 2:
                kind = "YCCK (Adobe transform 2)"
            elif self.adobe_transform is not None:
                kind = "CMYK (Adobe)"
            else:
                kind = "CMYK"
            raise UnsupportedJpegError(msg.CMYK.format(kind=kind))
        if nf not in (1, 3):
            raise UnsupportedJpegError(msg.COMPONENTS.format(nf=nf))
        if width == 0:
            raise InvalidJpegError(msg.WIDTH_0)
        if height == 0:
            raise UnsupportedJpegError(msg.HEIGHT_0)
        if height > LIBJPEG_MAX_DIMENSION or width > LIBJPEG_MAX_DIMENSION:
            raise ImageTooLargeError(
                msg.MAX_DIMENSION.format(width=width, height=height, limit=LIBJPEG_MAX_DIMENSION)
            )
        if self.max_pixels is not None and height * width > self.max_pixels:
            raise ImageTooLargeError(
                msg.TOO_LARGE.format(
                    width=width,
                    height=height,
                    pixels=f"{height * width:,}",
                    limit=f"{self.max_pixels:,}",
                )
            )
        hmax = max(c.h for c in comps)
        vmax = max(c.v for c in comps)
        if any(hmax % c.h or vmax % c.v for c in comps):
            factors = ", ".join(f"{c.h}x{c.v}" for c in comps)
            raise UnsupportedJpegError(msg.FRACTIONAL.format(factors=factors))
        self.frame = (code, precision, height, width, tuple(comps))

    def _dqt(self, p: bytes, where: str) -> None:
        i = 0
        count = 0
        while i < len(p):
            if count >= MAX_TABLES_PER_SEGMENT:
                raise UnsupportedJpegError(
                    msg.TOO_MANY_TABLES.format(where=where, limit=MAX_TABLES_PER_SEGMENT)
                )
            count += 1
            pq, tq = p[i] >> 4, p[i] & 15
            if pq > 1 or tq > 3:
                raise InvalidJpegError(msg.DQT_PARAMS.format(where=where, tq=tq, pq=pq))
            size = 64 * (pq + 1)
            if i + 1 + size > len(p):
                raise InvalidJpegError(msg.SHORTER_THAN_TABLES.format(where=where))
            raw = np.frombuffer(p, dtype=np.uint8 if pq == 0 else ">u2", count=64, offset=i + 1)
            if np.any(raw == 0):
                raise InvalidJpegError(msg.DQT_ZERO.format(tq=tq))
            table = np.empty(64, dtype=np.uint16)
            table[ZIGZAG] = raw
            self.quant[tq] = table.reshape(8, 8)
            i += 1 + size

    def _dht(self, p: bytes, where: str) -> None:
        i = 0
        count = 0
        while i < len(p):
            if count >= 2 * MAX_TABLES_PER_SEGMENT:
                raise UnsupportedJpegError(
                    msg.TOO_MANY_TABLES.format(where=where, limit=2 * MAX_TABLES_PER_SEGMENT)
                )
            count += 1
            tc, th = p[i] >> 4, p[i] & 15
            if tc > 1 or th > 3:
                raise InvalidJpegError(msg.DHT_PARAMS.format(where=where, tc=tc, th=th))
            if i + 17 > len(p):
                raise InvalidJpegError(msg.SHORTER_THAN_TABLES.format(where=where))
            counts = p[i + 1 : i + 17]
            total = sum(counts)
            if total > 256 or i + 17 + total > len(p):
                raise InvalidJpegError(msg.DHT_COUNT.format(where=where))
            symbols = p[i + 17 : i + 17 + total]
            _check_huffman_table(counts, symbols, tc == 0, where)
            (self.dc_tables if tc == 0 else self.ac_tables).add(th)
            i += 17 + total

    def _dac(self, p: bytes, where: str) -> None:
        if len(p) % 2:
            raise InvalidJpegError(msg.DAC_ODD.format(where=where))
        for i in range(0, len(p), 2):
            index, value = p[i], p[i + 1]
            if index >= 32:
                raise InvalidJpegError(msg.DAC_INDEX.format(where=where, index=index))
            if index < 16 and (value & 15) > (value >> 4):
                raise InvalidJpegError(msg.DAC_VALUE.format(where=where))

    def _metadata(self, code: int, p: bytes) -> None:
        self.metadata_segments += 1
        if self.metadata_segments > MAX_METADATA_SEGMENTS:
            raise UnsupportedJpegError(msg.TOO_MANY_METADATA.format(limit=MAX_METADATA_SEGMENTS))
        if self.num_scans:
            return  # libjpeg only looks at colour markers before the first scan
        if code == 0xE0 and len(p) >= 14 and p[:5] == b"JFIF\x00":
            self.jfif = True
        elif code == 0xEE and len(p) >= 12 and p[:5] == b"Adobe":
            self.adobe_transform = p[11]

    # -------------------------------------------------------------------------------------- scans
    def _decide_color_space(self) -> None:
        """libjpeg-turbo's ``default_decompress_parms``, at the first scan (as libjpeg)."""
        comps = self.frame[4]
        if len(comps) == 3 and self.adobe_transform not in (None, 0, 1) and not self.jfif:
            # libjpeg warns (JWRN_ADOBE_XFORM) and guesses YCbCr: refuse rather than guess.
            raise UnsupportedJpegError(msg.ADOBE_TRANSFORM.format(code=self.adobe_transform))
        self.color_space = libjpeg_color_space(
            tuple(c.component_id for c in comps),
            jfif=self.jfif,
            adobe_transform=self.adobe_transform,
        )

    def _scan_header(self, p: bytes, where: str) -> None:
        if self.frame is None:
            raise InvalidJpegError(msg.SOS_BEFORE_SOF.format(where=where))
        sof, _, _, _, comps = self.frame
        progressive = sof in _PROGRESSIVE_SOF
        arithmetic = sof in _ARITHMETIC_SOF
        if self.num_scans == 0:
            self._decide_color_space()
        self.num_scans += 1
        if self.num_scans > MAX_SCANS:
            raise UnsupportedJpegError(msg.TOO_MANY_SCANS.format(limit=MAX_SCANS))
        if not p:
            raise InvalidJpegError(msg.SOS_EMPTY.format(where=where))
        ns = p[0]
        if not 1 <= ns <= 4 or len(p) != 4 + 2 * ns:
            raise InvalidJpegError(msg.SOS_LENGTH.format(where=where, ns=ns, length=len(p) + 2))
        ss, se, ah, al = p[1 + 2 * ns], p[2 + 2 * ns], p[3 + 2 * ns] >> 4, p[3 + 2 * ns] & 15
        indices = []
        for k in range(ns):
            cid, tables = p[1 + 2 * k], p[2 + 2 * k]
            idx = next((i for i, c in enumerate(comps) if c.component_id == cid), None)
            if idx is None:
                raise InvalidJpegError(msg.SOS_UNKNOWN_COMPONENT.format(where=where, cid=cid))
            if idx in indices:
                raise InvalidJpegError(msg.SOS_TWICE.format(where=where, cid=cid))
            indices.append(idx)
            td, ta = tables >> 4, tables & 15
            if td > 3 or ta > 3:
                raise InvalidJpegError(msg.SOS_TABLE.format(where=where, table=max(td, ta)))
            if not arithmetic:
                self._require_huffman(progressive, ss, ah, td, ta, cid, where)
        if ns > 1 and sum(comps[i].h * comps[i].v for i in indices) > 10:
            raise InvalidJpegError(msg.MCU_BLOCKS.format(where=where))
        if progressive:
            bad = (
                ss > se
                or se > 63
                or ah > 13
                or al > 13
                or (ss == 0 and se != 0)
                or (ss > 0 and ns != 1)
                or (ah != 0 and al != ah - 1)
            )
            if bad:
                raise InvalidJpegError(
                    msg.PROGRESSIVE_PARAMS.format(ss=ss, se=se, ah=ah, al=al, where=where)
                )
            for idx in indices:
                self._progression(idx, ss, se, ah, al, comps[idx].component_id, where)
        elif (ss, se, ah, al) != (0, 63, 0, 0):
            raise InvalidJpegError(
                msg.SEQUENTIAL_PARAMS.format(ss=ss, se=se, ah=ah, al=al, where=where)
            )
        _, _, height, width, _ = self.frame
        hmax, vmax = max(c.h for c in comps), max(c.v for c in comps)
        blocks = sum(
            component_blocks(height, width, comps[i].h, comps[i].v, hmax, vmax) for i in indices
        )
        # Arithmetic coding (inspection only) can code a block in less than a bit.
        need = 0 if arithmetic else min_scan_bytes(blocks, not progressive or ss == 0)
        self.scan_blocks = (blocks, need)
        for idx in indices:
            comp = comps[idx]
            if idx not in self.latched:
                if comp.table_slot not in self.quant:
                    raise InvalidJpegError(
                        msg.TABLE_UNDEFINED.format(cid=comp.component_id, slot=comp.table_slot)
                    )
                self.latched[idx] = self.quant[comp.table_slot].copy()
            self.scanned[idx] = self.scanned.get(idx, 0) + 1
            if not progressive and self.scanned[idx] > 1:
                raise InvalidJpegError(msg.SEQUENTIAL_TWICE.format(cid=comp.component_id))

    def _progression(self, idx, ss, se, ah, al, cid, where) -> None:
        """libjpeg's progression bookkeeping (``jdphuff.c``), with errors instead of warnings."""
        bits = self.coef_bits.setdefault(idx, [-1] * 64)
        if ss > 0 and bits[0] < 0:
            raise InvalidJpegError(msg.AC_BEFORE_DC.format(cid=cid, where=where))
        for k in range(ss, se + 1):
            expected = 0 if bits[k] < 0 else bits[k]
            if ah != expected:
                raise InvalidJpegError(
                    msg.INCONSISTENT_PROGRESSION.format(cid=cid, k=k, where=where)
                )
            bits[k] = al

    def _require_huffman(self, progressive, ss, ah, td, ta, cid, where) -> None:
        needs = []
        if progressive:
            if ss == 0 and ah == 0:
                needs.append(("DC", td, self.dc_tables))
            elif ss > 0:
                needs.append(("AC", ta, self.ac_tables))
        else:
            needs = [("DC", td, self.dc_tables), ("AC", ta, self.ac_tables)]
        for kind, slot, defined in needs:
            # Sequential decoding falls back to the standard tables for slots 0 and 1 (motion JPEG).
            if slot not in defined and (progressive or slot > 1):
                raise InvalidJpegError(
                    msg.NO_HUFFMAN.format(cid=cid, where=where, kind=kind, slot=slot)
                )

    def _entropy_coded_segment(self, pos: int) -> int:
        """Skip the entropy-coded data of a scan; return the offset of the marker after it."""
        expected_rst = 0
        while True:
            m = _ECS_MARKER.search(self.data, pos)
            if m is None:
                raise _truncated(msg.WHERE_IN_SCAN.format(scan=self.num_scans), self.n)
            code = m.group(1)[0]
            if 0xD0 <= code <= 0xD7:
                if self.restart_interval == 0:
                    raise InvalidJpegError(
                        msg.RST_WITHOUT_DRI.format(found=code - 0xD0, scan=self.num_scans)
                    )
                if code - 0xD0 != expected_rst:
                    raise InvalidJpegError(
                        msg.RST_ORDER.format(
                            scan=self.num_scans, found=code - 0xD0, expected=expected_rst
                        )
                    )
                expected_rst = (expected_rst + 1) % 8
                pos = m.end()
                continue
            return m.start(1) - 1

    def _finish(self, end: int) -> JpegHeader:
        if self.frame is None:
            raise InvalidJpegError(msg.EOI_WITHOUT_FRAME)
        if self.num_scans == 0:
            raise InvalidJpegError(msg.EOI_WITHOUT_SCAN)
        sof, precision, height, width, comps = self.frame
        progressive = sof in _PROGRESSIVE_SOF
        for idx, comp in enumerate(comps):
            if idx not in self.scanned:
                raise InvalidJpegError(msg.NEVER_SCANNED.format(cid=comp.component_id))
            bits = self.coef_bits.get(idx, [])
            if progressive and any(b != 0 for b in bits):
                k = next(k for k, b in enumerate(bits) if b != 0)
                missing = msg.NEVER_CODED if bits[k] < 0 else msg.LACKS_BITS.format(bits=bits[k])
                raise InvalidJpegError(
                    msg.INCOMPLETE_PROGRESSIVE.format(k=k, cid=comp.component_id, missing=missing)
                )
        return JpegHeader(
            sof_marker=sof,
            precision=precision,
            height=height,
            width=width,
            components=comps,
            progressive=progressive,
            arithmetic=sof in _ARITHMETIC_SOF,
            color_space=self.color_space,
            tables=tuple(self.latched[i] for i in range(len(comps))),
            num_scans=self.num_scans,
            restart_interval=self.restart_interval,
            jfif=self.jfif,
            adobe_transform=self.adobe_transform,
            end=end,
        )


def parse_jpeg_header(
    data: bytes | bytearray | memoryview,
    *,
    max_pixels: int | None = None,
    allow_arithmetic: bool = False,
) -> JpegHeader:
    """Validate the marker structure of a whole JPEG file and return its header.

    Every segment is checked and every entropy-coded segment is walked to the next marker (with a
    single regular-expression search per restart interval, so this is fast even for large files).
    No pixel or coefficient is decoded.

    Args:
        data: the complete file contents.
        max_pixels: if given, raise :class:`~tfjpeg.errors.ImageTooLargeError` as soon as the frame
            header announces more pixels than this (before the rest of the file is looked at).
        allow_arithmetic: accept arithmetic-coded frames (SOF9/SOF10) for inspection only (e.g.
            to count bits): their truncation cannot be detected (see the module docstring), so
            the readers never pass True.

    Returns:
        The :class:`JpegHeader`.

    Raises:
        InvalidJpegError: not a JPEG, empty, truncated or structurally corrupt.
        UnsupportedJpegError: a valid JPEG that tfjpeg does not read (see the module docstring).
        ImageTooLargeError: more than ``max_pixels`` pixels, or a side over 65500.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buf = io.BytesIO()
        >>> Image.new("RGB", (20, 10)).save(buf, "JPEG")
        >>> header = parse_jpeg_header(buf.getvalue())
        >>> header.width, header.height, header.sampling
        (20, 10, ((2, 2), (1, 1), (1, 1)))
    """
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise InvalidArgumentTypeError(
            f"data must be bytes. Received: type(data)={type(data).__name__}"
        )
    if max_pixels is not None:
        check_positive_int(max_pixels, "max_pixels")
    return _Parser(data, max_pixels, bool(allow_arithmetic)).parse()


def renumber_components(data: bytes, new_ids: tuple[int, ...]) -> bytes:
    """Give the frame's components new ids (in frame order), in the SOF and in every SOS.

    Only the id bytes change; the file must already be valid (e.g. just written by libjpeg).

    Args:
        data: a complete JPEG file.
        new_ids: one new id per frame component.

    Returns:
        The patched file.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buf = io.BytesIO()
        >>> Image.new("L", (8, 8)).save(buf, "JPEG")
        >>> parse_jpeg_header(renumber_components(buf.getvalue(), (7,))).components[0].component_id
        7
    """
    out = bytearray(data)
    mapping: dict[int, int] = {}
    pos = 2
    n = len(out)
    while pos < n:
        while pos < n and out[pos] == 0xFF:
            pos += 1
        if pos >= n:
            break
        code = out[pos]
        pos += 1
        if code == _EOI:
            break
        if 0xD0 <= code <= 0xD7 or code == _TEM:
            continue
        length = (out[pos] << 8) | out[pos + 1]
        body = pos + 2
        if 0xC0 <= code <= 0xCF and code not in (_DHT, 0xC8, _DAC):
            nf = out[body + 5]
            if nf != len(new_ids):
                raise InvalidArgumentError(
                    f"new_ids must have {nf} entries. Received: new_ids={new_ids}"
                )
            for k in range(nf):
                mapping[out[body + 6 + 3 * k]] = new_ids[k]
                out[body + 6 + 3 * k] = new_ids[k]
        pos += length
        if code == _SOS:
            for k in range(out[body]):
                out[body + 1 + 2 * k] = mapping[out[body + 1 + 2 * k]]
            while True:
                m = _ECS_MARKER.search(out, pos)
                if m is None:
                    return bytes(out)
                if 0xD0 <= m.group(1)[0] <= 0xD7:
                    pos = m.end()
                    continue
                pos = m.start(1) - 1
                break
    return bytes(out)
