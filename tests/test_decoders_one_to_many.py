"""tfjpeg.decoders.one_to_many: the one-to-many network (Guo & Chao 2017) as a tfjpeg decoder."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image, pillow_jpeg

import tfjpeg
from tfjpeg.decoders import OneToManyDecoder, decoder_inputs
from tfjpeg.decoders.consistency import requantize
from tfjpeg.decoders.geometry import chroma_factors, image_from_coefficients
from tfjpeg.decoders.one_to_many import ResidualUnit, shift_and_average
from tfjpeg.decoders.tiling import halo_blocks, tiled_coefficients
from tfjpeg.explore import noise_from_seed
from tfjpeg.io import read_jpeg


def _randomized(model: OneToManyDecoder, seed: int = 1) -> OneToManyDecoder:
    """Random weights everywhere (the zero-initialised deconvolution too), so every path shows."""
    tf.keras.utils.set_random_seed(seed)
    for w in model.weights:
        value = tf.random.normal(w.shape, stddev=0.2)
        w.assign(tf.abs(value) + 0.5 if "variance" in w.path else value)
    return model


@pytest.fixture(scope="module")
def model() -> OneToManyDecoder:
    dec = OneToManyDecoder(width=4, branch_units=0, aggregate_units=1)
    inputs, subsampling = decoder_inputs(read_jpeg(pillow_jpeg(natural_image(16, 16), 50)))
    dec(inputs, subsampling=subsampling)
    return _randomized(dec)


def test_shift_and_average_removes_the_checkerboard_of_a_deconvolution():
    """§3.2.2: a stride-2 deconvolution whose four filter phases have different sums prints a
    2-periodic grid on a constant input; shift-and-average makes it constant again."""
    kernel = tf.constant(np.arange(1.0, 17.0).reshape(4, 4, 1, 1), tf.float32)
    up = tf.nn.conv2d_transpose(
        tf.ones([1, 6, 6, 1]), kernel, [1, 12, 12, 1], strides=2, padding="SAME"
    )
    inner = up[0, 2:-2, 2:-2, 0].numpy()
    assert np.ptp(inner) > 1.0  # the grid
    smooth = shift_and_average(up)[0, 2:-2, 2:-2, 0].numpy()
    np.testing.assert_allclose(smooth, np.full_like(smooth, np.mean(inner)), rtol=1e-6)
    np.testing.assert_allclose(shift_and_average(tf.fill([1, 5, 7, 2], 3.0)), 3.0)


@pytest.mark.parametrize("layout", ["420", "gray"])
def test_untrained_model_is_the_standard_decoding(layout):
    """The last deconvolution starts at zero: a fresh model returns the file's own decoding."""
    image = natural_image(40, 56, seed=2)
    data = pillow_jpeg(image[..., :1], 20) if layout == "gray" else pillow_jpeg(image, 20, layout)
    jpeg = read_jpeg(data)
    inputs, subsampling = decoder_inputs(jpeg, z=noise_from_seed(3, 5, 7))
    out = OneToManyDecoder(width=4, branch_units=1, aggregate_units=1)(
        inputs, subsampling=subsampling
    )
    fh, fv = (1, 1) if layout == "gray" else chroma_factors(layout)
    comps = tuple(tf.constant(c[None], tf.float32) for c in jpeg.components)
    standard = image_from_coefficients(comps, inputs["tables"], 40, 56, fh, fv)["decoded"]
    np.testing.assert_allclose(out["decoded"], standard, atol=2e-3)
    np.testing.assert_allclose(out["delta"][0], 0.0, atol=1e-4)  # luma: whole blocks


def test_z_is_a_noise_map_that_changes_the_output_and_config_round_trips(model):
    jpeg = read_jpeg(pillow_jpeg(natural_image(32, 48, seed=3), 30))
    hb, wb = jpeg.components[0].shape[:2]
    outs = [
        model(decoder_inputs(jpeg, z=z)[0], training=False, subsampling="420")["decoded"]
        for z in (
            noise_from_seed(1, hb, wb),
            noise_from_seed(1, hb, wb),
            tf.zeros([hb, wb, 64]),
        )
    ]
    np.testing.assert_array_equal(outs[0], outs[1])
    assert np.abs(outs[0] - outs[2]).max() > 0.5
    clone = OneToManyDecoder.from_config(model.get_config())
    clone(decoder_inputs(jpeg)[0], subsampling="420")
    clone.set_weights(model.get_weights())
    again = clone(decoder_inputs(jpeg, z=noise_from_seed(1, hb, wb))[0], subsampling="420")
    np.testing.assert_allclose(again["decoded"], outs[0], atol=1e-4)
    assert model.get_config()["aggregate_units"] == 1 and model.control_signal == "noise"
    assert ResidualUnit.from_config(ResidualUnit(3, "none").get_config()).norm == "none"


def test_tiled_coefficients_equal_one_pass_with_a_noise_map(model):
    jpeg = read_jpeg(pillow_jpeg(natural_image(203, 267, seed=1), 30, "420"))
    hb, wb = jpeg.components[0].shape[:2]
    assert hb > 4 + 2 * halo_blocks(model) and wb > 4 + 2 * halo_blocks(model)  # really tiled
    z = noise_from_seed(5, hb, wb)
    inputs, _ = decoder_inputs(jpeg, z=z)
    whole = model(inputs, training=False, subsampling="420")["coefficients"]
    tiled = tf.function(tiled_coefficients, autograph=False)(
        model,
        [tf.constant(c, tf.float32) for c in jpeg.components],
        tf.constant(jpeg.component_tables.astype(np.float32)),
        tf.constant(jpeg.height),
        tf.constant(jpeg.width),
        (2, 2),
        z,
        "420",
        tile_blocks=4,
    )
    for a, b in zip(whole, tiled, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-3)


def test_decode_with_a_seed_is_deterministic_diverse_and_consistent(model):
    data = pillow_jpeg(natural_image(48, 64, seed=4), 15)
    first = tfjpeg.decode(data, decoder=model, seed=7)
    np.testing.assert_array_equal(first, tfjpeg.decode(data, decoder=model, seed=7))
    other = tfjpeg.decode(data, decoder=model, seed=8)
    assert np.abs(first.astype(int) - other).max() > 0
    for pixels in (first, other):  # the decoding core's projection: it re-encodes to the file
        for mine, theirs in zip(requantize(pixels, data), read_jpeg(data).components, strict=True):
            assert np.mean(np.round(mine) == theirs) > 0.999


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="width"):
        OneToManyDecoder(width=0)
    with pytest.raises(ValueError, match="aggregate_units"):
        OneToManyDecoder(aggregate_units=-1)
    with pytest.raises(ValueError, match="norm"):
        OneToManyDecoder(norm="layer")
