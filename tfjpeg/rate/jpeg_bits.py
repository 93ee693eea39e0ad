"""A differentiable, Huffman-aware model of the size of a baseline JPEG file.

JPEG (ITU-T T.81, Annex F) codes each 8×8 block as the difference of its DC coefficient to the
previous block's (a Huffman-coded magnitude category plus that many extra bits), then the 63 AC
coefficients in zigzag order as Huffman-coded (run of zeros, size) symbols plus ``size`` extra
bits, with ZRL for runs of 16 zeros and an end-of-block symbol when the block ends in zeros.
:func:`symbol_statistics` follows that structure on real-valued coefficients: a coefficient of
magnitude m is nonzero with weight ``min(m, 1)``, its size category is interpolated between those
of ⌊m⌋ and ⌊m⌋ + 1, and the run before each nonzero coefficient is a distribution over run
lengths (the product of the zero weights in between). For integer coefficients every count is the
exact count of the file; between integers it is piecewise linear, so gradients reach the
coefficients. :func:`entropy_coded_bits` prices the counts with the standard Annex K tables or
with libjpeg's optimal tables (built exactly from the counts, ``optimize=True``).

:class:`JpegSizeModel` adds what the entropy-coded bits leave out (markers and tables, byte
stuffing, padding) with per-encoder calibrated parameters, and a learned per-frequency dead zone
that mimics mozjpeg's trellis quantization.

Reference: Talebi et al. 2020, "Better compression with deep pre-editing", §2 (B_q) and §3.1
("Entropy prediction"); ITU-T T.81 Annex F.1.2 and K.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfjpeg.jpeg.layout import component_factors
from tfjpeg.jpeg.rounding import ROUNDING_MODES, apply_rounding, round_half_away, straight_through
from tfjpeg.jpeg.tables import LUMA_BASE_TABLE, ZIGZAG, component_table
from tfjpeg.rate.huffman import STANDARD_AC_LENGTHS, STANDARD_DC_LENGTHS, optimal_code_lengths

__all__ = [
    "ENCODERS",
    "LEVEL_KNOTS",
    "JpegSizeModel",
    "block_lambda",
    "entropy_coded_bits",
    "level_basis",
    "magnitude_features",
    "symbol_statistics",
    "table_level",
]

#: Target encoders: libjpeg-turbo with the standard Huffman tables, with optimized tables, and
#: mozjpeg (trellis quantization, its own quantization tables, optimized Huffman tables,
#: sequential; ``tfjpeg.io.encode_pixels(..., encoder="mozjpeg", optimize=True)``).
ENCODERS = ("libjpeg", "libjpeg-optimize", "mozjpeg")

_ZIGZAG_AC = tf.constant(ZIGZAG[1:], tf.int32)


def table_level(tables: tf.Tensor) -> tf.Tensor:
    """A scalar per image describing how coarse the tables are: log of the mean luma step
    relative to the IJG quality-50 table (0 at q50, about +2.3 at q5, −2.3 at q95)."""
    luma = component_table(tf.convert_to_tensor(tables, tf.float32), 0)
    mean = tf.reduce_mean(luma, axis=[1, 2])
    return tf.math.log(mean / float(LUMA_BASE_TABLE.mean()))


def block_lambda(unrounded: tf.Tensor, table: tf.Tensor) -> tf.Tensor:
    """mozjpeg's per-block scaling of the trellis Lagrange multiplier, in (0, 1].

    mozjpeg (jcdctmgr.c, ``quantize_trellis``) divides λ by ``2^16.5 + norm`` where ``norm`` is
    the mean squared AC coefficient of libjpeg's 8×-scaled DCT: busy blocks keep more small
    coefficients. Returns ``2^16.5 / (2^16.5 + norm)`` with shape (N, hb, wb, 1, 1).

    Args:
        unrounded: (N, hb, wb, 8, 8) coefficients in units of the quantization step.
        table: (N, 8, 8) quantization table of the component.
    """
    dct = 8.0 * tf.stop_gradient(unrounded) * table[:, None, None]
    energy = tf.reduce_sum(tf.square(dct), axis=[-2, -1], keepdims=True)
    norm = (energy - tf.square(dct[..., :1, :1])) / 63.0
    return 2.0**16.5 / (2.0**16.5 + norm)


def _categories(n: tf.Tensor, count: int) -> tf.Tensor:
    """JPEG magnitude category of non-negative integer-valued floats (0 → 0, 1 → 1, 2..3 → 2...)."""
    cat = tf.zeros_like(n, tf.int32)
    for k in range(count - 1):
        cat += tf.cast(n >= float(2**k), tf.int32)
    return cat


def _category_weights(m: tf.Tensor, count: int) -> tf.Tensor:
    """Soft one-hot of the magnitude category of ``m`` ≥ 0, linear between integers."""
    lo = tf.floor(tf.stop_gradient(m))
    t = m - lo
    w_lo = tf.one_hot(_categories(lo, count), count, dtype=m.dtype)
    w_hi = tf.one_hot(_categories(lo + 1.0, count), count, dtype=m.dtype)
    return w_lo * (1.0 - t)[..., None] + w_hi * t[..., None]


def _ac_statistics_exact(blocks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """:func:`_ac_statistics` for integer coefficients without gradients, in O(63) per block."""
    m = tf.minimum(tf.abs(tf.round(blocks)), 1023.0)
    nonzero = m > 0
    position = tf.range(1, 64, dtype=tf.int32)
    last = tf.where(nonzero, position, 0)
    # index of the previous nonzero coefficient (0 = block start) for every position
    prev = tf.pad(_cummax(last)[..., :-1], [[0, 0], [0, 0], [1, 0]])
    run = position - prev - 1
    size = _categories(m, 11)
    symbol = 16 * (run % 16) + size
    weight = tf.cast(nonzero, tf.float32)
    n = tf.shape(m)[0]
    image = tf.range(n)[:, None, None] * 256
    counts = tf.math.unsorted_segment_sum(weight, image + symbol, n * 256)
    counts = tf.reshape(counts, [n, 256])
    zrl = tf.reduce_sum(weight * tf.cast(run // 16, tf.float32), axis=[1, 2])
    eob = tf.reduce_sum(1.0 - weight[..., -1], axis=1)
    magnitude_bits = tf.reduce_sum(weight * tf.cast(size, tf.float32), axis=[1, 2])
    return _add_special(counts, tf.stack([eob, zrl], axis=1)), magnitude_bits


def _cummax(x: tf.Tensor) -> tf.Tensor:
    """Running maximum along the last axis (63 steps, log-depth doubling)."""
    shift = 1
    while shift < x.shape[-1]:
        x = tf.maximum(x, tf.pad(x[..., :-shift], [[0, 0]] * (x.shape.rank - 1) + [[shift, 0]]))
        shift *= 2
    return x


def _ac_statistics(blocks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """AC symbol counts (N, 256) and extra magnitude bits (N,) of zigzag AC blocks (N, B, 63)."""
    m = tf.minimum(tf.abs(blocks), 1023.0)
    z = tf.minimum(m, 1.0)  # weight of "nonzero"
    sizes = _category_weights(tf.maximum(m, 1.0), 11)  # (N, B, 63, 11), categories 1..10
    size_values = tf.range(11, dtype=m.dtype)
    magnitude_bits = tf.reduce_sum(z * tf.reduce_sum(sizes * size_values, axis=-1), axis=[1, 2])
    zpad = tf.concat([tf.ones_like(z[..., :1]), z], axis=-1)  # position 0: the block start
    product = tf.ones_like(z)  # P_r[k]: coefficients k−r .. k−1 are zero
    runs = [tf.zeros_like(z) for _ in range(16)]
    zrl = tf.zeros_like(z)
    for r in range(63):
        # z at position k − r − 1 for AC positions k = 1..63 (0 before the block start)
        before = tf.pad(zpad[..., : 63 - r], [[0, 0], [0, 0], [r, 0]])
        weight = z * product * before  # nonzero at k after exactly r zeros
        runs[r % 16] = runs[r % 16] + weight
        if r >= 16:
            zrl = zrl + float(r // 16) * weight
        product = product * (1.0 - before)
    stacked = tf.stack(runs, axis=2)  # (N, B, 16, 63)
    counts = tf.einsum("nbrk,nbks->nrs", stacked, sizes)  # (N, 16, 11)
    counts = tf.pad(counts, [[0, 0], [0, 0], [0, 5]])
    counts = tf.reshape(counts, [-1, 256])
    eob = tf.reduce_sum(1.0 - z[..., -1], axis=1)
    special = tf.stack([eob, tf.reduce_sum(zrl, axis=[1, 2])], axis=1)  # symbols 0x00, 0xF0
    counts = _add_special(counts, special)
    return counts, magnitude_bits


def _add_special(counts: tf.Tensor, special: tf.Tensor) -> tf.Tensor:
    eob = tf.one_hot(0, 256, dtype=counts.dtype)[None] * special[:, :1]
    zrl = tf.one_hot(240, 256, dtype=counts.dtype)[None] * special[:, 1:]
    return counts + eob + zrl


def _dc_statistics(dc: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """DC symbol counts (N, 256) and extra bits (N,) of DC values in scan order (N, B)."""
    diff = dc - tf.pad(dc[:, :-1], [[0, 0], [1, 0]])
    m = tf.minimum(tf.abs(diff), 2047.0)
    weights = _category_weights(m, 12)
    counts = tf.pad(tf.reduce_sum(weights, axis=1), [[0, 0], [0, 256 - 12]])
    bits = tf.reduce_sum(weights * tf.range(12, dtype=m.dtype), axis=[1, 2])
    return counts, bits


def _scan_blocks(coef: tf.Tensor, mcu_h: int, mcu_w: int) -> tf.Tensor:
    """(N, hb, wb, 8, 8) natural-order blocks → (N, B, 64) in interleaved-scan order, with the
    MCU-filling dummy blocks libjpeg adds (jccoefct.c, jctrans.c: zero AC, DC of the previous
    block in scan order, so their DC difference is 0)."""
    coef = tf.convert_to_tensor(coef, tf.float32)
    n = tf.shape(coef)[0]
    hb, wb = tf.shape(coef)[1], tf.shape(coef)[2]
    flat = tf.reshape(coef, [n, hb, wb, 64])
    if mcu_h == 1 and mcu_w == 1:
        return tf.reshape(flat, [n, -1, 64])
    pad_h, pad_w = (-hb) % mcu_h, (-wb) % mcu_w
    padded = tf.pad(flat, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])
    real = tf.pad(tf.ones([hb, wb], tf.int32), [[0, pad_h], [0, pad_w]])
    hm, wm = (hb + pad_h) // mcu_h, (wb + pad_w) // mcu_w
    grid = tf.reshape(padded, [n, hm, mcu_h, wm, mcu_w, 64])
    scan = tf.reshape(tf.transpose(grid, [0, 1, 3, 2, 4, 5]), [n, -1, 64])
    real = tf.reshape(tf.transpose(tf.reshape(real, [hm, mcu_h, wm, mcu_w]), [0, 2, 1, 3]), [-1])
    # DC of a dummy block = DC of the last real block before it in scan order
    real_positions = tf.where(real > 0)[:, 0]
    source = tf.gather(real_positions, tf.cumsum(real) - 1)
    dc = tf.gather(scan[..., 0], source, axis=1)
    return tf.concat([dc[..., None], scan[..., 1:]], axis=-1)


def symbol_statistics(
    coefficients: tuple[tf.Tensor, ...] | list[tf.Tensor],
    subsampling: str = "420",
    exact: bool = False,
) -> dict[str, tf.Tensor]:
    """Soft Huffman symbol counts of a baseline JPEG scan.

    Args:
        coefficients: one (N, hb, wb, 8, 8) tensor per component (Y or Y, Cb, Cr), natural order,
            as returned by :func:`tfjpeg.jpeg.encode`; real-valued coefficients give soft counts.
        subsampling: chroma subsampling ("420", "422", "444"; ignored for one component).
        exact: the coefficients are integers and no gradient is needed: count the symbols
            directly (same counts, much faster) instead of the soft run-length recursion.

    Returns:
        dict with ``counts`` (N, 4, 256) symbol counts of the [DC luma, AC luma, DC chroma,
        AC chroma] tables, ``magnitude_bits`` (N,) the extra bits after the symbols, and
        ``blocks`` (N,) the number of coded blocks.
    """
    factors = component_factors(len(coefficients), subsampling)
    fh, fv = factors[-1]
    interleaved = len(coefficients) > 1
    dc_counts, ac_counts = [], []
    magnitude = 0.0
    blocks = 0.0
    for c, coef in enumerate(coefficients):
        mcu_h, mcu_w = (fv, fh) if (c == 0 and interleaved) else (1, 1)
        scan = _scan_blocks(coef, mcu_h, mcu_w)
        dc, dc_bits = _dc_statistics(scan[..., 0])
        ac = tf.gather(scan, _ZIGZAG_AC, axis=-1)
        counts, ac_bits = _ac_statistics_exact(ac) if exact else _ac_statistics(ac)
        dc_counts.append(dc)
        ac_counts.append(counts)
        magnitude = magnitude + dc_bits + ac_bits
        blocks = blocks + tf.cast(tf.shape(scan)[1], tf.float32)
    zeros = tf.zeros_like(dc_counts[0])
    chroma_dc = tf.add_n(dc_counts[1:]) if len(dc_counts) > 1 else zeros
    chroma_ac = tf.add_n(ac_counts[1:]) if len(ac_counts) > 1 else zeros
    counts = tf.stack([dc_counts[0], ac_counts[0], chroma_dc, chroma_ac], axis=1)
    return {
        "counts": counts,
        "magnitude_bits": magnitude,
        "blocks": blocks * tf.ones_like(magnitude),
    }


def entropy_coded_bits(stats: dict[str, tf.Tensor], optimize: bool = False) -> dict[str, tf.Tensor]:
    """Bits of the entropy-coded segment (before byte stuffing and padding) from symbol counts.

    Args:
        stats: output of :func:`symbol_statistics`.
        optimize: price with libjpeg's optimal Huffman tables for these counts (their code
            lengths are exact for integer counts, constant for the gradient) instead of the
            standard Annex K tables.

    Returns:
        dict with ``bits`` (N,), ``code_bits`` (N,) (the Huffman codes alone) and
        ``table_symbols`` (N,) (symbols listed in the DHT segments; 0 for standard tables, which
        are part of the fixed header).
    """
    counts = stats["counts"]
    if optimize:
        flat = tf.reshape(counts, [-1, 256])
        lengths = tf.reshape(optimal_code_lengths(flat), tf.shape(counts))
        table_symbols = tf.reduce_sum(tf.cast(lengths > 0, tf.float32), axis=[1, 2])
    else:
        lengths = tf.constant(
            np.stack(
                [
                    STANDARD_DC_LENGTHS[0],
                    STANDARD_AC_LENGTHS[0],
                    STANDARD_DC_LENGTHS[1],
                    STANDARD_AC_LENGTHS[1],
                ]
            )
        )[None]
        table_symbols = tf.zeros_like(stats["magnitude_bits"])
    code_bits = tf.reduce_sum(counts * lengths, axis=[1, 2])
    return {
        "bits": code_bits + stats["magnitude_bits"],
        "code_bits": code_bits,
        "table_symbols": table_symbols,
    }


_FEATURES = ("luma size 1", "chroma size 1", "luma size 2", "chroma size 2")

#: Knots (in :func:`table_level`) of the piecewise-linear quality dependence of the calibration:
#: mozjpeg's tables span −1.86 (q95) … 1.44 (q5); constant beyond the end knots.
LEVEL_KNOTS = np.linspace(-1.86, 1.44, 5).astype(np.float32)


def level_basis(level: tf.Tensor) -> tf.Tensor:
    """(N, K) piecewise-linear "hat" functions of the table level at :data:`LEVEL_KNOTS` (they
    sum to 1; the end ones stay at 1 beyond the end knots)."""
    knots = tf.constant(LEVEL_KNOTS)
    level = tf.clip_by_value(tf.cast(level, tf.float32), knots[0], knots[-1])[:, None]
    step = float(LEVEL_KNOTS[1] - LEVEL_KNOTS[0])
    return tf.nn.relu(1.0 - tf.abs(level - knots[None]) / step)


def magnitude_features(stats: dict[str, tf.Tensor]) -> list[tf.Tensor]:
    """Numbers of AC coefficients of size category 1 (|v| = 1) and 2 (|v| = 2..3), luma and
    chroma, from :func:`symbol_statistics` counts: ``[luma 1, chroma 1, luma 2, chroma 2]``."""
    counts = stats["counts"]
    sizes = tf.reduce_sum(tf.reshape(counts, [-1, 4, 16, 16]), axis=2)  # (N, 4, size)
    return [sizes[:, 1, 1], sizes[:, 3, 1], sizes[:, 1, 2], sizes[:, 3, 2]]


_DEFAULT_HEADER = {  # bytes outside the entropy-coded segment: (colour, gray); fitted by trainers
    "libjpeg": (625.0, 325.0),
    "libjpeg-optimize": (277.0, 177.0),
    "mozjpeg": (277.0, 177.0),
}


@keras.saving.register_keras_serializable(package="tfjpeg")
class JpegSizeModel(keras.layers.Layer):
    """Predicted size in bits of the JPEG file a real encoder writes, from coefficients.

    ``model(coefficients, tables)`` → dict with ``bits`` (N,) (the whole file, 8 × bytes),
    ``entropy_bits`` (N,) (entropy-coded segment before stuffing) and ``header_bytes`` (N,).

    The size is ``header + table symbols + (1 + ρ₀ + ρ₁ℓ) · C/8 + ½`` bytes, ρ the byte-stuffing
    rate and C the calibrated entropy-coded bits ``C = Σₖ hₖ(ℓ) (wₖ₀ E + Σⱼ wₖⱼ Fⱼ)`` with E the
    exact Huffman bits of the coefficients (:func:`entropy_coded_bits`), hₖ piecewise-linear
    functions of the table level ℓ = :func:`table_level` (:func:`level_basis`) and F the numbers
    of AC coefficients of magnitude 1 and 2–3 in luma and chroma (soft counts). For libjpeg-turbo
    the coefficients are exact and C = E (wₖ₀ = 1, the rest 0); for mozjpeg, whose trellis
    quantization drops or lowers small coefficients the model cannot see, the w are fitted on
    real files, and :meth:`trellis_quantize` can apply a learned dead zone per frequency,
    ``(θ₀ + θ₁ℓ) · g`` for luma and chroma with mozjpeg's per-block λ scaling g
    (:func:`block_lambda`), before rounding. The calibrated values are non-trainable weights set
    by ``trainers/rate/fit.py``.

    Args:
        encoder: one of :data:`ENCODERS`.
        subsampling: chroma subsampling of the coefficients.

    Reference: Talebi et al. 2020, §3.1 ("Entropy prediction"); ITU-T T.81 Annex F and K.
    """

    def __init__(self, encoder: str = "libjpeg", subsampling: str = "420", **kwargs: Any):
        super().__init__(**kwargs)
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}. Received: encoder={encoder!r}")
        component_factors(3, subsampling)
        self.encoder = encoder
        self.subsampling = subsampling
        color, gray = _DEFAULT_HEADER[encoder]
        self.header = self.add_weight(
            name="header",
            shape=(2,),
            initializer=keras.initializers.Constant([color, gray]),
            trainable=False,
        )
        self.stuffing = self.add_weight(
            name="stuffing",
            shape=(2,),
            initializer=keras.initializers.Constant([1.0 / 256.0, 0.0]),
            trainable=False,
        )
        identity = np.zeros((len(LEVEL_KNOTS), 1 + len(_FEATURES)), np.float32)
        identity[:, 0] = 1.0
        self.correction = self.add_weight(
            name="correction",
            shape=identity.shape,
            initializer=keras.initializers.Constant(identity),
            trainable=False,
        )
        self.deadzone = self.add_weight(
            name="deadzone", shape=(2, 2, 8, 8), initializer="zeros", trainable=False
        )

    def build(self, *args: Any, **kwargs: Any) -> None:
        """All weights are created in ``__init__``; nothing to build from input shapes."""
        self.built = True

    @property
    def optimize(self) -> bool:
        return self.encoder != "libjpeg"

    def trellis_quantize(
        self, unrounded: tuple[tf.Tensor, ...], tables: tf.Tensor, rounding: str = "ste"
    ) -> tuple[tf.Tensor, ...]:
        """Round unrounded coefficients as the target encoder would (dead zone for mozjpeg)."""
        if rounding not in ROUNDING_MODES:
            raise ValueError(
                f"rounding must be one of {ROUNDING_MODES}. Received: rounding={rounding!r}"
            )
        tables = tf.convert_to_tensor(tables, tf.float32)
        level = table_level(tables)[:, None, None, None, None]
        out = []
        for c, u in enumerate(unrounded):
            u = tf.convert_to_tensor(u, tf.float32)
            theta = self.deadzone[0, min(c, 1)] + self.deadzone[1, min(c, 1)] * level
            theta = tf.maximum(theta, 0.0) * block_lambda(u, component_table(tables, c))
            shrunk = tf.sign(u) * tf.nn.relu(tf.abs(u) - theta)
            if rounding == "hard":
                out.append(tf.stop_gradient(round_half_away(shrunk)))
            elif rounding == "ste":
                out.append(straight_through(tf.stop_gradient(round_half_away(shrunk)), shrunk))
            else:
                out.append(apply_rounding(shrunk, rounding))
        return tuple(out)

    def call(
        self,
        coefficients: tuple[tf.Tensor, ...] | list[tf.Tensor],
        tables: tf.Tensor,
        exact: bool = False,
    ) -> dict[str, tf.Tensor]:
        coefficients = tuple(coefficients)
        stats = symbol_statistics(coefficients, self.subsampling, exact=exact)
        coded = entropy_coded_bits(stats, optimize=self.optimize)
        level = table_level(tables)
        features = tf.stack([coded["bits"], *magnitude_features(stats)], axis=1)  # (N, 5)
        per_feature = tf.matmul(level_basis(level), self.correction)  # (N, 5) weights
        calibrated = tf.reduce_sum(features * per_feature, axis=1)
        header = self.header[0] if len(coefficients) > 1 else self.header[1]
        header_bytes = header + coded["table_symbols"]
        stuffing = self.stuffing[0] + self.stuffing[1] * level
        ecs_bytes = (1.0 + stuffing) * calibrated / 8.0 + 0.5
        return {
            "bits": 8.0 * (header_bytes + ecs_bytes),
            "entropy_bits": coded["bits"],
            "header_bytes": header_bytes,
        }

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(encoder=self.encoder, subsampling=self.subsampling)
        return config
