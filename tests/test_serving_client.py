"""TF Serving request builders: REST JSON (row and columnar) and gRPC PredictRequest."""

from __future__ import annotations

import base64
import json
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image, pillow_jpeg

from tfjpeg.decoders import ConsistentDecoder
from tfjpeg.errors import TfjpegError
from tfjpeg.models.saving import build_model
from tfjpeg.serving.client import BYTES_SIGNATURES, grpc_predict_request, rest_request
from tfjpeg.serving.decoders import export_decoder

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The serving_default signature of a tiny exported decoder, and its input specs."""
    decoder = ConsistentDecoder(luma_width=4, luma_depth=1, chroma_width=4, chroma_depth=1)
    build_model(decoder)
    folder = export_decoder(decoder, tmp_path_factory.mktemp("decoder") / "1")
    signature = tf.saved_model.load(str(folder)).signatures["serving_default"]
    return signature


@pytest.fixture(scope="module")
def jpeg_bytes() -> bytes:
    return pillow_jpeg(natural_image(24, 32, seed=4), 30, "420")


def _as_tf_serving_would(value, spec: tf.TensorSpec) -> tf.Tensor:
    """A JSON value as TF Serving turns it into a tensor: {"b64": ...} → raw bytes."""
    if isinstance(value, dict) and set(value) == {"b64"}:
        value = base64.b64decode(value["b64"])
    return tf.constant(value, dtype=spec.dtype)


def _run_columnar(signature, body: dict) -> dict:
    specs = signature.structured_input_signature[1]
    assert set(body["inputs"]) == set(specs)  # the builder uses the signature's input names
    feed = {k: _as_tf_serving_would(v, specs[k]) for k, v in body["inputs"].items()}
    return {k: v.numpy() for k, v in signature(**feed).items()}


def test_rest_payload_decoded_like_tf_serving_runs_through_the_signature(served, jpeg_bytes):
    body = json.loads(json.dumps(rest_request("decoder", jpeg_bytes, seed=7, columnar=True)))
    assert body["signature_name"] == "serving_default"
    got = _run_columnar(served, body)
    direct = served(jpeg=tf.constant(jpeg_bytes), seed=tf.constant(7, tf.int64))
    np.testing.assert_array_equal(got["image"], direct["image"].numpy())
    assert got["png"] == direct["png"].numpy() and got["image"].shape == (24, 32, 3)
    # the default seed is the neutral decoding (seed < 0)
    neutral = _run_columnar(served, rest_request("decoder", jpeg_bytes, columnar=True))
    zero = served(jpeg=tf.constant(jpeg_bytes), seed=tf.constant(-1, tf.int64))
    np.testing.assert_array_equal(neutral["image"], zero["image"].numpy())


def test_rest_row_form_holds_the_same_example(jpeg_bytes):
    row = rest_request("decoder", jpeg_bytes, seed=2)
    columnar = rest_request("decoder", jpeg_bytes, seed=2, columnar=True)
    assert row["instances"] == [columnar["inputs"]] and "inputs" not in row
    name = BYTES_SIGNATURES["decoder"].bytes_input
    assert base64.b64decode(row["instances"][0][name]["b64"]) == jpeg_bytes
    edit = rest_request("editor", b"\x89PNG...", quality=20)
    assert edit["instances"][0]["quality"] == 20.0
    assert set(edit["instances"][0]) == {BYTES_SIGNATURES["editor"].bytes_input, "quality"}


def test_bad_requests_are_refused(jpeg_bytes):
    with pytest.raises(TfjpegError, match="family"):
        rest_request("rate", jpeg_bytes)
    with pytest.raises(ValueError, match="quality"):
        rest_request("editor", jpeg_bytes)  # quality is required
    with pytest.raises(ValueError, match="unknown inputs"):
        rest_request("decoder", jpeg_bytes, quality=3)
    with pytest.raises(TypeError, match="bytes"):
        rest_request("decoder", "photo.jpg")


def test_grpc_request_runs_through_the_signature(served, jpeg_bytes):
    pytest.importorskip("tensorflow_serving.apis.predict_pb2")
    request = grpc_predict_request("consistent-l1", "decoder", jpeg_bytes, seed=5, version=1)
    assert request.model_spec.name == "consistent-l1" and request.model_spec.version.value == 1
    assert request.model_spec.signature_name == "serving_default"
    request = type(request).FromString(request.SerializeToString())  # over the wire
    feed = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
    got = served(**feed)
    direct = served(jpeg=tf.constant(jpeg_bytes), seed=tf.constant(5, tf.int64))
    np.testing.assert_array_equal(got["image"].numpy(), direct["image"].numpy())


def test_grpc_without_tensorflow_serving_api_says_what_to_install(monkeypatch, jpeg_bytes):
    monkeypatch.setitem(sys.modules, "tensorflow_serving", None)
    monkeypatch.setitem(sys.modules, "tensorflow_serving.apis", None)
    with pytest.raises(TfjpegError, match="tensorflow-serving-api"):
        grpc_predict_request("consistent-l1", "decoder", jpeg_bytes)
