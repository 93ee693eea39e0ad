"""trainers/posterior/train.py: the regression and GAN phases on tiny crops, resume, EMA."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image
from PIL import Image

from tfjpeg.errors import TfjpegError
from trainers.posterior import train as posterior_train

TINY = {
    "crop_size": 32,
    "batch_size": 2,
    "log_every": 1,
    "checkpoint_every": 2,
    "base": None,
    "mmse": "consistent-l1",
    "model": {"features": 8, "blocks": 1, "growth": 4, "rdbs": 1},
    "critic": {"width": 8, "depth": 1},
    "samples": 2,
    "moment_images": 1,
}


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train")
    for i in range(3):
        Image.fromarray(natural_image(48, 64, seed=i)).save(folder / f"img{i}.png")
    return folder


@pytest.mark.slow
def test_mse_then_gan_then_resume(tmp_path, train_dir, monkeypatch):
    pytest.importorskip("tfjpeg.models.presets").load("consistent-l1")  # the MMSE reference
    monkeypatch.setenv("TFJPEG_TRAIN_DIR", str(train_dir))
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({**TINY, "steps": 2, "pretrain_steps": 1}))
    run = tmp_path / "run"
    assert posterior_train.main(["--config", str(config), "--run-dir", str(run)]) == 0
    latest = tf.train.latest_checkpoint(str(run / "checkpoints"))
    assert latest.endswith("-2")
    reader = tf.train.load_checkpoint(latest)
    names = reader.get_variable_to_shape_map()
    assert any(k.startswith("ema/") for k in names)  # the EMA is checkpointed
    assert any(k.startswith("critic_optimizer/") for k in names)
    generator, _, _ = posterior_train.build_models(posterior_train._merged(TINY))
    tf.train.Checkpoint(model=generator).read(latest).expect_partial()
    assert np.any(generator.last.kernel.numpy() != 0)  # the zero-initialised output conv learned
    assert (
        posterior_train.main(["--config", str(config), "--run-dir", str(run), "--steps", "3"]) == 0
    )
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("-3")
    assert json.loads((run / "config.json").read_text())["steps"] == 3


def test_bad_configs_are_refused():
    with pytest.raises(TfjpegError, match="unknown posterior config key"):
        posterior_train._merged({"stepz": 1})
    with pytest.raises(TfjpegError, match="moment_images"):
        posterior_train._merged({"moment_images": 9, "batch_size": 4})
    with pytest.raises(TfjpegError, match="crop_size"):
        posterior_train._merged({"crop_size": 40})
