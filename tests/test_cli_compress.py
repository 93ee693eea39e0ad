"""``tfjpeg compress``: pre-edit + encode from the command line (tfjpeg/cli/compress.py)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image
from PIL import Image

from tfjpeg.cli import main
from tfjpeg.editors import SmoothingEditor
from tfjpeg.io import decode_pixels
from tfjpeg.models import SAVED_MODELS_ENV
from tfjpeg.serving import export_editor


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny smoothing editor exported under a fake saved_models root as 'smoothing/1'."""
    root = tmp_path_factory.mktemp("saved_models")
    editor = SmoothingEditor(filters=8)
    editor(tf.zeros([1, 16, 16, 3]))
    rng = np.random.default_rng(0)
    for w in editor.trainable_weights:
        w.assign(w + rng.normal(0, 0.03, w.shape).astype("float32"))
    export_editor(editor, root / "smoothing" / "1")
    return root, editor


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def test_cli_compress_writes_atomically_and_never_overwrites(
    exported, monkeypatch, tmp_path, capsys
):
    root, _ = exported
    monkeypatch.setenv(SAVED_MODELS_ENV, str(root))
    src = tmp_path / "in.png"
    src.write_bytes(_png(natural_image(32, 40)))
    out = tmp_path / "out.jpg"
    assert main(["compress", str(src), "-o", str(out), "--quality", "15"]) == 0
    assert decode_pixels(out).shape == (32, 40, 3)
    assert "quality 15" in capsys.readouterr().out
    before = out.read_bytes()
    assert main(["compress", str(src), "-o", str(out), "--editor", "none"]) == 2
    assert "exists" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["compress", str(src), "-o", str(src), "--overwrite"]) == 2
    assert "input" in capsys.readouterr().err
    assert main(["compress", str(src), "-o", str(out), "--quality", "5", "--target-bpp", "1"]) == 2
    assert main(["compress", str(src), "-o", str(out), "--target-bpp", "0"]) == 2
    assert main(["compress", str(tmp_path / "nope.png"), "-o", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
    args = ["compress", str(src), "-o", str(out), "--editor", "none", "--target-bpp", "2"]
    assert main([*args, "--overwrite", "--encoder", "mozjpeg", "--quiet"]) == 0
    assert 8 * os.path.getsize(out) / (32 * 40) <= 2.0
    assert not list(tmp_path.glob(".out.jpg.*"))
