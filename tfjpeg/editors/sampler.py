"""A gather-based bilinear sampler (the spatial transformer's interpolation, Jaderberg et al. 2015).

tensorflow-addons (``resampler``) is end-of-life; this is plain gathers, differentiable in the
image and in the sampling coordinates, and servable by stock TF Serving.
"""

from __future__ import annotations

from typing import Any

from keras import ops

__all__ = ["bilinear_sample"]


def bilinear_sample(images: Any, rows: Any, cols: Any) -> Any:
    """Sample ``images`` at real-valued pixel positions with bilinear interpolation.

    Pixel (i, j) has its centre at row i, column j. Positions outside the image are clamped to the
    border (edge replication).

    Args:
        images: (N, H, W, C) float.
        rows: (N, Ho, Wo) float row coordinates.
        cols: (N, Ho, Wo) float column coordinates.

    Returns:
        (N, Ho, Wo, C) samples; gradients flow to ``images``, ``rows`` and ``cols``.

    Example:
        >>> img = ops.reshape(ops.arange(12, dtype="float32"), (1, 3, 4, 1))
        >>> bilinear_sample(img, ops.full((1, 1, 1), 0.5), ops.full((1, 1, 1), 1.5))[0, 0, 0, 0]
        3.5
    """
    images = ops.convert_to_tensor(images)
    shape = ops.shape(images)
    n, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    dtype = images.dtype
    rows = ops.clip(ops.cast(rows, dtype), 0.0, ops.cast(height - 1, dtype))
    cols = ops.clip(ops.cast(cols, dtype), 0.0, ops.cast(width - 1, dtype))
    r0f, c0f = ops.floor(rows), ops.floor(cols)
    wr, wc = rows - r0f, cols - c0f
    r0 = ops.cast(r0f, "int32")
    c0 = ops.cast(c0f, "int32")
    r1 = ops.minimum(r0 + 1, height - 1)
    c1 = ops.minimum(c0 + 1, width - 1)
    out_shape = ops.shape(rows)
    flat = ops.reshape(images, (n, -1, channels))

    def gather(r: Any, c: Any) -> Any:
        index = ops.reshape(r * width + c, (n, -1, 1))
        index = ops.broadcast_to(index, (n, ops.shape(index)[1], channels))
        values = ops.take_along_axis(flat, index, axis=1)
        return ops.reshape(values, (n, out_shape[1], out_shape[2], channels))

    wr, wc = wr[..., None], wc[..., None]
    top = gather(r0, c0) * (1.0 - wc) + gather(r0, c1) * wc
    bottom = gather(r1, c0) * (1.0 - wc) + gather(r1, c1) * wc
    return top * (1.0 - wr) + bottom * wr
