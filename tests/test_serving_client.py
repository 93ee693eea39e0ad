"""TF Serving request builders: REST JSON (row and columnar, batch and single file) and gRPC.

The requests run through exported SavedModels in a fresh process in test_serving_tfs.py; these
tests check their form.
"""

from __future__ import annotations

import base64
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfjpeg.errors import TfjpegError
from tfjpeg.serving.client import BYTES_SIGNATURES, grpc_predict_request, rest_request

A, B = b"\xff\xd8first", b"\xff\xd8second"


def test_bytes_names_follow_the_tf_serving_convention():
    for spec in BYTES_SIGNATURES.values():
        assert spec.bytes_input.endswith("_bytes") and spec.bytes_output.endswith("_bytes")
        assert spec.signature == "serving_default" and spec.single_signature != spec.signature


def test_row_form_has_one_instance_per_file_with_its_own_seed():
    body = rest_request("decoder", [A, B], seed=[-1, 3])
    assert body == {
        "signature_name": "serving_default",
        "instances": [
            {"jpeg_bytes": {"b64": base64.b64encode(A).decode()}, "seed": -1},
            {"jpeg_bytes": {"b64": base64.b64encode(B).decode()}, "seed": 3},
        ],
    }
    # one file and a scalar: a batch of one with the default (neutral) seed
    assert rest_request("decoder", A)["instances"] == [body["instances"][0]]


def test_columnar_form_has_one_list_per_input_and_single_takes_scalars():
    body = rest_request("editor", [A, B], quality=20, columnar=True)
    assert body["signature_name"] == "serving_default"
    assert body["inputs"]["quality"] == [20.0, 20.0]
    assert [base64.b64decode(v["b64"]) for v in body["inputs"]["image_bytes"]] == [A, B]
    single = rest_request("decoder", A, seed=4, columnar=True, single=True)
    assert single == {
        "signature_name": "decode_bytes",
        "inputs": {"jpeg_bytes": {"b64": base64.b64encode(A).decode()}, "seed": 4},
    }


def test_bad_requests_are_refused():
    with pytest.raises(TfjpegError, match="family"):
        rest_request("rate", A)
    with pytest.raises(ValueError, match="quality"):
        rest_request("editor", A)  # quality is required
    with pytest.raises(ValueError, match="unknown inputs"):
        rest_request("decoder", A, quality=3)
    with pytest.raises(ValueError, match="one value per file"):
        rest_request("decoder", [A, B], seed=[1, 2, 3])
    with pytest.raises(ValueError, match="columnar"):
        rest_request("decoder", A, single=True)  # the row form adds a batch dimension
    with pytest.raises(TypeError, match="bytes"):
        rest_request("decoder", "photo.jpg")
    with pytest.raises(TypeError, match="bytes"):
        rest_request("decoder", [A, B], single=True, columnar=True)
    with pytest.raises(ValueError, match="at least one"):
        rest_request("decoder", [])


def test_grpc_requests_have_a_batch_dimension_or_scalars():
    pytest.importorskip("tensorflow_serving.apis.predict_pb2")
    request = grpc_predict_request("consistent-l1", "decoder", [A, B], seed=[-1, 5], version=1)
    assert request.model_spec.name == "consistent-l1" and request.model_spec.version.value == 1
    assert request.model_spec.signature_name == "serving_default"
    request = type(request).FromString(request.SerializeToString())  # over the wire
    assert list(tf.make_ndarray(request.inputs["jpeg_bytes"])) == [A, B]
    np.testing.assert_array_equal(tf.make_ndarray(request.inputs["seed"]), [-1, 5])
    single = grpc_predict_request("smoothing", "editor", A, quality=20, single=True)
    assert single.model_spec.signature_name == "edit_bytes"
    assert tf.make_ndarray(single.inputs["image_bytes"]) == A
    assert tf.make_ndarray(single.inputs["quality"]).shape == ()


def test_grpc_without_tensorflow_serving_api_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_serving", None)
    monkeypatch.setitem(sys.modules, "tensorflow_serving.apis", None)
    with pytest.raises(TfjpegError, match="tensorflow-serving-api"):
        grpc_predict_request("consistent-l1", "decoder", A)
