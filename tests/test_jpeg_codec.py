"""DiffJPEG against real libjpeg-turbo (Pillow + jpeglib), and as a Keras layer."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import jpeglib_coefficients, natural_image, pillow_jpeg
from PIL import Image

from tfjpeg.errors import InvalidImageError
from tfjpeg.io import JpegCoefficients, encode_coefficients, read_jpeg
from tfjpeg.jpeg import (
    DiffJPEG,
    decode,
    quality_tables,
)


def _pillow_decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.mark.parametrize("subsampling", ["420", "422", "444"])
@pytest.mark.parametrize("quality", [5, 50, 95])
@pytest.mark.parametrize("size", [(64, 96), (37, 53)])
def test_hard_rounding_matches_libjpeg_coefficients_and_pixels(
    subsampling, quality, size, tmp_path
):
    image = natural_image(*size, seed=quality)
    data = pillow_jpeg(image, quality, subsampling)
    out = DiffJPEG(subsampling=subsampling, rounding="hard")(
        image[None].astype(np.float32), quality=quality
    )
    for ours, ref in zip(out["coefficients"], jpeglib_coefficients(data, tmp_path), strict=True):
        np.testing.assert_array_equal(ours.numpy()[0], ref)
    np.testing.assert_array_equal(out["decoded"].numpy()[0], _pillow_decode(data))


@pytest.mark.parametrize("quality", [10, 90])
def test_hard_rounding_matches_libjpeg_on_grayscale(quality, tmp_path):
    gray = natural_image(40, 72)[..., :1]
    data = pillow_jpeg(gray, quality)
    out = DiffJPEG(rounding="hard")(gray[None].astype(np.float32), quality=quality)
    (ref,) = jpeglib_coefficients(data, tmp_path)
    np.testing.assert_array_equal(out["coefficients"][0].numpy()[0], ref)
    assert len(out["coefficients"]) == 1
    np.testing.assert_array_equal(out["decoded"].numpy()[0, ..., 0], _pillow_decode(data))


def test_explicit_tables_match_a_pillow_file_with_custom_tables(tmp_path):
    image = natural_image(48, 48, seed=3)
    luma = np.arange(1, 65).reshape(8, 8)
    chroma = np.full((8, 8), 20)
    buf = io.BytesIO()
    # Pillow takes tables in natural order as flat lists
    Image.fromarray(image).save(
        buf, "JPEG", qtables=[luma.ravel().tolist(), chroma.ravel().tolist()], subsampling=2
    )
    data = buf.getvalue()
    out = DiffJPEG(rounding="hard")(image[None].astype(np.float32), tables=np.stack([luma, chroma]))
    for ours, ref in zip(out["coefficients"], jpeglib_coefficients(data, tmp_path), strict=True):
        np.testing.assert_array_equal(ours.numpy()[0], ref)


def test_per_component_tables_decode_a_file_whose_cr_has_its_own_table():
    image = natural_image(32, 48, seed=7)
    jpeg = read_jpeg(pillow_jpeg(image, 60))
    cr_table = np.full((8, 8), 7, np.uint16)
    three = JpegCoefficients(
        components=jpeg.components,
        tables=np.concatenate([jpeg.tables, cr_table[None]]),
        table_index=(0, 1, 2),
        sampling=jpeg.sampling,
        height=jpeg.height,
        width=jpeg.width,
    )
    data = encode_coefficients(three)
    assert read_jpeg(data).table_index == (0, 1, 2)
    coefficients = [tf.constant(c[None], tf.float32) for c in jpeg.components]
    tables = tf.constant(read_jpeg(data).component_tables[None], tf.float32)
    decoded = decode(coefficients, tables, 32, 48, exact=True).numpy()[0]
    np.testing.assert_array_equal(decoded, _pillow_decode(data))


def test_one_pixel_image_round_trips_with_its_shape():
    out = DiffJPEG(rounding="hard")(tf.constant([[[[200.0, 10.0, 30.0]]]]), quality=90)
    assert out["decoded"].shape == (1, 1, 1, 3)
    assert [c.shape[1:3] for c in out["coefficients"]] == [(1, 1)] * 3
    np.testing.assert_allclose(out["decoded"].numpy()[0, 0, 0], [200, 10, 30], atol=6)


def test_batch_with_mixed_qualities_equals_images_encoded_one_by_one():
    images = np.stack([natural_image(32, 40, seed=s) for s in range(3)]).astype(np.float32)
    qualities = [5, 50, 97]
    layer = DiffJPEG(rounding="hard")
    batch = layer(images, quality=qualities)
    for i, q in enumerate(qualities):
        single = layer(images[i : i + 1], quality=q)
        np.testing.assert_array_equal(batch["decoded"][i], single["decoded"][0])
        np.testing.assert_array_equal(batch["tables"][i], single["tables"][0])


def test_odd_sizes_are_padded_and_cropped_back():
    image = natural_image(29, 45, seed=5)[None].astype(np.float32)
    out = DiffJPEG(subsampling="420", rounding="poly3")(image, quality=95)
    assert out["decoded"].shape == image.shape
    assert [c.shape[1:3] for c in out["coefficients"]] == [(4, 6), (2, 3), (2, 3)]
    assert _psnr(out["decoded"].numpy(), image) > 33


@pytest.mark.parametrize("rounding", ["poly3", "ste", "noise"])
def test_differentiable_modes_give_finite_nonzero_gradients(rounding):
    image = tf.constant(natural_image(32, 32, seed=1)[None], tf.float32)
    quality = tf.Variable([30.0])
    layer = DiffJPEG(rounding=rounding)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(image)
        out = layer(image, quality=quality)
        loss = tf.reduce_mean((out["decoded"] - image) ** 2)
    grad = tape.gradient(loss, image).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0
    q_grad = tape.gradient(loss, quality).numpy()
    assert np.all(np.isfinite(q_grad)) and q_grad[0] != 0
    better = layer(image, quality=[90.0])["decoded"]
    assert float(tf.reduce_mean((better - image) ** 2)) < float(loss)


def test_hard_rounding_blocks_gradients():
    image = tf.constant(natural_image(16, 16)[None], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(image)
        coefficients = DiffJPEG(rounding="hard")(image, quality=50)["coefficients"]
        total = tf.add_n([tf.reduce_sum(c) for c in coefficients])
    grad = tape.gradient(total, image)
    assert grad is None or not np.any(grad.numpy())


def test_ste_forward_equals_hard_and_its_gradient_is_the_identity_on_coefficients():
    image = tf.constant(natural_image(24, 24, seed=2)[None], tf.float32)
    hard = DiffJPEG(rounding="hard")(image, quality=95)["coefficients"]
    with tf.GradientTape() as tape:
        tape.watch(image)
        out = DiffJPEG(rounding="ste")(image, quality=95)
        ste_sum = tf.reduce_sum(out["coefficients"][0])
        float_sum = tf.reduce_sum(out["unrounded"][0])
    for a, b in zip(hard, out["coefficients"], strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    g_ste = tape.gradient(ste_sum, image)
    with tf.GradientTape() as tape2:
        tape2.watch(image)
        float_sum = tf.reduce_sum(DiffJPEG(rounding="ste")(image, quality=95)["unrounded"][0])
    np.testing.assert_allclose(g_ste.numpy(), tape2.gradient(float_sum, image).numpy(), atol=1e-6)


def test_noise_rounding_stays_within_half_a_step():
    image = tf.constant(natural_image(16, 16)[None], tf.float32)
    out = DiffJPEG(rounding="noise")(image, quality=40)
    diff = out["coefficients"][0] - out["unrounded"][0]
    assert float(tf.reduce_max(tf.abs(diff))) <= 0.5
    assert float(tf.math.reduce_std(diff)) > 0.2  # roughly U(-1/2, 1/2): std 0.289


@pytest.mark.parametrize("rounding", ["poly3", "ste"])
def test_differentiable_modes_stay_close_to_the_real_jpeg(rounding):
    image = natural_image(64, 96, seed=4)
    data = pillow_jpeg(image, 50)
    out = DiffJPEG(rounding=rounding)(image[None].astype(np.float32), quality=50)
    floor_db = 45 if rounding == "ste" else 30
    assert _psnr(out["decoded"].numpy()[0], _pillow_decode(data)) > floor_db


def test_decode_of_real_coefficients_reproduces_pillow(tmp_path):
    image = natural_image(40, 56, seed=6)
    data = pillow_jpeg(image, 35)
    coefs = [tf.constant(c[None], tf.float32) for c in jpeglib_coefficients(data, tmp_path)]
    tables = quality_tables(35)
    exact = decode(coefs, tables, 40, 56, exact=True).numpy()[0]
    np.testing.assert_array_equal(exact, _pillow_decode(data))
    approx = decode(coefs, tables, 40, 56).numpy()[0]
    assert _psnr(approx, _pillow_decode(data)) > 45


def test_layer_works_inside_tf_function_with_dynamic_shapes():
    layer = DiffJPEG(rounding="poly3")
    fn = tf.function(
        lambda x, q: layer(x, quality=q)["decoded"],
        input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.float32),
            tf.TensorSpec([None], tf.float32),
        ],
    )
    for shape in [(2, 24, 40, 3), (1, 17, 9, 3)]:
        x = tf.random.stateless_uniform(shape, seed=[0, 1], maxval=255.0)
        q = tf.fill([shape[0]], 60.0)
        np.testing.assert_allclose(
            fn(x, q).numpy(), layer(x, quality=q)["decoded"].numpy(), atol=1e-3
        )


def test_get_config_round_trip_preserves_behaviour():
    layer = DiffJPEG(subsampling="422", rounding="ste", quality=33, upsampling="nearest")
    config = layer.get_config()
    clone = DiffJPEG.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, DiffJPEG) and restored.quality == 33
    x = tf.constant(natural_image(16, 24)[None], tf.float32)
    np.testing.assert_array_equal(layer(x)["decoded"].numpy(), restored(x)["decoded"].numpy())


def test_layer_inside_a_saved_keras_model_reloads(tmp_path):
    inputs = keras.Input((16, 16, 3))
    outputs = DiffJPEG(rounding="poly3", quality=20)(inputs)["decoded"]
    model = keras.Model(inputs, outputs)
    path = tmp_path / "m.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    x = natural_image(16, 16)[None].astype(np.float32)
    np.testing.assert_allclose(reloaded(x).numpy(), model(x).numpy(), atol=1e-4)


def test_mirrored_strategy_on_two_logical_cpus_matches_single_device():
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "conftest splits the CPU into two logical devices"
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
    images = tf.constant(np.stack([natural_image(16, 16, seed=s) for s in range(4)]), tf.float32)
    with strategy.scope():
        layer = DiffJPEG(rounding="poly3")
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(images).batch(4)
    )

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_mean(layer(x, quality=25)["decoded"])
        return tape.gradient(loss, x)

    per_replica = strategy.run(step, args=(next(iter(dataset)),))
    grads = tf.concat(strategy.experimental_local_results(per_replica), axis=0)
    assert len(strategy.experimental_local_results(per_replica)) == 2
    with tf.GradientTape() as tape:
        tape.watch(images)
        parts = [tf.reduce_mean(layer(images[i : i + 2], quality=25)["decoded"]) for i in (0, 2)]
        total = tf.add_n(parts)
    np.testing.assert_allclose(grads.numpy(), tape.gradient(total, images).numpy(), atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"subsampling": "411"}, "subsampling"),
        ({"rounding": "floor"}, "rounding"),
        ({"quality": 0}, "quality"),
        ({"quality": 50.5}, "quality"),
        ({"upsampling": "bicubic"}, "upsampling"),
    ],
)
def test_invalid_layer_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DiffJPEG(**kwargs)


def test_wrong_image_shape_raises_a_tfjpeg_error():
    with pytest.raises(InvalidImageError, match="shape"):
        DiffJPEG()(tf.zeros([8, 8, 3]))
    with pytest.raises(InvalidImageError, match="shape"):
        DiffJPEG()(tf.zeros([1, 8, 8, 4]))


@pytest.mark.parametrize(
    "quality", [0, 101, 150.0, float("nan"), [50, 0], np.zeros([2, 0]), [50, 60, 70]]
)
def test_known_out_of_range_or_misshaped_quality_raises_value_error(quality):
    images = tf.zeros([2, 8, 8, 3])
    with pytest.raises(ValueError, match="quality"):
        DiffJPEG(rounding="hard")(images, quality=quality)
    with pytest.raises(ValueError, match="quality"):  # also for constants inside a graph
        tf.function(lambda x: DiffJPEG(rounding="poly3")(x, quality=quality)["decoded"])(images)


def test_symbolic_quality_inside_a_graph_is_accepted_and_a_variable_is_checked_eagerly():
    images = tf.fill([1, 8, 8, 3], 100.0)
    layer = DiffJPEG(rounding="poly3")
    run = tf.function(lambda x, q: layer(x, quality=q)["tables"])
    np.testing.assert_array_equal(run(images, tf.constant([50.0]))[0], quality_tables(50)[0])
    # One value per image in any layout, as quality_tables takes it:
    np.testing.assert_array_equal(layer(images, quality=[[75]])["tables"], quality_tables(75))
    with pytest.raises(ValueError, match=r"\[1, 100\]"):
        layer(images, quality=tf.Variable([0.5]))


def test_non_finite_or_non_numeric_images_raise_a_tfjpeg_error():
    bad = np.full([1, 8, 8, 3], 128.0, np.float32)
    bad[0, 3, 4, 1] = np.nan
    with pytest.raises(InvalidImageError, match="finite"):
        DiffJPEG(rounding="hard")(bad, quality=50)
    bad[0, 3, 4, 1] = np.inf
    with pytest.raises(InvalidImageError, match="finite"):
        DiffJPEG(rounding="poly3")(bad, quality=50)
    with pytest.raises(InvalidImageError, match="numeric"):
        DiffJPEG()(tf.zeros([1, 8, 8, 3], tf.bool))


@pytest.mark.parametrize("subsampling", ["420", "422"])
def test_exact_decode_with_nearest_upsampling_matches_libjpeg_without_fancy_upsampling(
    subsampling, tmp_path
):
    image = natural_image(37, 53, seed=11)
    data = pillow_jpeg(image, 75, subsampling)
    coeffs = read_jpeg(data)
    ours = decode(
        [tf.constant(c[None].astype(np.float32)) for c in coeffs.components],
        tf.constant(coeffs.component_tables[None].astype(np.float32)),
        coeffs.height,
        coeffs.width,
        subsampling,
        upsampling="nearest",
        exact=True,
    ).numpy()[0]
    # libjpeg's plain (replicating, "merged") upsampler, as tf.io.decode_jpeg uses it.
    ref = tf.io.decode_jpeg(data, dct_method="INTEGER_ACCURATE", fancy_upscaling=False).numpy()
    np.testing.assert_array_equal(ours, ref)
    assert not np.array_equal(ours, _pillow_decode(data))  # fancy upsampling differs
