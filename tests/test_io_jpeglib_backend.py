"""tfjpeg.io.jpeglib_backend: coefficients read and written by libjpeg, exactly and safely."""

from __future__ import annotations

import dataclasses
import errno
import io
import os
import shutil
import subprocess
import tempfile

import jpeglib
import numpy as np
import pytest
from conftest import jpeglib_coefficients, natural_image
from jpeg_bytes import jpeglib_write, offset, patched, same_coefficients, scan_start, segments
from PIL import Image

from tfjpeg.errors import (
    InvalidArgumentError,
    InvalidJpegError,
    TfjpegError,
    TfjpegIOError,
    UnsupportedJpegError,
)
from tfjpeg.io import (
    decode_pixels,
    encode_coefficients,
    encode_pixels,
    parse_jpeg_header,
    read_jpeg,
)
from tfjpeg.io import jpeglib_backend as backend_module
from tfjpeg.jpeg.tables import quality_to_tables


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


def test_progressive_and_baseline_files_of_the_same_image_have_identical_coefficients(image):
    base = read_jpeg(encode_pixels(image, 70, subsampling="422"))
    prog_data = encode_pixels(image, 70, subsampling="422", progressive=True)
    assert parse_jpeg_header(prog_data).num_scans > 1
    prog = read_jpeg(prog_data)
    assert prog.progressive and not base.progressive
    assert same_coefficients(base, prog)


def test_arithmetic_coded_files_are_refused_by_the_readers(image, tmp_path):
    base = read_jpeg(encode_pixels(image, 75))
    with jpeglib.version("turbo210"):
        jpeg = jpeglib.from_dct(*base.components, qt=base.tables, quant_tbl_no=np.int16([0, 1, 1]))
        jpeg.height, jpeg.width = base.height, base.width
        jpeg.samp_factor = np.array([[v, h] for h, v in base.sampling], dtype=np.int32)
        jpeg.write_dct(str(tmp_path / "arith.jpg"), flags=["+ARITH_CODE"])
    arith = (tmp_path / "arith.jpg").read_bytes()
    assert parse_jpeg_header(arith, allow_arithmetic=True).sof_marker == 0xC9
    prog = jpeglib_write(image, tmp_path / "pa.jpg", flags=["+PROGRESSIVE_MODE", "+ARITH_CODE"])
    assert parse_jpeg_header(prog, allow_arithmetic=True).sof_marker == 0xCA
    for data in (arith, prog):
        with pytest.raises(UnsupportedJpegError, match="truncated arithmetic scan"):
            read_jpeg(data)
        with pytest.raises(UnsupportedJpegError, match="jpegtran"):
            decode_pixels(data)


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
    data = jpeglib_write(image, tmp_path / f"{name}.jpg", samp_factor=samp_factor)
    coeffs = read_jpeg(data)
    assert coeffs.sampling == sampling and coeffs.subsampling == name
    for c, (ours, theirs) in enumerate(
        zip(coeffs.components, jpeglib_coefficients(data, tmp_path), strict=True)
    ):
        np.testing.assert_array_equal(ours, theirs)
        assert ours.shape[:2] == coeffs.real_block_shape(c)
    rewritten = encode_coefficients(coeffs)
    assert same_coefficients(read_jpeg(rewritten), coeffs)
    np.testing.assert_array_equal(decode_pixels(rewritten), decode_pixels(data))


@pytest.mark.parametrize(("height", "width"), [(1, 1), (1, 17), (9, 1), (15, 33)])
def test_one_pixel_and_odd_sizes_are_supported(height, width):
    img = natural_image(height, width, seed=1)
    coeffs = read_jpeg(encode_pixels(img, 90))
    assert (coeffs.height, coeffs.width) == (height, width)
    assert coeffs.components[0].shape[:2] == (-(-height // 8), -(-width // 8))
    assert same_coefficients(read_jpeg(encode_coefficients(coeffs)), coeffs)
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
    assert all(same_coefficients(r, reads[0]) for r in reads)
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
    assert same_coefficients(read_jpeg(with_rst), read_jpeg(plain))
    # Motion-JPEG style: no DHT at all; sequential decoders fall back to the Annex K tables.
    no_dht = b"".join(
        plain[off : off + 2 + length] for code, off, length in segments(plain) if code != 0xC4
    )
    no_dht = plain[:2] + no_dht + plain[scan_start(plain) :]
    assert same_coefficients(read_jpeg(no_dht), read_jpeg(plain))


def test_trailing_bytes_after_eoi_are_ignored(baseline):
    assert same_coefficients(read_jpeg(baseline + b"junk after EOI"), read_jpeg(baseline))
    assert parse_jpeg_header(baseline + b"xx").end == len(baseline)


def test_corrupted_scan_data_raises_invalid_jpeg_error(baseline):
    start = scan_start(baseline)
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


def test_libjpeg_errors_become_invalid_jpeg_errors_instead_of_exiting(baseline, monkeypatch):
    # Bypass the validator so that libjpeg itself meets a 12-bit frame: jpeglib's error handler
    # throws instead of calling exit(), and the message libjpeg printed ends up in the exception.
    valid_header = parse_jpeg_header(baseline)
    monkeypatch.setattr(backend_module, "parse_jpeg_header", lambda data, **kw: valid_header)
    with pytest.raises(InvalidJpegError, match=r"libjpeg could not read.*precision 12"):
        read_jpeg(patched(baseline, offset(baseline, 0xC0) + 4, 12))


def test_stderr_lines_that_are_not_libjpeg_messages_are_passed_through(capfd):
    with backend_module._jpeglib_session("turbo210") as diagnostics:
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
            assert same_coefficients(again, coeffs)
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
    assert again.tables[0, 7, 7] == 300 and same_coefficients(again, wide)


def test_handmade_coefficients_with_any_table_assignment_round_trip(baseline):
    coeffs = read_jpeg(baseline)
    luma, chroma = coeffs.tables
    for tables, index in [
        (np.stack([chroma, luma]), (1, 0, 0)),  # tables listed out of order of use
        (np.stack([luma, chroma]), (0, 0, 1)),
        (np.stack([luma, chroma, luma + 1]), (0, 1, 2)),
    ]:
        handmade = dataclasses.replace(coeffs, tables=tables, table_index=index)
        assert same_coefficients(read_jpeg(encode_coefficients(handmade)), handmade)


def test_encode_coefficients_rejects_out_of_range_coefficients(baseline):
    coeffs = read_jpeg(baseline)
    luma = coeffs.components[0].copy()
    luma[0, 0, 3, 4] = 1024
    with pytest.raises(ValueError, match="AC in"):
        encode_coefficients(dataclasses.replace(coeffs, components=(luma, *coeffs.components[1:])))
    with pytest.raises(TypeError):
        encode_coefficients(coeffs.components)


def test_concurrent_reads_from_threads_give_the_same_coefficients(baseline, image):
    from concurrent.futures import ThreadPoolExecutor

    sources = [baseline, encode_pixels(image, 40, progressive=True)] * 6
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(read_jpeg, sources))
    first = [read_jpeg(baseline), read_jpeg(sources[1])]
    assert all(same_coefficients(r, first[i % 2]) for i, r in enumerate(results))


def test_rgb_coded_files_read_as_rgb_and_write_back_as_rgb(image, tmp_path):
    if shutil.which("cjpeg") is None or shutil.which("djpeg") is None:
        pytest.skip("cjpeg/djpeg are not installed")
    Image.fromarray(image).save(tmp_path / "in.ppm")
    out, ppm = str(tmp_path / "rgb.jpg"), str(tmp_path / "in.ppm")
    subprocess.run(["cjpeg", "-rgb", "-quality", "90", "-outfile", out, ppm], check=True)
    data = (tmp_path / "rgb.jpg").read_bytes()
    # Refused by default: code that takes coefficients assumes YCbCr.
    with pytest.raises(UnsupportedJpegError, match=r"RGB-coded.*allow_rgb=True"):
        read_jpeg(data)
    coeffs = read_jpeg(data, allow_rgb=True)
    assert coeffs.color_space == "rgb" and coeffs.subsampling == "444"
    assert read_jpeg(encode_pixels(image, 90)).color_space == "ycbcr"
    assert read_jpeg(encode_pixels(image[..., 0], 90)).color_space == "gray"
    # Written back: still RGB-coded (Adobe transform 0, no JFIF, ids R G B), same coefficients,
    # and libjpeg (djpeg) decodes both files to the same pixels.
    again = encode_coefficients(coeffs)
    header = parse_jpeg_header(again)
    assert header.color_space == "rgb" and not header.jfif and header.adobe_transform == 0
    assert [c.component_id for c in header.components] == [82, 71, 66]
    assert same_coefficients(read_jpeg(again, allow_rgb=True), coeffs)
    assert read_jpeg(again, allow_rgb=True).color_space == "rgb"
    (tmp_path / "again.jpg").write_bytes(again)

    def djpeg(path):
        out = subprocess.run(["djpeg", "-pnm", str(path)], capture_output=True, check=True)
        return np.asarray(Image.open(io.BytesIO(out.stdout)))

    np.testing.assert_array_equal(djpeg(tmp_path / "again.jpg"), djpeg(tmp_path / "rgb.jpg"))
    # Marking plain YCbCr coefficients as RGB (or gray ones as anything else) is refused.
    with pytest.raises(InvalidArgumentError, match="color_space"):
        dataclasses.replace(coeffs, color_space="cmyk")
    gray = read_jpeg(encode_pixels(image[..., 0], 90))
    with pytest.raises(InvalidArgumentError, match="color_space"):
        dataclasses.replace(gray, color_space="rgb")


def test_a_full_temporary_folder_raises_tfjpeg_io_error_naming_the_cause(baseline, monkeypatch):
    coeffs = read_jpeg(baseline)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkdtemp", no_space)
    for call in (lambda: read_jpeg(baseline), lambda: encode_coefficients(coeffs)):
        with pytest.raises(TfjpegIOError, match="No space left on device") as info:
            call()
        assert info.value.errno == errno.ENOSPC
        assert isinstance(info.value, OSError) and isinstance(info.value, TfjpegError)
        assert "TMPDIR" in str(info.value)
    with pytest.raises(TfjpegIOError, match="mozjpeg"):
        encode_pixels(np.zeros((8, 8, 3), np.uint8), 75, encoder="mozjpeg")


def test_a_full_temporary_file_for_stderr_raises_tfjpeg_io_error(baseline, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_space)
    with pytest.raises(TfjpegIOError, match=r"No space left on device.*TMPDIR"):
        read_jpeg(baseline)
