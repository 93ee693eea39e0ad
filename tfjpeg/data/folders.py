"""Loading images from folders: the Kodak evaluation set and the training set.

The data are never shipped with tfjpeg. Point ``TFJPEG_KODAK_DIR`` at the 24 Kodak PNGs and
``TFJPEG_TRAIN_DIR`` at a folder of training images, or pass a path.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from tfjpeg.errors import ImageTooLargeError, InvalidImageError, TfjpegError
from tfjpeg.io.limits import resolve_max_pixels

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

    Raises:
        InvalidImageError: the file is not a readable image.
        ImageTooLargeError: it has more pixels than ``max_pixels`` (default: the limit of
            :func:`tfjpeg.io.limits.resolve_max_pixels`, ``$TFJPEG_MAX_PIXELS`` or 100 M).
    """
    limit = resolve_max_pixels(max_pixels)
    try:
        with Image.open(path) as img:
            if img.width * img.height > limit:
                raise ImageTooLargeError(
                    f"{path}: {img.width}x{img.height} = {img.width * img.height} pixels exceeds "
                    f"the limit of {limit} (set max_pixels or TFJPEG_MAX_PIXELS)."
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                return np.asarray(img.convert(mode))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
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
