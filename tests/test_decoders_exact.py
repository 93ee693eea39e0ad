"""tfjpeg.decoders.exact: libjpeg's encoder in-graph and the uint8 correction pass."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image, pillow_jpeg
from PIL import Image

from tfjpeg.decoders.consistency import consistency_report, project
from tfjpeg.decoders.exact import correct_uint8, count_misses, exact_coefficients
from tfjpeg.decoders.geometry import chroma_factors
from tfjpeg.io import decode_pixels, read_jpeg


def _file_args(jpeg):
    fh, fv = chroma_factors(jpeg.subsampling)
    comps = [tf.constant(c, tf.int32) for c in jpeg.components]
    factors = [(1, 1), (fh, fv), (fh, fv)][: len(comps)]
    tables = tf.constant(jpeg.component_tables.astype(np.float32))
    return comps, tables, factors


def _cjpeg_440(image: np.ndarray, quality: int, tmp_path) -> bytes:
    path = tmp_path / "in.ppm"
    Image.fromarray(image).save(path)
    out = subprocess.run(
        ["cjpeg", "-quality", str(quality), "-sample", "1x2,1x1,1x1", str(path)],
        check=True,
        capture_output=True,
    )
    return out.stdout


def _layout_file(image: np.ndarray, layout: str, quality: int, tmp_path):
    """(the image as encoded, its libjpeg-turbo file) in ``layout``; 4:4:0 through cjpeg."""
    if layout == "440":
        if shutil.which("cjpeg") is None:
            pytest.skip("cjpeg not installed")
        return image, _cjpeg_440(image, quality, tmp_path)
    if layout == "gray":
        return image[..., :1], pillow_jpeg(image[..., :1], quality)
    return image, pillow_jpeg(image, quality, layout)


@pytest.mark.parametrize("layout", ["420", "422", "444", "gray", "440"])
def test_exact_coefficients_are_libjpegs(layout, tmp_path):
    # an odd size: partial blocks on both edges
    image, data = _layout_file(natural_image(37, 45, seed=2), layout, 40, tmp_path)
    jpeg = read_jpeg(data)
    assert jpeg.subsampling == layout
    comps, tables, factors = _file_args(jpeg)
    coefs = exact_coefficients(image[None], comps, tables, jpeg.height, jpeg.width, factors)
    for (unrounded, quantized), expected in zip(coefs, jpeg.components, strict=True):
        np.testing.assert_array_equal(quantized[0].numpy(), expected)
        assert np.max(np.abs(unrounded[0].numpy() - expected)) <= 0.5


def test_correction_makes_a_q30_decoding_exactly_consistent_as_uint8():
    image = natural_image(57, 75, seed=4)
    data = pillow_jpeg(image, 30, "420")
    jpeg = read_jpeg(data)
    comps, tables, factors = _file_args(jpeg)
    # the projection of a noisy image (tiny margin): consistent in float, many uint8 misses
    rng = np.random.default_rng(0)
    noisy = np.clip(decode_pixels(data) + rng.normal(0, 6, image.shape), 0, 255)
    projected = project(noisy, data)
    assert consistency_report(projected, data)["fraction_float"] > 0.999
    plain = count_misses(projected[None], comps, tables, jpeg.height, jpeg.width, factors)
    assert int(plain) > 0
    fixed = correct_uint8(tf.constant(projected), comps, tables, jpeg.height, jpeg.width, (2, 2))
    assert np.array_equal(fixed.numpy(), np.round(fixed.numpy()))
    report = consistency_report(fixed.numpy(), data)
    assert report["fraction_uint8"] == 1.0
    assert report["rmse_uint8"] == 0.0
    # the correction only touches the blocks that missed, and only a little
    change = np.abs(fixed.numpy() - np.clip(np.round(projected), 0, 255))
    assert np.mean(change > 0) < 0.5
    # no rounds: plain rounding
    plain_round = correct_uint8(
        tf.constant(projected), comps, tables, jpeg.height, jpeg.width, (2, 2), iterations=0
    )
    np.testing.assert_array_equal(plain_round.numpy(), np.clip(np.round(projected), 0, 255))


@pytest.mark.parametrize("layout", ["420", "422", "444", "gray", "440"])
def test_correction_rounds_touch_only_the_missed_mcus(layout, tmp_path):
    # odd sizes: partial MCUs on the right and bottom edges, where libjpeg pads
    height, width = 33, 17
    image, data = _layout_file(natural_image(height, width, seed=5), layout, 50, tmp_path)
    jpeg = read_jpeg(data)
    comps, tables, factors = _file_args(jpeg)
    rng = np.random.default_rng(1)
    projected = project(np.clip(decode_pixels(data) + rng.normal(0, 4, image.shape), 0, 255), data)
    rounded = np.clip(np.round(projected), 0, 255)
    coefs = exact_coefficients(rounded[None], comps, tables, height, width, factors)
    fh, fv = factors[-1]
    mcu_h, mcu_w = 8 * fv, 8 * fh
    missed = np.zeros((-(-height // mcu_h), -(-width // mcu_w)), bool)
    for (_, q), expected, (ch, cv) in zip(coefs, jpeg.components, factors, strict=True):
        rows, cols = np.nonzero(np.any(q[0].numpy() != expected, axis=(-2, -1)))
        missed[rows * cv // fv, cols * ch // fh] = True
    assert missed.any()
    fixed = correct_uint8(tf.constant(projected), comps, tables, height, width, (fh, fv))
    assert int(count_misses(fixed[None], comps, tables, height, width, factors)) == 0
    changed = np.any(fixed.numpy() != rounded, axis=-1)
    mcu_of_pixel = missed.repeat(mcu_h, 0).repeat(mcu_w, 1)[:height, :width]
    assert changed.any() and not np.any(changed & ~mcu_of_pixel)
