"""Editor SavedModels (edit_bytes, edit_tensor) and the Keras editor they reload."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.conftest import natural_image, pillow_jpeg
from tfjpeg.errors import TfjpegError
from tfjpeg.io import decode_pixels
from tfjpeg.models import REGISTRY, SAVED_MODELS_ENV, model_dir
from tfjpeg.serving import load_keras_editor


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def test_saved_model_signatures_reproduce_the_keras_editor(exported_smoothing):
    root, editor = exported_smoothing
    served = tf.saved_model.load(str(root / "smoothing" / "1"))
    assert set(served.signatures) == {"serving_default", "edit_bytes", "edit_tensor"}
    image = natural_image(21, 37)
    ref = np.asarray(editor(image[None].astype("float32"), quality=[12.0])["edited"])[0]
    for data in (_png(image), pillow_jpeg(image, 95)):
        source = image if data[:4] == b"\x89PNG" else decode_pixels(data)
        ref = np.asarray(editor(source[None].astype("float32"), quality=[12.0])["edited"])[0]
        out = served.signatures["edit_bytes"](
            image_bytes=tf.constant(data), quality=tf.constant(12.0)
        )
        assert out["edited"].dtype == tf.uint8 and out["edited"].shape == (21, 37, 3)
        np.testing.assert_allclose(out["edited"].numpy(), np.round(ref), atol=1)
        png = np.asarray(Image.open(io.BytesIO(out["png_bytes"].numpy())))
        np.testing.assert_array_equal(png, out["edited"].numpy())
        # serving_default: a batch of files (here the same file twice), one quality each
        batch = served.signatures["serving_default"](
            image_bytes=tf.constant([data, data]), quality=tf.constant([12.0, 12.0])
        )
        assert batch["png_bytes"].shape == (2,) and list(batch["height"].numpy()) == [21, 21]
        for png_bytes in batch["png_bytes"].numpy():
            np.testing.assert_array_equal(tf.io.decode_png(png_bytes).numpy(), png)
    batch = np.stack([image, image[::-1]]).astype("float32")
    tensor = served.signatures["edit_tensor"](
        images=tf.constant(batch), quality=tf.constant([12.0, 20.0])
    )["edited"]
    expected = editor(batch, quality=[12.0, 20.0])["edited"]
    np.testing.assert_allclose(tensor.numpy(), np.asarray(expected), atol=1e-3)


def test_saved_model_rejects_bad_quality_and_bad_bytes(exported_smoothing):
    root, _ = exported_smoothing
    served = tf.saved_model.load(str(root / "smoothing" / "1"))
    sig = served.signatures["edit_bytes"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="quality"):
        sig(image_bytes=tf.constant(_png(natural_image(8, 8))), quality=tf.constant(0.0))
    with pytest.raises(tf.errors.InvalidArgumentError):
        sig(image_bytes=tf.constant(b"not an image"), quality=tf.constant(20.0))


def test_keras_editor_reloads_and_registry_finds_it(exported_smoothing, monkeypatch, tmp_path):
    root, editor = exported_smoothing
    monkeypatch.setenv(SAVED_MODELS_ENV, str(root))
    folder = model_dir("smoothing", family="editor")
    loaded = load_keras_editor(folder)
    x = natural_image(16, 24)[None].astype("float32")
    np.testing.assert_allclose(
        np.asarray(loaded(x, quality=9.0)["edited"]), np.asarray(editor(x, quality=9.0)["edited"])
    )
    assert set(REGISTRY) >= {"smoothing", "stn", "cascade"}
    with pytest.raises(TfjpegError, match="unknown model"):
        model_dir("nope")
    with pytest.raises(TfjpegError, match="not installed"):
        model_dir("stn")
    with pytest.raises(TfjpegError, match="not an exported editor"):
        load_keras_editor(tmp_path)
