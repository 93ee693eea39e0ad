"""The in-graph marker walk of :func:`tfjpeg.io.graph.coefficients_from_jpeg_bytes`.

The same checks, in the same order and with the same messages (:mod:`tfjpeg.io.messages`), as
the Python parser behind :func:`tfjpeg.io.read_jpeg` (:mod:`tfjpeg.io.markers`), with stock TF
ops only and without a loop over bytes:

* vectorized over the whole file once: the positions of the candidate markers (``FF`` followed
  by a byte other than ``00`` and ``FF``; an entropy-coded segment ends at the first one that is
  not a restart marker) and of the last byte of every run of ``FF`` bytes, so a run of fill
  bytes of any length is skipped with one ``tf.searchsorted``;
* one ``tf.while_loop`` step per marker, bounded by :data:`~tfjpeg.io.markers.MAX_MARKERS`: a
  segment is skipped by its length field, a scan by one search for the marker that ends it (its
  restart markers are checked for order with one vectorized comparison), DQT/DHT segments hold at
  most :data:`~tfjpeg.io.markers.MAX_TABLES_PER_SEGMENT` tables (an inner loop each).

So the walk costs O(file size) vectorized work plus at most a few thousand loop steps, and every
limit (pixels, side, scans, markers) is known before anything image-sized is allocated.
"""

from __future__ import annotations

import re

import numpy as np
import tensorflow as tf

from tfjpeg.io import messages as msg
from tfjpeg.io.markers import (
    LIBJPEG_MAX_DIMENSION,
    MAX_EOB_RUN,
    MAX_MARKERS,
    MAX_METADATA_SEGMENTS,
    MAX_SCANS,
    MAX_TABLES_PER_SEGMENT,
)
from tfjpeg.jpeg.blocks import ceil_div
from tfjpeg.jpeg.tables import ZIGZAG

_NATURAL_FROM_ZIGZAG = np.argsort(ZIGZAG).astype(np.int32)
_NARGS = 6
#: Largest quantization table entry the graph reader accepts (see messages.LARGE_TABLE).
MAX_TABLE_ENTRY = 255

# Kinds of marker codes (what the walk does with a segment).
_UNKNOWN, _SOF, _DQT, _DHT, _DAC, _DRI, _DNL, _META, _SOS, _STANDALONE, _EOI = range(11)


def _kinds() -> np.ndarray:
    kinds = np.full(256, _UNKNOWN, np.int32)
    for code in (0xC0, 0xC1, 0xC2, 0xC9, 0xCA, *msg.UNSUPPORTED_SOF_KINDS):
        kinds[code] = _SOF
    kinds[0xDB], kinds[0xC4], kinds[0xCC], kinds[0xDD], kinds[0xDC] = _DQT, _DHT, _DAC, _DRI, _DNL
    kinds[0xE0:0xF0] = _META
    kinds[0xFE] = _META
    kinds[0xDA] = _SOS
    kinds[0xD0:0xD8] = _STANDALONE
    kinds[0x01] = _STANDALONE
    kinds[0xD9] = _EOI
    return kinds


# -------------------------------------------------------------------------------- error codes
# Each error: (exception class name, render function of the int32 args and the context).
_ERRORS: list[tuple[str, object]] = []


def _error(cls: str):
    def register(render):
        _ERRORS.append((cls, render))
        return len(_ERRORS)  # codes start at 1; 0 = accepted, -1 = still walking

    return register


def _s(x: tf.Tensor) -> tf.Tensor:
    return tf.strings.as_string(x)


def fmt(template: str, **fields) -> tf.Tensor:
    """``template.format(**fields)`` with string/int tensors as the field values."""
    pieces = []
    for i, part in enumerate(re.split(r"\{(\w+)\}", template)):
        if i % 2 == 0:
            if part:
                pieces.append(tf.constant(part))
        else:
            value = fields[part]
            if isinstance(value, str):
                value = tf.constant(value)
            elif value.dtype != tf.string:
                value = _s(value)
            pieces.append(value)
    return tf.strings.join(pieces)


def _name(code: tf.Tensor) -> tf.Tensor:
    return tf.gather(tf.constant(msg.MARKER_NAMES), tf.clip_by_value(code, 0, 255))


def _hex(byte: tf.Tensor) -> tf.Tensor:
    return tf.gather(tf.constant([msg.hex2(b) for b in range(256)]), tf.clip_by_value(byte, 0, 255))


def _where(a) -> tf.Tensor:  # args 0, 1: marker code and offset
    return fmt(msg.SEGMENT, name=_name(a[0]), at=a[1])


def _commas(x: tf.Tensor) -> tf.Tensor:
    """A non-negative int64 with thousands separators (Python's ``f"{x:,}"``)."""
    groups = [x // 10**9, (x // 10**6) % 1000, (x // 1000) % 1000, x % 1000]
    out = tf.constant("")
    started = tf.constant(False)
    for i, g in enumerate(groups):
        last = i == len(groups) - 1
        plain = _s(g)
        padded = tf.strings.as_string(g, width=3, fill="0")
        text = tf.where(started, tf.strings.join([",", padded]), plain)
        show = started | (g > 0) | last
        out = tf.where(show, tf.strings.join([out, text]), out)
        started = show
    return out


E_EMPTY = _error("InvalidJpegError")(lambda a, c: tf.constant(msg.EMPTY))
E_NOT_JPEG = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.NOT_JPEG, start=c["start"], what=c["what"])
)


def _trunc(where):
    return lambda a, c: fmt(msg.TRUNCATED, where=where(a), n=c["n"])


E_TRUNC_BETWEEN = _error("InvalidJpegError")(_trunc(lambda a: tf.constant(msg.WHERE_BETWEEN)))
E_TRUNC_MARKER = _error("InvalidJpegError")(_trunc(lambda a: tf.constant(msg.WHERE_IN_MARKER)))
E_TRUNC_LENGTH = _error("InvalidJpegError")(
    _trunc(lambda a: fmt(msg.WHERE_IN_LENGTH, name=_name(a[0])))
)
E_TRUNC_SEGMENT = _error("InvalidJpegError")(
    _trunc(lambda a: fmt(msg.WHERE_IN_SEGMENT, name=_name(a[0]), at=a[1]))
)
E_TRUNC_SCAN = _error("InvalidJpegError")(_trunc(lambda a: fmt(msg.WHERE_IN_SCAN, scan=a[0])))
E_GARBAGE = _error("InvalidJpegError")(lambda a, c: fmt(msg.GARBAGE, pos=a[0], byte=_hex(a[1])))
E_FF00 = _error("InvalidJpegError")(lambda a, c: fmt(msg.FF00, at=a[0]))
E_SECOND_SOI = _error("InvalidJpegError")(lambda a, c: fmt(msg.SECOND_SOI, at=a[0]))
E_BAD_LENGTH = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.BAD_LENGTH, name=_name(a[0]), at=a[1], length=a[2])
)
E_LENGTH_4 = _error("InvalidJpegError")(lambda a, c: fmt(msg.LENGTH_4, where=_where(a)))
E_UNKNOWN_MARKER = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.UNKNOWN_MARKER, code=_hex(a[0]), at=a[1])
)
E_TOO_MANY_MARKERS = _error("UnsupportedJpegError")(
    lambda a, c: fmt(msg.TOO_MANY_MARKERS, limit=str(MAX_MARKERS))
)
E_UNSUPPORTED_SOF = _error("UnsupportedJpegError")(
    lambda a, c: fmt(
        msg.UNSUPPORTED_SOF,
        kind=tf.gather(
            tf.constant([msg.UNSUPPORTED_SOF_KINDS.get(k, "").capitalize() for k in range(256)]),
            a[0],
        ),
    )
)
E_ARITHMETIC = _error("UnsupportedJpegError")(lambda a, c: tf.constant(msg.ARITHMETIC))
E_SECOND_FRAME = _error("InvalidJpegError")(lambda a, c: fmt(msg.SECOND_FRAME, where=_where(a)))
E_FRAME_SHORT = _error("InvalidJpegError")(lambda a, c: fmt(msg.FRAME_SHORT, where=_where(a)))
E_FRAME_LENGTH = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.FRAME_LENGTH, where=_where(a), length=a[2], nf=a[3], expected=8 + 3 * a[3])
)
E_PRECISION = _error("UnsupportedJpegError")(lambda a, c: fmt(msg.PRECISION, precision=a[2]))
E_BAD_PRECISION = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.BAD_PRECISION, precision=a[2], where=_where(a))
)
E_NO_COMPONENTS = _error("InvalidJpegError")(lambda a, c: fmt(msg.NO_COMPONENTS, where=_where(a)))
E_BAD_SAMPLING = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.BAD_SAMPLING, cid=a[2], h=a[3], v=a[4])
)
E_BAD_TABLE_SLOT = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.BAD_TABLE_SLOT, cid=a[2], tq=a[3])
)
E_DUPLICATE_ID = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.DUPLICATE_ID, cid=a[2], where=_where(a))
)
E_CMYK = _error("UnsupportedJpegError")(
    lambda a, c: fmt(
        msg.CMYK,
        kind=tf.where(
            a[2] == 2,
            "YCCK (Adobe transform 2)",
            tf.where(a[2] >= 0, "CMYK (Adobe)", "CMYK"),
        ),
    )
)
E_COMPONENTS = _error("UnsupportedJpegError")(lambda a, c: fmt(msg.COMPONENTS, nf=a[2]))
E_WIDTH_0 = _error("InvalidJpegError")(lambda a, c: tf.constant(msg.WIDTH_0))
E_HEIGHT_0 = _error("UnsupportedJpegError")(lambda a, c: tf.constant(msg.HEIGHT_0))
E_MAX_DIMENSION = _error("ImageTooLargeError")(
    lambda a, c: fmt(msg.MAX_DIMENSION, width=a[3], height=a[2], limit=str(LIBJPEG_MAX_DIMENSION))
)
E_TOO_LARGE = _error("ImageTooLargeError")(
    lambda a, c: fmt(
        msg.TOO_LARGE,
        width=a[3],
        height=a[2],
        pixels=_commas(tf.cast(a[2], tf.int64) * tf.cast(a[3], tf.int64)),
        limit=c["limit"],
    )
)
E_FRACTIONAL = _error("UnsupportedJpegError")(
    lambda a, c: fmt(
        msg.FRACTIONAL,
        factors=tf.strings.reduce_join(
            tf.strings.join([_s(a[::2]), "x", _s(a[1::2])])[: tf.maximum(c["nf"], 1)],
            separator=", ",
        ),
    )
)
E_DQT_PARAMS = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.DQT_PARAMS, where=_where(a), tq=a[2], pq=a[3])
)
E_SHORTER = _error("InvalidJpegError")(lambda a, c: fmt(msg.SHORTER_THAN_TABLES, where=_where(a)))
E_DQT_ZERO = _error("InvalidJpegError")(lambda a, c: fmt(msg.DQT_ZERO, tq=a[2]))
E_TOO_MANY_TABLES = _error("UnsupportedJpegError")(
    lambda a, c: fmt(msg.TOO_MANY_TABLES, where=_where(a), limit=a[2])
)
E_DHT_PARAMS = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.DHT_PARAMS, where=_where(a), tc=a[2], th=a[3])
)
E_DHT_COUNT = _error("InvalidJpegError")(lambda a, c: fmt(msg.DHT_COUNT, where=_where(a)))
E_DHT_CODE_SPACE = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.DHT_CODE_SPACE, where=_where(a), length=a[2])
)
E_DHT_DC_SYMBOL = _error("InvalidJpegError")(lambda a, c: fmt(msg.DHT_DC_SYMBOL, where=_where(a)))
E_DAC_ODD = _error("InvalidJpegError")(lambda a, c: fmt(msg.DAC_ODD, where=_where(a)))
E_DAC_INDEX = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.DAC_INDEX, where=_where(a), index=a[2])
)
E_DAC_VALUE = _error("InvalidJpegError")(lambda a, c: fmt(msg.DAC_VALUE, where=_where(a)))
E_TOO_MANY_METADATA = _error("UnsupportedJpegError")(
    lambda a, c: fmt(msg.TOO_MANY_METADATA, limit=str(MAX_METADATA_SEGMENTS))
)
E_ADOBE_TRANSFORM = _error("UnsupportedJpegError")(lambda a, c: fmt(msg.ADOBE_TRANSFORM, code=a[2]))
E_SOS_BEFORE_SOF = _error("InvalidJpegError")(lambda a, c: fmt(msg.SOS_BEFORE_SOF, where=_where(a)))
E_TOO_MANY_SCANS = _error("UnsupportedJpegError")(
    lambda a, c: fmt(msg.TOO_MANY_SCANS, limit=str(MAX_SCANS))
)
E_SOS_EMPTY = _error("InvalidJpegError")(lambda a, c: fmt(msg.SOS_EMPTY, where=_where(a)))
E_SOS_LENGTH = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.SOS_LENGTH, where=_where(a), ns=a[2], length=a[3])
)
E_SOS_UNKNOWN = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.SOS_UNKNOWN_COMPONENT, where=_where(a), cid=a[2])
)
E_SOS_TWICE = _error("InvalidJpegError")(lambda a, c: fmt(msg.SOS_TWICE, where=_where(a), cid=a[2]))
E_SOS_TABLE = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.SOS_TABLE, where=_where(a), table=a[2])
)
E_NO_HUFFMAN = _error("InvalidJpegError")(
    lambda a, c: fmt(
        msg.NO_HUFFMAN, cid=a[2], where=_where(a), kind=tf.where(a[3] == 0, "DC", "AC"), slot=a[4]
    )
)
E_MCU_BLOCKS = _error("InvalidJpegError")(lambda a, c: fmt(msg.MCU_BLOCKS, where=_where(a)))
E_PROGRESSIVE_PARAMS = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.PROGRESSIVE_PARAMS, ss=a[2], se=a[3], ah=a[4], al=a[5], where=_where(a))
)
E_AC_BEFORE_DC = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.AC_BEFORE_DC, cid=a[2], where=_where(a))
)
E_INCONSISTENT = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.INCONSISTENT_PROGRESSION, cid=a[2], k=a[3], where=_where(a))
)
E_SEQUENTIAL_PARAMS = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.SEQUENTIAL_PARAMS, ss=a[2], se=a[3], ah=a[4], al=a[5], where=_where(a))
)
E_TABLE_UNDEFINED = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.TABLE_UNDEFINED, cid=a[2], slot=a[3])
)
E_SEQUENTIAL_TWICE = _error("InvalidJpegError")(lambda a, c: fmt(msg.SEQUENTIAL_TWICE, cid=a[2]))
E_SCAN_TOO_SHORT = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.SCAN_TOO_SHORT, scan=a[0], size=a[1], need=a[2], blocks=a[3])
)
E_RST_WITHOUT_DRI = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.RST_WITHOUT_DRI, found=a[1], scan=a[0])
)
E_RST_ORDER = _error("InvalidJpegError")(
    lambda a, c: fmt(msg.RST_ORDER, scan=a[0], found=a[1], expected=a[2])
)
E_EOI_WITHOUT_FRAME = _error("InvalidJpegError")(lambda a, c: tf.constant(msg.EOI_WITHOUT_FRAME))
E_EOI_WITHOUT_SCAN = _error("InvalidJpegError")(lambda a, c: tf.constant(msg.EOI_WITHOUT_SCAN))
E_NEVER_SCANNED = _error("InvalidJpegError")(lambda a, c: fmt(msg.NEVER_SCANNED, cid=a[0]))
E_INCOMPLETE = _error("InvalidJpegError")(
    lambda a, c: fmt(
        msg.INCOMPLETE_PROGRESSIVE,
        k=a[1],
        cid=a[0],
        missing=tf.where(a[2] < 0, msg.NEVER_CODED, fmt(msg.LACKS_BITS, bits=a[2])),
    )
)
E_RGB = _error("UnsupportedJpegError")(lambda a, c: tf.constant(msg.RGB_CODED))
E_LARGE_TABLE = _error("UnsupportedJpegError")(
    lambda a, c: fmt(msg.LARGE_TABLE, cid=a[0], value=a[1])
)

E_WIDE_TABLE = _error("UnsupportedJpegError")(lambda a, c: fmt(msg.WIDE_TABLE, cid=a[0]))


def _args(*values) -> tf.Tensor:
    values = [tf.cast(v, tf.int32) for v in values]
    values += [tf.constant(0)] * (_NARGS - len(values))
    return tf.stack(values)


def _first(checks, err, args):
    """The first failing check's (code, args), or the given ones if none fails.

    ``checks``: list of (bad, code, args) in the order the Python parser makes them.
    """
    for bad, code, a in reversed(checks):
        err = tf.where(bad, code, err)
        args = tf.where(bad, a, args)
    return err, args


def _first_index(mask: tf.Tensor) -> tf.Tensor:
    """Index of the first True of a 1-D bool tensor (its size if none)."""
    size = tf.size(mask)
    idx = tf.where(mask, tf.range(size), size)
    return tf.reduce_min(tf.concat([idx, [size]], 0))


def _sniff(jpeg_bytes: tf.Tensor) -> tf.Tensor:
    """``markers._what_is_it`` in-graph."""
    from tfjpeg.io.markers import _SIGNATURES  # the one list of signatures

    # The first 12 bytes, padded with a byte that no signature holds (substr fails past the end).
    head = tf.strings.join([tf.strings.substr(jpeg_bytes, 0, 12), b"\xfe" * 12])
    what = tf.constant("")
    for magic, name in reversed(_SIGNATURES):
        hit = tf.equal(tf.strings.substr(head, 0, len(magic)), magic)
        what = tf.where(hit, f"; it looks like {name}", what)
    webp = tf.equal(tf.strings.substr(head, 0, 4), b"RIFF") & tf.equal(
        tf.strings.substr(head, 8, 4), b"WEBP"
    )
    return tf.where(webp & tf.equal(what, ""), "; it looks like a WebP image", what)


def walk(jpeg_bytes: tf.Tensor, max_pixels: int) -> dict[str, tf.Tensor]:
    """Validate the whole file; return its header state, an error code and the message."""
    raw = tf.io.decode_raw(jpeg_bytes, tf.uint8)
    n = tf.size(raw)
    # Whole-file passes stay in uint8 (a 20 MB file costs a quarter of the memory traffic);
    # only the bytes read are widened.
    padded = tf.concat([raw, tf.zeros([8], tf.uint8)], 0)

    def rd(i):
        return tf.cast(tf.gather(padded, tf.clip_by_value(i, 0, n + 7)), tf.int32)

    cur, nxt = padded[:n], padded[1 : n + 1]
    is_ff = tf.equal(cur, 0xFF)
    # Last byte of every run of FF bytes: the first non-FF byte at or after p in one search.
    ff_end = tf.cast(tf.reshape(tf.where(is_ff & tf.not_equal(nxt, 0xFF)), [-1]), tf.int32)
    ff_end = tf.concat([ff_end, [n]], 0)

    def first_non_ff(p):
        run_end = tf.gather(ff_end, tf.searchsorted(ff_end, tf.reshape(p, [1]), side="left")[0])
        return tf.where(p >= n, n, tf.where(tf.equal(rd(p), 0xFF), run_end + 1, p))

    # Candidate markers: FF followed by neither 00 nor FF (the last FF of a fill run).
    is_cand = is_ff & tf.not_equal(nxt, 0) & tf.not_equal(nxt, 0xFF)
    cand = tf.cast(tf.reshape(tf.where(is_cand), [-1]), tf.int32)
    cand_code = tf.cast(tf.gather(padded, cand + 1), tf.int32)
    cand_rst = (cand_code >= 0xD0) & (cand_code <= 0xD7)
    nonrst = tf.boolean_mask(cand, ~cand_rst)
    n_nonrst = tf.size(nonrst)
    nonrst_end = tf.concat([nonrst, [n]], 0)  # n: no marker after a scan

    def search(sorted_values, value):
        return tf.searchsorted(sorted_values, tf.reshape(value, [1]), side="left")[0]

    kinds = tf.constant(_kinds())
    unsupported_sof = tf.constant(np.isin(np.arange(256), list(msg.UNSUPPORTED_SOF_KINDS)), tf.bool)
    k64 = tf.range(64)
    natural = tf.constant(_NATURAL_FROM_ZIGZAG)

    state = {
        "pos": tf.constant(2),
        "err": tf.where((n >= 2) & tf.equal(rd(0), 0xFF) & tf.equal(rd(1), 0xD8), -1, E_NOT_JPEG),
        "args": tf.zeros([_NARGS], tf.int32),
        "markers": tf.constant(0),
        "quant": tf.zeros([4, 64], tf.int32),
        "qdef": tf.zeros([4], tf.bool),
        "qwide": tf.zeros([4], tf.bool),  # the slot's table was written with 16-bit entries
        "latched": tf.zeros([3, 64], tf.int32),
        "ldef": tf.zeros([3], tf.bool),
        "lwide": tf.zeros([3], tf.bool),
        "dc": tf.zeros([4], tf.bool),
        "ac": tf.zeros([4], tf.bool),
        "restart": tf.constant(0),
        "scans": tf.constant(0),
        "meta": tf.constant(0),
        "jfif": tf.constant(False),
        "adobe": tf.constant(-1),
        "frame": tf.constant([-1, 0, 0, 0, 0]),  # sof code, precision, height, width, nf
        "comps": tf.zeros([3, 4], tf.int32),  # id, h, v, table slot
        "color": tf.constant(-1),  # 0 gray, 1 YCbCr, 2 RGB
        "scanned": tf.zeros([3], tf.int32),
        "bits": tf.fill([3, 64], -1),
        "header": tf.constant(b""),
        "first_sos": tf.constant(-1),
        "end": tf.constant(0),
    }
    state["err"] = tf.where(tf.equal(n, 0), E_EMPTY, state["err"])

    # A quick first pass that only hops from marker to marker (a few ops per step) and stops at
    # anything unusual: a scan or marker bomb is refused from it without the full walk's
    # ~1 ms per step. (A file that is both a bomb and broken earlier, in a way only the full walk
    # sees, gets the bomb's message; read_jpeg would name the earlier problem.)
    def hop_cond(pos, markers, scans, going):
        return going & (markers <= MAX_MARKERS) & (scans <= MAX_SCANS)

    def hop(pos, markers, scans, going):
        q = first_non_ff(pos)
        code = rd(q)
        kind = tf.gather(kinds, code)
        length = rd(q + 1) * 256 + rd(q + 2)
        seg_end = q + 1 + length
        standalone = tf.equal(kind, _STANDALONE)
        is_sos = tf.equal(kind, _SOS)
        after_scan = tf.gather(nonrst_end, tf.minimum(search(nonrst, seg_end), n_nonrst))
        going = (
            (pos < n)
            & tf.equal(rd(pos), 0xFF)
            & (q < n)
            & (kind != _UNKNOWN)
            & (kind != _EOI)
            & (standalone | ((length >= 2) & (seg_end <= n)))
            & (~is_sos | (after_scan < n))
        )
        new_pos = tf.where(standalone, q + 1, tf.where(is_sos, after_scan, seg_end))
        return new_pos, markers + 1, scans + tf.cast(is_sos, tf.int32), going

    _, hop_markers, hop_scans, _ = tf.while_loop(
        hop_cond,
        hop,
        (tf.constant(2), tf.constant(0), tf.constant(0), tf.equal(state["err"], -1)),
        parallel_iterations=1,
    )
    bomb = tf.where(
        hop_markers > MAX_MARKERS,
        E_TOO_MANY_MARKERS,
        tf.where(hop_scans > MAX_SCANS, E_TOO_MANY_SCANS, -1),
    )
    state["err"] = tf.where(tf.equal(state["err"], -1), bomb, state["err"])

    def fail(st, err, args):
        st = dict(st)
        st["err"], st["args"] = err, args
        return st

    def body(st):
        pos = st["pos"]
        byte = rd(pos)
        q = first_non_ff(pos)
        code = rd(q)
        at = q - 1
        markers = st["markers"] + 1
        kind = tf.gather(kinds, code)
        length = rd(q + 1) * 256 + rd(q + 2)
        p0 = q + 3
        plen = length - 2
        seg_end = q + 1 + length
        is_segment = (kind != _STANDALONE) & (kind != _EOI) & (code != 0) & (code != 0xD8)
        none = _args()
        err, args = _first(
            [
                (pos >= n, E_TRUNC_BETWEEN, none),
                (tf.not_equal(byte, 0xFF), E_GARBAGE, _args(pos, byte)),
                (q >= n, E_TRUNC_MARKER, none),
                (markers > MAX_MARKERS, E_TOO_MANY_MARKERS, none),
                (tf.equal(code, 0), E_FF00, _args(at)),
                (tf.equal(code, 0xD8), E_SECOND_SOI, _args(at)),
                (is_segment & (q + 3 > n), E_TRUNC_LENGTH, _args(code)),
                (is_segment & (length < 2), E_BAD_LENGTH, _args(code, at, length)),
                (is_segment & (seg_end > n), E_TRUNC_SEGMENT, _args(code, at)),
                (is_segment & tf.equal(kind, _UNKNOWN), E_UNKNOWN_MARKER, _args(code, at)),
            ],
            tf.constant(-1),
            none,
        )
        where_args = (code, at)
        st = dict(st)
        st["markers"] = markers
        # Segments before the first scan go into the header given to the JPEG decoder, except
        # APP0 (JFIF) and APP14 (Adobe): see graph.py.
        kept = (
            is_segment
            & (st["first_sos"] < 0)
            & (kind != _SOS)
            & tf.not_equal(code, 0xE0)
            & tf.not_equal(code, 0xEE)
        )
        piece = tf.strings.substr(
            jpeg_bytes, tf.clip_by_value(at, 0, n), tf.clip_by_value(2 + length, 0, n)
        )
        st["header"] = tf.where(
            kept & (err < 0), tf.strings.join([st["header"], piece]), st["header"]
        )

        def on_error():
            return fail(st, err, args)

        def on_standalone():
            out = dict(st)
            out["pos"] = q + 1
            return out

        def on_eoi():
            frame, comps = st["frame"], st["comps"]
            nf = frame[4]
            present = tf.range(3) < nf
            progressive = tf.equal(frame[0], 0xC2)
            unscanned = present & (st["scanned"] == 0)
            incomplete = present & progressive & tf.reduce_any(st["bits"] != 0, axis=1)
            j = _first_index(unscanned | incomplete)
            jc = tf.minimum(j, 2)
            row = st["bits"][jc]
            k = _first_index(row != 0)
            kc = tf.minimum(k, 63)
            e, a = _first(
                [
                    (frame[0] < 0, E_EOI_WITHOUT_FRAME, none),
                    (tf.equal(st["scans"], 0), E_EOI_WITHOUT_SCAN, none),
                    ((j < 3) & unscanned[jc], E_NEVER_SCANNED, _args(comps[jc, 0])),
                    ((j < 3) & incomplete[jc], E_INCOMPLETE, _args(comps[jc, 0], kc, row[kc])),
                ],
                tf.constant(0),
                none,
            )
            out = fail(st, e, a)
            out["end"] = q + 1
            return out

        def on_sof():
            precision = rd(p0)
            height = rd(p0 + 1) * 256 + rd(p0 + 2)
            width = rd(p0 + 3) * 256 + rd(p0 + 4)
            nf = rd(p0 + 5)
            k = tf.range(256)
            valid = k < nf
            cid = rd(p0 + 6 + 3 * k)
            hv = rd(p0 + 7 + 3 * k)
            tq = rd(p0 + 8 + 3 * k)
            h, v = hv // 16, hv % 16
            bad_s = valid & ~((h >= 1) & (h <= 4) & (v >= 1) & (v <= 4))
            bad_t = valid & (tq > 3)
            dup = valid & tf.reduce_any(
                tf.equal(cid[:, None], cid[None, :]) & (k[None, :] < k[:, None]), axis=1
            )
            kb = tf.minimum(_first_index(bad_s | bad_t | dup), 255)
            present = tf.range(3) < nf
            h3, v3 = tf.where(present, h[:3], 1), tf.where(present, v[:3], 1)
            hmax, vmax = tf.reduce_max(h3), tf.reduce_max(v3)
            fractional = tf.reduce_any(
                present & ((hmax % tf.maximum(h3, 1) != 0) | (vmax % tf.maximum(v3, 1) != 0))
            )
            pixels = tf.cast(height, tf.int64) * tf.cast(width, tf.int64)
            hv_args = tf.reshape(tf.stack([h[:3], v[:3]], axis=1), [-1])
            e, a = _first(
                [
                    (tf.gather(unsupported_sof, code), E_UNSUPPORTED_SOF, _args(code)),
                    ((code == 0xC9) | (code == 0xCA), E_ARITHMETIC, none),
                    (st["frame"][0] >= 0, E_SECOND_FRAME, _args(*where_args)),
                    (plen < 6, E_FRAME_SHORT, _args(*where_args)),
                    (plen != 6 + 3 * nf, E_FRAME_LENGTH, _args(*where_args, length, nf)),
                    (
                        (precision != 8) & ((precision == 12) | (precision == 16)),
                        E_PRECISION,
                        _args(*where_args, precision),
                    ),
                    (precision != 8, E_BAD_PRECISION, _args(*where_args, precision)),
                    (nf == 0, E_NO_COMPONENTS, _args(*where_args)),
                    (bad_s[kb], E_BAD_SAMPLING, _args(*where_args, cid[kb], h[kb], v[kb])),
                    (bad_t[kb], E_BAD_TABLE_SLOT, _args(*where_args, cid[kb], tq[kb])),
                    (dup[kb], E_DUPLICATE_ID, _args(*where_args, cid[kb])),
                    (nf == 4, E_CMYK, _args(*where_args, st["adobe"])),
                    ((nf != 1) & (nf != 3), E_COMPONENTS, _args(*where_args, nf)),
                    (width == 0, E_WIDTH_0, none),
                    (height == 0, E_HEIGHT_0, none),
                    (
                        (height > LIBJPEG_MAX_DIMENSION) | (width > LIBJPEG_MAX_DIMENSION),
                        E_MAX_DIMENSION,
                        _args(*where_args, height, width),
                    ),
                    (pixels > max_pixels, E_TOO_LARGE, _args(*where_args, height, width)),
                    (fractional, E_FRACTIONAL, hv_args),
                ],
                tf.constant(-1),
                none,
            )
            out = fail(st, e, a)
            out["frame"] = tf.stack([code, precision, height, width, nf])
            out["comps"] = tf.stack([cid[:3], h[:3], v[:3], tq[:3]], axis=1)
            out["pos"] = seg_end
            return out

        def on_dqt():
            def cond(i, count, e, a, quant, qdef, qwide):
                return (e < 0) & (i < seg_end)

            def step(i, count, e, a, quant, qdef, qwide):
                pq_tq = rd(i)
                pq, tq = pq_tq // 16, pq_tq % 16
                size = 64 * (pq + 1)
                high = rd(i + 1 + (1 + pq) * k64)
                low = rd(i + 2 + 2 * k64)
                values = tf.where(pq == 1, high * 256 + low, high)
                e, a = _first(
                    [
                        (
                            count >= MAX_TABLES_PER_SEGMENT,
                            E_TOO_MANY_TABLES,
                            _args(*where_args, MAX_TABLES_PER_SEGMENT),
                        ),
                        ((pq > 1) | (tq > 3), E_DQT_PARAMS, _args(*where_args, tq, pq)),
                        (i + 1 + size > seg_end, E_SHORTER, _args(*where_args)),
                        (tf.reduce_any(values == 0), E_DQT_ZERO, _args(*where_args, tq)),
                    ],
                    e,
                    a,
                )
                slot = tf.equal(tf.range(4), tf.clip_by_value(tq, 0, 3)) & (e < 0)
                quant = tf.where(slot[:, None], tf.gather(values, natural)[None, :], quant)
                qwide = tf.where(slot, tf.equal(pq, 1), qwide)
                return i + 1 + size, count + 1, e, a, quant, qdef | slot, qwide

            _, _, e, a, quant, qdef, qwide = tf.while_loop(
                cond,
                step,
                (p0, tf.constant(0), tf.constant(-1), none, st["quant"], st["qdef"], st["qwide"]),
                parallel_iterations=1,
            )
            out = fail(st, e, a)
            out["quant"], out["qdef"], out["qwide"], out["pos"] = quant, qdef, qwide, seg_end
            return out

        def on_dht():
            lower = tf.range(16)[:, None] >= tf.range(16)[None, :]
            weights = tf.where(
                lower,
                tf.bitwise.left_shift(
                    tf.constant(1, tf.int64),
                    tf.cast(tf.range(16)[:, None] - tf.range(16)[None, :], tf.int64),
                ),
                tf.constant(0, tf.int64),
            )
            limits = tf.bitwise.left_shift(
                tf.constant(1, tf.int64), tf.range(1, 17, dtype=tf.int64)
            )

            def cond(i, count, e, a, dc, ac):
                return (e < 0) & (i < seg_end)

            def step(i, count, e, a, dc, ac):
                tc_th = rd(i)
                tc, th = tc_th // 16, tc_th % 16
                counts = rd(i + 1 + tf.range(16))
                total = tf.reduce_sum(counts)
                code_l = tf.linalg.matvec(weights, tf.cast(counts, tf.int64))
                later = tf.cumsum(counts, reverse=True) > 0
                over = (code_l >= limits) & later
                first_over = _first_index(over)
                symbols = rd(i + 17 + tf.range(256))
                dc_bad = tf.reduce_any((tf.range(256) < total) & (symbols > 15))
                e, a = _first(
                    [
                        (
                            count >= 2 * MAX_TABLES_PER_SEGMENT,
                            E_TOO_MANY_TABLES,
                            _args(*where_args, 2 * MAX_TABLES_PER_SEGMENT),
                        ),
                        ((tc > 1) | (th > 3), E_DHT_PARAMS, _args(*where_args, tc, th)),
                        (i + 17 > seg_end, E_SHORTER, _args(*where_args)),
                        (
                            (total > 256) | (i + 17 + total > seg_end),
                            E_DHT_COUNT,
                            _args(*where_args),
                        ),
                        (first_over < 16, E_DHT_CODE_SPACE, _args(*where_args, first_over + 1)),
                        ((tc == 0) & dc_bad, E_DHT_DC_SYMBOL, _args(*where_args)),
                    ],
                    e,
                    a,
                )
                slot = tf.equal(tf.range(4), tf.clip_by_value(th, 0, 3)) & (e < 0)
                dc = dc | (slot & (tc == 0))
                ac = ac | (slot & (tc == 1))
                return i + 17 + total, count + 1, e, a, dc, ac

            _, _, e, a, dc, ac = tf.while_loop(
                cond,
                step,
                (p0, tf.constant(0), tf.constant(-1), none, st["dc"], st["ac"]),
                parallel_iterations=1,
            )
            out = fail(st, e, a)
            out["dc"], out["ac"], out["pos"] = dc, ac, seg_end
            return out

        def on_dac():
            j = tf.range(tf.maximum(plen // 2, 0))
            index = rd(p0 + 2 * j)
            value = rd(p0 + 2 * j + 1)
            bad_index = index >= 32
            bad_value = (index < 16) & ((value % 16) > (value // 16))
            jb = _first_index(bad_index | bad_value)
            jc = tf.clip_by_value(jb, 0, tf.maximum(tf.size(j) - 1, 0))
            any_bad = jb < tf.size(j)
            e, a = _first(
                [
                    (plen % 2 == 1, E_DAC_ODD, _args(*where_args)),
                    (
                        any_bad & tf.gather(tf.concat([bad_index, [False]], 0), jc),
                        E_DAC_INDEX,
                        _args(*where_args, tf.gather(tf.concat([index, [0]], 0), jc)),
                    ),
                    (any_bad, E_DAC_VALUE, _args(*where_args)),
                ],
                tf.constant(-1),
                none,
            )
            out = fail(st, e, a)
            out["pos"] = seg_end
            return out

        def on_dri():
            out = fail(st, *_first([(length != 4, E_LENGTH_4, _args(*where_args))], -1, none))
            out["restart"] = tf.where(length == 4, rd(p0) * 256 + rd(p0 + 1), st["restart"])
            out["pos"] = seg_end
            return out

        def on_dnl():
            out = fail(st, *_first([(length != 4, E_LENGTH_4, _args(*where_args))], -1, none))
            out["pos"] = seg_end
            return out

        def on_meta():
            meta = st["meta"] + 1
            out = fail(
                st, *_first([(meta > MAX_METADATA_SEGMENTS, E_TOO_MANY_METADATA, none)], -1, none)
            )
            head = tf.strings.substr(
                jpeg_bytes,
                tf.clip_by_value(p0, 0, n),
                tf.clip_by_value(5, 0, n - tf.clip_by_value(p0, 0, n)),
            )
            before = tf.equal(st["scans"], 0)
            jfif = before & tf.equal(code, 0xE0) & (plen >= 14) & tf.equal(head, b"JFIF\x00")
            adobe = before & tf.equal(code, 0xEE) & (plen >= 12) & tf.equal(head, b"Adobe")
            out["meta"] = meta
            out["jfif"] = st["jfif"] | jfif
            out["adobe"] = tf.where(adobe, rd(p0 + 11), st["adobe"])
            out["pos"] = seg_end
            return out

        def on_sos():
            frame, comps = st["frame"], st["comps"]
            nf = frame[4]
            progressive = tf.equal(frame[0], 0xC2)
            first = tf.equal(st["scans"], 0)
            adobe, jfif = st["adobe"], st["jfif"]
            ids_rgb = tf.reduce_all(tf.equal(comps[:, 0], [82, 71, 66]))
            color = tf.where(
                nf == 1,
                0,
                tf.where(
                    jfif,
                    1,
                    tf.where(adobe >= 0, tf.where(adobe == 0, 2, 1), tf.where(ids_rgb, 2, 1)),
                ),
            )
            adobe_bad = first & (nf == 3) & (adobe > 1) & ~jfif
            scans = st["scans"] + 1
            ns = rd(p0)
            ss, se = rd(p0 + 1 + 2 * ns), rd(p0 + 2 + 2 * ns)
            ah, al = rd(p0 + 3 + 2 * ns) // 16, rd(p0 + 3 + 2 * ns) % 16
            j = tf.range(4)
            valid = j < ns
            scid = rd(p0 + 1 + 2 * j)
            stab = rd(p0 + 2 + 2 * j)
            td, ta = stab // 16, stab % 16
            match = tf.equal(scid[:, None], comps[None, :, 0]) & (tf.range(3) < nf)[None, :]
            found = tf.reduce_any(match, axis=1)
            idx = tf.cast(tf.argmax(tf.cast(match, tf.int32), axis=1), tf.int32)
            twice = found & tf.reduce_any(
                tf.equal(idx[:, None], idx[None, :]) & (j[None, :] < j[:, None]) & found[None, :],
                axis=1,
            )
            bad_table = (td > 3) | (ta > 3)
            need_dc = tf.where(progressive, (ss == 0) & (ah == 0), True)
            need_ac = tf.where(progressive, ss > 0, True)
            tdc, tac = tf.clip_by_value(td, 0, 3), tf.clip_by_value(ta, 0, 3)
            miss_dc = need_dc & ~tf.gather(st["dc"], tdc) & (progressive | (td > 1))
            miss_ac = need_ac & ~tf.gather(st["ac"], tac) & (progressive | (ta > 1))
            comp_bad = valid & (~found | twice | bad_table | miss_dc | miss_ac)
            jb = tf.minimum(_first_index(comp_bad), 3)
            c = scid[jb]
            hv = comps[:, 1] * comps[:, 2]
            blocks = tf.reduce_sum(tf.where(valid & found, tf.gather(hv, idx), 0))
            bad_prog = (
                (ss > se)
                | (se > 63)
                | (ah > 13)
                | (al > 13)
                | ((ss == 0) & (se != 0))
                | ((ss > 0) & (ns != 1))
                | ((ah != 0) & (al != ah - 1))
            )
            rows = tf.gather(st["bits"], idx)  # (4, 64)
            band = (k64 >= ss) & (k64 <= se)
            expected = tf.maximum(rows, 0)
            bad_k = band[None, :] & tf.not_equal(ah, expected)
            ac_first = (ss > 0) & (rows[:, 0] < 0)
            prog_bad = valid & (ac_first | tf.reduce_any(bad_k, axis=1))
            jp = tf.minimum(_first_index(prog_bad), 3)
            kp = tf.minimum(_first_index(bad_k[jp]), 63)
            slot = tf.gather(comps[:, 3], idx)
            undefined = valid & ~tf.gather(st["ldef"], idx) & ~tf.gather(st["qdef"], slot)
            scanned_now = tf.gather(st["scanned"], idx) + 1
            seq_twice = valid & ~progressive & (scanned_now > 1)
            jl = tf.minimum(_first_index(undefined | seq_twice), 3)
            where = _args(*where_args)
            sa = lambda *x: _args(*where_args, *x)  # noqa: E731
            # The entropy-coded data: up to the first marker that is not RSTn.
            m_i = search(nonrst, seg_end)
            m = tf.gather(nonrst_end, tf.minimum(m_i, n_nonrst))
            a_i = search(cand, seg_end)
            b_i = search(cand, m)
            rst = tf.gather(cand_code, tf.range(a_i, b_i)) - 0xD0
            order = tf.range(b_i - a_i) % 8
            r_bad = _first_index(tf.not_equal(rst, order))
            r_c = tf.minimum(r_bad, tf.maximum(b_i - a_i - 1, 0))
            rst_pad = tf.concat([rst, [0]], 0)
            # markers.min_scan_bytes: at least a bit per block (sequential, DC scans), or per
            # EOB run of at most MAX_EOB_RUN blocks (AC scans); component_blocks per component.
            in_frame = tf.range(3) < nf
            samp_h = tf.where(in_frame, comps[:, 1], 1)
            samp_v = tf.where(in_frame, comps[:, 2], 1)
            hmax, vmax = tf.reduce_max(samp_h), tf.reduce_max(samp_v)
            comp_blocks = ceil_div(ceil_div(frame[2] * samp_v, vmax), 8) * ceil_div(
                ceil_div(frame[3] * samp_h, hmax), 8
            )
            scan_blocks = tf.reduce_sum(tf.where(valid & found, tf.gather(comp_blocks, idx), 0))
            need_bits = tf.where(
                progressive & (ss > 0), ceil_div(scan_blocks, MAX_EOB_RUN), scan_blocks
            )
            need = ceil_div(need_bits, 8)
            size = m - seg_end
            checks = [
                (frame[0] < 0, E_SOS_BEFORE_SOF, where),
                (adobe_bad, E_ADOBE_TRANSFORM, sa(adobe)),
                (scans > MAX_SCANS, E_TOO_MANY_SCANS, none),
                (plen == 0, E_SOS_EMPTY, where),
                (~((ns >= 1) & (ns <= 4)) | (plen != 4 + 2 * ns), E_SOS_LENGTH, sa(ns, length)),
                (comp_bad[jb] & ~found[jb], E_SOS_UNKNOWN, sa(c)),
                (comp_bad[jb] & twice[jb], E_SOS_TWICE, sa(c)),
                (comp_bad[jb] & bad_table[jb], E_SOS_TABLE, sa(tf.maximum(td[jb], ta[jb]))),
                (comp_bad[jb] & miss_dc[jb], E_NO_HUFFMAN, sa(c, 0, td[jb])),
                (comp_bad[jb] & miss_ac[jb], E_NO_HUFFMAN, sa(c, 1, ta[jb])),
                ((ns > 1) & (blocks > 10), E_MCU_BLOCKS, where),
                (progressive & bad_prog, E_PROGRESSIVE_PARAMS, sa(ss, se, ah, al)),
                (progressive & prog_bad[jp] & ac_first[jp], E_AC_BEFORE_DC, sa(scid[jp])),
                (progressive & prog_bad[jp], E_INCONSISTENT, sa(scid[jp], kp)),
                (
                    ~progressive & ((ss != 0) | (se != 63) | (ah != 0) | (al != 0)),
                    E_SEQUENTIAL_PARAMS,
                    sa(ss, se, ah, al),
                ),
                (undefined[jl], E_TABLE_UNDEFINED, sa(scid[jl], slot[jl])),
                (seq_twice[jl], E_SEQUENTIAL_TWICE, sa(scid[jl])),
                (m_i >= n_nonrst, E_TRUNC_SCAN, _args(scans)),
                (
                    (b_i > a_i) & tf.equal(st["restart"], 0),
                    E_RST_WITHOUT_DRI,
                    _args(scans, rst_pad[0]),
                ),
                (r_bad < b_i - a_i, E_RST_ORDER, _args(scans, rst_pad[r_c], r_c % 8)),
                (size < need, E_SCAN_TOO_SHORT, _args(scans, size, need, scan_blocks)),
            ]
            e, a = _first(checks, tf.constant(-1), none)
            out = fail(st, e, a)
            in_scan = tf.reduce_any(
                tf.equal(tf.range(3)[:, None], idx[None, :]) & valid[None, :], axis=1
            )
            new_latch = in_scan & ~st["ldef"]
            out["latched"] = tf.where(
                new_latch[:, None],
                tf.gather(st["quant"], tf.clip_by_value(comps[:, 3], 0, 3)),
                st["latched"],
            )
            out["lwide"] = tf.where(
                new_latch, tf.gather(st["qwide"], tf.clip_by_value(comps[:, 3], 0, 3)), st["lwide"]
            )
            out["ldef"] = st["ldef"] | in_scan
            out["scanned"] = st["scanned"] + tf.cast(in_scan, tf.int32)
            out["bits"] = tf.where(in_scan[:, None] & band[None, :], al, st["bits"])
            out["scans"] = scans
            out["color"] = tf.where(first, color, st["color"])
            out["first_sos"] = tf.where(st["first_sos"] < 0, at, st["first_sos"])
            out["pos"] = m
            return out

        branch = tf.where(err >= 0, 0, kind + 1)
        # Branch order: error, then one per kind (_UNKNOWN can only come with an error).
        return (
            tf.switch_case(
                branch,
                [
                    on_error,
                    on_error,
                    on_sof,
                    on_dqt,
                    on_dht,
                    on_dac,
                    on_dri,
                    on_dnl,
                    on_meta,
                    on_sos,
                    on_standalone,
                    on_eoi,
                ],
            ),
        )

    (final,) = tf.while_loop(
        lambda st: tf.equal(st["err"], -1),
        body,
        (state,),
        parallel_iterations=1,
    )
    # What read_jpeg refuses after the walk, then what only the graph reader refuses.
    frame, comps = final["frame"], final["comps"]
    present = tf.range(3) < frame[4]
    table_max = tf.reduce_max(final["latched"], axis=1)
    large = present & (table_max > MAX_TABLE_ENTRY)
    jl = tf.minimum(_first_index(large), 2)
    wide = present & final["lwide"]
    jw = tf.minimum(_first_index(wide), 2)
    err, args = _first(
        [
            (tf.equal(final["color"], 2), E_RGB, _args()),
            (large[jl], E_LARGE_TABLE, _args(comps[jl, 0], table_max[jl])),
            (wide[jw], E_WIDE_TABLE, _args(comps[jw, 0])),
        ],
        final["err"],
        final["args"],
    )
    err = tf.where(final["err"] > 0, final["err"], err)
    args = tf.where(final["err"] > 0, final["args"], args)
    context = {
        "n": n,
        "start": tf.strings.reduce_join(_hex(tf.cast(raw[:4], tf.int32)), separator=" "),
        "what": _sniff(jpeg_bytes),
        "limit": _commas(tf.constant(max_pixels, tf.int64)),
        "nf": frame[4],
    }
    context["start"] = tf.where(tf.equal(n, 0), "nothing", context["start"])

    def render(i):
        cls, fn = _ERRORS[i]
        return lambda: tf.strings.join([f"tfjpeg.{cls}: ", fn(args, context)])

    message = tf.switch_case(
        tf.clip_by_value(err, 0, len(_ERRORS)),
        [lambda: tf.constant("ok")] + [render(i) for i in range(len(_ERRORS))],
    )
    out = dict(final)
    out.update(err=err, args=args, message=message)
    return out
