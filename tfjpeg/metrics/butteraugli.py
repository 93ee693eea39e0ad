"""Butteraugli distance through the reference tool, ``butteraugli_main`` (libjxl).

Butteraugli (Alakuijala et al., JPEG XL's psychovisual distance) is run as Debian's
``libjxl-devtools`` ships it: both images are written as PNGs into a temporary folder and the
tool's two scores are parsed, the max-norm distance (its first line; ≈ 1 is "just noticeable")
and the 3-norm (``3-norm: x``), which averages over the image and is steadier for BD-rates.
Lower is better for both. The tool is looked up on ``PATH`` (``$TFJPEG_BUTTERAUGLI`` names
another binary).

Example:
    >>> butteraugli_scores(decoded, original)  # doctest: +SKIP
    ButteraugliScores(max_norm=6.08, p_norm=2.63)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tfjpeg.errors import InvalidArgumentError, InvalidImageError, TfjpegError

__all__ = ["BUTTERAUGLI_BINARY", "ButteraugliScores", "butteraugli_binary", "butteraugli_scores"]

#: The tool's name (Debian package ``libjxl-devtools``).
BUTTERAUGLI_BINARY = "butteraugli_main"
_ENV = "TFJPEG_BUTTERAUGLI"
_TIMEOUT_S = 600


class ButteraugliScores(NamedTuple):
    """The tool's max-norm distance and its 3-norm (both: lower is better)."""

    max_norm: float
    p_norm: float


def butteraugli_binary() -> str:
    """The path of ``butteraugli_main`` (or of ``$TFJPEG_BUTTERAUGLI``).

    Raises:
        TfjpegError: the tool is not installed.
    """
    name = os.environ.get(_ENV) or BUTTERAUGLI_BINARY
    path = shutil.which(name)
    if path is None:
        raise TfjpegError(
            f"Butteraugli needs the {name!r} tool, which is not on PATH: install Debian's "
            f"libjxl-devtools (apt-get install libjxl-devtools) or set {_ENV} to the binary."
        )
    return path


def _as_rgb_uint8(image, name: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise InvalidImageError(f"{name} must be numeric. Received: dtype={arr.dtype}")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3) or min(arr.shape[:2]) < 1:
        raise InvalidImageError(
            f"{name} must be (H, W, 3), (H, W, 1) or (H, W). Received: shape={np.shape(image)}"
        )
    if arr.dtype != np.uint8:
        arr = np.clip(np.round(arr.astype(np.float64)), 0, 255).astype(np.uint8)
    return np.repeat(arr, 3, axis=-1) if arr.shape[-1] == 1 else arr


def _parse(stdout: str) -> ButteraugliScores:
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    try:
        max_norm = float(lines[0])
        (p_line,) = [line for line in lines[1:] if line.startswith("3-norm:")]
        p_norm = float(p_line.split(":", 1)[1])
    except (IndexError, ValueError):
        raise TfjpegError(f"could not read the Butteraugli scores from: {stdout!r}") from None
    return ButteraugliScores(max_norm, p_norm)


def butteraugli_scores(distorted, reference) -> ButteraugliScores:
    """Butteraugli distance of ``distorted`` from ``reference`` (uint8 or [0, 255] arrays,
    (H, W, 3), (H, W, 1) or (H, W), the same size; gray is scored as RGB).

    Raises:
        InvalidImageError: an image of the wrong shape or dtype.
        InvalidArgumentError: the two images differ in size.
        TfjpegError: the tool is missing, fails, or prints no scores.
    """
    from PIL import Image

    test = _as_rgb_uint8(distorted, "distorted")
    ref = _as_rgb_uint8(reference, "reference")
    if test.shape != ref.shape:
        raise InvalidArgumentError(
            "distorted and reference must have the same size. "
            f"Received: distorted.shape={test.shape}, reference.shape={ref.shape}"
        )
    binary = butteraugli_binary()
    with tempfile.TemporaryDirectory(prefix="tfjpeg-butteraugli-") as folder:
        ref_path, test_path = Path(folder) / "reference.png", Path(folder) / "distorted.png"
        Image.fromarray(ref).save(ref_path, compress_level=1)
        Image.fromarray(test).save(test_path, compress_level=1)
        try:
            done = subprocess.run(
                [binary, str(ref_path), str(test_path)],
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise TfjpegError(f"{binary} failed: {err}") from None
    if done.returncode != 0:
        raise TfjpegError(
            f"{binary} exited with status {done.returncode}: {done.stderr.strip()[-500:]}"
        )
    return _parse(done.stdout)
