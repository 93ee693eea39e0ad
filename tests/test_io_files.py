"""tfjpeg.io.files and tfjpeg.io.markers: real JPEG files in and out, and how they can be bad."""

from __future__ import annotations

import dataclasses
import io
import os
import stat
from pathlib import Path

import jpeglib
import numpy as np
import pytest
from conftest import jpeglib_coefficients, natural_image
from PIL import Image

from tfjpeg.errors import (
    ImageTooLargeError,
    InvalidImageError,
    InvalidJpegError,
    TfjpegError,
    UnsupportedJpegError,
)
from tfjpeg.io import (
    JpegCoefficients,
    decode_pixels,
    encode_coefficients,
    encode_pixels,
    parse_jpeg_header,
    read_jpeg,
    resolve_max_pixels,
    save_bytes_atomic,
)
from tfjpeg.io import files as files_module
from tfjpeg.io import markers as markers_module
from tfjpeg.jpeg.tables import ZIGZAG, quality_to_tables


# ----------------------------------------------------------------------------------------- helpers
def _segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker code, offset of the FF, segment length) of every header segment up to the 1st SOS."""
    out, pos = [], 2
    while True:
        code = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        out.append((code, pos, length))
        if code == 0xDA:
            return out
        pos += 2 + length


def _offset(data: bytes, code: int) -> int:
    return next(off for c, off, _ in _segments(data) if c == code)


def _patched(data: bytes, offset: int, value: int) -> bytes:
    out = bytearray(data)
    out[offset] = value
    return bytes(out)


def _scan_start(data: bytes) -> int:
    _, off, length = _segments(data)[-1]
    return off + 2 + length


def _same_coefficients(a: JpegCoefficients, b: JpegCoefficients) -> bool:
    return (
        len(a.components) == len(b.components)
        and all(np.array_equal(x, y) for x, y in zip(a.components, b.components, strict=True))
        and np.array_equal(a.component_tables, b.component_tables)
        and (a.sampling, a.height, a.width) == (b.sampling, b.height, b.width)
    )


def _jpeglib_write(image: np.ndarray, path: Path, samp_factor=None, flags=()) -> bytes:
    """Encode with jpeglib's libjpeg-turbo 2.1 (used for samplings and codings Pillow lacks)."""
    with jpeglib.version("turbo210"):
        jpeg = jpeglib.from_spatial(np.ascontiguousarray(image))
        if samp_factor is not None:
            jpeg.samp_factor = np.array(samp_factor, dtype=np.int32)
        jpeg.write_spatial(str(path), qt=75, flags=list(flags))
    return path.read_bytes()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return natural_image(37, 53, seed=3)  # odd size: partial blocks and partial MCUs


@pytest.fixture(scope="module")
def baseline(image) -> bytes:
    return encode_pixels(image, 75)


# ------------------------------------------------------------------------------------------ reading
@pytest.mark.parametrize("subsampling", ["420", "422", "444"])
def test_read_jpeg_coefficients_equal_jpeglib_for_each_subsampling(image, tmp_path, subsampling):
    data = encode_pixels(image, 80, subsampling=subsampling)
    coeffs = read_jpeg(data)
    reference = jpeglib_coefficients(data, tmp_path)
    assert coeffs.num_components == 3 and coeffs.subsampling == subsampling
    for ours, theirs in zip(coeffs.components, reference, strict=True):
        assert ours.dtype == np.int16
        np.testing.assert_array_equal(ours, theirs)
    assert (coeffs.height, coeffs.width) == (37, 53)


@pytest.mark.parametrize("quality", [1, 10, 50, 75, 95, 100])
def test_tables_equal_ijg_quality_tables_for_pillow_encodes(image, quality):
    coeffs = read_jpeg(encode_pixels(image, quality))
    assert coeffs.tables.dtype == np.uint16 and coeffs.tables.shape == (2, 8, 8)
    np.testing.assert_array_equal(coeffs.tables, quality_to_tables(quality))
    assert coeffs.table_index == (0, 1, 1)
    np.testing.assert_array_equal(coeffs.component_tables[2], quality_to_tables(quality)[1])


def test_components_hold_real_blocks_without_mcu_padding(tmp_path):
    data = encode_pixels(natural_image(100, 100), 75, subsampling="420")
    coeffs = read_jpeg(data)
    # 100 px = 12.5 blocks: 13 real Y blocks per side, but MCUs of 16 px pad Y to 14.
    assert coeffs.components[0].shape == (13, 13, 8, 8)
    assert coeffs.components[1].shape == coeffs.components[2].shape == (7, 7, 8, 8)
    assert coeffs.real_block_shape(0) == (13, 13) and coeffs.padded_block_shape(0) == (14, 14)
    assert coeffs.real_block_shape(1) == coeffs.padded_block_shape(1) == (7, 7)
    assert [c.shape for c in jpeglib_coefficients(data, tmp_path)] == [
        c.shape for c in coeffs.components
    ]


def test_progressive_and_baseline_files_of_the_same_image_have_identical_coefficients(image):
    base = read_jpeg(encode_pixels(image, 70, subsampling="422"))
    prog_data = encode_pixels(image, 70, subsampling="422", progressive=True)
    assert parse_jpeg_header(prog_data).num_scans > 1
    prog = read_jpeg(prog_data)
    assert prog.progressive and not base.progressive
    assert _same_coefficients(base, prog)


def test_arithmetic_coded_files_read_the_same_coefficients_as_huffman_files(image, tmp_path):
    base = read_jpeg(encode_pixels(image, 75))
    with jpeglib.version("turbo210"):
        jpeg = jpeglib.from_dct(*base.components, qt=base.tables, quant_tbl_no=np.int16([0, 1, 1]))
        jpeg.height, jpeg.width = base.height, base.width
        jpeg.samp_factor = np.array([[v, h] for h, v in base.sampling], dtype=np.int32)
        jpeg.write_dct(str(tmp_path / "arith.jpg"), flags=["+ARITH_CODE"])
    arith = (tmp_path / "arith.jpg").read_bytes()
    assert parse_jpeg_header(arith).sof_marker == 0xC9
    assert _same_coefficients(read_jpeg(arith), base)
    np.testing.assert_array_equal(decode_pixels(arith), decode_pixels(encode_coefficients(base)))
    # Progressive arithmetic (SOF10) against a sequential file from the same encoder.
    seq = _jpeglib_write(image, tmp_path / "seq.jpg", flags=["-PROGRESSIVE_MODE"])
    prog = _jpeglib_write(image, tmp_path / "pa.jpg", flags=["+PROGRESSIVE_MODE", "+ARITH_CODE"])
    assert parse_jpeg_header(prog).sof_marker == 0xCA
    assert _same_coefficients(read_jpeg(prog), read_jpeg(seq))


def test_grayscale_file_has_one_component_and_one_table(image, tmp_path):
    data = encode_pixels(image[..., 0], 60)
    coeffs = read_jpeg(data)
    assert coeffs.num_components == 1 and coeffs.subsampling == "gray"
    assert coeffs.tables.shape == (1, 8, 8) and coeffs.table_index == (0,)
    np.testing.assert_array_equal(coeffs.tables[0], quality_to_tables(60)[0])
    np.testing.assert_array_equal(coeffs.components[0], jpeglib_coefficients(data, tmp_path)[0])
    assert coeffs.components[0].shape == (5, 7, 8, 8)


@pytest.mark.parametrize(
    ("samp_factor", "sampling", "name"),
    [
        (((1, 4), (1, 1), (1, 1)), ((4, 1), (1, 1), (1, 1)), "411"),
        (((2, 1), (1, 1), (1, 1)), ((1, 2), (1, 1), (1, 1)), "440"),
    ],
)
def test_411_and_440_files_read_and_match(image, tmp_path, samp_factor, sampling, name):
    data = _jpeglib_write(image, tmp_path / f"{name}.jpg", samp_factor=samp_factor)
    coeffs = read_jpeg(data)
    assert coeffs.sampling == sampling and coeffs.subsampling == name
    for c, (ours, theirs) in enumerate(
        zip(coeffs.components, jpeglib_coefficients(data, tmp_path), strict=True)
    ):
        np.testing.assert_array_equal(ours, theirs)
        assert ours.shape[:2] == coeffs.real_block_shape(c)
    rewritten = encode_coefficients(coeffs)
    assert _same_coefficients(read_jpeg(rewritten), coeffs)
    np.testing.assert_array_equal(decode_pixels(rewritten), decode_pixels(data))


@pytest.mark.parametrize(("height", "width"), [(1, 1), (1, 17), (9, 1), (15, 33)])
def test_one_pixel_and_odd_sizes_are_supported(height, width):
    img = natural_image(height, width, seed=1)
    coeffs = read_jpeg(encode_pixels(img, 90))
    assert (coeffs.height, coeffs.width) == (height, width)
    assert coeffs.components[0].shape[:2] == (-(-height // 8), -(-width // 8))
    assert _same_coefficients(read_jpeg(encode_coefficients(coeffs)), coeffs)
    assert decode_pixels(encode_coefficients(coeffs)).shape == (height, width, 3)


def test_read_accepts_a_path_a_pathlike_and_bytes_alike(baseline, tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(baseline)
    reads = [
        read_jpeg(path),
        read_jpeg(str(path)),
        read_jpeg(baseline),
        read_jpeg(bytearray(baseline)),
    ]
    assert all(_same_coefficients(r, reads[0]) for r in reads)
    with pytest.raises(FileNotFoundError):
        read_jpeg(tmp_path / "missing.jpg")
    with pytest.raises(TypeError, match="source must be"):
        read_jpeg(12345)


def test_restart_markers_and_missing_huffman_tables_are_read_correctly(image):
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=75, restart_marker_blocks=2)
    with_rst = buf.getvalue()
    if parse_jpeg_header(with_rst).restart_interval == 0:
        pytest.skip("this Pillow cannot write restart markers")
    plain = encode_pixels(image, 75)
    assert _same_coefficients(read_jpeg(with_rst), read_jpeg(plain))
    # Motion-JPEG style: no DHT at all; sequential decoders fall back to the Annex K tables.
    no_dht = b"".join(
        plain[off : off + 2 + length] for code, off, length in _segments(plain) if code != 0xC4
    )
    no_dht = plain[:2] + no_dht + plain[_scan_start(plain) :]
    assert _same_coefficients(read_jpeg(no_dht), read_jpeg(plain))


def test_trailing_bytes_after_eoi_are_ignored(baseline):
    assert _same_coefficients(read_jpeg(baseline + b"junk after EOI"), read_jpeg(baseline))
    assert parse_jpeg_header(baseline + b"xx").end == len(baseline)


# -------------------------------------------------------------------------------------- bad inputs
def test_empty_data_raises_invalid_jpeg_error():
    with pytest.raises(InvalidJpegError, match="empty"):
        read_jpeg(b"")


def test_non_jpeg_data_raises_invalid_jpeg_error_naming_the_format(image, tmp_path):
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    path = tmp_path / "fake.jpg"
    path.write_bytes(buf.getvalue())
    with pytest.raises(InvalidJpegError, match=r"fake\.jpg: Not a JPEG.*PNG"):
        read_jpeg(path)
    with pytest.raises(InvalidJpegError, match="Not a JPEG"):
        decode_pixels(b"hello world")


@pytest.mark.parametrize("where", ["soi_only", "in_dqt", "in_length", "in_scan", "before_eoi"])
def test_truncated_file_raises_invalid_jpeg_error(baseline, where):
    cut = {
        "soi_only": 2,
        "in_dqt": _offset(baseline, 0xDB) + 10,
        "in_length": _offset(baseline, 0xDB) + 3,
        "in_scan": (_scan_start(baseline) + len(baseline)) // 2,
        "before_eoi": len(baseline) - 2,
    }[where]
    for reader in (read_jpeg, decode_pixels):
        with pytest.raises(InvalidJpegError, match="truncated"):
            reader(baseline[:cut])


def test_truncated_progressive_file_raises_invalid_jpeg_error(image):
    data = encode_pixels(image, 75, progressive=True)
    sos = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xDA]
    with pytest.raises(InvalidJpegError, match="truncated"):
        read_jpeg(data[: sos[-1]])  # cut cleanly between two scans
    with pytest.raises(InvalidJpegError, match="Incomplete progressive"):
        read_jpeg(data[: sos[-1]] + b"\xff\xd9")  # ... and EOI appended: refinement bits missing


def test_corrupted_scan_data_raises_invalid_jpeg_error(baseline):
    start = _scan_start(baseline)
    garbled = bytearray(baseline)
    garbled[start + 40 : start + 240] = b"\x55" * 200
    with pytest.raises(InvalidJpegError, match="Corrupt JPEG data"):
        read_jpeg(bytes(garbled))
    cut_middle = baseline[: start + 60] + baseline[start + 160 :]
    with pytest.raises(InvalidJpegError, match="premature end of data segment"):
        read_jpeg(cut_middle)


def test_fuzzed_files_raise_only_tfjpeg_errors_and_never_kill_the_process(baseline, image):
    rng = np.random.default_rng(2024)
    seeds = [baseline, encode_pixels(image[..., 0], 50, progressive=True)]
    outcomes = {"ok": 0, "error": 0}
    for i in range(120):
        data = bytearray(seeds[i % 2])
        for _ in range(1 + i % 3):
            data[rng.integers(2, len(data))] = rng.integers(0, 256)
        if i % 5 == 0:
            data = data[: rng.integers(2, len(data))]
        try:
            read_jpeg(bytes(data))
            outcomes["ok"] += 1
        except TfjpegError:
            outcomes["error"] += 1
    assert outcomes["error"] > 30 and outcomes["ok"] + outcomes["error"] == 120


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: _patched(d, _offset(d, 0xDB) + 3, 1), "length 1"),
        (lambda d: d[:2] + b"\xff\xd8" + d[2:], "second SOI"),
        (lambda d: d[:2] + b"\xff\x02\x00\x04ab" + d[2:], "unknown or reserved marker"),
        (lambda d: d[:2] + b"\x00\x00" + d[2:], "expected a marker"),
        (lambda d: _patched(d, _offset(d, 0xDB) + 4, 0x07), "table 7"),
        (lambda d: _patched(d, _offset(d, 0xDB) + 5, 0), "contains a zero"),
        (lambda d: _patched(d, _offset(d, 0xC0) + 11, 0x55), "sampling factors 5x5"),
        (lambda d: _patched(d, _offset(d, 0xDA) + 5, 9), "unknown component 9"),
        (lambda d: _patched(d, _offset(d, 0xDA) + 12, 0x01), "sequential scan with progress"),
        (lambda d: _patched(d, _offset(d, 0xC0) + 12, 3), "quantization table 3, which is not"),
    ],
)
def test_malformed_segments_raise_invalid_jpeg_error_naming_the_problem(baseline, mutate, message):
    with pytest.raises(InvalidJpegError, match=message):
        read_jpeg(mutate(baseline))


def test_12_bit_jpeg_raises_unsupported_jpeg_error(baseline):
    data = _patched(baseline, _offset(baseline, 0xC0) + 4, 12)
    with pytest.raises(UnsupportedJpegError, match="12-bit"):
        read_jpeg(data)
    with pytest.raises(UnsupportedJpegError, match="12-bit"):
        decode_pixels(data)


@pytest.mark.parametrize(
    ("sof", "message"), [(0xC3, "Lossless"), (0xC5, "Hierarchical"), (0xCB, "Lossless arithmetic")]
)
def test_lossless_and_hierarchical_jpegs_raise_unsupported_jpeg_error(baseline, sof, message):
    with pytest.raises(UnsupportedJpegError, match=message):
        read_jpeg(_patched(baseline, _offset(baseline, 0xC0) + 1, sof))


def test_cmyk_and_ycck_jpegs_raise_unsupported_jpeg_error(image):
    buf = io.BytesIO()
    Image.fromarray(image).convert("CMYK").save(buf, "JPEG", quality=80)
    cmyk = buf.getvalue()
    with pytest.raises(UnsupportedJpegError, match=r"CMYK.*4 components"):
        read_jpeg(cmyk)
    ycck = _patched(cmyk, _offset(cmyk, 0xEE) + 4 + 11, 2)  # Adobe APP14 transform byte
    with pytest.raises(UnsupportedJpegError, match="YCCK"):
        read_jpeg(ycck)
    with pytest.raises(UnsupportedJpegError, match="YCCK"):
        decode_pixels(ycck)


def test_rgb_coded_jpeg_raises_unsupported_jpeg_error(baseline):
    # libjpeg's rules: an Adobe APP14 segment with transform 0, or (without JFIF/Adobe segments)
    # the component ids 'R', 'G', 'B', mean the three components are RGB, not YCbCr.
    _, jfif, length = _segments(baseline)[0]
    without_jfif = baseline[:2] + baseline[jfif + 2 + length :]
    adobe_rgb = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"
    with pytest.raises(UnsupportedJpegError, match="RGB-coded"):
        read_jpeg(without_jfif[:2] + adobe_rgb + without_jfif[2:])
    with pytest.raises(UnsupportedJpegError, match="RGB-coded"):
        read_jpeg(markers_module.renumber_components(without_jfif, (82, 71, 66)))
    assert read_jpeg(markers_module.renumber_components(baseline, (82, 71, 66))).num_components == 3


def test_too_many_metadata_segments_raise_unsupported_jpeg_error(baseline):
    data = baseline[:2] + b"\xff\xfe\x00\x04hi" * 51 + baseline[2:]
    with pytest.raises(UnsupportedJpegError, match="more than 50"):
        read_jpeg(data)
    assert read_jpeg(baseline[:2] + b"\xff\xfe\x00\x04hi" * 49 + baseline[2:]).num_components == 3


def test_images_over_max_pixels_raise_image_too_large_before_decoding(baseline, monkeypatch):
    def must_not_decode(*args, **kwargs):
        raise AssertionError("libjpeg was called")

    monkeypatch.setattr(files_module, "_read_dct", must_not_decode)
    with pytest.raises(ImageTooLargeError, match="53x37 = 1,961 pixels"):
        read_jpeg(baseline, max_pixels=1960)
    monkeypatch.setenv("TFJPEG_MAX_PIXELS", "1000")
    with pytest.raises(ImageTooLargeError, match="limit of 1,000"):
        read_jpeg(baseline)
    with pytest.raises(ImageTooLargeError):
        decode_pixels(baseline)
    monkeypatch.delenv("TFJPEG_MAX_PIXELS")
    # A tiny file whose header claims 60000 x 60000 pixels (a decompression bomb).
    sof = _offset(baseline, 0xC0)
    bomb = bytearray(baseline)
    bomb[sof + 5 : sof + 9] = (60000).to_bytes(2, "big") * 2
    with pytest.raises(ImageTooLargeError, match="3,600,000,000 pixels"):
        read_jpeg(bytes(bomb))


def test_invalid_max_pixels_values_raise_value_error(baseline, monkeypatch):
    assert resolve_max_pixels() == 100_000_000
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ValueError, match="Received: max_pixels="):
            read_jpeg(baseline, max_pixels=bad)
    monkeypatch.setenv("TFJPEG_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="TFJPEG_MAX_PIXELS='lots'"):
        read_jpeg(baseline)
    monkeypatch.setenv("TFJPEG_MAX_PIXELS", "2_000")
    assert resolve_max_pixels() == 2000 and resolve_max_pixels(7) == 7


def test_libjpeg_errors_become_invalid_jpeg_errors_instead_of_exiting(baseline, monkeypatch):
    # Bypass the validator so that libjpeg itself meets a 12-bit frame: jpeglib's error handler
    # throws instead of calling exit(), and the message libjpeg printed ends up in the exception.
    valid_header = parse_jpeg_header(baseline)
    monkeypatch.setattr(files_module, "parse_jpeg_header", lambda data, **kw: valid_header)
    with pytest.raises(InvalidJpegError, match=r"libjpeg could not read.*precision 12"):
        read_jpeg(_patched(baseline, _offset(baseline, 0xC0) + 4, 12))


def test_stderr_lines_that_are_not_libjpeg_messages_are_passed_through(capfd):
    with files_module._jpeglib_session("turbo210") as diagnostics:
        os.write(2, b"Premature end of JPEG file\nsome other library says hello\n")
    assert diagnostics.problems == ["Premature end of JPEG file"]
    assert "some other library says hello" in capfd.readouterr().err


def test_jpeglib_version_is_restored_after_each_call(baseline, image):
    previous = jpeglib.version.get()
    try:
        jpeglib.version.set("9e")
        read_jpeg(baseline)
        encode_pixels(image, 50, encoder="mozjpeg")
        encode_coefficients(read_jpeg(baseline))
        assert jpeglib.version.get() == "9e"
    finally:
        jpeglib.version.set(previous)


# ------------------------------------------------------------------------------------------ writing
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
        assert data != plain and _same_coefficients(read_jpeg(data), read_jpeg(plain))


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
    assert _same_coefficients(seq, prog) and seq.subsampling == "444"
    assert not np.array_equal(seq.tables[0], quality_to_tables(75)[0])
    assert seq.tables.max() <= 255  # forced baseline tables
    assert decode_pixels(sequential).shape == image.shape
    assert read_jpeg(encode_pixels(image, 75, encoder="mozjpeg")).subsampling == "420"


def test_encode_coefficients_round_trip_is_exact(image):
    sources = [
        encode_pixels(image, 75),
        encode_pixels(image[..., 0], 30),
        encode_pixels(image, 95, subsampling="444", progressive=True),
        encode_pixels(image, 60, encoder="mozjpeg", progressive=True),
    ]
    for data in sources:
        coeffs = read_jpeg(data)
        for optimize in (False, True):
            again = read_jpeg(encode_coefficients(coeffs, optimize=optimize))
            assert _same_coefficients(again, coeffs)
            np.testing.assert_array_equal(again.tables, coeffs.tables)
            assert again.table_index == coeffs.table_index
        np.testing.assert_array_equal(
            decode_pixels(encode_coefficients(coeffs)), decode_pixels(data)
        )


def test_encode_coefficients_writes_a_standard_baseline_jfif_file(baseline):
    header = parse_jpeg_header(encode_coefficients(read_jpeg(baseline)))
    assert header.sof_marker == 0xC0 and header.jfif and header.color_space == "ycbcr"
    assert [c.component_id for c in header.components] == [1, 2, 3]


def test_encode_coefficients_with_16_bit_tables_writes_extended_sequential(baseline):
    coeffs = read_jpeg(baseline)
    tables = coeffs.tables.copy()
    tables[0, 7, 7] = 300
    wide = dataclasses.replace(coeffs, tables=tables)
    data = encode_coefficients(wide)
    assert parse_jpeg_header(data).sof_marker == 0xC1
    again = read_jpeg(data)
    assert again.tables[0, 7, 7] == 300 and _same_coefficients(again, wide)


def test_handmade_coefficients_with_any_table_assignment_round_trip(baseline):
    coeffs = read_jpeg(baseline)
    luma, chroma = coeffs.tables
    for tables, index in [
        (np.stack([chroma, luma]), (1, 0, 0)),  # tables listed out of order of use
        (np.stack([luma, chroma]), (0, 0, 1)),
        (np.stack([luma, chroma, luma + 1]), (0, 1, 2)),
    ]:
        handmade = dataclasses.replace(coeffs, tables=tables, table_index=index)
        assert _same_coefficients(read_jpeg(encode_coefficients(handmade)), handmade)


def test_encode_coefficients_rejects_out_of_range_coefficients(baseline):
    coeffs = read_jpeg(baseline)
    luma = coeffs.components[0].copy()
    luma[0, 0, 3, 4] = 1024
    with pytest.raises(ValueError, match="AC in"):
        encode_coefficients(dataclasses.replace(coeffs, components=(luma, *coeffs.components[1:])))
    with pytest.raises(TypeError):
        encode_coefficients(coeffs.components)


def test_coefficients_dataclass_validates_its_fields_and_is_frozen(baseline):
    coeffs = read_jpeg(baseline)
    with pytest.raises(dataclasses.FrozenInstanceError):
        coeffs.height = 10
    with pytest.raises(ValueError, match="must have"):
        dataclasses.replace(coeffs, height=64)  # blocks no longer match the size
    with pytest.raises(ValueError, match="1 \\(grayscale\\) or 3"):
        dataclasses.replace(coeffs, components=coeffs.components[:2])
    with pytest.raises(ValueError, match="at most 10 blocks"):
        dataclasses.replace(coeffs, sampling=((4, 4), (1, 1), (1, 1)))
    with pytest.raises(ValueError, match="table_index"):
        dataclasses.replace(coeffs, table_index=(0, 1, 2))
    with pytest.raises(ValueError, match="int16"):
        dataclasses.replace(
            coeffs, components=tuple(c.astype(np.float32) for c in coeffs.components)
        )
    widened = dataclasses.replace(
        coeffs, components=tuple(c.astype(np.int32) for c in coeffs.components)
    )
    assert widened.components[0].dtype == np.int16


# ----------------------------------------------------------------------------------------- decoding
def test_decode_pixels_matches_pillow_and_keeps_a_channel_axis(baseline, image, tmp_path):
    path = tmp_path / "in.jpg"
    path.write_bytes(baseline)
    pixels = decode_pixels(path)
    np.testing.assert_array_equal(pixels, np.asarray(Image.open(io.BytesIO(baseline))))
    assert pixels.dtype == np.uint8 and pixels.shape == image.shape
    assert np.abs(pixels.astype(int) - image).mean() < 12  # it is the same picture


# ------------------------------------------------------------------------------------ atomic saving
def test_save_bytes_atomic_writes_and_refuses_to_overwrite(tmp_path):
    dest = tmp_path / "out.jpg"
    assert save_bytes_atomic(dest, b"first") == dest and dest.read_bytes() == b"first"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_bytes_atomic(dest, b"second")
    assert dest.read_bytes() == b"first"
    save_bytes_atomic(dest, b"second", overwrite=True)
    assert dest.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg"]  # no temporary files left
    assert stat.S_IMODE(dest.stat().st_mode) == 0o666 & ~files_module._umask()
    with pytest.raises(TypeError):
        save_bytes_atomic(tmp_path / "x.jpg", "not bytes")


def test_save_bytes_atomic_never_writes_onto_the_source(tmp_path):
    source = tmp_path / "input.jpg"
    source.write_bytes(b"precious")
    os.symlink(source, tmp_path / "alias.jpg")
    os.link(source, tmp_path / "hardlink.jpg")
    for target in (source, tmp_path / "alias.jpg", tmp_path / "hardlink.jpg", str(source)):
        with pytest.raises(ValueError, match="input file"):
            save_bytes_atomic(target, b"edited", overwrite=True, source=source)
    assert source.read_bytes() == b"precious"
    save_bytes_atomic(tmp_path / "edited.jpg", b"edited", source=source)
    assert (tmp_path / "edited.jpg").read_bytes() == b"edited"


# ------------------------------------------------------------------------------------------ markers
def test_marker_parser_zigzag_matches_the_tables_module():
    np.testing.assert_array_equal(markers_module._ZIGZAG, ZIGZAG)


def test_header_reports_geometry_tables_and_color_space(baseline):
    header = parse_jpeg_header(baseline)
    assert (header.width, header.height, header.num_pixels) == (53, 37, 1961)
    assert header.sampling == ((2, 2), (1, 1), (1, 1)) and header.color_space == "ycbcr"
    assert header.num_scans == 1 and not header.progressive and not header.arithmetic
    np.testing.assert_array_equal(header.tables[0], quality_to_tables(75)[0])


def test_concurrent_reads_from_threads_give_the_same_coefficients(baseline, image):
    from concurrent.futures import ThreadPoolExecutor

    sources = [baseline, encode_pixels(image, 40, progressive=True)] * 6
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(read_jpeg, sources))
    first = [read_jpeg(baseline), read_jpeg(sources[1])]
    assert all(_same_coefficients(r, first[i % 2]) for i, r in enumerate(results))
