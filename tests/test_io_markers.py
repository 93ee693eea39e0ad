"""tfjpeg.io.markers: the validating header parser, and what makes a JPEG invalid or unsupported."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import natural_image
from jpeg_bytes import offset, patched, scan_start, segments
from PIL import Image

from tfjpeg.errors import (
    InvalidJpegError,
    UnsupportedJpegError,
)
from tfjpeg.io import (
    decode_pixels,
    encode_pixels,
    parse_jpeg_header,
    read_jpeg,
)
from tfjpeg.io import markers as markers_module
from tfjpeg.jpeg.tables import ZIGZAG, quality_to_tables


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return natural_image(37, 53, seed=3)  # odd size: partial blocks and partial MCUs


@pytest.fixture(scope="module")
def baseline(image) -> bytes:
    return encode_pixels(image, 75)


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
        "in_dqt": offset(baseline, 0xDB) + 10,
        "in_length": offset(baseline, 0xDB) + 3,
        "in_scan": (scan_start(baseline) + len(baseline)) // 2,
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


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: patched(d, offset(d, 0xDB) + 3, 1), "length 1"),
        (lambda d: d[:2] + b"\xff\xd8" + d[2:], "second SOI"),
        (lambda d: d[:2] + b"\xff\x02\x00\x04ab" + d[2:], "unknown or reserved marker"),
        (lambda d: d[:2] + b"\x00\x00" + d[2:], "expected a marker"),
        (lambda d: patched(d, offset(d, 0xDB) + 4, 0x07), "table 7"),
        (lambda d: patched(d, offset(d, 0xDB) + 5, 0), "contains a zero"),
        (lambda d: patched(d, offset(d, 0xC0) + 11, 0x55), "sampling factors 5x5"),
        (lambda d: patched(d, offset(d, 0xDA) + 5, 9), "unknown component 9"),
        (lambda d: patched(d, offset(d, 0xDA) + 12, 0x01), "sequential scan with progress"),
        (lambda d: patched(d, offset(d, 0xC0) + 12, 3), "quantization table 3, which is not"),
    ],
)
def test_malformed_segments_raise_invalid_jpeg_error_naming_the_problem(baseline, mutate, message):
    with pytest.raises(InvalidJpegError, match=message):
        read_jpeg(mutate(baseline))


def test_12_bit_jpeg_raises_unsupported_jpeg_error(baseline):
    data = patched(baseline, offset(baseline, 0xC0) + 4, 12)
    with pytest.raises(UnsupportedJpegError, match="12-bit"):
        read_jpeg(data)
    with pytest.raises(UnsupportedJpegError, match="12-bit"):
        decode_pixels(data)


@pytest.mark.parametrize(
    ("sof", "message"), [(0xC3, "Lossless"), (0xC5, "Hierarchical"), (0xCB, "Lossless arithmetic")]
)
def test_lossless_and_hierarchical_jpegs_raise_unsupported_jpeg_error(baseline, sof, message):
    with pytest.raises(UnsupportedJpegError, match=message):
        read_jpeg(patched(baseline, offset(baseline, 0xC0) + 1, sof))


def test_cmyk_and_ycck_jpegs_raise_unsupported_jpeg_error(image):
    buf = io.BytesIO()
    Image.fromarray(image).convert("CMYK").save(buf, "JPEG", quality=80)
    cmyk = buf.getvalue()
    with pytest.raises(UnsupportedJpegError, match=r"CMYK.*4 components"):
        read_jpeg(cmyk)
    ycck = patched(cmyk, offset(cmyk, 0xEE) + 4 + 11, 2)  # Adobe APP14 transform byte
    with pytest.raises(UnsupportedJpegError, match="YCCK"):
        read_jpeg(ycck)
    with pytest.raises(UnsupportedJpegError, match="YCCK"):
        decode_pixels(ycck)


def test_rgb_coded_jpeg_raises_unsupported_jpeg_error(baseline):
    # libjpeg's rules: an Adobe APP14 segment with transform 0, or (without JFIF/Adobe segments)
    # the component ids 'R', 'G', 'B', mean the three components are RGB, not YCbCr.
    _, jfif, length = segments(baseline)[0]
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


def test_marker_parser_zigzag_matches_the_tables_module():
    assert markers_module.ZIGZAG is ZIGZAG  # one zigzag order, kept in tfjpeg.jpeg.tables
    np.testing.assert_array_equal(markers_module.ZIGZAG, ZIGZAG)


def test_header_reports_geometry_tables_and_color_space(baseline):
    header = parse_jpeg_header(baseline)
    assert (header.width, header.height, header.num_pixels) == (53, 37, 1961)
    assert header.sampling == ((2, 2), (1, 1), (1, 1)) and header.color_space == "ycbcr"
    assert header.num_scans == 1 and not header.progressive and not header.arithmetic
    np.testing.assert_array_equal(header.tables[0], quality_to_tables(75)[0])
