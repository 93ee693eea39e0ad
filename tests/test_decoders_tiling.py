"""tfjpeg.decoders.tiling: tiled decoding equals one pass over the whole file."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image, pillow_jpeg, tiled_file_coefficients

from tfjpeg.decoders import ConsistentDecoder, core_inputs
from tfjpeg.decoders.core import decode_core
from tfjpeg.decoders.inputs import decoder_inputs
from tfjpeg.decoders.tiling import halo_blocks, tiled_coefficients
from tfjpeg.io import read_jpeg


@pytest.fixture(scope="module")
def model() -> ConsistentDecoder:
    tf.keras.utils.set_random_seed(1)
    dec = ConsistentDecoder(luma_width=8, luma_depth=1, chroma_width=8, chroma_depth=1)
    jpeg = read_jpeg(pillow_jpeg(natural_image(16, 16), 50))
    inputs, subsampling = decoder_inputs(jpeg)
    dec(inputs, subsampling=subsampling)
    # random offsets and weights everywhere, so that every receptive-field edge shows
    for w in dec.weights:
        value = tf.random.normal(w.shape, stddev=0.3)
        w.assign(tf.abs(value) + 0.5 if "variance" in w.path else value)
    return dec


@pytest.mark.parametrize("layout", ["420", "422", "gray"])
def test_tiled_coefficients_equal_one_pass(model, layout):
    image = natural_image(203, 267, seed=1)  # partial MCUs on both edges
    data = pillow_jpeg(image[..., :1], 30) if layout == "gray" else pillow_jpeg(image, 30, layout)
    jpeg = read_jpeg(data)
    inputs, subsampling = decoder_inputs(jpeg)
    whole = model(inputs, training=False, subsampling=subsampling)["coefficients"]
    hb, wb = jpeg.components[0].shape[:2]
    assert hb > 4 + 2 * halo_blocks(model) and wb > 4 + 2 * halo_blocks(model)  # really tiled
    tiled = tiled_file_coefficients(model, jpeg, subsampling)
    for a, b in zip(whole, tiled, strict=True):
        assert a.shape == b.shape
        assert np.all(np.isfinite(a.numpy()))
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-5)


def test_a_halo_smaller_than_the_receptive_field_would_show(model, monkeypatch):
    """The equality above is not trivial: with too small a halo the tiles differ."""
    data = pillow_jpeg(natural_image(203, 267, seed=1), 30, "420")
    jpeg = read_jpeg(data)
    inputs, _ = decoder_inputs(jpeg)
    whole = model(inputs, training=False, subsampling="420")["coefficients"][0]
    monkeypatch.setattr(ConsistentDecoder, "receptive_field_blocks", 0)
    tiled = tiled_file_coefficients(model, jpeg, "420")[0]
    assert np.max(np.abs(whole.numpy() - tiled.numpy())) > 1e-3


@pytest.mark.slow
def test_decode_core_tiled_equals_untiled_and_does_not_retrace(model):
    from tfjpeg.decoders.core import CORE_SIGNATURE

    traces = []

    def run(tile_blocks):
        def fn(y, cb, cr, tables, height, width, sampling, z, iterations):
            traces.append(tile_blocks)
            args = (y, cb, cr, tables, height, width, sampling, z, iterations)
            return decode_core(model, *args, tile_blocks=tile_blocks)

        return tf.function(fn, input_signature=CORE_SIGNATURE, autograph=False)

    tiled, whole = run(4), run(1024)
    for size in ((203, 267), (120, 90)):
        data = pillow_jpeg(natural_image(*size, seed=2), 30, "420")
        inputs = core_inputs(read_jpeg(data))
        # iterations=0: the network's image alone (the projection is per block, tested apart)
        a = tiled(**inputs, iterations=tf.constant(0))["decoded"].numpy()
        b = whole(**inputs, iterations=tf.constant(0))["decoded"].numpy()
        assert a.shape == (*size, 3)
        # float round-off of convolutions on other shapes only
        np.testing.assert_allclose(a, b, atol=2e-3)
    assert traces == [4, 1024]  # one trace each for two image sizes


def test_tiles_have_one_graph_for_every_image_size(model):
    traces = []
    spec = tf.TensorSpec([None, None, 8, 8], tf.float32)

    @tf.function(
        input_signature=[
            spec,
            spec,
            spec,
            tf.TensorSpec([3, 8, 8]),
            *[tf.TensorSpec([], tf.int32)] * 2,
        ],
        autograph=False,
    )
    def tiled(y, cb, cr, tables, height, width):
        traces.append(1)
        z = tf.zeros(tf.concat([tf.shape(y)[:2], [64]], 0))
        two = tf.constant(2)
        return tiled_coefficients(
            model, [y, cb, cr], tables, height, width, (two, two), z, (two, two), tile_blocks=4
        )

    for size in ((203, 267), (150, 231)):
        jpeg = read_jpeg(pillow_jpeg(natural_image(*size, seed=3), 40, "420"))
        inputs, _ = decoder_inputs(jpeg)
        whole = model(inputs, training=False, subsampling="420")["coefficients"]
        comps = [tf.constant(c, tf.float32) for c in jpeg.components]
        tables = tf.constant(jpeg.component_tables.astype(np.float32))
        out = tiled(*comps, tables, tf.constant(jpeg.height), tf.constant(jpeg.width))
        for a, b in zip(whole, out, strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-5)
    assert len(traces) == 1
