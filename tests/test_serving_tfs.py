"""TF Serving readiness of every family's export: warmup records, client requests, the
deployment files and the MODEL_CARD signature tables.

Tiny random models of each family (the shipped rate parameters for the rate model) are exported
with the serving code; a fresh Python process that imports only TensorFlow (and the
tensorflow-serving-api protos) replays every warmup record and every request the client builds
through the loaded signatures, decoding REST JSON the way TF Serving does (``{"b64": ...}`` →
bytes, ``instances`` rows stacked on a leading dimension).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, natural_image, pillow_jpeg

from tfjpeg.errors import TfjpegError
from tfjpeg.models import REGISTRY, SERVED_FAMILIES, names
from tfjpeg.serving import tfs
from tfjpeg.serving.client import grpc_predict_request, rest_request
from tfjpeg.serving.export import (
    WARMUP_FILE,
    prediction_log_bytes,
    read_warmup_requests,
    write_warmup_requests,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# Only TensorFlow and the serving protos, as a server would see the folders.
FRESH = r"""
import base64, json, sys
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

cases = json.load(open(sys.argv[1]))
loaded = {}


def from_json(value):  # TF Serving's REST decoding: {"b64": ...} -> bytes, lists -> arrays
    if isinstance(value, dict):
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def tensor(value, spec):
    dtype = object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype
    return tf.constant(np.array(value, dtype=dtype), dtype=spec.dtype)


def run(folder, signature, feed):
    if folder not in loaded:
        loaded[folder] = tf.saved_model.load(folder)
    sig = loaded[folder].signatures[signature]
    specs = sig.structured_input_signature[1]
    assert set(feed) == set(specs), (sorted(feed), sorted(specs))
    out = sig(**{k: tensor(v, specs[k]) if not tf.is_tensor(v) else v for k, v in feed.items()})
    declared = sig.structured_outputs
    assert set(out) == set(declared), (sorted(out), sorted(declared))
    result = {"signature": signature}
    for name, value in out.items():
        assert value.dtype == declared[name].dtype, name
        assert declared[name].shape.is_compatible_with(value.shape), name
        result[name] = [value.dtype.name, list(value.shape)]
    for name in ("png_bytes",):
        if name in out:
            pngs = np.asarray(out[name].numpy(), dtype=object).reshape(-1)
            result["png_shapes"] = [list(tf.io.decode_png(p).shape) for p in pngs]
    for name in ("height", "width", "channels"):
        if name in out:
            result[name + "_values"] = out[name].numpy().tolist()
    return result


results = []
for case in cases:
    folder = case["folder"]
    if case["kind"] == "warmup":
        path = folder + "/assets.extra/tf_serving_warmup_requests"
        for record in tf.data.TFRecordDataset(path):
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            request = log.predict_log.request
            feed = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
            signature = request.model_spec.signature_name
            results.append(dict(run(folder, signature, feed), case="warmup"))
    elif case["kind"] == "grpc":
        request = predict_pb2.PredictRequest.FromString(base64.b64decode(case["request"]))
        feed = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        results.append(dict(run(folder, request.model_spec.signature_name, feed), case=case["id"]))
    else:
        body = json.loads(case["body"])
        signature = body.get("signature_name", "serving_default")
        if "instances" in body:  # rows stacked on a leading dimension
            rows = body["instances"]
            feed = {k: [from_json(r[k]) for r in rows] for k in rows[0]}
        else:
            feed = {k: from_json(v) for k, v in body["inputs"].items()}
        results.append(dict(run(folder, signature, feed), case=case["id"]))
json.dump(results, open(sys.argv[2], "w"))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """family → folder of a tiny exported model of that family."""
    root = tmp_path_factory.mktemp("tfs")
    return {family: tfs.export_tiny(family, root / family / "1") for family in SERVED_FAMILIES}


@pytest.fixture(scope="module")
def files():
    color = natural_image(24, 40, seed=3)
    return {
        "color": pillow_jpeg(color, 30, "420"),  # 24×40×3
        "gray": pillow_jpeg(natural_image(16, 24, seed=5)[..., :1], 30),  # 16×24×1
        "png": tf.io.encode_png(color).numpy(),  # 24×40×3
    }


def _client_cases(exported, files):
    """(id, kind, folder, payload) of every request form the client builds, and the rate row."""
    dec, edit, rate = (str(exported[f]) for f in ("decoder", "editor", "rate"))
    jpegs = [files["color"], files["gray"]]
    rest = {
        "dec_rows": (dec, rest_request("decoder", jpegs, seed=[-1, 3])),
        "dec_columns": (dec, rest_request("decoder", jpegs, seed=3, columnar=True)),
        "dec_single": (dec, rest_request("decoder", files["gray"], columnar=True, single=True)),
        "edit_rows": (edit, rest_request("editor", [files["png"], files["color"]], quality=20)),
        "edit_columns": (edit, rest_request("editor", files["png"], quality=[12], columnar=True)),
        "edit_single": (
            edit,
            rest_request("editor", files["color"], quality=20, columnar=True, single=True),
        ),
        "rate_rows": (
            rate,
            {"instances": [{"images": np.full((16, 16, 3), 99.0).tolist(), "quality": 20.0}]},
        ),
    }
    cases = [
        {"id": k, "kind": "rest", "folder": f, "body": json.dumps(b)} for k, (f, b) in rest.items()
    ]
    if _have_serving_api():
        import base64

        grpc = {
            "dec_grpc": (dec, grpc_predict_request("m", "decoder", jpegs, seed=[3, -1])),
            "dec_grpc_single": (
                dec,
                grpc_predict_request("m", "decoder", files["color"], seed=3, single=True),
            ),
            "edit_grpc": (edit, grpc_predict_request("m", "editor", [files["png"]], quality=9)),
        }
        for k, (f, request) in grpc.items():
            data = base64.b64encode(request.SerializeToString()).decode()
            cases.append({"id": k, "kind": "grpc", "folder": f, "request": data})
    return cases


def _have_serving_api() -> bool:
    try:
        from tensorflow_serving.apis import prediction_log_pb2  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def fresh(exported, files, tmp_path_factory):
    """Results of every warmup record and client request, run in a fresh process."""
    if not _have_serving_api():
        pytest.skip("tensorflow-serving-api is not installed")
    root = tmp_path_factory.mktemp("fresh")
    cases = [{"kind": "warmup", "folder": str(f)} for f in exported.values()]
    cases += _client_cases(exported, files)
    (root / "cases.json").write_text(json.dumps(cases))
    subprocess.run(
        [sys.executable, "-c", FRESH, str(root / "cases.json"), str(root / "results.json")],
        check=True,
        timeout=900,
    )
    return json.loads((root / "results.json").read_text())


def test_every_warmup_record_runs_through_its_signature_in_a_fresh_process(exported, fresh):
    warm = [r for r in fresh if r["case"] == "warmup"]
    signatures = {r["signature"] for r in warm}
    assert {"serving_default", "edit_tensor"} <= signatures
    assert "decode_bytes" not in signatures and "decode_coefficients" not in signatures
    for family, folder in exported.items():
        assert 0 < len(read_warmup_requests(folder)) <= 1000, family
        assert (folder / WARMUP_FILE).is_file()
    # The decoder's records: a colour 4:2:0 and a gray file, PNGs of the right size.
    decoded = [r for r in warm if "channels" in r]
    assert [s for r in decoded for s in r["png_shapes"]] == [[24, 40, 3], [16, 16, 1], [24, 40, 3]]
    for r in decoded:
        assert [list(s) for s in zip(r["height_values"], r["width_values"], strict=True)] == [
            s[:2] for s in r["png_shapes"]
        ]
    rate = [r for r in warm if "jpeg_libjpeg" in r]
    assert len(rate) == 1 and rate[0]["jpeg_libjpeg"] == ["float32", [2]]


def test_every_client_request_runs_through_the_signature_it_names(fresh):
    got = {r["case"]: r for r in fresh if r["case"] != "warmup"}
    assert got["dec_rows"]["png_shapes"] == [[24, 40, 3], [16, 24, 1]]
    assert got["dec_rows"]["png_bytes"] == ["string", [2]]
    assert got["dec_columns"]["png_shapes"] == [[24, 40, 3], [16, 24, 1]]
    assert got["dec_single"]["signature"] == "decode_bytes"
    assert got["dec_single"]["image"] == ["uint8", [16, 24, 1]]
    assert got["dec_single"]["png_shapes"] == [[16, 24, 1]]
    assert got["edit_rows"]["png_shapes"] == [[24, 40, 3], [24, 40, 3]]
    assert got["edit_columns"]["png_shapes"] == [[24, 40, 3]]
    assert got["edit_single"]["edited"] == ["uint8", [24, 40, 3]]
    assert got["rate_rows"]["jpeg_mozjpeg"] == ["float32", [1]]
    if "dec_grpc" in got:
        assert got["dec_grpc"]["png_shapes"] == [[24, 40, 3], [16, 24, 1]]
        assert got["dec_grpc_single"]["image"] == ["uint8", [24, 40, 3]]
        assert got["edit_grpc"]["png_shapes"] == [[24, 40, 3]]


def test_hand_built_prediction_logs_equal_the_tensorflow_serving_protos():
    pytest.importorskip("tensorflow_serving.apis.prediction_log_pb2")
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    inputs = {"jpeg_bytes": [b"\xff\xd8a", b"b" * 300], "seed": np.array([-1, 3], np.int64)}
    ours = prediction_log_pb2.PredictionLog.FromString(
        prediction_log_bytes("serving_default", inputs, model_name="consistent-l1")
    )
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "consistent-l1"
    request.model_spec.signature_name = "serving_default"
    request.inputs["jpeg_bytes"].CopyFrom(tf.make_tensor_proto(inputs["jpeg_bytes"], tf.string))
    request.inputs["seed"].CopyFrom(tf.make_tensor_proto(inputs["seed"]))
    expected = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )
    assert ours == expected


def test_warmup_files_hold_1_to_1000_records(tmp_path):
    with pytest.raises(TfjpegError, match="1000"):
        write_warmup_requests(tmp_path, [("serving_default", {"x": np.zeros(1)})] * 1001)
    with pytest.raises(TfjpegError, match="1000"):
        write_warmup_requests(tmp_path, [])


def test_model_cards_list_the_signatures_of_their_familys_export(exported):
    tables = {family: tfs.signature_table(folder) for family, folder in exported.items()}
    assert "| `serving_default` | input | `jpeg_bytes` | string | (?,) |" in tables["decoder"]
    stale = []
    for name in names(served=True):
        e = REGISTRY[name]
        card = REPO / "saved_models" / e.relative_path / "MODEL_CARD.md"
        section = tfs.card_section(card.read_text(encoding="utf-8"))
        expected = tfs.card_block(name, e.family, tables[e.family])
        if section != expected:
            stale.append(name)
        else:
            assert f"/v1/models/{name}:predict" in section
    assert not stale, f"out-of-date cards {stale}: run python -m tfjpeg.serving.tfs saved_models"


def test_tf_serving_config_names_every_registry_model():
    root = REPO / "saved_models"
    config = (root / tfs.CONFIG_FILE).read_text(encoding="utf-8")
    assert config == tfs.model_config(), "run python -m tfjpeg.serving.tfs saved_models"
    for name in REGISTRY:
        served = REGISTRY[name].family in SERVED_FAMILIES
        assert (f'name: "{name}"' in config) == served, name
        if not served:
            continue
        assert f'name: "{name}"' in config and f'base_path: "/models/{name}"' in config
    batching = (root / tfs.BATCHING_FILE).read_text(encoding="utf-8")
    assert batching == tfs.BATCHING_PARAMETERS
    readme = (root / "README.md").read_text(encoding="utf-8")
    for needle in (
        "tensorflow_model_server",
        f"--model_config_file=/models/{tfs.CONFIG_FILE}",
        "--enable_batching",
        f"--batching_parameters_file=/models/{tfs.BATCHING_FILE}",
        "tf_serving_warmup_requests",
    ):
        assert needle in readme, needle
