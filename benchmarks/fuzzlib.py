"""Fuzzing tfjpeg's JPEG readers: seeded case generators, capped worker processes, outcome classes.

Shared by ``benchmarks/fuzz.py`` (the long campaign) and ``tests/test_fuzz_short.py`` (CI).

* **Cases.** A case is ``(kind, seed)`` → bytes, reproducible (:func:`make_case`). Mutation kinds
  start from valid seed JPEGs made in-process (:func:`seed_jpegs`: Pillow baseline / progressive /
  optimized, gray / 4:4:4 / 4:2:2 / 4:2:0, 1×1 … 64×48; ``cjpeg`` restart intervals, arithmetic
  coding, ``-rgb``, ``-qslots``, unusual sampling when ``cjpeg`` exists). Structural kinds build
  hostile files from marker segments (huge or zero dimensions, 50,000 scans, 1 MiB of zeros, ...):
  :data:`STRUCTURAL` lists them.
* **Targets** (:data:`TARGETS`): ``read_jpeg``, ``decode_pixels``, ``graph`` (the TF-only reader
  ``coefficients_from_jpeg_bytes`` in a ``tf.function``, as served, compared with ``read_jpeg``),
  ``savedmodel`` (``serving_default`` of a tiny randomly-initialised exported
  ``ConsistentDecoder``), ``cli`` (``tfjpeg decode IN -o OUT`` through ``tfjpeg.cli.main.main``
  in the worker) and ``cli-proc`` (``python -m tfjpeg decode`` as a real subprocess, slow).
* **Workers.** Each target runs in long-lived child processes (:class:`Worker`) that import TF
  once and serve many cases over a pipe; after a warm-up call a worker caps its own address space
  (``RLIMIT_AS``) at its peak so far plus a headroom, and the parent kills it after a wall-clock
  timeout. A crashed or killed worker is restarted.
* **Outcomes** (:data:`OUTCOMES`): ``ok``, ``refused`` (a tfjpeg error; for graph targets tfjpeg's
  own in-graph assertion), ``refused-other`` (graph targets: an ``InvalidArgumentError`` from a
  stock TF op), ``error`` (any other exception: bad), ``crash`` (signal), ``timeout``, ``memory``
  (the cap was hit: MemoryError, ResourceExhausted, bad_alloc), ``disagree-accept`` (a graph
  target decodes a file ``read_jpeg`` refuses for a header/structure reason), ``accept-corrupt``
  (the same where ``read_jpeg``'s reason is corrupt entropy-coded data, which the graph reader
  documents it cannot see) and ``disagree-output`` (both decode, but tables, geometry or more
  than :data:`COEFFICIENT_TOLERANCE` of the coefficients differ: silently wrong output).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import os
import pickle
import random
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: Targets the harness drives (see the module docstring).
TARGETS = ("read_jpeg", "decode_pixels", "graph", "savedmodel", "cli", "cli-proc")
#: Outcome classes, in table order.
OUTCOMES = (
    "ok",
    "refused",
    "refused-other",
    "accept-corrupt",
    "error",
    "crash",
    "timeout",
    "memory",
    "disagree-accept",
    "disagree-output",
)
#: Outcomes that are bugs (the table lists examples of these).
BAD_OUTCOMES = ("error", "crash", "timeout", "memory", "disagree-accept", "disagree-output")
#: The graph reader recovers coefficients from decoded samples (documented to miss some at high
#: quality and in partial edge blocks: 6.3 % of the valid 48x64 quality-100 seed, 5.2 % of an
#: 8x8 4:2:0 one): more than this fraction differing is a disagreement.
COEFFICIENT_TOLERANCE = 0.15
#: Seconds per case (the CLI subprocess imports TensorFlow each time: it gets its own limit).
DEFAULT_TIMEOUT = 5.0
CLI_PROC_TIMEOUT = 120.0
#: Address space a worker may use above its peak after the warm-up call.
DEFAULT_HEADROOM_GB = 4.0

# --------------------------------------------------------------------------------------------
# Seed JPEGs
# --------------------------------------------------------------------------------------------

_SIZES = ((1, 1), (8, 8), (13, 17), (48, 64))  # (height, width)
_LAYOUTS = ("gray", "444", "422", "420")
_OPTIONS = ("baseline", "progressive", "optimize")
_CJPEG_VARIANTS = (
    ("restart1", ["-restart", "1"]),
    ("restart2b-prog", ["-restart", "2B", "-progressive"]),
    ("arithmetic", ["-arithmetic"]),
    ("arithmetic-prog", ["-arithmetic", "-progressive"]),
    ("rgb", ["-rgb"]),
    ("qslots", ["-qtables", "@QTABLES", "-qslots", "0,1,2", "-sample", "1x1"]),
    ("sample3x1", ["-sample", "3x1,1x1,1x1"]),
    ("sample4x2", ["-sample", "4x2,1x1,1x1"]),
    ("gray4x4", ["-grayscale", "-sample", "4x4"]),
    ("restart-420", ["-restart", "1B", "-sample", "2x2"]),
)


def _image(height: int, width: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack(
        [128 + 90 * np.sin(xx / 7 + c) * np.cos(yy / 5 - c) for c in range(channels)], axis=-1
    )
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def _pillow(height, width, layout, option, quality=75) -> bytes:
    from PIL import Image

    img = _image(height, width, 1 if layout == "gray" else 3)
    pil = Image.fromarray(img[..., 0] if layout == "gray" else img)
    kwargs = {"quality": quality}
    if layout != "gray":
        kwargs["subsampling"] = {"444": 0, "422": 1, "420": 2}[layout]
    if option == "progressive":
        kwargs["progressive"] = True
    elif option == "optimize":
        kwargs["optimize"] = True
    buf = io.BytesIO()
    pil.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def _cjpeg(args: list[str], height=48, width=64) -> bytes | None:
    exe = shutil.which("cjpeg")
    if exe is None:
        return None
    img = _image(height, width, 3)
    ppm = b"P6\n%d %d\n255\n" % (width, height) + img.tobytes()
    with tempfile.TemporaryDirectory(prefix="tfjpeg-fuzz-") as tmp:
        qtables = os.path.join(tmp, "qtables.txt")
        with open(qtables, "w") as f:  # three different tables, for -qslots 0,1,2
            for t in range(3):
                f.write(" ".join(str(4 + 3 * t + (i % 8) + (i // 8)) for i in range(64)) + "\n")
        args = [qtables if a == "@QTABLES" else a for a in args]
        try:
            out = subprocess.run(
                [exe, "-quality", "75", *args],
                input=ppm,
                capture_output=True,
                timeout=30,
                check=True,
            ).stdout
        except (subprocess.SubprocessError, OSError):
            return None
    return out or None


@functools.lru_cache(maxsize=1)
def seed_jpegs() -> tuple[tuple[str, bytes], ...]:
    """The valid seed files, (name, bytes), always in the same order (cjpeg ones if present)."""
    seeds = []
    for h, w in _SIZES:
        for layout in _LAYOUTS:
            for option in _OPTIONS:
                seeds.append((f"pil-{h}x{w}-{layout}-{option}", _pillow(h, w, layout, option)))
    seeds.append(("pil-48x64-420-q100", _pillow(48, 64, "420", "baseline", 100)))
    seeds.append(("pil-48x64-420-q5", _pillow(48, 64, "420", "baseline", 5)))
    for name, args in _CJPEG_VARIANTS:
        data = _cjpeg(args)
        if data is not None:
            seeds.append((f"cjpeg-{name}", data))
    return tuple(seeds)


# --------------------------------------------------------------------------------------------
# Segment surgery
# --------------------------------------------------------------------------------------------

_STANDALONE = {0x01, 0xD8, 0xD9, *range(0xD0, 0xD8)}


def segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker code, start, end) of every segment; an SOS segment includes its scan data.

    Tolerant: stops at the first thing that is not a marker (the rest becomes code -1).
    """
    out, pos, n = [], 0, len(data)
    while pos < n:
        if data[pos] != 0xFF or pos + 1 >= n:
            out.append((-1, pos, n))
            break
        start = pos
        while pos + 1 < n and data[pos + 1] == 0xFF:
            pos += 1
        if pos + 1 >= n:
            out.append((-1, start, n))
            break
        code = data[pos + 1]
        pos += 2
        if code in _STANDALONE:
            out.append((code, start, pos))
            continue
        if pos + 2 > n:
            out.append((code, start, n))
            break
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos = min(n, pos + length)
        if code == 0xDA:  # scan data up to the next marker that is not a stuffed 00 or an RSTn
            while pos + 1 < n and not (
                data[pos] == 0xFF and data[pos + 1] not in (0x00, 0xFF, *range(0xD0, 0xD8))
            ):
                pos += 1
            if pos + 1 >= n:
                pos = n
        out.append((code, start, pos))
    return out


def _segment(code: int, payload: bytes) -> bytes:
    return bytes([0xFF, code]) + struct.pack(">H", len(payload) + 2) + payload


def _replace(data: bytes, code: int, fn, nth: int = 0) -> bytes:
    """``data`` with the payload of the nth ``code`` segment replaced by ``fn(payload)``."""
    seen = 0
    for c, start, _end in segments(data):
        if c == code:
            if seen == nth:
                length = int.from_bytes(data[start + 2 : start + 4], "big")
                payload = data[start + 4 : start + 2 + length]
                rest = data[start + 2 + length :]
                return data[:start] + _segment(code, fn(bytearray(payload))) + rest
            seen += 1
    return data


def _drop(data: bytes, codes) -> bytes:
    """``data`` without its segments of the given codes (SOS segments go with their scan)."""
    return b"".join(data[s:e] for c, s, e in segments(data) if c not in codes)


def _seed(name: str) -> bytes:
    return dict(seed_jpegs())[name]


def _sof_index(data: bytes) -> int:
    for c, _s, _e in segments(data):
        if c in (0xC0, 0xC1, 0xC2):
            return c
    return 0xC0


# --------------------------------------------------------------------------------------------
# Mutation kinds
# --------------------------------------------------------------------------------------------

_MARKERS = (
    0xD8,
    0xD9,
    0xDA,
    0xDB,
    0xC4,
    0xC0,
    0xC2,
    0xC3,
    0xC9,
    0xDD,
    0xD0,
    0xD1,
    0xD7,
    0xE0,
    0xEE,
    0xFE,
    0xDC,
    0x01,
    0xFF,
    0x00,
    0xF0,
    0xCC,
)
_INTERESTING = (
    0x00,
    0x01,
    0x02,
    0x03,
    0x04,
    0x0F,
    0x10,
    0x11,
    0x22,
    0x3F,
    0x40,
    0x44,
    0x7F,
    0x80,
    0xC0,
    0xD9,
    0xDA,
    0xF0,
    0xFE,
    0xFF,
)


def _rng(kind: str, seed: int) -> random.Random:
    return random.Random(zlib.crc32(kind.encode()) * 1_000_003 + seed)


def _pick_seed(rng: random.Random) -> bytes:
    return rng.choice(seed_jpegs())[1]


def _header_end(data: bytes) -> int:
    for c, s, _e in segments(data):
        if c == 0xDA:
            return s + 2 + int.from_bytes(data[s + 2 : s + 4], "big")
    return len(data)


def _bitflip(rng, data):
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        hi = _header_end(data) if rng.random() < 0.5 else len(out)
        i = rng.randrange(2, max(3, hi))
        if i < len(out):
            out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _byteset(rng, data):
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        hi = _header_end(data) if rng.random() < 0.6 else len(out)
        i = rng.randrange(0, max(1, hi))
        if i < len(out):
            out[i] = rng.choice(_INTERESTING) if rng.random() < 0.8 else rng.randrange(256)
    return bytes(out)


@functools.lru_cache(maxsize=1)
def _boundaries() -> tuple[tuple[int, int], ...]:
    """(seed index, offset) of every segment boundary of every seed file (and ±1 around it)."""
    out = []
    for i, (_name, data) in enumerate(seed_jpegs()):
        for _c, s, e in segments(data):
            for off in (s, s + 1, s + 2, s + 4, e - 1):
                if 0 <= off < len(data):
                    out.append((i, off))
    return tuple(sorted(set(out)))


def _truncate(rng, data, seed):
    bounds = _boundaries()
    if seed < len(bounds):  # seeds 0 .. len-1: every segment boundary of every seed file
        i, off = bounds[seed]
        return seed_jpegs()[i][1][:off]
    return data[: rng.randrange(0, len(data))]


def _chunk(rng, data):
    n = len(data)
    a = rng.randrange(0, n)
    b = min(n, a + rng.choice((1, 2, 4, 16, 64, 256)))
    if rng.random() < 0.3:  # a whole segment
        segs = segments(data)
        _c, a, b = rng.choice(segs)
    op = rng.choice(("dup", "del", "dup-many", "move"))
    if op == "dup":
        return data[:b] + data[a:b] + data[b:]
    if op == "del":
        return data[:a] + data[b:]
    if op == "dup-many":
        return data[:b] + data[a:b] * rng.randint(2, 50) + data[b:]
    c = rng.randrange(0, n)
    piece, rest = data[a:b], data[:a] + data[b:]
    c = min(c, len(rest))
    return rest[:c] + piece + rest[c:]


def _marker(rng, data):
    code = rng.choice(_MARKERS)
    if code in _STANDALONE or code in (0xFF, 0x00):
        piece = bytes([0xFF, code])
    else:
        piece = _segment(
            code, bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 2, 5, 17))))
        )
    if rng.random() < 0.5:
        pos = rng.choice([s for _c, s, _e in segments(data)] + [len(data)])
    else:
        pos = rng.randrange(0, len(data) + 1)
    return data[:pos] + piece + data[pos:]


def _field(rng, data):
    """A byte or a 16-bit field inside a header segment (SOF, DQT, DHT, SOS, DRI) set anew."""
    segs = [
        (c, s, e)
        for c, s, e in segments(data)
        if c in (0xC0, 0xC1, 0xC2, 0xDB, 0xC4, 0xDA, 0xDD, 0xCC, 0xC9)
    ]
    if not segs:
        return _byteset(rng, data)
    out = bytearray(data)
    for _ in range(rng.randint(1, 2)):
        _c, s, _e = rng.choice(segs)
        length = int.from_bytes(data[s + 2 : s + 4], "big")
        i = s + 4 + rng.randrange(0, max(1, length - 2))
        if i >= len(out):
            continue
        if rng.random() < 0.3 and i + 1 < len(out):
            v = rng.choice((0, 1, 2, 255, 256, 4096, 32767, 32768, 65500, 65535))
            out[i : i + 2] = struct.pack(">H", v)
        else:
            out[i] = rng.choice(_INTERESTING)
    return bytes(out)


_MUTATORS = {
    "bitflip": _bitflip,
    "byteset": _byteset,
    "truncate": None,
    "chunk": _chunk,
    "marker": _marker,
    "field": _field,
}

# --------------------------------------------------------------------------------------------
# Structural kinds
# --------------------------------------------------------------------------------------------


def _set_sof_size(data: bytes, height: int, width: int) -> bytes:
    def fn(p):
        p[1:5] = struct.pack(">HH", height, width)
        return p

    return _replace(data, _sof_index(data), fn)


def _huge_sof(v):
    sizes = (
        (65500, 65500),
        (13000, 13000),
        (9999, 9999),
        (65535, 1),
        (1, 65535),
        (7000, 7000),
        (10000, 2000),
    )
    h, w = sizes[v % len(sizes)]
    base = _seed(
        ("pil-8x8-420-baseline", "pil-8x8-gray-baseline", "pil-8x8-444-progressive")[
            (v // len(sizes)) % 3
        ]
    )
    return _set_sof_size(base, h, w)


def _zero_dims(v):
    sizes = ((0, 8), (8, 0), (0, 0))
    h, w = sizes[v % 3]
    data = _set_sof_size(_seed("pil-8x8-420-baseline"), h, w)
    if v // 3 % 2:  # with a DNL marker after the scan giving the height
        eoi = data.rfind(b"\xff\xd9")
        data = data[:eoi] + _segment(0xDC, struct.pack(">H", 8)) + data[eoi:]
    return data


def _many_scans(v):
    counts = (50_000, 5_000, 1_000)
    count = counts[v % 3]
    which = (v // 3) % 3
    if which == 2:  # a larger image: every scan is a pass over 4096 blocks
        base = _pillow(512, 512, "gray", "progressive")
    else:
        base = _seed(("pil-48x64-420-progressive", "pil-1x1-gray-progressive")[which])
    segs = segments(base)
    scans = [(s, e) for c, s, e in segs if c == 0xDA]
    s, e = scans[-1]  # the last (AC refinement) scan, repeated
    # the last (AC refinement) scan repeated, or a tiny AC first scan of Y with no data
    tiny = v // 9 % 2 or which == 2  # (the 512x512 file's own last scan is too long to repeat)
    scan = _segment(0xDA, bytes([1, 1, 0x00, 1, 1, 0x00])) if tiny else base[s:e]
    eoi = base.rfind(b"\xff\xd9")
    return base[:eoi] + scan * count + base[eoi:]


def _zeros_after_soi(v):
    base = _seed("pil-8x8-420-baseline")
    fill = (b"\x00", b"\xff", b"\x00")[v % 3] * (1 << 20)
    if v % 3 == 2:
        return b"\xff\xd8" + fill
    return b"\xff\xd8" + fill + base[2:]


def _garbage_between(v):
    rng = random.Random(v)
    base = _pick_seed(rng)
    segs = segments(base)
    out = b""
    for _c, s, e in segs:
        out += base[s:e]
        if rng.random() < 0.3:
            out += bytes(rng.randrange(0, 255) for _ in range(rng.choice((1, 3, 100))))
    return out


def _missing(v):
    names = ("pil-48x64-420-baseline", "pil-48x64-420-progressive", "pil-8x8-gray-optimize")
    base = _seed(names[(v // 4) % 3])
    what = v % 4
    if what == 0:
        return _drop(base, {0xDB})
    if what == 1:
        return _drop(base, {0xC4})
    if what == 2:
        return _drop(base, {0xDA})
    return _drop(base, {0xC0, 0xC1, 0xC2})


def _duplicate(v):
    base = _seed(("pil-48x64-420-baseline", "pil-48x64-420-progressive")[(v // 4) % 2])
    segs = segments(base)
    code = (0xDB, 0xC4, 0xDA, 0xC0)[v % 4]
    if code == 0xC0:
        code = _sof_index(base)
    out = b""
    for c, s, e in segs:
        out += base[s:e]
        if c == code:
            piece = base[s:e]
            if code == 0xDB:  # a second DQT with other values: which one is used?
                piece = _segment(0xDB, bytes([0]) + bytes([1 + i % 7 for i in range(64)]))
            out += piece
            code = -2  # duplicate the first one only
    return out


def _dqt16(v):
    values = (65535, 1, 0, 32767, 32768, 255)
    value = values[v % len(values)]
    base = _seed(
        ("pil-48x64-420-baseline", "pil-48x64-gray-baseline", "pil-48x64-444-progressive")[
            (v // len(values)) % 3
        ]
    )
    segs = segments(base)
    out = b""
    for c, s, e in segs:
        if c == 0xDB:
            payload = base[s + 4 : e]
            tables = b""
            for t in range(len(payload) // 65):
                tid = payload[t * 65] & 0x0F
                entries = [value] * 64 if v // 18 % 2 == 0 else [value] + [1] * 63
                tables += bytes([0x10 | tid]) + b"".join(struct.pack(">H", x) for x in entries)
            out += _segment(0xDB, tables)
        elif c == 0xC0:
            out += b"\xff\xc1" + base[s + 2 : e]  # extended sequential allows 16-bit tables
        else:
            out += base[s:e]
    return out


def _precision12(v):
    base = _seed(("pil-8x8-420-baseline", "pil-8x8-gray-progressive")[v % 2])

    def fn(p):
        p[0] = (12, 16, 0, 255)[v // 2 % 4]
        return p

    data = _replace(base, _sof_index(base), fn)
    if v % 2 == 0 and v // 2 % 4 == 0:
        data = data.replace(b"\xff\xc0", b"\xff\xc1", 1)
    return data


def _components(v):
    base = _seed("pil-48x64-444-baseline")
    ncomp = (4, 2, 0, 255)[v % 4]

    def fn(p):
        comps = [bytes(p[6 + 3 * i : 9 + 3 * i]) for i in range(p[5])]
        if ncomp == 4:
            comps.append(bytes([4, 0x11, 1]))
        elif ncomp == 2:
            comps = comps[:2]
        elif ncomp == 0:
            comps = []
        else:
            p[5] = 255
            return p
        return bytearray(p[:5]) + bytes([len(comps)]) + b"".join(comps)

    data = _replace(base, 0xC0, fn)
    if ncomp == 2 and v // 4 % 2:  # the scan header too

        def sos(p):
            return bytearray([2]) + p[1:5] + p[7:]

        data = _replace(data, 0xDA, sos)
    return data


def _component_ids(v):
    base = _seed(("pil-48x64-420-baseline", "pil-48x64-444-progressive")[v % 2])
    ids = ((ord("R"), ord("G"), ord("B")), (0, 1, 2), (1, 1, 1), (3, 2, 1))[v // 2 % 4]

    def sof(p):
        for i in range(p[5]):
            p[6 + 3 * i] = ids[i]
        return p

    old = [1, 2, 3]
    data = _replace(base, _sof_index(base), sof)
    out = b""
    for c, s, e in segments(data):
        piece = bytearray(data[s:e])
        if c == 0xDA:
            ns = piece[4]
            for k in range(ns):
                cid = piece[5 + 2 * k]
                if cid in old:
                    piece[5 + 2 * k] = ids[old.index(cid)]
        out += bytes(piece)
    return out


def _adobe(v):
    base = _seed(
        ("pil-48x64-420-baseline", "pil-48x64-444-baseline", "pil-8x8-gray-baseline")[v % 3]
    )
    transform = (0, 1, 2)[v // 3 % 3]
    app14 = _segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00" + bytes([transform]))
    return base[:2] + app14 + base[2:]


def _sampling(v):
    base = _seed(
        (
            "pil-48x64-420-baseline",
            "pil-48x64-444-baseline",
            "pil-48x64-gray-baseline",
            "pil-48x64-420-progressive",
        )[v % 4]
    )
    factors = (0x44, 0x31, 0x13, 0x41, 0x00, 0x55, 0x24)[v // 4 % 7]

    def fn(p):
        p[7] = factors
        if v // 28 % 2 and p[5] == 3:
            p[10] = 0x21  # chroma factors that do not divide the luma ones
        return p

    return _replace(base, _sof_index(base), fn)


def _dri_rst(v):
    names = ("cjpeg-restart1", "cjpeg-restart-420", "cjpeg-restart2b-prog")
    present = dict(seed_jpegs())
    name = names[v % 3]
    if name not in present:
        name = "pil-48x64-420-baseline"
    data = bytearray(present[name])
    rsts = [i for i in range(len(data) - 1) if data[i] == 0xFF and 0xD0 <= data[i + 1] <= 0xD7]
    if not rsts:  # no cjpeg: add a DRI to a file without restart markers
        return bytes(data[:2]) + _segment(0xDD, struct.pack(">H", 1)) + bytes(data[2:])
    mode = v // 3 % 4
    rng = random.Random(v)
    if mode == 0:  # all RST0
        for i in rsts:
            data[i + 1] = 0xD0
    elif mode == 1:  # two swapped
        a, b = rng.sample(rsts, 2) if len(rsts) > 1 else (rsts[0], rsts[0])
        data[a + 1], data[b + 1] = data[b + 1], data[a + 1]
    elif mode == 2:  # random numbers
        for i in rsts:
            data[i + 1] = 0xD0 + rng.randrange(8)
    else:  # DRI interval changed
        return _replace(
            bytes(data), 0xDD, lambda p: bytearray(struct.pack(">H", (0, 2, 65535)[v % 3]))
        )
    return bytes(data)


def _eoi_missing(v):
    rng = random.Random(v)
    base = _pick_seed(rng)
    eoi = base.rfind(b"\xff\xd9")
    return (base[:eoi], base[:eoi] + b"\xff", base[:eoi] + b"\x00" * 100, base[:eoi] + base[:eoi])[
        v % 4
    ]


STRUCTURAL = {
    "huge-sof": _huge_sof,
    "zero-dims": _zero_dims,
    "many-scans": _many_scans,
    "zeros-after-soi": _zeros_after_soi,
    "garbage-between": _garbage_between,
    "missing-segment": _missing,
    "duplicate-segment": _duplicate,
    "dqt16-extreme": _dqt16,
    "precision": _precision12,
    "components": _components,
    "component-ids": _component_ids,
    "adobe-app14": _adobe,
    "sampling": _sampling,
    "dri-rst": _dri_rst,
    "eoi-missing": _eoi_missing,
}
#: Every case kind: the seed files themselves, mutations, structural builders.
KINDS = ("valid", *_MUTATORS, *STRUCTURAL)


def make_case(kind: str, seed: int) -> bytes:
    """The bytes of case ``(kind, seed)``; the same on every call and machine (given cjpeg)."""
    if kind == "valid":
        seeds = seed_jpegs()
        return seeds[seed % len(seeds)][1]
    if kind in STRUCTURAL:
        return STRUCTURAL[kind](seed)
    if kind not in _MUTATORS:
        raise ValueError(f"unknown case kind {kind!r}; choose one of {', '.join(KINDS)}")
    rng = _rng(kind, seed)
    data = _pick_seed(rng)
    if kind == "truncate":
        return _truncate(rng, data, seed)
    return _MUTATORS[kind](rng, data)


def case_plan(cases: int, first_seed: int = 0) -> list[tuple[str, int]]:
    """``cases`` (kind, seed) pairs, round-robin: 6 per mutation kind, 2 per structural, 1 valid."""
    mutation = [k for k in _MUTATORS]
    plan: list[tuple[str, int]] = []
    counters = dict.fromkeys(KINDS, first_seed)
    weights = [("valid", 1)] + [(k, 6) for k in mutation] + [(k, 2) for k in STRUCTURAL]
    order = [k for k, w in weights for _ in range(w)]
    i = 0
    while len(plan) < cases:
        kind = order[i % len(order)]
        plan.append((kind, counters[kind]))
        counters[kind] += 1
        i += 1
    return plan


# --------------------------------------------------------------------------------------------
# Worker side
# --------------------------------------------------------------------------------------------

_TF_REFUSALS = (
    "Cannot read JPEG coefficients",
    "Corrupt JPEG: decoded size differs",
    "tfjpeg's decoder SavedModels handle",
)
_MEMORY_HINTS = (
    "MemoryError",
    "bad_alloc",
    "ResourceExhausted",
    "Cannot allocate memory",
    "OOM when allocating",
    "std::bad_alloc",
    "failed to allocate",
)


def _vm_peak() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) * 1024
    return 0


def _summary(exc: BaseException) -> str:
    """``module.Type: message``, TF's graph tracebacks reduced to the op's own message."""
    text = str(exc).strip()
    if "Graph execution error" in text or "Detected at node" in text:
        keep = [
            ln.strip()
            for ln in text.splitlines()
            if ln.strip()
            and not ln.startswith((" ", "\t", "File "))
            and not ln.startswith(("Graph execution error", "Detected at node"))
        ]
        text = " ".join(keep)
    return f"{type(exc).__module__}.{type(exc).__name__}: {text[:300]}"


def _classify_exception(target: str, exc: BaseException) -> tuple[str, str]:
    from tfjpeg.errors import TfjpegError

    if isinstance(exc, MemoryError):
        return "memory", _summary(exc)
    if isinstance(exc, TfjpegError):
        return "refused", _summary(exc)
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover
        tf = None
    if tf is not None and isinstance(exc, tf.errors.ResourceExhaustedError):
        return "memory", _summary(exc)
    if (
        tf is not None
        and target in ("graph", "savedmodel")
        and isinstance(exc, tf.errors.InvalidArgumentError)
    ):
        message = exc.message
        # The reader's own refusals carry the tfjpeg class ("tfjpeg.InvalidJpegError: ...").
        tagged = "tfjpeg." in message and "Error: " in message
        if tagged or any(m in message for m in _TF_REFUSALS):
            return "refused", _summary(exc)
        return "refused-other", _summary(exc)
    return "error", _summary(exc) + " | " + traceback.format_exc(limit=-3).replace("\n", " ")[-400:]


class _Runner:
    """Runs cases of one target inside a worker process."""

    def __init__(self, target: str, model_dir: str | None):
        self.target = target
        self.tmp = tempfile.mkdtemp(prefix="tfjpeg-fuzz-")
        if target in ("graph", "savedmodel", "cli"):
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(2)
            tf.get_logger().setLevel("ERROR")
        if target == "graph":
            from tfjpeg.io import coefficients_from_jpeg_bytes

            self.fn = tf.function(
                coefficients_from_jpeg_bytes, input_signature=[tf.TensorSpec([], tf.string)]
            )
        elif target == "savedmodel":
            self.loaded = tf.saved_model.load(model_dir)
            # the single-file signature (serving_default takes a batch of files)
            sigs = self.loaded.signatures
            self.sig = sigs["decode_bytes"] if "decode_bytes" in sigs else sigs["serving_default"]
            self.inputs = dict(self.sig.structured_input_signature[1])

    def warm_up(self) -> None:
        self.run(make_case("valid", 0))

    def _reference(self, data: bytes, allow_rgb: bool = False):
        from tfjpeg.io import read_jpeg

        try:
            return read_jpeg(data, allow_rgb=allow_rgb), None
        except Exception as e:  # any refusal, classified by the caller
            return None, e

    def run(self, data: bytes) -> tuple[str, str]:
        t = self.target
        if t == "read_jpeg":
            from tfjpeg.io import read_jpeg

            c = read_jpeg(data)
            return "ok", f"{c.height}x{c.width} {c.subsampling}"
        if t == "decode_pixels":
            from tfjpeg.io import decode_pixels

            p = decode_pixels(data)
            # The same validation as read_jpeg, bar scan data; decode_pixels decodes RGB-coded
            # files as RGB (documented), which read_jpeg reads with allow_rgb=True.
            ref, err = self._reference(data, allow_rgb=True)
            if ref is None:
                return self._not_read(data, err, "decode_pixels")
            return "ok", f"{p.shape}"
        if t == "graph":
            import tensorflow as tf

            out = {k: v.numpy() for k, v in self.fn(tf.constant(data)).items()}
            return self._compare_graph(data, out)
        if t == "savedmodel":
            return self._savedmodel(data)
        if t == "cli":
            return self._cli(data)
        if t == "cli-proc":
            return self._cli_proc(data)
        raise ValueError(f"unknown target {t!r}")

    def _not_read(self, data: bytes, err: BaseException, what: str) -> tuple[str, str]:
        message = str(err)
        if "Corrupt JPEG data" in message:
            return "accept-corrupt", f"{what} decodes; read_jpeg: {message[:200]}"
        return "disagree-accept", f"{what} decodes; read_jpeg: {_summary(err)}"

    def _compare_graph(self, data: bytes, out: dict) -> tuple[str, str]:
        ref, err = self._reference(data)
        if ref is None:
            return self._not_read(data, err, "graph reader")
        problems = []
        if (int(out["height"]), int(out["width"])) != (ref.height, ref.width):
            problems.append(f"size {out['height']}x{out['width']} vs {ref.height}x{ref.width}")
        if int(out["num_components"]) != ref.num_components:
            problems.append(f"components {out['num_components']} vs {ref.num_components}")
        samp = tuple(tuple(int(x) for x in row) for row in out["sampling"][: ref.num_components])
        if samp != ref.sampling:
            problems.append(f"sampling {samp} vs {ref.sampling}")
        tables = ref.component_tables.astype(np.float32)  # one per component; gray repeats luma
        want = tables if ref.num_components == 3 else np.stack([tables[0]] * 3)
        if not np.array_equal(out["tables"], want):
            problems.append("tables differ")
        total = differ = 0
        for name, comp in zip(("y", "cb", "cr"), ref.components, strict=False):
            got = out[name]
            if got.shape != comp.shape:
                problems.append(f"{name} shape {got.shape} vs {comp.shape}")
                continue
            total += comp.size
            differ += int(np.count_nonzero(got != comp))
        if total and differ > COEFFICIENT_TOLERANCE * total:
            problems.append(f"{differ}/{total} coefficients differ")
        if problems:
            return "disagree-output", "; ".join(problems)
        return "ok", f"{ref.height}x{ref.width} {ref.subsampling} ({differ}/{total} coef differ)"

    def _savedmodel(self, data: bytes) -> tuple[str, str]:
        import tensorflow as tf

        feed = {}
        for name, spec in self.inputs.items():
            if spec.dtype == tf.string:
                feed[name] = tf.constant(data)
            else:
                feed[name] = tf.constant(-1 if "seed" in name else 0, dtype=spec.dtype)
        out = self.sig(**feed)
        image = out["image"].numpy() if "image" in out else next(iter(out.values())).numpy()
        ref, err = self._reference(data)
        if ref is None:
            return self._not_read(data, err, "SavedModel")
        if image.shape[:2] != (ref.height, ref.width):
            return "disagree-output", f"image {image.shape} for a {ref.height}x{ref.width} file"
        return "ok", f"{image.shape}"

    def _cli(self, data: bytes) -> tuple[str, str]:
        from tfjpeg.cli.main import main

        src = os.path.join(self.tmp, "in.jpg")
        dst = os.path.join(self.tmp, "out.png")
        with open(src, "wb") as f:
            f.write(data)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main(["decode", src, "-o", dst, "--overwrite", "--quiet"])
        text = err.getvalue().strip()
        if status == 0:
            return "ok", "exit 0"
        if "tfjpeg: error:" in text:
            return "refused", text.splitlines()[-1][:300]
        return "error", f"exit {status}: {text[-300:]}"

    def _cli_proc(self, data: bytes) -> tuple[str, str]:
        src = os.path.join(self.tmp, "in.jpg")
        dst = os.path.join(self.tmp, "out.png")
        with open(src, "wb") as f:
            f.write(data)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
        proc = subprocess.run(
            [sys.executable, "-m", "tfjpeg", "decode", src, "-o", dst, "--overwrite", "--quiet"],
            capture_output=True,
            text=True,
            env=env,
            cwd=str(REPO),
            preexec_fn=_cap_child,
        )
        text = proc.stderr.strip()
        if proc.returncode == 0:
            return "ok", "exit 0"
        if proc.returncode < 0:
            return "crash", f"signal {-proc.returncode}: {text[-300:]}"
        if any(h in text for h in _MEMORY_HINTS):
            return "memory", text[-300:]
        if "tfjpeg: error:" in text and "Traceback" not in text:
            return "refused", text.splitlines()[-1][:300]
        return "error", f"exit {proc.returncode}: {text[-300:]}"


def _cap_child() -> None:
    """RLIMIT_AS of a ``python -m tfjpeg`` child: ``$TFJPEG_FUZZ_CLI_CAP`` bytes (set by the parent
    from the in-process ``cli`` worker's measured peak plus headroom), else 16 GiB."""
    import resource

    cap = int(os.environ.get("TFJPEG_FUZZ_CLI_CAP", 16 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _send(fd: int, obj) -> None:
    blob = pickle.dumps(obj)
    os.write(fd, struct.pack(">Q", len(blob)))
    view = memoryview(blob)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _recv_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _recv(fd: int):
    head = _recv_exact(fd, 8)
    if head is None:
        return None
    body = _recv_exact(fd, struct.unpack(">Q", head)[0])
    return None if body is None else pickle.loads(body)


def worker_main(target: str, model_dir: str | None, headroom_gb: float) -> None:
    """The worker loop: read (id, bytes) from stdin, answer (id, outcome, detail) on stdout."""
    import resource

    proto_in = os.dup(0)
    proto_out = os.dup(1)
    os.dup2(2, 1)  # stray prints go to stderr, never into the protocol
    runner = _Runner(target, model_dir)
    if target != "cli-proc":
        runner.warm_up()
    peak = _vm_peak()
    cap = int(peak + headroom_gb * (1 << 30))
    if target != "cli-proc":  # the CLI subprocess caps itself (_cap_child)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    _send(proto_out, ("ready", peak, cap))
    while True:
        msg = _recv(proto_in)
        if msg is None:
            return
        case_id, data = msg
        start = time.monotonic()
        try:
            outcome, detail = runner.run(data)
        except BaseException as e:  # every exception is an outcome
            outcome, detail = _classify_exception(target, e)
        _send(proto_out, (case_id, outcome, detail, time.monotonic() - start))


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Result:
    kind: str
    seed: int
    target: str
    outcome: str
    detail: str
    seconds: float
    size: int


def export_tiny_decoder(folder: str | os.PathLike) -> str:
    """Export a tiny randomly-initialised ConsistentDecoder to ``folder`` (in a child process),
    always anew: a folder left by an earlier version of tfjpeg would test that version's graph."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    code = (
        "import sys, tensorflow as tf\n"
        "tf.keras.utils.set_random_seed(0)\n"
        "from tfjpeg.decoders import ConsistentDecoder\n"
        "from tfjpeg.models.saving import build_model\n"
        "from tfjpeg.serving.decoders import export_decoder\n"
        "d = ConsistentDecoder(luma_width=8, luma_depth=1, chroma_width=8, chroma_depth=1)\n"
        "build_model(d)\n"
        "export_decoder(d, sys.argv[1])\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        check=True,
        env=_child_env(),
        cwd=str(REPO),
        timeout=900,
    )
    return str(folder)


def _child_env() -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    parts = [str(REPO), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in parts if p)
    return env


class Worker:
    """A long-lived child process serving cases of one target; restarted after crash/timeout."""

    def __init__(
        self,
        target: str,
        *,
        model_dir: str | None = None,
        timeout: float | None = None,
        headroom_gb: float = DEFAULT_HEADROOM_GB,
        startup_timeout: float = 600.0,
    ):
        self.target = target
        self.model_dir = model_dir
        self.timeout = timeout or (CLI_PROC_TIMEOUT if target == "cli-proc" else DEFAULT_TIMEOUT)
        self.headroom_gb = headroom_gb
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.restarts = -1
        self.peak = self.cap = 0
        self.next_id = 0
        self.stderr_path = None

    def _start(self) -> None:
        self.restarts += 1
        fd, self.stderr_path = tempfile.mkstemp(prefix=f"fuzz-{self.target}-", suffix=".log")
        self.stderr_file = os.fdopen(fd, "w+b")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                self.target,
                "--model-dir",
                self.model_dir or "",
                "--headroom-gb",
                str(self.headroom_gb),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
            env=_child_env(),
            cwd=str(REPO),
            start_new_session=True,
        )
        msg = self._read(self.startup_timeout)
        if not (isinstance(msg, tuple) and msg and msg[0] == "ready"):
            tail = self._stderr_tail()
            self._kill()
            raise RuntimeError(f"worker for {self.target} did not start: {msg!r}\n{tail}")
        _, self.peak, self.cap = msg

    def _read(self, timeout: float):
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return "timeout"
        return _recv(fd)

    def _stderr_tail(self) -> str:
        try:
            self.stderr_file.flush()
            with open(self.stderr_path, "rb") as f:
                f.seek(max(0, os.path.getsize(self.stderr_path) - 3000))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the worker's own session (and children)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=30)
        with contextlib.suppress(Exception):
            self.stderr_file.close()
            os.unlink(self.stderr_path)
        self.proc = None

    def close(self) -> None:
        self._kill()

    def run(self, data: bytes) -> tuple[str, str, float]:
        """(outcome, detail, seconds) of one case."""
        if self.proc is None:
            self._start()
        case_id = self.next_id
        self.next_id += 1
        start = time.monotonic()
        try:
            _send(self.proc.stdin.fileno(), (case_id, data))
            msg = self._read(self.timeout)
        except (BrokenPipeError, OSError):
            msg = None
        elapsed = time.monotonic() - start
        if msg == "timeout":
            self._kill()
            return "timeout", f"no answer within {self.timeout:.0f} s", elapsed
        if msg is None:  # the worker died
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=30)
            rc = self.proc.returncode
            tail = self._stderr_tail()
            self._kill()
            hint = next((h for h in _MEMORY_HINTS if h in tail), None)
            lines = [ln for ln in tail.strip().splitlines() if ln.strip()]
            last = " | ".join(lines[-3:])[-400:]
            if hint:
                return "memory", f"worker died (rc {rc}) with {hint}: {last}", elapsed
            sig = f"signal {-rc} ({signal.Signals(-rc).name})" if rc and rc < 0 else f"exit {rc}"
            return "crash", f"worker died: {sig}: {last}", elapsed
        _, outcome, detail, seconds = msg
        return outcome, detail, seconds


def run_cases(
    target: str,
    plan,
    *,
    model_dir=None,
    timeout=None,
    headroom_gb=DEFAULT_HEADROOM_GB,
    progress=None,
) -> list[Result]:
    """Run every (kind, seed) of ``plan`` against ``target`` in one worker; the results."""
    worker = Worker(target, model_dir=model_dir, timeout=timeout, headroom_gb=headroom_gb)
    results = []
    try:
        for i, (kind, seed) in enumerate(plan):
            data = make_case(kind, seed)
            outcome, detail, seconds = worker.run(data)
            results.append(
                Result(kind, seed, target, outcome, detail, round(seconds, 4), len(data))
            )
            if progress is not None:
                progress(i, results[-1], worker)
    finally:
        worker.close()
    run_cases.last_worker = worker  # peak / cap / restarts, for the report
    return results


def rescore(result: Result) -> Result:
    """``result`` judged with the current :data:`COEFFICIENT_TOLERANCE` (from its detail)."""
    if result.outcome != "disagree-output":
        return result
    problems = result.detail.split("; ")
    for problem in problems:
        words = problem.split()
        if not (len(words) == 3 and words[1:] == ["coefficients", "differ"]):
            return result
        differ, total = (int(x) for x in words[0].split("/"))
        if differ > COEFFICIENT_TOLERANCE * total:
            return result
    return dataclasses.replace(result, outcome="ok", detail=f"ok ({result.detail})")


def tally(results: list[Result]) -> dict[str, dict[str, int]]:
    """{target: {outcome: count}} with every outcome present."""
    table: dict[str, dict[str, int]] = {}
    for r in results:
        row = table.setdefault(r.target, dict.fromkeys(OUTCOMES, 0))
        row[r.outcome] += 1
    return table


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="fuzz worker (internal; see benchmarks/fuzz.py)")
    parser.add_argument("--worker", required=True, choices=TARGETS)
    parser.add_argument("--model-dir", default="")
    parser.add_argument("--headroom-gb", type=float, default=DEFAULT_HEADROOM_GB)
    a = parser.parse_args()
    sys.path.insert(0, str(REPO))
    worker_main(a.worker, a.model_dir or None, a.headroom_gb)
