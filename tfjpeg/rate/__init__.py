"""Rate models: predicted bits of a JPEG file (B_q of the pre-editing paper, Talebi et al. 2020).

The fitting internals (feature bases, level knots, symbol statistics, Huffman code lengths) stay
importable from :mod:`tfjpeg.rate.jpeg_bits`, :mod:`tfjpeg.rate.huffman` and
:mod:`tfjpeg.rate.predictor`.
"""

from tfjpeg.rate.factorized import DeepFactorizedDensity
from tfjpeg.rate.jpeg_bits import ENCODERS, JpegSizeModel, entropy_coded_bits
from tfjpeg.rate.predictor import MODELS, RatePredictor, load_params

__all__ = [
    "ENCODERS",
    "MODELS",
    "DeepFactorizedDensity",
    "JpegSizeModel",
    "RatePredictor",
    "entropy_coded_bits",
    "load_params",
]
