"""Editors as SavedModels: ``serving_default`` (batch of files), ``edit_bytes``, ``edit_tensor``.

A shipped editor folder ``saved_models/<name>/<version>/`` holds

* a SavedModel (TF Serving layout) whose signatures use stock TF ops only (tensor names from
  :data:`tfjpeg.serving.client.BYTES_SIGNATURES`; binary tensors end in ``_bytes``):

  - ``serving_default(image_bytes: string (N,), quality: float32 (N,))`` → ``{"png_bytes":
    string (N,), "height": int32 (N,), "width": int32 (N,)}``: each file through
    ``edit_bytes`` (TF Serving's REST ``instances`` form: one file and quality per row);
  - ``edit_bytes(image_bytes: string scalar, quality: float32 scalar)`` → ``{"edited": uint8
    (H, W, 3), "png_bytes": string scalar}``: decodes PNG or JPEG (or GIF/BMP) bytes with
    ``tf.io.decode_image``, edits the image for JPEG quality ``quality`` and returns the edited
    pixels and their PNG encoding, ready for any JPEG encoder;
  - ``edit_tensor(images: float32 (N, H, W, 3) in [0, 255], quality: float32 (N,))`` →
    ``{"edited": float32 (N, H, W, 3)}``;

* ``keras_config.json`` + ``weights.weights.h5``: the Keras model, so Python rebuilds the editor
  without the traced graph (:func:`load_keras_editor`); the convention of every tfjpeg model,
  :mod:`tfjpeg.serving.export`;

* ``assets.extra/tf_serving_warmup_requests`` (:func:`warmup_requests`).

Example:
    >>> export_editor(SmoothingEditor(filters=16), "/tmp/smoothing/1")  # doctest: +SKIP
    >>> served = tf.saved_model.load("/tmp/smoothing/1")
    >>> out = served.signatures["edit_bytes"](
    ...     image_bytes=tf.constant(png_bytes), quality=tf.constant(20.0))
    >>> out["edited"].dtype
    tf.uint8
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfjpeg.errors import TfjpegError
from tfjpeg.models.saving import CONFIG_FILE, WEIGHTS_FILE, load_keras_model
from tfjpeg.serving.client import BYTES_SIGNATURES
from tfjpeg.serving.export import export_model, tiny_jpegs

__all__ = [
    "KERAS_CONFIG",
    "KERAS_WEIGHTS",
    "EditorModule",
    "export_editor",
    "load_keras_editor",
    "warmup_requests",
]
_NAMES = BYTES_SIGNATURES["editor"]  # signature and tensor names (one definition)
_PNG = _NAMES.bytes_output

KERAS_CONFIG = CONFIG_FILE
KERAS_WEIGHTS = WEIGHTS_FILE


class EditorModule(tf.Module):
    """Wraps an editor for ``tf.saved_model.save`` with the two serving signatures.

    Args:
        editor: a tfjpeg editor (``editor(images, quality=..., training=False)["edited"]``).
    """

    def __init__(self, editor: keras.Model) -> None:
        super().__init__(name="editor_module")
        self.editor = editor

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.float32, name="images"),
            tf.TensorSpec([None], tf.float32, name="quality"),
        ]
    )
    def edit_tensor(self, images: tf.Tensor, quality: tf.Tensor) -> dict[str, tf.Tensor]:
        """Edit float RGB images (N, H, W, 3) in [0, 255] for per-image JPEG qualities (N,)."""
        checks = [
            tf.debugging.assert_greater_equal(quality, 1.0, message="quality must be >= 1"),
            tf.debugging.assert_less_equal(quality, 100.0, message="quality must be <= 100"),
        ]
        with tf.control_dependencies(checks):
            images = tf.clip_by_value(images, 0.0, 255.0)
        edited = self.editor(images, quality=quality, training=False)["edited"]
        return {"edited": tf.identity(edited, name="edited")}

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.string, name=_NAMES.bytes_input),
            tf.TensorSpec([], tf.float32, name="quality"),
        ]
    )
    def edit_bytes(self, image_bytes: tf.Tensor, quality: tf.Tensor) -> dict[str, tf.Tensor]:
        """Edit a PNG or JPEG file's pixels; returns uint8 (H, W, 3) and their PNG bytes."""
        # JPEG with libjpeg's accurate integer IDCT (as Pillow/libjpeg-turbo decode), else PNG etc.
        pixels = tf.cond(
            tf.io.is_jpeg(image_bytes),
            lambda: tf.io.decode_jpeg(image_bytes, channels=3, dct_method="INTEGER_ACCURATE"),
            lambda: tf.io.decode_image(
                image_bytes, channels=3, dtype=tf.uint8, expand_animations=False
            ),
        )
        pixels = tf.ensure_shape(pixels, [None, None, 3])
        images = tf.cast(pixels, tf.float32)[None]
        edited = self.edit_tensor(images, tf.reshape(quality, [1]))["edited"][0]
        edited_u8 = tf.cast(tf.clip_by_value(tf.round(edited), 0.0, 255.0), tf.uint8)
        return {_NAMES.pixels_output: edited_u8, _PNG: tf.io.encode_png(edited_u8)}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name=_NAMES.bytes_input),
            tf.TensorSpec([None], tf.float32, name="quality"),
        ]
    )
    def edit_batch(self, image_bytes: tf.Tensor, quality: tf.Tensor) -> dict[str, tf.Tensor]:
        """``serving_default``: one file and quality per row, each through ``edit_bytes``."""
        check = tf.debugging.assert_equal(
            tf.size(quality), tf.size(image_bytes), message="give one quality per image file"
        )

        def one(args):
            out = self.edit_bytes(args[0], args[1])
            shape = tf.shape(out[_NAMES.pixels_output])
            return out[_PNG], shape[0], shape[1]

        with tf.control_dependencies([check]):
            png, height, width = tf.map_fn(
                one, (image_bytes, quality), fn_output_signature=(tf.string, tf.int32, tf.int32)
            )
        return {_PNG: png, "height": height, "width": width}


def export_editor(editor: keras.Model, directory: str | os.PathLike) -> Path:
    """Write ``editor`` in the tfjpeg export convention (:mod:`tfjpeg.serving.export`): Keras
    config + weights, a SavedModel with ``serving_default``/``edit_bytes``/``edit_tensor``
    signatures and the warmup requests, in ``directory``.

    Returns:
        The folder.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    module = EditorModule(editor)
    signatures = {
        _NAMES.signature: module.edit_batch.get_concrete_function(),
        _NAMES.single_signature: module.edit_bytes.get_concrete_function(),
        "edit_tensor": module.edit_tensor.get_concrete_function(),
    }
    return export_model(editor, directory, module, signatures, warmup=warmup_requests())


def warmup_requests() -> list[tuple[str, dict]]:
    """TF Serving warmup requests (signature name, inputs) for the editors: a tiny JPEG and the
    same pixels as PNG through ``serving_default`` and a small float batch through
    ``edit_tensor`` (the signatures a batching server can run, see
    :func:`tfjpeg.serving.export.export_model`)."""
    color, _ = tiny_jpegs()
    pixels = tf.io.decode_jpeg(color, channels=3)
    png = tf.io.encode_png(pixels).numpy()
    images = tf.cast(pixels, tf.float32)[None].numpy()
    return [
        (
            _NAMES.signature,
            {_NAMES.bytes_input: [color, png], "quality": np.array([12.0, 20.0], np.float32)},
        ),
        ("edit_tensor", {"images": images, "quality": np.array([20.0], np.float32)}),
    ]


def load_keras_editor(directory: str | os.PathLike) -> keras.Model:
    """Rebuild the Keras editor saved by :func:`export_editor` (config + weights).

    Raises:
        TfjpegError: the folder does not hold an exported editor.
    """
    from tfjpeg.editors import CascadeEditor, SmoothingEditor, SpatialTransformerEditor

    directory = Path(directory)
    if not (directory / KERAS_CONFIG).is_file() or not (directory / KERAS_WEIGHTS).is_file():
        raise TfjpegError(
            f"{directory} is not an exported editor: expected {KERAS_CONFIG} and {KERAS_WEIGHTS}."
        )
    return load_keras_model(
        directory, cls=(SmoothingEditor, SpatialTransformerEditor, CascadeEditor)
    )
