"""Decoders of real JPEG files: the consistent DCT-domain decoder (Bahat & Michaeli 2021).

Building blocks (``ConvStack``) stay importable from their modules; control signals z live in
:mod:`tfjpeg.explore`.
"""

from tfjpeg.decoders.consistent import NORMALIZATIONS, ConsistentDecoder
from tfjpeg.decoders.critic import ConsistencyCritic
from tfjpeg.decoders.geometry import DECODABLE_SUBSAMPLINGS, consistent_upsample
from tfjpeg.decoders.inputs import core_inputs, decoder_inputs

__all__ = [
    "DECODABLE_SUBSAMPLINGS",
    "NORMALIZATIONS",
    "ConsistencyCritic",
    "ConsistentDecoder",
    "consistent_upsample",
    "core_inputs",
    "decoder_inputs",
]
