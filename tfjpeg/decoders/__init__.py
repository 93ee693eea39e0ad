"""Decoders of real JPEG files: the consistent DCT-domain decoder (Bahat & Michaeli 2021)."""

from tfjpeg.decoders.consistent import (
    NORMALIZATIONS,
    ConsistentDecoder,
    ConvStack,
    random_z,
    z_from_seed,
)
from tfjpeg.decoders.critic import ConsistencyCritic
from tfjpeg.decoders.geometry import DECODABLE_SUBSAMPLINGS, consistent_upsample
from tfjpeg.decoders.inputs import core_inputs, decoder_inputs

__all__ = [
    "DECODABLE_SUBSAMPLINGS",
    "NORMALIZATIONS",
    "ConsistencyCritic",
    "ConsistentDecoder",
    "ConvStack",
    "consistent_upsample",
    "core_inputs",
    "decoder_inputs",
    "random_z",
    "z_from_seed",
]
