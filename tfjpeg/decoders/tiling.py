"""Tiled decoding: any image size in bounded memory, the same coefficients as one whole pass.

A decoder's network maps a file's quantized blocks to reconstructed coefficients; an output
block depends only on the input blocks within its receptive field
(``model.receptive_field_blocks``, luma blocks). :func:`tiled_coefficients` runs the network on
windows of the block grid: each window is one *core* tile (``tile_blocks`` luma blocks a side,
aligned to the MCU grid so the chroma windows line up) plus a halo of at least the receptive
field, shifted inwards at the image's bottom and right edges so that every window except on
images smaller than a window has the same shape (one compiled shape under XLA). Only each
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

#: Core tile side in luma blocks (1024 pixels): large enough that the halo costs little.
TILE_BLOCKS = 128


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

    Returns:
        tuple of float32 (1, hb, wb, 8, 8) per component, as one call on the whole file gives.
    """
    if tile_blocks < 2 or tile_blocks % 2:
        raise ValueError(f"tile_blocks must be a positive even number. Received: {tile_blocks}")
    fh, fv = factors
    halo = halo_blocks(model)
    shape = tf.shape(components[0])
    hb, wb = shape[0], shape[1]
    grids = [tf.shape(c)[:2] for c in components]
    # MCU units: a chroma block per MCU; the luma has fv × fh blocks per MCU.
    hm, wm = ceil_div(hb, fv), ceil_div(wb, fh)
    tr, tc = tile_blocks // fv, tile_blocks // fh
    hr, hc = ceil_div(halo, fv), ceil_div(halo, fh)
    nr, nc = ceil_div(hm, tr), ceil_div(wm, tc)
    per_component = [(1, 1), (fh, fv), (fh, fv)][: len(components)]

    def window(i, t, h, total):
        return tf.clip_by_value(i * t - h, 0, tf.maximum(total - (t + 2 * h), 0))

    def tile(i, j):
        sr, sc = window(i, tr, hr, hm), window(j, tc, hc, wm)
        er, ec = sr + tr + 2 * hr, sc + tc + 2 * hc
        pieces = []
        for c, (uh, uv) in enumerate(per_component):
            # luma: fv × fh blocks per MCU; chroma: one
            bv, bh = fv // uv, fh // uh
            r0, c0 = sr * bv, sc * bh
            r1 = tf.minimum(er * bv, grids[c][0])
            c1 = tf.minimum(ec * bh, grids[c][1])
            pieces.append((r0, r1, c0, c1, bv, bh))
        y0, y1, x0, x1, _, _ = pieces[0]
        comps = [
            comp[p[0] : p[1], p[2] : p[3]][None] for comp, p in zip(components, pieces, strict=True)
        ]
        h_w = tf.minimum(height - 8 * y0, 8 * (y1 - y0))
        w_w = tf.minimum(width - 8 * x0, 8 * (x1 - x0))
        feed = model_inputs(comps, tables[None], h_w, w_w, z[y0:y1, x0:x1][None])
        coefs = model(feed, training=False, subsampling=subsampling)["coefficients"]
        out = []
        for coef, (r0, _, c0, _, bv, bh), grid in zip(coefs, pieces, grids, strict=True):
            k0, k1 = i * tr * bv, tf.minimum((i + 1) * tr * bv, grid[0])
            l0, l1 = j * tc * bh, tf.minimum((j + 1) * tc * bh, grid[1])
            out.append(coef[:, k0 - r0 : k1 - r0, l0 - c0 : l1 - c0])
        return out

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
