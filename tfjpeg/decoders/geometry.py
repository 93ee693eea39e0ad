"""Block-grid geometry shared by the consistent decoder and the consistency tools.

Pure TF ops: coefficient blocks → sample planes (and back), chroma resampling that keeps the
encoder's box downsampling exactly invertible, and the mapping of luma onto the chroma block grid
used by the chroma network of the explorable decoder (Bahat & Michaeli 2021, §4.1–4.2).

Chroma factors (fh, fv) are Python ints (one graph per layout) or int32 scalar tensors (one
graph for every layout, as in the SavedModels): each function gives the same numbers either way.
"""

from __future__ import annotations

import tensorflow as tf

from tfjpeg.errors import UnsupportedJpegError
from tfjpeg.jpeg import color, sampling
from tfjpeg.jpeg.blocks import blocks_to_plane, ceil_div, pad_edges, plane_to_blocks
from tfjpeg.jpeg.dct import block_dct, block_idct, dct_matrix
from tfjpeg.jpeg.layout import LAYOUTS
from tfjpeg.jpeg.tables import component_table

__all__ = [
    "DECODABLE_SUBSAMPLINGS",
    "SUPPORTED_LAYOUTS",
    "chroma_factors",
    "chroma_factors_of_sampling",
    "coefficients_to_plane",
    "consistent_upsample",
    "downsample_box",
    "fit_plane",
    "image_from_coefficients",
    "luma_on_chroma_grid",
    "plane_to_coefficients",
    "upsample_nearest",
    "z_on_chroma_grid",
]

#: Layouts the consistent decoder handles ("gray" has no chroma).
DECODABLE_SUBSAMPLINGS = ("gray", "444", "422", "440", "420")
#: What the consistent decoders accept, for error messages.
SUPPORTED_LAYOUTS = "gray, 4:4:4, 4:2:2, 4:4:0 and 4:2:0"
#: The refusal of another layout (no quotes: the in-graph assertion would escape them).
LAYOUT_UNSUPPORTED = (
    "The consistent decoders of tfjpeg handle " + SUPPORTED_LAYOUTS + " files. Received: {received}"
)


def chroma_factors(subsampling: str) -> tuple[int, int]:
    """(fh, fv) chroma downsampling factors of a layout name, or UnsupportedJpegError."""
    if subsampling not in DECODABLE_SUBSAMPLINGS:
        raise UnsupportedJpegError(
            LAYOUT_UNSUPPORTED.format(received="subsampling=") + repr(subsampling)
        )
    return LAYOUTS[subsampling].chroma


def chroma_factors_of_sampling(sampling_factors: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """In-graph (fh, fv) of a colour file from its (3, 2) (h, v) sampling factors.

    Both chroma components must share their factors and the luma ones must be 1 or 2 times
    them per axis; anything else fails an in-graph assertion naming the supported layouts.
    """
    s = tf.cast(sampling_factors, tf.int32)
    luma, cb = s[0], tf.maximum(s[1], 1)
    factors = tf.where(tf.equal(luma % cb, 0), luma // cb, 0)
    ok = (
        tf.reduce_all(tf.equal(s[1], s[2]))
        & tf.reduce_all(s[1] >= 1)
        & tf.reduce_all((factors == 1) | (factors == 2))
    )
    # One tagged message, as the in-graph reader's refusals (tfjpeg.io.graph.tfjpeg_error).
    factors_text = tf.strings.reduce_join(
        tf.strings.join([tf.strings.as_string(s[:, 0]), "x", tf.strings.as_string(s[:, 1])]),
        separator=", ",
    )
    check = tf.debugging.Assert(
        ok,
        [
            tf.strings.join(
                [
                    "tfjpeg.UnsupportedJpegError: ",
                    LAYOUT_UNSUPPORTED.format(received="sampling factors (h x v) "),
                    factors_text,
                    ".",
                ]
            )
        ],
    )
    with tf.control_dependencies([check]):
        factors = tf.identity(factors)
    return factors[0], factors[1]


def _static(*factors) -> bool:
    """Whether the factors are Python ints (else int32 scalar tensors)."""
    return all(isinstance(f, int) for f in factors)


def _cond(pred, true_fn, false_fn):
    """``tf.cond`` for a tensor predicate, a plain branch for a Python bool."""
    if isinstance(pred, bool):
        return true_fn() if pred else false_fn()
    return tf.cond(pred, true_fn, false_fn)


def downsample_box(plane: tf.Tensor, fh, fv) -> tf.Tensor:
    """Average (N, H, W) over fv×fh cells (:func:`tfjpeg.jpeg.sampling.downsample`)."""
    if _static(fh, fv):
        return sampling.downsample(plane, fh, fv)
    shape = tf.shape(plane)
    cells = tf.reshape(plane, [shape[0], shape[1] // fv, fv, shape[2] // fh, fh])
    return tf.reduce_mean(cells, axis=[2, 4])


def upsample_nearest(plane: tf.Tensor, fh, fv) -> tf.Tensor:
    """Repeat (N, h, w) samples fv times down and fh times across."""
    if _static(fh, fv):
        return sampling.upsample(plane, fh, fv, "nearest")
    return tf.repeat(tf.repeat(plane, fv, axis=1), fh, axis=2)


def _upsample_fancy(plane: tf.Tensor, fh, fv) -> tf.Tensor:
    """libjpeg-turbo's float triangle upsampling, factors 1 or 2 per axis."""
    if _static(fh, fv):
        return sampling.upsample(plane, fh, fv, "fancy")
    # The same ops as sampling.upsample: the vertical pass first, then the horizontal one.
    plane = tf.cond(tf.equal(fv, 2), lambda: sampling.upsample(plane, 1, 2), lambda: plane)
    return tf.cond(tf.equal(fh, 2), lambda: sampling.upsample(plane, 2, 1), lambda: plane)


def fit_plane(plane: tf.Tensor, height: tf.Tensor | int, width: tf.Tensor | int) -> tf.Tensor:
    """Crop (N, h, w) to at most (height, width), then edge-replicate up to exactly that size."""
    plane = plane[:, :height, :width]
    return pad_edges(plane[..., None], height, width)[..., 0]


def coefficients_to_plane(coefficients: tf.Tensor, table: tf.Tensor) -> tf.Tensor:
    """(N, hb, wb, 8, 8) quantized-unit coefficients × (N, 8, 8) table → (N, 8hb, 8wb) samples."""
    deq = coefficients * table[:, None, None]
    return blocks_to_plane(block_idct(deq)) + 128.0


def image_from_coefficients(coefficients, tables: tf.Tensor, height, width, fh=2, fv=2) -> dict:
    """The decoders' image from reconstructed coefficients (quantized units, any real values).

    Luma: block IDCT, cropped to the image. Chroma: block IDCT, cropped to the component size,
    :func:`consistent_upsample` (box average exactly the decoded chroma), float JFIF colour.

    Args:
        coefficients: (Y,) or (Y, Cb, Cr) float (N, hb, wb, 8, 8).
        tables: (N, K, 8, 8), K = 2 [luma, chroma] or 3.
        height, width: image size; fh, fv: chroma factors (ints or int32 tensors).

    Returns:
        ``{"decoded": (N, H, W, C) clipped to [0, 255], "ycbcr": the unclipped planes}``.
    """
    luma = fit_plane(
        coefficients_to_plane(coefficients[0], component_table(tables, 0)), height, width
    )
    if len(coefficients) == 1:
        planes = luma[..., None]
        return {"decoded": tf.clip_by_value(planes, 0.0, 255.0), "ycbcr": planes}
    comp_h, comp_w = ceil_div(height, fv), ceil_div(width, fh)
    chroma = []
    for c in (1, 2):
        plane = coefficients_to_plane(coefficients[c], component_table(tables, c))
        plane = consistent_upsample(plane[:, :comp_h, :comp_w], fh, fv)
        chroma.append(fit_plane(plane, height, width))
    ycc = tf.stack([luma, *chroma], axis=-1)
    return {"decoded": tf.clip_by_value(color.ycbcr_to_rgb(ycc), 0.0, 255.0), "ycbcr": ycc}


def plane_to_coefficients(plane: tf.Tensor, table: tf.Tensor) -> tf.Tensor:
    """(N, 8hb, 8wb) samples → (N, hb, wb, 8, 8) coefficients in quantized units (unrounded)."""
    return block_dct(plane_to_blocks(plane) - 128.0) / table[:, None, None]


def consistent_upsample(plane: tf.Tensor, fh: int, fv: int) -> tf.Tensor:
    """Smooth chroma upsampling whose fv×fh box average is exactly the input.

    libjpeg-turbo's "fancy" triangle filter is not undone by the encoder's box downsampling (its
    cell average is (6c + left + right)/8 per axis), so a decoder that uses it contradicts the
    file's chroma. This adds the nearest-neighbour upsampled residual ``c − box(fancy(c))``, which
    restores every cell average exactly while keeping the smooth interpolation.
    """

    def smooth() -> tf.Tensor:
        fancy = _upsample_fancy(plane, fh, fv)
        residual = plane - downsample_box(fancy, fh, fv)
        return fancy + upsample_nearest(residual, fh, fv)

    same = (fh == 1 and fv == 1) if _static(fh, fv) else tf.equal(fh, 1) & tf.equal(fv, 1)
    return _cond(same, lambda: plane, smooth)


def luma_on_chroma_grid(
    luma: tf.Tensor, chroma_blocks: tuple[tf.Tensor, tf.Tensor], fh: int, fv: int
) -> tf.Tensor:
    """16×16 DCT of the luma under each chroma block: (N, hbc, wbc, 256).

    For 4:2:0 a chroma block covers 16×16 luma samples (§4.2 of the paper); for other layouts the
    luma is first repeated by (2/fh, 2/fv), so every layout looks like a 4:2:0 file to the network.
    """
    if not _static(fh, fv):  # repeating by 1 is a plain copy
        luma = tf.repeat(tf.repeat(luma, 2 // fv, axis=1), 2 // fh, axis=2)
    else:
        if fv == 1:
            luma = tf.repeat(luma, 2, axis=1)
        if fh == 1:
            luma = tf.repeat(luma, 2, axis=2)
    hbc, wbc = tf.shape(chroma_blocks[0])[1], tf.shape(chroma_blocks[0])[2]
    luma = fit_plane(luma, 16 * hbc, 16 * wbc)
    # Separable D·X·Dᵀ: the same numbers as block_dct, without its 256×256 Kronecker constant
    # (which would be copied into every traced graph of a SavedModel).
    d = tf.constant(dct_matrix(16), tf.float32)
    coef = tf.einsum("ij,nhwjk,lk->nhwil", d, plane_to_blocks(luma - 128.0, 16), d)
    n = tf.shape(coef)[0]
    return tf.reshape(coef, [n, hbc, wbc, 256])


def z_on_chroma_grid(z: tf.Tensor, hbc: tf.Tensor, wbc: tf.Tensor, fh: int, fv: int) -> tf.Tensor:
    """Average the (N, hb, wb, 64) control signal over the luma blocks under each chroma block."""
    z = pad_edges(z[:, : hbc * fv, : wbc * fh], hbc * fv, wbc * fh)

    def pool(kh: int, kw: int):
        if kh == 1 and kw == 1:
            return lambda: z
        return lambda: tf.nn.avg_pool2d(z, ksize=(kh, kw), strides=(kh, kw), padding="VALID")

    if _static(fh, fv):
        return pool(fv, fh)()
    # avg_pool2d needs a static window: one small branch per factor pair (1 or 2 per axis).
    return tf.switch_case(
        2 * (tf.cast(fv, tf.int32) - 1) + tf.cast(fh, tf.int32) - 1,
        [pool(1, 1), pool(1, 2), pool(2, 1), pool(2, 2)],
    )
