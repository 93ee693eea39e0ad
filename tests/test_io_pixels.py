"""tfjpeg.io.pixels: encode_pixels and decode_pixels, the standard encoders and decoder."""

from __future__ import annotations

import io
import shutil
import subprocess
import zlib

import numpy as np
import pytest
from jpeg_bytes import same_coefficients
from PIL import Image

from tfjpeg.errors import (
    ImageTooLargeError,
    InvalidImageError,
)
from tfjpeg.io import (
    decode_pixels,
    encode_pixels,
    parse_jpeg_header,
    read_jpeg,
)
from tfjpeg.io.pixels import load_pillow_image, pillow_to_uint8
from tfjpeg.jpeg.tables import quality_to_tables


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


# ------------------------------------------------------------------ RGB-coded files (cjpeg -rgb)
def test_rgb_coded_jpeg_decodes_to_libjpegs_pixels(image, tmp_path):
    if shutil.which("cjpeg") is None or shutil.which("djpeg") is None:
        pytest.skip("cjpeg/djpeg are not installed")
    Image.fromarray(image).save(tmp_path / "in.ppm")
    out, ppm = str(tmp_path / "rgb.jpg"), str(tmp_path / "in.ppm")
    subprocess.run(["cjpeg", "-rgb", "-quality", "90", "-outfile", out, ppm], check=True)
    data = (tmp_path / "rgb.jpg").read_bytes()
    ref = subprocess.run(["djpeg", "-pnm", out], capture_output=True, check=True).stdout
    expected = np.asarray(Image.open(io.BytesIO(ref)))
    pixels = decode_pixels(data)
    np.testing.assert_array_equal(pixels, expected)
    np.testing.assert_array_equal(pixels, np.asarray(Image.open(io.BytesIO(data))))
    # RGB, not YCbCr: close to the source image (a YCbCr reading would be far off).
    assert np.abs(pixels.astype(int) - image.astype(int)).mean() < 6


# --------------------------------------------------------------------------- Pillow modes
def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_16_bit_gray_png_maps_to_the_8_bit_gradient():
    ramp = (np.arange(256, dtype=np.uint32) * 257).astype(np.uint16).reshape(16, 16)
    img = Image.open(io.BytesIO(_png(Image.fromarray(ramp))))
    assert img.mode in ("I;16", "I")
    out = load_pillow_image(_png(Image.fromarray(ramp)))
    assert out.dtype == np.uint8 and out.shape == (16, 16)
    np.testing.assert_array_equal(out, np.arange(256).reshape(16, 16))
    # Between the exact values: rounding, round(v / 257).
    odd = Image.fromarray(np.array([[128, 129, 65535 - 128, 1000]], np.uint16))
    np.testing.assert_array_equal(pillow_to_uint8(odd), [[0, 1, 255, 4]])
    big_endian = Image.frombytes("I;16B", (2, 1), np.array([0, 257 * 200], ">u2").tobytes())
    np.testing.assert_array_equal(pillow_to_uint8(big_endian), [[0, 200]])


def test_32_bit_integer_images_are_16_bit_values_and_out_of_range_ones_are_refused():
    img = Image.fromarray(np.array([[0, 257 * 100, 65535]], np.int32), mode="I")
    np.testing.assert_array_equal(pillow_to_uint8(img), [[0, 100, 255]])
    for bad in (-1, 70000):
        with pytest.raises(InvalidImageError, match=r"0\.\.65535"):
            pillow_to_uint8(Image.fromarray(np.array([[0, bad]], np.int32), mode="I"))


def test_float_images_are_scaled_from_0_1_or_0_255_and_non_finite_ones_refused():
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), mode="F")
    np.testing.assert_array_equal(pillow_to_uint8(unit), [[0, 128, 255]])
    byte = Image.fromarray(np.array([[0.0, 100.4, 255.0]], np.float32), mode="F")
    np.testing.assert_array_equal(pillow_to_uint8(byte), [[0, 100, 255]])
    for bad, message in ((np.nan, "NaN"), (np.inf, "NaN or infinity"), (-1.0, r"\[0, 1\]")):
        img = Image.fromarray(np.array([[0.5, bad]], np.float32), mode="F")
        with pytest.raises(InvalidImageError, match=message):
            pillow_to_uint8(img)
    with pytest.raises(InvalidImageError, match=r"\[0, 255\]"):
        pillow_to_uint8(Image.fromarray(np.array([[300.0]], np.float32), mode="F"))


def test_transparency_is_composited_over_white():
    rgba = np.array([[[10, 20, 30, 0], [10, 20, 30, 255], [0, 0, 0, 128]]], np.uint8)
    out = load_pillow_image(_png(Image.fromarray(rgba, "RGBA")))
    np.testing.assert_array_equal(out, [[[255, 255, 255], [10, 20, 30], [127, 127, 127]]])
    la = Image.fromarray(np.array([[[0, 0], [50, 255], [0, 51]]], np.uint8), "LA")
    np.testing.assert_array_equal(pillow_to_uint8(la), [[255, 50, 204]])
    np.testing.assert_array_equal(pillow_to_uint8(la, "RGB")[0, 0], [255, 255, 255])
    # A palette image with a transparent index (GIF/PNG "transparency"), and PA.
    pal = Image.fromarray(np.array([[0, 1]], np.uint8), "P")
    pal.putpalette([200, 0, 0, 0, 0, 200] + [0] * 762)
    pal.info["transparency"] = 0
    np.testing.assert_array_equal(pillow_to_uint8(pal), [[[255, 255, 255], [0, 0, 200]]])
    reopened = Image.open(io.BytesIO(_png(pal)))
    np.testing.assert_array_equal(pillow_to_uint8(reopened), [[[255, 255, 255], [0, 0, 200]]])
    pa = pal.convert("PA")
    np.testing.assert_array_equal(pillow_to_uint8(pa), [[[255, 255, 255], [0, 0, 200]]])
    del pal.info["transparency"]
    np.testing.assert_array_equal(pillow_to_uint8(pal), [[[200, 0, 0], [0, 0, 200]]])


def test_other_modes_convert_like_pillow():
    rgb = np.array([[[255, 0, 0], [0, 128, 255]]], np.uint8)
    img = Image.fromarray(rgb)
    np.testing.assert_array_equal(pillow_to_uint8(img), rgb)
    np.testing.assert_array_equal(pillow_to_uint8(img, "L"), np.asarray(img.convert("L")))
    bilevel = Image.fromarray(np.array([[0, 255]], np.uint8)).convert("1")
    np.testing.assert_array_equal(pillow_to_uint8(bilevel), [[0, 255]])
    np.testing.assert_array_equal(pillow_to_uint8(bilevel, "RGB"), [[[0] * 3, [255] * 3]])
    gray = Image.fromarray(np.array([[7, 9]], np.uint8))
    np.testing.assert_array_equal(pillow_to_uint8(gray), [[7, 9]])
    for mode in ("CMYK", "YCbCr", "RGBX"):
        converted = img.convert(mode)
        np.testing.assert_array_equal(pillow_to_uint8(converted), converted.convert("RGB"))
    cmyk = Image.new("CMYK", (1, 1), (0, 255, 255, 0))  # pure red ink mix
    np.testing.assert_array_equal(pillow_to_uint8(cmyk), [[[255, 0, 0]]])


def test_load_image_and_compress_use_the_conversion(tmp_path):
    from tfjpeg.api.compression import _read_image
    from tfjpeg.data import load_image

    ramp = (np.arange(64, dtype=np.uint32) * 257 * 4).astype(np.uint16).reshape(8, 8)
    (tmp_path / "deep.png").write_bytes(_png(Image.fromarray(ramp)))
    expected = np.arange(0, 256, 4).reshape(8, 8)
    np.testing.assert_array_equal(load_image(tmp_path / "deep.png", mode="L"), expected)
    np.testing.assert_array_equal(load_image(tmp_path / "deep.png")[..., 1], expected)
    np.testing.assert_array_equal(_read_image(_png(Image.fromarray(ramp)))[..., 0], expected)
    transparent = Image.fromarray(np.zeros((4, 4, 4), np.uint8), "RGBA")
    assert (_read_image(_png(transparent)) == 255).all()
    # Not all white: the 16-bit gradient encodes to a JPEG that decodes to a gradient.
    decoded = decode_pixels(encode_pixels(load_image(tmp_path / "deep.png", mode="L"), 95))
    assert np.abs(decoded[..., 0].astype(int) - expected).max() <= 4


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width × height pixels (with a valid CRC)."""
    data = bytearray(_png(Image.new("L", (1, 1))))
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def test_huge_png_bytes_raise_image_too_large_error_not_pillows_bomb_error(monkeypatch):
    from tfjpeg.api.compression import _read_image

    bomb = _png_claiming(30000, 30000)  # 900 MP: over Pillow's own bomb limit too
    with pytest.raises(ImageTooLargeError, match=r"900,000,000 pixels.*limit of 100,000,000"):
        _read_image(bomb)
    with pytest.raises(ImageTooLargeError, match=r"900,000,000 pixels.*limit of 100,000,000"):
        load_pillow_image(bomb)
    # Under Pillow's limit but over tfjpeg's: tfjpeg's message, with the size.
    with pytest.raises(ImageTooLargeError, match=r"20000x5000 = 100,000,000 pixels.*limit of 99"):
        load_pillow_image(_png_claiming(20000, 5000), max_pixels=99)
    monkeypatch.setenv("TFJPEG_MAX_PIXELS", "1000")
    with pytest.raises(ImageTooLargeError, match=r"40x40 = 1,600 pixels.*limit of 1,000"):
        _read_image(_png_claiming(40, 40))
    # Within tfjpeg's (raised) limit but over Pillow's: says which limit to raise.
    with pytest.raises(ImageTooLargeError, match="MAX_IMAGE_PIXELS"):
        load_pillow_image(bomb, max_pixels=10**9)


@pytest.mark.parametrize("encoder", ["libjpeg", "mozjpeg"])
@pytest.mark.parametrize("count", [2, 3])
def test_encode_pixels_writes_exactly_the_requested_tables(image, encoder, count):
    """The file's DQT (read back by libjpeg) holds the given natural-order tables, per component;
    the quality is not needed, and a gray image gets the luma table."""
    rng = np.random.default_rng(count)
    tables = rng.integers(1, 256, (count, 8, 8))
    for progressive in (False, True):
        data = encode_pixels(image, None, encoder=encoder, tables=tables, optimize=True,
                             progressive=progressive)  # fmt: skip
        coeffs = read_jpeg(data)
        per_component = coeffs.tables[list(coeffs.table_index)]
        want = tables if count == 3 else tables[[0, 1, 1]]
        np.testing.assert_array_equal(per_component, want)
        assert coeffs.progressive == progressive and coeffs.tables.max() <= 255
    gray = read_jpeg(encode_pixels(image[..., 0], 50, encoder=encoder, tables=tables))
    np.testing.assert_array_equal(gray.tables, tables[:1])


def test_encode_pixels_with_the_standard_tables_as_explicit_tables_gives_the_same_file(image):
    for encoder in ("libjpeg", "mozjpeg"):
        plain = encode_pixels(image, 30, encoder=encoder, optimize=True)
        explicit = encode_pixels(image, None, encoder=encoder, optimize=True,
                                 tables=read_jpeg(plain).tables)  # fmt: skip
        assert same_coefficients(read_jpeg(plain), read_jpeg(explicit))


@pytest.mark.parametrize(
    "tables, match",
    [
        (np.ones((8, 8)), "shape"),
        (np.ones((4, 8, 8)), "shape"),
        (np.full((2, 8, 8), 256), r"\[1, 255\]"),
        (np.zeros((2, 8, 8)), r"\[1, 255\]"),
        (np.full((2, 8, 8), 2.5), "integers"),
        (np.full((2, 8, 8), np.nan), "NaN"),
        ("learned", "numeric"),
        (np.full((2, 8, 8), True), "numeric"),
    ],
)
def test_encode_pixels_refuses_bad_tables_naming_them(image, tables, match):
    from tfjpeg.errors import InvalidArgumentError

    for encoder in ("libjpeg", "mozjpeg"):
        with pytest.raises(InvalidArgumentError, match=match) as err:
            encode_pixels(image, 50, encoder=encoder, tables=tables)
        assert "tables" in str(err.value)
