"""The Huffman-aware JPEG size model against real libjpeg/mozjpeg files."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image

from tfjpeg.io import encode_pixels, read_jpeg
from tfjpeg.jpeg.tables import mozjpeg_quality_tables
from tfjpeg.rate.huffman import (
    STANDARD_AC_LENGTHS,
    STANDARD_DC_LENGTHS,
    optimal_code_lengths,
    scan_statistics,
)
from tfjpeg.rate.jpeg_bits import entropy_coded_bits, symbol_statistics


def _coefficients(data: bytes) -> tuple[tf.Tensor, ...]:
    return tuple(tf.constant(c[None].astype(np.float32)) for c in read_jpeg(data).components)


def _reference_optimal_lengths(freq: list[int]) -> dict[int, int]:
    """libjpeg's jpeg_gen_optimal_table (jchuff.c), transcribed in plain Python."""
    freq = [*list(freq), 1]
    codesize = [0] * 257
    others = [-1] * 257
    while True:
        c1, v = -1, 1 << 60
        for i in range(257):
            if freq[i] and freq[i] <= v:
                v, c1 = freq[i], i
        c2, v = -1, 1 << 60
        for i in range(257):
            if freq[i] and freq[i] <= v and i != c1:
                v, c2 = freq[i], i
        if c2 < 0:
            break
        freq[c1] += freq[c2]
        freq[c2] = 0
        codesize[c1] += 1
        while others[c1] >= 0:
            c1 = others[c1]
            codesize[c1] += 1
        others[c1] = c2
        codesize[c2] += 1
        while others[c2] >= 0:
            c2 = others[c2]
            codesize[c2] += 1
    bits = [0] * 33
    for i in range(257):
        if codesize[i]:
            bits[codesize[i]] += 1
    for i in range(32, 16, -1):
        while bits[i] > 0:
            j = i - 2
            while bits[j] == 0:
                j -= 1
            bits[i] -= 2
            bits[i - 1] += 1
            bits[j + 1] += 2
            bits[j] -= 1
    i = 16
    while bits[i] == 0:
        i -= 1
    bits[i] -= 1
    order = [j for size in range(1, 33) for j in range(256) if codesize[j] == size]
    lengths = [ln for ln in range(1, 17) for _ in range(bits[ln])]
    return dict(zip(order, lengths, strict=False))


def test_standard_code_lengths_match_the_tables_libjpeg_writes():
    data = encode_pixels(natural_image(32, 32), 50)
    tables = scan_statistics(data)["huffman_tables"]
    for (cls, slot), table in tables.items():
        mine = (STANDARD_AC_LENGTHS if cls else STANDARD_DC_LENGTHS)[slot]
        assert {s: int(mine[s]) for s in range(256) if mine[s] > 0} == table


@pytest.mark.parametrize("encoder", ["libjpeg", "mozjpeg"])
def test_optimal_code_lengths_equal_the_optimized_tables_of_real_files(encoder):
    data = encode_pixels(natural_image(64, 96, seed=3), 30, encoder=encoder, optimize=True)
    stats = symbol_statistics(_coefficients(data), "420")
    lengths = optimal_code_lengths(tf.reshape(stats["counts"], [-1, 256])).numpy()
    tables = scan_statistics(data)["huffman_tables"]
    for row, key in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        assert {s: int(lengths[row, s]) for s in range(256) if lengths[row, s] > 0} == tables[key]


def test_optimal_code_lengths_apply_the_16_bit_limit_like_libjpeg():
    # doubling counts make a chain-shaped Huffman tree, 23 bits deep before the limit
    freq = np.zeros((2, 256), np.int64)
    freq[0, :23] = 2 ** np.arange(23)
    freq[1, [0, 1, 17, 33, 200]] = [1000, 3, 1, 1, 50]
    got = optimal_code_lengths(tf.constant(freq, tf.float32)).numpy()
    for row in range(2):
        want = _reference_optimal_lengths(freq[row].tolist())
        assert {s: int(got[row, s]) for s in range(256) if got[row, s] > 0} == want
    assert got[0].max() == 16


@pytest.mark.parametrize(
    ("encoder", "optimize", "quality"),
    [("libjpeg", False, 10), ("libjpeg", False, 90), ("libjpeg", True, 50), ("mozjpeg", True, 20)],
)
def test_entropy_coded_bits_of_real_coefficients_are_exact(encoder, optimize, quality):
    # 72 x 88: dummy MCU blocks at the bottom and right edges of the 4:2:0 luma plane
    data = encode_pixels(natural_image(72, 88, seed=1), quality, encoder=encoder, optimize=optimize)
    coded = entropy_coded_bits(symbol_statistics(_coefficients(data), "420"), optimize=optimize)
    s = scan_statistics(data)
    real_bits = 8 * (s["ecs_bytes"] - s["stuffed"])
    assert real_bits - 8 < float(coded["bits"][0]) <= real_bits
    if optimize:
        assert float(coded["table_symbols"][0]) == s["huffman_symbols"]


def test_soft_counts_interpolate_between_integer_coefficients():
    coef = np.zeros((1, 1, 1, 8, 8), np.float32)
    coef[..., 0, 1] = 2.0  # zigzag position 1
    coef[..., 1, 0] = 0.25  # zigzag position 2
    gray = (tf.constant(coef),)
    stats = symbol_statistics(gray)
    ac = stats["counts"][0, 1].numpy()
    # position 1: (run 0, size 2); position 2: nonzero with weight 0.25 → (0, 1) × 0.25
    assert ac[0x02] == pytest.approx(1.0)
    assert ac[0x01] == pytest.approx(0.25)
    assert ac[0x00] == pytest.approx(1.0)  # end of block: coefficient 63 is zero
    assert float(stats["magnitude_bits"][0]) == pytest.approx(2 + 0.25 * 1)
    with tf.GradientTape() as tape:
        x = tf.constant(coef)
        tape.watch(x)
        bits = entropy_coded_bits(symbol_statistics((x,)))["bits"]
    grad = tape.gradient(bits, x).numpy()
    assert np.isfinite(grad).all() and grad[..., 1, 0] > 0


def test_mozjpeg_tables_match_the_files_mozjpeg_writes():
    image = natural_image(16, 16)
    for quality in (5, 37, 50, 90):
        tables = read_jpeg(encode_pixels(image, quality, encoder="mozjpeg")).tables
        want = mozjpeg_quality_tables(quality).numpy()[0]
        for table in tables:
            np.testing.assert_array_equal(table, want[0])
