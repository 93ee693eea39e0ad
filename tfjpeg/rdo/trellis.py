"""Trellis quantization of the AC coefficients: a Viterbi search over each block's zigzag run.

mozjpeg's ``quantize_trellis`` (jcdctmgr.c), vectorized over blocks in numpy and run before any
encoder. For every block it chooses the AC magnitudes minimizing

    Σ_i w_i·(m_i − |u_i|)² + bits(m),

with u the unrounded coefficients (units of the quantization step), w the distortion weight of
each coefficient per bit, and bits the exact baseline Huffman cost of the block's AC part
(ITU-T T.81 F.1.2.2: a (run, size) symbol per nonzero coefficient plus ``size`` magnitude bits,
a ZRL per 16 zeros before it, an EOB unless the last coefficient is nonzero). Candidates at a
position whose rounded magnitude k is nonzero are 0 and, per size category s ≤ size(k), the
magnitude of least error in it (``min(k, 2^s − 1)``); positions rounding to zero stay zero. The
state is the position of the previous nonzero coefficient, so the search is exact for this
cost (a brute force over all candidate combinations finds the same minimum; see the tests).

:func:`trellis_coefficients` runs it on whole images: the Huffman code lengths are first those
of libjpeg's optimal tables (``optimize=True``) for the start image's coefficients, then, per
further loop, the optimal lengths of the previous loop's choice (mozjpeg's trellis loops).

Reference: mozjpeg 4 ``quantize_trellis``; Talebi et al. 2020, eq. 4 (the choice is made before
a stock encoder, which then quantizes the realized pixels back to it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tfjpeg.jpeg.codec import encode
from tfjpeg.jpeg.layout import component_factors
from tfjpeg.jpeg.tables import ZIGZAG, component_table
from tfjpeg.rate.huffman import optimal_code_lengths
from tfjpeg.rate.jpeg_bits import block_lambda, symbol_statistics

__all__ = [
    "MOZJPEG_LAMBDA_LOG_SCALE1",
    "ac_rate_table",
    "priced_code_lengths",
    "trellis_blocks",
    "trellis_coefficients",
    "trellis_dc",
]

_SIZES = 10  # AC magnitude categories 1..10 (|m| ≤ 1023)
_EOB, _ZRL = 0x00, 0xF0
_ZIGZAG = np.asarray(ZIGZAG)
_ZIGZAG_AC = _ZIGZAG[1:]

#: mozjpeg's ``lambda_log_scale1`` (its ``lambda_log_scale2`` 16.5 is in
#: :func:`tfjpeg.rate.jpeg_bits.block_lambda`).
MOZJPEG_LAMBDA_LOG_SCALE1 = 14.75


def ac_rate_table(lengths: np.ndarray) -> np.ndarray:
    """(63, 11) bits of a nonzero coefficient of size s after a run of r zeros (r = 0..62).

    ``lengths`` is the (256,) AC code length vector; the entry counts the ZRL codes, the
    (r mod 16, s) code and the s magnitude bits; column 0 is unused (inf).
    """
    lengths = np.asarray(lengths, np.float64)
    run = np.arange(63)[:, None]
    size = np.arange(_SIZES + 1)[None]
    table = lengths[16 * (run % 16) + size] + (run // 16) * lengths[_ZRL] + size
    table[:, 0] = np.inf
    return table


def priced_code_lengths(counts: np.ndarray) -> np.ndarray:
    """(M, 256) Huffman code lengths for pricing: libjpeg's optimal lengths for ``counts``; symbols
    without a code get one bit more than the longest code in use (at most 16), since a new
    symbol lengthens the table."""
    counts = np.asarray(counts, np.float32)
    lengths = optimal_code_lengths(tf.constant(counts)).numpy().astype(np.float64)
    longest = np.max(lengths, axis=1, keepdims=True)
    fallback = np.minimum(np.maximum(longest, 1.0) + 1.0, 16.0)
    return np.where(lengths > 0, lengths, fallback)


def trellis_blocks(
    target: np.ndarray, rounded: np.ndarray, weight: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """AC magnitudes (B, 63) of least distortion + bits, per block (zigzag order).

    Args:
        target: (B, 63) |unrounded coefficient| in quantization steps, zigzag AC order.
        rounded: (B, 63) integer magnitudes the start rounds to (0: the coefficient stays 0).
        weight: (B, 63) cost in bits of a squared error of one step at each coefficient.
        lengths: (256,) Huffman code lengths of the AC table (no zeros where a symbol may occur).

    Returns:
        int32 (B, 63) chosen magnitudes, each 0 or ``min(rounded, 2^s − 1)`` for some s.
    """
    target = np.asarray(target, np.float64)
    rounded = np.minimum(np.abs(np.asarray(rounded, np.int64)), 1023)
    weight = np.asarray(weight, np.float64)
    blocks = target.shape[0]
    rates = ac_rate_table(lengths)
    size_of = np.zeros_like(rounded)
    for s in range(1, _SIZES + 1):
        size_of += rounded >= (1 << (s - 1))
    zero_cost = np.concatenate(
        [np.zeros((blocks, 1)), np.cumsum(weight * target**2, axis=1)], axis=1
    )  # zero_cost[:, i]: positions 1..i all zero
    best = np.full((blocks, 64), np.inf)  # best[:, i]: cost of 1..i with i the last nonzero
    best[:, 0] = 0.0
    from_position = np.zeros((blocks, 64), np.int64)
    chosen_size = np.zeros((blocks, 64), np.int64)
    caps = (1 << np.arange(1, _SIZES + 1)) - 1  # largest magnitude of each size
    for i in range(1, 64):
        rows = np.nonzero(rounded[:, i - 1] > 0)[0]
        if rows.size == 0:
            continue
        sizes = int(size_of[rows, i - 1].max())
        k = rounded[rows, i - 1][:, None]
        magnitude = np.minimum(k, caps[None, :sizes])  # (n, sizes)
        error = weight[rows, i - 1][:, None] * (magnitude - target[rows, i - 1][:, None]) ** 2
        error = np.where(np.arange(1, sizes + 1)[None] <= size_of[rows, i - 1][:, None], error,
                         np.inf)  # fmt: skip
        base = best[rows, :i] - zero_cost[rows, :i]  # (n, i), previous nonzero at j
        run_rate = rates[i - 1 :: -1][:i, 1 : sizes + 1]  # run i−1−j for j = 0..i−1
        total = base[:, :, None] + run_rate[None]  # (n, i, sizes)
        j_best = np.argmin(total, axis=1)  # (n, sizes)
        path = np.take_along_axis(total, j_best[:, None], axis=1)[:, 0] + error
        s_best = np.argmin(path, axis=1)
        best[rows, i] = path[np.arange(rows.size), s_best] + zero_cost[rows, i - 1]
        from_position[rows, i] = j_best[np.arange(rows.size), s_best]
        chosen_size[rows, i] = s_best + 1
    eob = np.full(64, float(lengths[_EOB]))
    eob[63] = 0.0  # a block whose last coefficient is nonzero needs no EOB
    finish = best + (zero_cost[:, 63:] - zero_cost) + eob[None]
    last = np.argmin(finish, axis=1)
    out = np.zeros((blocks, 63), np.int64)
    current = last
    for _ in range(63):
        live = current > 0
        if not live.any():
            break
        idx = np.nonzero(live)[0]
        pos = current[idx]
        size = chosen_size[idx, pos]
        out[idx, pos - 1] = np.minimum(rounded[idx, pos - 1], caps[size - 1])
        current = current.copy()
        current[idx] = from_position[idx, pos]
    return out.astype(np.int32)


#: Blocks per :func:`trellis_blocks` call, so that its (blocks, 63, sizes) work arrays stay small
#: (a whole 8 MP image at once: 0.35 CPU-s/MP for the default's encode; in chunks: 0.31).
TRELLIS_CHUNK = 4096


def _trellis_in_chunks(
    target: np.ndarray, rounded: np.ndarray, weight: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """:func:`trellis_blocks` over :data:`TRELLIS_CHUNK` blocks at a time (each block is
    independent)."""
    return np.concatenate(
        [
            trellis_blocks(
                target[i : i + TRELLIS_CHUNK],
                rounded[i : i + TRELLIS_CHUNK],
                weight[i : i + TRELLIS_CHUNK],
                lengths,
            )
            for i in range(0, max(len(target), 1), TRELLIS_CHUNK)
        ]
    )


def trellis_dc(
    target: np.ndarray, rounded: np.ndarray, weight: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """DC values (B,) of least distortion + bits along a scan (mozjpeg's ``trellis_quant_dc``).

    The DC is coded as the difference to the previous block's in scan order (the first to 0):
    a Huffman-coded category s plus s bits. Each block may take its rounded value or one step
    either side; a Viterbi search over the scan finds the best chain.

    Args:
        target: (B,) unrounded DC in quantization steps, in scan order.
        rounded: (B,) the start's rounded DC.
        weight: (B,) cost in bits of a squared error of one step.
        lengths: (256,) DC Huffman code lengths (categories 0..11; no zeros where used).
    """
    offsets = np.array([-1, 0, 1])
    cand = np.clip(np.asarray(rounded, np.int64)[:, None] + offsets[None], -2047, 2047)
    dist = np.asarray(weight, np.float64)[:, None] * (cand - np.asarray(target)[:, None]) ** 2
    size = np.zeros(4096, np.int64)  # magnitude category of |difference| 0..4095
    for s in range(1, 13):
        size[1 << (s - 1) :] += 1
    price = np.asarray(lengths, np.float64)[size] + size
    previous = np.concatenate([np.zeros((1, 3), np.int64), cand[:-1]])  # the first predicts 0
    # steps[b, l, k]: bits of block b at candidate k after block b − 1 at candidate l
    steps = price[np.abs(cand[:, None, :] - previous[:, :, None])]
    steps[0, 1:] = np.inf  # the scan starts from a single predictor, 0
    # Viterbi as min-plus products: cost after block b = row 0 of M_0 ⊗ … ⊗ M_b, with
    # M_b[l, k] = steps[b, l, k] + dist[b, k]; the products are a parallel prefix scan.
    cost = _viterbi_costs(steps + dist[:, None, :])  # (B, 3)
    # the best predecessor of each candidate, then the chain back from the best end
    back = np.argmin(cost[:-1, :, None] + steps[1:], axis=1)  # (B − 1, 3)
    end = int(np.argmin(cost[-1]))
    choice = _follow_back(back, end)
    return cand[np.arange(cand.shape[0]), choice]


def _min_plus_prefix(matrices: np.ndarray) -> np.ndarray:
    """Inclusive prefix products (B, K, K) of ``matrices`` in the (min, +) semiring, by
    recursive doubling (log₂ B vectorized steps instead of B sequential ones)."""
    out = np.array(matrices, np.float64)
    d = 1
    while d < out.shape[0]:
        out[d:] = np.min(out[:-d, :, :, None] + out[d:, None, :, :], axis=2)
        d *= 2
    return out


#: Blocks per chunk of :func:`_viterbi_costs` (sequential inside a chunk, vectorized across).
_CHUNK = 64


def _viterbi_costs(matrices: np.ndarray) -> np.ndarray:
    """(B, K) row 0 of every inclusive (min, +) prefix product of ``matrices`` (B, K, K): the
    Viterbi cost of each state after each block, starting from state 0.

    The chain is cut into chunks of :data:`_CHUNK`: each chunk's product and, after a prefix
    scan of those few products, the costs inside every chunk are computed step by step for all
    chunks at once (2·_CHUNK vectorized steps, whatever B)."""
    blocks, k = matrices.shape[:2]
    if blocks <= 2 * _CHUNK:
        return _min_plus_prefix(matrices)[:, 0]
    chunks = -(-blocks // _CHUNK)
    identity = np.full((k, k), np.inf)
    np.fill_diagonal(identity, 0.0)
    padded = np.broadcast_to(identity, (chunks * _CHUNK, k, k)).copy()
    padded[:blocks] = matrices
    grid = padded.reshape(chunks, _CHUNK, k, k)
    product = grid[:, 0]
    for j in range(1, _CHUNK):
        product = np.min(product[:, :, :, None] + grid[:, j, None, :, :], axis=2)
    before = np.empty((chunks, k))  # the costs entering each chunk
    before[0] = identity[0]
    before[1:] = _min_plus_prefix(product[:-1])[:, 0]
    costs = np.empty((chunks, _CHUNK, k))
    current = before
    for j in range(_CHUNK):
        current = np.min(current[:, :, None] + grid[:, j], axis=1)
        costs[:, j] = current
    return costs.reshape(-1, k)[:blocks]


def _follow_back(back: np.ndarray, end: int) -> np.ndarray:
    """(B,) states of a Viterbi path: state B−1 is ``end``, state b is ``back[b][state b+1]``.

    The maps are composed by recursive doubling: ``reach[i]`` maps the last state to the state
    of block B−1−i."""
    blocks = back.shape[0] + 1
    reach = np.empty((blocks, back.shape[1]), np.int64)
    reach[0] = np.arange(back.shape[1])
    reach[1:] = back[::-1]  # reach[i] = back[B − 1 − i], one step each
    d = 1
    while d < blocks:
        reach[d:] = np.take_along_axis(reach[d:], reach[:-d], axis=1)
        d *= 2
    return reach[::-1, end]


def _scan_order(rows: int, cols: int, mcu_h: int, mcu_w: int) -> np.ndarray:
    """Raster block indices in the order an (interleaved) scan codes them, without the
    MCU-filling dummy blocks (their DC repeats the previous block's, so the chain skips them)."""
    grid = np.full((-(-rows // mcu_h) * mcu_h, -(-cols // mcu_w) * mcu_w), -1)
    grid[:rows, :cols] = np.arange(rows * cols).reshape(rows, cols)
    hm, wm = grid.shape[0] // mcu_h, grid.shape[1] // mcu_w
    order = grid.reshape(hm, mcu_h, wm, mcu_w).transpose(0, 2, 1, 3).reshape(-1)
    return order[order >= 0]


def _zigzag_rows(blocks: tf.Tensor) -> np.ndarray:
    """(N, hb, wb, 8, 8) → (N, hb·wb, 63) zigzag AC rows."""
    b = np.asarray(blocks)
    return b.reshape(b.shape[0], -1, 64)[..., _ZIGZAG_AC]


def _component_weights(
    unrounded: tf.Tensor, table: tf.Tensor, component: int, settings: Any, lam: np.ndarray,
    area: int,
) -> np.ndarray:  # fmt: skip
    """(N, B, 64) bits per squared step of error, zigzag order, by ``settings.distortion``."""
    n = unrounded.shape[0]
    blocks = int(np.prod(unrounded.shape[1:3]))
    if settings.distortion == "mozjpeg":
        # mozjpeg: error² in libjpeg's 8×-scaled DCT / q², × 2^s1 / (2^s2 + mean AC energy)
        scale = 64.0 * 2.0 ** (MOZJPEG_LAMBDA_LOG_SCALE1 - 16.5) / settings.lambda_scale
        per_block = scale * np.asarray(block_lambda(unrounded, table)).reshape(n, blocks, 1)
        return np.broadcast_to(per_block, (n, blocks, 64))
    q2 = np.square(np.asarray(table, np.float64)).reshape(n, 64)[:, _ZIGZAG]
    freq = np.asarray(settings.weights(component), np.float64).reshape(64)[_ZIGZAG]
    channel = settings.chroma_weight * area if component > 0 else 1.0
    w = channel * freq[None] * q2 / (settings.lambda_scale * lam[:, None])
    w = np.broadcast_to(w[:, None, :], (n, blocks, 64))
    if settings.distortion == "masked":  # mozjpeg's per-block activity factor on top
        return w * np.asarray(block_lambda(unrounded, table)).reshape(n, blocks, 1)
    return w


#: Pixels from which :func:`_analysis` runs as a traced graph on its first call in a process
#: (tracing costs ~3 s once; the graph then takes 0.085 instead of 0.19 CPU-s for 0.8 MP).
GRAPH_PIXELS = 3_000_000
_analysis_calls: dict[tuple[int, str], int] = {}


@functools.lru_cache(maxsize=8)
def _traced_analysis(channels: int, subsampling: str) -> Callable[..., Any]:
    spec = [
        tf.TensorSpec([None, None, None, channels], tf.float32),
        tf.TensorSpec([None, None, 8, 8], tf.float32),
    ]
    return tf.function(
        lambda images, tables: _analysis_ops(images, tables, subsampling), input_signature=spec
    )


def _analysis_ops(images: tf.Tensor, tables: tf.Tensor, subsampling: str) -> tuple[Any, ...]:
    encoded = encode(images, tables, subsampling, "hard")
    counts = symbol_statistics(encoded["coefficients"], subsampling, exact=True)["counts"]
    return encoded["coefficients"], encoded["unrounded"], counts


def _analysis(
    start: tf.Tensor, tables: tf.Tensor, subsampling: str
) -> tuple[tuple[tf.Tensor, ...], tuple[tf.Tensor, ...], np.ndarray]:
    """libjpeg-turbo's coefficients of ``start``, its integer DCT in steps (what it rounds) and
    the coefficients' Huffman symbol counts: eagerly for a process's first small image, else as
    a traced graph (a process that encodes several images or a big one pays the trace once)."""
    start = tf.convert_to_tensor(start, tf.float32)
    tables = tf.convert_to_tensor(tables, tf.float32)
    key = (int(start.shape[-1]), subsampling)
    calls = _analysis_calls.get(key, 0)
    _analysis_calls[key] = calls + 1
    pixels = int(np.prod(start.shape[:3]))
    if calls == 0 and pixels < GRAPH_PIXELS:
        exact, unrounded, counts = _analysis_ops(start, tables, subsampling)
    else:
        exact, unrounded, counts = _traced_analysis(*key)(start, tables)
    return tuple(exact), tuple(unrounded), counts.numpy()


def trellis_coefficients(
    start: tf.Tensor,
    tables: tf.Tensor,
    loops: int,
    lam: tf.Tensor,
    settings: Any,
    subsampling: str = "420",
    progress: Any = None,
) -> tuple[tf.Tensor, ...]:
    """Quantized coefficients chosen by :func:`trellis_blocks`, for a batch of images.

    Args:
        start: float (N, H, W, C) image (the editor's output or the original).
        tables: (N, 2|3, 8, 8) quantization tables.
        loops: trellis passes, each priced with the optimal Huffman lengths of the previous
            choice (the first: of the start image's own coefficients); 0: the start's own.
        lam: (N,) pixel squared error per bit (used by ``settings.distortion == "sse"``).
        settings: a :class:`tfjpeg.rdo.RDOSettings`.
        subsampling: chroma subsampling.
        progress: called as ``progress(loop, loops)`` after each loop.
    """
    if loops == 0:
        return tuple(encode(start, tables, subsampling, "hard")["coefficients"])
    exact, unrounded, start_counts = _analysis(start, tables, subsampling)
    tables = tf.convert_to_tensor(tables, tf.float32)
    factors = component_factors(len(exact), subsampling)
    lam = np.asarray(lam, np.float64).reshape(-1)
    rounded = [_zigzag_rows(tf.abs(k)) for k in exact]
    signs = [_zigzag_rows(tf.sign(k)) for k in exact]
    targets = [np.abs(_zigzag_rows(u)) for u in unrounded]
    weights = [
        _component_weights(u, component_table(tables, c), c, settings, lam, fh * fv)
        for c, (u, (fh, fv)) in enumerate(zip(unrounded, factors, strict=True))
    ]
    interleaved = len(exact) > 1
    coefs = tuple(exact)
    for loop in range(loops):
        counts = (
            start_counts
            if loop == 0
            else symbol_statistics(coefs, subsampling, exact=True)["counts"].numpy()
        )
        lengths = priced_code_lengths(counts.reshape(-1, 256)).reshape(-1, 4, 256)
        chosen = []
        for c, k in enumerate(exact):
            dc_table, ac_table = (0, 1) if c == 0 else (2, 3)  # Cb and Cr share chroma's
            w = weights[c]
            ac = np.stack(
                [
                    _trellis_in_chunks(
                        targets[c][i], rounded[c][i], w[i, :, 1:], lengths[i, ac_table]
                    )
                    for i in range(k.shape[0])
                ]
            )
            natural = np.asarray(k).reshape(k.shape[0], -1, 64).copy()
            natural[..., _ZIGZAG_AC] = ac * signs[c]
            if settings.dc:
                fh, fv = factors[-1]
                mcu = (fv, fh) if (c == 0 and interleaved) else (1, 1)
                order = _scan_order(k.shape[1], k.shape[2], *mcu)
                dc_target = np.asarray(unrounded[c]).reshape(k.shape[0], -1, 64)[..., 0]
                for i in range(k.shape[0]):
                    natural[i, order, 0] = trellis_dc(
                        dc_target[i, order], natural[i, order, 0].astype(np.int64),
                        w[i, order, 0], lengths[i, dc_table],
                    )  # fmt: skip
            chosen.append(tf.constant(natural.reshape(k.shape), tf.float32))
        coefs = tuple(chosen)
        if progress is not None:
            progress(loop + 1, loops)
    return coefs
