"""SavedModel export of the consistent decoders: JPEG bytes (+ seed) → uint8 image and PNG.

Two signatures, stock TF ops only (TF Serving has no custom ops and no Python):

- ``serving_default`` (the JPEG-bytes signature): ``jpeg`` (scalar string, a whole JPEG file) and
  ``seed`` (scalar int64; < 0 for the neutral decoding z = 0, otherwise the seed of a random
  per-channel constant z) → ``image`` (uint8 (H, W, C)) and ``png`` (scalar string). The
  coefficients come from :func:`tfjpeg.io.coefficients_from_jpeg_bytes`, the in-graph reader.
- ``decode_coefficients``: ``y``, ``cb``, ``cr`` (int32 (hb, wb, 8, 8) quantized blocks; chroma
  (0, 0, 8, 8) for gray files), ``tables`` (float32 (2, 8, 8) [luma, chroma]), ``height``,
  ``width``, ``sampling`` (int32 (3, 2) (h, v) per component, as the reader gives them) and ``z``
  (float32 (hb, wb, 64), or (0, 0, 64) for z = 0) → ``image`` and ``png``.

The folder also holds ``keras_config.json`` and ``weights.weights.h5`` (the export convention of
every tfjpeg model, :mod:`tfjpeg.serving.export`); Python rebuilds the Keras model from them,
see :func:`load_decoder`.

Reference: ARCHITECTURE.md "Serving"; Bahat & Michaeli 2021 (the decoder).
"""

from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf

from tfjpeg.decoders.consistent import ConsistentDecoder, z_from_seed
from tfjpeg.io.graph import coefficients_from_jpeg_bytes
from tfjpeg.serving.export import CONFIG_FILE, export_model, load_keras_model

__all__ = ["CONFIG_FILE", "DecoderServingModule", "export_decoder", "load_decoder"]

#: Layouts the SavedModel decodes (4:2:2 is left out to keep the graph, and so the shipped
#: folder, small; the Python API decodes 4:2:2 too).
_LAYOUTS = ("gray", "444", "420")


def _layout_index(num_components: tf.Tensor, sampling: tf.Tensor) -> tf.Tensor:
    """0 gray, 1 4:4:4, 2 4:2:0 (index into _LAYOUTS); an in-graph assertion for others."""
    hy, vy = sampling[0, 0], sampling[0, 1]
    hc, vc = tf.maximum(sampling[1, 0], 1), tf.maximum(sampling[1, 1], 1)
    same = tf.reduce_all(tf.equal(sampling[1], sampling[2]))
    fh = tf.where(tf.equal(hy % hc, 0), hy // hc, 0)
    fv = tf.where(tf.equal(vy % vc, 0), vy // vc, 0)
    index = tf.where(
        tf.equal(num_components, 1),
        0,
        tf.where(
            same & tf.equal(fh, 1) & tf.equal(fv, 1),
            1,
            tf.where(same & tf.equal(fh, 2) & tf.equal(fv, 2), 2, -1),
        ),
    )
    check = tf.debugging.assert_non_negative(
        index,
        message="tfjpeg's decoder SavedModels handle gray, 4:4:4 and 4:2:0 JPEGs only",
    )
    with tf.control_dependencies([check]):
        return tf.identity(index)


_CORE_SIGNATURE = [
    tf.TensorSpec([None, None, 8, 8], tf.int32, name="y"),
    tf.TensorSpec([None, None, 8, 8], tf.int32, name="cb"),
    tf.TensorSpec([None, None, 8, 8], tf.int32, name="cr"),
    tf.TensorSpec([2, 8, 8], tf.float32, name="tables"),
    tf.TensorSpec([], tf.int32, name="height"),
    tf.TensorSpec([], tf.int32, name="width"),
    tf.TensorSpec([3, 2], tf.int32, name="sampling"),
    tf.TensorSpec([None, None, 64], tf.float32, name="z"),
]


class DecoderServingModule(tf.Module):
    """tf.Module wrapping a :class:`ConsistentDecoder` with the two serving signatures.

    Both signatures call one shared graph function (``decode_core``), so the decoder is traced
    once per chroma layout and stored once in the SavedModel.
    """

    def __init__(self, decoder: ConsistentDecoder) -> None:
        super().__init__(name="consistent_decoder_serving")
        self.model = decoder
        self.decode_core = tf.function(self._decode_core, input_signature=_CORE_SIGNATURE)

    def _decode_core(self, y, cb, cr, tables, height, width, sampling, z):
        hb, wb = tf.shape(y)[0], tf.shape(y)[1]
        z = tf.cond(
            tf.equal(tf.size(z), 0),
            lambda: tf.zeros(tf.stack([hb, wb, 64])),
            lambda: z,
        )
        num_components = tf.where(tf.equal(tf.size(cb), 0), 1, 3)
        layout = _layout_index(num_components, sampling)
        inputs = {
            "y": tf.cast(y, tf.float32)[None],
            "cb": tf.cast(cb, tf.float32)[None],
            "cr": tf.cast(cr, tf.float32)[None],
            "tables": tables[None],
            "height": height,
            "width": width,
            "z": z[None],
        }

        def branch(name: str):
            def run() -> tf.Tensor:
                feed = dict(inputs)
                if name == "gray":
                    feed.pop("cb"), feed.pop("cr")
                decoded = self.model(feed, training=False, subsampling=name)["decoded"][0]
                if name == "gray":  # one shape for every branch: gray as three equal channels
                    decoded = tf.repeat(decoded, 3, axis=-1)
                return decoded

            return run

        decoded = tf.switch_case(layout, [branch(name) for name in _LAYOUTS])
        channels = tf.where(tf.equal(layout, 0), 1, 3)
        image = tf.cast(tf.clip_by_value(tf.round(decoded), 0.0, 255.0), tf.uint8)
        image = image[..., :channels]
        return {"image": image, "png": tf.io.encode_png(image)}

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.string, name="jpeg"),
            tf.TensorSpec([], tf.int64, name="seed"),
        ]
    )
    def decode_bytes(self, jpeg: tf.Tensor, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        coefs = coefficients_from_jpeg_bytes(jpeg)
        hb, wb = tf.shape(coefs["y"])[0], tf.shape(coefs["y"])[1]
        z = tf.cond(
            seed < 0,
            lambda: tf.zeros([0, 0, 64]),
            lambda: z_from_seed(seed, hb, wb),
        )
        return self.decode_core(
            coefs["y"],
            coefs["cb"],
            coefs["cr"],
            coefs["tables"],
            coefs["height"],
            coefs["width"],
            coefs["sampling"],
            z,
        )

    @tf.function(input_signature=_CORE_SIGNATURE)
    def decode_coefficients(self, y, cb, cr, tables, height, width, sampling, z):
        return self.decode_core(y, cb, cr, tables, height, width, sampling, z)


def export_decoder(decoder: ConsistentDecoder, export_dir: str | os.PathLike) -> Path:
    """Write ``decoder`` in the tfjpeg export convention (:mod:`tfjpeg.serving.export`): Keras
    config + weights and the SavedModel with both signatures.

    The decoder must be built (called once). Returns the folder.
    """
    module = DecoderServingModule(decoder)
    signatures = {
        "serving_default": module.decode_bytes,
        "decode_coefficients": module.decode_coefficients,
    }
    return export_model(decoder, export_dir, module, signatures)


def load_decoder(export_dir: str | os.PathLike) -> ConsistentDecoder:
    """Rebuild the Keras :class:`ConsistentDecoder` of an exported folder with its weights
    (:func:`tfjpeg.serving.export.load_keras_model`; folders written before that convention
    have no weights file and are restored from the SavedModel's own variables).

    Raises:
        TfjpegError: the folder is not an exported decoder.
    """
    return load_keras_model(export_dir, cls=ConsistentDecoder)
