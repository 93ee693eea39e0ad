"""One export convention for every tfjpeg model: Keras config + weights + SavedModel, one folder.

An exported folder (``saved_models/<name>/<version>/``, TF Serving layout) holds

* ``keras_config.json``: ``keras.saving.serialize_keras_object(model)`` (class, registered name,
  the full ``get_config()``, build config), so a new constructor argument is saved without
  anyone listing it;
* ``weights.weights.h5``: ``keras.saving.save_weights(model, ...)`` (= ``model.save_weights``,
  for layers too);
* the SavedModel (``saved_model.pb``, ``variables/``, ``fingerprint.pb``): the family's
  ``tf.Module`` with its serving signatures (stock TF ops only, for TF Serving);
* ``assets.extra/tf_serving_warmup_requests``: a TFRecord of ``PredictionLog`` protos (a few
  small requests) that TF Serving replays when it loads the model (:func:`write_warmup_requests`).

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

__all__ = [
    "WARMUP_FILE",
    "export_model",
    "export_shipped",
    "prediction_log_bytes",
    "read_warmup_requests",
    "tiny_jpegs",
    "write_warmup_requests",
]
#: Files copied unchanged when a shipped folder is rebuilt.
_KEPT_FILES = ("MODEL_CARD.md", "rate_predictor.json")
#: Where TF Serving looks for warmup requests, relative to the SavedModel folder.
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
#: TF Serving reads at most this many warmup records.
MAX_WARMUP_RECORDS = 1000

#: A warmup request: (signature name, {input name: value}); values become tensors with
#: ``tf.make_tensor_proto`` (lists of bytes become string tensors).
WarmupRequest = tuple[str, Mapping[str, Any]]


def export_model(
    model: keras.layers.Layer,
    directory: str | os.PathLike,
    module: tf.Module,
    signatures: Mapping[str, Any],
    warmup: list[WarmupRequest] | None = None,
    serving: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` in the tfjpeg convention: Keras config + weights, then the SavedModel of
    ``module`` (which tracks ``model``) with ``signatures`` in the same folder, and the
    ``warmup`` requests (:func:`write_warmup_requests`) if given; ``serving`` settings are
    recorded in ``keras_config.json`` (:func:`tfjpeg.models.saving.save_keras_model`).

    Returns:
        The folder.
    """
    directory = save_keras_model(model, directory, serving=serving)
    tf.saved_model.save(module, str(directory), signatures=dict(signatures))
    if warmup:
        write_warmup_requests(directory, warmup)
    return directory


# -- TF Serving warmup requests ---------------------------------------------------------------
#
# Only signatures with a leading batch dimension on every input and output get warmup requests
# (``serving_default`` of every family, ``edit_tensor``): with ``--enable_batching`` TF Serving
# runs every request of a model, warmup included, through its batching session, which refuses
# scalar inputs (``decode_bytes``, ``edit_bytes``) and would split ``decode_coefficients``'
# block tensors as if they were a batch; one failed warmup request fails the model's load.


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    out = bytearray()
    for value in (number << 3 | 2, len(payload)):
        while True:
            byte = value & 0x7F
            value >>= 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                break
    return bytes(out) + payload


def prediction_log_bytes(signature: str, inputs: Mapping[str, Any], model_name: str = "") -> bytes:
    """A serialized ``tensorflow.serving.PredictionLog`` holding ``PredictLog.request`` =
    ``PredictRequest(model_spec={name, signature_name}, inputs)``, built by hand so that the
    export needs no ``tensorflow-serving-api`` (tests parse it with that package's protos).

    Field numbers (tensorflow_serving/apis/*.proto): PredictionLog.predict_log = 6;
    PredictLog.request = 1; PredictRequest.model_spec = 1, .inputs = 2 (map entries: key = 1,
    value = 2, a TensorProto); ModelSpec.name = 1, .signature_name = 3.
    """
    spec = (_field(1, model_name.encode()) if model_name else b"") + _field(3, signature.encode())
    request = _field(1, spec)
    for name in sorted(inputs):
        value = inputs[name]
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], bytes):
            tensor = tf.make_tensor_proto(list(value), dtype=tf.string, shape=[len(value)])
        elif isinstance(value, bytes):
            tensor = tf.make_tensor_proto(value, dtype=tf.string, shape=[])
        else:
            tensor = tf.make_tensor_proto(value)
        entry = _field(1, name.encode()) + _field(2, tensor.SerializeToString())
        request += _field(2, entry)
    return _field(6, _field(1, request))


def write_warmup_requests(
    directory: str | os.PathLike, requests: list[WarmupRequest], model_name: str = ""
) -> Path:
    """Write ``requests`` to ``<directory>/assets.extra/tf_serving_warmup_requests`` (a TFRecord
    of ``PredictionLog`` protos, at most :data:`MAX_WARMUP_RECORDS`). Returns the file."""
    if not 0 < len(requests) <= MAX_WARMUP_RECORDS:
        raise TfjpegError(
            f"TF Serving replays 1 to {MAX_WARMUP_RECORDS} warmup requests. "
            f"Received: {len(requests)}"
        )
    path = Path(directory) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature, inputs in requests:
            writer.write(prediction_log_bytes(signature, inputs, model_name))
    return path


def read_warmup_requests(directory: str | os.PathLike) -> list[bytes]:
    """The serialized ``PredictionLog`` records of an exported folder's warmup file."""
    path = Path(directory) / WARMUP_FILE
    return [r.numpy() for r in tf.data.TFRecordDataset(str(path))]


def tiny_jpegs() -> tuple[bytes, bytes]:
    """Two small realistic JPEG files made in-process with TF's libjpeg: colour 4:2:0 (24×40)
    and gray (16×16), quality 50; the inputs of the warmup requests."""
    yy, xx = tf.meshgrid(tf.range(24.0), tf.range(40.0), indexing="ij")
    rgb = tf.stack([128 + 80 * tf.sin(xx / 5 + c) * tf.cos(yy / 7 - c) for c in range(3)], axis=-1)
    rgb = tf.cast(tf.clip_by_value(rgb, 0, 255), tf.uint8)
    color = tf.io.encode_jpeg(rgb, quality=50, chroma_downsampling=True).numpy()
    gray = tf.io.encode_jpeg(rgb[:16, :16, :1], quality=50).numpy()
    return color, gray


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
    SavedModel is rebuilt by ``trainers.rate.fit.export_savedmodel``'s module. Learned tables
    (family "tables") are a JSON file, copied; classifiers (family "classifier", not served)
    are their Keras config + float16 weights, copied.

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
    elif family == "tables":  # integer tables in a JSON file: nothing to export, copied as is
        from tfjpeg.jpeg.learned import TABLES_FILE, TableFamily

        TableFamily.load(source)  # refuse a broken file
        shutil.copy2(source / TABLES_FILE, directory / TABLES_FILE)
    elif family == "classifier":  # Keras config + float16 weights, run in-process: copied
        from tfjpeg.models.saving import CONFIG_FILE, WEIGHTS_FILE

        load_keras_model(source)  # refuse a broken folder
        for file in (CONFIG_FILE, WEIGHTS_FILE):
            shutil.copy2(source / file, directory / file)
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
