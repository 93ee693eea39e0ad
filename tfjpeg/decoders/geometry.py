"""Block-grid geometry shared by the consistent decoder and the consistency tools.

Pure TF ops: coefficient blocks → sample planes (and back), chroma resampling that keeps the
encoder's box downsampling exactly invertible, and the mapping of luma onto the chroma block grid
used by the chroma network of the explorable decoder (Bahat & Michaeli 2021, §4.1–4.2).
"""

from __future__ import annotations

import tensorflow as tf

from tfjpeg.errors import UnsupportedJpegError
from tfjpeg.jpeg import sampling
from tfjpeg.jpeg.blocks import blocks_to_plane, pad_edges, plane_to_blocks
from tfjpeg.jpeg.dct import block_dct, block_idct, dct_matrix
from tfjpeg.jpeg.layout import LAYOUTS

__all__ = [
    "DECODABLE_SUBSAMPLINGS",
    "chroma_factors",
    "coefficients_to_plane",
    "consistent_upsample",
    "fit_plane",
    "luma_on_chroma_grid",
    "plane_to_coefficients",
    "z_on_chroma_grid",
]

#: Layouts the consistent decoder handles ("gray" has no chroma).
DECODABLE_SUBSAMPLINGS = ("gray", "444", "422", "420")


def chroma_factors(subsampling: str) -> tuple[int, int]:
    """(fh, fv) chroma downsampling factors of a layout name, or UnsupportedJpegError."""
    if subsampling not in DECODABLE_SUBSAMPLINGS:
        raise UnsupportedJpegError(
            f"tfjpeg's consistent decoding handles gray, 4:4:4, 4:2:2 and 4:2:0 files. "
            f"Received: subsampling={subsampling!r}"
        )
    return LAYOUTS[subsampling].chroma


def fit_plane(plane: tf.Tensor, height: tf.Tensor | int, width: tf.Tensor | int) -> tf.Tensor:
    """Crop (N, h, w) to at most (height, width), then edge-replicate up to exactly that size."""
    plane = plane[:, :height, :width]
    return pad_edges(plane[..., None], height, width)[..., 0]


def coefficients_to_plane(coefficients: tf.Tensor, table: tf.Tensor) -> tf.Tensor:
    """(N, hb, wb, 8, 8) quantized-unit coefficients × (N, 8, 8) table → (N, 8hb, 8wb) samples."""
    deq = coefficients * table[:, None, None]
    return blocks_to_plane(block_idct(deq)) + 128.0


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
    if fh == 1 and fv == 1:
        return plane
    fancy = sampling.upsample(plane, fh, fv, "fancy")
    residual = plane - sampling.downsample(fancy, fh, fv)
    return fancy + sampling.upsample(residual, fh, fv, "nearest")


def luma_on_chroma_grid(
    luma: tf.Tensor, chroma_blocks: tuple[tf.Tensor, tf.Tensor], fh: int, fv: int
) -> tf.Tensor:
    """16×16 DCT of the luma under each chroma block: (N, hbc, wbc, 256).

    For 4:2:0 a chroma block covers 16×16 luma samples (§4.2 of the paper); for other layouts the
    luma is first repeated by (2/fh, 2/fv), so every layout looks like a 4:2:0 file to the network.
    """
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
    if fh == 1 and fv == 1:
        return z
    return tf.nn.avg_pool2d(z, ksize=(fv, fh), strides=(fv, fh), padding="VALID")
