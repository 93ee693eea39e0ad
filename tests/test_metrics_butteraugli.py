"""tfjpeg.metrics.butteraugli: the butteraugli_main wrapper (skipped where the tool is absent,
except the missing-tool and bad-input refusals, which need no tool)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from conftest import natural_image

from tfjpeg.errors import InvalidArgumentError, InvalidImageError, TfjpegError
from tfjpeg.io import decode_pixels, encode_pixels
from tfjpeg.metrics import evaluate_compression
from tfjpeg.metrics.butteraugli import butteraugli_scores

needs_tool = pytest.mark.skipif(
    shutil.which("butteraugli_main") is None, reason="butteraugli_main (libjxl-devtools) absent"
)


@needs_tool
def test_scores_are_the_tools_own_and_grow_with_compression(tmp_path):
    from PIL import Image

    image = natural_image(64, 80, seed=3)
    coarse = decode_pixels(encode_pixels(image, 10))
    fine = decode_pixels(encode_pixels(image, 80))
    same = butteraugli_scores(image, image)
    assert same.max_norm == 0.0 and same.p_norm == 0.0
    low, high = butteraugli_scores(coarse, image), butteraugli_scores(fine, image)
    assert low.max_norm > high.max_norm > 0 and low.p_norm > high.p_norm > 0
    assert low.max_norm >= low.p_norm  # the max over the map bounds its 3-norm
    # The same numbers as running the tool by hand on the two PNGs.
    Image.fromarray(image).save(tmp_path / "r.png")
    Image.fromarray(coarse).save(tmp_path / "d.png")
    out = subprocess.run(
        ["butteraugli_main", str(tmp_path / "r.png"), str(tmp_path / "d.png")],
        capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    assert low.max_norm == pytest.approx(float(out[0]))
    assert low.p_norm == pytest.approx(float(out[1].split(":")[1]))
    gray = butteraugli_scores(coarse[..., 0], image[..., 0])  # gray scored as RGB
    assert gray.max_norm > 0


@needs_tool
def test_evaluation_gives_butteraugli_on_request_only():
    image = natural_image(48, 64, seed=8)
    (plain,) = evaluate_compression(None, [image], [20], metrics=("psnr",))
    assert "butteraugli" not in plain
    (row,) = evaluate_compression(
        None, [image], [20], metrics=("psnr", "butteraugli", "butteraugli_3norm")
    )
    expected = butteraugli_scores(decode_pixels(encode_pixels(image, 20, optimize=True)), image)
    assert row["butteraugli"] == pytest.approx(expected.max_norm)
    assert row["butteraugli_3norm"] == pytest.approx(expected.p_norm)


def test_missing_tool_and_bad_inputs_are_clear_errors(monkeypatch):
    image = natural_image(16, 16)
    with pytest.raises(InvalidArgumentError, match="same size"):
        butteraugli_scores(image, image[:8])
    with pytest.raises(InvalidImageError, match="distorted must be"):
        butteraugli_scores(np.zeros((4, 4, 2)), image)
    monkeypatch.setenv("TFJPEG_BUTTERAUGLI", "no-such-butteraugli-binary")
    with pytest.raises(TfjpegError, match="libjxl-devtools"):
        butteraugli_scores(image, image)
