"""A contact sheet: several decodings of one file side by side in one image (for the samples of
stochastic decoders, ``tfjpeg decode --samples K --contact-sheet``)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np

from tfjpeg.errors import InvalidArgumentError

__all__ = ["contact_sheet", "png_bytes"]


def contact_sheet(
    images: Sequence[np.ndarray], columns: int | None = None, gap: int = 4, fill: int = 255
) -> np.ndarray:
    """Lay same-size uint8 images (H, W, C) out on a grid, row by row, ``gap`` pixels apart.

    Args:
        images: one or more arrays of the same shape (H, W, C), C = 1 or 3.
        columns: images per row (default: ⌈√K⌉).
        gap: pixels between images and around the sheet.
        fill: the value of the gaps.

    Returns:
        uint8 (rows·(H + gap) + gap, columns·(W + gap) + gap, C).

    Raises:
        InvalidArgumentError: no images, or images of different shapes.
    """
    if not images:
        raise InvalidArgumentError("images must hold at least one image. Received: none")
    shape = np.shape(images[0])
    if len(shape) != 3 or any(np.shape(im) != shape for im in images):
        raise InvalidArgumentError(
            "images must be (H, W, C) arrays of one shape. "
            f"Received: shapes {sorted({np.shape(im) for im in images})}"
        )
    count = len(images)
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    h, w, c = shape
    sheet = np.full((rows * (h + gap) + gap, columns * (w + gap) + gap, c), fill, np.uint8)
    for i, image in enumerate(images):
        top, left = gap + (i // columns) * (h + gap), gap + (i % columns) * (w + gap)
        sheet[top : top + h, left : left + w] = np.asarray(image, np.uint8)
    return sheet


def png_bytes(pixels: np.ndarray) -> bytes:
    """uint8 (H, W, 3) or (H, W, 1) pixels as a PNG file's bytes (Pillow)."""
    from PIL import Image

    pixels = np.asarray(pixels, np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buffer, "PNG")
    return buffer.getvalue()
