"""tfjpeg.io.markers: the validating header parser, and what makes a JPEG invalid or unsupported."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import numpy as np
import pytest
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
from tfjpeg.io.markers import libjpeg_color_space
from tfjpeg.jpeg.tables import ZIGZAG, quality_to_tables


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


def _with_size(data: bytes, height: int, width: int) -> bytes:
    sof = next(off for code, off, _ in segments(data) if code in (0xC0, 0xC1, 0xC2))
    return data[: sof + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[sof + 9 :]


@pytest.mark.parametrize("progressive", [False, True])
def test_tiny_file_claiming_a_large_image_is_refused_as_truncated_before_decoding(
    image, progressive
):
    # A few hundred bytes whose frame header claims 9999x9999 (under the 100 MP default): libjpeg
    # would zero-fill ~2.3 million blocks (seconds, 300 MB of pixels) and only warn.
    data = _with_size(encode_pixels(image[:8, :8], 75, progressive=progressive), 9999, 9999)
    blocks = 1250 * 1250 + 2 * 625 * 625  # 4:2:0: one luma block per 8x8, chroma per 16x16
    for reader in (read_jpeg, decode_pixels, parse_jpeg_header):
        with pytest.raises(InvalidJpegError, match="truncated") as err:
            reader(data)
        assert f"fewer than the {-(-blocks // 8)} its {blocks} blocks need" in str(err.value)


@pytest.mark.parametrize("subsampling", [0, 2])
def test_minimum_scan_data_is_met_exactly_by_the_tightest_valid_files(subsampling):
    # A mid-grey image at quality 1, progressive with optimized tables: every DC difference is 0
    # and its code one bit, so the first (DC) scan holds exactly one bit per block coded: the
    # bound's minimum (plus the MCU padding blocks of the interleaved 4:2:0 scan).
    buf = io.BytesIO()
    Image.new("RGB", (200, 120), (128, 128, 128)).save(
        buf, "JPEG", quality=1, progressive=True, optimize=True, subsampling=subsampling
    )
    data = buf.getvalue()
    header = parse_jpeg_header(data)
    comps = header.components
    hmax, vmax = max(c.h for c in comps), max(c.v for c in comps)
    blocks = sum(markers_module.component_blocks(120, 200, c.h, c.v, hmax, vmax) for c in comps)
    mcus = -(-120 // (8 * vmax)) * -(-200 // (8 * hmax))
    coded = mcus * sum(c.h * c.v for c in comps)
    dc_scan = scan_start(data)
    dc_bytes = re.compile(rb"\xff[^\x00]").search(data, dc_scan).start() - dc_scan
    assert dc_bytes == -(-coded // 8)
    assert dc_bytes >= markers_module.min_scan_bytes(blocks, True) >= dc_bytes - 10


@pytest.mark.parametrize("size", [(1, 1), (1, 17), (17, 1), (9, 15), (33, 31)])
def test_valid_odd_sized_files_pass_the_minimum_scan_data_check(size, tmp_path):
    arr = np.full((*size, 3), 128, np.uint8)
    files = [
        encode_pixels(arr, q, subsampling=sub, progressive=p, encoder=enc)
        for q in (1, 100)
        for sub in ("444", "420")
        for p in (False, True)
        for enc in ("libjpeg", "mozjpeg")
    ]
    if shutil.which("cjpeg"):
        files.append(_cjpeg(tmp_path, arr, "-restart", "1B", "-progressive", "-sample", "4x1"))
    for data in files:
        header = parse_jpeg_header(data)
        assert (header.height, header.width) == size


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


@pytest.mark.parametrize(
    ("ids", "jfif", "adobe", "expected"),
    [
        ((1,), False, None, "gray"),
        ((82,), False, 0, "gray"),  # one component is gray whatever the markers say
        ((1, 2, 3), True, None, "ycbcr"),
        ((82, 71, 66), True, None, "ycbcr"),  # JFIF wins over the ids
        ((82, 71, 66), True, 0, "ycbcr"),  # ... and over an Adobe segment
        ((1, 2, 3), False, 0, "rgb"),  # Adobe transform 0 wins over the ids
        ((82, 71, 66), False, 1, "ycbcr"),  # Adobe transform 1 = YCbCr
        ((82, 71, 66), False, 7, "ycbcr"),  # unknown transform: libjpeg warns, assumes YCbCr
        ((1, 2, 3), False, None, "ycbcr"),
        ((82, 71, 66), False, None, "rgb"),  # 'R', 'G', 'B'
        ((0, 1, 2), False, None, "ycbcr"),  # anything else: libjpeg assumes YCbCr
    ],
)
def test_libjpeg_color_space_follows_default_decompress_parms(ids, jfif, adobe, expected):
    assert libjpeg_color_space(ids, jfif=jfif, adobe_transform=adobe) == expected


def test_rgb_coded_headers_are_reported_as_rgb(baseline):
    # libjpeg's rules: an Adobe APP14 segment with transform 0, or (without JFIF/Adobe segments)
    # the component ids 'R', 'G', 'B', mean the three components are RGB, not YCbCr.
    _, jfif, length = segments(baseline)[0]
    without_jfif = baseline[:2] + baseline[jfif + 2 + length :]
    adobe_rgb = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"
    adobe_file = without_jfif[:2] + adobe_rgb + without_jfif[2:]
    ids_file = markers_module.renumber_components(without_jfif, (82, 71, 66))
    for data in (adobe_file, ids_file):
        assert parse_jpeg_header(data).color_space == "rgb"
        assert read_jpeg(data, allow_rgb=True).color_space == "rgb"
        with pytest.raises(UnsupportedJpegError, match="RGB-coded"):
            read_jpeg(data)
    # With JFIF, the ids 'R', 'G', 'B' do not matter; without any marker, 1, 2, 3 are YCbCr.
    renumbered = markers_module.renumber_components(baseline, (82, 71, 66))
    assert read_jpeg(renumbered).color_space == "ycbcr"
    assert parse_jpeg_header(without_jfif).color_space == "ycbcr"
    # An Adobe segment after the first scan does not count (libjpeg decides at the first SOS).
    eoi = len(baseline) - 2
    late = baseline[:eoi] + adobe_rgb + baseline[eoi:]
    assert parse_jpeg_header(late).color_space == "ycbcr"


def test_unknown_adobe_transform_raises_unsupported_jpeg_error(baseline):
    _, jfif, length = segments(baseline)[0]
    without_jfif = baseline[:2] + baseline[jfif + 2 + length :]
    adobe_7 = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x07"
    with pytest.raises(UnsupportedJpegError, match="Adobe colour transform code 7"):
        read_jpeg(without_jfif[:2] + adobe_7 + without_jfif[2:])


def _cjpeg(tmp_path, image, *args) -> bytes:
    if shutil.which("cjpeg") is None:
        pytest.skip("cjpeg is not installed")
    Image.fromarray(image).save(tmp_path / "in.ppm")
    out = tmp_path / "out.jpg"
    proc = subprocess.run(
        ["cjpeg", "-quality", "80", *args, "-outfile", str(out), str(tmp_path / "in.ppm")],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0 or not out.exists():
        pytest.skip(f"cjpeg {' '.join(args)} is not supported here: {proc.stderr[-200:]!r}")
    return out.read_bytes()


@pytest.mark.parametrize("progressive", [False, True])
def test_arithmetic_coded_jpegs_raise_unsupported_jpeg_error_even_when_cut_short(
    image, tmp_path, progressive
):
    data = _cjpeg(tmp_path, image, "-arithmetic", *(["-progressive"] if progressive else []))
    header = parse_jpeg_header(data, allow_arithmetic=True)  # inspection only
    assert header.arithmetic and header.sof_marker == (0xCA if progressive else 0xC9)
    # Cut inside the last scan and closed with EOI: libjpeg decodes this with zeros and no warning
    # (an arithmetic decoder must accept a marker anywhere), so it cannot be told from a valid
    # file; tfjpeg refuses arithmetic coding altogether.
    cut = data[: len(data) - 40] + b"\xff\xd9"
    assert parse_jpeg_header(cut, allow_arithmetic=True).end == len(cut)
    for bad in (data, cut):
        for reader in (read_jpeg, decode_pixels, parse_jpeg_header):
            with pytest.raises(UnsupportedJpegError, match="Arithmetic-coded"):
                reader(bad)
    # A Huffman file cut the same way is caught by the strict reader (libjpeg warns).
    huffman = _cjpeg(tmp_path, image)
    with pytest.raises(InvalidJpegError, match="premature end"):
        read_jpeg(huffman[: len(huffman) - 40] + b"\xff\xd9")
    # Without the EOI, even the inspecting parser sees the truncation.
    with pytest.raises(InvalidJpegError, match="truncated"):
        parse_jpeg_header(data[: len(data) - 40], allow_arithmetic=True)


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
