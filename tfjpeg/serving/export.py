"""One export convention for every tfjpeg model: Keras config + weights + SavedModel, one folder.

An exported folder (``saved_models/<name>/<version>/``, TF Serving layout) holds

* ``keras_config.json``: ``keras.saving.serialize_keras_object(model)`` (class, registered name,
  the full ``get_config()``, build config), so a new constructor argument is saved without
  anyone listing it;
* ``weights.weights.h5``: ``keras.saving.save_weights(model, ...)`` (= ``model.save_weights``,
  for layers too);
* the SavedModel (``saved_model.pb``, ``variables/``, ``fingerprint.pb``): the family's
  ``tf.Module`` with its serving signatures (stock TF ops only, for TF Serving).

:func:`load_keras_model` rebuilds the Keras model from the first two; TF Serving (or
``tf.saved_model.load``) reads the third. Editors (:mod:`tfjpeg.serving.editors`), decoders
(:mod:`tfjpeg.serving.decoders`) and any other layer (:func:`export_model` with a generic
module) use this module.

Rebuild the shipped folders from their current weights in this convention::

    python -m tfjpeg.serving.export --out /tmp/reexported            # every shipped model
    python -m tfjpeg.serving.export --out /tmp/reexported smoothing  # one

Reference: ARCHITECTURE.md "Serving" and "Every layer and model ...".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from tfjpeg.errors import TfjpegError

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "build_model",
    "export_model",
    "export_shipped",
    "load_keras_model",
    "save_keras_model",
]

CONFIG_FILE = "keras_config.json"
WEIGHTS_FILE = "weights.weights.h5"
#: Files copied unchanged when a shipped folder is rebuilt.
_KEPT_FILES = ("MODEL_CARD.md", "rate_predictor.json")


def save_keras_model(model: keras.layers.Layer, directory: str | os.PathLike) -> Path:
    """Write ``keras_config.json`` (full serialized config) and ``weights.weights.h5``.

    The model must be built (called once), so that its weights exist.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    spec = keras.saving.serialize_keras_object(model)
    (directory / CONFIG_FILE).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    keras.saving.save_weights(model, str(directory / WEIGHTS_FILE))  # layers too
    return directory


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


def _import_model_classes() -> None:
    """Run the ``register_keras_serializable`` decorators of every tfjpeg model."""
    import tfjpeg.decoders
    import tfjpeg.decoders.critic
    import tfjpeg.editors
    import tfjpeg.jpeg
    import tfjpeg.rate  # noqa: F401


def _read_spec(directory: Path) -> dict[str, Any]:
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise TfjpegError(f"{directory} is not an exported tfjpeg model: no {CONFIG_FILE}.")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise TfjpegError(f"{path} is not a readable Keras config: {err}") from err
    if not isinstance(spec, dict) or "class_name" not in spec or "config" not in spec:
        raise TfjpegError(f"{path} is not a Keras config: expected class_name and config.")
    if not spec.get("registered_name"):  # folders written before this convention
        spec = {**spec, "registered_name": f"tfjpeg>{spec['class_name']}"}
    return spec


def build_model(model: keras.layers.Layer) -> None:
    """Create the variables of a tfjpeg editor or decoder with one tiny call (their build
    configs cannot); other models are left as they are."""
    from tfjpeg.decoders import ConsistentDecoder
    from tfjpeg.editors import CascadeEditor, SmoothingEditor, SpatialTransformerEditor

    if isinstance(model, (SmoothingEditor, SpatialTransformerEditor, CascadeEditor)):
        model(tf.zeros([1, 16, 16, 3]), training=False)
    elif isinstance(model, ConsistentDecoder):
        inputs = {
            "y": tf.zeros([1, 2, 2, 8, 8]),
            "cb": tf.zeros([1, 1, 1, 8, 8]),
            "cr": tf.zeros([1, 1, 1, 8, 8]),
            "tables": tf.ones([1, 2, 8, 8]) * 16.0,
            "height": tf.constant(16),
            "width": tf.constant(16),
        }
        model(inputs, training=False, subsampling="420")


def _restore_legacy_checkpoint(model: keras.layers.Layer, directory: Path) -> None:
    """Folders written before this convention without a weights file (the decoders): the
    SavedModel's own checkpoint, where the serving module tracked the model as ``model``."""
    prefix = directory / "variables" / "variables"
    if not prefix.with_suffix(".index").is_file():
        raise TfjpegError(
            f"{directory} is not an exported tfjpeg model: no {WEIGHTS_FILE} and no SavedModel "
            "variables."
        )
    try:
        status = tf.train.Checkpoint(model=model).read(str(prefix))
        status.expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        raise TfjpegError(
            f"{directory}: the SavedModel variables do not fit the model: {err}"
        ) from err


def load_keras_model(
    directory: str | os.PathLike,
    cls: type | tuple[type, ...] | None = None,
    build: Callable[[keras.layers.Layer], Any] | None = None,
) -> keras.layers.Layer:
    """Rebuild the Keras model of an exported folder from its config and load its weights.

    Args:
        directory: a folder written by :func:`export_model` (or :func:`save_keras_model`).
        cls: if given, the model must be an instance of it (or of one of them).
        build: called on the rebuilt model before its weights are loaded, for layers whose
            build config does not create their sublayers' variables (e.g. ``ConvStack``: call
            it once); editors, decoders and rate models need none.

    Raises:
        TfjpegError: the folder does not hold an exported model, or one of another class.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise TfjpegError(f"{directory} is not an exported tfjpeg model: no such folder.")
    spec = _read_spec(directory)
    _import_model_classes()
    try:
        model = keras.saving.deserialize_keras_object(spec)
    except (TypeError, ValueError) as err:
        raise TfjpegError(f"{directory / CONFIG_FILE}: cannot rebuild the model: {err}") from err
    if cls is not None and not isinstance(model, cls):
        names = ", ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        raise TfjpegError(f"{directory} holds a {type(model).__name__}, not a {names}.")
    build_model(model)
    if build is not None:
        build(model)
    weights = directory / WEIGHTS_FILE
    if weights.is_file():
        keras.saving.load_weights(model, str(weights))
    else:
        _restore_legacy_checkpoint(model, directory)
    return model


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
    SavedModel is rebuilt by ``trainers.fit_rate_predictor.export_savedmodel``'s module.

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
