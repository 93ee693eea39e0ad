"""Shipped models: the registry (each model named once) and where their files are."""

from tfjpeg.models.registry import (
    FAMILIES,
    REGISTRY,
    SAVED_MODELS_ENV,
    ModelEntry,
    entry,
    model_dir,
    names,
    saved_models_root,
)

__all__ = [
    "FAMILIES",
    "REGISTRY",
    "SAVED_MODELS_ENV",
    "ModelEntry",
    "entry",
    "model_dir",
    "names",
    "saved_models_root",
]
