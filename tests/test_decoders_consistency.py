"""tfjpeg.decoders.consistency: projection onto a file's consistent set, the consistency report."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image, pillow_jpeg

from tfjpeg.decoders.consistency import consistency_report, project, project_tensors, requantize
from tfjpeg.errors import InvalidImageError, UnsupportedJpegError
from tfjpeg.io import decode_pixels, read_jpeg


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return natural_image(48, 64, seed=3)


@pytest.mark.parametrize("subsampling", ["420", "444"])
def test_original_reencodes_to_the_libjpeg_file_exactly(image, subsampling):
    data = pillow_jpeg(image, 20, subsampling)
    report = consistency_report(image, data)
    assert report["fraction_uint8"] == 1.0
    assert report["rmse_uint8"] == 0.0
    assert report["coefficients"] == sum(c.size for c in read_jpeg(data).components)
    # Float colour conversion and DCT are not libjpeg's integer arithmetic: nearly, not exactly.
    assert 0.99 < report["fraction_float"] <= 1.0


def test_libjpeg_decode_is_nearly_but_not_always_consistent():
    img = natural_image(64, 96, seed=5)
    data = pillow_jpeg(img, 90, "420")
    report = consistency_report(decode_pixels(data), data)
    assert 0.98 < report["fraction_uint8"] < 1.0  # fancy upsampling + rounding cost agreement
    assert report["rmse_uint8"] > 0.0


@pytest.mark.parametrize(
    ("subsampling", "quality"), [("420", 10), ("420", 50), ("444", 30), ("gray", 20)]
)
def test_projection_is_consistent_at_float_precision(subsampling, quality):
    img = natural_image(48, 64, seed=1)
    if subsampling == "gray":
        img = img[..., :1]
        data = pillow_jpeg(img, quality)
    else:
        data = pillow_jpeg(img, quality, subsampling)
    rng = np.random.default_rng(0)
    noisy = np.clip(img + rng.normal(0, 25, img.shape), 0, 255)  # far from consistent
    before = consistency_report(noisy, data)
    projected = project(noisy, data)
    after = consistency_report(projected, data)
    assert before["fraction_float"] < 0.99
    assert after["fraction_float"] == 1.0
    assert after["rmse_float"] == 0.0
    assert after["fraction_uint8"] > before["fraction_uint8"]
    # the projection is the nearest consistent point: closer to the input than libjpeg's decode
    ref = decode_pixels(data).astype(np.float64)
    assert np.mean((projected - noisy) ** 2) < np.mean((ref - noisy) ** 2)
    # and projecting again changes (almost) nothing
    np.testing.assert_allclose(project(projected, data), projected, atol=0.05)


def test_projection_clips_coefficients_into_their_intervals(image):
    data = pillow_jpeg(image, 10, "420")
    jpeg = read_jpeg(data)
    flat = np.full_like(image, 128.0, dtype=np.float32)
    coefs = requantize(project(flat, jpeg, clip=False), jpeg)
    for c, file_c in zip(coefs, jpeg.components, strict=True):
        offset = np.abs(c - file_c)
        assert np.max(offset) < 0.5
        # a flat image is far from the file: the nonzero AC coefficients end at an interval edge
        assert np.mean(offset[file_c != 0] > 0.49) > 0.5


def test_bad_images_and_layouts_raise_tfjpeg_errors(image):
    data = pillow_jpeg(image, 50, "420")
    with pytest.raises(InvalidImageError, match="shape"):
        consistency_report(image[:40], data)
    with pytest.raises(InvalidImageError, match="numeric"):
        project(np.full(image.shape, "a"), data)
    from tfjpeg.decoders.geometry import chroma_factors

    with pytest.raises(UnsupportedJpegError, match="4:2:0"):
        chroma_factors("411")
    # The served graph's layout check is a tagged tfjpeg refusal like the reader's.
    import tensorflow as tf

    from tfjpeg.decoders.geometry import chroma_factors_of_sampling
    from tfjpeg.io.graph import tfjpeg_error

    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        tf.function(chroma_factors_of_sampling)(tf.constant([[2, 1], [1, 2], [1, 1]]))
    refusal = tfjpeg_error(err.value)
    assert isinstance(refusal, UnsupportedJpegError)
    assert str(refusal).endswith("4:2:0 files. Received: sampling factors (h x v) 2x1, 1x2, 1x1.")
    with pytest.raises(ValueError, match="margin"):
        project(image, data, margin=0.7)


def test_projection_rounds_stop_at_the_tolerance():
    # A noisy image overshoots [0, 255] after each projection: with a tolerance larger than any
    # overshoot one round is done, with the default the rounds go on and leave less outside.
    img = natural_image(32, 32, seed=2)
    jpeg = read_jpeg(pillow_jpeg(img, 20, "420"))
    noisy = np.clip(img + np.random.default_rng(1).normal(0, 60, img.shape), 0, 255)
    args = (
        [tf.constant(c, tf.float32) for c in jpeg.components],
        tf.constant(jpeg.component_tables, tf.float32),
        jpeg.height,
        jpeg.width,
        (2, 2),
    )
    image = tf.constant(noisy, tf.float32)
    one = project_tensors(image, *args, iterations=1).numpy()
    loose = project_tensors(image, *args, iterations=5, tolerance=1e9).numpy()
    tight = project_tensors(image, *args, iterations=5).numpy()
    np.testing.assert_array_equal(loose, one)
    assert not np.array_equal(tight, one)
    # more rounds: at least as consistent after the clipping
    consistent = [consistency_report(x, jpeg)["fraction_float"] for x in (one, tight)]
    assert consistent[1] >= consistent[0]
