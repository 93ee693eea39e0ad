"""tfjpeg.io.pixels: encode_pixels and decode_pixels, the standard encoders and decoder."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import natural_image
from jpeg_bytes import same_coefficients
from PIL import Image

from tfjpeg.errors import (
    InvalidImageError,
)
from tfjpeg.io import (
    decode_pixels,
    encode_pixels,
    parse_jpeg_header,
    read_jpeg,
)
from tfjpeg.jpeg.tables import quality_to_tables


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return natural_image(37, 53, seed=3)  # odd size: partial blocks and partial MCUs


@pytest.fixture(scope="module")
def baseline(image) -> bytes:
    return encode_pixels(image, 75)


@pytest.mark.parametrize("subsampling", ["420", "422", "444"])
def test_encode_pixels_with_libjpeg_uses_the_requested_subsampling_and_ijg_tables(
    image, subsampling
):
    coeffs = read_jpeg(encode_pixels(image, 42, subsampling=subsampling))
    assert coeffs.subsampling == subsampling and not coeffs.progressive
    np.testing.assert_array_equal(coeffs.tables, quality_to_tables(42))


def test_encode_pixels_progressive_and_optimize_change_bytes_not_coefficients(image):
    plain = encode_pixels(image, 75)
    variants = [
        encode_pixels(image, 75, optimize=True),
        encode_pixels(image, 75, progressive=True),
    ]
    assert len(variants[0]) < len(plain)
    assert parse_jpeg_header(variants[1]).progressive
    for data in variants:
        assert data != plain and same_coefficients(read_jpeg(data), read_jpeg(plain))


def test_encode_pixels_accepts_grayscale_with_or_without_channel_axis(image):
    gray = image[..., 1]
    assert encode_pixels(gray, 80) == encode_pixels(gray[..., None], 80)
    assert decode_pixels(encode_pixels(gray, 80)).shape == (37, 53, 1)


def test_encode_pixels_rejects_bad_dtype_shape_quality_and_options(image):
    with pytest.raises(InvalidImageError, match=r"dtype uint8.*Received: dtype=float32"):
        encode_pixels(image.astype(np.float32), 75)
    with pytest.raises(InvalidImageError, match="shape"):
        encode_pixels(np.zeros((8, 8, 4), np.uint8), 75)
    with pytest.raises(InvalidImageError, match="empty"):
        encode_pixels(np.zeros((0, 8, 3), np.uint8), 75)
    for bad in (0, 101, 7.5, True, "75"):
        with pytest.raises(ValueError, match=r"Received: quality="):
            encode_pixels(image, bad)
    with pytest.raises(ValueError, match="Received: subsampling='411'"):
        encode_pixels(image, 75, subsampling="411")
    with pytest.raises(ValueError, match="Received: encoder='cjpeg'"):
        encode_pixels(image, 75, encoder="cjpeg")


def test_mozjpeg_encoder_uses_its_own_tables_and_honours_progressive(image):
    sequential = encode_pixels(image, 75, encoder="mozjpeg", subsampling="444")
    progressive = encode_pixels(image, 75, encoder="mozjpeg", subsampling="444", progressive=True)
    seq, prog = read_jpeg(sequential), read_jpeg(progressive)
    assert not parse_jpeg_header(sequential).progressive and prog.progressive
    assert same_coefficients(seq, prog) and seq.subsampling == "444"
    assert not np.array_equal(seq.tables[0], quality_to_tables(75)[0])
    assert seq.tables.max() <= 255  # forced baseline tables
    assert decode_pixels(sequential).shape == image.shape
    assert read_jpeg(encode_pixels(image, 75, encoder="mozjpeg")).subsampling == "420"


def test_decode_pixels_matches_pillow_and_keeps_a_channel_axis(baseline, image, tmp_path):
    path = tmp_path / "in.jpg"
    path.write_bytes(baseline)
    pixels = decode_pixels(path)
    np.testing.assert_array_equal(pixels, np.asarray(Image.open(io.BytesIO(baseline))))
    assert pixels.dtype == np.uint8 and pixels.shape == image.shape
    assert np.abs(pixels.astype(int) - image).mean() < 12  # it is the same picture
