"""The one decoding computation that ``tfjpeg.decode`` and the decoder SavedModels both run.

:func:`decode_core` takes a file's quantized blocks per component, one table per component, the
size, the sampling factors and the control signal z, runs a :class:`ConsistentDecoder`, projects
its output onto the file's consistent set (alternating with clipping to [0, 255],
:func:`tfjpeg.decoders.consistency.project_tensors`) and rounds to uint8, correcting the blocks
that libjpeg would re-encode differently (:func:`tfjpeg.decoders.exact.correct_uint8`). Stock
TF ops only and one traced graph for every layout: gray and colour are the two branches of one
``tf.cond``, and the colour layouts (4:4:4, 4:2:2, 4:4:0, 4:2:0) differ only in the chroma
factors, which are tensors.
:class:`tfjpeg.serving.decoders.DecoderServingModule` wraps it in the ``tf.function`` that both
SavedModel signatures call and that ``tfjpeg.decode`` calls on the Keras model (ARCHITECTURE.md,
"The served artefact is the product").

Reference: Bahat & Michaeli 2021 (the decoder, eq. 2 for the projection).
"""

from __future__ import annotations

import tensorflow as tf

from tfjpeg.decoders.consistency import project_tensors
from tfjpeg.decoders.exact import CORRECTION_ITERATIONS, correct_uint8
from tfjpeg.decoders.geometry import chroma_factors_of_sampling, image_from_coefficients
from tfjpeg.decoders.tiling import TILE_BLOCKS, tiled_coefficients

__all__ = [
    "CORE_SIGNATURE",
    "PROJECTION_ITERATIONS",
    "PROJECTION_MARGIN",
    "PROJECTION_TOLERANCE",
    "decode_core",
]

#: Distance from the bin edges (quantized units) the final projection keeps coefficients at.
PROJECTION_MARGIN = 0.15
#: At most this many projection / clipping rounds.
PROJECTION_ITERATIONS = 5
#: The rounds stop once no sample is more than this outside [0, 255] (gray levels), unless the
#: model sets its own ``projection_tolerance`` (the uint8 correction pass, which re-encodes the
#: rounded image exactly, makes the output consistent either way).
PROJECTION_TOLERANCE = 1e-3

#: Inputs of :func:`decode_core` (after the model), as the ``decode_coefficients`` signature
#: takes them, plus ``iterations`` (projection rounds, 0 for none; the signatures fix it).
CORE_SIGNATURE = [
    tf.TensorSpec([None, None, 8, 8], tf.int32, name="y"),
    tf.TensorSpec([None, None, 8, 8], tf.int32, name="cb"),
    tf.TensorSpec([None, None, 8, 8], tf.int32, name="cr"),
    tf.TensorSpec([None, 8, 8], tf.float32, name="tables"),
    tf.TensorSpec([], tf.int32, name="height"),
    tf.TensorSpec([], tf.int32, name="width"),
    tf.TensorSpec([3, 2], tf.int32, name="sampling"),
    tf.TensorSpec([None, None, 64], tf.float32, name="z"),
    tf.TensorSpec([], tf.int32, name="iterations"),
]


def _per_component_tables(tables: tf.Tensor) -> tf.Tensor:
    """(K, 8, 8), K = 1 (one table), 2 ([luma, chroma]) or 3 (per component) → (3, 8, 8)."""
    k = tf.shape(tables)[0]
    check = tf.debugging.Assert(
        (k >= 1) & (k <= 3), ["tables must be (K, 8, 8) with K = 1, 2 or 3; K =", k]
    )
    with tf.control_dependencies([check]):
        return tf.gather(tables, tf.minimum(tf.range(3), k - 1))


def decode_core(
    model,
    y: tf.Tensor,
    cb: tf.Tensor,
    cr: tf.Tensor,
    tables: tf.Tensor,
    height: tf.Tensor,
    width: tf.Tensor,
    sampling: tf.Tensor,
    z: tf.Tensor,
    iterations: tf.Tensor | int,
    margin: float | None = None,
    tile_blocks: int = TILE_BLOCKS,
    jit_compile: bool = False,
) -> tf.Tensor:
    """The decoding of one file: network → projection → uint8 with the exact correction.

    Args:
        model: a built :class:`~tfjpeg.decoders.ConsistentDecoder`.
        y, cb, cr: int (hb, wb, 8, 8) quantized blocks; cb and cr (0, 0, 8, 8) for gray files.
        tables: float32 (K, 8, 8): K = 3 one table per component (each chroma component is
            dequantized, and its Δ scaled, with its own table), K = 2 [luma, chroma], K = 1.
        height, width: image size.
        sampling: int32 (3, 2) (h, v) sampling factors per component (rows ignored for gray).
        z: float32 (hb, wb, 64) control signal, or an empty (0, 0, 64) tensor for z = 0.
        iterations: at most this many projection / clipping rounds (0: no projection and no
            uint8 correction; otherwise :data:`~tfjpeg.decoders.exact.CORRECTION_ITERATIONS`
            correction rounds at most).
        margin: distance kept from the bin edges, default
            :data:`PROJECTION_MARGIN`.
        tile_blocks: the network runs on tiles of this many luma blocks a side plus a halo
            (:func:`tfjpeg.decoders.tiling.tiled_coefficients`; the same coefficients as one
            pass over the whole file, in memory bounded by the tile size).
        jit_compile: the network through XLA, per tile (see ``tiled_coefficients``).

    Returns:
        ``{"image": uint8 (H, W, C), "decoded": float32 (H, W, C)}``, C = 3, or 1 for gray
        files; "decoded" is the projected image before the final clipping, rounding and
        correction.
    """
    if margin is None:
        margin = PROJECTION_MARGIN
    tolerance = float(getattr(model, "projection_tolerance", PROJECTION_TOLERANCE))
    y = tf.cast(y, tf.float32)
    hb, wb = tf.shape(y)[0], tf.shape(y)[1]
    z = tf.cast(z, tf.float32)
    z = tf.cond(tf.equal(tf.size(z), 0), lambda: tf.zeros(tf.stack([hb, wb, 64])), lambda: z)
    tables = _per_component_tables(tf.cast(tables, tf.float32))
    height = tf.cast(height, tf.int32)
    width = tf.cast(width, tf.int32)
    corrections = tf.where(tf.cast(iterations, tf.int32) > 0, CORRECTION_ITERATIONS, 0)

    def gray() -> tuple[tf.Tensor, tf.Tensor]:
        coefs = tiled_coefficients(
            model, [y], tables, height, width, (1, 1), z, "gray", tile_blocks, jit_compile
        )
        decoded = image_from_coefficients(coefs, tables[None], height, width)["decoded"][0]
        decoded = project_tensors(
            decoded,
            [y],
            tables,
            height,
            width,
            (1, 1),
            margin=margin,
            iterations=iterations,
            tolerance=tolerance,
        )
        return decoded, correct_uint8(decoded, [y], tables, height, width, (1, 1), corrections)

    def colour() -> tuple[tf.Tensor, tf.Tensor]:
        factors = chroma_factors_of_sampling(sampling)
        # Every block waits for the layout check: else a shape op of the model, run first on an
        # unsupported layout, would fail with TF's own message instead of tfjpeg's refusal.
        with tf.control_dependencies(list(factors)):
            luma, zc = tf.identity(y), tf.identity(z)
            chroma = [tf.identity(tf.cast(cb, tf.float32)), tf.identity(tf.cast(cr, tf.float32))]
        comps = [luma, *chroma]
        coefs = tiled_coefficients(
            model, comps, tables, height, width, factors, zc, factors, tile_blocks, jit_compile
        )
        image = image_from_coefficients(coefs, tables[None], height, width, *factors)
        decoded = image["decoded"][0]
        decoded = project_tensors(
            decoded,
            comps,
            tables,
            height,
            width,
            factors,
            margin=margin,
            iterations=iterations,
            tolerance=tolerance,
        )
        return decoded, correct_uint8(decoded, comps, tables, height, width, factors, corrections)

    decoded, image = tf.cond(tf.equal(tf.size(cb), 0), gray, colour)
    return {"decoded": decoded, "image": tf.cast(image, tf.uint8)}
