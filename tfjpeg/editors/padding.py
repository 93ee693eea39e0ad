"""Reflect padding of any amount (gather-based), and padding to a multiple of the JPEG block.

Editors work on any image size: the input is reflect-padded to a multiple of 8 (so patches align
with JPEG blocks) and the output is cropped back. ``keras.ops.pad(mode="reflect")`` needs the pad
to be smaller than the side; :func:`reflect_pad` gathers mirrored indices instead, so it works for
any side ≥ 1 and any amount (a 1-pixel side is repeated).
"""

from __future__ import annotations

from typing import Any

from keras import ops

__all__ = ["crop_to", "pad_to_multiple", "reflect_indices", "reflect_pad"]


def reflect_indices(length: Any, before: Any, after: Any) -> Any:
    """Indices into a side of ``length`` that mirror it (without repeating the edge) by
    ``before``/``after`` samples, e.g. length 3, 2/2 → [2, 1, 0, 1, 2, 1, 0]."""
    positions = ops.arange(-before, length + after, dtype="int32")
    period = ops.maximum(2 * (length - 1), 1)
    folded = ops.mod(ops.abs(positions), period)
    folded = ops.where(folded < length, folded, period - folded)
    return ops.minimum(folded, length - 1)


def reflect_pad(images: Any, top: Any, bottom: Any, left: Any, right: Any) -> Any:
    """Reflect-pad (N, H, W, C) images by any amounts (works for any H, W ≥ 1)."""
    shape = ops.shape(images)
    rows = reflect_indices(shape[1], top, bottom)
    cols = reflect_indices(shape[2], left, right)
    return ops.take(ops.take(images, rows, axis=1), cols, axis=2)


def pad_to_multiple(images: Any, multiple: int = 8) -> tuple[Any, Any, Any]:
    """Reflect-pad (N, H, W, C) at the bottom/right to a multiple of ``multiple``.

    Returns:
        (padded images, original height, original width).
    """
    shape = ops.shape(images)
    height, width = shape[1], shape[2]
    pad_h = (multiple - height % multiple) % multiple
    pad_w = (multiple - width % multiple) % multiple
    return reflect_pad(images, 0, pad_h, 0, pad_w), height, width


def crop_to(images: Any, height: Any, width: Any) -> Any:
    """The top-left (height, width) of (N, H, W, C) images."""
    return images[:, :height, :width, :]
