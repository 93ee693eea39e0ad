"""One export convention for every tfjpeg model: Keras config + weights + SavedModel, one folder.

An exported folder (``saved_models/<name>/<version>/``, TF Serving layout) holds

* ``keras_config.json``: ``keras.saving.serialize_keras_object(model)`` (class, registered name,
  the full ``get_config()``, build config), so a new constructor argument is saved without
  anyone listing it;
* ``weights.weights.h5``: ``keras.saving.save_weights(model, ...)`` (= ``model.save_weights``,
  for layers too);
* the SavedModel (``saved_model.pb``, ``variables/``, ``fingerprint.pb``): the family's
  ``tf.Module`` with its serving signatures (stock TF ops only, for TF Serving).

:func:`tfjpeg.models.saving.load_keras_model` rebuilds the Keras model from the first two;
TF Serving (or ``tf.saved_model.load``) reads the third. Editors
(:mod:`tfjpeg.serving.editors`), decoders (:mod:`tfjpeg.serving.decoders`) and any other layer
(:func:`export_model` with a generic module) use this module.

Rebuild the shipped folders from their current weights in this convention::

    python -m tfjpeg.serving.export --out /tmp/reexported            # every shipped model
    python -m tfjpeg.serving.export --out /tmp/reexported smoothing  # one

Reference: ARCHITECTURE.md "Serving" and "Every layer and model ...".
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from tfjpeg.errors import TfjpegError
from tfjpeg.models.saving import load_keras_model, save_keras_model

__all__ = ["export_model", "export_shipped"]
#: Files copied unchanged when a shipped folder is rebuilt.
_KEPT_FILES = ("MODEL_CARD.md", "rate_predictor.json")


def export_model(
    model: keras.layers.Layer,
    directory: str | os.PathLike,
    module: tf.Module,
    signatures: Mapping[str, Any],
) -> Path:
    """Write ``model`` in the tfjpeg convention: Keras config + weights, then the SavedModel of
    ``module`` (which tracks ``model``) with ``signatures`` in the same folder.

    Returns:
        The folder.
    """
    directory = save_keras_model(model, directory)
    tf.saved_model.save(module, str(directory), signatures=dict(signatures))
    return directory


# -- rebuilding the shipped folders ---------------------------------------------------------


def _copy_kept_files(source: Path, target: Path) -> None:
    for name in _KEPT_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)


def export_shipped(name: str, directory: str | os.PathLike) -> Path:
    """Rebuild shipped model ``name`` from its current weights, in this convention, into
    ``directory`` (a fresh folder; its MODEL_CARD.md is copied).

    Editors and decoders: Keras config + weights + the family's SavedModel. The rate predictor
    keeps its fitted-parameter JSON (one file for every encoder and both models) and its
    SavedModel is rebuilt by ``trainers.rate.fit.export_savedmodel``'s module.

    Raises:
        TfjpegError: unknown name, model not installed, or ``directory`` not empty.
    """
    from tfjpeg.models import entry, model_dir

    family = entry(name).family
    source = model_dir(name)
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise TfjpegError(f"{directory} is not empty: give a fresh folder.")
    directory.mkdir(parents=True, exist_ok=True)
    if family == "editor":
        from tfjpeg.serving.editors import export_editor

        export_editor(load_keras_model(source), directory)
    elif family == "decoder":
        from tfjpeg.serving.decoders import export_decoder

        export_decoder(load_keras_model(source), directory)
    else:
        from tfjpeg.rate.predictor import PARAMS_FILE, load_params
        from tfjpeg.serving.rate import export_rate_savedmodel

        export_rate_savedmodel(load_params(source / PARAMS_FILE), directory)
        shutil.copy2(source / PARAMS_FILE, directory / PARAMS_FILE)
    _copy_kept_files(source, directory)
    return directory


def main(argv: list[str] | None = None) -> int:
    """``python -m tfjpeg.serving.export --out DIR [NAME ...]``: rebuild shipped folders."""
    from tfjpeg.models import entry, names

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True, help="root of the rebuilt folders")
    parser.add_argument("names", nargs="*", help="registry names (default: every shipped model)")
    args = parser.parse_args(argv)
    for name in args.names or names():
        folder = export_shipped(name, args.out / entry(name).relative_path)
        print(f"{name}: {folder}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
