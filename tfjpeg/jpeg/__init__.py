"""The JPEG model shared by every part of tfjpeg: colour, sampling, DCT, tables, rounding, codec.

Public names are loaded on first use, so the pure-Python parts (:mod:`tfjpeg.jpeg.layout`, the
tables and the zigzag order of :mod:`tfjpeg.jpeg.tables`) can be imported without TensorFlow.
Everything else stays importable from its module (e.g. ``tfjpeg.jpeg.islow.islow_fdct``).
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name → the module that defines it.
_EXPORTS = {
    "DiffJPEG": "codec",
    "UPSAMPLING_METHODS": "codec",
    "decode": "codec",
    "encode": "codec",
    "LAYOUTS": "layout",
    "Layout": "layout",
    "ROUNDING_MODES": "rounding",
    "apply_rounding": "rounding",
    "round_half_away": "rounding",
    "straight_through": "rounding",
    "block_dct": "dct",
    "block_idct": "dct",
    "rgb_to_ycbcr": "color",
    "ycbcr_to_rgb": "color",
    "TableFamily": "learned",
    "check_baseline_tables": "tables",
    "component_table": "tables",
    "mozjpeg_quality_tables": "tables",
    "quality_tables": "tables",
    "quality_to_tables": "tables",
    "validate_tables": "tables",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tfjpeg.jpeg' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tfjpeg.jpeg.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
