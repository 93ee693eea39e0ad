"""trainers/classifier/train.py: the shipped classifier's design and the independent judge's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tfjpeg.data.glyphs import system_fonts
from trainers.classifier import train as classifier_train


@pytest.mark.parametrize("architecture", ["cnn", "judge"])
def test_both_designs_read_28px_gray_digits_into_ten_logits(architecture):
    model = classifier_train.build_model(28, architecture)
    logits = model(np.zeros((2, 28, 28, 1), np.float32))
    assert logits.shape == (2, 10)


def test_an_unknown_design_is_refused():
    with pytest.raises(ValueError, match="architecture must be"):
        classifier_train.build_model(28, "resnet")


def test_a_tiny_judge_trains_and_exports_float16_weights(tmp_path):
    if len(system_fonts()) < 5:
        pytest.skip("fewer than 5 system fonts")
    from tfjpeg.models.saving import WEIGHTS_FILE, load_keras_model

    config = {"architecture": "judge", "size": 28, "train_samples": 64, "val_samples": 32,
              "jpeg_share": 0.5, "jpeg_qualities": [5, 50], "epochs": 1, "batch": 32,
              "learning_rate": 0.001, "seed": 7}  # fmt: skip
    path = tmp_path / "judge.json"
    path.write_text(json.dumps(config))
    run = tmp_path / "run"
    assert classifier_train.main(["--config", str(path), "--run-dir", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 2 and 0.0 <= summary["val_accuracy_float16"] <= 1.0
    import h5py

    with h5py.File(run / "export" / WEIGHTS_FILE) as weights:
        dtypes = set()
        weights.visititems(lambda _, obj: dtypes.add(getattr(obj, "dtype", None)))
    assert np.dtype(np.float16) in dtypes and np.dtype(np.float32) not in dtypes
    assert load_keras_model(run / "export").name == "digit_judge"


def test_the_l2_attack_stays_in_its_ball_and_the_pixel_range_and_raises_the_loss():
    import tensorflow as tf

    model = classifier_train.build_model(28, "cnn")
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(0, 255, (4, 28, 28, 1)), tf.float32)
    y = tf.constant([0, 1, 2, 3], tf.int32)
    delta = classifier_train.pgd_l2(model, x, y, epsilon=100.0, steps=3).numpy()
    norms = np.sqrt((delta**2).sum(axis=(1, 2, 3)))
    assert np.all(norms <= 100.0 + 1e-3) and np.all(norms > 1.0)
    adversarial = x.numpy() + delta
    assert adversarial.min() >= 0.0 and adversarial.max() <= 255.0
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    assert float(loss(y, model(adversarial))) > float(loss(y, model(x)))


def test_adversarial_training_runs_and_reports_robust_accuracy(tmp_path):
    if len(system_fonts()) < 5:
        pytest.skip("fewer than 5 system fonts")
    config = {"architecture": "cnn", "size": 28, "train_samples": 64, "val_samples": 32,
              "jpeg_share": 0.5, "jpeg_qualities": [5, 50], "epochs": 1, "batch": 32,
              "learning_rate": 0.001, "seed": 1,
              "adversarial": {"epsilon": 2.0, "steps": 2}}  # fmt: skip
    path = tmp_path / "robust.json"
    path.write_text(json.dumps(config))
    run = tmp_path / "run"
    assert classifier_train.main(["--config", str(path), "--run-dir", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["adversarial"] == {"epsilon": 2.0, "steps": 2}
    assert 0.0 <= summary["val_robust_accuracy"] <= 1.0
