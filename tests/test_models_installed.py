"""Shipped weights install with the package and are found from any folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys
from tfjpeg.models import model_dir, names, saved_models_root
from tfjpeg.editors import SmoothingEditor
from tfjpeg.rate import RatePredictor
editor = SmoothingEditor.from_preset("smoothing")
rate = RatePredictor.from_preset(names("rate")[0])
print(json.dumps({
    "root": str(saved_models_root()),
    "smoothing": str(model_dir("smoothing")),
    "every": [str(model_dir(n)) for n in names()],
    "editor": type(editor).__name__,
    "weights": len(editor.weights),
    "header": float(rate.size_model.header.numpy()[0]),
}))
"""


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


@pytest.mark.slow  # ~14 s alone, ~22 s with the whole suite on 2 shared cores
def test_a_built_wheel_finds_its_weights_from_another_folder(tmp_path):
    """``pip wheel .``, installed by unpacking; a child with only that on its path, run from an
    empty folder, finds every shipped model inside the install and loads presets."""
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name if source.is_dir() else _mkdir(source) / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("tfjpeg", "saved_models"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(source)],
        check=True, cwd=tmp_path, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = wheels.glob("tfjpeg-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:  # a pure-Python wheel installs by unpacking
        zf.extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFJPEG_")}
    env.update(PYTHONPATH=str(site), TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=work, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    installed = site / "tfjpeg" / "_saved_models"
    assert Path(got["root"]) == installed
    assert Path(got["smoothing"]) == installed / "smoothing" / "1"
    assert all(Path(p).is_relative_to(installed) and Path(p).is_dir() for p in got["every"])
    assert got["editor"] == "SmoothingEditor" and got["weights"] > 0
    assert got["header"] == 625.0  # libjpeg's header bytes from the installed rate_predictor.json
    # every file of the shipped folders is in the install
    for folder in (REPO / "saved_models").iterdir():
        if folder.is_dir():
            shipped = {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}
            there = {p.relative_to(installed / folder.name)
                     for p in (installed / folder.name).rglob("*") if p.is_file()}  # fmt: skip
            assert shipped <= there, folder.name
