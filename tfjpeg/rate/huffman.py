"""JPEG Huffman coding as TF ops: the standard tables and libjpeg's optimal-table construction.

Symbols are indexed as in a JPEG file: DC symbols are the magnitude category ``s`` (0..11); AC
symbols are ``16 · run + size`` (0x00 = end-of-block, 0xF0 = ZRL, a run of 16 zeros). Code
lengths are float32 vectors of length 256 (0 = no code).

Reference: ITU-T T.81 Annex K.3 (standard tables) and K.2 (optimal tables, as in libjpeg's
``jpeg_gen_optimal_table``, including its tie-breaking and the 16-bit length limit); used as the
rate term B_q of Talebi et al. 2020, "Better compression with deep pre-editing", §3.1.
"""

from __future__ import annotations

import struct

import numpy as np
import tensorflow as tf

__all__ = [
    "STANDARD_AC_LENGTHS",
    "STANDARD_DC_LENGTHS",
    "optimal_code_lengths",
    "scan_statistics",
]

# Code lengths of the Annex K.3 tables (libjpeg's std_huff_tables), read from a libjpeg file.
_DC = [
    [2, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9],
    [2, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
]
_AC_LUMA = [
    [4, 2, 2, 3, 4, 5, 7, 8, 10, 16, 16],
    [0, 4, 5, 7, 9, 11, 16, 16, 16, 16, 16],
    [0, 5, 8, 10, 12, 16, 16, 16, 16, 16, 16],
    [0, 6, 9, 12, 16, 16, 16, 16, 16, 16, 16],
    [0, 6, 10, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 7, 11, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 7, 12, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 8, 12, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 9, 15, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 9, 16, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 9, 16, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 10, 16, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 10, 16, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 11, 16, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16],
    [11, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16],
]
_AC_CHROMA = [
    [2, 2, 3, 4, 5, 5, 6, 7, 9, 10, 12],
    [0, 4, 6, 8, 9, 11, 12, 16, 16, 16, 16],
    [0, 5, 8, 10, 12, 15, 16, 16, 16, 16, 16],
    [0, 5, 8, 10, 12, 16, 16, 16, 16, 16, 16],
    [0, 6, 9, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 6, 10, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 7, 11, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 7, 11, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 8, 16, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 9, 16, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 9, 16, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 9, 16, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 9, 16, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 11, 16, 16, 16, 16, 16, 16, 16, 16, 16],
    [0, 14, 16, 16, 16, 16, 16, 16, 16, 16, 16],
    [10, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16],
]


def _ac_vector(rows: list[list[int]]) -> np.ndarray:
    out = np.zeros(256, np.float32)
    for run, row in enumerate(rows):
        out[16 * run : 16 * run + 11] = row
    return out


#: (2, 256) code lengths of the standard DC tables [luma, chroma], indexed by category.
STANDARD_DC_LENGTHS = np.stack(
    [np.pad(np.asarray(t, np.float32), (0, 256 - 12)) for t in _DC]
).astype(np.float32)
#: (2, 256) code lengths of the standard AC tables [luma, chroma], indexed by 16·run + size.
STANDARD_AC_LENGTHS = np.stack([_ac_vector(_AC_LUMA), _ac_vector(_AC_CHROMA)])

_MAX_CLEN = 40  # longer than libjpeg's 32, so a pathological input cannot index out of range


@tf.function(reduce_retracing=True)
def _huffman_code_sizes(freq: tf.Tensor) -> tf.Tensor:
    """Code sizes before the length limit: libjpeg's merge loop over 257 symbols, batched."""
    m = tf.shape(freq)[0]
    reserved = tf.ones([m, 1], freq.dtype)  # libjpeg's freq[256] = 1: no code of all ones
    freq = tf.concat([freq, reserved], axis=1)
    index = tf.range(257, dtype=tf.int32)[None]
    others = tf.broadcast_to(index, tf.shape(freq))
    codesize = tf.zeros_like(others)
    inf = tf.constant(np.inf, freq.dtype)

    def smallest(f: tf.Tensor, exclude: tf.Tensor) -> tf.Tensor:
        # the smallest nonzero frequency; among ties the largest index (libjpeg's ``<=``)
        masked = tf.where((f > 0) & tf.not_equal(index, exclude[:, None]), f, inf)
        v = tf.reduce_min(masked, axis=1, keepdims=True)
        hit = tf.equal(masked, v) & tf.math.is_finite(masked)
        return tf.reduce_max(tf.where(hit, index, -1), axis=1)

    def cond(f, group, size):
        return tf.reduce_any(tf.reduce_sum(tf.cast(f > 0, tf.int32), axis=1) > 1)

    def body(f, group, size):
        active = tf.reduce_sum(tf.cast(f > 0, tf.int32), axis=1) > 1
        c1 = smallest(f, tf.fill([m], -1))
        c2 = smallest(f, c1)
        c1 = tf.where(active, c1, -1)
        c2 = tf.where(active, c2, -1)
        f2 = tf.reduce_sum(tf.where(tf.equal(index, c2[:, None]), f, 0.0), axis=1, keepdims=True)
        is1 = tf.equal(index, c1[:, None])
        is2 = tf.equal(index, c2[:, None])
        f = tf.where(is1, f + f2, tf.where(is2, tf.zeros_like(f), f))
        members = tf.equal(group, c1[:, None]) | tf.equal(group, c2[:, None])
        size = size + tf.cast(members, tf.int32)
        group = tf.where(tf.equal(group, c2[:, None]), c1[:, None] * tf.ones_like(group), group)
        for t in (f, group, size):  # a batch of one would otherwise lose its static shape
            t.set_shape(freq.shape)
        return f, group, size

    _, _, codesize = tf.while_loop(
        cond,
        body,
        (freq, others, codesize),
        maximum_iterations=257,
    )
    return codesize


@tf.function(reduce_retracing=True)
def _limit_lengths(bits: tf.Tensor) -> tf.Tensor:
    """libjpeg's adjustment of the length histogram to at most 16 bits, batched; (M, 41)."""
    lengths = tf.range(_MAX_CLEN + 1, dtype=tf.int32)[None]

    def needs(b):
        return tf.reduce_any((lengths > 16) & (b > 0), axis=1)

    def cond(b):
        return tf.reduce_any(needs(b))

    def body(b):
        todo = needs(b)
        i = tf.reduce_max(tf.where((lengths > 16) & (b > 0), lengths, 0), axis=1)
        j = tf.reduce_max(tf.where((lengths <= i[:, None] - 2) & (b > 0), lengths, 0), axis=1)
        delta = (
            -2 * tf.one_hot(i, _MAX_CLEN + 1, dtype=tf.int32)
            + tf.one_hot(i - 1, _MAX_CLEN + 1, dtype=tf.int32)
            + 2 * tf.one_hot(j + 1, _MAX_CLEN + 1, dtype=tf.int32)
            - tf.one_hot(j, _MAX_CLEN + 1, dtype=tf.int32)
        )
        return (b + tf.where(todo[:, None], delta, 0),)

    (bits,) = tf.while_loop(cond, body, (bits,), maximum_iterations=100000)
    # remove the reserved all-ones code point from the longest length in use
    top = tf.reduce_max(tf.where(bits > 0, lengths, 0), axis=1)
    return bits - tf.one_hot(top, _MAX_CLEN + 1, dtype=tf.int32)


def optimal_code_lengths(freq: tf.Tensor) -> tf.Tensor:
    """Code lengths of libjpeg's optimal Huffman table for symbol counts ``freq``.

    Reproduces ``jpeg_gen_optimal_table`` (jchuff.c) exactly for integer counts: Huffman merging
    with a reserved symbol, the length limit of 16 bits, and the assignment of lengths to symbols
    in order of (code size, symbol). Fractional (soft) counts are treated the same way.

    Args:
        freq: float32 (M, 256) symbol counts; a symbol with count 0 gets no code.

    Returns:
        float32 (M, 256) code lengths (0 where the count is 0). Not differentiable (the lengths are
        piecewise constant in the counts).
    """
    freq = tf.stop_gradient(tf.convert_to_tensor(freq, tf.float32))
    codesize = _huffman_code_sizes(freq)
    clipped = tf.minimum(codesize, _MAX_CLEN)
    present = tf.concat([freq > 0, tf.ones_like(freq[:, :1], tf.bool)], axis=1)
    bits = tf.reduce_sum(
        tf.one_hot(tf.where(present, clipped, 0), _MAX_CLEN + 1, dtype=tf.int32), axis=1
    )
    bits = tf.concat([tf.zeros_like(bits[:, :1]), bits[:, 1:]], axis=1)
    bits = _limit_lengths(bits)
    # symbols (without the reserved one) in order of (code size, symbol value) get the lengths
    symbol = tf.range(256, dtype=tf.int32)[None]
    used = freq > 0
    key = tf.where(used, clipped[:, :256] * 512 + symbol, 1 << 30)
    rank = tf.argsort(tf.argsort(key, axis=1, stable=True), axis=1, stable=True)
    cum = tf.cumsum(bits[:, 1:17], axis=1)  # codes of length <= l
    length = tf.searchsorted(cum, rank, side="right") + 1
    return tf.where(used, tf.cast(length, tf.float32), 0.0)


def scan_statistics(data: bytes) -> dict[str, object]:
    """Byte accounting of a sequential JPEG file (for calibration and tests; pure Python).

    Returns:
        dict with ``size`` (file bytes), ``ecs_bytes`` (entropy-coded bytes incl. stuffing),
        ``stuffed`` (0x00 bytes stuffed after 0xFF), ``header_bytes`` (everything else),
        ``huffman_symbols`` (total symbols listed in DHT segments), and ``huffman_tables``:
        {(class, id): {symbol: length}}.
    """
    pos, tables, nsym = 2, {}, 0
    ecs = stuffed = 0
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"not a marker at byte {pos}")
        code = data[pos + 1]
        if code == 0xD9:
            break
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        seg = data[pos + 4 : pos + 2 + length]
        if code == 0xC4:
            i = 0
            while i < len(seg):
                tc = seg[i]
                counts = list(seg[i + 1 : i + 17])
                n = sum(counts)
                values = list(seg[i + 17 : i + 17 + n])
                lens = [ln for ln, c in enumerate(counts, 1) for _ in range(c)]
                tables[(tc >> 4, tc & 15)] = dict(zip(values, lens, strict=True))
                nsym += n
                i += 17 + n
        pos += 2 + length
        if code == 0xDA:
            start = pos
            while pos < len(data) - 1:
                if data[pos] == 0xFF:
                    if data[pos + 1] == 0x00:
                        stuffed += 1
                        pos += 2
                        continue
                    if 0xD0 <= data[pos + 1] <= 0xD7:
                        pos += 2
                        continue
                    break
                pos += 1
            ecs += pos - start
    return {
        "size": len(data),
        "ecs_bytes": ecs,
        "stuffed": stuffed,
        "header_bytes": len(data) - ecs,
        "huffman_symbols": nsym,
        "huffman_tables": tables,
    }
