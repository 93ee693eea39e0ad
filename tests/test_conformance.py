"""Every tfjpeg layer and model passes the conformance checks of ``tests/conformance.py``
(config, weights and fresh-process SavedModel round trips; fixed output contract)."""

from __future__ import annotations

import numpy as np
import pytest
from conformance import FreshProcess, run_model_saving_test

from tfjpeg.decoders import ConsistentDecoder
from tfjpeg.decoders.consistent import ConvStack
from tfjpeg.decoders.critic import ConsistencyCritic
from tfjpeg.editors import CascadeEditor, SmoothingEditor, SpatialTransformerEditor
from tfjpeg.editors.smoothing import ReflectConv2D
from tfjpeg.jpeg import DiffJPEG
from tfjpeg.losses.preedit import PreEditLoss
from tfjpeg.rate import DeepFactorizedDensity, JpegSizeModel, RatePredictor

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

RNG = np.random.default_rng(0)


def _images(n=1, h=16, w=16, c=3):
    return RNG.uniform(0, 255, (n, h, w, c)).astype(np.float32)


def _coefficients():
    return {
        "y": np.round(RNG.normal(0, 3, (1, 2, 2, 8, 8))).astype(np.float32),
        "cb": np.round(RNG.normal(0, 2, (1, 1, 1, 8, 8))).astype(np.float32),
        "cr": np.round(RNG.normal(0, 2, (1, 1, 1, 8, 8))).astype(np.float32),
        "tables": RNG.uniform(4, 40, (1, 2, 8, 8)).round().astype(np.float32),
    }


# -- calls (module level: the fresh process imports them) -----------------------------------


def call_editor(model, images, quality):
    return model(images, quality=quality, training=False)


def call_decoder(model, y, cb, cr, tables, height, width, z):
    inputs = {"y": y, "cb": cb, "cr": cr, "tables": tables, "height": height, "width": width}
    return model({**inputs, "z": z}, training=False, subsampling="420")


def call_critic(model, ycbcr, y, cb, cr, tables):
    inputs = {"ycbcr": ycbcr, "y": y, "cb": cb, "cr": cr, "tables": tables}
    return model(inputs, training=False, subsampling="420")


def call_images_quality(model, images, quality):
    return model(images, quality=quality)


def call_size_model(model, y, cb, cr, tables):
    return model((y, cb, cr), tables)


def call_density(model, values, widths):
    return model(values, widths, training=False)


def call_conv(model, x):
    return model(x)


def call_conv_stack(model, features, control, table_features):
    return model(features, control, table_features, training=False)


def call_preedit_loss(model, original, decoded, bits):
    return model(original, decoded, bits)


# -- cases ----------------------------------------------------------------------------------

EDIT_INPUTS = {"images": _images(), "quality": np.array([20.0], np.float32)}
DECODER_INPUTS = {
    **_coefficients(),
    "height": np.array(16, np.int32),
    "width": np.array(16, np.int32),
    "z": RNG.normal(0, 1, (1, 2, 2, 64)).astype(np.float32),
}
EDITED = {"edited": "float32"}
CASES = {
    "SmoothingEditor": (
        lambda: SmoothingEditor(filters=4, num_blocks=1),
        EDIT_INPUTS, call_editor, ("edited", "residual"), EDITED,
    ),
    "SpatialTransformerEditor": (
        lambda: SpatialTransformerEditor(filters=4, context_layers=1),
        EDIT_INPUTS, call_editor, ("edited", "displacement", "affine"), EDITED,
    ),
    "CascadeEditor": (
        lambda: CascadeEditor(
            smoothing={"filters": 4, "num_blocks": 1},
            spatial_transformer={"filters": 4, "context_layers": 1},
        ),
        EDIT_INPUTS, call_editor, ("edited", "smoothed", "displacement", "affine"), EDITED,
    ),
    "ConsistentDecoder": (
        lambda: ConsistentDecoder(luma_width=4, luma_depth=1, chroma_width=4, chroma_depth=1),
        DECODER_INPUTS, call_decoder, ("decoded", "ycbcr", "coefficients", "delta"),
        {"decoded": "float32", "coefficients_0": "float32"},
    ),
    "ConsistencyCritic": (
        lambda: ConsistencyCritic(width=4, depth=1),
        {"ycbcr": _images(), **_coefficients()}, call_critic, None, {"output": "float32"},
    ),
    "RatePredictor-jpeg": (
        lambda: RatePredictor(weights=None),
        EDIT_INPUTS, call_images_quality, None, {"output": "float32"},
    ),
    "RatePredictor-factorized": (
        lambda: RatePredictor(model="factorized", weights=None),
        EDIT_INPUTS, call_images_quality, None, {"output": "float32"},
    ),
    "DiffJPEG": (
        lambda: DiffJPEG(rounding="hard"),
        EDIT_INPUTS, call_images_quality, ("decoded", "coefficients", "unrounded", "tables"),
        {"decoded": "float32", "tables": "float32"},
    ),
    "JpegSizeModel": (
        lambda: JpegSizeModel(),
        _coefficients(), call_size_model, ("bits", "entropy_bits", "header_bytes"),
        {"bits": "float32"},
    ),
    "DeepFactorizedDensity": (
        lambda: DeepFactorizedDensity(channels=4),
        {"values": RNG.normal(0, 3, (2, 5, 4)).astype(np.float32),
         "widths": np.ones((2, 5, 4), np.float32)},
        call_density, None, {"output": "float32"},
    ),
    "ReflectConv2D": (
        lambda: ReflectConv2D(filters=2),
        {"x": _images(h=6, w=7)}, call_conv, None, {"output": "float32"},
    ),
    "ConvStack": (
        lambda: ConvStack(width=4, depth=1, outputs=3),
        {"features": RNG.normal(0, 1, (1, 3, 3, 5)).astype(np.float32),
         "control": RNG.normal(0, 1, (1, 3, 3, 2)).astype(np.float32),
         "table_features": RNG.normal(0, 1, (1, 64)).astype(np.float32)},
        call_conv_stack, None, {"output": "float32"},
    ),
    "PreEditLoss": (
        lambda: PreEditLoss(distance="l1", quality_terms=()),
        {"original": _images(), "decoded": _images(),
         "bits": np.array([1000.0], np.float32)},
        call_preedit_loss, ("total", "distance", "quality", "rate"), {"total": "float32"},
    ),
}  # fmt: skip


#: Inner layers whose build config does not create their sublayers' variables: a loader calls
#: them once before loading weights (the editors, decoders and rate models need no such call).
BUILT_BY_CALL = {"ConvStack"}


@pytest.fixture(scope="module")
def fresh_process():
    """One child process for every case (TensorFlow imported once)."""
    child = FreshProcess()
    yield child
    child.close()


@pytest.mark.parametrize("name", list(CASES))
def test_layer_and_model_conformance(name, tmp_path, fresh_process):
    make, inputs, call, keys, dtypes = CASES[name]
    run_model_saving_test(
        make(),
        inputs,
        call,
        tmp_path,
        output_keys=keys,
        output_dtypes=dtypes,
        build_by_call=name in BUILT_BY_CALL,
        fresh_process=fresh_process,
    )
