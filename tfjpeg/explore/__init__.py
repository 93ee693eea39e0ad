"""Exploring the consistent decodings of a JPEG (Bahat & Michaeli 2021 §5, appendix B).

:class:`Explorer` (``explorer``) is the interactive engine the GUI and CLI use; ``engine``
optimizes the control signal z on a window around the edited region, ``objectives`` holds one
objective per tool, ``tools`` their parameter forms, ``window`` the block windows, ``control``
the control signals z.

Names load on first use, so ``import tfjpeg.explore`` does not import TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name → the module that defines it.
_EXPORTS = {
    "ConsistencyReport": "explorer",
    "Explorer": "explorer",
    "ParamSpec": "tools",
    "ToolSpec": "tools",
    "TOOLS": "tools",
    "control_from_seed": "control",
    "noise_from_seed": "control",
    "random_z": "control",
    "z_from_seed": "control",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tfjpeg.explore' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tfjpeg.explore.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
