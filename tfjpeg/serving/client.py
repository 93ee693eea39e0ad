"""Requests for tfjpeg models served by TF Serving: REST JSON and gRPC ``PredictRequest``.

The input names of each family's bytes signature are kept in :data:`BYTES_SIGNATURES`, the one
place the builders read them from.

- REST, row ("instances") form: ``{"signature_name": "serving_default", "instances": [{"jpeg":
  {"b64": "..."}, "seed": -1}]}``; columnar ("inputs") form: ``{"signature_name": ...,
  "inputs": {"jpeg": {"b64": "..."}, "seed": -1}}``. TF Serving decodes ``{"b64": ...}`` to the
  raw bytes of a string tensor. The columnar form feeds each value as is (the current signatures
  take scalars); the row form stacks instances on a leading batch dimension.
- gRPC: a ``tensorflow_serving.apis.predict_pb2.PredictRequest`` (needs the
  ``tensorflow-serving-api`` package, which is not a dependency of tfjpeg).

Example:
    >>> payload = rest_request("decoder", jpeg_bytes, seed=3)  # doctest: +SKIP
    >>> url = "http://host:8501/v1/models/consistent-l1:predict"
    >>> requests.post(url, json=payload).json()["outputs"]["png"]["b64"]  # doctest: +SKIP

Reference: ARCHITECTURE.md "Serving"; TF Serving's RESTful API (``predict``, base64 encoding).
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import numpy as np

from tfjpeg.errors import TfjpegError

__all__ = [
    "BYTES_SIGNATURES",
    "SignatureInputs",
    "grpc_predict_request",
    "rest_request",
]


@dataclasses.dataclass(frozen=True)
class SignatureInputs:
    """A bytes signature: its name, the name of its bytes input, and its other inputs with their
    dtype (numpy dtype name) and default (None: required)."""

    signature: str
    bytes_input: str
    others: tuple[tuple[str, str, Any], ...]


#: Family → its JPEG/image-bytes signature (:mod:`tfjpeg.serving.decoders`,
#: :mod:`tfjpeg.serving.editors`).
BYTES_SIGNATURES: dict[str, SignatureInputs] = {
    "decoder": SignatureInputs("serving_default", "jpeg", (("seed", "int64", -1),)),
    "editor": SignatureInputs("serving_default", "image_bytes", (("quality", "float32", None),)),
}


def _inputs(family: str, values: dict[str, Any]) -> tuple[SignatureInputs, dict[str, Any]]:
    spec = BYTES_SIGNATURES.get(family)
    if spec is None:
        raise TfjpegError(
            f"no bytes signature for family {family!r}; choose one of: "
            f"{', '.join(BYTES_SIGNATURES)}"
        )
    known = {name for name, _, _ in spec.others}
    unknown = set(values) - known
    if unknown:
        raise ValueError(
            f"unknown inputs for the {family} signature: {', '.join(sorted(unknown))}; "
            f"it takes {', '.join(sorted(known))}"
        )
    out = {}
    for name, dtype, default in spec.others:
        value = values.get(name, default)
        if value is None:
            raise ValueError(f"the {family} signature needs {name}. Received: none")
        out[name] = np.asarray(value, dtype=dtype).item()
    return spec, out


def _check_bytes(data: Any) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes. Received: {type(data).__name__}")
    return bytes(data)


def rest_request(
    family: str,
    data: bytes,
    *,
    columnar: bool = False,
    signature: str | None = None,
    **values: Any,
) -> dict[str, Any]:
    """The JSON body of a TF Serving REST ``:predict`` call on a family's bytes signature.

    Args:
        family: "decoder" (JPEG bytes, ``seed``: default -1, the neutral decoding) or "editor"
            (PNG/JPEG bytes, ``quality`` required).
        data: the file's bytes, sent as ``{"b64": ...}``.
        columnar: the ``"inputs"`` form instead of ``"instances"``.
        signature: signature name (default: the family's bytes signature).
        **values: the signature's other inputs.

    Returns:
        A JSON-serializable dict.
    """
    spec, others = _inputs(family, values)
    example = {spec.bytes_input: {"b64": base64.b64encode(_check_bytes(data)).decode("ascii")}}
    example.update(others)
    body: dict[str, Any] = {"signature_name": signature or spec.signature}
    if columnar:
        body["inputs"] = example
    else:
        body["instances"] = [example]
    return body


def grpc_predict_request(
    model_name: str,
    family: str,
    data: bytes,
    *,
    signature: str | None = None,
    version: int | None = None,
    **values: Any,
) -> Any:
    """A gRPC ``PredictRequest`` for ``model_name`` (as TF Serving knows it) on the family's
    bytes signature, scalar inputs as the signatures take them.

    Raises:
        TfjpegError: ``tensorflow-serving-api`` is not installed.
    """
    try:
        from tensorflow_serving.apis import predict_pb2
    except ImportError as err:
        raise TfjpegError(
            "gRPC requests need the tensorflow-serving-api package: "
            "pip install tensorflow-serving-api (matching your TensorFlow version)."
        ) from err
    import tensorflow as tf

    spec, others = _inputs(family, values)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature or spec.signature
    if version is not None:
        request.model_spec.version.value = int(version)
    request.inputs[spec.bytes_input].CopyFrom(
        tf.make_tensor_proto(_check_bytes(data), dtype=tf.string, shape=[])
    )
    for name, dtype, _ in spec.others:
        request.inputs[name].CopyFrom(
            tf.make_tensor_proto(others[name], dtype=tf.as_dtype(dtype), shape=[])
        )
    return request
