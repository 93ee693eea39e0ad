"""trainers/rate/fit.py: the rate predictor's fit end to end on a tiny input, its gradient fits on
the shared loop (checkpoints, resume)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, natural_image
from PIL import Image

if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # trainers/ is not installed with the package

from trainers.rate import fit as rate_fit


def _train_dir(tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    for seed in range(2):
        Image.fromarray(natural_image(48, 64, seed=seed)).save(train / f"img{seed}.png")
    return train


def test_fit_writes_parameters_that_load_into_the_predictor_and_resumes(tmp_path):
    tiny = {
        "train_dir": str(_train_dir(tmp_path)), "crops": 6, "crop_size": 32,
        "deadzone_steps": 3, "factorized_steps": 2, "factorized_batch": 8, "no_savedmodel": True,
        "checkpoint_every": 2, "log_every": 1,
    }  # fmt: skip
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny))
    out, run = tmp_path / "fit", tmp_path / "run"
    assert rate_fit.main(["--config", str(config), "--run-dir", str(run), "--out", str(out)]) == 0
    assert json.loads((run / "config.json").read_text())["crops"] == 6
    for fit in ("deadzone", "factorized"):
        assert list((run / fit / "logs").iterdir())
    # a partial run (here: fewer factorized steps) continues from its checkpoint
    assert tf.train.latest_checkpoint(str(run / "factorized" / "checkpoints")).endswith("-2")
    again = ["--config", str(config), "--run-dir", str(run), "--factorized-steps", "4"]
    assert rate_fit.main([*again, "--out", str(tmp_path / "fit4")]) == 0
    assert tf.train.latest_checkpoint(str(run / "factorized" / "checkpoints")).endswith("-4")
    first = json.loads((out / "rate_predictor.json").read_text())["fit"]
    resumed = json.loads((tmp_path / "fit4" / "rate_predictor.json").read_text())["fit"]
    assert resumed["deadzone_bce"] == first["deadzone_bce"]  # finished: restored, not refitted
    assert [row[0] for row in resumed["factorized_history"]] == [0, 3]
    assert resumed["factorized_history"][0] == first["factorized_history"][0]
    params = json.loads((out / "rate_predictor.json").read_text())
    assert set(params["jpeg"]) == {"libjpeg", "libjpeg-optimize", "mozjpeg"}
    # libjpeg-turbo coefficients are exact: the fitted correction stays at the identity
    weights = np.asarray(params["jpeg"]["libjpeg"]["correction"])
    np.testing.assert_allclose(weights[:, 0], 1.0, atol=0.02)
    assert np.all(weights[:, 1:] == 0)
    assert params["fit"]["crops"] == 6
    from tfjpeg.rate import RatePredictor

    predictor = RatePredictor(
        model="factorized", encoder="mozjpeg", weights=str(out / "rate_predictor.json")
    )
    assert np.isfinite(predictor(np.zeros((1, 16, 16, 3), np.float32), quality=50).numpy()).all()


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(SystemExit):
        rate_fit.main(["--crop-size", "30"])
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"crop": 32}))
    with pytest.raises(SystemExit):
        rate_fit.main(["--config", str(config)])


def _mozjpeg_inputs():
    from tfjpeg.io import encode_pixels, read_jpeg

    images = np.stack([natural_image(32, 32, seed=s) for s in (1, 4)])
    qualities = np.array([20, 60])
    coefficients = [
        read_jpeg(encode_pixels(x, int(q), encoder="mozjpeg", optimize=True)).components
        for x, q in zip(images, qualities, strict=True)
    ]
    return rate_fit.mozjpeg_unrounded(images, qualities), coefficients, qualities


def test_deadzone_fit_resumed_matches_the_uninterrupted_fit(tmp_path):
    unrounded, coefficients, qualities = _mozjpeg_inputs()

    def fit(run_dir, steps):
        run = rate_fit.FitRun(run_dir=run_dir, checkpoint_every=2, progress=False)
        return rate_fit.fit_deadzone(unrounded, coefficients, qualities, steps, 1, run)

    whole, whole_loss = fit(tmp_path / "a", 4)
    partial, _ = fit(tmp_path / "b", 2)
    assert not np.allclose(partial, whole)
    resumed, resumed_loss = fit(tmp_path / "b", 4)  # restores step 2 (theta and Adam), 2 more
    np.testing.assert_array_equal(resumed, whole)
    assert resumed_loss == whole_loss
    # without a run folder nothing is kept: the same fit from scratch
    scratch, _ = rate_fit.fit_deadzone(unrounded, coefficients, qualities, 4, 1)
    np.testing.assert_array_equal(scratch, whole)


def test_factorized_batches_of_a_resumed_fit_are_the_uninterrupted_ones():
    whole = list(rate_fit._factorized_picks([50, 20, 20], 5, 4, seed=3, start=0))
    tail = list(rate_fit._factorized_picks([50, 20, 20], 5, 4, seed=3, start=3))
    assert len(tail) == 2
    for a, b in zip(whole[3:], tail, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
