"""The JPEG model shared by every part of tfjpeg: colour, sampling, DCT, tables, rounding, codec."""

from tfjpeg.jpeg.blocks import blocks_to_plane, pad_edges, plane_to_blocks
from tfjpeg.jpeg.codec import UPSAMPLING_METHODS, DiffJPEG, component_factors, decode, encode
from tfjpeg.jpeg.color import rgb_to_ycbcr, rgb_to_ycbcr_exact, ycbcr_to_rgb, ycbcr_to_rgb_exact
from tfjpeg.jpeg.dct import block_dct, block_idct, dct_matrix
from tfjpeg.jpeg.islow import islow_fdct, islow_idct, quantize_exact
from tfjpeg.jpeg.rounding import (
    ROUNDING_MODES,
    apply_rounding,
    round_half_away,
    straight_through,
)
from tfjpeg.jpeg.sampling import SUBSAMPLING_FACTORS, downsample, downsample_exact, upsample
from tfjpeg.jpeg.tables import (
    CHROMA_BASE_TABLE,
    LUMA_BASE_TABLE,
    ZIGZAG,
    component_table,
    quality_scaling,
    quality_tables,
    quality_to_tables,
    validate_tables,
)

__all__ = [
    "CHROMA_BASE_TABLE",
    "LUMA_BASE_TABLE",
    "ROUNDING_MODES",
    "SUBSAMPLING_FACTORS",
    "UPSAMPLING_METHODS",
    "ZIGZAG",
    "DiffJPEG",
    "apply_rounding",
    "block_dct",
    "block_idct",
    "blocks_to_plane",
    "component_factors",
    "component_table",
    "dct_matrix",
    "decode",
    "downsample",
    "downsample_exact",
    "encode",
    "islow_fdct",
    "islow_idct",
    "pad_edges",
    "plane_to_blocks",
    "quality_scaling",
    "quality_tables",
    "quality_to_tables",
    "quantize_exact",
    "rgb_to_ycbcr",
    "rgb_to_ycbcr_exact",
    "round_half_away",
    "straight_through",
    "upsample",
    "validate_tables",
    "ycbcr_to_rgb",
    "ycbcr_to_rgb_exact",
]
