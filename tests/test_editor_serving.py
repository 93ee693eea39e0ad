"""Editor SavedModels (edit_bytes, edit_tensor), the registry, tfjpeg.compress, the CLI."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.conftest import natural_image, pillow_jpeg
from tfjpeg.api import compression
from tfjpeg.editors import SmoothingEditor, SpatialTransformerEditor
from tfjpeg.editors.inference import edit_and_encode, edit_image
from tfjpeg.errors import InvalidImageError, TfjpegError
from tfjpeg.io import decode_pixels, read_jpeg
from tfjpeg.models import REGISTRY, SAVED_MODELS_ENV, model_dir
from tfjpeg.serving import export_editor, load_keras_editor


def _trained_like(editor, seed=0):
    editor(tf.zeros([1, 16, 16, 3]))
    rng = np.random.default_rng(seed)
    for w in editor.trainable_weights:
        w.assign(w + rng.normal(0, 0.03, w.shape).astype("float32"))
    return editor


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny smoothing editor exported under a fake saved_models root as 'smoothing/1'."""
    root = tmp_path_factory.mktemp("saved_models")
    editor = _trained_like(SmoothingEditor(filters=8))
    export_editor(editor, root / "smoothing" / "1")
    return root, editor


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def test_saved_model_signatures_reproduce_the_keras_editor(exported):
    root, editor = exported
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


def test_saved_model_rejects_bad_quality_and_bad_bytes(exported):
    root, _ = exported
    served = tf.saved_model.load(str(root / "smoothing" / "1"))
    sig = served.signatures["edit_bytes"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="quality"):
        sig(image_bytes=tf.constant(_png(natural_image(8, 8))), quality=tf.constant(0.0))
    with pytest.raises(tf.errors.InvalidArgumentError):
        sig(image_bytes=tf.constant(b"not an image"), quality=tf.constant(20.0))


def test_keras_editor_reloads_and_registry_finds_it(exported, monkeypatch, tmp_path):
    root, editor = exported
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


def test_tiled_editing_equals_whole_image_editing():
    editor = _trained_like(SpatialTransformerEditor(filters=8, context_layers=1), seed=1)
    image = natural_image(40, 72, seed=3)
    whole = edit_image(editor, image, 15, tile_size=1024)
    tiled = edit_image(editor, image, 15, tile_size=16, overlap=96)
    np.testing.assert_array_equal(tiled, whole)
    assert np.abs(whole.astype(int) - image).max() > 0


def test_compress_writes_a_standard_jpeg_with_the_edited_pixels(exported, monkeypatch):
    root, editor = exported
    monkeypatch.setenv(SAVED_MODELS_ENV, str(root))
    image = natural_image(48, 64)
    data = compression.compress(image, quality=30, editor="smoothing")
    coeffs = read_jpeg(data)
    assert (coeffs.height, coeffs.width) == (48, 64)
    # The conditioning quality is clamped into the training range; the file uses quality 30.
    edited = edit_image(editor, image, 25)
    assert data == compression.encode_pixels_for_test(edited, 30)
    assert data == edit_and_encode(editor, image, 30, "libjpeg")
    plain = compression.compress(image, quality=30, editor="none")
    assert plain == compression.encode_pixels_for_test(image, 30)
    assert plain != data
    moz = compression.compress(image, quality=30, editor="none", encoder="mozjpeg")
    assert decode_pixels(moz).shape == (48, 64, 3) and moz != plain


def test_compress_target_bpp_picks_the_largest_quality_that_fits():
    image = natural_image(64, 96, seed=2)
    result = compression.compress_image(image, target_bpp=1.0, editor="none")
    assert result.bpp <= 1.0
    above = compression.compress_image(image, quality=result.quality + 1, editor="none")
    assert above.bpp > 1.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiny = compression.compress_image(image, target_bpp=0.001, editor="none")
    assert tiny.quality == 1 and any("quality 1" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"quality": 10, "target_bpp": 1.0}, ValueError),
        ({"quality": 0}, ValueError),
        ({"target_bpp": -1}, ValueError),
        ({"encoder": "webp"}, ValueError),
        ({"editor": "blur"}, TfjpegError),
    ],
)
def test_compress_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        compression.compress(natural_image(16, 16), **kwargs)


def test_compress_rejects_bad_images(tmp_path):
    with pytest.raises(InvalidImageError):
        compression.compress(np.zeros((8, 8, 3), np.float32), editor="none")
    with pytest.raises(InvalidImageError):
        compression.compress(b"garbage bytes", editor="none")
    with pytest.raises(InvalidImageError):
        compression.compress(tmp_path / "missing.png", editor="none")


def test_compress_keeps_grayscale_images_gray(exported, monkeypatch):
    root, _ = exported
    monkeypatch.setenv(SAVED_MODELS_ENV, str(root))
    gray = natural_image(24, 24)[..., :1]
    data = compression.compress(gray, quality=20)
    assert read_jpeg(data).num_components == 1
