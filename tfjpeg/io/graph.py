"""Quantized DCT coefficients of a JPEG file, recovered in-graph with stock TensorFlow ops only.

TF Serving has no custom ops and no Python, so a SavedModel that takes JPEG bytes cannot call
jpeglib. :func:`coefficients_from_jpeg_bytes` gets the same numbers from ops every TF build has:

1. **Whole-file validation, limits first.** :func:`tfjpeg.io.graph_header.walk` checks the file
   as :func:`tfjpeg.io.read_jpeg`'s marker parser does, with the same messages
   (:mod:`tfjpeg.io.messages`): every segment, every scan's parameters and progression, restart
   marker order, EOI, colour space (RGB-coded files are refused), the pixel limit, 65500 per
   side, :data:`~tfjpeg.io.markers.MAX_SCANS` scans and :data:`~tfjpeg.io.markers.MAX_MARKERS`
   markers. It is vectorized (candidate markers and runs of fill bytes are found with
   whole-tensor ops; a loop step per marker, not per byte), and everything below depends on its
   one assertion, so a refused file allocates nothing image-sized. Each scan must hold at least
   the entropy-coded data its blocks need (:func:`tfjpeg.io.markers.min_scan_bytes`), so a tiny
   file whose frame header claims a huge image is refused as truncated before it is decoded.
   Tables with entries above 255 are refused too: their coefficients cannot be recovered exactly
   from 8-bit samples. So are tables written with 16-bit entries that all fit in 8 bits: no
   standard encoder writes them, and in the fuzz campaign such contrived tables, which do not
   match the file's coefficients, clamped the decoded samples so that a third to a half of the
   coefficients could not be recovered (contrived 8-bit tables are caught after the search, step
   6; ``read_jpeg`` is exact for all of them). Problems
   are reported as ``tf.errors.InvalidArgumentError`` whose message starts with the tfjpeg
   error class (``tfjpeg.InvalidJpegError: ...``; :func:`tfjpeg_error` maps it back).
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
6. **Refusal of what cannot be recovered.** The file's own coefficients decode bit-exactly to the
   observed samples, so a final estimate that does not is provably wrong. A block that holds
   clamped samples (0 or 255) and whose estimate still misses a sample by more than
   :data:`MISS_TOLERANCE` grey levels is counted; if more than :data:`MAX_UNRESOLVED_SHARE` of a
   component's blocks are, the file is refused (:data:`tfjpeg.io.messages.UNRECOVERABLE`). A bit
   flip in an 8-bit table entry (6 → 134) does this: the blocks decode far out of range and
   clamp, and the samples no longer determine the coefficients (the fuzz campaign's
   ``bitflip:54`` and ``bitflip:83``: 56 % and 50 % of the luma blocks). On valid files the share
   is 0 % for 50 BSDS500 training images (every 6th) encoded at qualities 90, 95, 98 and 100,
   4:4:4 and 4:2:0. Small saturated synthetic graphics (8 to 64 pixels: checkerboards, text,
   shapes, binary noise, flat primaries; Pillow, cjpeg and mozjpeg, qualities 30 to 100) reach
   it: 41 of 774 such files are refused, and this route reads every one of them with more than
   1 % of its coefficients wrong; the largest share of a file it reads within 1 % is 19 %
   (``benchmarks/results/fuzz/README.md``).

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

import re

import numpy as np
import tensorflow as tf

from tfjpeg import errors
from tfjpeg._checks import check_non_negative_int, check_positive_int
from tfjpeg.errors import ImageTooLargeError, InvalidJpegError, UnsupportedJpegError
from tfjpeg.io import messages as msg
from tfjpeg.io.graph_header import fmt, walk
from tfjpeg.io.limits import resolve_max_pixels
from tfjpeg.jpeg.dct import block_dct, dct_matrix
from tfjpeg.jpeg.islow import islow_idct_sums, range_limit
from tfjpeg.jpeg.rounding import round_half_away

__all__ = ["coefficients_from_jpeg_bytes", "tfjpeg_error"]

#: APP14 "Adobe" segment, version 100, flags 0, transform 0 (= the components are not YCbCr).
_ADOBE_APP14 = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"

#: Largest share of a component's blocks that may hold clamped samples (0 or 255) while their final
#: estimate misses a decoded sample by more than MISS_TOLERANCE grey levels (module docstring,
#: step 6); files above it are refused (messages.UNRECOVERABLE).
MAX_UNRESOLVED_SHARE = 0.3
MISS_TOLERANCE = 8


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
) -> tuple[tf.Tensor, tf.Tensor]:
    """Quantized coefficients (hb, wb, 8, 8) int32 of one decoded uint8 sample plane (H, W).

    Also returns, per block (hb·wb,), whether the block holds clamped samples (0 or 255) and
    its estimate still does not decode bit-exactly to the observed samples.
    """
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
    clamped = tf.reduce_any(known & ((samples == 0) | (samples == 255)), axis=[-2, -1])

    def result(coef):
        # The largest sample error of the final estimate, in blocks with clamped samples.
        _, out = _islow_idct(coef, table_int)
        miss = tf.reduce_max(tf.where(known, tf.abs(out - samples), 0), axis=[-2, -1])
        return tf.reshape(tf.cast(coef, tf.int32), [hb, wb, 8, 8]), tf.where(clamped, miss, 0)

    if iterations == 0 and sweeps == 0:
        return result(coef)

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
    return result(coef)


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
        max_pixels: files with more pixels raise ``InvalidArgumentError`` from the header,
            before any decoding. None: :func:`tfjpeg.io.limits.resolve_max_pixels` (as
            ``read_jpeg``), read when the function is traced.

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
            everything :func:`tfjpeg.io.read_jpeg` refuses from the file's structure, with the
            same message (non-JPEG, truncated, corrupt segments or scans, restart markers out
            of order, missing progressive scans, unsupported kinds, RGB-coded, too many pixels,
            scans or markers, scans with less data than their blocks need), plus tables with
            entries above 255 or written with 16-bit entries, and files whose clamped blocks it
            provably cannot recover (module docstring, step 6).
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
            jpeg_bytes, refine_iterations, search_sweeps, max_pixels, eager=True
        )
    except tf.errors.InvalidArgumentError as err:
        raise tfjpeg_error(err) from None


#: The exception classes the graph's messages name (``tfjpeg.InvalidJpegError: ...``).
_CLASSES = {
    "InvalidJpegError": InvalidJpegError,
    "UnsupportedJpegError": UnsupportedJpegError,
    "ImageTooLargeError": ImageTooLargeError,
}
_TAGGED = re.compile(r"\[b?'?tfjpeg\.(\w+): (.*?)'?\]\n", re.S)


def tfjpeg_error(err: tf.errors.InvalidArgumentError) -> Exception:
    """The tfjpeg exception for an ``InvalidArgumentError`` of the reader's graph.

    The reader's own checks name their class and message (``tfjpeg.InvalidJpegError: ...``);
    any other error (``tf.io.decode_jpeg``'s "jpeg::Uncompress failed", ...) is corrupt data.
    """
    found = _TAGGED.search(err.message + "\n")
    if found and found.group(1) in _CLASSES:
        return _CLASSES[found.group(1)](found.group(2).replace("\\'", "'"))
    detail = err.message.strip().splitlines()[0] if err.message.strip() else "unknown error"
    return InvalidJpegError(msg.DECODE_FAILED.format(detail=detail))


def _coefficients_from_jpeg_bytes(
    jpeg_bytes: tf.Tensor | bytes,
    refine_iterations: int,
    search_sweeps: int,
    max_pixels: int | None,
    eager: bool = False,
) -> dict[str, tf.Tensor]:
    """The graph of :func:`coefficients_from_jpeg_bytes`; errors are ``InvalidArgumentError``.

    ``eager``: raise the walk's refusal as its tfjpeg exception directly.
    """
    out, misses = _recover(jpeg_bytes, refine_iterations, search_sweeps, max_pixels, eager)
    shares = _miss_shares(misses, MISS_TOLERANCE)
    worst = tf.argmax(shares, output_type=tf.int32)
    message = tf.strings.join(
        [
            "tfjpeg.UnsupportedJpegError: ",
            fmt(
                msg.UNRECOVERABLE,
                percent=tf.strings.as_string(tf.cast(tf.round(100.0 * shares[worst]), tf.int32)),
                component=tf.gather(tf.constant(["Y", "Cb", "Cr"]), worst),
                tolerance=str(MISS_TOLERANCE),
            ),
        ]
    )
    if eager and float(shares[worst]) > MAX_UNRESOLVED_SHARE:
        raise UnsupportedJpegError(message.numpy().decode("utf-8").split(": ", 1)[1])
    check = tf.debugging.Assert(shares[worst] <= MAX_UNRESOLVED_SHARE, [message], summarize=-1)
    with tf.control_dependencies([check]):
        return {key: tf.identity(value) for key, value in out.items()}


def _miss_shares(misses: tuple[tf.Tensor, ...], tolerance: int) -> tf.Tensor:
    """Per component, the share of its blocks that miss a decoded sample by more than
    ``tolerance`` grey levels (float32 (3,); 0 for absent components)."""
    return tf.stack(
        [
            tf.math.divide_no_nan(
                tf.reduce_sum(tf.cast(m > tolerance, tf.float32)), tf.cast(tf.size(m), tf.float32)
            )
            for m in misses
        ]
    )


def _recover(
    jpeg_bytes: tf.Tensor | bytes,
    refine_iterations: int,
    search_sweeps: int,
    max_pixels: int | None,
    eager: bool,
) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """The coefficients, tables and geometry, and per component (Y, Cb, Cr) the share of blocks
    that hold clamped samples and do not decode bit-exactly to them (float32 (3,))."""
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

    limit = resolve_max_pixels(max_pixels)
    h = walk(jpeg_bytes, limit)
    if eager and int(h["err"]) != 0:
        cls, text = h["message"].numpy().decode("utf-8").split(": ", 1)
        raise _CLASSES[cls.removeprefix("tfjpeg.")](text)
    # Every check (limits included) runs before anything image-sized exists: the decoder and
    # all the arrays below depend on this assertion.
    check = tf.debugging.Assert(tf.equal(h["err"], 0), [h["message"]], summarize=-1)
    with tf.control_dependencies([check]):
        frame, comps, latched = (tf.identity(h[k]) for k in ("frame", "comps", "latched"))
        first_sos, end, header = (tf.identity(h[k]) for k in ("first_sos", "end", "header"))
    height, width, num_components = frame[2], frame[3], frame[4]
    present = tf.range(3) < num_components
    samp_h = tf.where(present, comps[:, 1], 0)
    samp_v = tf.where(present, comps[:, 2], 0)
    h_max = tf.maximum(tf.reduce_max(samp_h), 1)
    v_max = tf.maximum(tf.reduce_max(samp_v), 1)
    # The table each component latched at its first scan (what libjpeg uses), natural order.
    table_used = tf.where(present[:, None], latched, latched[:1])
    n = tf.size(tf.io.decode_raw(jpeg_bytes, tf.uint8))
    first_sos = tf.clip_by_value(first_sos, 0, n)
    rewritten = tf.strings.join(
        [
            tf.constant(b"\xff\xd8" + _ADOBE_APP14),
            header,
            tf.strings.substr(jpeg_bytes, first_sos, tf.maximum(end - first_sos, 0)),
        ]
    )
    image = tf.io.decode_jpeg(
        rewritten, channels=3, dct_method="INTEGER_ACCURATE", fancy_upscaling=False
    )
    shape_check = tf.debugging.Assert(
        tf.reduce_all(tf.equal(tf.shape(image)[:2], tf.stack([height, width]))),
        [
            "tfjpeg.InvalidJpegError: "
            + msg.DECODE_FAILED.format(detail="decoded size differs from the frame header")
        ],
    )
    with tf.control_dependencies([shape_check]):
        image = tf.identity(image)

    tables_f = tf.cast(tf.reshape(table_used, [3, 8, 8]), tf.float32)

    def component(ci: int) -> tuple[tf.Tensor, tf.Tensor]:
        step_v = v_max // tf.maximum(samp_v[ci], 1)
        step_h = h_max // tf.maximum(samp_h[ci], 1)
        plane = image[::step_v, ::step_h, ci]
        return _plane_coefficients(plane, tables_f[ci], refine_iterations, search_sweeps)

    empty = (tf.zeros([0, 0, 8, 8], tf.int32), tf.zeros([0], tf.int64))
    is_color = tf.equal(num_components, 3)
    y, y_miss = component(0)
    cb, cb_miss = tf.cond(is_color, lambda: component(1), lambda: empty)
    cr, cr_miss = tf.cond(is_color, lambda: component(2), lambda: empty)
    misses = (y_miss, cb_miss, cr_miss)
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
    }, misses
