"""Exploring the consistent decodings of a JPEG: control signals z (more to come: objectives,
the z-optimizer, the Explorer GUI)."""

from tfjpeg.explore.control import control_from_seed, noise_from_seed, random_z, z_from_seed

__all__ = ["control_from_seed", "noise_from_seed", "random_z", "z_from_seed"]
