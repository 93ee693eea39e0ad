"""Saving and loading a tfjpeg model in the one convention: Keras config + weights, one folder.

A model folder (``saved_models/<name>/<version>/``, TF Serving layout) holds

* ``keras_config.json``: ``keras.saving.serialize_keras_object(model)`` (class, registered name,
  the full ``get_config()``, build config), so a new constructor argument is saved without
  anyone listing it;
* ``weights.weights.h5``: ``keras.saving.save_weights(model, ...)`` (= ``model.save_weights``,
  for layers too);
* the SavedModel that :mod:`tfjpeg.serving.export` adds beside them for TF Serving.

:func:`load_keras_model` rebuilds the Keras model from the first two. It lives in the models
layer (below serving) because the presets (:mod:`tfjpeg.models.presets`) load with it.

Reference: ARCHITECTURE.md "Serving" and "Every layer and model ...".
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from tfjpeg.errors import ModelNotFoundError, TfjpegError

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "build_model", "load_keras_model", "save_keras_model"]

CONFIG_FILE = "keras_config.json"
WEIGHTS_FILE = "weights.weights.h5"


def save_keras_model(
    model: keras.layers.Layer,
    directory: str | os.PathLike,
    serving: dict[str, Any] | None = None,
) -> Path:
    """Write ``keras_config.json`` (full serialized config) and ``weights.weights.h5``.

    The model must be built (called once), so that its weights exist. ``serving``: settings of
    the exported SavedModel (e.g. its pixel limit), recorded under ``"serving"`` beside the
    Keras config so that cards and tools can read them.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    spec = keras.saving.serialize_keras_object(model)
    if serving:
        spec = {**spec, "serving": dict(serving)}
    (directory / CONFIG_FILE).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    keras.saving.save_weights(model, str(directory / WEIGHTS_FILE))  # layers too
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
        raise ModelNotFoundError(f"{directory} is not an exported tfjpeg model: no {CONFIG_FILE}.")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise TfjpegError(f"{path} is not a readable Keras config: {err}") from err
    if not isinstance(spec, dict) or "class_name" not in spec or "config" not in spec:
        raise TfjpegError(f"{path} is not a Keras config: expected class_name and config.")
    return {k: v for k, v in spec.items() if k != "serving"}  # export settings, not Keras


def build_model(model: keras.layers.Layer) -> None:
    """Create the variables of a tfjpeg editor or decoder with one tiny call (their build
    configs cannot); other models are left as they are."""
    from tfjpeg.decoders import DECODER_CLASSES
    from tfjpeg.editors import CascadeEditor, SmoothingEditor, SpatialTransformerEditor

    if isinstance(model, (SmoothingEditor, SpatialTransformerEditor, CascadeEditor)):
        model(tf.zeros([1, 16, 16, 3]), training=False)
    elif isinstance(model, DECODER_CLASSES):
        from tfjpeg.decoders.inputs import model_inputs

        blocks = [tf.zeros([1, 2, 2, 8, 8]), tf.zeros([1, 1, 1, 8, 8]), tf.zeros([1, 1, 1, 8, 8])]
        size = tf.constant(16)
        inputs = model_inputs(blocks, tf.ones([1, 2, 8, 8]) * 16.0, size, size)
        model(inputs, training=False, subsampling="420")


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
        raise ModelNotFoundError(f"{directory} is not an exported tfjpeg model: no such folder.")
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
    if not weights.is_file():
        raise ModelNotFoundError(f"{directory} is not an exported tfjpeg model: no {WEIGHTS_FILE}.")
    try:
        keras.saving.load_weights(model, str(weights))
    except (OSError, ValueError) as err:
        raise TfjpegError(f"{weights}: the weights do not fit the model: {err}") from err
    return model
