"""Shipped decoders: tfjpeg.decode and the SavedModel signatures (the CLI: test_cli_decode.py)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image, pillow_jpeg
from PIL import Image

import tfjpeg
from tfjpeg.api.decoding import load_decoder_model
from tfjpeg.decoders import ConsistentDecoder, core_inputs
from tfjpeg.decoders.consistency import consistency_report
from tfjpeg.errors import InvalidJpegError, TfjpegError
from tfjpeg.io import decode_pixels, read_jpeg
from tfjpeg.models import model_dir, names
from tfjpeg.serving.decoders import export_decoder

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def jpeg_bytes() -> bytes:
    return pillow_jpeg(natural_image(48, 64, seed=8), 10, "420")


def test_shipped_l1_decoder_loads_and_beats_libjpeg_on_a_natural_crop():
    model = load_decoder_model("consistent-l1")
    assert isinstance(model, ConsistentDecoder)
    img = natural_image(128, 128, seed=11)
    data = pillow_jpeg(img, 10, "420")
    ours = tfjpeg.decode(data, decoder="consistent-l1")
    ref = decode_pixels(data)

    def mse(x):
        return np.mean((x.astype(np.float64) - img) ** 2)

    assert ours.shape == ref.shape and ours.dtype == np.uint8
    assert mse(ours) < mse(ref)  # the trained decoder is closer to the original
    report = consistency_report(ours, data)
    assert report["fraction_uint8"] == 1.0  # projected: the PNG re-encodes to the file
    assert report["fraction_float"] == 1.0


def test_decode_api_libjpeg_seeds_and_errors(jpeg_bytes):
    np.testing.assert_array_equal(
        tfjpeg.decode(jpeg_bytes, decoder="libjpeg"), decode_pixels(jpeg_bytes)
    )
    a = tfjpeg.decode(jpeg_bytes, decoder="consistent-l1", seed=1)
    b = tfjpeg.decode(jpeg_bytes, decoder="consistent-l1", seed=1)
    np.testing.assert_array_equal(a, b)  # a seed is a fixed z
    with pytest.raises(TfjpegError, match="unknown decoder"):
        tfjpeg.decode(jpeg_bytes, decoder="nope")
    with pytest.raises(ValueError, match="seed"):
        tfjpeg.decode(jpeg_bytes, seed=-1)
    with pytest.raises(ValueError, match="libjpeg"):
        tfjpeg.decode(jpeg_bytes, decoder="libjpeg", seed=3)
    with pytest.raises(InvalidJpegError):
        tfjpeg.decode(jpeg_bytes[: len(jpeg_bytes) // 2])
    with pytest.raises(InvalidJpegError):
        tfjpeg.decode(b"not a jpeg at all")


@pytest.fixture(scope="module")
def exported_l1(tmp_path_factory):
    """The shipped consistent-l1 weights exported with the current serving code."""
    return export_decoder(load_decoder_model("consistent-l1"), tmp_path_factory.mktemp("l1") / "1")


def _serve(folder, jpeg_bytes: bytes, seed: int = -1) -> dict:
    served = tf.saved_model.load(str(folder))
    assert set(served.signatures) == {"serving_default", "decode_bytes", "decode_coefficients"}
    return served.signatures["decode_bytes"](
        jpeg_bytes=tf.constant(jpeg_bytes), seed=tf.constant(seed, tf.int64)
    )


def test_savedmodel_signatures_give_exactly_what_tfjpeg_decode_gives(jpeg_bytes, exported_l1):
    expected = tfjpeg.decode(jpeg_bytes, decoder="consistent-l1")
    served = tf.saved_model.load(str(exported_l1))
    out = served.signatures["decode_coefficients"](**core_inputs(read_jpeg(jpeg_bytes)))
    image = out["image"].numpy()
    assert image.dtype == np.uint8 and image.shape == (48, 64, 3)
    np.testing.assert_array_equal(image, expected)  # projection included
    png = np.asarray(Image.open(io.BytesIO(out["png_bytes"].numpy())))
    np.testing.assert_array_equal(png, image)
    np.testing.assert_array_equal(_serve(exported_l1, jpeg_bytes)["image"], expected)
    seeded = _serve(exported_l1, jpeg_bytes, seed=4)["image"]
    np.testing.assert_array_equal(seeded, tfjpeg.decode(jpeg_bytes, "consistent-l1", seed=4))


def test_shipped_savedmodel_serves_what_tfjpeg_decode_gives(jpeg_bytes):
    folder = model_dir("consistent-l1")
    served = tf.saved_model.load(str(folder))
    tables = served.signatures["decode_coefficients"].structured_input_signature[1]["tables"]
    assert tables.shape[0] is None and "decode_bytes" in served.signatures  # current export
    expected = tfjpeg.decode(jpeg_bytes, decoder="consistent-l1")
    np.testing.assert_array_equal(_serve(folder, jpeg_bytes)["image"], expected)
    # q95 (tables of 1–2): the uint8 correction runs many rounds, so a graph exported with other
    # correction settings than tfjpeg.decoders.exact's gives other pixels. (The coefficient
    # signature: from q75 up the TF-only reader of the bytes signatures is not always exact.)
    data = pillow_jpeg(natural_image(40, 48, seed=3), 95, "420")
    out = served.signatures["decode_coefficients"](**core_inputs(read_jpeg(data)))["image"]
    np.testing.assert_array_equal(out.numpy(), tfjpeg.decode(data, decoder="consistent-l1"))


@pytest.mark.parametrize("name", names("decoder"))
def test_every_shipped_decoder_records_the_current_uint8_correction(name):
    """The served graph bakes the correction's settings in; the export records them, so a
    folder exported before they changed is caught here without loading it."""
    from tfjpeg.decoders import exact

    serving = json.loads((model_dir(name) / "keras_config.json").read_text())["serving"]
    assert serving["uint8_correction"] == {
        "iterations": exact.CORRECTION_ITERATIONS,
        "margin": exact.CORRECTION_MARGIN,
    }


def _announcing(height: int, width: int) -> bytes:
    """A small valid JPEG whose frame header announces ``height`` x ``width``."""
    data = bytearray(pillow_jpeg(natural_image(16, 16, seed=1), 50))
    pos = 2
    while data[pos + 1] != 0xC0:
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    data[pos + 5 : pos + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def test_decode_defaults_to_the_decoder_pixel_limit(monkeypatch):
    from tfjpeg.errors import ImageTooLargeError
    from tfjpeg.io.limits import MAX_PIXELS_ENV

    monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)
    big = _announcing(4000, 5000)  # 20 MP: under read_jpeg's 100 M, over the decoders' 16 M
    with pytest.raises(ImageTooLargeError, match="limit of 16,000,000"):
        tfjpeg.decode(big)
    monkeypatch.setenv(MAX_PIXELS_ENV, "1000")  # the environment can lower it
    with pytest.raises(ImageTooLargeError, match="limit of 1,000 "):
        tfjpeg.decode(pillow_jpeg(natural_image(40, 40), 50))
    monkeypatch.setenv(MAX_PIXELS_ENV, "50000000")  # ... but not raise it
    with pytest.raises(ImageTooLargeError, match="limit of 16,000,000"):
        tfjpeg.decode(big)
