"""SavedModel export of the consistent decoders: JPEG bytes (+ seed) → uint8 image and PNG.

Two signatures, stock TF ops only (TF Serving has no custom ops and no Python):

- ``serving_default`` (the JPEG-bytes signature): ``jpeg`` (scalar string, a whole JPEG file) and
  ``seed`` (scalar int64; < 0 for the neutral decoding z = 0, otherwise the seed of a random
  per-channel constant z) → ``image`` (uint8 (H, W, C)) and ``png`` (scalar string). The
  coefficients come from :func:`tfjpeg.io.coefficients_from_jpeg_bytes`, the in-graph reader,
  which validates the whole file as :func:`tfjpeg.io.read_jpeg` does (same refusals, same
  messages, ``InvalidArgumentError`` prefixed with the tfjpeg error class) and checks the limits
  from the header before anything image-sized is allocated: ``max_pixels`` of the module
  (default :data:`tfjpeg.io.limits.DEFAULT_DECODER_MAX_PIXELS`, recorded in
  ``keras_config.json`` as ``"serving": {"max_pixels": ...}``), 65500 pixels per side,
  :data:`tfjpeg.io.markers.MAX_SCANS` scans and :data:`tfjpeg.io.markers.MAX_MARKERS` markers.
  RGB-coded files are refused, as ``read_jpeg`` refuses them.
- ``decode_coefficients``: ``y``, ``cb``, ``cr`` (int32 (hb, wb, 8, 8) quantized blocks; chroma
  (0, 0, 8, 8) for gray files), ``tables`` (float32 (3, 8, 8), one per component; (2, 8, 8)
  [luma, chroma] is accepted too), ``height``, ``width``, ``sampling`` (int32 (3, 2) (h, v) per
  component, as the reader gives them) and ``z`` (float32 (hb, wb, 64), or (0, 0, 64) for z = 0)
  → ``image`` and ``png``.

Both run :func:`tfjpeg.decoders.core.decode_core` — the network, the projection onto the file's
consistent set (:data:`tfjpeg.decoders.core.PROJECTION_ITERATIONS` rounds at
:data:`tfjpeg.decoders.core.PROJECTION_MARGIN`) and the rounding to uint8 — through one
``tf.function`` traced once for every layout (gray, 4:4:4, 4:2:2, 4:4:0, 4:2:0); other layouts
fail an in-graph assertion. ``tfjpeg.decode`` calls that same function (:func:`core_function`).

The folder also holds ``keras_config.json`` (the decoder's config); Python rebuilds the Keras
model from it and reads the weights from the SavedModel's own variables (no second copy), see
:func:`load_decoder`.

Reference: ARCHITECTURE.md "Serving"; Bahat & Michaeli 2021 (the decoder).
"""

from __future__ import annotations

import json
import os
import weakref
from pathlib import Path
from typing import Any

import tensorflow as tf

from tfjpeg._checks import check_positive_int
from tfjpeg.decoders.consistent import ConsistentDecoder
from tfjpeg.decoders.core import CORE_SIGNATURE, PROJECTION_ITERATIONS, decode_core
from tfjpeg.errors import ModelNotFoundError
from tfjpeg.explore.control import z_from_seed
from tfjpeg.io.graph import coefficients_from_jpeg_bytes
from tfjpeg.io.limits import DEFAULT_DECODER_MAX_PIXELS

__all__ = ["CONFIG_FILE", "DecoderServingModule", "core_function", "export_decoder", "load_decoder"]

CONFIG_FILE = "keras_config.json"

_SIGNATURE = CORE_SIGNATURE[:-1]  # decode_coefficients: the core's inputs, projection fixed


class DecoderServingModule(tf.Module):
    """tf.Module wrapping a :class:`ConsistentDecoder` with the two serving signatures.

    Both signatures call one ``tf.function``, ``decode_core`` (:func:`tfjpeg.decoders.core.
    decode_core`: network, projection, uint8), traced once for every layout and stored once in
    the SavedModel; ``tfjpeg.decode`` calls the same function on the Keras model
    (:func:`core_function`).
    """

    def __init__(
        self, decoder: ConsistentDecoder, max_pixels: int = DEFAULT_DECODER_MAX_PIXELS
    ) -> None:
        super().__init__(name="consistent_decoder_serving")
        check_positive_int(max_pixels, "max_pixels")
        self.model = decoder
        #: The largest image (height × width) ``decode_bytes`` decodes; larger requests fail
        #: from the header, before any decoding (the decoders need ~166 bytes per pixel).
        self.max_pixels = int(max_pixels)
        # Explicit tf.cond / tf.while_loop only: without AutoGraph's conversion of the Keras
        # layers tracing is about 3x faster (the first tfjpeg.decode call of a model).
        self.decode_core = tf.function(
            self._decode_core, input_signature=CORE_SIGNATURE, autograph=False
        )

    def _decode_core(self, y, cb, cr, tables, height, width, sampling, z, iterations):
        return decode_core(self.model, y, cb, cr, tables, height, width, sampling, z, iterations)

    def _serve(self, y, cb, cr, tables, height, width, sampling, z) -> dict[str, tf.Tensor]:
        image = self.decode_core(
            y, cb, cr, tables, height, width, sampling, z, tf.constant(PROJECTION_ITERATIONS)
        )["image"]
        return {"image": image, "png": tf.io.encode_png(image)}

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.string, name="jpeg"),
            tf.TensorSpec([], tf.int64, name="seed"),
        ],
        autograph=False,
    )
    def decode_bytes(self, jpeg: tf.Tensor, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        coefs = coefficients_from_jpeg_bytes(jpeg, max_pixels=self.max_pixels)
        hb, wb = tf.shape(coefs["y"])[0], tf.shape(coefs["y"])[1]
        z = tf.cond(
            seed < 0,
            lambda: tf.zeros([0, 0, 64]),
            lambda: z_from_seed(seed, hb, wb),
        )
        return self._serve(
            coefs["y"],
            coefs["cb"],
            coefs["cr"],
            coefs["tables"],
            coefs["height"],
            coefs["width"],
            coefs["sampling"],
            z,
        )

    @tf.function(input_signature=_SIGNATURE, autograph=False)
    def decode_coefficients(self, y, cb, cr, tables, height, width, sampling, z):
        return self._serve(y, cb, cr, tables, height, width, sampling, z)


_MODULES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def core_function(decoder: ConsistentDecoder) -> tf.types.experimental.GenericFunction:
    """The ``decode_core`` ``tf.function`` of ``decoder`` (one serving module per model, cached).

    This is the function the exported SavedModel's signatures call; ``tfjpeg.decode`` calls it
    directly, so the Python API and the served model run the same graph.
    """
    module = _MODULES.get(decoder)
    if module is None:
        if not decoder.built:
            _build(decoder)
        module = _MODULES[decoder] = DecoderServingModule(decoder)
    return module.decode_core


def export_decoder(
    decoder: ConsistentDecoder,
    export_dir: str | os.PathLike,
    max_pixels: int = DEFAULT_DECODER_MAX_PIXELS,
) -> Path:
    """Write ``decoder`` as a SavedModel (both signatures) plus ``keras_config.json``.

    The decoder must be built (called once). ``max_pixels`` is the largest image the
    ``serving_default`` (JPEG bytes) signature decodes, checked from the header before any
    allocation; it is recorded in ``keras_config.json`` (``"serving": {"max_pixels": ...}``) so
    a model card can state it. Returns the folder.
    """
    export_dir = Path(export_dir)
    module = DecoderServingModule(decoder, max_pixels=max_pixels)
    tf.saved_model.save(
        module,
        str(export_dir),
        signatures={
            "serving_default": module.decode_bytes,
            "decode_coefficients": module.decode_coefficients,
        },
    )
    config = {
        "class_name": "ConsistentDecoder",
        "config": _plain_config(decoder),
        "serving": {"max_pixels": module.max_pixels},
    }
    (export_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return export_dir


def _plain_config(decoder: ConsistentDecoder) -> dict[str, Any]:
    keys = (
        "luma_width",
        "luma_depth",
        "chroma_width",
        "chroma_depth",
        "norm",
        "leaky_slope",
        "offset_init",
        "delta_margin",
    )
    return {k: decoder.get_config()[k] for k in keys}


def load_decoder(export_dir: str | os.PathLike) -> ConsistentDecoder:
    """Rebuild the Keras :class:`ConsistentDecoder` of an exported folder with its weights.

    Reads ``keras_config.json`` and restores the variables from the SavedModel's checkpoint
    (``variables/variables``), where the serving module keeps the decoder as ``model``.

    Raises:
        ModelNotFoundError: the folder is not an exported decoder (a ``FileNotFoundError``).
    """
    export_dir = Path(export_dir)
    config_path = export_dir / CONFIG_FILE
    if not config_path.is_file():
        raise ModelNotFoundError(f"no {CONFIG_FILE} in {export_dir}: not an exported decoder")
    config = json.loads(config_path.read_text(encoding="utf-8"))["config"]
    decoder = ConsistentDecoder(**config)
    _build(decoder)
    status = tf.train.Checkpoint(model=decoder).read(str(export_dir / "variables" / "variables"))
    status.expect_partial().assert_existing_objects_matched()
    return decoder


def _build(decoder: ConsistentDecoder) -> None:
    """Create every variable with one tiny 4:2:0 call."""
    inputs = {
        "y": tf.zeros([1, 2, 2, 8, 8]),
        "cb": tf.zeros([1, 1, 1, 8, 8]),
        "cr": tf.zeros([1, 1, 1, 8, 8]),
        "tables": tf.ones([1, 2, 8, 8]) * 16.0,
        "height": tf.constant(16),
        "width": tf.constant(16),
    }
    decoder(inputs, training=False, subsampling="420")
