"""In-graph coefficient reader: exact headers, libjpeg agreement, tf.function/SavedModel, errors."""

from __future__ import annotations

import io
import re
from pathlib import Path

import jpeglib
import numpy as np
import pytest
import tensorflow as tf
from conftest import cjpeg_jpeg, natural_image, pillow_jpeg
from PIL import Image

from tfjpeg.errors import ImageTooLargeError, InvalidJpegError, TfjpegError, UnsupportedJpegError
from tfjpeg.io import read_jpeg
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


def sixteen_bit_dqt(data: bytes) -> bytes:
    """``data`` with its first DQT segment's tables rewritten with 16-bit precision."""
    pos = segment_offset(data, 0xDB)
    length = int.from_bytes(data[pos + 2 : pos + 4], "big")
    body, out, i = data[pos + 4 : pos + 2 + length], bytearray(), 0
    while i < len(body):
        assert body[i] >> 4 == 0
        out += bytes([0x10 | body[i]]) + b"".join(
            v.to_bytes(2, "big") for v in body[i + 1 : i + 65]
        )
        i += 65
    segment = b"\xff\xdb" + (len(out) + 2).to_bytes(2, "big") + bytes(out)
    return data[:pos] + segment + data[pos + 2 + length :]


def test_sixteen_bit_tables_are_refused_by_the_graph_reader_and_read_exactly_by_read_jpeg(tmp_path):
    # No standard encoder writes 16-bit entries that fit in 8 bits; contrived ones made the
    # graph reader inexact in the fuzz campaign (dqt16-extreme), so it refuses them.
    luma = np.arange(64) * 3 + 60  # distinct entries, so any order mix-up shows
    buf = io.BytesIO()
    Image.fromarray(natural_image(16, 24)).save(buf, "JPEG", qtables=[luma.tolist(), [40] * 64])
    data = sixteen_bit_dqt(buf.getvalue())
    assert data[segment_offset(data, 0xDB) + 4] >> 4 == 1, (
        "the crafted file must hold a 16-bit table"
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="16-bit entries that all fit"):
        read(data)
    ref = reference(data, tmp_path)
    ours = read_jpeg(data)
    np.testing.assert_array_equal(ours.component_tables, ref.qt[ref.quant_tbl_no[:3]])
    assert ours.component_tables.max() == 249
    for mine, theirs in zip(ours.components, components(ref), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_table_entries_above_255_are_refused_as_not_exactly_readable():
    # Entries above 255 (16-bit DQT) cannot be guaranteed exact from 8-bit decoded samples
    # (a fuzzing campaign found 18 % wrong coefficients): the graph reader refuses them.
    luma = np.arange(64) * 7 + 250  # values up to 691 force a 16-bit DQT
    buf = io.BytesIO()
    Image.fromarray(natural_image(16, 24)).save(buf, "JPEG", qtables=[luma.tolist(), [40] * 64])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"entry above 255 \(691\)"):
        read(buf.getvalue())
    with pytest.raises(UnsupportedJpegError, match="in-graph reader"):
        coefficients_from_jpeg_bytes(buf.getvalue())


def test_a_table_that_does_not_match_the_coefficients_is_refused_not_misread():
    # A bit flip in an 8-bit DQT entry (2 -> 130, as in the fuzz campaign's bitflip:54/83) leaves
    # a syntactically valid file whose blocks decode far out of range and clamp, so the decoded
    # samples no longer determine the coefficients: the graph reader must refuse it, not answer
    # with wrong coefficients, while read_jpeg still reads it exactly.
    data = pillow_jpeg(natural_image(16, 24), 90)
    entry = segment_offset(data, 0xDB) + 5 + 2  # luma table, zigzag position 2
    assert data[entry] == 2
    flipped = data[:entry] + bytes([data[entry] | 0x80]) + data[entry + 1 :]
    assert read_jpeg(flipped).tables[0].flat[8] == 130  # zigzag 2 = row 1, column 0
    np.testing.assert_array_equal(read(data)["y"], read_jpeg(data).components[0])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"cannot recover the coefficients"):
        read(flipped)
    with pytest.raises(UnsupportedJpegError, match=r"\d+ % of the Y blocks clamp.*read_jpeg"):
        coefficients_from_jpeg_bytes(flipped)


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


def test_fill_bytes_and_foreign_app_segments_are_handled_like_read_jpeg(image_64x96):
    data = pillow_jpeg(image_64x96, 50)
    adobe_ycc = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x01"  # transform 1 = YCbCr
    exif = b"\xff\xe1\x00\x0aExif\x00\x00MM"
    dqt = segment_offset(data, 0xDB)
    dressed = data[:2] + adobe_ycc + exif + data[2:dqt] + b"\xff\xff\xff" + data[dqt:]
    read_jpeg(dressed)  # fill bytes are fine for both readers
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
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"empty \(0 bytes\)"):
        read(b"")


def test_bytes_truncated_in_the_header_raise_naming_truncation():
    data = pillow_jpeg(natural_image(16, 16), 50)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"truncated: it ends inside the DHT"):
        read(data[: segment_offset(data, 0xC4) + 10])


def test_bytes_truncated_in_the_scan_raise_naming_the_missing_eoi():
    data = pillow_jpeg(natural_image(32, 32), 50)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="truncated: it ends inside the entropy"
    ):
        read(data[: len(data) - 40])


def test_twelve_bit_precision_is_reported_as_unsupported():
    data = bytearray(pillow_jpeg(natural_image(16, 16), 50))
    data[segment_offset(data, 0xC0) + 4] = 12
    with pytest.raises(tf.errors.InvalidArgumentError, match="12-bit"):
        read(bytes(data))


def test_arithmetic_coded_frames_are_reported_as_unsupported():
    data = bytearray(pillow_jpeg(natural_image(16, 16), 50))
    data[segment_offset(data, 0xC0) + 1] = 0xC9
    with pytest.raises(tf.errors.InvalidArgumentError, match="Arithmetic-coded JPEG"):
        read(bytes(data))


def test_cmyk_files_are_reported_as_unsupported():
    buf = io.BytesIO()
    Image.new("CMYK", (16, 16), (10, 20, 30, 40)).save(buf, "JPEG")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"CMYK.* 4 components"):
        read(buf.getvalue())


def test_max_pixels_guards_against_large_images():
    data = pillow_jpeg(natural_image(16, 24), 50)
    guarded = tf.function(lambda b: coefficients_from_jpeg_bytes(b, max_pixels=16 * 24 - 1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="more than the limit of 383"):
        guarded(tf.constant(data))
    with pytest.raises(ImageTooLargeError, match="more than the limit of 383"):
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


# ------------------------------------------------------------------------------ hostile files
# Each is refused by the graph reader (a tf.function and an exported decoder SavedModel) with the
# message read_jpeg gives, quickly (the bound is a generous sanity check; the speed figures are in
# benchmarks/graph_reader_hostile.py), and before anything image-sized is allocated.
HOSTILE_SECONDS = 5.0


def with_size(data: bytes, height: int, width: int) -> bytes:
    """A valid small file whose frame header announces ``height`` x ``width``."""
    out = bytearray(data)
    sof = segment_offset(data, 0xC0)
    out[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(out)


def gray_jpeg() -> bytes:
    return pillow_jpeg(natural_image(16, 16, seed=4)[..., :1], 50)


def scan_bomb(scans: int) -> bytes:
    """A valid progressive file followed by ``scans`` tiny repeated AC scans (before EOI)."""
    buf = io.BytesIO()
    Image.fromarray(natural_image(16, 16)[..., 0]).save(buf, "JPEG", progressive=True)
    data = buf.getvalue()
    assert data.endswith(b"\xff\xd9")
    dht = b"\xff\xc4\x00\x14\x10" + bytes([1] + [0] * 15) + b"\x00"  # AC table 0: one code
    scan = b"\xff\xda\x00\x08\x01\x01\x00\x01\x01\x00" + b"\x00"  # Y, Ss=Se=1, Ah=Al=0
    return data[:-2] + dht + scan * scans + b"\xff\xd9"


def rst_jpeg() -> bytes:
    return cjpeg_jpeg(natural_image(32, 32, seed=6), "-restart", "1B")


def swap_first_rst(data: bytes) -> bytes:
    first = data.index(b"\xff\xd0", segment_offset(data, 0xDA))
    return data[:first] + b"\xff\xd1" + data[first + 2 :]


def rgb_by_ids(data: bytes) -> bytes:
    """A Pillow JPEG without its JFIF segment and with component ids 'R', 'G', 'B'."""
    from tfjpeg.io.markers import renumber_components

    app0 = segment_offset(data, 0xE0)
    length = int.from_bytes(data[app0 + 2 : app0 + 4], "big")
    return renumber_components(data[:app0] + data[app0 + 2 + length :], (82, 71, 66))


def drop_last_scan(data: bytes) -> bytes:
    last = data.rindex(b"\xff\xda")
    return data[:last] + b"\xff\xd9"


def hostile_files() -> dict[str, bytes]:
    valid = pillow_jpeg(natural_image(16, 16, seed=2), 50)
    buf = io.BytesIO()
    Image.fromarray(natural_image(32, 32, seed=3)).save(buf, "JPEG", progressive=True)
    progressive = buf.getvalue()
    dqt = segment_offset(valid, 0xDB)
    big = np.arange(64) * 7 + 250
    table_buf = io.BytesIO()
    Image.fromarray(natural_image(16, 16)).save(table_buf, "JPEG", qtables=[big.tolist()] * 2)
    return {
        "13000x13000": with_size(valid, 13000, 13000),
        "10000x10000": with_size(valid, 10000, 10000),
        "65500x2000 gray": with_size(gray_jpeg(), 2000, 65500),
        "50000 scans": scan_bomb(50_000),
        "1 MiB of zeros after SOI": valid[:2] + bytes(1 << 20) + valid[2:],
        "garbage between segments": valid[:dqt] + b"\x00\x00" + valid[dqt:],
        "cjpeg -rgb": cjpeg_jpeg(natural_image(16, 16, seed=5), "-rgb"),
        "ids R,G,B without JFIF": rgb_by_ids(valid),
        "restart markers out of order": swap_first_rst(rst_jpeg()),
        "missing progressive scan": drop_last_scan(progressive),
        "16-bit table entries": table_buf.getvalue(),
        "16-bit table, entries up to 255": sixteen_bit_dqt(valid),
        "3000x3000 claimed by 669 bytes": with_size(valid, 3000, 3000),
    }


EXPECTED = {
    "13000x13000": "more than the limit of 16,000,000",
    "10000x10000": "more than the limit of 16,000,000",
    "65500x2000 gray": "more than the limit of 16,000,000",
    "50000 scans": "more than 1000 scans",
    "1 MiB of zeros after SOI": "garbage between segments",
    "garbage between segments": "garbage between segments",
    "cjpeg -rgb": "RGB-coded JPEG",
    "ids R,G,B without JFIF": "RGB-coded JPEG",
    "restart markers out of order": "found RST1 where RST0 was expected",
    "missing progressive scan": "Incomplete progressive JPEG",
    "16-bit table entries": "entry above 255",
    "16-bit table, entries up to 255": "16-bit entries that all fit in 8 bits",
    "3000x3000 claimed by 669 bytes": "fewer than the 26415 its 211313 blocks need",
}


#: Refused by the graph reader only: read_jpeg reads them exactly.
GRAPH_ONLY = {"16-bit table entries", "16-bit table, entries up to 255"}


@pytest.fixture(scope="module")
def hostile() -> dict[str, bytes]:
    return hostile_files()


@pytest.fixture(scope="module")
def served_tiny_decoder(tmp_path_factory):
    """A small random ConsistentDecoder exported with the default limit, loaded back."""
    import keras

    from tfjpeg.decoders import ConsistentDecoder, core_inputs
    from tfjpeg.serving.decoders import core_function, export_decoder

    keras.utils.set_random_seed(3)
    decoder = ConsistentDecoder(luma_width=4, luma_depth=1, chroma_width=4, chroma_depth=1)
    data = pillow_jpeg(natural_image(16, 16), 50)
    core_function(decoder)(**core_inputs(read_jpeg(data)), iterations=0)  # builds the model
    folder = export_decoder(decoder, tmp_path_factory.mktemp("tiny") / "1")
    return folder, tf.saved_model.load(str(folder)).signatures["decode_bytes"]


GUARDED = tf.function(
    lambda b: coefficients_from_jpeg_bytes(b, max_pixels=16_000_000),
    input_signature=[tf.TensorSpec([], tf.string)],
)


@pytest.fixture(scope="module")
def guarded():
    """The reader with the decoders' limit, in a tf.function that has run once (a server's
    warm-up: the first run of a graph includes its optimization, tens of seconds on CPU)."""
    GUARDED(tf.constant(pillow_jpeg(natural_image(16, 16), 50)))
    return GUARDED


@pytest.mark.parametrize("name", list(EXPECTED))
def test_hostile_files_are_refused_quickly_with_read_jpegs_message(name, hostile, guarded):
    import time

    data = hostile[name]
    start = time.perf_counter()
    with pytest.raises(tf.errors.InvalidArgumentError) as graph:
        guarded(tf.constant(data))
    elapsed = time.perf_counter() - start
    assert elapsed < HOSTILE_SECONDS, f"{name}: refused after {elapsed:.1f} s"
    assert EXPECTED[name] in graph.value.message
    with pytest.raises(TfjpegError) as eager:
        coefficients_from_jpeg_bytes(data, max_pixels=16_000_000)
    assert EXPECTED[name] in str(eager.value)
    assert f"tfjpeg.{type(eager.value).__name__}: {eager.value}" in graph.value.message
    if name in GRAPH_ONLY:
        read_jpeg(data)  # libjpeg reads it exactly; the graph reader cannot
    else:
        with pytest.raises(type(eager.value)) as python:
            read_jpeg(data, max_pixels=16_000_000)
        assert str(python.value) == str(eager.value)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_hostile_files_are_refused_by_an_exported_decoder(name, hostile, served_tiny_decoder):
    import time

    _, serve = served_tiny_decoder
    valid = pillow_jpeg(natural_image(16, 16), 50)
    serve(jpeg_bytes=tf.constant(valid), seed=tf.constant(-1, tf.int64))
    start = time.perf_counter()
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(EXPECTED[name])):
        serve(jpeg_bytes=tf.constant(hostile[name]), seed=tf.constant(-1, tf.int64))
    assert time.perf_counter() - start < HOSTILE_SECONDS


def test_exported_decoder_records_its_pixel_limit_and_decodes_below_it(served_tiny_decoder):
    import json

    from tfjpeg.io.limits import DEFAULT_DECODER_MAX_PIXELS

    folder, serve = served_tiny_decoder
    config = json.loads((folder / "keras_config.json").read_text())
    assert config["serving"]["max_pixels"] == DEFAULT_DECODER_MAX_PIXELS
    data = pillow_jpeg(natural_image(24, 40), 50)
    image = serve(jpeg_bytes=tf.constant(data), seed=tf.constant(-1, tf.int64))["image"]
    assert image.shape == (24, 40, 3)


def test_long_runs_of_fill_bytes_cost_no_time_and_change_nothing(image_64x96):
    import time

    data = pillow_jpeg(image_64x96, 50)
    dqt = segment_offset(data, 0xDB)
    filled = data[:dqt] + b"\xff" * (1 << 20) + data[dqt:]
    read_jpeg(filled)  # fill bytes are legal for read_jpeg too
    clean = read(data)
    start = time.perf_counter()
    odd = read(filled)
    assert time.perf_counter() - start < HOSTILE_SECONDS
    for key in clean:
        np.testing.assert_array_equal(odd[key], clean[key])


def test_restart_markers_in_order_are_read_like_jpeglib(tmp_path):
    data = rst_jpeg()
    assert b"\xff\xd0" in data and b"\xff\xd1" in data
    ref = reference(data, tmp_path)
    out = read(data)
    for ours, theirs in zip((out["y"], out["cb"], out["cr"]), components(ref), strict=True):
        assert np.mean(ours == theirs) >= 0.99


def mutations(data: bytes, count: int, seed: int) -> list[bytes]:
    """Header byte changes, deleted or duplicated segments and truncations of a valid file."""
    rng = np.random.default_rng(seed)
    sos = segment_offset(data, 0xDA)
    out = []
    for i in range(count):
        d = bytearray(data)
        kind = i % 4
        if kind == 0:  # a header byte
            d[int(rng.integers(2, sos + 10))] = int(rng.integers(0, 256))
        elif kind == 1:  # a byte anywhere
            d[int(rng.integers(2, len(d)))] = int(rng.choice([0x00, 0xFF, 0xD9, 0xDA, 0xC4, 0x01]))
        elif kind == 2:  # a cut
            d = d[: int(rng.integers(2, len(d)))]
        else:  # a marker segment of the header dropped or repeated
            pos, starts = 2, []
            while pos < sos:
                starts.append(pos)
                pos += 2 + int.from_bytes(d[pos + 2 : pos + 4], "big")
            j = int(rng.integers(len(starts)))
            end = starts[j + 1] if j + 1 < len(starts) else sos
            seg = bytes(d[starts[j] : end])
            d = d[: starts[j]] + (seg + seg if rng.random() < 0.5 else b"") + d[end:]
        out.append(bytes(d))
    return out


def test_graph_reader_agrees_with_read_jpeg_on_mutated_valid_files():

    from tfjpeg.io.graph import tfjpeg_error

    buf = io.BytesIO()
    Image.fromarray(natural_image(24, 32, seed=9)).save(buf, "JPEG", quality=60, progressive=True)
    sources = [pillow_jpeg(natural_image(24, 32, seed=8), 60), buf.getvalue(), rst_jpeg()]
    checked = refused = 0
    agreement = []
    for s, source in enumerate(sources):
        for data in mutations(source, 40, seed=s):
            try:
                expected = read_jpeg(data)
            except TfjpegError as e:
                expected = e
            try:
                got = {k: v.numpy() for k, v in READER(tf.constant(data)).items()}
            except tf.errors.InvalidArgumentError as e:
                got = tfjpeg_error(e)
            if isinstance(expected, Exception):
                if str(expected).startswith("Corrupt JPEG data (libjpeg") or str(
                    expected
                ).startswith("libjpeg could not read"):
                    continue  # only libjpeg's decoding sees bad entropy-coded data
                refused += 1
                assert isinstance(got, Exception), f"graph accepted: {expected}"
                assert type(got) is type(expected) and str(got) == str(expected)
            else:
                assert not isinstance(got, Exception), f"graph refused: {got}"
                tables = np.stack([expected.tables[i] for i in expected.table_index])
                if len(tables) == 1:
                    tables = np.concatenate([tables] * 3)
                np.testing.assert_array_equal(got["tables"], tables)
                for ours, theirs in zip(
                    (got["y"], got["cb"], got["cr"]), expected.components, strict=False
                ):
                    assert ours.shape == theirs.shape
                    agreement.append(np.mean(ours == theirs))
            checked += 1
    assert refused >= 40 and checked >= 100
    # Coefficients come from decoded samples: a mutated scan can give blocks that are not exactly
    # recoverable (see the module docstring); tables and geometry above are always exact.
    assert min(agreement) >= 0.9 and np.mean(agreement) >= 0.99


def test_messages_hold_nothing_that_tf_assert_would_escape():
    from tfjpeg.io import messages

    templates = {k: v for k, v in vars(messages).items() if k.isupper() and isinstance(v, str)}
    assert len(templates) > 50
    for name, text in templates.items():
        assert not set(text) & set("'\"\\"), name
