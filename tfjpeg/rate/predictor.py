"""``RatePredictor``: predicted bits of the JPEG file a real encoder writes, differentiably.

This is B_q of the pre-editing paper (Talebi et al. 2020, §2 eq. 3–5 and §3.1 "Entropy
prediction"): images → DCT coefficients through the differentiable JPEG of :mod:`tfjpeg.jpeg`
(the encoder half of :class:`tfjpeg.jpeg.DiffJPEG`) → bits. Two models:

- ``model="jpeg"``: the Huffman-aware size model of :mod:`tfjpeg.rate.jpeg_bits` (DC differences,
  (run, size) symbols, EOB/ZRL, standard or optimal tables, headers, stuffing), calibrated per
  target encoder;
- ``model="factorized"``: a noisy deep-factorized density per DCT frequency and component
  (:class:`~tfjpeg.rate.factorized.DeepFactorizedDensity`, 64 × 3), its ``−log2 p`` mapped to
  file bytes by a fitted per-block power law (the paper's baseline rate model).

The fitted parameters ship with the rate model of :mod:`tfjpeg.models` (its folder's
``rate_predictor.json``) and load by default (``weights="default"`` or
``RatePredictor.from_preset(...)``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfjpeg.errors import InvalidImageError, TfjpegError
from tfjpeg.jpeg.codec import encode
from tfjpeg.jpeg.layout import component_factors
from tfjpeg.jpeg.rounding import ROUNDING_MODES
from tfjpeg.jpeg.tables import (
    component_table,
    mozjpeg_quality_tables,
    quality_tables,
    validate_tables,
)
from tfjpeg.rate.factorized import DeepFactorizedDensity
from tfjpeg.rate.jpeg_bits import ENCODERS, JpegSizeModel, _scan_blocks, table_level

__all__ = ["MODELS", "PARAMS_FILE", "RatePredictor", "load_params"]

MODELS = ("jpeg", "factorized")

#: Values are divided by this before the factorized densities (DCT coefficients reach ±2000).
_FACTORIZED_UNIT = 16.0


#: The file of fitted parameters in the rate model's folder (``tfjpeg.models.model_dir``).
PARAMS_FILE = "rate_predictor.json"


def load_params(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read fitted parameters (JSON written by ``trainers/rate/fit.py``).

    Args:
        path: a parameter JSON, or a folder holding ``rate_predictor.json``; None: the shipped
            rate model's, found through the registry (:func:`tfjpeg.models.model_dir`, so
            ``$TFJPEG_SAVED_MODELS``, the installed package data or a source checkout).

    Raises:
        TfjpegError: no such file, or the shipped rate model is not installed.
    """
    if path is None:
        from tfjpeg.models import default_name, model_dir

        p = model_dir(default_name("rate"), family="rate") / PARAMS_FILE
    else:
        p = Path(path)
        if p.is_dir():
            p = p / PARAMS_FILE
    if not p.is_file():
        raise TfjpegError(
            f"rate predictor parameters not found at {p}: run "
            "`python -m trainers.rate.fit` or give the path of a "
            f"{PARAMS_FILE} (or pass weights=None for the uncalibrated model)."
        )
    with open(p, encoding="utf-8") as f:
        return json.load(f)


@keras.saving.register_keras_serializable(package="tfjpeg")
class RatePredictor(keras.layers.Layer):
    """Predicted size in bits of the JPEG file of each image, differentiable w.r.t. the images.

    ``predictor(images, quality=None, tables=None)`` takes float RGB (N, H, W, 3) or gray
    (N, H, W, 1) images in [0, 255] and returns float32 (N,) bits (8 × predicted file bytes).
    ``quality`` (scalar or one per image) selects the target encoder's own tables (IJG tables for
    libjpeg, mozjpeg's for mozjpeg); ``tables`` gives explicit (N, 2|3, 8, 8) tables instead.
    :meth:`bits_from_coefficients` prices coefficients computed elsewhere (e.g. by ``DiffJPEG``).

    Args:
        model: "jpeg" (Huffman-aware size model) or "factorized" (deep-factorized densities).
        encoder: target encoder: "libjpeg" (standard Huffman tables), "libjpeg-optimize"
            (``optimize=True``) or "mozjpeg" (trellis quantization, its tables, optimized Huffman
            tables, sequential).
        subsampling: chroma subsampling, "420", "422" or "444" (calibrated on "420").
        rounding: rounding of the coefficients: "ste" (exact values, identity gradient; the
            default), "poly3", "noise", or "hard" (exact, no gradient).
        weights: "default" (the shipped fitted parameters), a path to a parameter JSON, or None
            (uncalibrated: exact Huffman accounting, default header sizes, random densities).
        differentiable_quality: pass gradients to a float ``quality`` through the tables.

    Example:
        >>> rate = RatePredictor(encoder="libjpeg")
        >>> bits = rate(tf.random.uniform([2, 64, 64, 3], 0, 255), quality=[20, 80])  # (2,)

    Reference: Talebi et al. 2020, "Better compression with deep pre-editing", §2 (B_q, eq. 3–5)
    and §3.1; Ballé et al. 2018 (deep-factorized density).
    """

    def __init__(
        self,
        model: str = "jpeg",
        encoder: str = "libjpeg",
        subsampling: str = "420",
        rounding: str = "ste",
        weights: str | None = "default",
        differentiable_quality: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}. Received: model={model!r}")
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}. Received: encoder={encoder!r}")
        if rounding not in ROUNDING_MODES:
            raise ValueError(
                f"rounding must be one of {ROUNDING_MODES}. Received: rounding={rounding!r}"
            )
        component_factors(3, subsampling)
        if weights is not None and not isinstance(weights, (str, os.PathLike)):
            raise ValueError(
                f"weights must be 'default', a path or None. Received: weights={weights!r}"
            )
        self.model = model
        self.encoder = encoder
        self.subsampling = subsampling
        self.rounding = rounding
        self.weights_source = None if weights is None else str(weights)
        self.differentiable_quality = differentiable_quality
        self.size_model = JpegSizeModel(encoder=encoder, subsampling=subsampling, name="size")
        self.densities = None
        self.calibration = None
        if model == "factorized":
            self.densities = [
                DeepFactorizedDensity(channels=64, name=f"density_{c}") for c in ("y", "cb", "cr")
            ]
            self.calibration = self.add_weight(
                name="calibration",
                shape=(5,),
                # uncalibrated: bytes = Σ −log2 p / 8
                initializer=keras.initializers.Constant([-float(np.log(8.0)), 1.0, 0.0, 0.0, 0.0]),
                trainable=False,
            )
        if weights is not None:
            path = None if weights == "default" else weights
            self.set_params(load_params(path))

    def build(self, *args: Any, **kwargs: Any) -> None:
        """All weights are created in ``__init__``; nothing to build from input shapes."""
        self.built = True

    @classmethod
    def from_preset(cls, preset: str, **kwargs: Any) -> RatePredictor:
        """The shipped rate model ``preset`` (a registry name, :mod:`tfjpeg.models`), with the
        other constructor arguments (``model``, ``encoder``, ...) from ``kwargs``; cached.

        Example:
            >>> rate = RatePredictor.from_preset("rate_predictor", encoder="mozjpeg")
        """
        from tfjpeg.models.presets import load

        return load(preset, cls=cls, **kwargs)

    # -- parameters -------------------------------------------------------------------------

    def set_params(self, params: dict[str, Any]) -> None:
        """Assign fitted parameters (the structure written by the fitting script)."""
        jpeg = params["jpeg"][self.encoder]
        self.size_model.header.assign(np.asarray(jpeg["header"], np.float32))
        self.size_model.stuffing.assign(np.asarray(jpeg["stuffing"], np.float32))
        self.size_model.correction.assign(np.asarray(jpeg["correction"], np.float32))
        self.size_model.deadzone.assign(np.asarray(jpeg["deadzone"], np.float32))
        if self.model == "factorized":
            fact = params["factorized"]
            for density, values in zip(self.densities, fact["densities"], strict=True):
                for var in density.weights:
                    var.assign(np.asarray(values[var.name], np.float32))
            self.calibration.assign(np.asarray(fact["calibration"][self.encoder], np.float32))

    # -- computation ------------------------------------------------------------------------

    def tables_for(self, images: tf.Tensor, quality: Any = None, tables: Any = None) -> tf.Tensor:
        """(N, 2|3, 8, 8) tables: explicit ones, else the target encoder's for ``quality``."""
        n = tf.shape(images)[0]
        if tables is not None:
            t = validate_tables(tables)
        else:
            if quality is None:
                raise ValueError("RatePredictor needs quality or tables. Received: neither")
            make = mozjpeg_quality_tables if self.encoder == "mozjpeg" else quality_tables
            t = make(quality, differentiable=self.differentiable_quality)
        count, static_n = t.shape[0], images.shape[0]
        if count is not None and static_n is not None and count not in (1, static_n):
            raise ValueError(
                "quality/tables must be a scalar/one table set or one per image. Received: "
                f"{count} for {static_n} images"
            )
        return tf.broadcast_to(t, tf.stack([n, t.shape[1], 8, 8]))

    def coefficients(self, images: tf.Tensor, tables: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """Quantized coefficients as the target encoder would produce them (soft per rounding)."""
        if self.encoder == "mozjpeg":
            inner = self.rounding if self.rounding in ("poly3", "noise") else "poly3"
            unrounded = encode(images, tables, self.subsampling, inner)["unrounded"]
            if self.rounding == "hard":
                unrounded = tuple(tf.stop_gradient(u) for u in unrounded)
            return self.size_model.trellis_quantize(unrounded, tables, self.rounding)
        return encode(images, tables, self.subsampling, self.rounding)["coefficients"]

    def factorized_bits(
        self, coefficients: tuple[tf.Tensor, ...], tables: tf.Tensor, with_blocks: bool = False
    ) -> tf.Tensor | tuple[tf.Tensor, tf.Tensor]:
        """Σ −log2 p of the coefficients under the densities (DC as scan-order differences);
        with ``with_blocks`` also the number of coded blocks per image."""
        fh, fv = component_factors(len(coefficients), self.subsampling)[-1]
        total = 0.0
        blocks = 0.0
        for c, coef in enumerate(coefficients):
            interleaved = c == 0 and len(coefficients) > 1
            scan = _scan_blocks(coef, fv if interleaved else 1, fh if interleaved else 1)
            dc = scan[..., 0]
            diff = dc - tf.pad(dc[:, :-1], [[0, 0], [1, 0]])
            values = tf.concat([diff[..., None], scan[..., 1:]], axis=-1)
            width = tf.reshape(component_table(tables, c), [-1, 1, 64]) / _FACTORIZED_UNIT
            bits = self.densities[c].bits(values * width, width)
            total = total + tf.reduce_sum(bits, axis=[1, 2])
            blocks = blocks + tf.cast(tf.shape(scan)[1], tf.float32)
        if with_blocks:
            return total, blocks * tf.ones_like(total)
        return total

    def bits_from_coefficients(
        self, coefficients: tuple[tf.Tensor, ...] | list[tf.Tensor], tables: tf.Tensor
    ) -> tf.Tensor:
        """Predicted file bits (N,) from quantized coefficients (N, hb, wb, 8, 8) per component.

        For ``encoder="mozjpeg"`` the coefficients should already be mozjpeg-like (see
        :meth:`coefficients`); the dead zone is not applied here.
        """
        coefficients = tuple(tf.convert_to_tensor(c, tf.float32) for c in coefficients)
        tables = tf.convert_to_tensor(tables, tf.float32)
        if self.model == "jpeg":
            exact = self.rounding == "hard"
            return self.size_model(coefficients, tables, exact=exact)["bits"]
        ideal, blocks = self.factorized_bits(coefficients, tables, with_blocks=True)
        # scale-free power law per block: log(bytes/block) from log(bits/block) and the level
        x = tf.math.log(tf.maximum(ideal, 1.0) / blocks)
        level = table_level(tables)
        c = self.calibration
        log_rate = c[0] + c[1] * x + c[2] * level + c[3] * tf.square(level) + c[4] * x * level
        ecs_bytes = blocks * tf.exp(log_rate)
        header = self.size_model.header[0] if len(coefficients) > 1 else self.size_model.header[1]
        return 8.0 * (header + ecs_bytes)

    def call(self, images: tf.Tensor, quality: Any = None, tables: Any = None) -> tf.Tensor:
        images = tf.convert_to_tensor(images)
        if images.shape.rank != 4 or images.shape[-1] not in (1, 3):
            raise InvalidImageError(
                "images must have shape (N, H, W, 3) or (N, H, W, 1). "
                f"Received: images.shape={tuple(images.shape)}"
            )
        images = tf.cast(images, tf.float32)
        used = self.tables_for(images, quality, tables)
        return self.bits_from_coefficients(self.coefficients(images, used), used)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            model=self.model,
            encoder=self.encoder,
            subsampling=self.subsampling,
            rounding=self.rounding,
            weights=self.weights_source,
            differentiable_quality=self.differentiable_quality,
        )
        return config
