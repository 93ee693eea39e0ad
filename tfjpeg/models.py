"""Registry of shipped models: name → class, kind, and folder under ``saved_models/``.

The folders live in the repository's ``saved_models/`` (TF Serving layout,
``<name>/<version>/``); set ``TFJPEG_SAVED_MODELS`` to use another copy.

Example:
    >>> model_dir("smoothing")  # doctest: +SKIP
    PosixPath('.../saved_models/smoothing/1')
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from tfjpeg.errors import TfjpegError

__all__ = ["MODELS", "SAVED_MODELS_ENV", "ModelEntry", "model_dir", "saved_models_root"]

#: Environment variable naming the folder that holds ``<name>/<version>/``.
SAVED_MODELS_ENV = "TFJPEG_SAVED_MODELS"


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One shipped model: its registry name, kind, Python class and version folder."""

    name: str
    kind: str
    class_path: str
    version: int = 1

    @property
    def relative_path(self) -> str:
        return f"{self.name}/{self.version}"


#: name → entry. Editors (pre-editing, Talebi et al. 2020); other families add their lines.
MODELS: dict[str, ModelEntry] = {
    "smoothing": ModelEntry("smoothing", "editor", "tfjpeg.editors.SmoothingEditor"),
    "stn": ModelEntry("stn", "editor", "tfjpeg.editors.SpatialTransformerEditor"),
    "cascade": ModelEntry("cascade", "editor", "tfjpeg.editors.CascadeEditor"),
    # Consistent decoders (explorable decoding, Bahat & Michaeli 2021).
    "consistent-l1": ModelEntry("consistent-l1", "decoder", "tfjpeg.decoders.ConsistentDecoder"),
    "consistent-gan": ModelEntry("consistent-gan", "decoder", "tfjpeg.decoders.ConsistentDecoder"),
}


def saved_models_root() -> Path:
    """``$TFJPEG_SAVED_MODELS`` or the repository's ``saved_models/``."""
    env = os.environ.get(SAVED_MODELS_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[1] / "saved_models"


def model_dir(name: str, kind: str | None = None) -> Path:
    """The folder of shipped model ``name`` (checked to exist).

    Args:
        name: a key of :data:`MODELS`.
        kind: if given, the entry must be of this kind (e.g. "editor").

    Raises:
        TfjpegError: unknown name, wrong kind, or the folder is missing.
    """
    entry = MODELS.get(name)
    if entry is None or (kind is not None and entry.kind != kind):
        names = sorted(n for n, e in MODELS.items() if kind is None or e.kind == kind)
        raise TfjpegError(f"unknown model {name!r}; choose one of: {', '.join(names)}")
    folder = saved_models_root() / entry.relative_path
    if not folder.is_dir():
        raise TfjpegError(
            f"model {name!r} is not installed: {folder} does not exist (set {SAVED_MODELS_ENV} "
            "to the folder holding the shipped saved_models)."
        )
    return folder
