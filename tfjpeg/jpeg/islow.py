"""libjpeg's accurate integer DCT ("islow") and its quantizer, emulated with TF integer ops.

Ports ``jfdctint.c`` (forward), ``jidctint.c`` (inverse) — Loeffler–Ligtenberg–Moschytz with
13-bit constants and 2 extra bits after pass 1 — and libjpeg-turbo's reciprocal-multiplication
quantizer (``jcdctmgr.c`` ``compute_reciprocal`` / ``quantize``, 16-bit DCTELEM as in SIMD
builds). A float DCT disagrees with libjpeg on a few percent of coefficients at high quality
(posterior-sampling paper, Man et al. 2023, appendix D); this module agrees bit for bit.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["islow_fdct", "islow_idct", "islow_idct_sums", "quantize_exact", "range_limit"]

_CONST_BITS = 13
_PASS1_BITS = 2
F_0_298 = 2446
F_0_390 = 3196
F_0_541 = 4433
F_0_765 = 6270
F_0_899 = 7373
F_1_175 = 9633
F_1_501 = 12299
F_1_847 = 15137
F_1_961 = 16069
F_2_053 = 16819
F_2_562 = 20995
F_3_072 = 25172


def _descale(x: tf.Tensor, n: int) -> tf.Tensor:
    return tf.bitwise.right_shift(x + (1 << (n - 1)), n)


def _fdct_1d(d: list[tf.Tensor], first_pass: bool) -> list[tf.Tensor]:
    tmp0, tmp7 = d[0] + d[7], d[0] - d[7]
    tmp1, tmp6 = d[1] + d[6], d[1] - d[6]
    tmp2, tmp5 = d[2] + d[5], d[2] - d[5]
    tmp3, tmp4 = d[3] + d[4], d[3] - d[4]
    tmp10, tmp13 = tmp0 + tmp3, tmp0 - tmp3
    tmp11, tmp12 = tmp1 + tmp2, tmp1 - tmp2
    shift = _CONST_BITS - _PASS1_BITS if first_pass else _CONST_BITS + _PASS1_BITS
    out = [None] * 8
    if first_pass:
        out[0] = (tmp10 + tmp11) * (1 << _PASS1_BITS)
        out[4] = (tmp10 - tmp11) * (1 << _PASS1_BITS)
    else:
        out[0] = _descale(tmp10 + tmp11, _PASS1_BITS)
        out[4] = _descale(tmp10 - tmp11, _PASS1_BITS)
    z1 = (tmp12 + tmp13) * F_0_541
    out[2] = _descale(z1 + tmp13 * F_0_765, shift)
    out[6] = _descale(z1 - tmp12 * F_1_847, shift)
    z1, z2, z3, z4 = tmp4 + tmp7, tmp5 + tmp6, tmp4 + tmp6, tmp5 + tmp7
    z5 = (z3 + z4) * F_1_175
    tmp4, tmp5, tmp6, tmp7 = tmp4 * F_0_298, tmp5 * F_2_053, tmp6 * F_3_072, tmp7 * F_1_501
    z1, z2 = z1 * -F_0_899, z2 * -F_2_562
    z3, z4 = z3 * -F_1_961 + z5, z4 * -F_0_390 + z5
    out[7] = _descale(tmp4 + z1 + z3, shift)
    out[5] = _descale(tmp5 + z2 + z4, shift)
    out[3] = _descale(tmp6 + z2 + z3, shift)
    out[1] = _descale(tmp7 + z1 + z4, shift)
    return out


def islow_fdct(samples: tf.Tensor) -> tf.Tensor:
    """``jpeg_fdct_islow`` on int32 (..., 8, 8) level-shifted samples; output is 8× the DCT."""
    rows = tf.unstack(tf.cast(samples, tf.int32), axis=-1)  # each (..., 8): column c of all rows
    pass1 = tf.stack(_fdct_1d(rows, first_pass=True), axis=-1)
    cols = tf.unstack(pass1, axis=-2)  # each (..., 8): row r, indexed by column
    return tf.stack(_fdct_1d(cols, first_pass=False), axis=-2)


def _idct_1d(c: list[tf.Tensor], shift: int) -> list[tf.Tensor]:
    """One 8-point islow IDCT pass; outputs descaled by ``shift`` bits (0: the exact sums)."""
    z2, z3 = c[2], c[6]
    z1 = (z2 + z3) * F_0_541
    tmp2 = z1 - z3 * F_1_847
    tmp3 = z1 + z2 * F_0_765
    tmp0 = (c[0] + c[4]) * (1 << _CONST_BITS)
    tmp1 = (c[0] - c[4]) * (1 << _CONST_BITS)
    tmp10, tmp13 = tmp0 + tmp3, tmp0 - tmp3
    tmp11, tmp12 = tmp1 + tmp2, tmp1 - tmp2
    t0, t1, t2, t3 = c[7], c[5], c[3], c[1]
    z1, z2, z3, z4 = t0 + t3, t1 + t2, t0 + t2, t1 + t3
    z5 = (z3 + z4) * F_1_175
    t0, t1, t2, t3 = t0 * F_0_298, t1 * F_2_053, t2 * F_3_072, t3 * F_1_501
    z1, z2 = z1 * -F_0_899, z2 * -F_2_562
    z3, z4 = z3 * -F_1_961 + z5, z4 * -F_0_390 + z5
    t0, t1, t2, t3 = t0 + z1 + z3, t1 + z2 + z4, t2 + z2 + z3, t3 + z1 + z4
    outs = [
        tmp10 + t3,
        tmp11 + t2,
        tmp12 + t1,
        tmp13 + t0,
        tmp13 - t0,
        tmp12 - t1,
        tmp11 - t2,
        tmp10 - t3,
    ]
    return outs if shift == 0 else [_descale(o, shift) for o in outs]


_IDCT_SHIFT = _CONST_BITS + _PASS1_BITS + 3


def islow_idct_sums(dequantized: tf.Tensor) -> tf.Tensor:
    """``jpeg_idct_islow`` before its final descale: int64 (..., 8, 8), 2^18 × the samples − 128.

    int64 because coefficients of crafted files can overflow 32 bits (libjpeg uses ``long``).
    """
    x = tf.cast(dequantized, tf.int64)
    cols = tf.unstack(x, axis=-2)  # pass 1 works down each column: inputs indexed by row
    pass1 = tf.stack(_idct_1d(cols, _CONST_BITS - _PASS1_BITS), axis=-2)
    rows = tf.unstack(pass1, axis=-1)  # pass 2 along each row: inputs indexed by column
    return tf.stack(_idct_1d(rows, 0), axis=-1)


def range_limit(descaled: tf.Tensor) -> tf.Tensor:
    """libjpeg's output range limit: ``range_limit[x & RANGE_MASK]`` with the +128 level shift.

    Values in −512..511 are clamped to 0..255 after the shift; beyond that libjpeg's 10-bit mask
    wraps around, and so does this.
    """
    wrapped = tf.bitwise.bitwise_and(descaled + 512, 1023) - 512
    return tf.clip_by_value(wrapped + 128, 0, 255)


def islow_idct(dequantized: tf.Tensor) -> tf.Tensor:
    """``jpeg_idct_islow`` on int (..., 8, 8) dequantized coefficients → int32 samples 0..255."""
    sums = islow_idct_sums(dequantized)
    return tf.cast(range_limit(_descale(sums, _IDCT_SHIFT)), tf.int32)


def _reciprocals(divisor: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """libjpeg-turbo ``compute_reciprocal`` for 16-bit DCTELEM: (reciprocal, correction, shift)."""
    d = tf.cast(divisor, tf.int64)
    b = tf.add_n([tf.cast(d >= (1 << k), tf.int64) for k in range(1, 16)])  # floor(log2(d))
    r = 16 + b
    one = tf.bitwise.left_shift(tf.ones_like(d), r)
    fq, fr = one // d, one % d
    c = d // 2
    power_of_two = tf.equal(fr, 0)
    fq = tf.where(power_of_two, tf.bitwise.right_shift(fq, 1), fq)
    r = tf.where(power_of_two, r - 1, r)
    c = tf.where(~power_of_two & (fr <= d // 2), c + 1, c)
    fq = tf.where(~power_of_two & (fr > d // 2), fq + 1, fq)
    return fq, c, r


def quantize_exact(fdct_out: tf.Tensor, tables: tf.Tensor) -> tf.Tensor:
    """Quantize ``islow_fdct`` output like libjpeg-turbo; ``tables`` broadcasts to (..., 8, 8)."""
    recip, corr, shift = _reciprocals(tf.cast(tables, tf.int64) * 8)
    x = tf.cast(fdct_out, tf.int64)
    magnitude = tf.bitwise.right_shift((tf.abs(x) + corr) * recip, shift)
    return tf.cast(tf.where(x < 0, -magnitude, magnitude), tf.int32)
