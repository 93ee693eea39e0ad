"""Per-image conditioning values (JPEG quality, noise σ) as constant image channels (§5)."""

from __future__ import annotations

from typing import Any

from keras import ops

__all__ = ["constant_channel", "per_image"]


def per_image(value: Any, batch: Any, default: float) -> Any:
    """A float32 (N,) vector from None (→ ``default``), a scalar, or one value per image."""
    if value is None:
        value = default
    value = ops.cast(ops.convert_to_tensor(value), "float32")
    value = ops.reshape(value, (-1,))
    return ops.broadcast_to(value, (batch,))


def constant_channel(values: Any, like: Any) -> Any:
    """(N,) values → an (N, H, W, 1) channel the size of ``like`` (N, H, W, C)."""
    shape = ops.shape(like)
    return ops.broadcast_to(
        ops.reshape(ops.cast(values, like.dtype), (-1, 1, 1, 1)), (shape[0], shape[1], shape[2], 1)
    )
