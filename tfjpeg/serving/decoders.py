"""SavedModel export of the consistent decoders: JPEG bytes (+ seed) → PNG and uint8 image.

Three signatures, stock TF ops only (TF Serving has no custom ops and no Python); tensor names
come from :data:`tfjpeg.serving.client.BYTES_SIGNATURES` (binary tensors end in ``_bytes``, so
REST clients send and receive ``{"b64": ...}``):

- ``serving_default`` (the batch JPEG-bytes signature, TF Serving's REST ``instances`` form):
  ``jpeg_bytes`` (string (N,), whole JPEG files) and ``seed`` (int64 (N,), one per file; < 0 for
  the neutral decoding z = 0, otherwise the seed of a random per-channel constant z, or of
  per-pixel Gaussian noise for the stochastic decoders (posterior sampler, one-to-many):
  :func:`tfjpeg.explore.control.control_from_seed`) →
  ``png_bytes`` (string (N,), one PNG per file: files of different sizes cannot be stacked),
  ``height``, ``width``, ``channels`` (int32 (N,)). Each file runs through ``decode_bytes``
  (``tf.map_fn``).
- ``decode_bytes`` (one file): ``jpeg_bytes`` (scalar string), ``seed`` (scalar int64) →
  ``image`` (uint8 (H, W, C)) and ``png_bytes`` (scalar string). The coefficients come from
  :func:`tfjpeg.io.coefficients_from_jpeg_bytes`, the in-graph reader.
- ``decode_coefficients``: ``y``, ``cb``, ``cr`` (int32 (hb, wb, 8, 8) quantized blocks; chroma
  (0, 0, 8, 8) for gray files), ``tables`` (float32 (3, 8, 8), one per component; (2, 8, 8)
  [luma, chroma] is accepted too), ``height``, ``width``, ``sampling`` (int32 (3, 2) (h, v) per
  component, as the reader gives them) and ``z`` (float32 (hb, wb, 64), or (0, 0, 64) for z = 0)
  → ``image`` and ``png_bytes``.

The in-graph reader validates the whole file as :func:`tfjpeg.io.read_jpeg` does (same refusals,
same messages, ``InvalidArgumentError`` prefixed with the tfjpeg error class) and checks the
limits from the header before anything image-sized is allocated: ``max_pixels`` of the module
(default :data:`tfjpeg.io.limits.DEFAULT_DECODER_MAX_PIXELS`, recorded in ``keras_config.json``
as ``"serving": {"max_pixels": ...}``), 65500 pixels per side, :data:`tfjpeg.io.markers.MAX_SCANS`
scans and :data:`tfjpeg.io.markers.MAX_MARKERS` markers. RGB-coded files are refused, as
``read_jpeg`` refuses them.

All run :func:`tfjpeg.decoders.core.decode_core` — the network, the projection onto the file's
consistent set (:data:`tfjpeg.decoders.core.PROJECTION_ITERATIONS` rounds at
:data:`tfjpeg.decoders.core.PROJECTION_MARGIN`) and the rounding to uint8 — through one
``tf.function`` traced once for every layout (gray, 4:4:4, 4:2:2, 4:4:0, 4:2:0); other layouts
fail an in-graph assertion. ``tfjpeg.decode`` calls that same function (:func:`core_function`).

The folder also holds ``keras_config.json`` and ``weights.weights.h5`` (the export convention of
every tfjpeg model, :mod:`tfjpeg.serving.export`), from which Python rebuilds the Keras model
(:func:`load_decoder`), and ``assets.extra/tf_serving_warmup_requests`` (:func:`warmup_requests`).

Reference: ARCHITECTURE.md "Serving"; Bahat & Michaeli 2021 (the decoder).
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfjpeg._checks import check_positive_int
from tfjpeg.decoders.consistent import ConsistentDecoder
from tfjpeg.decoders.core import CORE_SIGNATURE, PROJECTION_ITERATIONS, decode_core
from tfjpeg.decoders.exact import CORRECTION_ITERATIONS, CORRECTION_MARGIN
from tfjpeg.explore.control import control_from_seed
from tfjpeg.io.graph import coefficients_from_jpeg_bytes
from tfjpeg.io.limits import DEFAULT_DECODER_MAX_PIXELS
from tfjpeg.models.saving import CONFIG_FILE, build_model, load_keras_model
from tfjpeg.serving.client import BYTES_SIGNATURES
from tfjpeg.serving.export import export_model, tiny_jpegs

__all__ = [
    "CONFIG_FILE",
    "DecoderServingModule",
    "core_function",
    "export_decoder",
    "load_decoder",
    "warmup_requests",
]


_SIGNATURE = CORE_SIGNATURE[:-1]  # decode_coefficients: the core's inputs, projection fixed
_NAMES = BYTES_SIGNATURES["decoder"]  # signature and tensor names (one definition)
_PNG = _NAMES.bytes_output


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
        return {_NAMES.pixels_output: image, _PNG: tf.io.encode_png(image)}

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.string, name=_NAMES.bytes_input),
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
            lambda: control_from_seed(self.model, seed, hb, wb),
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

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name=_NAMES.bytes_input),
            tf.TensorSpec([None], tf.int64, name="seed"),
        ],
        autograph=False,
    )
    def decode_batch(self, jpeg_bytes: tf.Tensor, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        """``serving_default``: one file per row (TF Serving's ``instances``), each through
        :meth:`decode_bytes`; PNG bytes and the size of each decoded image."""
        check = tf.debugging.assert_equal(
            tf.size(seed), tf.size(jpeg_bytes), message="give one seed per JPEG file"
        )

        def one(args):
            out = self.decode_bytes(args[0], args[1])
            shape = tf.shape(out[_NAMES.pixels_output])
            return out[_PNG], shape[0], shape[1], shape[2]

        with tf.control_dependencies([check]):
            png, height, width, channels = tf.map_fn(
                one,
                (jpeg_bytes, seed),
                fn_output_signature=(tf.string, tf.int32, tf.int32, tf.int32),
            )
        return {_PNG: png, "height": height, "width": width, "channels": channels}

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
            build_model(decoder)
        module = _MODULES[decoder] = DecoderServingModule(decoder)
    return module.decode_core


def export_decoder(
    decoder: ConsistentDecoder,
    export_dir: str | os.PathLike,
    max_pixels: int = DEFAULT_DECODER_MAX_PIXELS,
) -> Path:
    """Write ``decoder`` in the tfjpeg export convention (:mod:`tfjpeg.serving.export`): Keras
    config + weights, the SavedModel with its three signatures and the warmup requests.

    The decoder must be built (called once). ``max_pixels`` is the largest image the
    ``serving_default`` (JPEG bytes) signature decodes, checked from the header before any
    allocation; it is recorded in ``keras_config.json`` (``"serving": {"max_pixels": ...}``) so
    a model card can state it, with the uint8 correction's settings the graph bakes in
    (``"uint8_correction"``). Returns the folder.
    """
    module = DecoderServingModule(decoder, max_pixels=max_pixels)
    signatures = {
        _NAMES.signature: module.decode_batch,
        _NAMES.single_signature: module.decode_bytes,
        "decode_coefficients": module.decode_coefficients,
    }
    serving = {
        "max_pixels": module.max_pixels,
        # baked into the graph: recorded so that a folder exported with other settings than
        # tfjpeg.decode's is recognisable without loading it
        "uint8_correction": {"iterations": CORRECTION_ITERATIONS, "margin": CORRECTION_MARGIN},
    }
    return export_model(
        decoder, export_dir, module, signatures, warmup=warmup_requests(), serving=serving
    )


def warmup_requests() -> list[tuple[str, dict]]:
    """TF Serving warmup requests (signature name, inputs) for the decoders: tiny colour (4:2:0)
    and gray JPEGs made in-process, neutral (seed -1) and seeded (3), through ``serving_default``
    (the signature a batching server can run; see :func:`tfjpeg.serving.export.export_model`)."""
    color, gray = tiny_jpegs()
    return [
        (
            _NAMES.signature,
            {_NAMES.bytes_input: [color, gray], "seed": np.array([-1, 3], np.int64)},
        ),
        (_NAMES.signature, {_NAMES.bytes_input: [color], "seed": np.array([3], np.int64)}),
    ]


def load_decoder(export_dir: str | os.PathLike) -> ConsistentDecoder:
    """Rebuild the Keras :class:`ConsistentDecoder` of an exported folder with its weights
    (:func:`tfjpeg.models.saving.load_keras_model`; folders written before that convention
    have no weights file and are restored from the SavedModel's own variables).

    Raises:
        TfjpegError: the folder is not an exported decoder.
    """
    from tfjpeg.decoders import DECODER_CLASSES

    return load_keras_model(export_dir, cls=DECODER_CLASSES)
