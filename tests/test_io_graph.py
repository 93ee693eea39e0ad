"""In-graph coefficient reader: exact headers, libjpeg agreement, tf.function/SavedModel, errors."""

from __future__ import annotations

import io
from pathlib import Path

import jpeglib
import numpy as np
import pytest
import tensorflow as tf
from conftest import cjpeg_jpeg, natural_image, pillow_jpeg
from PIL import Image

from tfjpeg.errors import ImageTooLargeError, InvalidJpegError, UnsupportedJpegError
from tfjpeg.io.graph import _islow_idct, coefficients_from_jpeg_bytes

READER = tf.function(coefficients_from_jpeg_bytes, input_signature=[tf.TensorSpec([], tf.string)])


def read(data: bytes) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in READER(tf.constant(data)).items()}


def reference(data: bytes, tmp_path: Path) -> jpeglib.DCTJPEG:
    path = tmp_path / "ref.jpg"
    path.write_bytes(data)
    return jpeglib.read_dct(str(path))


def components(ref: jpeglib.DCTJPEG) -> list[np.ndarray]:
    return [ref.Y] if ref.Cb is None else [ref.Y, ref.Cb, ref.Cr]


def segment_offset(data: bytes, marker: int) -> int:
    """Byte offset of the first marker segment ``FF marker`` in the header."""
    pos = 2
    while data[pos + 1] != marker:
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return pos


@pytest.mark.parametrize("quality", [3, 25, 50, 90, 100])
def test_tables_match_jpeglib_exactly_for_several_qualities(quality, tmp_path):
    data = pillow_jpeg(natural_image(16, 24), quality)
    ref = reference(data, tmp_path)
    out = read(data)
    assert out["tables"].dtype == np.float32 and out["tables"].shape == (3, 8, 8)
    np.testing.assert_array_equal(out["tables"], ref.qt[ref.quant_tbl_no[:3]])


def test_sixteen_bit_tables_are_read_in_natural_order(tmp_path):
    luma = np.arange(64) * 7 + 250  # values up to 691 force a 16-bit DQT
    buf = io.BytesIO()
    Image.fromarray(natural_image(16, 24)).save(buf, "JPEG", qtables=[luma.tolist(), [40] * 64])
    data = buf.getvalue()
    dqt = segment_offset(data, 0xDB)
    assert data[dqt + 4] >> 4 == 1, "the crafted file must hold a 16-bit table"
    ref = reference(data, tmp_path)
    out = read(data)
    np.testing.assert_array_equal(out["tables"], ref.qt[ref.quant_tbl_no[:3]])
    assert out["tables"].max() == 691
    for ours, theirs in zip((out["y"], out["cb"], out["cr"]), components(ref), strict=True):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
    ("subsampling", "h_v"), [("444", (1, 1)), ("422", (2, 1)), ("420", (2, 2))]
)
def test_geometry_and_sampling_match_jpeglib_on_an_odd_size(subsampling, h_v, tmp_path):
    data = pillow_jpeg(natural_image(37, 53, seed=3), 75, subsampling)
    ref = reference(data, tmp_path)
    out = read(data)
    assert (out["height"], out["width"], out["num_components"]) == (37, 53, 3)
    np.testing.assert_array_equal(out["sampling"], [h_v, (1, 1), (1, 1)])
    np.testing.assert_array_equal(out["sampling"], np.asarray(ref.samp_factor)[:, ::-1])
    for ours, theirs in zip((out["y"], out["cb"], out["cr"]), components(ref), strict=True):
        assert ours.shape == theirs.shape and ours.dtype == np.int32
        assert np.mean(ours == theirs) >= 0.995


@pytest.mark.parametrize("subsampling", ["420", "422", "444"])
def test_one_pixel_images_are_read_exactly(subsampling, tmp_path):
    for seed in (5, 6):
        data = pillow_jpeg(natural_image(1, 1, seed=seed), 75, subsampling)
        out = read(data)
        assert (out["height"], out["width"]) == (1, 1)
        for ours, theirs in zip(
            (out["y"], out["cb"], out["cr"]), components(reference(data, tmp_path)), strict=True
        ):
            np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(("height", "width"), [(9, 1), (17, 2), (2, 17)])
def test_thin_images_differ_from_jpeglib_only_in_partial_edge_blocks(height, width, tmp_path):
    # Known limitation: an edge block that holds only a few real samples is underdetermined by
    # the decoded samples, and the reader's search does not always find the file's block there.
    # Every block that lies wholly inside the component must still be exact.
    data = pillow_jpeg(natural_image(height, width, seed=5), 75, "420")
    ref = reference(data, tmp_path)
    out = read(data)
    assert (out["height"], out["width"]) == (height, width)
    np.testing.assert_array_equal(out["tables"], ref.qt[ref.quant_tbl_no[:3]])
    for c, (ours, theirs) in enumerate(
        zip((out["y"], out["cb"], out["cr"]), components(ref), strict=True)
    ):
        assert ours.shape == theirs.shape
        comp_h, comp_w = (height, width) if c == 0 else (-(-height // 2), -(-width // 2))
        full_rows, full_cols = comp_h // 8, comp_w // 8
        np.testing.assert_array_equal(ours[:full_rows, :full_cols], theirs[:full_rows, :full_cols])
        assert np.mean(ours == theirs) >= 0.9


@pytest.mark.parametrize("h_v", [(4, 1), (1, 2)], ids=["411", "440"])
def test_sampling_factors_pillow_cannot_write_are_read_too(h_v, tmp_path):
    path = tmp_path / "odd.jpg"
    jpg = jpeglib.from_spatial(natural_image(48, 96, seed=4))
    jpg.samp_factor = np.array([h_v[::-1], (1, 1), (1, 1)])  # jpeglib stores (v, h)
    jpg.write_spatial(str(path), qt=70)
    data = path.read_bytes()
    ref = reference(data, tmp_path)
    out = read(data)
    np.testing.assert_array_equal(out["sampling"], [h_v, (1, 1), (1, 1)])
    for ours, theirs in zip((out["y"], out["cb"], out["cr"]), components(ref), strict=True):
        assert ours.shape == theirs.shape
        assert np.mean(ours == theirs) >= 0.995


def test_coefficients_agree_with_jpeglib_at_quality_50(image_64x96, tmp_path):
    data = pillow_jpeg(image_64x96, 50)
    ref = reference(data, tmp_path)
    out = read(data)
    for ours, theirs in zip((out["y"], out["cb"], out["cr"]), components(ref), strict=True):
        assert np.mean(ours == theirs) >= 0.995
    assert out["y"].shape == (8, 12, 8, 8) and out["cb"].shape == (4, 6, 8, 8)


def test_progressive_files_are_read_like_baseline_ones(image_64x96, tmp_path):
    buf = io.BytesIO()
    Image.fromarray(image_64x96).save(buf, "JPEG", quality=60, progressive=True)
    data = buf.getvalue()
    assert segment_offset(data, 0xC2) > 0
    ref = reference(data, tmp_path)
    out = read(data)
    for ours, theirs in zip((out["y"], out["cb"], out["cr"]), components(ref), strict=True):
        assert np.mean(ours == theirs) >= 0.995


def test_grayscale_files_have_empty_chroma_and_a_repeated_luma_table(tmp_path):
    data = pillow_jpeg(natural_image(21, 30, seed=1)[..., :1], 40)
    ref = reference(data, tmp_path)
    out = read(data)
    assert out["num_components"] == 1
    assert out["cb"].shape == (0, 0, 8, 8) and out["cr"].shape == (0, 0, 8, 8)
    np.testing.assert_array_equal(out["sampling"], [(1, 1), (0, 0), (0, 0)])
    np.testing.assert_array_equal(out["tables"], np.stack([ref.qt[0]] * 3))
    assert out["y"].shape == ref.Y.shape == (3, 4, 8, 8)
    assert np.mean(out["y"] == ref.Y) >= 0.995


def test_consistency_refinement_fixes_partial_and_clipped_blocks(tmp_path):
    image = natural_image(45, 61, seed=5).astype(np.int32)
    image[:12, :20] = 255  # a saturated patch: its blocks decode with clamped samples
    data = pillow_jpeg(image.astype(np.uint8), 50)
    ref = reference(data, tmp_path)
    plain = coefficients_from_jpeg_bytes(data, refine_iterations=0, search_sweeps=0)
    refined = coefficients_from_jpeg_bytes(data)

    def wrong(out):
        ours = [out[k].numpy() for k in ("y", "cb", "cr")]
        return sum(int(np.sum(o != r)) for o, r in zip(ours, components(ref), strict=True))

    wrong_plain, wrong_refined = wrong(plain), wrong(refined)
    assert wrong_plain > 0
    assert wrong_refined < wrong_plain / 2


def test_local_search_fixes_blocks_that_do_not_decode_exactly_at_quality_95(tmp_path):
    data = pillow_jpeg(natural_image(32, 48, seed=2), 95)
    ref = components(reference(data, tmp_path))

    def wrong(out):
        ours = [out[k].numpy() for k in ("y", "cb", "cr")]
        return sum(int(np.sum(o != r)) for o, r in zip(ours, ref, strict=True))

    without_search = wrong(coefficients_from_jpeg_bytes(data, search_sweeps=0))
    with_search = wrong(coefficients_from_jpeg_bytes(data))
    assert with_search < without_search


def test_extra_bytes_and_foreign_app_segments_are_handled_like_libjpeg(image_64x96):
    data = pillow_jpeg(image_64x96, 50)
    adobe_ycc = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x01"  # transform 1 = YCbCr
    exif = b"\xff\xe1\x00\x0aExif\x00\x00MM"
    dqt = segment_offset(data, 0xDB)
    dressed = data[:2] + adobe_ycc + exif + data[2:dqt] + b"\x00\x00" + data[dqt:]
    clean, odd = read(data), read(dressed)
    for key in clean:
        np.testing.assert_array_equal(odd[key], clean[key])


def test_exact_islow_idct_reproduces_libjpeg_samples_bit_for_bit(image_64x96, tmp_path):
    data = pillow_jpeg(image_64x96, 85, "444")
    ref = reference(data, tmp_path)
    pil = Image.open(io.BytesIO(data))
    pil.draft("YCbCr", pil.size)  # libjpeg output without colour conversion
    planes = np.asarray(pil.convert("YCbCr"))
    assert pil.mode == "YCbCr"
    for c, (coef, table) in enumerate(zip(components(ref), ref.qt[ref.quant_tbl_no], strict=True)):
        _, samples = _islow_idct(tf.constant(coef), tf.constant(table))
        plane = samples.numpy().transpose(0, 2, 1, 3).reshape(64, 96)
        np.testing.assert_array_equal(plane, planes[..., c])


def test_string_signature_gives_static_ranks_and_fixed_keys():
    fn = READER.get_concrete_function()
    out = fn.structured_outputs
    assert set(out) == {"y", "cb", "cr", "tables", "height", "width", "num_components", "sampling"}
    assert out["y"].shape.rank == 4 and out["y"].dtype == tf.int32
    assert out["tables"].shape == (3, 8, 8) and out["sampling"].shape == (3, 2)
    assert out["height"].shape.rank == 0 and out["num_components"].dtype == tf.int32


def test_saved_model_round_trip_reads_the_same_coefficients(image_64x96, tmp_path):
    module = tf.Module()
    module.read = tf.function(
        lambda jpeg: coefficients_from_jpeg_bytes(jpeg),
        input_signature=[tf.TensorSpec([], tf.string, name="jpeg")],
    )
    export = str(tmp_path / "reader" / "1")
    tf.saved_model.save(module, export, signatures={"serving_default": module.read})
    loaded = tf.saved_model.load(export)
    data = pillow_jpeg(image_64x96, 50)
    served = loaded.signatures["serving_default"](jpeg=tf.constant(data))
    direct = read(data)
    assert set(served) == set(direct)
    for key, value in direct.items():
        np.testing.assert_array_equal(served[key].numpy(), value)


def test_non_jpeg_bytes_raise_invalid_argument_naming_the_problem():
    buf = io.BytesIO()
    Image.fromarray(natural_image(8, 8)).save(buf, "PNG")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Not a JPEG"):
        read(buf.getvalue())
    with pytest.raises(tf.errors.InvalidArgumentError, match="Not a JPEG"):
        read(b"")


def test_bytes_truncated_in_the_header_raise_naming_truncation():
    data = pillow_jpeg(natural_image(16, 16), 50)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"Truncated JPEG.* before the first SOS"
    ):
        read(data[: segment_offset(data, 0xC4) + 10])


def test_bytes_truncated_in_the_scan_raise_naming_the_missing_eoi():
    data = pillow_jpeg(natural_image(32, 32), 50)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Truncated JPEG: no EOI"):
        read(data[: len(data) - 40])


def test_twelve_bit_precision_is_reported_as_unsupported():
    data = bytearray(pillow_jpeg(natural_image(16, 16), 50))
    data[segment_offset(data, 0xC0) + 4] = 12
    with pytest.raises(tf.errors.InvalidArgumentError, match="12-bit"):
        read(bytes(data))


def test_arithmetic_coded_frames_are_reported_as_unsupported():
    data = bytearray(pillow_jpeg(natural_image(16, 16), 50))
    data[segment_offset(data, 0xC0) + 1] = 0xC9
    with pytest.raises(tf.errors.InvalidArgumentError, match="arithmetic-coded"):
        read(bytes(data))


def test_cmyk_files_are_reported_as_unsupported():
    buf = io.BytesIO()
    Image.new("CMYK", (16, 16), (10, 20, 30, 40)).save(buf, "JPEG")
    with pytest.raises(tf.errors.InvalidArgumentError, match="number of components is not 1 or 3"):
        read(buf.getvalue())


def test_max_pixels_guards_against_large_images():
    data = pillow_jpeg(natural_image(16, 24), 50)
    guarded = tf.function(lambda b: coefficients_from_jpeg_bytes(b, max_pixels=16 * 24 - 1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Image too large"):
        guarded(tf.constant(data))
    with pytest.raises(ImageTooLargeError, match="Image too large"):
        coefficients_from_jpeg_bytes(data, max_pixels=16 * 24 - 1)


def test_eager_calls_raise_tfjpeg_errors_instead_of_tf_errors():
    with pytest.raises(InvalidJpegError, match="Not a JPEG"):
        coefficients_from_jpeg_bytes(b"GIF89a not a jpeg")
    data = bytearray(pillow_jpeg(natural_image(16, 16), 50))
    data[segment_offset(data, 0xC0) + 4] = 12
    with pytest.raises(UnsupportedJpegError, match="12-bit"):
        coefficients_from_jpeg_bytes(bytes(data))


def test_bad_arguments_raise_value_error_naming_them():
    with pytest.raises(ValueError, match="refine_iterations=-1"):
        coefficients_from_jpeg_bytes(b"", refine_iterations=-1)
    with pytest.raises(ValueError, match=r"search_sweeps=2\.5"):
        coefficients_from_jpeg_bytes(b"", search_sweeps=2.5)
    with pytest.raises(ValueError, match=r"scalar tf\.string"):
        coefficients_from_jpeg_bytes(tf.constant([b"a", b"b"]))


def test_each_component_gets_the_table_its_frame_header_names(tmp_path):
    # cjpeg -qslots 0,1,2: Cr has its own table, which the reader must not replace by Cb's.
    tables = [np.arange(64).reshape(8, 8) % 13 + 5 + 7 * k for k in range(3)]
    data = cjpeg_jpeg(natural_image(32, 48, seed=2), "-qslots", "0,1,2", tables=tables)
    ref = reference(data, tmp_path)
    assert len(set(ref.quant_tbl_no)) == 3
    out = read(data)
    np.testing.assert_array_equal(out["tables"], np.stack(tables))
    for ours, theirs in zip((out["y"], out["cb"], out["cr"]), components(ref), strict=True):
        np.testing.assert_array_equal(ours, theirs)
