"""Shared fixtures: two logical CPUs (for MirroredStrategy tests), small images, real JPEGs."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

_cpus = tf.config.list_physical_devices("CPU")
with contextlib.suppress(RuntimeError):  # devices already initialised by an earlier import
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )

REPO = Path(__file__).resolve().parents[1]


def kodak_dir() -> Path | None:
    """The Kodak folder from TFJPEG_KODAK_DIR (or ../shared/data/kodak), if it exists."""
    path = Path(os.environ.get("TFJPEG_KODAK_DIR", REPO.parent / "shared" / "data" / "kodak"))
    return path if path.is_dir() and any(path.glob("*.png")) else None


def natural_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth-plus-texture RGB uint8 image: a crop of Kodak if available, else synthetic."""
    folder = kodak_dir()
    if folder is not None:
        img = np.asarray(Image.open(sorted(folder.glob("*.png"))[seed % 24]).convert("RGB"))
        if img.shape[0] >= height and img.shape[1] >= width:
            return np.ascontiguousarray(img[:height, :width])
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack(
        [128 + 90 * np.sin(xx / 17 + c) * np.cos(yy / 23 - c) for c in range(3)], axis=-1
    )
    noise = rng.normal(0, 12, size=(height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def pillow_jpeg(image: np.ndarray, quality: int, subsampling: str = "420") -> bytes:
    """Encode with Pillow (libjpeg-turbo) at an IJG quality."""
    buf = io.BytesIO()
    ss = {"444": 0, "422": 1, "420": 2}[subsampling]
    pil = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image)
    kwargs = {} if pil.mode == "L" else {"subsampling": ss}
    pil.save(buf, "JPEG", quality=quality, **kwargs)
    return buf.getvalue()


def jpeglib_coefficients(data: bytes, tmp_path: Path) -> list[np.ndarray]:
    """Quantized coefficients of a JPEG as jpeglib reads them (Y[, Cb, Cr])."""
    import jpeglib

    path = tmp_path / "ref.jpg"
    path.write_bytes(data)
    jpg = jpeglib.read_dct(str(path))
    comps = [jpg.Y]
    if jpg.Cb is not None:
        comps += [jpg.Cb, jpg.Cr]
    return comps


@pytest.fixture
def image_64x96() -> np.ndarray:
    return natural_image(64, 96)


def cjpeg_jpeg(image: np.ndarray, *args: str, tables: list[np.ndarray] | None = None) -> bytes:
    """Encode with libjpeg-turbo's ``cjpeg`` (``-sample``, ``-qslots`` ...); skips without it.

    ``tables``: explicit quantization tables (written to a ``-qtables`` file, used unscaled).
    """
    import shutil
    import subprocess
    import tempfile

    cjpeg = shutil.which("cjpeg")
    if cjpeg is None:
        pytest.skip("cjpeg (libjpeg-turbo-progs) is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.ppm"
        Image.fromarray(image).save(src)
        extra: list[str] = []
        if tables is not None:
            qfile = Path(tmp) / "tables.txt"
            text = "\n\n".join(
                "\n".join(" ".join(str(int(v)) for v in row) for row in np.asarray(t))
                for t in tables
            )
            qfile.write_text(text + "\n")
            extra = ["-quality", "50", "-qtables", str(qfile)]  # quality 50: tables unscaled
        run = subprocess.run(
            [cjpeg, *extra, *args, str(src)], capture_output=True, check=True, timeout=60
        )
    return run.stdout


def trained_like(editor, seed: int = 0):
    """``editor`` built and its weights moved off their initialisation (a non-trivial edit)."""
    editor(tf.zeros([1, 16, 16, 3]))
    rng = np.random.default_rng(seed)
    for w in editor.trainable_weights:
        w.assign(w + rng.normal(0, 0.03, w.shape).astype("float32"))
    return editor


@pytest.fixture(scope="module")
def exported_smoothing(tmp_path_factory):
    """A tiny smoothing editor exported under a fake saved_models root as 'smoothing/1'."""
    from tfjpeg.editors import SmoothingEditor
    from tfjpeg.serving import export_editor

    root = tmp_path_factory.mktemp("saved_models")
    editor = trained_like(SmoothingEditor(filters=8))
    export_editor(editor, root / "smoothing" / "1")
    return root, editor
