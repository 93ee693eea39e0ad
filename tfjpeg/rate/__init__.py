"""Rate models: predicted bits of a JPEG file (B_q of the pre-editing paper, Talebi et al. 2020)."""

from tfjpeg.rate.factorized import DeepFactorizedDensity
from tfjpeg.rate.huffman import (
    STANDARD_AC_LENGTHS,
    STANDARD_DC_LENGTHS,
    optimal_code_lengths,
    scan_statistics,
)
from tfjpeg.rate.jpeg_bits import (
    ENCODERS,
    LEVEL_KNOTS,
    MOZJPEG_BASE_TABLE,
    JpegSizeModel,
    block_lambda,
    entropy_coded_bits,
    level_basis,
    magnitude_features,
    mozjpeg_quality_tables,
    symbol_statistics,
    table_level,
)
from tfjpeg.rate.predictor import (
    MODELS,
    PARAMS_FILE,
    RatePredictor,
    load_params,
)

__all__ = [
    "ENCODERS",
    "LEVEL_KNOTS",
    "MODELS",
    "MOZJPEG_BASE_TABLE",
    "PARAMS_FILE",
    "STANDARD_AC_LENGTHS",
    "STANDARD_DC_LENGTHS",
    "DeepFactorizedDensity",
    "JpegSizeModel",
    "RatePredictor",
    "block_lambda",
    "entropy_coded_bits",
    "level_basis",
    "load_params",
    "magnitude_features",
    "mozjpeg_quality_tables",
    "optimal_code_lengths",
    "scan_statistics",
    "symbol_statistics",
    "table_level",
]
