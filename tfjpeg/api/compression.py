"""``tfjpeg.compress``: pre-edit an image with a learned editor, then encode a standard JPEG.

The product surface of deep pre-editing (Talebi et al. 2020): the editor T(z) runs on the encoder
side only, and the output is an ordinary baseline JPEG that any viewer opens. A target size is
met by searching the JPEG quality, as the paper does for its comparisons (§5).

Example:
    >>> data = compress("photo.png", quality=20, editor="smoothing")  # doctest: +SKIP
    >>> data[:2]
    b'\\xff\\xd8'
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from tfjpeg.errors import ImageTooLargeError, InvalidImageError, TfjpegError
from tfjpeg.models import names

__all__ = [
    "DEFAULT_QUALITY",
    "EDITOR_NAMES",
    "ENCODERS",
    "TRAINED_QUALITY_RANGE",
    "CompressResult",
    "compress",
    "compress_image",
    "edit_image",
]

#: Editors by name; "none" encodes the image as it is.
EDITOR_NAMES = (*names("editor"), "none")
ENCODERS = ("libjpeg", "mozjpeg")
#: Quality used when neither ``quality`` nor ``target_bpp`` is given (inside the training range).
DEFAULT_QUALITY = 20
#: The editors were trained for JPEG qualities in this range (§5); the conditioning quality given
#: to an editor is clamped into it.
TRAINED_QUALITY_RANGE = (8, 25)
#: Images are edited in tiles of this side (pixels, a multiple of 8) with this overlap, so memory
#: stays bounded; the overlap exceeds every editor's receptive field, so tiles join exactly.
TILE_SIZE = 1024
TILE_OVERLAP = 96


@dataclasses.dataclass(frozen=True)
class CompressResult:
    """What :func:`compress_image` made: the JPEG, its quality and size."""

    jpeg: bytes
    quality: int
    bpp: float
    height: int
    width: int


def _read_image(image: Any) -> np.ndarray:
    """A path, file bytes or uint8 array → uint8 (H, W, 3) or (H, W, 1)."""
    from tfjpeg.data.folders import load_image
    from tfjpeg.io import decode_pixels, resolve_max_pixels

    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        if data[:2] == b"\xff\xd8":
            return decode_pixels(data)
        from PIL import Image

        limit = resolve_max_pixels(None)
        try:
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > limit:
                    raise ImageTooLargeError(
                        f"{img.width}x{img.height} = {img.width * img.height} pixels exceeds the "
                        f"limit of {limit} (set TFJPEG_MAX_PIXELS)."
                    )
                gray = img.mode in ("L", "I", "I;16", "1")
                arr = np.asarray(img.convert("L" if gray else "RGB"))
        except (OSError, SyntaxError, ValueError) as err:
            raise InvalidImageError(f"cannot read the image bytes ({err}).") from err
        return arr[..., None] if arr.ndim == 2 else arr
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise InvalidImageError(f"{path}: no such file.")
        with open(path, "rb") as f:
            head = f.read(2)
        if head == b"\xff\xd8":
            return decode_pixels(path)
        return load_image(path)
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise InvalidImageError(
            f"image arrays must be uint8 (H, W, 3) or (H, W). Received: dtype={arr.dtype}"
        )
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3) or min(arr.shape[:2]) < 1:
        raise InvalidImageError(
            f"image arrays must have shape (H, W, 3), (H, W, 1) or (H, W). "
            f"Received: shape={np.shape(image)}"
        )
    return arr


def _load_named_editor(folder: str) -> Any:
    """The Keras editor of an exported folder (cached; a re-export is read again)."""
    from tfjpeg.editors import CascadeEditor, SmoothingEditor, SpatialTransformerEditor
    from tfjpeg.models.presets import load_folder

    return load_folder(folder, cls=(SmoothingEditor, SpatialTransformerEditor, CascadeEditor))


def _resolve_editor(editor: Any) -> Any:
    """None for "none"; a Keras editor for a registry name, an exported folder or a model."""
    if editor is None or (isinstance(editor, str) and editor == "none"):
        return None
    if isinstance(editor, str) and editor in EDITOR_NAMES:
        from tfjpeg.models.presets import load

        return load(editor)
    if isinstance(editor, (str, os.PathLike)):
        if not Path(editor).is_dir():
            raise TfjpegError(
                f"unknown editor {os.fspath(editor)!r}: choose one of {', '.join(EDITOR_NAMES)} "
                "or give the folder of an exported editor."
            )
        return _load_named_editor(str(Path(editor).resolve()))
    if callable(editor):
        return editor
    raise TfjpegError(f"editor must be a name, a folder or a model. Received: {editor!r}")


def edit_image(
    editor: Any,
    image: np.ndarray,
    quality: float,
    *,
    tile_size: int = TILE_SIZE,
    overlap: int = TILE_OVERLAP,
) -> np.ndarray:
    """Run ``editor`` on one uint8 (H, W, 3) image for JPEG ``quality``; returns uint8.

    Large images are processed in ``tile_size`` tiles (multiples of 8, so the spatial
    transformer's patches stay aligned with the file's JPEG blocks) with ``overlap`` pixels of
    context on each side; the result equals the whole-image edit.
    """
    import tensorflow as tf

    if tile_size % 8 or overlap % 8:
        raise ValueError(
            "tile_size and overlap must be multiples of 8. "
            f"Received: tile_size={tile_size}, overlap={overlap}"
        )
    height, width = image.shape[:2]
    out = np.empty((height, width, 3), np.uint8)
    q = tf.constant([float(quality)], tf.float32)
    for y0 in range(0, height, tile_size):
        for x0 in range(0, width, tile_size):
            y1, x1 = min(y0 + tile_size, height), min(x0 + tile_size, width)
            ya, xa = max(y0 - overlap, 0), max(x0 - overlap, 0)
            yb, xb = min(y1 + overlap, height), min(x1 + overlap, width)
            tile = tf.constant(image[ya:yb, xa:xb, :3][None].astype(np.float32))
            edited = editor(tile, quality=q, training=False)["edited"][0].numpy()
            edited = np.clip(np.round(edited), 0, 255).astype(np.uint8)
            out[y0:y1, x0:x1] = edited[y0 - ya : y1 - ya, x0 - xa : x1 - xa]
    return out


def _check_args(quality: Any, target_bpp: Any, encoder: str) -> None:
    if quality is not None and target_bpp is not None:
        raise ValueError(
            "give either quality or target_bpp, not both. "
            f"Received: quality={quality!r}, target_bpp={target_bpp!r}"
        )
    if quality is not None and (
        isinstance(quality, bool)
        or not isinstance(quality, (int, np.integer))
        or not 1 <= quality <= 100
    ):
        raise ValueError(f"quality must be an integer in [1, 100]. Received: quality={quality!r}")
    if target_bpp is not None:
        try:
            value = float(target_bpp)
        except (TypeError, ValueError):
            value = float("nan")
        if not 0.0 < value <= 24.0:
            raise ValueError(
                f"target_bpp must be a number in (0, 24]. Received: target_bpp={target_bpp!r}"
            )
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}. Received: encoder={encoder!r}")


def encode_pixels_for_test(pixels: np.ndarray, quality: int, encoder: str = "libjpeg") -> bytes:
    """The encoder call :func:`compress` makes (4:2:0, optimized Huffman tables)."""
    from tfjpeg.io import encode_pixels

    return encode_pixels(pixels, quality, subsampling="420", encoder=encoder, optimize=True)


def compress_image(
    image: Any,
    quality: int | None = None,
    target_bpp: float | None = None,
    editor: Any = "smoothing",
    encoder: str = "libjpeg",
    *,
    subsampling: str = "420",
) -> CompressResult:
    """Like :func:`compress`, but returns a :class:`CompressResult` (bytes, quality, bpp)."""
    from tfjpeg.io import encode_pixels

    _check_args(quality, target_bpp, encoder)
    pixels = _read_image(image)
    gray = pixels.shape[-1] == 1
    rgb = np.repeat(pixels, 3, axis=-1) if gray else pixels
    model = _resolve_editor(editor)
    height, width = pixels.shape[:2]
    edits: dict[int, np.ndarray] = {}

    def encode(q: int) -> bytes:
        if model is None:
            edited = pixels
        else:
            cond = int(np.clip(q, *TRAINED_QUALITY_RANGE))
            if cond not in edits:
                edits[cond] = edit_image(model, rgb, cond)
            edited = edits[cond]
            if gray:
                mean = np.round(edited.astype(np.float32).mean(axis=-1, keepdims=True))
                edited = mean.astype(np.uint8)
        return encode_pixels(edited, q, subsampling=subsampling, encoder=encoder, optimize=True)

    def bpp(data: bytes) -> float:
        return 8.0 * len(data) / (height * width)

    if target_bpp is None:
        q = DEFAULT_QUALITY if quality is None else int(quality)
        data = encode(q)
        return CompressResult(data, q, bpp(data), height, width)
    # Largest quality whose file fits the target (file size grows with quality).
    lo, hi, best = 1, 100, None
    while lo <= hi:
        mid = (lo + hi) // 2
        data = encode(mid)
        if bpp(data) <= float(target_bpp):
            best, lo = (mid, data), mid + 1
        else:
            hi = mid - 1
    if best is None:
        data = encode(1)
        warnings.warn(
            f"target_bpp={target_bpp} is below what quality 1 reaches ({bpp(data):.3f} bpp); "
            "returning the quality-1 file.",
            stacklevel=2,
        )
        best = (1, data)
    return CompressResult(best[1], best[0], bpp(best[1]), height, width)


def compress(
    image: Any,
    quality: int | None = None,
    target_bpp: float | None = None,
    editor: Any = "smoothing",
    encoder: str = "libjpeg",
    *,
    subsampling: str = "420",
) -> bytes:
    """Pre-edit ``image`` with a learned editor and encode it as a standard JPEG.

    Args:
        image: a file path (PNG, JPEG, ...), the file's bytes, or a uint8 array (H, W, 3) / (H, W).
        quality: JPEG quality 1..100 (default :data:`DEFAULT_QUALITY` when ``target_bpp`` is not
            given either).
        target_bpp: instead of a quality, the largest quality whose file has at most this many bits
            per pixel is searched (bisection over 1..100, the editor re-run per quality).
        editor: "smoothing", "stn", "cascade" (shipped models, :mod:`tfjpeg.models`), "none", the
            folder of an exported editor, or a Keras editor.
        encoder: "libjpeg" (libjpeg-turbo via Pillow, optimized Huffman tables) or "mozjpeg"
            (sequential, optimized Huffman tables).
        subsampling: chroma subsampling, "420" (the editors' training setting), "422" or "444".

    Returns:
        The JPEG file's bytes (baseline, JFIF).

    Raises:
        ValueError: bad quality/target_bpp/encoder combination.
        InvalidImageError, InvalidJpegError, ImageTooLargeError: unreadable or too large input.
        TfjpegError: unknown editor, or a shipped editor that is not installed.

    Reference: Talebi et al. 2020, "Better compression with deep pre-editing".
    """
    return compress_image(image, quality, target_bpp, editor, encoder, subsampling=subsampling).jpeg
