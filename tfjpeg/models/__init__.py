"""Shipped models: the registry (each model named once), where their files are, and presets.

``SmoothingEditor.from_preset("smoothing")`` and the other classes' ``from_preset`` load a
registry entry through :func:`tfjpeg.models.presets.load` (cached).
"""

from tfjpeg.models.registry import (
    FAMILIES,
    REGISTRY,
    SAVED_MODELS_ENV,
    SERVED_FAMILIES,
    ModelEntry,
    default_name,
    entry,
    model_dir,
    names,
    saved_models_root,
)

__all__ = [
    "FAMILIES",
    "REGISTRY",
    "SAVED_MODELS_ENV",
    "SERVED_FAMILIES",
    "ModelEntry",
    "default_name",
    "entry",
    "model_dir",
    "names",
    "saved_models_root",
]
