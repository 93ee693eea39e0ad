"""Quantized DCT coefficients of a JPEG file, recovered in-graph with stock TensorFlow ops only.

TF Serving has no custom ops and no Python, so a SavedModel that takes JPEG bytes cannot call
jpeglib. :func:`coefficients_from_jpeg_bytes` gets the same numbers from ops every TF build has:

1. **Header.** A ``tf.while_loop`` walks the marker segments of ``tf.io.decode_raw`` bytes up to
   the first SOS: DQT (8- and 16-bit, several tables per segment, zigzag → natural order) and
   SOF0/1/2 (precision, size, components, sampling, table selectors). Problems are reported by one
   in-graph assertion (``tf.errors.InvalidArgumentError``) whose message names the problem.
2. **Sample planes without colour conversion.** The header is rewritten before
   ``tf.io.decode_jpeg``: every APP0 (JFIF) and APP14 segment is dropped and an APP14 "Adobe"
   segment with transform flag 0 is inserted after SOI. libjpeg (``jdapimin.c``,
   ``default_decompress_parms``) then takes a 3-component file to be RGB, so the RGB → RGB "colour
   conversion" is a plain copy and the three output channels are the Y, Cb and Cr sample planes
   exactly as libjpeg's integer IDCT (``INTEGER_ACCURATE`` = ``JDCT_ISLOW``) produced them.
   Without fancy upsampling chroma is replicated, so every h-th / v-th sample is the chroma plane.
3. **Forward transform.** Each plane is padded to whole blocks by edge replication (as libjpeg's
   encoder pads), transformed with :func:`tfjpeg.jpeg.dct.block_dct` after the −128 level shift,
   divided by the table and rounded. Decoded samples are rounded and clamped to 0..255, and the
   padding samples of edge blocks are not in the decoder's output, so this first estimate can be
   off by one in a few coefficients.
4. **Decode consistency.** A bit-exact TF port of libjpeg's ``jpeg_idct_islow`` tells which
   blocks of the estimate decode to exactly the observed samples. Only the others are refined, for
   up to ``refine_iterations`` rounds: the decoding residual is added back (edge-replicated into
   the padding), clamped samples (0 or 255) are only kept on the clamped side, the block is
   re-quantized, and the estimate with the fewest mismatching samples is kept.
5. **Local search.** Blocks that still do not decode exactly get up to ``search_sweeps`` greedy
   rounds of trying ±1 on each of their 64 coefficients (ranked by the float change of libjpeg's
   unrounded output, accepted only if the exact decode gets closer).

On the 24 Kodak images encoded by Pillow/libjpeg-turbo (4:2:0) every coefficient agrees with
``jpeglib.read_dct`` at qualities 5 to 50, all but 7 of 14 million at 75, 99.95 % at 90 and
99.65 % at 95; tables, size and sampling are always exact
(``benchmarks/graph_reader_agreement.py``). Up to quality 90 most remaining differences cannot be
recovered from decoded samples at all: several coefficient blocks decode to bit-identical 8-bit
samples (for example a flat block whose DC step is below one grey level), and the decoder's
output is all this route sees. At 95 the search also leaves blocks that do not decode to the
observed samples (re-encoding the result changes ~0.6 % of the pixels of kodim01-03). The same
holds, more often, for the edge blocks of images whose size is not a
multiple of the block size (16 pixels for 4:2:0 chroma): such a block keeps only some of its 64
samples, and there the search does not always find the file's coefficients (blocks wholly inside
the image are unaffected; tests/test_io_graph.py, thin images).

Reference: Bahat & Michaeli, "What's in the Image? Explorable Decoding of Compressed Images",
CVPR 2021 (the decoder works on the file's quantized coefficients); ARCHITECTURE.md, "Serving"
(SavedModels with a JPEG-bytes signature, stock TF ops only).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfjpeg import errors
from tfjpeg._checks import check_non_negative_int, check_positive_int
from tfjpeg.errors import ImageTooLargeError, InvalidJpegError, UnsupportedJpegError
from tfjpeg.jpeg.dct import block_dct, dct_matrix
from tfjpeg.jpeg.islow import islow_idct_sums, range_limit
from tfjpeg.jpeg.rounding import round_half_away
from tfjpeg.jpeg.tables import ZIGZAG

__all__ = ["coefficients_from_jpeg_bytes"]

#: APP14 "Adobe" segment, version 100, flags 0, transform 0 (= the components are not YCbCr).
_ADOBE_APP14 = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"

#: ``_NATURAL_FROM_ZIGZAG[i]`` is the zigzag position of natural (row-major) coefficient ``i``.
_NATURAL_FROM_ZIGZAG = np.argsort(ZIGZAG).astype(np.int32)

_SUPPORTED = (
    "tfjpeg reads 8-bit Huffman-coded baseline, extended and progressive JPEGs "
    "(SOF0/SOF1/SOF2) with 1 or 3 components"
)

# Error codes of the header and frame checks, and the message each one reports.
_RUNNING = -1  # the header walk has not reached the first SOS yet
(
    _OK,
    _NOT_JPEG,
    _TRUNCATED,
    _EARLY_EOI,
    _BAD_LENGTH,
    _BAD_DQT,
    _BAD_SOF,
    _UNSUPPORTED_SOF,
    _NO_SOF,
    _PRECISION,
    _COMPONENTS,
    _SIZE,
    _SAMPLING,
    _NO_TABLE,
    _NO_EOI,
    _TOO_LARGE,
) = range(16)

_MESSAGES = {
    _OK: "ok",
    _NOT_JPEG: "Not a JPEG: the data does not start with the SOI marker FF D8.",
    _TRUNCATED: "Truncated JPEG: the data ends inside the header, before the first SOS (start of "
    "scan) marker.",
    _EARLY_EOI: "Corrupt JPEG header: SOI or EOI marker before the first scan; there is no image "
    "data.",
    _BAD_LENGTH: "Corrupt JPEG header: a marker segment has a length below 2.",
    _BAD_DQT: "Corrupt JPEG header: bad DQT segment (table precision must be 0 or 1, table id "
    "0..3, and the tables must fit the segment).",
    _BAD_SOF: "Corrupt JPEG header: the SOF segment length does not match its number of "
    "components.",
    _UNSUPPORTED_SOF: "Unsupported JPEG: arithmetic-coded, lossless or hierarchical frame "
    f"(SOF3/5/6/7/9..15); {_SUPPORTED}.",
    _NO_SOF: "Corrupt JPEG header: no SOF frame header before the first scan.",
    _PRECISION: f"Unsupported JPEG: sample precision is not 8 bits (12-bit JPEG); {_SUPPORTED}.",
    _COMPONENTS: "Unsupported JPEG: the number of components is not 1 or 3 (CMYK/YCCK or "
    f"2-channel JPEG); {_SUPPORTED}.",
    _SIZE: "Unsupported JPEG: the frame header gives a zero height or width (a height defined by "
    "a DNL marker is not supported).",
    _SAMPLING: "Unsupported JPEG: sampling factors must be 1..4 and divide the largest factor of "
    "the frame.",
    _NO_TABLE: "Corrupt JPEG: a component uses a quantization table that is not defined before "
    "the first scan, or that contains a zero entry.",
    _NO_EOI: "Truncated JPEG: no EOI marker (FF D9) after the scan data; the file is cut short.",
    _TOO_LARGE: "Image too large: width * height exceeds max_pixels.",
}


def _byte_reader(data: tf.Tensor, n: tf.Tensor) -> Callable[[tf.Tensor], tf.Tensor]:
    """A gather that reads 0 past the end instead of failing (bounds are checked separately)."""
    padded = tf.concat([data, tf.zeros([1], tf.int32)], axis=0)

    def read(index: tf.Tensor) -> tf.Tensor:
        return tf.gather(padded, tf.clip_by_value(index, 0, n))

    return read


def _parse_dqt(
    read: Callable[[tf.Tensor], tf.Tensor],
    start: tf.Tensor,
    end: tf.Tensor,
    tables: tf.Tensor,
    defined: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Every table of one DQT segment (``start``..``end``) into ``tables`` (4, 64), natural."""
    k = tf.range(64, dtype=tf.int32)
    natural = tf.constant(_NATURAL_FROM_ZIGZAG)

    def cond(p, ok, tables, defined):
        return tf.logical_and(ok, p < end)

    def body(p, ok, tables, defined):
        pq_tq = read(p)
        pq = pq_tq // 16
        tq = pq_tq % 16
        size = 64 * (pq + 1)
        good = (pq <= 1) & (tq <= 3) & (p + 1 + size <= end)
        high = read(p + 1 + (1 + pq) * k)
        low = read(p + 2 + 2 * k)
        values = tf.where(pq == 1, high * 256 + low, high)
        table = tf.gather(values, natural)
        slot = tf.clip_by_value(tq, 0, 3)
        one_hot = tf.equal(tf.range(4), slot) & good
        tables = tf.where(one_hot[:, None], table[None, :], tables)
        defined = defined | one_hot
        return p + 1 + size, good, tables, defined

    _, ok, tables, defined = tf.while_loop(
        cond, body, [start, tf.constant(True), tables, defined], parallel_iterations=1
    )
    return ok, tables, defined


def _parse_header(jpeg_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
    """Walk the marker segments up to the first SOS; also build the rewritten (no-JFIF) header."""
    data = tf.cast(tf.io.decode_raw(jpeg_bytes, tf.uint8), tf.int32)
    n = tf.size(data)
    read = _byte_reader(data, n)
    is_jpeg = (n >= 4) & tf.equal(read(0), 0xFF) & tf.equal(read(1), 0xD8)

    def cond(pos, code, *_):
        return tf.equal(code, _RUNNING)

    def body(pos, code, tables, defined, sof, frame, components, header):
        have_marker = pos + 1 < n
        is_ff = tf.equal(read(pos), 0xFF)
        m = read(pos + 1)
        # libjpeg skips bytes other than FF between segments (with a warning) and FF fill bytes.
        skip = ~is_ff | tf.equal(m, 0xFF)
        standalone = is_ff & (tf.equal(m, 0x01) | ((m >= 0xD0) & (m <= 0xD7)))
        soi_eoi = is_ff & (tf.equal(m, 0xD8) | tf.equal(m, 0xD9))
        length = read(pos + 2) * 256 + read(pos + 3)
        end = pos + 2 + length
        segment = ~(skip | standalone | soi_eoi)
        seg_truncated = segment & ((pos + 3 >= n) | (end > n))
        bad_length = segment & ~seg_truncated & (length < 2)
        seg_ok = segment & ~seg_truncated & ~bad_length

        is_sos = seg_ok & tf.equal(m, 0xDA)
        is_dqt = seg_ok & tf.equal(m, 0xDB)
        is_sof = seg_ok & ((m == 0xC0) | (m == 0xC1) | (m == 0xC2))
        is_bad_sof = seg_ok & (m >= 0xC3) & (m <= 0xCF) & (m != 0xC4) & (m != 0xC8) & (m != 0xCC)
        dropped = seg_ok & ((m == 0xE0) | (m == 0xEE))  # APP0 (JFIF/JFXX) and APP14 (Adobe)

        dqt_ok, new_tables, new_defined = tf.cond(
            is_dqt,
            lambda: _parse_dqt(read, pos + 4, end, tables, defined),
            lambda: (tf.constant(True), tables, defined),
        )

        n_comp = read(pos + 9)
        sof_len_ok = tf.equal(length, 8 + 3 * n_comp)
        height = read(pos + 5) * 256 + read(pos + 6)
        width = read(pos + 7) * 256 + read(pos + 8)
        new_frame = tf.stack([read(pos + 4), height, width, n_comp])
        j = tf.range(3, dtype=tf.int32)[:, None]
        new_components = tf.reshape(read(pos + 10 + 3 * j + tf.range(3)[None, :]), [3, 3])
        new_components = tf.where(j < n_comp, new_components, tf.zeros_like(new_components))
        frame = tf.where(is_sof, new_frame, frame)
        components = tf.where(is_sof, new_components, components)
        sof = tf.where(is_sof, m, sof)

        kept = seg_ok & ~dropped & ~is_sos
        pos_c = tf.clip_by_value(pos, 0, n)
        piece = tf.strings.substr(jpeg_bytes, pos_c, tf.clip_by_value(2 + length, 0, n - pos_c))
        header = tf.where(kept, tf.strings.join([header, piece]), header)

        new_code = tf.case(
            [
                (~have_marker, lambda: tf.constant(_TRUNCATED)),
                (soi_eoi, lambda: tf.constant(_EARLY_EOI)),
                (seg_truncated, lambda: tf.constant(_TRUNCATED)),
                (bad_length, lambda: tf.constant(_BAD_LENGTH)),
                (is_dqt & ~dqt_ok, lambda: tf.constant(_BAD_DQT)),
                (is_sof & ~sof_len_ok, lambda: tf.constant(_BAD_SOF)),
                (is_bad_sof, lambda: tf.constant(_UNSUPPORTED_SOF)),
                (is_sos, lambda: tf.constant(_OK)),
            ],
            default=lambda: tf.constant(_RUNNING),
            exclusive=False,
        )
        step = tf.where(skip, 1, tf.where(standalone, 2, 2 + length))
        new_pos = tf.where(tf.equal(new_code, _RUNNING), pos + step, pos)
        return new_pos, new_code, new_tables, new_defined, sof, frame, components, header

    loop_vars = (
        tf.constant(2),
        tf.where(is_jpeg, _RUNNING, _NOT_JPEG),
        tf.zeros([4, 64], tf.int32),
        tf.zeros([4], tf.bool),
        tf.constant(-1),
        tf.zeros([4], tf.int32),  # precision, height, width, number of components
        tf.zeros([3, 3], tf.int32),  # per component: id, h*16 + v, table selector
        tf.constant(b""),
    )
    pos, code, tables, defined, sof, frame, components, header = tf.while_loop(
        cond, body, loop_vars, parallel_iterations=1
    )
    return {
        "data": data,
        "n": n,
        "sos": pos,
        "code": code,
        "tables": tables,
        "defined": defined,
        "sof": sof,
        "frame": frame,
        "components": components,
        "header": header,
    }


def _first_error(checks: list[tuple[tf.Tensor, int]]) -> tf.Tensor:
    """The code of the first failing check (``bad`` is True), else ``_OK``."""
    code = tf.constant(_OK)
    for bad, err in reversed(checks):
        code = tf.where(bad, err, code)
    return code


def _islow_idct(coefficients: tf.Tensor, table: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Bit-exact libjpeg(-turbo) ``JDCT_ISLOW`` inverse DCT of int (..., 8, 8) blocks.

    Returns the level-shifted output before its final rounding and range limit (float32,
    nominally −128..127) and the 8-bit samples libjpeg writes (int64 0..255).
    """
    sums = islow_idct_sums(tf.cast(coefficients, tf.int64) * tf.cast(table, tf.int64))
    scale = float(1 << 18)  # CONST_BITS + PASS1_BITS + 3
    unrounded = tf.cast(tf.cast(sums, tf.float64) / scale, tf.float32)
    rounded = tf.bitwise.right_shift(sums + (1 << 17), 18)
    return unrounded, range_limit(rounded)


def _plane_coefficients(
    plane: tf.Tensor, table: tf.Tensor, iterations: int, sweeps: int
) -> tf.Tensor:
    """Quantized coefficients (hb, wb, 8, 8) int32 of one decoded uint8 sample plane (H, W)."""
    height = tf.shape(plane)[0]
    width = tf.shape(plane)[1]
    hb = (height + 7) // 8
    wb = (width + 7) // 8
    # Edge replication of the real samples into the padding, as libjpeg's encoder pads a plane.
    rows = tf.minimum(tf.range(8 * hb), height - 1)
    cols = tf.minimum(tf.range(8 * wb), width - 1)
    padded = tf.gather(tf.gather(tf.cast(plane, tf.int64), rows, axis=0), cols, axis=1)
    samples = tf.reshape(tf.transpose(tf.reshape(padded, [hb, 8, wb, 8]), [0, 2, 1, 3]), [-1, 8, 8])

    # Per block: how many rows / columns are real; all padding sits in the last block row/column,
    # so replication into it only reads the same block.
    real_rows = tf.clip_by_value(height - 8 * tf.range(hb), 1, 8)
    real_cols = tf.clip_by_value(width - 8 * tf.range(wb), 1, 8)
    real_rows = tf.reshape(tf.tile(real_rows[:, None], [1, wb]), [-1])
    real_cols = tf.reshape(tf.tile(real_cols[None, :], [hb, 1]), [-1])
    eight = tf.range(8)
    row_src = tf.minimum(eight[None, :], real_rows[:, None] - 1)  # (N, 8)
    col_src = tf.minimum(eight[None, :], real_cols[:, None] - 1)
    known = (eight[None, :, None] < real_rows[:, None, None]) & (
        eight[None, None, :] < real_cols[:, None, None]
    )

    table_int = tf.cast(table, tf.int64)

    def quantize(x):
        return round_half_away(block_dct(x) / table)

    def mismatches(out, samples, known):
        return tf.reduce_sum(tf.cast(known & tf.not_equal(out, samples), tf.int32), axis=[-2, -1])

    decoded = tf.cast(samples, tf.float32) - 128.0
    coef = quantize(decoded)
    _, decoded_again = _islow_idct(coef, table_int)
    count = mismatches(decoded_again, samples, known)
    if iterations == 0 and sweeps == 0:
        return tf.reshape(tf.cast(coef, tf.int32), [hb, wb, 8, 8])

    # Only blocks whose estimate does not decode bit-exactly to the observed samples are refined;
    # an estimate is only ever replaced by one with fewer mismatching samples.
    active = tf.reshape(tf.where(count > 0), [-1])
    s = tf.gather(samples, active)
    k = tf.gather(known, active)
    d = tf.gather(decoded, active)
    best = tf.gather(coef, active)
    best_count = tf.gather(count, active)

    def keep_better(c, best, best_count):
        """The better of ``c`` and ``best`` per block; also libjpeg's output for ``c``."""
        unrounded, out = _islow_idct(c, table_int)
        count = mismatches(out, s, k)
        better = count < best_count
        best = tf.where(better[:, None, None], c, best)
        return best, tf.minimum(count, best_count), unrounded, out

    def unfinished(i, limit, best_count):
        return (i < limit) & tf.reduce_any(best_count > 0)

    if iterations > 0:
        rs = tf.gather(row_src, active)
        cs = tf.gather(col_src, active)
        high = k & (d >= 127.0)
        low = k & (d <= -128.0)

        def step(i, x, best, best_count, unrounded, out):
            # Feed the decoding residual of the last estimate back (edge-replicated into the
            # padding), keep clamped samples on the clamped side, re-quantize.
            residual = tf.where(k, d - (tf.cast(out, tf.float32) - 128.0), 0.0)
            residual = tf.gather(residual, rs, axis=1, batch_dims=1)
            residual = tf.gather(residual, cs, axis=2, batch_dims=1)
            x = x + residual
            x = tf.where(high, tf.maximum(unrounded, 127.0), x)
            x = tf.where(low, tf.minimum(unrounded, -128.0), x)
            best, best_count, unrounded, out = keep_better(quantize(x), best, best_count)
            return i + 1, x, best, best_count, unrounded, out

        unrounded, out = _islow_idct(best, table_int)
        _, _, best, best_count, _, _ = tf.while_loop(
            lambda i, x, best, best_count, *_: unfinished(i, iterations, best_count),
            step,
            (tf.constant(0), d, best, best_count, unrounded, out),
            parallel_iterations=1,
        )

    if sweeps > 0:
        # Greedy local search: try +-1 on each of the 64 coefficients, ranked by the float
        # change of libjpeg's unrounded output, and keep the move if it decodes closer exactly.
        basis = np.einsum("ui,vj->uvij", dct_matrix(8), dct_matrix(8)).reshape(64, 8, 8)
        moves = tf.constant(basis, tf.float32) * tf.reshape(table, [64, 1, 1])
        s_f = tf.cast(s, tf.float32)
        m_blocks = tf.shape(best)[0]

        def sweep(i, best, best_count):
            unrounded, _ = _islow_idct(best, table_int)
            base = unrounded + 128.0

            def try_coefficient(j, lowest, choice):
                for sign in (-1.0, 1.0):
                    trial = tf.clip_by_value(tf.floor(base + sign * moves[j] + 0.5), 0.0, 255.0)
                    count = mismatches(trial, s_f, k)
                    code = 2 * j + int(sign > 0)
                    choice = tf.where(count < lowest, code, choice)
                    lowest = tf.minimum(count, lowest)
                return j + 1, lowest, choice

            _, _, choice = tf.while_loop(
                lambda j, *_: j < 64,
                try_coefficient,
                (tf.constant(0), tf.fill([m_blocks], 65), tf.zeros([m_blocks], tf.int32)),
            )
            direction = tf.cast(2 * (choice % 2) - 1, tf.float32)
            move = tf.one_hot(choice // 2, 64) * direction[:, None]
            moved = best + tf.reshape(move, [-1, 8, 8])
            best, best_count, _, _ = keep_better(moved, best, best_count)
            return i + 1, best, best_count

        _, best, best_count = tf.while_loop(
            lambda i, best, best_count: unfinished(i, sweeps, best_count),
            sweep,
            (tf.constant(0), best, best_count),
            parallel_iterations=1,
        )

    coef = tf.tensor_scatter_nd_update(coef, active[:, None], best)
    return tf.reshape(tf.cast(coef, tf.int32), [hb, wb, 8, 8])


# Plain Python control flow only (no tensor-dependent ``if``/``for``): skipping AutoGraph's
# conversion makes tracing about 4x faster inside a user's tf.function.
@tf.autograph.experimental.do_not_convert
def coefficients_from_jpeg_bytes(
    jpeg_bytes: tf.Tensor | bytes,
    refine_iterations: int = 16,
    search_sweeps: int = 4,
    max_pixels: int | None = None,
) -> dict[str, tf.Tensor]:
    """Quantized DCT coefficients, tables and geometry of a JPEG, from its bytes, in-graph.

    Only stock TensorFlow ops are used (no ``tf.py_function``, no NumPy at run time), so the
    function can sit inside ``tf.function(input_signature=[tf.TensorSpec([], tf.string)])`` and a
    SavedModel served by TF Serving. Tables, size and sampling are read from the header and are
    exact; coefficients are recovered from libjpeg's decoded sample planes (see the module
    docstring) and agree with ``jpeglib.read_dct`` except for a small fraction at high quality.

    Args:
        jpeg_bytes: scalar ``tf.string`` tensor (or ``bytes``) holding a whole JPEG file.
        refine_iterations: at most this many rounds of residual feedback for blocks that do not
            decode bit-exactly to the observed samples (Python int ≥ 0; 0 and
            ``search_sweeps=0`` give the plain forward DCT of the decoded planes).
        search_sweeps: at most this many rounds of greedy ±1 search over the 64 coefficients of
            the blocks that still do not decode bit-exactly (Python int ≥ 0). Mostly matters
            above quality 90.
        max_pixels: if given, files with more than this many pixels raise
            ``InvalidArgumentError`` (a decompression-bomb guard for servers).

    Returns:
        A dict with fixed keys:

        - ``"y"``, ``"cb"``, ``"cr"``: int32 (hb, wb, 8, 8) quantized coefficient blocks in natural
          (row-major) order, the component's real blocks only: hb = ceil(ceil(H·v/vmax)/8), wb
          likewise. For grayscale files ``"cb"`` and ``"cr"`` have shape (0, 0, 8, 8).
        - ``"tables"``: float32 (3, 8, 8), the table of each component (Y, Cb, Cr: the DQT slot
          its frame header names, so a Cr with its own table gets it), natural order;
          grayscale files repeat the luma table.
        - ``"height"``, ``"width"``, ``"num_components"``: int32 scalars.
        - ``"sampling"``: int32 (3, 2), (h, v) per component, zero rows for missing components.

    Raises:
        tf.errors.InvalidArgumentError: in a graph (tf.function, SavedModel), at run time, with a
            message naming the problem; called eagerly the same problems raise
            :class:`tfjpeg.InvalidJpegError`, :class:`tfjpeg.UnsupportedJpegError` or
            :class:`tfjpeg.ImageTooLargeError` instead. The problems:
            non-JPEG or truncated data, a corrupt header, 12-bit precision, arithmetic-coded,
            lossless or hierarchical frames, or a number of components other than 1 or 3. Files
            without an EOI marker after the scan data are treated as truncated.
        ValueError: ``jpeg_bytes`` is not a scalar, or the arguments are out of range.

    Corruption inside the entropy-coded data that libjpeg only warns about ("Corrupt JPEG data:
    bad Huffman code") is not detected: ``tf.io.decode_jpeg`` fills the damaged blocks and carries
    on, and no stock op reports the warning. Use :func:`tfjpeg.io.read_jpeg` for a strict check.

    Example:
        >>> serve = tf.function(
        ...     coefficients_from_jpeg_bytes,
        ...     input_signature=[tf.TensorSpec([], tf.string)],
        ... )
        >>> out = serve(tf.io.read_file("photo.jpg"))  # doctest: +SKIP
        >>> out["y"].shape, out["tables"][0, 0, 0]  # doctest: +SKIP
        (TensorShape([64, 96, 8, 8]), <tf.Tensor: ... numpy=16.0>)

    Reference:
        Bahat & Michaeli, "What's in the Image? Explorable Decoding of Compressed Images",
        CVPR 2021; docs/ARCHITECTURE.md, "Serving" (stock TF ops only).
    """
    if not tf.executing_eagerly():
        return _coefficients_from_jpeg_bytes(
            jpeg_bytes, refine_iterations, search_sweeps, max_pixels
        )
    try:
        return _coefficients_from_jpeg_bytes(
            jpeg_bytes, refine_iterations, search_sweeps, max_pixels
        )
    except tf.errors.InvalidArgumentError as err:
        known = [m for m in _MESSAGES.values() if m in err.message]
        message = known[0] if known else f"Corrupt JPEG: {err.message.strip()}"
        if message.startswith("Unsupported JPEG"):
            raise UnsupportedJpegError(message) from err
        if message.startswith("Image too large"):
            raise ImageTooLargeError(message) from err
        raise InvalidJpegError(message) from err


def _coefficients_from_jpeg_bytes(
    jpeg_bytes: tf.Tensor | bytes,
    refine_iterations: int,
    search_sweeps: int,
    max_pixels: int | None,
) -> dict[str, tf.Tensor]:
    """The graph of :func:`coefficients_from_jpeg_bytes`; errors are ``InvalidArgumentError``."""
    check_non_negative_int(refine_iterations, "refine_iterations")
    check_non_negative_int(search_sweeps, "search_sweeps")
    if max_pixels is not None:
        check_positive_int(max_pixels, "max_pixels")
    jpeg_bytes = tf.convert_to_tensor(jpeg_bytes)
    if jpeg_bytes.dtype != tf.string or (
        jpeg_bytes.shape.rank is not None and jpeg_bytes.shape.rank != 0
    ):
        raise errors.InvalidArgumentError(
            "jpeg_bytes must be a scalar tf.string tensor (one file; map over batches). "
            f"Received: dtype={jpeg_bytes.dtype.name}, shape={jpeg_bytes.shape}"
        )

    h = _parse_header(jpeg_bytes)
    frame, comps = h["frame"], h["components"]
    precision, height, width, num_components = frame[0], frame[1], frame[2], frame[3]
    hv = comps[:, 1]
    present = tf.range(3) < num_components
    samp_h = tf.where(present, hv // 16, 0)
    samp_v = tf.where(present, hv % 16, 0)
    h_max = tf.maximum(tf.reduce_max(samp_h), 1)
    v_max = tf.maximum(tf.reduce_max(samp_v), 1)
    selectors = tf.clip_by_value(comps[:, 2], 0, 3)
    table_used = tf.gather(h["tables"], selectors)  # (3, 64)
    table_ok = tf.gather(h["defined"], selectors) & tf.reduce_all(table_used >= 1, axis=1)
    sampling_ok = tf.reduce_all(
        ~present
        | (
            (samp_h >= 1)
            & (samp_h <= 4)
            & (samp_v >= 1)
            & (samp_v <= 4)
            & tf.equal(h_max % tf.maximum(samp_h, 1), 0)
            & tf.equal(v_max % tf.maximum(samp_v, 1), 0)
        )
    )
    data, n, sos = h["data"], h["n"], h["sos"]
    after_scan = tf.range(tf.maximum(n - 1, 0)) > sos
    has_eoi = tf.reduce_any(after_scan & tf.equal(data[:-1], 0xFF) & tf.equal(data[1:], 0xD9))
    checks = [
        (h["sof"] < 0, _NO_SOF),
        (tf.not_equal(precision, 8), _PRECISION),
        (
            tf.logical_and(tf.not_equal(num_components, 1), tf.not_equal(num_components, 3)),
            _COMPONENTS,
        ),
        ((height < 1) | (width < 1), _SIZE),
        (~sampling_ok, _SAMPLING),
        (tf.reduce_any(present & ~table_ok), _NO_TABLE),
        (~has_eoi, _NO_EOI),
    ]
    if max_pixels is not None:
        pixels = tf.cast(height, tf.int64) * tf.cast(width, tf.int64)
        checks.append((pixels > max_pixels, _TOO_LARGE))
    # The parser's own error comes first; the frame checks only mean something after it succeeded.
    code = tf.where(tf.not_equal(h["code"], _OK), h["code"], _first_error(checks))
    messages = tf.constant([_MESSAGES[i] for i in range(len(_MESSAGES))])
    message = tf.gather(messages, tf.clip_by_value(code, 0, len(_MESSAGES) - 1))
    check = tf.debugging.Assert(
        tf.equal(code, _OK),
        ["Cannot read JPEG coefficients.", message, "Parser stopped at byte", h["sos"]],
    )
    # Everything below depends on the check, so a rejected file fails with its message and not
    # in some later op (a division by a zero sampling factor, the JPEG decoder, ...).
    with tf.control_dependencies([check]):
        samp_h, samp_v, h_max, v_max, height, width, num_components, table_used, sos = (
            tf.identity(t)
            for t in (samp_h, samp_v, h_max, v_max, height, width, num_components, table_used, sos)
        )
    rewritten = tf.strings.join(
        [
            tf.constant(b"\xff\xd8" + _ADOBE_APP14),
            h["header"],
            tf.strings.substr(jpeg_bytes, sos, n - sos),
        ]
    )
    image = tf.io.decode_jpeg(
        rewritten, channels=3, dct_method="INTEGER_ACCURATE", fancy_upscaling=False
    )
    shape_check = tf.debugging.Assert(
        tf.reduce_all(tf.equal(tf.shape(image)[:2], tf.stack([height, width]))),
        ["Corrupt JPEG: decoded size differs from the frame header.", tf.shape(image), frame],
    )
    with tf.control_dependencies([shape_check]):
        image = tf.identity(image)

    tables_f = tf.cast(tf.reshape(table_used, [3, 8, 8]), tf.float32)

    def component(ci: int) -> tf.Tensor:
        step_v = v_max // tf.maximum(samp_v[ci], 1)
        step_h = h_max // tf.maximum(samp_h[ci], 1)
        plane = image[::step_v, ::step_h, ci]
        return _plane_coefficients(plane, tables_f[ci], refine_iterations, search_sweeps)

    empty = tf.zeros([0, 0, 8, 8], tf.int32)
    is_color = tf.equal(num_components, 3)
    y = component(0)
    cb = tf.cond(is_color, lambda: component(1), lambda: empty)
    cr = tf.cond(is_color, lambda: component(2), lambda: empty)
    # The DQT slot each component's frame header names; gray files repeat the luma table.
    tables = tf.where(is_color, tables_f, tf.stack([tables_f[0]] * 3))
    return {
        "y": y,
        "cb": cb,
        "cr": cr,
        "tables": tables,
        "height": height,
        "width": width,
        "num_components": num_components,
        "sampling": tf.stack([samp_h, samp_v], axis=1),
    }
