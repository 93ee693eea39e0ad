"""tfjpeg/decoders/posterior.py: the posterior sampler (Man et al. 2023) through the decoding
core — config, start at its base, seeds, tiles, consistency, the serving module's noise."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image, pillow_jpeg

import tfjpeg
from tfjpeg.decoders import ConsistentDecoder, PosteriorSampler
from tfjpeg.decoders.consistency import consistency_report
from tfjpeg.decoders.core import decode_core
from tfjpeg.decoders.inputs import core_inputs, decoder_inputs
from tfjpeg.explore import control_from_seed, noise_from_seed, z_from_seed
from tfjpeg.io import read_jpeg
from tfjpeg.models.saving import build_model

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def jpeg_bytes() -> bytes:
    return pillow_jpeg(natural_image(40, 56, seed=3), 15, "420")


@pytest.fixture(scope="module")
def sampler() -> PosteriorSampler:
    """A tiny sampler whose last convolution is no longer zero (so the noise shows)."""
    model = PosteriorSampler(features=8, blocks=1, growth=4, rdbs=2)
    build_model(model)
    rng = np.random.default_rng(0)
    model.last.kernel.assign(0.05 * rng.standard_normal(model.last.kernel.shape))
    return model


def test_config_round_trip_and_a_fresh_sampler_starts_as_its_base(jpeg_bytes):
    base = ConsistentDecoder(luma_width=8, luma_depth=1, chroma_width=8, chroma_depth=1)
    model = PosteriorSampler(features=8, blocks=1, growth=4, rdbs=1, base=base)
    build_model(model)
    assert not base.trainable and len(model.trainable_weights) < len(model.weights)
    inputs, subsampling = decoder_inputs(read_jpeg(jpeg_bytes))
    z = noise_from_seed(1, *inputs["y"].shape[1:3])[None]
    out = model({**inputs, "z": z}, subsampling=subsampling)
    expected = base(inputs, subsampling=subsampling)  # the zero last conv: the base exactly
    # The same image. Coefficients match too, except in chroma blocks that straddle the image
    # edge: the sampler rebuilds their part outside the image by edge replication, where the
    # base network's values are arbitrary (nothing inside the image depends on them).
    np.testing.assert_allclose(out["decoded"].numpy(), expected["decoded"].numpy(), atol=2e-3)
    np.testing.assert_allclose(
        out["coefficients"][0].numpy(), expected["coefficients"][0].numpy(), atol=2e-3
    )
    clone = PosteriorSampler.from_config(model.get_config())
    build_model(clone)
    clone.set_weights(model.get_weights())
    again = clone({**inputs, "z": z}, subsampling=subsampling)
    np.testing.assert_allclose(again["decoded"].numpy(), out["decoded"].numpy(), atol=1e-4)
    assert clone.get_config()["base"]["class_name"] == "ConsistentDecoder"
    with pytest.raises(ValueError, match="blocks"):
        PosteriorSampler(blocks=0)
    with pytest.raises(ValueError, match="base"):
        PosteriorSampler(base=object())


def test_seeds_tiles_and_consistency_through_the_decoding_core(sampler, jpeg_bytes):
    a = tfjpeg.decode(jpeg_bytes, decoder=sampler, seed=3)
    np.testing.assert_array_equal(a, tfjpeg.decode(jpeg_bytes, decoder=sampler, seed=3))
    b = tfjpeg.decode(jpeg_bytes, decoder=sampler, seed=4)
    assert np.mean(np.abs(a.astype(int) - b)) > 0.5  # another sample
    jpeg = read_jpeg(jpeg_bytes)
    z = control_from_seed(sampler, 3, *jpeg.components[0].shape[:2])
    tiled = decode_core(sampler, **core_inputs(jpeg, z=z), iterations=5, tile_blocks=2)
    np.testing.assert_array_equal(tiled["image"].numpy(), a)  # tiles see the same noise
    standard = tfjpeg.decode(jpeg_bytes, decoder="libjpeg")
    for image in (a, b):
        ours = consistency_report(image, jpeg_bytes)
        assert ours["fraction_uint8"] >= consistency_report(standard, jpeg_bytes)["fraction_uint8"]
    # The noise kind follows the decoder; a gray file decodes to one channel.
    assert np.allclose(control_from_seed(ConsistentDecoder(), 3, 2, 2), z_from_seed(3, 2, 2))
    gray = pillow_jpeg(natural_image(24, 32, seed=1)[..., :1].repeat(3, -1), 20, "420")
    gray = tfjpeg.io.encode_pixels(tfjpeg.io.decode_pixels(gray)[..., :1], 20)
    assert tfjpeg.decode(gray, decoder=sampler, seed=1).shape == (24, 32, 1)


def test_temperature_scales_the_noise_and_survives_the_config(sampler, jpeg_bytes):
    inputs, subsampling = decoder_inputs(read_jpeg(jpeg_bytes))
    z = noise_from_seed(2, *inputs["y"].shape[1:3])[None]
    cool = PosteriorSampler.from_config({**sampler.get_config(), "temperature": 0.5})
    build_model(cool)
    cool.set_weights(sampler.get_weights())
    assert PosteriorSampler.from_config(cool.get_config()).temperature == 0.5

    def decoded(model, noise):
        return model({**inputs, "z": noise}, subsampling=subsampling)["decoded"].numpy()

    # Temperature t with z is the sampler at temperature 1 with t·z; 0 is the noise-free decoding.
    np.testing.assert_allclose(decoded(cool, z), decoded(sampler, 0.5 * z), atol=1e-4)
    assert np.abs(decoded(cool, z) - decoded(sampler, z)).max() > 0.5
    frozen = PosteriorSampler.from_config({**sampler.get_config(), "temperature": 0.0})
    build_model(frozen)
    frozen.set_weights(sampler.get_weights())
    np.testing.assert_allclose(decoded(frozen, z), decoded(sampler, 0.0 * z), atol=1e-4)
    for bad in (-0.1, float("nan"), float("inf"), True, "0.5", None):
        with pytest.raises(ValueError, match="temperature"):
            PosteriorSampler(temperature=bad)


@pytest.mark.slow  # traces the in-graph JPEG reader
def test_the_serving_module_draws_the_same_sample_as_decode(sampler, jpeg_bytes):
    from tfjpeg.serving.decoders import DecoderServingModule

    module = DecoderServingModule(sampler)
    served = module.decode_bytes(tf.constant(jpeg_bytes), tf.constant(7, tf.int64))["image"]
    np.testing.assert_array_equal(served.numpy(), tfjpeg.decode(jpeg_bytes, sampler, seed=7))
