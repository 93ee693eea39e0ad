"""trainers/editor: both phases on tiny crops, resume, warm starts, export, mirrored; the steps'
shared encoding (DiffJPEG coefficients priced by the rate predictor) and μ(q) per image."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.conftest import natural_image
from tfjpeg.editors import CascadeEditor
from tfjpeg.errors import TfjpegError
from trainers.editor import train as editor_train

TINY_SMOOTHING = {"filters": 8, "num_blocks": 1}
TINY_STN = {"filters": 8, "context_layers": 1}


@pytest.fixture(scope="module")
def image_dirs(tmp_path_factory):
    """A training folder of 4 small PNGs and an 'eval' folder with 1 image."""
    root = tmp_path_factory.mktemp("editor_data")
    train, evals = root / "train", root / "eval"
    train.mkdir()
    evals.mkdir()
    for i in range(4):
        Image.fromarray(natural_image(48, 64, seed=i)).save(train / f"img{i}.png")
    Image.fromarray(natural_image(48, 64, seed=7)).save(evals / "e0.png")
    return train, evals


def _config(image_dirs, **overrides):
    train, _ = image_dirs
    config = {
        "editor": "smoothing",
        "editor_config": TINY_SMOOTHING,
        "data": {"crop_size": 32, "batch_size": 2},
        "data_dir": str(train),
        # The factorized rate model traces much faster than the Huffman-aware one; the trainer
        # treats both alike (RatePredictor bits → bpp).
        "rate": {"model": "factorized", "weights": None},
        "loss": {"quality_terms": ["tv"]},
        "optimizer": {"learning_rate": 1e-3},
        "steps": 2,
        "checkpoint_every": 2,
        "log_every": 1,
        "image_every": 0,
    }
    config.update(overrides)
    return config


def _write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def test_pretrain_phase_learns_to_denoise_and_resumes(image_dirs, tmp_path):
    config = _config(image_dirs, phase="pretrain", noise_sigma_range=[0.1, 0.15], steps=3)
    run = tmp_path / "run"
    history = editor_train.train(config, run)
    assert history["step"] == 3
    losses = [entry[1] for entry in history["log"]]
    assert all(np.isfinite(v["total"]) for v in losses)
    # The denoising loss starts below the noise it removes only after learning; at least the
    # noise level itself must be what the sampled σ ∈ [0.1, 0.15] gives (σ² ≈ 0.01–0.02).
    assert all(0.005 < v["noisy_l2"] < 0.03 for v in losses)
    saved = json.loads((run / "config.json").read_text())
    assert saved == editor_train.full_config(config)
    resumed = editor_train.train({**config, "steps": 5}, run)
    assert (resumed["start_step"], resumed["step"]) == (3, 5)


def _event_scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value)]} of the run's TensorBoard records."""
    from tensorflow.core.util import event_pb2

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(run.glob("logs/**/*tfevents*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor))
                scalars.setdefault(value.tag, []).append((event.step, number))
    return scalars


def test_preedit_phase_runs_eq5_with_validation_evaluation_and_exports(image_dirs, tmp_path):
    """Evaluated on the validation image of the training folder with the real encoder, the best
    checkpoint is the one with the lowest validation score, and the proxy-vs-real gap is
    logged; the exported model is the trained one."""
    pytest.importorskip("tfjpeg.rate", reason="the eq. 5 phase needs tfjpeg.rate.RatePredictor")
    config = _config(
        image_dirs,
        editor="stn",
        editor_config=TINY_STN,
        mu_by_quality=[[8, 0.5], [25, 0.1]],
        optimizer={"learning_rate": 0.05},  # large steps: the score changes between evaluations
        eval={"images": 1, "crop": 32, "qualities": [10, 20]},
        eval_every=1,
    )
    run = tmp_path / "run"
    assert (
        editor_train.main(["--config", str(_write(tmp_path, config)), "--run-dir", str(run)]) == 0
    )
    history = json.loads(next(run.glob("history_*.json")).read_text())
    terms = history["losses"]
    assert set(terms) >= {"total", "distance", "quality", "rate", "bpp", "edit_rmse"}
    assert terms["bpp"] > 0.0 and terms["rate"] == pytest.approx(terms["bpp"], rel=1e-4)
    evals = history["eval"]
    assert [step for step, _ in evals] == [1, 2]
    for _, evaluation in evals:
        assert evaluation["bpp"] > 0 and 0 < evaluation["ms_ssim"] <= 1
        assert np.isfinite(evaluation["score"])
        # (the test's uncalibrated factorized rate model is far off; the gap shows by how much)
        assert evaluation["gap/q10/bits_rel_error"] == pytest.approx(
            evaluation["gap/q10/bpp_predicted"] / evaluation["gap/q10/bpp_real"] - 1
        )
        assert evaluation["gap/distance_real"] > 0 and evaluation["gap/distance_proxy"] > 0
        # both sides measured; no ratio bound: the uncalibrated test model is off by 2x or more,
        # depending on the crops the run evaluates (with or without the data folders)
        assert evaluation["gap/q10/bpp_real"] > 0 and evaluation["gap/q10/bpp_predicted"] > 0
    best = json.loads((run / editor_train.BEST_INFO).read_text())
    best_step, best_eval = min(evals, key=lambda item: item[1]["score"])
    assert best["step"] == best_step and best["score"] == pytest.approx(best_eval["score"])
    assert best["images"] == ["img0"]  # the validation image of the training folder
    assert "equal MS-SSIM" in best["selected_by"]
    assert (run / editor_train.BEST_WEIGHTS).is_file()
    scalars = _event_scalars(run)
    for tag in (
        "eval/score",
        "eval/gap/bits_rel_error",
        "eval/gap/distance_ratio",
        "eval/gap/bpp_predicted",
        "eval/gap/bpp_real",
        "eval/gap/q20/distance_real",
    ):
        assert [step for step, _ in scalars[tag]] == [1, 2], tag  # fmt: skip
    assert scalars["eval/score"][0][1] == pytest.approx(evals[0][1]["score"], rel=1e-5)
    out = tmp_path / "exported" / "1"
    assert editor_train.main(["export", "--run-dir", str(run), "--out", str(out)]) == 0
    served = tf.saved_model.load(str(out))
    editor = editor_train.build_editor(editor_train.full_config(config))
    editor_train.load_init(editor, run)
    x = natural_image(24, 40)[None].astype("float32")
    got = served.signatures["edit_tensor"](images=tf.constant(x), quality=tf.constant([12.0]))
    np.testing.assert_allclose(
        got["edited"].numpy(), np.asarray(editor(x, quality=[12.0])["edited"]), atol=1e-3
    )


def test_evaluation_images_must_be_validation_images(image_dirs):
    from trainers.editor.validation import validation_crops

    train, _ = image_dirs
    ((name, crop),) = validation_crops(train, ["img0.png"], 56)  # 48 x 64: padded to 56
    assert name == "img0" and crop.shape == (56, 56, 3)
    with pytest.raises(ValueError, match="not validation"):
        validation_crops(train, ["img1.png"], 32)  # a training image
    with pytest.raises(ValueError, match="not validation"):
        validation_crops(train, ["kodim23.png"], 32)


def test_init_rejects_a_checkpoint_of_another_editor(image_dirs, tmp_path):
    run = tmp_path / "run"
    editor_train.train(_config(image_dirs, phase="pretrain", steps=1), run)
    other = editor_train.build_editor({"editor": "stn", "editor_config": TINY_STN})
    with pytest.raises(TfjpegError, match="does not hold this editor"):
        editor_train.load_init(other, run)
    same = editor_train.build_editor({"editor": "smoothing", "editor_config": TINY_SMOOTHING})
    editor_train.load_init(same, run)  # every variable, batch-norm statistics included
    moving = same.block0_bn1.moving_variance.numpy()
    assert not np.allclose(moving, 1.0)  # moved away from its initial value by the one step


def test_mu_by_quality_interpolates_per_quality():
    table = editor_train.mu_table({"mu_by_quality": [[10, 0.4], [20, 0.2]], "loss": {}})
    assert table[9] == pytest.approx(0.4) and table[14] == pytest.approx(0.3)
    assert table[0] == pytest.approx(0.4) and table[99] == pytest.approx(0.2)
    constant = editor_train.mu_table({"mu_by_quality": None, "loss": {"mu": 0.7}})
    assert np.all(constant == np.float32(0.7))
    with pytest.raises(ValueError, match="mu_by_quality"):
        editor_train.mu_table({"mu_by_quality": [[0, 1.0]], "loss": {}})


def test_cascade_warm_starts_from_two_runs(tmp_path):
    smoother = editor_train.build_editor({"editor": "smoothing", "editor_config": TINY_SMOOTHING})
    warper = editor_train.build_editor({"editor": "stn", "editor_config": TINY_STN})
    rng = np.random.default_rng(0)
    for model, name in ((smoother, "s"), (warper, "w")):
        for w in model.weights:
            w.assign(rng.normal(0, 0.1, w.shape).astype("float32"))
        model.save_weights(str(tmp_path / f"{name}.weights.h5"))
    cascade = CascadeEditor(TINY_SMOOTHING, TINY_STN)
    cascade(tf.zeros([1, 16, 16, 3]))
    editor_train.load_init(
        cascade, {"smoother": tmp_path / "s.weights.h5", "warper": tmp_path / "w.weights.h5"}
    )
    for a, b in zip(cascade.smoother.weights, smoother.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(cascade.warper.weights, warper.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="cascade"):
        editor_train.load_init(smoother, {"bogus": None})


@pytest.mark.parametrize(
    "override,match",
    [
        ({"editor": "vae"}, "editor must be"),
        ({"phase": "finetune"}, "phase must be"),
        ({"editor": "stn", "phase": "pretrain"}, "pretrain"),
        ({"noise_sigma_range": [0.2, 0.1]}, "noise_sigma_range"),
        ({"learning_rate": 1.0}, "unknown config keys"),
    ],
)
def test_bad_configs_are_rejected(override, match):
    with pytest.raises(ValueError, match=match):
        editor_train.full_config(override)


@pytest.mark.slow
def test_mirrored_strategy_run_in_a_child_process(image_dirs, tmp_path):
    from trainer_processes import python_command, run_child

    config = _config(image_dirs, editor="smoothing", phase="pretrain")
    run = tmp_path / "run"
    command = python_command(
        "-m",
        "trainers.editor.train",
        "--config",
        _write(tmp_path, config),
        "--run-dir",
        run,
        "--strategy",
        "mirrored",
        "--logical-cpus",
        "2",
    )
    output = run_child(command, tmp_path, name="mirrored")
    result = json.loads(output.strip().splitlines()[-1])
    assert result["step"] == 2 and np.isfinite(result["losses"]["total"])
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("-2")


@pytest.mark.parametrize(
    "codec_rounding,rate_rounding,model",
    [
        ("poly3", "ste", "jpeg"),
        ("poly3", "poly3", "factorized"),
        ("poly3", "hard", "jpeg"),
        ("ste", "ste", "factorized"),  # the default now: the exact forward codec
    ],
)
def test_the_step_encodes_once_and_prices_the_same_bits(codec_rounding, rate_rounding, model):
    """rate_bits reuses DiffJPEG's encoding: same bits as rate(images, quality) and, for the
    shipped setting (poly3 codec, ste rate), the same gradient w.r.t. the images."""
    from tfjpeg.jpeg import DiffJPEG
    from tfjpeg.rate import RatePredictor
    from trainers.editor.steps import rate_bits

    images = tf.Variable(
        np.stack([natural_image(32, 48, seed=s) for s in (1, 2)]).astype("float32") + 0.4
    )
    quality = tf.constant([9.0, 21.0])
    codec = DiffJPEG(subsampling="420", rounding=codec_rounding)
    rate = RatePredictor(model=model, encoder="libjpeg-optimize", rounding=rate_rounding,
                         weights=None)  # fmt: skip
    with tf.GradientTape(persistent=True) as tape:
        shared = rate_bits(rate, codec, images, codec(images, quality=quality), quality)
        direct = rate(images, quality=quality)
    np.testing.assert_array_equal(shared.numpy(), direct.numpy())
    if rate_rounding != "hard":
        np.testing.assert_allclose(
            tape.gradient(shared, images).numpy(), tape.gradient(direct, images).numpy(),
            rtol=1e-5, atol=1e-6,
        )  # fmt: skip


def test_preedit_step_total_uses_mu_of_each_quality():
    """The step's total is dist + λ·quality + μ(q)·rate with μ looked up per image."""
    from tfjpeg.jpeg import DiffJPEG
    from tfjpeg.losses import PreEditLoss
    from tfjpeg.rate import RatePredictor
    from trainers.editor.steps import EditorSteps

    config = editor_train.full_config({"editor_config": TINY_SMOOTHING})
    editor = editor_train.build_editor(config)
    loss = PreEditLoss(distance="l1", quality_terms=("tv",), lam=0.1, mu=5.0, reduction="none")
    table = editor_train.mu_table({"mu_by_quality": [[10, 0.4], [20, 0.2]], "loss": {}})
    steps = EditorSteps(
        editor, keras.optimizers.SGD(0.0), DiffJPEG(), 2,
        rate=RatePredictor(model="factorized", weights=None), loss=loss, mu_table=table,
    )  # fmt: skip
    batch = {
        "images": tf.constant(np.stack([natural_image(32, 32, seed=s) for s in (3, 4)]), "float32"),
        "quality": tf.constant([10.0, 15.0]),
    }
    out = steps.preedit_step(batch)  # learning rate 0: the editor is unchanged
    edited = editor(batch["images"], quality=batch["quality"], training=True)["edited"]
    encoded = steps.codec(edited, quality=batch["quality"])
    bits = steps.rate(edited, quality=batch["quality"])
    terms = loss(batch["images"], encoded["decoded"], bits)
    manual = terms["distance"] + 0.1 * terms["quality"] + tf.constant([0.4, 0.3]) * terms["rate"]
    np.testing.assert_allclose(out["total"].numpy(), manual.numpy().mean(), rtol=1e-5)
    constant = terms["distance"] + 0.1 * terms["quality"] + 5.0 * terms["rate"]
    assert not np.isclose(out["total"].numpy(), constant.numpy().mean(), rtol=1e-3)


def test_inference_mode_edits_train_on_the_edits_that_are_used():
    """With inference_mode_edits the step's loss is that of editor(z, training=False) and the
    batch-norm moving statistics stay as they are; the default uses batch statistics."""
    from tfjpeg.jpeg import DiffJPEG
    from tfjpeg.losses import PreEditLoss
    from tfjpeg.rate import RatePredictor
    from trainers.editor.steps import EditorSteps

    config = editor_train.full_config({"editor_config": TINY_SMOOTHING})
    batch = {
        "images": tf.constant(np.stack([natural_image(32, 32, seed=s) for s in (5, 6)]), "float32"),
        "quality": tf.constant([12.0, 20.0]),
    }
    loss = PreEditLoss(distance="l1", quality_terms=("tv",), lam=0.1, reduction="none")
    totals = {}
    for frozen in (True, False):
        editor = editor_train.build_editor(config)
        rng = np.random.default_rng(0)  # the same non-trivial weights in both runs
        for w in editor.trainable_weights:
            w.assign(rng.normal(0, 0.1, w.shape).astype("float32"))
        moving = editor.block0_bn1.moving_mean.numpy().copy()
        steps = EditorSteps(
            editor, keras.optimizers.SGD(0.0), DiffJPEG(rounding="ste"), 2,
            rate=RatePredictor(model="factorized", weights=None), loss=loss,
            inference_mode_edits=frozen,
        )  # fmt: skip
        totals[frozen] = float(steps.preedit_step(batch)["total"])
        used = editor(batch["images"], quality=batch["quality"], training=False)["edited"]
        encoded = steps.codec(used, quality=batch["quality"])
        bits = steps.rate(used, quality=batch["quality"])
        expected = float(tf.reduce_mean(loss(batch["images"], encoded["decoded"], bits)["total"]))
        if frozen:
            np.testing.assert_array_equal(editor.block0_bn1.moving_mean.numpy(), moving)
            assert totals[frozen] == pytest.approx(expected, rel=1e-5)
        else:
            assert not np.allclose(editor.block0_bn1.moving_mean.numpy(), moving)
    assert totals[True] != pytest.approx(totals[False], rel=1e-4)


# --- distillation of the optimize mode (trainers.editor.distill) -------------------------------


def test_teacher_images_are_what_the_default_writes_and_libjpeg_lands_on_them():
    """The teacher's pixels, quantized by real libjpeg-turbo with the learned tables, give the
    coefficients of the default's file (trellis, written from coefficients: the optimize mode's
    choice), up to the mismatch realize reports."""
    from tfjpeg.io import encode_pixels, read_jpeg
    from tfjpeg.rdo.encoder import trellis_encode
    from trainers.editor.distill import learned_tables, teacher_images

    image = natural_image(32, 48, seed=3)
    tables = learned_tables(10)
    pixels, mismatch = teacher_images(image[None], tables)
    assert pixels.dtype == np.uint8 and pixels.shape == (1, 32, 48, 3)
    real = read_jpeg(encode_pixels(pixels[0], 10, tables=tables, optimize=True))
    default = read_jpeg(trellis_encode(image, tables=tables))
    np.testing.assert_array_equal(real.tables[:2], np.round(tables))
    wrong = sum(
        int(np.sum(a != b)) for a, b in zip(real.components, default.components, strict=True)
    )
    total = sum(a.size for a in default.components)
    assert wrong / total == pytest.approx(mismatch, abs=1e-9)
    assert wrong / total < 1e-3
    # the teacher is not the plain encoding: the trellis changed coefficients
    plain = read_jpeg(encode_pixels(image, 10, tables=tables, optimize=True))
    assert any(np.any(a != b) for a, b in zip(plain.components, default.components, strict=True))


@pytest.mark.parametrize("kind", ["coefficients", "pixels"])
def test_distillation_loss_is_zero_at_the_teacher_and_positive_elsewhere(kind):
    from trainers.editor.distill import distillation_loss, learned_tables, teacher_images

    image = natural_image(32, 32, seed=5)
    tables = learned_tables(15)
    pixels, mismatch = teacher_images(image[None], tables)
    assert mismatch == 0.0
    teacher = tf.constant(pixels, tf.float32)
    batch_tables = tf.constant(tables[None])
    at_teacher = distillation_loss(teacher, teacher, batch_tables, kind)
    assert at_teacher.shape == (1,) and float(at_teacher[0]) < 1e-9
    original = tf.Variable(image[None].astype(np.float32))
    with tf.GradientTape() as tape:
        loss = distillation_loss(original, teacher, batch_tables, kind)
    assert float(loss[0]) > 1e-5
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, original)))) > 0
    with pytest.raises(ValueError, match="kind"):
        distillation_loss(teacher, teacher, batch_tables, "ssim")


@pytest.fixture(scope="module")
def teacher_pairs(image_dirs, tmp_path_factory):
    """Teacher pairs of the training part of the tiny folder: (path, summary)."""
    from trainers.editor.distill import build_teacher_pairs

    pairs = tmp_path_factory.mktemp("distill") / "pairs.npz"
    return pairs, build_teacher_pairs(pairs, image_dirs[0], crop=32, qualities=(10, 20))


def test_teacher_pairs_come_from_the_training_part_in_a_resumable_stream(teacher_pairs):
    from trainers.editor.distill import teacher_batches

    pairs, summary = teacher_pairs
    data = np.load(pairs)
    assert summary["pairs"] == 6  # 3 training images (img0 is validation) x 2 crops
    assert "img0.png" not in set(data["names"])
    assert data["teachers"].shape == (6, 2, 32, 32, 3)
    first = next(iter(teacher_batches(pairs, 2, seed=1, start_step=3)))
    again = next(iter(teacher_batches(pairs, 2, seed=1, start_step=3)))
    np.testing.assert_array_equal(first["teacher"].numpy(), again["teacher"].numpy())
    assert set(first["quality"].numpy()) <= {10.0, 20.0}
    index = {10.0: 0, 20.0: 1}
    for quality, tables in zip(first["quality"].numpy(), first["tables"].numpy(), strict=True):
        np.testing.assert_array_equal(tables, data["tables"][index[quality]])


@pytest.mark.slow
def test_distill_phase_trains_on_cached_teacher_pairs_and_resumes(
    image_dirs, teacher_pairs, tmp_path
):
    pairs, _ = teacher_pairs
    config = _config(
        image_dirs, phase="distill", distill={"pairs": str(pairs)}, inference_mode_edits=True
    )
    run = tmp_path / "run"
    history = editor_train.train(config, run)
    assert history["step"] == 2
    assert all(np.isfinite(v["total"]) and v["total"] >= 0 for _, v in history["log"])
    resumed = editor_train.train({**config, "steps": 3}, run)
    assert (resumed["start_step"], resumed["step"]) == (2, 3)


@pytest.mark.parametrize(
    "override,match",
    [
        ({"phase": "distill"}, "distill.pairs"),
        ({"eval": {"tables": "mozjpeg"}}, "eval.tables"),
    ],
)
def test_bad_distill_configs_are_rejected(override, match):
    with pytest.raises(ValueError, match=match):
        editor_train.full_config(override)
