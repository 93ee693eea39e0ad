"""The served artefact is the product: tfjpeg.decode and the SavedModel give the same pixels.

A small decoder with random weights is exported; files of every layout libjpeg writes (gray,
4:4:4, 4:2:2, 4:4:0, 4:2:0, and a file whose Cr has its own table) are decoded through the Python
API and through the SavedModel loaded in a fresh Python process, and must agree exactly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import cjpeg_jpeg, natural_image, pillow_jpeg

import tfjpeg
from tfjpeg.decoders import ConsistentDecoder, core_inputs
from tfjpeg.decoders.consistency import consistency_report
from tfjpeg.io import read_jpeg
from tfjpeg.serving.decoders import core_function, export_decoder

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

HAVE_CJPEG = shutil.which("cjpeg") is not None
#: Cb and Cr tables differ (cjpeg -qslots 0,1,2), small enough for the graph reader to be exact.
OWN_TABLES = [np.arange(64).reshape(8, 8) % 11 + 4 + 6 * k for k in range(3)]

# In a fresh interpreter: only TensorFlow and the SavedModel, as TF Serving would run it: the
# single-file signature (uint8 pixels) and the batch serving_default (every file in one request,
# PNG bytes per file).
SERVE = r"""
import json, sys
import numpy as np
import tensorflow as tf
folder, names = sys.argv[1], json.loads(sys.argv[2])
model = tf.saved_model.load(folder)
single, batch = model.signatures["decode_bytes"], model.signatures["serving_default"]
out = {}
files = [open(f"{folder}/../{name}.jpg", "rb").read() for name in names]
for name, data in zip(names, files):
    for seed in (-1, 5):
        result = single(jpeg_bytes=tf.constant(data), seed=tf.constant(seed, tf.int64))
        out[f"{name}/{seed}"] = result["image"].numpy()
for seed in (-1, 5):
    result = batch(
        jpeg_bytes=tf.constant(files), seed=tf.constant([seed] * len(files), tf.int64)
    )
    for name, png in zip(names, result["png_bytes"].numpy()):
        out[f"{name}/{seed}/batch"] = tf.io.decode_png(png).numpy()
np.savez(f"{folder}/../served.npz", **out)
"""


def _files() -> dict[str, bytes]:
    img = natural_image(32, 48, seed=4)
    files = {
        "gray": pillow_jpeg(img[..., :1], 40),
        "444": pillow_jpeg(img, 40, "444"),
        "422": pillow_jpeg(img, 40, "422"),
        "420": pillow_jpeg(img, 40, "420"),
    }
    if HAVE_CJPEG:
        files["440"] = cjpeg_jpeg(img, "-quality", "40", "-sample", "1x2,1x1,1x1")
        files["own_cr_table"] = cjpeg_jpeg(
            img, "-sample", "2x2,1x1,1x1", "-qslots", "0,1,2", tables=OWN_TABLES
        )
    return files


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(decoder, files, outputs of the exported SavedModel in a fresh process)."""
    keras.utils.set_random_seed(7)
    decoder = ConsistentDecoder(luma_width=8, luma_depth=2, chroma_width=8, chroma_depth=1)
    files = _files()
    inputs = core_inputs(read_jpeg(files["420"]))
    core_function(decoder)(**inputs, iterations=0)  # builds the model
    rng = np.random.default_rng(0)
    for weight in decoder.weights:  # the heads start at zero: let the network shape Δ
        if "head" in weight.path and "kernel" in weight.path:
            weight.assign(rng.normal(0.0, 0.2, weight.shape).astype(np.float32))
    root = tmp_path_factory.mktemp("parity")
    folder = export_decoder(decoder, root / "model")
    for name, data in files.items():
        (root / f"{name}.jpg").write_bytes(data)
    subprocess.run(
        [sys.executable, "-c", SERVE, str(folder), json.dumps(sorted(files))],
        cwd=root,  # not the checkout: "-c" puts the working folder first on sys.path
        check=True,
        timeout=600,
    )
    with np.load(root / "served.npz") as npz:
        outputs = {k: npz[k] for k in npz.files}
    return decoder, files, outputs


def test_every_layout_decodes_identically_through_the_api_and_the_served_model(served):
    decoder, files, outputs = served
    expected = {"gray", "444", "422", "420"} | ({"440", "own_cr_table"} if HAVE_CJPEG else set())
    assert set(files) == expected
    for name, data in files.items():
        assert read_jpeg(data).subsampling == ("420" if name == "own_cr_table" else name)
        for seed in (-1, 5):
            ours = tfjpeg.decode(data, decoder=decoder, seed=None if seed < 0 else seed)
            theirs = outputs[f"{name}/{seed}"]
            assert ours.dtype == theirs.dtype == np.uint8
            assert ours.shape == theirs.shape == (32, 48, 1 if name == "gray" else 3), name
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{name}, seed {seed}")
            batched = outputs[f"{name}/{seed}/batch"]  # serving_default, all files at once
            np.testing.assert_array_equal(batched, theirs, err_msg=f"{name}, seed {seed}, batch")


def test_the_random_decoder_is_not_trivial(served):
    _, files, outputs = served
    # The network changes the decoding: z changes the pixels, so the parity above means something.
    for name in files:
        assert np.any(outputs[f"{name}/-1"] != outputs[f"{name}/5"]), name


@pytest.mark.skipif(not HAVE_CJPEG, reason="cjpeg (libjpeg-turbo-progs) is not installed")
def test_a_cr_with_its_own_table_is_dequantized_with_it(served):
    decoder, files, outputs = served
    data = files["own_cr_table"]
    jpeg = read_jpeg(data)
    assert jpeg.table_index == (0, 1, 2)
    # The served pixels re-quantize to exactly the file's coefficients under each component's
    # own table, as jpeglib reads them.
    report = consistency_report(outputs["own_cr_table/-1"], data)
    assert report["fraction_float"] == 1.0
    # Decoding Cr with Cb's table (the old two-table convention) gives another, inconsistent image.
    inputs = core_inputs(jpeg)
    inputs["tables"] = tf.gather(inputs["tables"], [0, 1, 1])
    wrong = core_function(decoder)(**inputs, iterations=5)["image"].numpy()
    assert np.any(wrong != outputs["own_cr_table/-1"])
    assert consistency_report(wrong, data)["fraction_float"] < 1.0


def test_the_coefficient_signature_accepts_per_component_and_two_tables(served, tmp_path):
    decoder, files, outputs = served
    folder = export_decoder(decoder, tmp_path / "model")
    signature = tf.saved_model.load(str(folder)).signatures["decode_coefficients"]
    jpeg = read_jpeg(files["420"])
    inputs = core_inputs(jpeg)
    three = signature(**inputs)["image"].numpy()
    np.testing.assert_array_equal(three, outputs["420/-1"])
    inputs["tables"] = tf.constant(jpeg.tables.astype(np.float32))  # [luma, chroma]
    np.testing.assert_array_equal(signature(**inputs)["image"].numpy(), three)


@pytest.mark.parametrize("layout", ["444", "422", "440", "420"])
def test_tensor_chroma_factors_give_the_numbers_of_the_layout_name(layout):
    from tfjpeg.decoders.geometry import chroma_factors

    keras.utils.set_random_seed(1)
    decoder = ConsistentDecoder(luma_width=8, luma_depth=1, chroma_width=8, chroma_depth=1)
    fh, fv = chroma_factors(layout)
    rng = np.random.default_rng(2)
    inputs = {
        "y": rng.integers(-6, 7, (1, 4, 6, 8, 8)).astype(np.float32),
        "cb": rng.integers(-3, 4, (1, 4 // fv, 6 // fh, 8, 8)).astype(np.float32),
        "cr": rng.integers(-3, 4, (1, 4 // fv, 6 // fh, 8, 8)).astype(np.float32),
        "tables": np.stack([OWN_TABLES])[:, :3].astype(np.float32),
        "height": tf.constant(29),
        "width": tf.constant(45),
        "z": rng.uniform(-1, 1, (1, 4, 6, 64)).astype(np.float32),
    }
    by_name = tf.function(lambda x: decoder(x, training=False, subsampling=layout))(inputs)
    factors = (tf.constant(fh), tf.constant(fv))
    by_tensor = tf.function(lambda x, f: decoder(x, training=False, subsampling=f))(inputs, factors)
    for key in ("decoded", "ycbcr"):
        np.testing.assert_array_equal(by_name[key], by_tensor[key])


def test_other_layouts_fail_in_the_graph_with_the_supported_list(served):
    decoder, files, _ = served
    inputs = core_inputs(read_jpeg(files["444"]))
    inputs["sampling"] = tf.constant([[4, 1], [1, 1], [1, 1]])  # 4:1:1
    with pytest.raises(tf.errors.InvalidArgumentError, match="4:4:0"):
        core_function(decoder)(**inputs, iterations=5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"decoder": 123}, "decoder must be a name"),
        ({"z": np.full((4, 6, 64), np.nan, np.float32)}, "z must be finite"),
        ({"z": "abc"}, "z must be a float array"),
        ({"z": np.zeros((3, 3, 64))}, r"z must have shape \(4, 6, 64\)"),
        ({"project": "yes"}, "project must be True or False"),
        ({"seed": 2**70}, "seed must be"),
        ({"dtype": "int8"}, "dtype"),
    ],
)
def test_decode_refuses_bad_arguments_naming_them(kwargs, match):
    data = pillow_jpeg(natural_image(32, 48), 30)
    with pytest.raises(tfjpeg.TfjpegError, match=match):
        tfjpeg.decode(data, **kwargs)
