"""tfjpeg/rdo/encoder.py: trellis-quantized coefficients written by libjpeg-turbo."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image

from tfjpeg.errors import InvalidArgumentError
from tfjpeg.io import decode_pixels, encode_pixels, read_jpeg
from tfjpeg.jpeg.tables import quality_tables
from tfjpeg.rdo import RDOSettings, optimize_coefficients
from tfjpeg.rdo.encoder import trellis_encode


@pytest.mark.parametrize("subsampling", ["420", "444"])
def test_the_file_holds_exactly_the_trellis_choice(subsampling):
    image = natural_image(40, 56, seed=3)
    data = trellis_encode(image, 25, subsampling=subsampling, loops=2)
    settings = RDOSettings()
    tables = tf.broadcast_to(quality_tables(25), [1, 2, 8, 8])
    chosen = optimize_coefficients(
        tf.constant(image[None].astype(np.float32)), tables, 2, settings.lam(tables), settings,
        None, subsampling,
    )  # fmt: skip
    written = read_jpeg(data)
    assert written.subsampling == subsampling
    np.testing.assert_array_equal(written.tables, quality_tables(25).numpy()[0])
    for got, want in zip(written.components, chosen, strict=True):
        np.testing.assert_array_equal(got, want.numpy()[0].astype(np.int16))
    assert len(data) < len(encode_pixels(image, 25, subsampling=subsampling, optimize=True))


def test_gray_images_and_explicit_tables():
    gray = natural_image(32, 40, seed=1)[..., 0]
    data = trellis_encode(gray, 30)
    coeffs = read_jpeg(data)
    assert coeffs.num_components == 1 and decode_pixels(data).shape == (32, 40, 1)
    np.testing.assert_array_equal(coeffs.tables, quality_tables(30).numpy()[0][:1])
    three = np.stack([np.full((8, 8), 12), np.full((8, 8), 20), np.full((8, 8), 24)])
    rgb = trellis_encode(natural_image(24, 24, seed=2), tables=three)
    np.testing.assert_array_equal(read_jpeg(rgb).tables, three)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loops": 0}, "loops"),
        ({"loops": 1.0}, "loops"),
        ({"quality": None}, "quality or tables"),
        ({"quality": 0}, "quality"),
        ({"tables": np.zeros((2, 8, 8))}, "tables"),
        ({"tables": np.ones((2, 4, 4))}, "tables"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, match):
    args = {"quality": 20, **kwargs}
    with pytest.raises(InvalidArgumentError, match=match):
        trellis_encode(natural_image(16, 16), **args)


def test_bad_images_are_clear_errors():
    with pytest.raises(InvalidArgumentError, match="uint8"):
        trellis_encode(np.zeros((16, 16, 3), np.float32), 20)
    with pytest.raises(InvalidArgumentError, match="channels"):
        trellis_encode(np.zeros((16, 16, 4), np.uint8), 20)
