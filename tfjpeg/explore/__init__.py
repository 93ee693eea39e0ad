"""Exploring the consistent decodings of a JPEG: control signals z (more to come: objectives,
the z-optimizer, the Explorer GUI)."""

from tfjpeg.explore.control import random_z, z_from_seed

__all__ = ["random_z", "z_from_seed"]
