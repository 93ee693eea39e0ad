"""The rate predictor as a SavedModel: ``serving_default(images, quality)`` → bits per model.

One SavedModel serves every fitted rate model: keys ``jpeg_libjpeg``, ``jpeg_libjpeg_optimize``,
``jpeg_mozjpeg``, ``factorized_libjpeg``, ``factorized_libjpeg_optimize``,
``factorized_mozjpeg``, each float32 (N,) predicted bits of the file, with exact ("hard")
rounding and 4:2:0, for ``images`` float32 (N, H, W, 3) in [0, 255] and ``quality`` float32 (N,).

The folder also holds ``assets.extra/tf_serving_warmup_requests`` (:func:`warmup_requests`).
The signature is batched already: TF Serving's REST ``instances`` rows ``{"images": H×W×3,
"quality": q}`` stack to (N, H, W, 3) and (N,).

Reference: Talebi et al. 2020 §2 (B_q); ARCHITECTURE.md "Serving".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

__all__ = ["export_rate_savedmodel", "rate_serving_module", "warmup_requests"]


def rate_serving_module(params: dict[str, Any]) -> tf.Module:
    """A ``tf.Module`` holding one hard-rounding :class:`RatePredictor` per model and encoder,
    with the fitted ``params``, and its ``serve`` function."""
    from tfjpeg.rate import ENCODERS, MODELS, RatePredictor

    module = tf.Module()
    module.predictors = {}
    for model in MODELS:
        for name in ENCODERS:
            pred = RatePredictor(model=model, encoder=name, weights=None, rounding="hard")
            pred.set_params(params)
            module.predictors[f"{model}_{name.replace('-', '_')}"] = pred

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.float32, name="images"),
            tf.TensorSpec([None], tf.float32, name="quality"),
        ]
    )
    def serve(images, quality):
        return {key: p(images, quality=quality) for key, p in module.predictors.items()}

    module.serve = serve
    return module


def export_rate_savedmodel(params: dict[str, Any], directory: str | os.PathLike) -> Path:
    """Write the rate SavedModel of fitted ``params`` and its warmup requests into
    ``directory``."""
    from tfjpeg.serving.export import write_warmup_requests

    module = rate_serving_module(params)
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})
    write_warmup_requests(directory, warmup_requests())
    return Path(directory)


def warmup_requests() -> list[tuple[str, dict]]:
    """TF Serving warmup requests for the rate SavedModel: two 16×24 images at qualities 10, 50."""
    yy, xx = np.mgrid[0:16, 0:24].astype(np.float32)
    image = np.stack([128 + 60 * np.sin(xx / 3 + c) * np.cos(yy / 4) for c in range(3)], -1)
    images = np.stack([image, image[::-1]]).astype(np.float32)
    return [("serving_default", {"images": images, "quality": np.array([10.0, 50.0], np.float32)})]
