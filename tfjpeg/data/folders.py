"""Loading images from folders: the Kodak evaluation set and the training set.

The data are never shipped with tfjpeg. Point ``TFJPEG_KODAK_DIR`` at the 24 Kodak PNGs and
``TFJPEG_TRAIN_DIR`` at a folder of training images, or pass a path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tfjpeg._checks import check_choice
from tfjpeg.errors import InvalidArgumentTypeError, InvalidImageError, TfjpegError

__all__ = [
    "IMAGE_EXTENSIONS",
    "dataset_dir",
    "iter_images",
    "list_images",
    "load_image",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".webp")

_ENV = {"kodak": "TFJPEG_KODAK_DIR", "train": "TFJPEG_TRAIN_DIR"}


def dataset_dir(name: str, path: str | os.PathLike | None = None) -> Path:
    """The folder of dataset ``name`` ("kodak" or "train"): ``path``, else its env variable.

    Raises:
        TfjpegError: the folder is not given, missing, or holds no images.
    """
    if name not in _ENV:
        raise ValueError(f"name must be one of {tuple(_ENV)}. Received: name={name!r}")
    raw = path if path is not None else os.environ.get(_ENV[name])
    if not raw:
        raise TfjpegError(
            f"No {name} image folder given: pass a path or set {_ENV[name]} "
            f"(e.g. export {_ENV[name]}=/data/{name})."
        )
    folder = Path(raw).expanduser()
    if not folder.is_dir():
        raise TfjpegError(f"{name} image folder does not exist: {folder}")
    if not list_images(folder):
        raise TfjpegError(f"{name} image folder holds no images ({', '.join(IMAGE_EXTENSIONS)}).")
    return folder


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    return sorted(
        p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def load_image(
    path: str | os.PathLike, *, mode: str = "RGB", max_pixels: int | None = None
) -> np.ndarray:
    """Load an image file as uint8 (H, W, 3) for ``mode="RGB"`` or (H, W) for ``mode="L"``.

    Every Pillow mode is converted properly (16-bit and float images scaled, transparency
    composited over white, ...): see :func:`tfjpeg.io.pixels.pillow_to_uint8`.

    Raises:
        InvalidImageError: the file is not a readable image.
        ImageTooLargeError: it has more pixels than ``max_pixels`` (default: the limit of
            :func:`tfjpeg.io.limits.resolve_max_pixels`, ``$TFJPEG_MAX_PIXELS`` or 100 M).
        InvalidArgumentError: a bad ``path``, ``mode`` or ``max_pixels``.
    """
    from tfjpeg.io.pixels import load_pillow_image

    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgumentTypeError(
            f"path must be a str or os.PathLike. Received: type(path)={type(path).__name__}"
        )
    check_choice(mode, ("RGB", "L"), "mode")
    try:
        return load_pillow_image(path, mode=mode, max_pixels=max_pixels)
    except OSError as err:  # missing or unreadable file
        if isinstance(err, TfjpegError):
            raise
        raise InvalidImageError(f"{path}: cannot read image ({err}).") from err


def iter_images(
    folder: str | os.PathLike, *, limit: int | None = None
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(file stem, RGB uint8 array)`` for the images of ``folder`` in name order.

    Example:
        >>> for name, image in iter_images(dataset_dir("kodak"), limit=2):
        ...     print(name, image.shape)
    """
    for path in list_images(folder)[:limit]:
        yield path.stem, load_image(path)
