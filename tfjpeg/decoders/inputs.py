"""Decoder inputs from a real JPEG's coefficients (:func:`tfjpeg.io.read_jpeg`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from tfjpeg.decoders.geometry import chroma_factors
from tfjpeg.io.coefficients import JpegCoefficients

__all__ = ["decoder_inputs"]


def decoder_inputs(jpeg: JpegCoefficients, z: Any = None) -> tuple[dict[str, Any], str]:
    """A batch of one decoder input dict from :func:`tfjpeg.io.read_jpeg`'s coefficients.

    Args:
        jpeg: the file's coefficients.
        z: optional control signal (hb, wb, 64) or (1, hb, wb, 64).

    Returns:
        (inputs, subsampling) for ``ConsistentDecoder(inputs, subsampling=subsampling)``.

    Raises:
        UnsupportedJpegError: a chroma layout other than gray, 4:4:4, 4:2:2, 4:2:0.
    """
    subsampling = jpeg.subsampling
    chroma_factors(subsampling)
    comps = [tf.constant(c[None].astype(np.float32)) for c in jpeg.components]
    inputs: dict[str, Any] = {
        "y": comps[0],
        "tables": tf.constant(jpeg.component_tables[None].astype(np.float32)),
        "height": tf.constant(jpeg.height, tf.int32),
        "width": tf.constant(jpeg.width, tf.int32),
    }
    if len(comps) == 3:
        inputs["cb"], inputs["cr"] = comps[1], comps[2]
    if z is not None:
        z = tf.convert_to_tensor(z, tf.float32)
        inputs["z"] = z if z.shape.rank == 4 else z[None]
        expected = (1, *jpeg.components[0].shape[:2], 64)
        if tuple(inputs["z"].shape) != expected:
            raise ValueError(
                f"z must have shape {expected[1:]} for this file. Received: z.shape={z.shape}"
            )
    return inputs, subsampling
