"""Presets: build a shipped model from its registry name, as keras-hub's ``from_preset`` and
CompressAI's model zoo do.

``load("smoothing")`` returns the Keras :class:`~tfjpeg.editors.SmoothingEditor` of the shipped
folder with its weights; each model class's ``from_preset`` delegates here and checks that the
preset is one of its own (``SmoothingEditor.from_preset("stn")`` is an error). Loading is cached,
keyed on the folder and the modification time and size of every file in it, so a re-exported
folder is read again.

Example:
    >>> from tfjpeg.editors import SmoothingEditor
    >>> editor = SmoothingEditor.from_preset("smoothing")  # doctest: +SKIP
    >>> editor is load("smoothing")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from tfjpeg.errors import TfjpegError
from tfjpeg.models.registry import entry, model_dir, names

__all__ = ["clear_cache", "load", "load_folder"]

#: At most this many loaded models are kept.
_CACHE_SIZE = 8
_cache: dict[tuple, Any] = {}
_lock = threading.Lock()


def _fingerprint(folder: Path) -> tuple:
    """(relative path, mtime_ns, size) of every file under ``folder``: changes on re-export."""
    stats = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            st = path.stat()
            stats.append((path.relative_to(folder).as_posix(), st.st_mtime_ns, st.st_size))
    return tuple(stats)


def _cached(folder: Path, extra: tuple, build: Any) -> Any:
    folder = folder.resolve()
    key = (str(folder), _fingerprint(folder), extra)
    with _lock:
        if key in _cache:
            return _cache[key]
    model = build(folder)
    with _lock:
        for old in [k for k in _cache if k[0] == key[0] and k[2] == extra]:
            del _cache[old]  # an earlier export of the same folder
        _cache[key] = model
        while len(_cache) > _CACHE_SIZE:
            del _cache[next(iter(_cache))]
    return model


def clear_cache() -> None:
    """Forget every loaded model."""
    with _lock:
        _cache.clear()


def load_folder(folder: str | os.PathLike, cls: type | tuple[type, ...] | None = None) -> Any:
    """The Keras model of an exported folder (:mod:`tfjpeg.serving.export`), cached.

    Raises:
        TfjpegError: not an exported model, or not an instance of ``cls``.
    """
    from tfjpeg.models.saving import load_keras_model

    folder = Path(folder)
    if not folder.is_dir():
        raise TfjpegError(f"{os.fspath(folder)} is not an exported tfjpeg model: no such folder.")
    model = _cached(folder, (), load_keras_model)
    if cls is not None and not isinstance(model, cls):
        wanted = ", ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        raise TfjpegError(f"{folder} holds a {type(model).__name__}, not a {wanted}.")
    return model


def load(name: str, cls: type | None = None, **kwargs: Any) -> Any:
    """Shipped model ``name`` with its weights (cached; shared between callers).

    Args:
        name: a registry name (:func:`tfjpeg.models.names`).
        cls: if given, the preset's class must be ``cls`` or a subclass (``from_preset``).
        **kwargs: constructor arguments of the rate predictor (``model``, ``encoder``,
            ``subsampling``, ``rounding``, ``differentiable_quality``); the trained editors and
            decoders take none.

    Raises:
        TfjpegError: unknown name, a preset of another class, or the model is not installed.
        ValueError: arguments for a model that takes none.
    """
    found = entry(name)
    model_class = found.model_class()
    if cls is not None and not issubclass(model_class, cls):
        own = [n for n in names() if issubclass(entry(n).model_class(), cls)]
        raise TfjpegError(
            f"preset {name!r} is a {model_class.__name__}, not a {cls.__name__}; "
            f"{cls.__name__} presets: {', '.join(own) or 'none'}"
        )
    folder = model_dir(name)
    if found.family == "tables":
        if kwargs:
            raise ValueError(f"preset {name!r} takes no arguments. Received: {sorted(kwargs)}")
        return _cached(folder, (), model_class.load)
    if found.family == "rate":
        from tfjpeg.rate.predictor import load_params

        def build(path: Path) -> Any:
            predictor = model_class(weights=None, **kwargs)
            predictor.set_params(load_params(path))
            return predictor

        return _cached(folder, tuple(sorted(kwargs.items())), build)
    if kwargs:
        raise ValueError(
            f"preset {name!r} is a trained {model_class.__name__}: it takes no constructor "
            f"arguments. Received: {', '.join(sorted(kwargs))}"
        )
    return load_folder(folder, cls=model_class)
