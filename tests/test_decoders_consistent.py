"""ConsistentDecoder: shapes for every layout, consistency by construction, z, serialization."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image, pillow_jpeg

from tfjpeg.decoders import ConsistentDecoder, consistent_upsample, decoder_inputs, random_z
from tfjpeg.decoders.consistency import consistency_report
from tfjpeg.errors import UnsupportedJpegError
from tfjpeg.io import read_jpeg
from tfjpeg.jpeg import color, sampling

TINY = {"luma_width": 8, "luma_depth": 2, "chroma_width": 8, "chroma_depth": 1}


def _randomize_heads(decoder: ConsistentDecoder, seed: int = 0) -> None:
    """Heads start at zero (Δ = the offset rule); give them weights so Δ varies with z."""
    rng = np.random.default_rng(seed)
    for net in (decoder.luma_net, decoder.chroma_net):
        kernel = net.head.kernel
        kernel.assign(rng.normal(0, 0.05, kernel.shape).astype(np.float32))


@pytest.fixture(scope="module")
def decoder() -> ConsistentDecoder:
    dec = ConsistentDecoder(**TINY)
    data = pillow_jpeg(natural_image(32, 32), 20, "420")
    inputs, ss = decoder_inputs(read_jpeg(data))
    dec(inputs, subsampling=ss)
    _randomize_heads(dec)
    return dec


@pytest.mark.parametrize(
    ("subsampling", "height", "width"),
    [("420", 48, 64), ("420", 37, 53), ("444", 40, 24), ("422", 32, 48), ("gray", 29, 40)],
)
def test_decodings_requantize_to_the_files_coefficients(decoder, subsampling, height, width):
    img = natural_image(height, width, seed=2)
    if subsampling == "gray":
        data = pillow_jpeg(img[..., :1], 10)
    else:
        data = pillow_jpeg(img, 10, subsampling)
    jpeg = read_jpeg(data)
    inputs, ss = decoder_inputs(jpeg, z=random_z(1, *jpeg.components[0].shape[:2], seed=1))
    out = decoder(inputs, subsampling=ss, training=False)
    channels = 1 if subsampling == "gray" else 3
    assert out["decoded"].shape == (1, height, width, channels)
    assert float(tf.reduce_min(out["decoded"])) >= 0.0
    assert float(tf.reduce_max(out["decoded"])) <= 255.0
    for coef, delta, file_coef in zip(
        out["coefficients"], out["delta"], jpeg.components, strict=True
    ):
        assert coef.shape[1:3] == file_coef.shape[:2]
        assert float(tf.reduce_max(tf.abs(delta))) < 0.5
        assert float(tf.reduce_max(tf.abs(delta))) > 0.05  # the network does move coefficients
        np.testing.assert_array_equal(np.round(coef[0].numpy()), file_coef)
    # Unclipped, the decoding re-quantizes to the file exactly (edge blocks of sizes that are not
    # whole MCUs only show part of their samples, which the re-encoder pads by replication).
    unclipped = out["ycbcr"][0] if channels == 1 else color.ycbcr_to_rgb(out["ycbcr"][0])
    report = consistency_report(unclipped, jpeg)
    if height % 16 == 0 and width % 16 == 0:
        assert report["fraction_float"] == 1.0
    assert report["fraction_float"] > 0.98
    assert consistency_report(out["decoded"][0], jpeg)["fraction_float"] > 0.98


def test_z_changes_the_decoding_but_not_its_consistency(decoder):
    data = pillow_jpeg(natural_image(48, 64, seed=4), 10, "420")
    jpeg = read_jpeg(data)
    hb, wb = jpeg.components[0].shape[:2]
    outs = []
    for seed in (1, 2):
        inputs, ss = decoder_inputs(jpeg, z=random_z(1, hb, wb, seed=seed))
        out = decoder(inputs, subsampling=ss, training=False)
        outs.append(out["decoded"][0].numpy())
        unclipped = color.ycbcr_to_rgb(out["ycbcr"][0])
        assert consistency_report(unclipped, jpeg)["fraction_float"] == 1.0
    assert np.mean(np.abs(outs[0] - outs[1])) > 0.1


def test_fresh_decoder_applies_the_per_frequency_offset_rule():
    data = pillow_jpeg(natural_image(32, 48, seed=6), 30, "420")
    jpeg = read_jpeg(data)
    dec = ConsistentDecoder(**TINY)
    inputs, ss = decoder_inputs(jpeg)
    delta = dec(inputs, subsampling=ss, training=False)["delta"][0][0].numpy()
    expected = (1 / (1 + np.exp(0.4)) - 0.5) * (1 - 2e-3) * np.sign(jpeg.components[0])
    np.testing.assert_allclose(delta, expected, atol=1e-6)


def test_consistent_upsampling_box_averages_back_exactly():
    plane = tf.random.uniform([2, 6, 10], 0, 255, seed=1)
    for fh, fv in ((2, 2), (2, 1)):
        up = consistent_upsample(plane, fh, fv)
        np.testing.assert_allclose(sampling.downsample(up, fh, fv), plane, atol=1e-3)
        fancy = sampling.upsample(plane, fh, fv, "fancy")
        assert float(tf.reduce_max(tf.abs(sampling.downsample(fancy, fh, fv) - plane))) > 1.0


def test_serialization_round_trip_gives_the_same_decoding(decoder, tmp_path):
    data = pillow_jpeg(natural_image(32, 48, seed=7), 15, "420")
    inputs, ss = decoder_inputs(read_jpeg(data))
    path = tmp_path / "decoder.keras"
    decoder.save(path)
    clone = keras.saving.load_model(path)
    assert clone.get_config() == decoder.get_config()
    np.testing.assert_allclose(
        clone(inputs, subsampling=ss, training=False)["decoded"],
        decoder(inputs, subsampling=ss, training=False)["decoded"],
        atol=1e-4,
    )


def test_invalid_arguments_and_layouts_are_refused():
    with pytest.raises(ValueError, match="delta_margin"):
        ConsistentDecoder(delta_margin=0.5)
    with pytest.raises(ValueError, match="norm"):
        ConsistentDecoder(norm="instance")
    with pytest.raises(ValueError, match="width"):
        ConsistentDecoder(luma_width=0)
    data = pillow_jpeg(natural_image(32, 32), 20, "420")
    jpeg = read_jpeg(data)
    with pytest.raises(ValueError, match="z must have shape"):
        decoder_inputs(jpeg, z=np.zeros((3, 3, 64), np.float32))
    dec = ConsistentDecoder(**TINY)
    inputs, _ = decoder_inputs(jpeg)
    with pytest.raises(UnsupportedJpegError):
        dec(inputs, subsampling="411")
