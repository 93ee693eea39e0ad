"""Decoder inputs from a real JPEG's coefficients (:func:`tfjpeg.io.read_jpeg`).

:func:`decoder_inputs` feeds the Keras model; :func:`core_inputs` feeds
:func:`tfjpeg.decoders.core.decode_core` (the ``decode_coefficients`` signature). Both carry one
table per component (``JpegCoefficients.component_tables``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from tfjpeg.decoders.geometry import chroma_factors
from tfjpeg.errors import InvalidArgumentError
from tfjpeg.io.coefficients import JpegCoefficients
from tfjpeg.jpeg.tables import validate_tables

__all__ = ["CallInputs", "core_inputs", "decoder_inputs", "model_inputs", "unpack_call_inputs"]


def _checked_z(z: Any, jpeg: JpegCoefficients) -> tf.Tensor:
    """``z`` as float32 (hb, wb, 64) on the file's luma block grid; refused with a message
    naming it when it is not numeric, has another shape, or holds NaN or infinity."""
    try:
        value = np.asarray(z, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(
            f"z must be a float array (hb, wb, 64). Received: z of type {type(z).__name__}"
        ) from err
    value = value[0] if value.ndim == 4 and value.shape[0] == 1 else value
    expected = (*jpeg.components[0].shape[:2], 64)
    if value.shape != expected:
        raise InvalidArgumentError(
            f"z must have shape {expected} for this file. Received: z.shape={value.shape}"
        )
    if not np.all(np.isfinite(value)):
        raise InvalidArgumentError("z must be finite. Received: z with NaN or infinite values")
    return tf.constant(value)


def model_inputs(
    components: list[Any], tables: Any, height: Any, width: Any, z: Any = None
) -> dict[str, Any]:
    """The :class:`~tfjpeg.decoders.ConsistentDecoder` input dict (the one place it is built).

    Args:
        components: 1 (gray) or 3 float blocks (N, hb, wb, 8, 8), luma first.
        tables: (N, K, 8, 8) quantization tables (K = 3 one per component, or 2 / 1).
        height, width: image size (int scalars).
        z: optional control signal (N, hb, wb, 64).
    """
    inputs: dict[str, Any] = {"y": components[0], "tables": tables}
    inputs["height"], inputs["width"] = height, width
    if len(components) == 3:
        inputs["cb"], inputs["cr"] = components[1], components[2]
    if z is not None:
        inputs["z"] = z
    return inputs


def decoder_inputs(jpeg: JpegCoefficients, z: Any = None) -> tuple[dict[str, Any], str]:
    """A batch of one decoder input dict from :func:`tfjpeg.io.read_jpeg`'s coefficients.

    Args:
        jpeg: the file's coefficients.
        z: optional control signal (hb, wb, 64) or (1, hb, wb, 64).

    Returns:
        (inputs, subsampling) for ``ConsistentDecoder(inputs, subsampling=subsampling)``.

    Raises:
        UnsupportedJpegError: a chroma layout other than gray, 4:4:4, 4:2:2, 4:4:0, 4:2:0.
    """
    subsampling = jpeg.subsampling
    chroma_factors(subsampling)
    comps = [tf.constant(c[None].astype(np.float32)) for c in jpeg.components]
    if z is not None:
        z = _checked_z(z, jpeg)[None]
    tables = tf.constant(jpeg.component_tables[None].astype(np.float32))
    height, width = tf.constant(jpeg.height, tf.int32), tf.constant(jpeg.width, tf.int32)
    return model_inputs(comps, tables, height, width, z), subsampling


def core_inputs(jpeg: JpegCoefficients, z: Any = None) -> dict[str, tf.Tensor]:
    """The ``decode_coefficients`` inputs of a file read by :func:`tfjpeg.io.read_jpeg`.

    Args:
        jpeg: the file's coefficients (gray, 4:4:4, 4:2:2, 4:4:0 or 4:2:0).
        z: optional control signal (hb, wb, 64) or (1, hb, wb, 64); None for z = 0.

    Raises:
        UnsupportedJpegError: another chroma layout.
        ValueError: z of the wrong shape.
    """
    chroma_factors(jpeg.subsampling)
    comps = [tf.constant(c, tf.int32) for c in jpeg.components]
    empty = tf.zeros([0, 0, 8, 8], tf.int32)
    sampling = np.zeros((3, 2), np.int32)
    sampling[: jpeg.num_components] = jpeg.sampling
    z = tf.zeros([0, 0, 64]) if z is None else _checked_z(z, jpeg)
    return {
        "y": comps[0],
        "cb": comps[1] if len(comps) == 3 else empty,
        "cr": comps[2] if len(comps) == 3 else empty,
        "tables": tf.constant(jpeg.component_tables.astype(np.float32)),
        "height": tf.constant(jpeg.height, tf.int32),
        "width": tf.constant(jpeg.width, tf.int32),
        "sampling": tf.constant(sampling),
        "z": z,
    }


class CallInputs(NamedTuple):
    """A decoder's ``call`` inputs, checked and broadcast (the contract every decoder shares)."""

    y: tf.Tensor  # float32 (n, hb, wb, 8, 8)
    n: tf.Tensor
    hb: tf.Tensor
    wb: tf.Tensor
    tables: tf.Tensor  # float32 (n, 2|3, 8, 8)
    height: tf.Tensor
    width: tf.Tensor
    z: tf.Tensor  # float32 (n, hb, wb, 64), zeros when not given
    gray: bool


def unpack_call_inputs(inputs: dict[str, Any], subsampling: Any) -> CallInputs:
    """The shared first step of a decoder's ``call`` on :func:`model_inputs`' dictionary."""
    y = tf.cast(inputs["y"], tf.float32)
    shape = tf.shape(y)
    n, hb, wb = shape[0], shape[1], shape[2]
    tables = validate_tables(inputs["tables"])
    tables = tf.broadcast_to(tables, tf.stack([n, tables.shape[1], 8, 8]))
    z = inputs.get("z")
    z = tf.zeros([n, hb, wb, 64]) if z is None else tf.cast(z, tf.float32)
    return CallInputs(
        y=y,
        n=n,
        hb=hb,
        wb=wb,
        tables=tables,
        height=tf.cast(inputs["height"], tf.int32),
        width=tf.cast(inputs["width"], tf.int32),
        z=z,
        gray=(isinstance(subsampling, str) and subsampling == "gray") or inputs.get("cb") is None,
    )
