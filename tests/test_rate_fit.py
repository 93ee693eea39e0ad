"""The rate predictor's fitting script, end to end on a tiny input."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from conftest import REPO, natural_image
from PIL import Image

if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # trainers/ is not installed with the package

from trainers.rate import fit as rate_fit


def test_fit_writes_parameters_that_load_into_the_predictor(tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    for seed in range(2):
        Image.fromarray(natural_image(48, 64, seed=seed)).save(train / f"img{seed}.png")
    out = tmp_path / "fit"
    argv = [
        "--train-dir", str(train), "--crops", "6", "--crop-size", "32", "--deadzone-steps", "3",
        "--factorized-steps", "2", "--factorized-batch", "8", "--no-savedmodel", "--out", str(out),
    ]  # fmt: skip
    assert rate_fit.main(argv) == 0
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


def test_bad_arguments_are_rejected():
    with pytest.raises(SystemExit):
        rate_fit.main(["--crop-size", "30"])
