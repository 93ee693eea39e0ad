"""Shared fixtures: two logical CPUs (for MirroredStrategy tests), small images, real JPEGs."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

# The suite tests the *installed* tfjpeg: the checkout goes at the end of sys.path (after
# site-packages), only so that trainers/ (not installed) stays importable. pytest itself puts
# tests/ on sys.path (for ``from conftest import ...``), never the repository root.
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))


#: Fixtures shared by the tfjpeg.io tests (an odd-sized image and its baseline JPEG), and the
#: record of which tests depend on the data folders (.ci/run's second pass runs only those).
pytest_plugins = ["io_fixtures", "data_selection"]

_cpus = tf.config.list_physical_devices("CPU")
with contextlib.suppress(RuntimeError):  # devices already initialised by an earlier import
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )


def pytest_report_header(config) -> list[str]:
    import tfjpeg

    lines = [f"tfjpeg under test: {Path(tfjpeg.__file__).parent}"]
    lines.append(f"Kodak: {kodak_dir() or 'none (Kodak tests skip, synthetic images)'}")
    from tfjpeg.models import saved_models_root

    lines.append(f"shipped models: {saved_models_root()}")
    return lines


def kodak_dir() -> Path | None:
    """The Kodak folder, if there is one: TFJPEG_KODAK_DIR, else ``../shared/data/kodak`` beside
    the checkout (not with ``TFJPEG_NO_SHARED=1``, which CI sets to run as a fresh clone would).
    None when neither holds PNGs: Kodak tests skip and :func:`natural_image` is synthetic."""
    if "TFJPEG_KODAK_DIR" in os.environ:
        path = Path(os.environ["TFJPEG_KODAK_DIR"])
    elif os.environ.get("TFJPEG_NO_SHARED", "") not in ("", "0"):
        return None
    else:
        path = REPO.parent / "shared" / "data" / "kodak"
    return path if path.is_dir() and any(path.glob("*.png")) else None


def natural_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like RGB uint8 image, the same on every machine: :func:`synthetic_photo`.

    Unit tests use it so that they do not depend on the data folders (CI runs the tests that do
    twice, with and without them); the tests that need real photos read Kodak through
    :func:`kodak_dir` / :func:`kodak_crop` and skip without it."""
    return _synthetic_photo_cached(height, width, seed).copy()


def kodak_crop(height: int, width: int, index: int = 0) -> np.ndarray | None:
    """The top-left crop of the ``index``-th Kodak image (sorted names), or None without Kodak."""
    folder = kodak_dir()
    if folder is None:
        return None
    img = np.asarray(Image.open(sorted(folder.glob("*.png"))[index % 24]).convert("RGB"))
    if img.shape[0] < height or img.shape[1] < width:
        return None
    return np.ascontiguousarray(img[:height, :width])


def _blur(field: np.ndarray, radius: int) -> np.ndarray:
    """A separable box blur (three passes ~ Gaussian) along the first two axes, edges reflected."""
    for axis in (0, 1):
        for _ in range(3):
            pad = [(0, 0)] * field.ndim
            pad[axis] = (radius, radius)
            padded = np.pad(field, pad, mode="reflect" if field.shape[axis] > radius else "edge")
            cums = np.cumsum(padded, axis=axis, dtype=np.float64)
            zero = np.zeros_like(np.take(cums, [0], axis=axis))
            cums = np.concatenate([zero, cums], axis=axis)
            n = field.shape[axis]
            field = (
                np.take(cums, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
                - np.take(cums, np.arange(n), axis=axis)
            ) / (2 * radius + 1)
    return field


@functools.lru_cache(maxsize=64)
def _synthetic_photo_cached(height: int, width: int, seed: int) -> np.ndarray:
    return synthetic_photo(height, width, seed)


def synthetic_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A synthetic stand-in for a Kodak crop, with a photo's statistics: smooth shading, a few
    objects with slightly soft edges, spatially correlated texture and little sensor noise (so
    JPEG behaves on it as on a photo: most energy in low frequencies)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    phase = rng.uniform(0, 2 * np.pi, 3)
    image = np.stack(
        [110 + 50 * np.sin(xx / 41 + phase[c]) * np.cos(yy / 53 - phase[c]) for c in range(3)],
        axis=-1,
    )
    for _ in range(6):  # objects: ellipses of a flat colour
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        ry, rx = rng.uniform(0.1, 0.4) * max(height, 8), rng.uniform(0.1, 0.4) * max(width, 8)
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        image[inside] = 0.35 * image[inside] + 0.65 * rng.uniform(30, 220, 3)
    image = _blur(image, 1)  # optics: edges a pixel or two wide
    texture = _blur(rng.normal(0, 1, (height, width, 1)), 2)
    texture -= texture.mean()
    texture *= 6.0 / max(float(texture.std()), 1e-3)
    image += texture + rng.normal(0, 1.0, (height, width, 3))
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


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


def cli_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The CLI's one-line error on stderr (no traceback), checked to start with its prefix."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tfjpeg: error: ")
    return lines[0]


def tiled_file_coefficients(model, jpeg, subsampling: str, tile_blocks: int = 4):
    """``tiled_coefficients`` of ``model`` on a file read by ``read_jpeg`` (z = 0), traced once."""
    from tfjpeg.decoders.geometry import chroma_factors
    from tfjpeg.decoders.tiling import tiled_coefficients

    hb, wb = jpeg.components[0].shape[:2]
    return tf.function(tiled_coefficients, autograph=False)(
        model,
        [tf.constant(c, tf.float32) for c in jpeg.components],
        tf.constant(jpeg.component_tables.astype(np.float32)),
        tf.constant(jpeg.height),
        tf.constant(jpeg.width),
        chroma_factors(subsampling),
        tf.zeros([hb, wb, 64]),
        subsampling,
        tile_blocks=tile_blocks,
    )
