"""The registry of shipped models: each model is named here once, with its family and class.

Every other part of tfjpeg (the CLI's choices, ``compress``, ``decode``, serving, examples,
benchmarks) reads its names from here. The files of a model live in ``<root>/<name>/<version>/``
(TF Serving layout); :func:`saved_models_root` says where the root is.

Example:
    >>> names("editor")
    ('smoothing', 'stn', 'cascade')
    >>> model_dir("smoothing")  # doctest: +SKIP
    PosixPath('.../saved_models/smoothing/1')
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from pathlib import Path
from typing import Any

from tfjpeg.errors import TfjpegError

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

#: Environment variable naming a folder holding ``<name>/<version>/`` (overrides the shipped one).
SAVED_MODELS_ENV = "TFJPEG_SAVED_MODELS"

#: Model families exported as SavedModels for TF Serving: pre-editors (Talebi et al. 2020),
#: decoders (Bahat & Michaeli 2021; Man et al. 2023; Guo & Chao 2017) and rate models (B_q of
#: the pre-editing objective).
SERVED_FAMILIES = ("editor", "decoder", "rate")
#: Every family: the served ones, learned quantization tables (a JSON file, no graph to
#: serve: a client writes the file with the tables, :mod:`tfjpeg.jpeg.learned`) and the
#: classifiers of classifier-driven exploration (Bahat & Michaeli 2021 appendix B.8; plain
#: ``keras.Sequential`` models the explorer runs in-process, :mod:`tfjpeg.explore.tools`).
FAMILIES = (*SERVED_FAMILIES, "tables", "classifier")


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One shipped model: registry name, family, Python class (dotted path) and version folder."""

    name: str
    family: str
    class_path: str
    version: int = 1

    @property
    def relative_path(self) -> str:
        return f"{self.name}/{self.version}"

    def model_class(self) -> Any:
        """The Python class (imported on first use)."""
        module, _, name = self.class_path.rpartition(".")
        return getattr(importlib.import_module(module), name)


_ENTRIES = (
    ModelEntry("smoothing", "editor", "tfjpeg.editors.SmoothingEditor"),
    ModelEntry("stn", "editor", "tfjpeg.editors.SpatialTransformerEditor"),
    ModelEntry("cascade", "editor", "tfjpeg.editors.CascadeEditor"),
    ModelEntry("consistent-l1", "decoder", "tfjpeg.decoders.ConsistentDecoder"),
    ModelEntry("consistent-gan", "decoder", "tfjpeg.decoders.ConsistentDecoder"),
    ModelEntry("one-to-many", "decoder", "tfjpeg.decoders.OneToManyDecoder"),
    ModelEntry("posterior", "decoder", "tfjpeg.decoders.PosteriorSampler"),
    ModelEntry("block-unet", "decoder", "tfjpeg.decoders.BlockUNetDecoder"),
    ModelEntry("rate_predictor", "rate", "tfjpeg.rate.RatePredictor"),
    ModelEntry("learned_tables", "tables", "tfjpeg.jpeg.learned.TableFamily"),
    ModelEntry("digit-classifier", "classifier", "keras.Sequential"),
)

#: name → entry, in registry order (the first entry of a family is its default).
REGISTRY: dict[str, ModelEntry] = {e.name: e for e in _ENTRIES}


def names(family: str | None = None, *, served: bool = False) -> tuple[str, ...]:
    """Registry names, all or of one family, in registry order; with ``served`` only those
    exported as SavedModels (:data:`SERVED_FAMILIES`)."""
    if family is not None and family not in FAMILIES:
        raise TfjpegError(f"unknown model family {family!r}; choose one of: {', '.join(FAMILIES)}")
    return tuple(
        n
        for n, e in REGISTRY.items()
        if (family is None or e.family == family) and (not served or e.family in SERVED_FAMILIES)
    )


def default_name(family: str) -> str:
    """The default model of ``family``: its first registry entry."""
    return names(family)[0]


def entry(name: str, family: str | None = None) -> ModelEntry:
    """The entry of ``name`` (checked to be of ``family`` if given).

    Raises:
        TfjpegError: unknown name or wrong family; the message lists the valid names.
    """
    found = REGISTRY.get(name) if isinstance(name, str) else None
    if found is None or (family is not None and found.family != family):
        raise TfjpegError(f"unknown model {name!r}; choose one of: {', '.join(names(family))}")
    return found


#: Where ``pip install`` puts the repository's ``saved_models/`` (package data, see setup.py).
_INSTALLED = Path(__file__).resolve().parents[1] / "_saved_models"
#: The repository's ``saved_models/`` when tfjpeg runs from a source checkout.
_SOURCE = Path(__file__).resolve().parents[2] / "saved_models"


def saved_models_root() -> Path:
    """The folder holding ``<name>/<version>/``: ``$TFJPEG_SAVED_MODELS`` if set, else the
    weights installed with the package (``tfjpeg/_saved_models``), else the source checkout's
    ``saved_models/``."""
    env = os.environ.get(SAVED_MODELS_ENV)
    if env:
        return Path(env).expanduser()
    if _INSTALLED.is_dir():
        return _INSTALLED
    return _SOURCE


def model_dir(name: str, family: str | None = None) -> Path:
    """The folder of shipped model ``name`` (checked to exist).

    Raises:
        TfjpegError: unknown name, wrong family, or the folder is missing.
    """
    folder = saved_models_root() / entry(name, family).relative_path
    if not folder.is_dir():
        raise TfjpegError(
            f"model {name!r} is not installed: {folder} does not exist (set {SAVED_MODELS_ENV} "
            "to the folder holding the shipped saved_models)."
        )
    return folder
