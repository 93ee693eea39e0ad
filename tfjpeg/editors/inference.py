"""Running an editor on a whole image, then a standard JPEG encoder: the one edit-then-encode path.

``tfjpeg.compress``, ``tfjpeg.metrics.evaluation`` and the Kodak example all call
:func:`edit_and_encode`, so what is measured is what ``tfjpeg compress`` writes. Images are
edited in tiles (:func:`edit_image`) so memory stays bounded; the editor is conditioned on the
file's quality clamped into its training range (Talebi et al. 2020 §5).

Example:
    >>> data = edit_and_encode(editor, image, 20, "libjpeg")  # doctest: +SKIP
    >>> data[:2]
    b'\\xff\\xd8'
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "ENCODERS",
    "TILE_OVERLAP",
    "TILE_SIZE",
    "TRAINED_QUALITY_RANGE",
    "conditioning_quality",
    "edit_and_encode",
    "edit_image",
    "edited_pixels",
]

#: Standard JPEG encoders the edited image can be handed to (:func:`tfjpeg.io.encode_pixels`).
ENCODERS = ("libjpeg", "mozjpeg")
#: The editors were trained for JPEG qualities in this range (§5); the conditioning quality given
#: to an editor is clamped into it.
TRAINED_QUALITY_RANGE = (8, 25)
#: Images are edited in tiles of this side (pixels, a multiple of 8) with this overlap, so memory
#: stays bounded; the overlap exceeds every editor's receptive field, so tiles join exactly.
TILE_SIZE = 1024
TILE_OVERLAP = 96


def conditioning_quality(quality: int) -> int:
    """The quality an editor is conditioned on for a file of ``quality``: clamped to the range."""
    return int(np.clip(quality, *TRAINED_QUALITY_RANGE))


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


def edit_and_encode(
    editor: Any,
    image: np.ndarray,
    quality: int,
    encoder: str = "libjpeg",
    *,
    subsampling: str = "420",
    cache: dict[int, np.ndarray] | None = None,
    tables: np.ndarray | None = None,
) -> bytes:
    """Edit ``image`` for JPEG ``quality`` with ``editor``, then encode it with ``encoder``.

    Args:
        editor: a Keras editor (``editor(x, quality=..., training=False)["edited"]``), or None
            to encode the image as it is.
        image: uint8 (H, W, 3) or (H, W, 1). A gray image is edited as RGB and averaged back to
            one channel, so the file stays gray.
        quality: JPEG quality 1..100 of the file; the editor is conditioned on
            :func:`conditioning_quality` of it.
        encoder: "libjpeg" (libjpeg-turbo via Pillow) or "mozjpeg"; both with optimized
            Huffman tables.
        subsampling: chroma subsampling of the file.
        cache: a dict (conditioning quality → edited pixels) shared by calls on the same image
            and editor, so a quality search or several encoders edit once per conditioning.
        tables: explicit (2|3, 8, 8) quantization tables for the file (e.g. the learned ones
            for ``quality``, :mod:`tfjpeg.jpeg.learned`); None: the encoder's own for
            ``quality``.

    Returns:
        The JPEG file's bytes.
    """
    from tfjpeg.io import encode_pixels

    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}. Received: encoder={encoder!r}")
    edited = edited_pixels(editor, image, quality, cache=cache)
    return encode_pixels(
        edited, quality, subsampling=subsampling, encoder=encoder, optimize=True, tables=tables
    )


def edited_pixels(
    editor: Any,
    image: np.ndarray,
    quality: int,
    *,
    cache: dict[int, np.ndarray] | None = None,
) -> np.ndarray:
    """The uint8 pixels :func:`edit_and_encode` hands to the encoder (``image`` itself when
    ``editor`` is None); same arguments."""
    if editor is None:
        return image
    cond = conditioning_quality(quality)
    if cache is not None and cond in cache:
        return cache[cond]
    gray = image.shape[-1] == 1
    rgb = np.repeat(image, 3, axis=-1) if gray else image
    edited = edit_image(editor, rgb, cond)
    if gray:
        mean = np.round(edited.astype(np.float32).mean(axis=-1, keepdims=True))
        edited = mean.astype(np.uint8)
    if cache is not None:
        cache[cond] = edited
    return edited
