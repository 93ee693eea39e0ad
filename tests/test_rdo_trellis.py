"""Trellis quantization (tfjpeg/rdo/trellis.py): the Viterbi choice is the exact optimum of its
cost, its bits are the file's bits, and libjpeg-turbo writes exactly the chosen coefficients."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image

from tfjpeg.errors import InvalidArgumentError
from tfjpeg.io import encode_pixels, read_jpeg
from tfjpeg.jpeg.tables import ZIGZAG, quality_tables
from tfjpeg.rate.huffman import STANDARD_AC_LENGTHS, optimal_code_lengths
from tfjpeg.rate.jpeg_bits import symbol_statistics
from tfjpeg.rdo import RDOSettings, optimize_coefficients, optimize_image
from tfjpeg.rdo.trellis import priced_code_lengths, trellis_blocks, trellis_dc

LUMA_AC = STANDARD_AC_LENGTHS[0].astype(np.float64)


def _ac_bits(magnitudes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Bits of the AC part of one-block gray images (M, 63 zigzag magnitudes), counted by
    :func:`tfjpeg.rate.jpeg_bits.symbol_statistics` (exact) — independent of the trellis."""
    natural = np.zeros((magnitudes.shape[0], 64), np.float32)
    natural[:, ZIGZAG[1:]] = magnitudes
    stats = symbol_statistics((tf.constant(natural.reshape(-1, 1, 1, 8, 8)),), exact=True)
    counts = stats["counts"].numpy()[:, 1]  # AC luma; the DC is 0 (category 0, no extra bits)
    return counts @ lengths + stats["magnitude_bits"].numpy()


def _candidates(k: int) -> list[int]:
    sizes = int(k).bit_length()
    return [0] + [min(k, (1 << s) - 1) for s in range(1, sizes + 1)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trellis_equals_a_brute_force_search_over_all_candidates(seed):
    rng = np.random.default_rng(seed)
    # 6 nonzero positions, spread so that runs need ZRL codes; one case ends at position 63
    positions = [0, 2, 3, 21, 40, 62] if seed != 1 else [1, 4, 9, 30, 47, 62]
    positions = positions if seed != 2 else [0, 1, 5, 12, 18, 55]
    blocks = 4
    target = rng.uniform(0.0, 0.45, (blocks, 63))  # rounds to 0 elsewhere
    rounded = np.zeros((blocks, 63), np.int64)
    for p in positions:
        target[:, p] = rng.uniform(0.6, 9.0, blocks)
        rounded[:, p] = np.round(target[:, p])
    weight = rng.uniform(0.05, 3.0, (blocks, 63))
    lengths = LUMA_AC if seed != 2 else priced_code_lengths(rng.integers(0, 50, (1, 256)))[0]
    chosen = trellis_blocks(target, rounded, weight, lengths)
    for b in range(blocks):
        options = [_candidates(int(rounded[b, p])) for p in positions]
        combos = np.array(list(itertools.product(*options)))
        magnitudes = np.zeros((len(combos), 63))
        magnitudes[:, positions] = combos
        cost = (weight[b] * (magnitudes - target[b]) ** 2).sum(1) + _ac_bits(magnitudes, lengths)
        best = int(np.argmin(cost))
        np.testing.assert_array_equal(chosen[b], magnitudes[best])
        mine = (weight[b] * (chosen[b] - target[b]) ** 2).sum() + _ac_bits(chosen[b][None], lengths)
        assert mine[0] == pytest.approx(cost[best], rel=1e-9)


def test_trellis_keeps_the_rounding_where_bits_are_free_and_zeroes_where_they_are_dear():
    target = np.zeros((2, 63))
    target[:, [0, 5]] = [3.2, 1.1]
    rounded = np.round(target).astype(np.int64)
    cheap = trellis_blocks(target, rounded, np.full((2, 63), 1e6), LUMA_AC)
    np.testing.assert_array_equal(cheap, rounded)
    dear = trellis_blocks(target, rounded, np.full((2, 63), 1e-3), LUMA_AC)
    assert not dear.any()


def test_priced_code_lengths_are_libjpegs_with_a_price_for_unused_symbols():
    counts = np.zeros((1, 256), np.float32)
    counts[0, [0x00, 0x01, 0x02, 0x11, 0xF0]] = [50, 40, 20, 5, 1]
    lengths = priced_code_lengths(counts)[0]
    optimal = optimal_code_lengths(tf.constant(counts)).numpy()[0]
    used = counts[0] > 0
    np.testing.assert_array_equal(lengths[used], optimal[used])
    assert np.all(lengths[~used] == optimal.max() + 1)


@pytest.mark.parametrize(("distortion", "dc"), [("sse", False), ("mozjpeg", True)])
def test_libjpeg_writes_exactly_the_trellis_coefficients(distortion, dc):
    image = natural_image(48, 64, seed=4)
    quality = 30
    settings = RDOSettings(method="trellis", distortion=distortion, dc=dc)
    tables = tf.broadcast_to(quality_tables(quality), [1, 2, 8, 8])
    start = tf.constant(image[None].astype(np.float32))
    chosen = optimize_coefficients(start, tables, 2, settings.lam(tables), settings, None)
    own = optimize_coefficients(start, tables, 0, settings.lam(tables), settings, None)
    assert sum(float(tf.reduce_sum(tf.abs(c))) for c in chosen) < sum(
        float(tf.reduce_sum(tf.abs(c))) for c in own
    )
    report: dict[str, float] = {}
    pixels = optimize_image(image, quality, 2, settings=settings, report=report)
    data = encode_pixels(pixels, quality, optimize=True)
    written = read_jpeg(data)
    differ = total = 0
    for c, want in enumerate(chosen):
        got = written.components[c]
        differ += int(np.sum(got != want.numpy()[0][: got.shape[0], : got.shape[1]]))
        total += got.size
    # the file holds the chosen coefficients; realize reports the few that gamut clipping moves
    assert differ / total == pytest.approx(report["mismatch"]) and differ / total < 1e-3
    assert len(data) < len(encode_pixels(image, quality, optimize=True))


def test_dc_trellis_equals_a_brute_force_search_along_the_scan():
    rng = np.random.default_rng(5)
    target = rng.normal(0.0, 6.0, 6)
    rounded = np.round(target).astype(np.int64)
    weight = rng.uniform(0.1, 2.0, 6)
    lengths = priced_code_lengths(rng.integers(1, 30, (1, 256)))[0]
    chosen = trellis_dc(target, rounded, weight, lengths)
    combos = rounded[None] + np.array(list(itertools.product([-1, 0, 1], repeat=6)))
    natural = np.zeros((len(combos), 1, 6, 8, 8), np.float32)
    natural[..., 0, 0] = combos[:, None]
    stats = symbol_statistics((tf.constant(natural),), exact=True)  # AC all zero: no AC bits
    bits = stats["counts"].numpy()[:, 0] @ lengths + stats["magnitude_bits"].numpy()
    cost = (weight * (combos - target) ** 2).sum(1) + bits
    np.testing.assert_array_equal(chosen, combos[int(np.argmin(cost))])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"method": "viterbi"}, "method"), ({"distortion": "l1"}, "distortion"),
     ({"lambda_scale": 0.0}, "lambda_scale")],
)  # fmt: skip
def test_settings_refuse_unknown_choices(kwargs, name):
    with pytest.raises(InvalidArgumentError, match=name):
        RDOSettings(**kwargs)


@pytest.mark.parametrize(("rows", "cols"), [(5, 7), (4, 6)])
def test_dc_chain_follows_the_interleaved_scan_of_libjpeg(rows, cols):
    from tfjpeg.rdo.trellis import _scan_order

    rng = np.random.default_rng(rows)
    luma = np.zeros((1, rows, cols, 8, 8), np.float32)
    luma[..., 0, 0] = rng.integers(-40, 40, (rows, cols))
    chroma = tf.zeros((1, (rows + 1) // 2, (cols + 1) // 2, 8, 8))
    stats = symbol_statistics((tf.constant(luma), chroma, chroma), "420", exact=True)
    dc = luma[0, ..., 0, 0].reshape(-1)[_scan_order(rows, cols, 2, 2)]
    sizes = [int(abs(d)).bit_length() for d in np.diff(np.concatenate([[0.0], dc]))]
    want = np.bincount(sizes, minlength=12).astype(np.float32)
    want[0] += (rows + rows % 2) * (cols + cols % 2) - rows * cols  # MCU-filling blocks: diff 0
    np.testing.assert_array_equal(stats["counts"].numpy()[0, 0, :12], want)


def test_dc_trellis_reaches_the_sequential_viterbi_minimum_on_a_long_scan():
    rng = np.random.default_rng(11)
    blocks = 777  # recursive doubling over a length that is no power of two
    target = np.cumsum(rng.normal(0.0, 3.0, blocks))
    rounded = np.round(target).astype(np.int64)
    weight = rng.uniform(0.05, 2.0, blocks)
    lengths = priced_code_lengths(rng.integers(1, 30, (1, 256)))[0]
    chosen = trellis_dc(target, rounded, weight, lengths)
    assert np.all(np.abs(chosen - rounded) <= 1)
    size = np.array([int(v).bit_length() for v in range(4096)])
    price = lengths[size] + size

    def cost(values: np.ndarray) -> float:
        diffs = np.abs(np.diff(np.concatenate([[0], values])))
        return float(np.sum(weight * (values - target) ** 2) + np.sum(price[diffs]))

    best = {0: 0.0}  # a plain sequential Viterbi over the three candidates of each block
    for b in range(blocks):
        error = {v: weight[b] * (v - target[b]) ** 2 for v in rounded[b] + np.array([-1, 0, 1])}
        best = {
            v: min(c + price[abs(v - p)] for p, c in best.items()) + e for v, e in error.items()
        }
    assert cost(chosen) == pytest.approx(min(best.values()), rel=1e-9)
