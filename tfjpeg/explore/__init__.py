"""Exploring the consistent decodings of a JPEG: control signals z (more to come: objectives,
the z-optimizer, the Explorer GUI)."""

from tfjpeg.explore.control import noise_z_from_seed, random_z, z_for_decoder, z_from_seed

__all__ = ["noise_z_from_seed", "random_z", "z_for_decoder", "z_from_seed"]
