"""tfjpeg.losses.PreEditLoss: eq. (5) of the pre-editing paper composed from its terms."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image

from tfjpeg.losses import (
    LOSS_KEYS,
    PreEditLoss,
    ms_ssim_loss,
    niqe,
    nlpd,
    total_variation,
)
from tfjpeg.losses.preedit import auto_niqe_patch_size


def _batch(size: int = 64, n: int = 2):
    z = np.stack([natural_image(size, size, seed=s) for s in range(n)]).astype(np.float32)
    rng = np.random.default_rng(1)
    decoded = np.clip(z + rng.normal(0, 8, z.shape), 0, 255).astype(np.float32)
    bits = np.array([4000.0, 9000.0][:n], np.float32)
    return z, decoded, bits


def test_terms_have_fixed_keys_and_total_is_eq5():
    z, decoded, bits = _batch(128)
    loss = PreEditLoss(
        distance="ms-ssim",
        lam=0.02,
        mu=1.0,
        quality_terms=("niqe", "tv"),
        quality_weights=(0.5, 2.0),
    )
    terms = loss(z, decoded, bits)
    assert tuple(terms) == LOSS_KEYS
    distance = ms_ssim_loss(decoded, z).numpy().mean()
    quality = (0.5 * niqe(decoded, patch_size=64) + 2.0 * total_variation(decoded)).numpy().mean()
    rate = (bits / (128 * 128)).mean()
    np.testing.assert_allclose(terms["distance"].numpy(), distance, rtol=1e-5)
    np.testing.assert_allclose(terms["quality"].numpy(), quality, rtol=1e-5)
    np.testing.assert_allclose(terms["rate"].numpy(), rate, rtol=1e-6)
    np.testing.assert_allclose(
        terms["total"].numpy(), distance + 0.02 * quality + 1.0 * rate, rtol=1e-5
    )


def test_reduction_none_gives_per_image_terms_and_bits_units():
    z, decoded, bits = _batch(64)
    per_image = PreEditLoss(
        distance="nlpd", quality_terms=(), reduction="none", rate_unit="bits", mu=0.5
    )(z, decoded, bits)
    for key in LOSS_KEYS:
        assert per_image[key].shape == (2,)
    np.testing.assert_allclose(per_image["quality"].numpy(), [0.0, 0.0])
    np.testing.assert_allclose(per_image["rate"].numpy(), bits)
    np.testing.assert_allclose(per_image["distance"].numpy(), nlpd(decoded, z).numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        per_image["total"].numpy(), per_image["distance"].numpy() + 0.5 * bits, rtol=1e-6
    )
    # bits given per block (N, blocks) are summed per image
    per_block = np.stack([bits / 4] * 4, axis=1)
    again = PreEditLoss(distance="l1", quality_terms=(), reduction="none")(z, decoded, per_block)
    np.testing.assert_allclose(again["rate"].numpy(), bits / 64**2, rtol=1e-6)


@pytest.mark.parametrize("distance", ["ms-ssim", "l1", "l2", "nlpd"])
def test_distance_term_is_zero_when_decoded_equals_original(distance):
    z, _, bits = _batch(64)
    terms = PreEditLoss(distance=distance, quality_terms=())(z, z, bits)
    assert abs(float(terms["distance"])) < 1e-6


def test_gradients_reach_decoded_image_and_bits_inside_tf_function():
    z, decoded, bits = _batch(96)
    x = tf.Variable(decoded)
    b = tf.Variable(bits)
    loss = PreEditLoss(quality_terms=("niqe", "tv"), niqe_patch_size=48)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            total = loss(z, x, b)["total"]
        return total, tape.gradient(total, [x, b])

    total, (gx, gb) = step()
    assert np.isfinite(total.numpy())
    assert np.all(np.isfinite(gx.numpy())) and np.abs(gx.numpy()).max() > 0
    np.testing.assert_allclose(gb.numpy(), np.full(2, 1.0 / (2 * 96 * 96)), rtol=1e-5)


def test_config_is_json_and_round_trips(tmp_path):
    loss = PreEditLoss(
        distance="l2",
        lam=0.1,
        mu=0.2,
        quality_terms=["tv", "niqe"],
        quality_weights=[1.0, 0.1],
        niqe_patch_size=32,
        reduction="none",
    )
    config = loss.get_config()
    json.dumps(config)
    for key in (
        "distance",
        "lam",
        "mu",
        "quality_terms",
        "quality_weights",
        "rate_unit",
        "reduction",
        "max_val",
        "niqe_patch_size",
        "vgg_weights",
        "vgg_layer",
        "nr_model_path",
    ):
        assert key in config
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert clone.get_config() == config
    z, decoded, bits = _batch(64)
    a, b = loss(z, decoded, bits), clone(z, decoded, bits)
    for key in LOSS_KEYS:
        np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), rtol=1e-6)


def test_external_quality_term_from_a_saved_model_file(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    path = str(tmp_path / "nr.keras")
    model.save(path)
    z, decoded, bits = _batch(32)
    loss = PreEditLoss(distance="l1", quality_terms=("external",), nr_model_path=path)
    quality = float(loss(z, decoded, bits)["quality"])
    probs = model(decoded / 255.0).numpy()
    np.testing.assert_allclose(quality, -(probs * np.arange(1, 11)).sum(-1).mean(), rtol=1e-5)
    assert not loss.trainable_weights


def test_auto_niqe_patch_size():
    assert auto_niqe_patch_size(512, 768) == 96
    assert auto_niqe_patch_size(192, 200) == 96
    assert auto_niqe_patch_size(128, 128) == 64
    assert auto_niqe_patch_size(160, 190) == 80
    assert auto_niqe_patch_size(20, 40) == 16


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"distance": "psnr"}, "distance must be one of"),
        ({"distance": "vgg"}, "vgg_weights"),
        ({"quality_terms": ("nima",)}, "quality_terms must be names"),
        ({"quality_terms": ("tv", "tv")}, "must not repeat"),
        ({"quality_terms": ("external",)}, "nr_model_path"),
        ({"quality_terms": ("tv",), "quality_weights": (1.0, 2.0)}, "one weight per"),
        ({"lam": -1.0}, "lam must be"),
        ({"rate_unit": "bytes"}, "rate_unit"),
        ({"reduction": "sum"}, "reduction"),
        ({"niqe_patch_size": 33}, "niqe_patch_size"),
    ],
)
def test_invalid_arguments_raise_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PreEditLoss(**kwargs)


def test_scalar_bits_are_rejected():
    z, decoded, _ = _batch(32)
    with pytest.raises(ValueError, match="one value per image"):
        PreEditLoss(distance="l1", quality_terms=())(z, decoded, tf.constant(5.0))


def test_per_image_terms_work_under_mirrored_strategy():
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "conftest splits the CPU into two logical devices"
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
    z, decoded, _ = _batch(48, n=4)
    bits = np.array([1000.0, 2000.0, 3000.0, 4000.0], np.float32)
    with strategy.scope():
        loss = PreEditLoss(distance="ms-ssim", quality_terms=("tv",), reduction="none")
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((z, decoded, bits)).batch(4)
    )

    @tf.function
    def step(batch):
        original, x, b = batch
        with tf.GradientTape() as tape:
            tape.watch(x)
            per_image = loss(original, x, b)["total"]
            value = tf.nn.compute_average_loss(per_image, global_batch_size=4)
        return value, tape.gradient(value, x)

    values, grads = strategy.run(step, args=(next(iter(dataset)),))
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None)
    grads = tf.concat(strategy.experimental_local_results(grads), axis=0)
    x = tf.constant(decoded)
    with tf.GradientTape() as tape:
        tape.watch(x)
        expected = tf.reduce_mean(
            PreEditLoss(distance="ms-ssim", quality_terms=("tv",))(z, x, bits)["total"]
        )
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-5)
    reference = tape.gradient(expected, x).numpy()
    assert np.abs(reference).max() > 1e-6
    np.testing.assert_allclose(grads.numpy(), reference, atol=1e-3 * np.abs(reference).max())


def test_per_sample_mu_equals_the_manual_combination():
    z, decoded, bits = _batch(64)
    loss = PreEditLoss(distance="l1", quality_terms=("tv",), lam=0.1, mu=3.0, reduction="none")
    mu = tf.constant([0.25, 0.5])
    terms = loss(z, decoded, bits, mu=mu)
    manual = terms["distance"] + 0.1 * terms["quality"] + mu * terms["rate"]
    np.testing.assert_array_equal(terms["total"].numpy(), manual.numpy())
    # a scalar mu applies to every image; None keeps the constructor's mu
    scalar = loss(z, decoded, bits, mu=0.25)["total"]
    default = loss(z, decoded, bits)["total"]
    np.testing.assert_allclose(scalar.numpy()[0], manual.numpy()[0], rtol=1e-6)
    constant = terms["distance"] + 0.1 * terms["quality"] + 3.0 * terms["rate"]
    np.testing.assert_allclose(default.numpy(), constant.numpy(), rtol=1e-6)
    assert not np.allclose(default.numpy(), manual.numpy())
    # with reduction="mean" the per-image weights are applied before the batch mean
    mean = PreEditLoss(distance="l1", quality_terms=("tv",), lam=0.1, mu=3.0)(
        z, decoded, bits, mu=mu
    )
    np.testing.assert_allclose(mean["total"].numpy(), manual.numpy().mean(), rtol=1e-6)
    with pytest.raises(ValueError, match="mu must be"):
        loss(z, decoded, bits, mu=tf.ones([2, 1]))
