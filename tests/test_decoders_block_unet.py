"""tfjpeg.decoders.block_unet: the fast block-grid U-Net decoder."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image, pillow_jpeg, tiled_file_coefficients

from tfjpeg.decoders import BlockUNetDecoder
from tfjpeg.decoders.inputs import decoder_inputs
from tfjpeg.decoders.tiling import halo_blocks
from tfjpeg.io import read_jpeg


@pytest.fixture(scope="module")
def model() -> BlockUNetDecoder:
    tf.keras.utils.set_random_seed(2)
    dec = BlockUNetDecoder(widths=(8, 12, 16), depths=(1, 1, 1))
    dec(decoder_inputs(read_jpeg(pillow_jpeg(natural_image(16, 16), 50)))[0], subsampling="420")
    for w in dec.weights:  # heads start at zero: random everywhere, so every path shows
        w.assign(tf.random.normal(w.shape, stddev=0.3))
    return dec


def test_config_round_trip_and_checks():
    dec = BlockUNetDecoder(widths=(8, 16), depths=(2, 1), leaky_slope=0.2, delta_margin=0.01)
    config = dec.get_config()
    again = BlockUNetDecoder.from_config(config)
    assert again.get_config() == config
    assert config["widths"] == [8, 16] and config["depths"] == [2, 1]
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(dec))
    assert isinstance(clone, BlockUNetDecoder) and clone.widths == (8, 16)
    with pytest.raises(ValueError, match="same length"):
        BlockUNetDecoder(widths=(8, 16), depths=(1,))
    with pytest.raises(ValueError, match="widths"):
        BlockUNetDecoder(widths=(0,), depths=(1,))


@pytest.mark.parametrize("layout", ["420", "422", "444", "gray"])
def test_output_shapes_and_consistency_by_construction(model, layout):
    image = natural_image(45, 61, seed=1)
    data = pillow_jpeg(image[..., :1], 20) if layout == "gray" else pillow_jpeg(image, 20, layout)
    jpeg = read_jpeg(data)
    inputs, subsampling = decoder_inputs(jpeg)
    out = model(inputs, training=False, subsampling=subsampling)
    channels = 1 if layout == "gray" else 3
    assert out["decoded"].shape == (1, 45, 61, channels)
    for coef, delta, xq in zip(out["coefficients"], out["delta"], jpeg.components, strict=True):
        assert coef.shape == (1, *xq.shape)
        assert np.max(np.abs(delta.numpy())) < 0.5
        np.testing.assert_array_equal(np.round(coef[0].numpy()), xq)  # re-quantizes to the file
    assert (
        0.0 <= float(tf.reduce_min(out["decoded"])) <= float(tf.reduce_max(out["decoded"])) <= 255.0
    )


def test_tiles_equal_one_pass():
    tf.keras.utils.set_random_seed(3)
    model = BlockUNetDecoder(widths=(8, 8), depths=(1, 1))
    jpeg = read_jpeg(pillow_jpeg(natural_image(262, 301, seed=3), 30, "420"))
    model(decoder_inputs(jpeg)[0], subsampling="420")
    for w in model.weights:
        w.assign(tf.random.normal(w.shape, stddev=0.3))
    inputs, _ = decoder_inputs(jpeg)
    whole = model(inputs, training=False, subsampling="420")["coefficients"]
    hb, wb = jpeg.components[0].shape[:2]
    assert hb > 4 + 2 * halo_blocks(model) and wb > 4 + 2 * halo_blocks(model)
    tiled = tiled_file_coefficients(model, jpeg, "420")
    for a, b in zip(whole, tiled, strict=True):
        assert np.all(np.isfinite(a.numpy()))
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-5)
