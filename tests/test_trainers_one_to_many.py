"""trainers/one_to_many: one step, a few steps on tiny crops and resume; the exported SavedModel
decodes a seed exactly as ``tfjpeg.decode`` does."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, natural_image, pillow_jpeg
from PIL import Image

import tfjpeg
from tfjpeg.errors import TfjpegError
from tfjpeg.losses.one_to_many import perceptual_distance
from tfjpeg.models.presets import load_folder
from trainers.common import load_config
from trainers.one_to_many import train as otm_train
from trainers.one_to_many.steps import OneToManySteps

TINY = {
    "crop_size": 32,
    "batch_size": 2,
    "log_every": 1,
    "checkpoint_every": 2,
    "model": {"width": 4, "branch_units": 1, "aggregate_units": 1},
    "critic": {"width": 4, "depth": 1},
    "losses": {"warmup_steps": 1},
}


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train")
    for i in range(3):
        Image.fromarray(natural_image(48, 64, seed=i)).save(folder / f"img{i}.png")
    return folder


def _tiny_steps(decoder, critic, losses: dict) -> OneToManySteps:
    """The steps of a tiny pair with Adam 1e-3 on both networks, NLPD, batch 2."""
    return OneToManySteps(
        decoder,
        keras.optimizers.Adam(1e-3),
        critic,
        keras.optimizers.Adam(1e-3),
        perceptual_distance(None),
        global_batch_size=2,
        **losses,
    )


def test_one_step_updates_both_networks_on_all_three_losses():
    """One eager step (no loop, no tracing): the discriminator and the proposal network move,
    and the losses are finite; the naturalness term is off during the warmup."""
    config = otm_train._merged(TINY)
    decoder, critic = otm_train.build_models(config)
    steps = _tiny_steps(decoder, critic, {**config["losses"], "warmup_steps": 1})
    head = next(w for w in critic.trainable_variables if w.path.endswith("head/kernel"))
    before = [w.numpy().copy() for w in (decoder.up.kernel, head)]
    images = tf.constant(np.stack([natural_image(32, 32, seed=i) for i in range(2)]), tf.float32)
    out = steps.train_step({"images": images, "quality": tf.constant([10.0, 40.0])}, tf.constant(0))
    assert all(np.isfinite(float(v)) for v in out.values())
    assert float(out["perceptual"]) > 0.0 and float(out["loss"]) == pytest.approx(
        float(out["perceptual"]) + 0.01 * float(out["jpeg"]), rel=1e-4
    )  # warmup: no naturalness term yet
    after = [w.numpy() for w in (decoder.up.kernel, head)]
    assert all(np.abs(a - b).max() > 0 for a, b in zip(after, before, strict=True))


def test_diversity_term_runs_the_batch_twice_and_trains_the_noise_branch():
    """diversity_weight > 0: eq. 7 averaged over two proposals minus λ_d times the bounded
    ratio, and the noise branch gets a gradient (with a non-zero last layer)."""
    config = otm_train._merged(TINY)
    decoder, critic = otm_train.build_models(config)
    decoder.up.kernel.assign(tf.random.stateless_normal(decoder.up.kernel.shape, [0, 3]) * 0.1)
    losses = {**config["losses"], "warmup_steps": 1, "diversity_weight": 2.0}
    steps = _tiny_steps(decoder, critic, {**losses, "diversity_bound": 10.0})
    before = decoder.noise_stem.kernel.numpy().copy()
    images = tf.constant(np.stack([natural_image(32, 32, seed=i) for i in range(2)]), tf.float32)
    out = steps.train_step({"images": images, "quality": tf.constant([10.0, 40.0])}, tf.constant(0))
    assert 0.0 < float(out["diversity"]) < 10.0  # the samples differ, below the bound
    expected = float(out["perceptual"]) + 0.01 * float(out["jpeg"]) - 2.0 * float(out["diversity"])
    assert float(out["loss"]) == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert np.abs(decoder.noise_stem.kernel.numpy() - before).max() > 0
    with pytest.raises(ValueError, match="diversity_weight"):
        OneToManySteps(decoder, None, critic, None, nlpd_stub, 2, diversity_weight=-1.0)


def test_mean_term_alone_also_runs_two_proposals_and_adds_their_first_moment():
    """mean_weight > 0 without diversity: two proposals, eq. 7 averaged over them plus λ_m times
    the squared error of their mean ([0, 1] units), which is no larger than a proposal's own."""
    config = otm_train._merged(TINY)
    decoder, critic = otm_train.build_models(config)
    decoder.up.kernel.assign(tf.random.stateless_normal(decoder.up.kernel.shape, [0, 3]) * 0.1)
    losses = {**config["losses"], "warmup_steps": 1, "mean_weight": 50.0}
    steps = _tiny_steps(decoder, critic, losses)
    images = tf.constant(np.stack([natural_image(32, 32, seed=i) for i in range(2)]), tf.float32)
    out = steps.train_step({"images": images, "quality": tf.constant([10.0, 40.0])}, tf.constant(0))
    assert "diversity" not in out
    single = 10.0 ** (-float(out["psnr"]) / 10.0)  # the first proposal's (rounded) error
    assert 0.0 < float(out["mean_mse"]) < 1.5 * single
    expected = float(out["perceptual"]) + 0.01 * float(out["jpeg"]) + 50.0 * float(out["mean_mse"])
    assert float(out["loss"]) == pytest.approx(expected, rel=1e-4, abs=1e-6)
    with pytest.raises(ValueError, match="mean_weight"):
        OneToManySteps(decoder, None, critic, None, nlpd_stub, 2, mean_weight=-1.0)


def nlpd_stub(x, y):  # never called: the constructor refuses first
    raise AssertionError


def test_init_warm_starts_from_an_export_or_a_run_and_refuses_a_mismatch(tmp_path):
    from tfjpeg.models.saving import save_keras_model

    config = otm_train._merged(TINY)
    source, source_critic = otm_train.build_models(config)
    for w in source.weights + source_critic.weights:
        w.assign(tf.random.stateless_normal(w.shape, [1, 2]))
    save_keras_model(source, tmp_path / "export")
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=source, critic=source_critic),
        str(tmp_path / "run" / "checkpoints"),
        1,
    )
    manager.save()
    decoder, critic = otm_train.build_models(config)
    for where, kind, critic_too in (("export", "export", False), ("run", "checkpoint", True)):
        for w in decoder.weights:
            w.assign(tf.zeros_like(w))
        assert otm_train.load_init(decoder, critic, tmp_path / where) == kind
        for a, b in zip(decoder.weights, source.weights, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        same = all(
            np.array_equal(a.numpy(), b.numpy())
            for a, b in zip(critic.weights, source_critic.weights, strict=True)
        )
        assert same == critic_too
    wider, wider_critic = otm_train.build_models(otm_train._merged({**TINY, "model": {"width": 8}}))
    for where in ("export", "run"):
        with pytest.raises(TfjpegError, match="does not fit"):
            otm_train.load_init(wider, wider_critic, tmp_path / where)
    with pytest.raises(TfjpegError, match="neither an exported"):
        otm_train.load_init(wider, wider_critic, tmp_path)


@pytest.mark.slow
def test_train_then_resume(tmp_path, train_dir, monkeypatch):
    monkeypatch.setenv("TFJPEG_TRAIN_DIR", str(train_dir))
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({**TINY, "steps": 2}))
    run_dir = tmp_path / "run"
    assert otm_train.main(["--config", str(config), "--run-dir", str(run_dir)]) == 0
    assert tf.train.latest_checkpoint(str(run_dir / "checkpoints")).endswith("-2")
    assert any((run_dir / "logs").iterdir())
    argv = ["--config", str(config), "--run-dir", str(run_dir), "--steps", "3"]
    assert otm_train.main(argv) == 0  # resumed from step 2
    latest = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
    assert latest.endswith("-3")
    up = tf.train.load_checkpoint(latest).get_tensor("model/up/kernel/.ATTRIBUTES/VARIABLE_VALUE")
    assert np.abs(up).max() > 0  # the zero-initialised deconvolution has learned
    assert json.loads((run_dir / "config.json").read_text())["model"]["width"] == 4


def test_committed_configs_merge_and_bad_config_keys_are_refused():
    for name in ("decoder_one_to_many.json", "decoder_one_to_many_paper.json"):
        config = otm_train._merged(load_config(REPO / "trainers" / "configs" / name))
        assert config["model"]["width"] in (32, 64) and config["vgg_weights"] is None
        assert config["losses"]["diversity_weight"] == 0.0  # the paper's loss
    diverse = otm_train._merged(
        load_config(REPO / "trainers" / "configs" / "decoder_one_to_many_diverse.json")
    )
    assert diverse["losses"]["diversity_weight"] > 0 and diverse["init"]
    assert diverse["model"] == otm_train._merged(load_config(
        REPO / "trainers" / "configs" / "decoder_one_to_many.json"
    ))["model"]  # fmt: skip
    with pytest.raises(TfjpegError, match="unknown one-to-many config key"):
        otm_train._merged({"phase": "gan"})
    with pytest.raises(TfjpegError, match="unknown keys in 'losses'"):
        otm_train._merged({"losses": {"map_weight": 1.0}})
    with pytest.raises(TfjpegError, match="crop_size"):
        otm_train._merged({"crop_size": 24})


@pytest.mark.slow
def test_savedmodel_decodes_a_seed_as_tfjpeg_decode(tmp_path):
    from tfjpeg.decoders import OneToManyDecoder
    from tfjpeg.models.saving import build_model
    from tfjpeg.serving.decoders import export_decoder

    tf.keras.utils.set_random_seed(2)
    model = OneToManyDecoder(width=4, branch_units=0, aggregate_units=1)
    build_model(model)
    for w in model.weights:  # random weights, the deconvolution included
        w.assign(tf.random.normal(w.shape, stddev=0.2) + (0.6 if "variance" in w.path else 0))
    folder = export_decoder(model, tmp_path / "1")
    served = tf.saved_model.load(str(folder)).signatures["decode_bytes"]
    for data in (pillow_jpeg(natural_image(40, 56, seed=6), 10), pillow_jpeg(
        natural_image(24, 24, seed=7)[..., :1], 10
    )):  # fmt: skip
        for seed in (-1, 5):
            out = served(jpeg_bytes=tf.constant(data), seed=tf.constant(seed, tf.int64))
            expected = tfjpeg.decode(data, decoder=model, seed=None if seed < 0 else seed)
            np.testing.assert_array_equal(out["image"].numpy(), expected)
    assert isinstance(load_folder(folder), OneToManyDecoder)


@pytest.mark.slow
def test_validate_measures_the_spread_and_the_mean_of_the_seeds():
    """An untrained model is the standard decoding for every z: no spread, and the mean of
    the seeds is each seed; a random one differs between seeds, each sample consistent."""
    from tfjpeg.decoders import OneToManyDecoder
    from tfjpeg.models.saving import build_model
    from trainers.one_to_many.validate import validate

    crops = [(f"c{i}", natural_image(32, 48, seed=i)) for i in range(2)]
    model = OneToManyDecoder(width=4, branch_units=0, aggregate_units=1)
    build_model(model)
    flat = validate(model, crops, 10, 2, baselines=())["one-to-many (single seeds)"]
    assert flat["pixel_std_over_seeds"] == 0.0
    assert flat["psnr_rgb_mean_of_seeds"] == pytest.approx(flat["psnr_rgb"], abs=1e-5)
    tf.keras.utils.set_random_seed(3)
    for w in model.weights:
        w.assign(tf.random.normal(w.shape, stddev=0.2) + (0.6 if "variance" in w.path else 0))
    flat = validate(model, crops, 10, 3, baselines=())["one-to-many (single seeds)"]
    assert flat["pixel_std_over_seeds"] > 0.0 and flat["consistent_uint8"] == 1.0
