"""Exact consistency after rounding to uint8: libjpeg's encoder in-graph and a correction pass.

The projection (:func:`tfjpeg.decoders.consistency.project_tensors`) makes the *float* decoding
consistent with a margin inside every quantization bin. Rounding to uint8, libjpeg's integer
colour conversion, its biased chroma downsampling and its integer DCT then move each coefficient
by a little noise; a coefficient near a bin edge can cross it. The noise is largest in the
partial blocks of the bottom and right edges: the encoder replicates the last sample row or
column into the padding, so one row of rounding noise counts up to eight times there (all the
misses measured before this pass, q20–40, were in such blocks).

:func:`exact_coefficients` re-encodes uint8 pixels exactly as libjpeg-turbo does (integer
``rgb_ycc``, ``h2v2``/``h2v1``/``int_downsample``, ``jpeg_fdct_islow``, the reciprocal
quantizer), with tensor chroma factors, so one graph serves every layout.
:func:`correct_uint8` then repeats, at most ``iterations`` times and only while some coefficient
differs from the file's: round, re-encode exactly, and in every block that has a miss move the
block's exact (unrounded) coefficients ``margin`` inside their bins (the projection of eq. 2,
measured on what the encoder really sees), adding that change to the rounded image.

Reference: Bahat & Michaeli 2021, eq. 2 (the projection); libjpeg-turbo ``jccolor.c``,
``jcsample.c``, ``jfdctint.c``, ``jcdctmgr.c``.
"""

from __future__ import annotations

import tensorflow as tf

from tfjpeg.decoders.geometry import upsample_nearest
from tfjpeg.jpeg import color, islow
from tfjpeg.jpeg.blocks import blocks_to_plane, ceil_div, pad_edges, plane_to_blocks
from tfjpeg.jpeg.dct import block_idct

__all__ = ["CORRECTION_ITERATIONS", "CORRECTION_MARGIN", "correct_uint8", "exact_coefficients"]

#: Rounds of the uint8 correction (it stops early once every coefficient matches).
CORRECTION_ITERATIONS = 32
#: Distance from the bin edges (quantized units) the correction moves a missed block's
#: coefficients to.
CORRECTION_MARGIN = 0.2


def _downsample_exact(plane: tf.Tensor, fh, fv) -> tf.Tensor:
    """libjpeg-turbo's integer downsampling for factors 1 or 2 (ints or tensors), int32.

    h2v2: (sum + 1, 2, 1, 2, …) >> 2; h2v1: (sum + 0, 1, 0, 1, …) >> 1 (``jcsample.c``);
    h1v2 goes through ``int_downsample``: (sum + 1) >> 1.
    """
    shape = tf.shape(plane)
    sums = tf.reduce_sum(
        tf.reshape(plane, [shape[0], shape[1] // fv, fv, shape[2] // fh, fh]), axis=[2, 4]
    )
    cols = tf.range(tf.shape(sums)[2])[None, None, :]
    fh = tf.convert_to_tensor(fh, tf.int32)
    fv = tf.convert_to_tensor(fv, tf.int32)
    bias = tf.where(
        tf.equal(fh, 2) & tf.equal(fv, 2),
        1 + cols % 2,
        tf.where(tf.equal(fh, 2), cols % 2, tf.where(tf.equal(fv, 2), 1, 0) + 0 * cols),
    )
    return tf.bitwise.right_shift(sums + bias, (fh - 1) + (fv - 1))


def _component_blocks(plane: tf.Tensor, fh, fv, height, width, hb, wb) -> tf.Tensor:
    """libjpeg's edge padding + downsampling of one int32 (1, H, W) component → blocks."""
    comp_h = ceil_div(height, fv)
    plane = pad_edges(plane[..., None], comp_h * fv, wb * 8 * fh)[..., 0]
    plane = _downsample_exact(plane, fh, fv)
    plane = pad_edges(plane[..., None], hb * 8, wb * 8)[..., 0]
    return plane_to_blocks(plane)


def exact_coefficients(pixels: tf.Tensor, components, tables, height, width, factors):
    """libjpeg-turbo's coefficients of uint8 pixels, per component: (unrounded, quantized).

    Args:
        pixels: (1, H, W, C) integer-valued samples in [0, 255] (any numeric dtype).
        components: the file's blocks (to size the block grids), 1 or 3 (hb, wb, 8, 8).
        tables: (≥ C, 8, 8) tables.
        height, width: image size (ints or int32 tensors).
        factors: per component (fh, fv) (ints or int32 tensors).

    Returns:
        list of (float32 (1, hb, wb, 8, 8) ``fdct / (8·M)``, int32 (1, hb, wb, 8, 8) quantized).
    """
    pixels = tf.cast(tf.clip_by_value(tf.round(tf.cast(pixels, tf.float32)), 0.0, 255.0), tf.int32)
    planes = color.rgb_to_ycbcr_exact(pixels) if len(components) == 3 else pixels
    out = []
    for c, (fh, fv) in enumerate(factors):
        hb, wb = tf.shape(components[c])[0], tf.shape(components[c])[1]
        blocks = _component_blocks(planes[..., c], fh, fv, height, width, hb, wb)
        fdct = islow.islow_fdct(blocks - 128)
        table = tf.cast(tables[c], tf.float32)
        unrounded = tf.cast(fdct, tf.float32) / (8.0 * table)
        out.append((unrounded, islow.quantize_exact(fdct, tf.cast(table, tf.int32))))
    return out


def _fold_padding(plane: tf.Tensor, rows, cols) -> tf.Tensor:
    """(1, hb·8, wb·8) change → (1, rows, cols): the padding's change averaged into the last
    real row and column. The encoder replicates those into the padding, so this is the
    least-squares change of the real samples (the pseudo-inverse of the replication)."""
    plane = tf.concat(
        [plane[:, : rows - 1], tf.reduce_mean(plane[:, rows - 1 :], axis=1, keepdims=True)], 1
    )
    return tf.concat(
        [plane[:, :, : cols - 1], tf.reduce_mean(plane[:, :, cols - 1 :], axis=2, keepdims=True)],
        2,
    )


def _misses(coefs, components) -> list[tf.Tensor]:
    return [
        tf.not_equal(q, tf.cast(xq, tf.int32)[None])
        for (_, q), xq in zip(coefs, components, strict=True)
    ]


def count_misses(pixels, components, tables, height, width, factors) -> tf.Tensor:
    """Number of coefficients of the uint8 ``pixels`` that libjpeg would not quantize to the
    file's (int32 scalar)."""
    coefs = exact_coefficients(pixels, components, tables, height, width, factors)
    return tf.add_n([tf.reduce_sum(tf.cast(m, tf.int32)) for m in _misses(coefs, components)])


def correct_uint8(
    image: tf.Tensor,
    components,
    tables,
    height,
    width,
    factors=(1, 1),
    iterations=CORRECTION_ITERATIONS,
    margin: float = CORRECTION_MARGIN,
) -> tf.Tensor:
    """Round ``image`` to uint8 values and fix the blocks libjpeg would re-encode differently.

    Args:
        image: float32 (H, W, C) RGB (C = 3) or gray, e.g. the projected decoding.
        components: the file's quantized blocks, 1 or 3 (hb, wb, 8, 8).
        tables: (≥ C, 8, 8) float32 tables of the components.
        height, width: image size.
        factors: chroma (fh, fv), ints or int32 tensors (ignored for gray).
        iterations: at most this many correction rounds (int or int32 tensor; 0: plain rounding).
        margin: distance from the bin edges the missed blocks' coefficients are moved to.

    Returns:
        float32 (H, W, C) integer values in [0, 255].
    """
    per_component = [(1, 1), tuple(factors), tuple(factors)][: len(components)]
    is_color = len(components) == 3
    tables = tf.cast(tables, tf.float32)

    def rounded(x):
        return tf.clip_by_value(tf.round(x), 0.0, 255.0)

    def change_of(coefs, misses):
        """The float YCbCr (or gray) change moving every missed block inside its bins."""
        out = []
        for c, ((fh, fv), (unrounded, _), miss, xq) in enumerate(
            zip(per_component, coefs, misses, components, strict=True)
        ):
            xq = tf.cast(xq, tf.float32)[None]
            target = xq + tf.clip_by_value(unrounded - xq, margin - 0.5, 0.5 - margin)
            block_missed = tf.reduce_any(miss, axis=[-2, -1], keepdims=True)
            step = tf.where(block_missed, target - unrounded, 0.0) * tables[c]
            plane = blocks_to_plane(block_idct(step))
            plane = _fold_padding(plane, ceil_div(height, fv), ceil_div(width, fh))
            plane = upsample_nearest(plane, fh, fv)
            out.append(plane[:, :height, :width])
        return tf.stack(out, axis=-1)

    def body(i, x, done):
        coefs = exact_coefficients(x, components, tables, height, width, per_component)
        misses = _misses(coefs, components)
        none = tf.logical_not(tf.reduce_any(tf.stack([tf.reduce_any(m) for m in misses])))

        def fix():
            change = change_of(coefs, misses)
            if is_color:
                # the colour conversion is affine: a YCbCr change maps linearly to RGB
                change = tf.tensordot(change, tf.constant(color.YCBCR_TO_RGB.T, tf.float32), 1)
            # Accumulated in float: a change too small to survive rounding this round
            # (fine tables) adds up over the rounds until enough samples flip.
            return tf.clip_by_value(x + change, -0.49, 255.49)

        return i + 1, tf.cond(none, lambda: x, fix), none

    x = tf.cast(image, tf.float32)[None]
    _, x, _ = tf.while_loop(
        lambda i, x, done: (i < iterations) & tf.logical_not(done),
        body,
        (tf.constant(0), x, tf.constant(False)),
        shape_invariants=(
            tf.TensorShape([]),
            tf.TensorShape([1, None, None, x.shape[-1]]),
            tf.TensorShape([]),
        ),
    )
    return rounded(x[0])
