"""Quantization tables: IJG scaling known answers, zigzag order, differentiable variant."""

from __future__ import annotations

import jpeglib
import numpy as np
import pytest
import tensorflow as tf

from tfjpeg.jpeg.tables import (
    CHROMA_BASE_TABLE,
    LUMA_BASE_TABLE,
    ZIGZAG,
    quality_scaling,
    quality_tables,
    quality_to_tables,
    validate_tables,
)


def test_quality_50_tables_are_the_annex_k_tables():
    tables = quality_to_tables(50)
    assert tables[0, 0, 0] == 16 and tables[0, 7, 7] == 99
    assert tables[1, 0, 0] == 17 and tables[1, 7, 7] == 99
    np.testing.assert_array_equal(tables[0], LUMA_BASE_TABLE)
    np.testing.assert_array_equal(tables[1], CHROMA_BASE_TABLE)


def test_quality_100_gives_all_ones():
    np.testing.assert_array_equal(quality_to_tables(100), np.ones((2, 8, 8)))


def test_quality_1_is_clamped_to_baseline_255():
    tables = quality_to_tables(1)
    assert tables.max() == 255 and tables.min() == 255


def test_quality_scaling_follows_jcparam():
    assert [quality_scaling(q) for q in (1, 10, 25, 49, 50, 75, 100)] == [
        5000,
        500,
        200,
        102,
        100,
        50,
        0,
    ]


@pytest.mark.parametrize("quality", [1, 5, 17, 33, 50, 68, 90, 99])
def test_tables_equal_libjpeg_tables_for_quality(quality, tmp_path):
    # libjpeg's own jpeg_set_quality (jpeglib.qf_to_qt ignores its argument, so write a file)
    path = str(tmp_path / "q.jpg")
    jpeglib.from_spatial(np.zeros((16, 16, 3), np.uint8)).write_spatial(path, qt=quality)
    expected = np.asarray(jpeglib.read_dct(path).qt)[:2]  # jpeglib writes force_baseline=False
    np.testing.assert_array_equal(quality_to_tables(quality, force_baseline=False), expected)
    np.testing.assert_array_equal(quality_to_tables(quality), np.minimum(expected, 255))


def test_zigzag_order_starts_like_jpeg_natural_order():
    assert ZIGZAG[:16].tolist() == [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5]
    assert ZIGZAG[-1] == 63 and sorted(ZIGZAG.tolist()) == list(range(64))


def test_zigzag_order_is_t81_figure_a6_in_full():
    # libjpeg's jpeg_natural_order (jutils.c): natural index of the k-th zigzag coefficient.
    natural_order = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
        12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ]  # fmt: skip
    assert ZIGZAG.tolist() == natural_order
    # T.81 Figure A.6 drawn as the zigzag index at each (row, column) position.
    figure_a6 = np.empty(64, np.int64)
    figure_a6[np.asarray(natural_order)] = np.arange(64)
    assert figure_a6.reshape(8, 8)[0].tolist() == [0, 1, 5, 6, 14, 15, 27, 28]
    assert figure_a6.reshape(8, 8)[:, 0].tolist() == [0, 2, 3, 9, 10, 20, 21, 35]
    assert figure_a6.reshape(8, 8)[7].tolist() == [35, 36, 48, 49, 57, 58, 62, 63]


def test_tensor_tables_match_numpy_tables_per_image():
    tables = quality_tables(tf.constant([3.0, 50.0, 97.0])).numpy()
    for i, q in enumerate((3, 50, 97)):
        np.testing.assert_array_equal(tables[i], quality_to_tables(q))


def test_differentiable_tables_have_exact_forward_and_a_negative_gradient():
    q = tf.Variable([20.0, 80.0])
    with tf.GradientTape() as tape:
        tables = quality_tables(q, differentiable=True)
        total = tf.reduce_sum(tables)
    np.testing.assert_array_equal(tables.numpy()[1], quality_to_tables(80))
    grad = tape.gradient(total, q).numpy()
    assert np.all(np.isfinite(grad)) and np.all(grad < 0)  # higher quality, smaller steps


@pytest.mark.parametrize("bad", [0, 101, -5])
def test_out_of_range_quality_raises_value_error(bad):
    with pytest.raises(ValueError, match="quality"):
        quality_to_tables(bad)


def test_explicit_tables_are_validated_and_broadcast():
    single = validate_tables(np.full((8, 8), 3))
    assert single.shape == (1, 2, 8, 8) and float(single[0, 1, 0, 0]) == 3.0
    with pytest.raises(ValueError, match="shape"):
        validate_tables(np.ones((4, 8, 8)))
    assert validate_tables(np.ones((3, 8, 8))).shape == (1, 3, 8, 8)  # one table per component
    with pytest.raises(ValueError, match="1, 65535"):
        validate_tables(np.zeros((2, 8, 8)))
