"""Tiled decoding: any image size in bounded memory, the same coefficients as one whole pass.

A decoder's network maps a file's quantized blocks to reconstructed coefficients; an output
block depends only on the input blocks within its receptive field
(``model.receptive_field_blocks``, luma blocks). :func:`tiled_coefficients` runs the network on
windows of the block grid: each window is one *core* tile (``tile_blocks`` luma blocks a side)
plus a halo of at least the receptive field, aligned to the MCU grid (so the chroma windows line
up) and to ``model.block_alignment`` (a network that downsamples the block grid), and shifted
inwards at the image's bottom and right edges, so that every window but those of images smaller
than a window has one of a few shapes (few compiled shapes under XLA). Only each
core's coefficients are kept, so the stitched coefficients equal those of one pass over the
whole file: a window either contains a core's whole receptive field, or ends where the image
ends, exactly where the untiled network's own edge lies (the window's height and width are the
image's there). The image is then rebuilt from the stitched coefficients
(:func:`tfjpeg.decoders.geometry.image_from_coefficients`), and the projection and the uint8
correction, which act per block, run on it as before.

Reference: Bahat & Michaeli 2021 (the decoder acts on the block grid, §3.2).
"""

from __future__ import annotations

import tensorflow as tf

from tfjpeg.decoders.inputs import model_inputs
from tfjpeg.jpeg.blocks import ceil_div

__all__ = ["TILE_BLOCKS", "halo_blocks", "tiled_coefficients"]

#: Core tile side in luma blocks (2048 pixels): large enough that the halo costs little (a
#: BlockUNetDecoder's halo is 32 blocks: windows of 320² blocks for 256² of output, and one window
#: for images up to ~4 MP; 128 ran the network on 2.25× the blocks, measured 0.52 vs 0.27 s/MP
#: at 1 MP, ``benchmarks/decoder_speed.py``), small enough that a window's activations stay in
#: the low hundreds of MB.
TILE_BLOCKS = 256


def halo_blocks(model) -> int:
    """The halo (luma blocks, even) a model's tiles need: its receptive field, rounded up to
    whole 4:2:0 MCUs."""
    field = int(model.receptive_field_blocks)
    return field + field % 2


def tiled_coefficients(
    model,
    components: list[tf.Tensor],
    tables: tf.Tensor,
    height: tf.Tensor,
    width: tf.Tensor,
    factors,
    z: tf.Tensor,
    subsampling,
    tile_blocks: int = TILE_BLOCKS,
    jit_compile: bool = False,
) -> tuple[tf.Tensor, ...]:
    """The model's reconstructed coefficients of a whole file, computed tile by tile.

    Args:
        model: a decoder (``model(inputs, training=False, subsampling=...)["coefficients"]``
            and ``receptive_field_blocks``).
        components: float (hb, wb, 8, 8) quantized blocks, luma first (1 or 3).
        tables: (3, 8, 8) one table per component.
        height, width: image size (int32 tensors).
        factors: chroma (fh, fv), ints or int32 tensors ((1, 1) for gray).
        z: (hb, wb, 64) control signal.
        subsampling: what the model's call gets ("gray", or the factors).
        tile_blocks: core tile side in luma blocks (a positive even number).
        jit_compile: run the network on each tile through XLA (one compilation per tile shape;
            the chroma factors must then be Python ints).

    Returns:
        tuple of float32 (1, hb, wb, 8, 8) per component, as one call on the whole file gives.
    """
    if tile_blocks < 2 or tile_blocks % 2:
        raise ValueError(f"tile_blocks must be a positive even number. Received: {tile_blocks}")
    fh, fv = factors
    align = int(getattr(model, "block_alignment", 1))  # e.g. a U-Net's 2^levels
    # Windows start on whole MCUs and on the model's own grid (luma blocks).
    unit_r, unit_c = tf.maximum(fv, align), tf.maximum(fh, align)
    halo = halo_blocks(model)
    halo_r, halo_c = ceil_div(halo, unit_r) * unit_r, ceil_div(halo, unit_c) * unit_c
    tile_r, tile_c = ceil_div(tile_blocks, unit_r) * unit_r, ceil_div(tile_blocks, unit_c) * unit_c
    grids = [tf.shape(c)[:2] for c in components]
    hb, wb = grids[0][0], grids[0][1]
    nr, nc = ceil_div(hb, tile_r), ceil_div(wb, tile_c)
    per_component = [(1, 1), (fh, fv), (fh, fv)][: len(components)]

    def network(feed):
        return model(feed, training=False, subsampling=subsampling)["coefficients"]

    if jit_compile:
        network = tf.function(network, jit_compile=True, autograph=False)

    def window(i, tile, halo, unit, total):
        """[start, end) luma blocks: the core ± halo, shifted inwards at the far edge; a
        window ending less than one unit before the image's end runs to it."""
        size = tile + 2 * halo
        start = tf.clip_by_value(i * tile - halo, 0, tf.maximum(total - size, 0) // unit * unit)
        end = tf.where(start + size + unit > total, total, start + size)
        return start, end

    def tile(i, j):
        y0, y1 = window(i, tile_r, halo_r, unit_r, hb)
        x0, x1 = window(j, tile_c, halo_c, unit_c, wb)
        comps, spans = [], []
        for comp, grid, (uh, uv) in zip(components, grids, per_component, strict=True):
            # luma: the window itself; chroma: the chroma blocks under it
            r0, r1 = y0 // uv, tf.minimum(ceil_div(y1, uv), grid[0])
            c0, c1 = x0 // uh, tf.minimum(ceil_div(x1, uh), grid[1])
            k0, k1 = i * tile_r // uv, tf.minimum(ceil_div((i + 1) * tile_r, uv), grid[0])
            l0, l1 = j * tile_c // uh, tf.minimum(ceil_div((j + 1) * tile_c, uh), grid[1])
            comps.append(comp[r0:r1, c0:c1][None])
            spans.append((k0 - r0, k1 - r0, l0 - c0, l1 - c0))
        h_w = tf.minimum(height - 8 * y0, 8 * (y1 - y0))
        w_w = tf.minimum(width - 8 * x0, 8 * (x1 - x0))
        feed = model_inputs(comps, tables[None], h_w, w_w, z[y0:y1, x0:x1][None])
        coefs = network(feed)
        return [c[:, a:b, p:q] for c, (a, b, p, q) in zip(coefs, spans, strict=True)]

    n = len(components)

    def row(i):
        def body(j, tas):
            return j + 1, [
                ta.write(j, tf.transpose(p, [2, 0, 1, 3, 4]))
                for ta, p in zip(tas, tile(i, j), strict=True)
            ]

        tas = [tf.TensorArray(tf.float32, size=nc, infer_shape=False) for _ in range(n)]
        _, tas = tf.while_loop(lambda j, tas: j < nc, body, (tf.constant(0), tas))
        # (cols, 1, rows, 8, 8) pieces → (1, rows, wb, 8, 8)
        return [tf.transpose(ta.concat(), [1, 2, 0, 3, 4]) for ta in tas]

    def body(i, tas):
        return i + 1, [
            ta.write(i, tf.transpose(p, [1, 0, 2, 3, 4])) for ta, p in zip(tas, row(i), strict=True)
        ]

    tas = [tf.TensorArray(tf.float32, size=nr, infer_shape=False) for _ in range(n)]
    _, tas = tf.while_loop(lambda i, tas: i < nr, body, (tf.constant(0), tas))
    return tuple(tf.transpose(ta.concat(), [1, 0, 2, 3, 4]) for ta in tas)
