"""Decoders of real JPEG files: the consistent DCT-domain decoder (Bahat & Michaeli 2021),
the fast block-grid U-Net (:class:`BlockUNetDecoder`) and the stochastic decoders: the posterior
sampler (:class:`PosteriorSampler`, Man et al. 2023) and the one-to-many network
(:class:`OneToManyDecoder`, Guo & Chao 2017).

Building blocks (``ConvStack``) stay importable from their modules; control signals z live in
:mod:`tfjpeg.explore`.
"""

from tfjpeg.decoders.block_unet import BlockUNetDecoder
from tfjpeg.decoders.consistent import NORMALIZATIONS, ConsistentDecoder
from tfjpeg.decoders.critic import ConsistencyCritic
from tfjpeg.decoders.geometry import DECODABLE_SUBSAMPLINGS, consistent_upsample
from tfjpeg.decoders.inputs import core_inputs, decoder_inputs
from tfjpeg.decoders.one_to_many import OneToManyDecoder
from tfjpeg.decoders.posterior import PosteriorSampler

#: The decoder classes ``tfjpeg.decode`` and the serving module accept (one call contract).
DECODER_CLASSES = (ConsistentDecoder, BlockUNetDecoder, OneToManyDecoder, PosteriorSampler)

__all__ = [
    "DECODABLE_SUBSAMPLINGS",
    "DECODER_CLASSES",
    "NORMALIZATIONS",
    "BlockUNetDecoder",
    "ConsistencyCritic",
    "ConsistentDecoder",
    "OneToManyDecoder",
    "PosteriorSampler",
    "consistent_upsample",
    "core_inputs",
    "decoder_inputs",
]
