"""Requests for tfjpeg models served by TF Serving: REST JSON and gRPC ``PredictRequest``.

The signature and tensor names of each family's bytes signatures are kept in
:data:`BYTES_SIGNATURES`, the one place the serving modules (:mod:`tfjpeg.serving.decoders`,
:mod:`tfjpeg.serving.editors`) and these builders read them from. TF Serving conventions:

- binary inputs and outputs end in ``_bytes`` (``jpeg_bytes``, ``image_bytes``, ``png_bytes``):
  REST clients send ``{"b64": "..."}`` and TF Serving answers ``{"b64": "..."}`` for them;
- ``serving_default`` takes a leading batch dimension (one file per row, its own ``seed`` /
  ``quality``), so both REST forms work on it: the row form ``{"instances": [{"jpeg_bytes":
  {"b64": ...}, "seed": -1}, ...]}`` (TF Serving stacks the rows on a leading dimension) and the
  columnar form ``{"inputs": {"jpeg_bytes": [{"b64": ...}, ...], "seed": [-1, ...]}}``. It
  returns ``png_bytes`` (one PNG per file: files of different sizes cannot be stacked) and each
  image's ``height``, ``width``, ``channels``.
- the single-file signature (``decode_bytes`` / ``edit_bytes``) takes scalars and also returns
  the uint8 pixels; only the columnar form (``single=True``) or gRPC reach it.

gRPC: a ``tensorflow_serving.apis.predict_pb2.PredictRequest`` (needs the
``tensorflow-serving-api`` package, which is not a dependency of tfjpeg).

Example:
    >>> payload = rest_request("decoder", [jpeg_bytes], seed=3)  # doctest: +SKIP
    >>> url = "http://host:8501/v1/models/consistent-l1:predict"
    >>> answer = requests.post(url, json=payload).json()  # doctest: +SKIP
    >>> png = base64.b64decode(answer["predictions"][0]["png_bytes"]["b64"])  # doctest: +SKIP

Reference: ARCHITECTURE.md "Serving"; TF Serving's RESTful API (``predict``, base64 encoding).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence
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
    """A family's bytes signatures and their tensor names.

    Attributes:
        signature: the batch signature (``serving_default``): every input and output has a
            leading batch dimension.
        single_signature: the same computation on one file (scalar inputs), which also returns
            the uint8 pixels under ``pixels_output``.
        bytes_input: name of the file-bytes input (ends in ``_bytes``).
        others: the other inputs, (name, numpy dtype name, default or None for required).
        bytes_output: name of the PNG output (ends in ``_bytes``).
        pixels_output: name of the uint8 image output of ``single_signature``.
    """

    signature: str
    single_signature: str
    bytes_input: str
    others: tuple[tuple[str, str, Any], ...]
    bytes_output: str = "png_bytes"
    pixels_output: str = "image"


#: Family → its bytes signatures (:mod:`tfjpeg.serving.decoders`, :mod:`tfjpeg.serving.editors`).
BYTES_SIGNATURES: dict[str, SignatureInputs] = {
    "decoder": SignatureInputs(
        "serving_default", "decode_bytes", "jpeg_bytes", (("seed", "int64", -1),)
    ),
    "editor": SignatureInputs(
        "serving_default",
        "edit_bytes",
        "image_bytes",
        (("quality", "float32", None),),
        pixels_output="edited",
    ),
}


def _spec(family: str) -> SignatureInputs:
    spec = BYTES_SIGNATURES.get(family)
    if spec is None:
        raise TfjpegError(
            f"no bytes signature for family {family!r}; choose one of: "
            f"{', '.join(BYTES_SIGNATURES)}"
        )
    return spec


def _check_bytes(data: Any) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes. Received: {type(data).__name__}")
    return bytes(data)


def _files(data: Any, single: bool) -> list[bytes]:
    """One file (bytes) or a sequence of files → a list of bytes; ``single`` takes one file."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return [bytes(data)]
    if single or isinstance(data, str) or not isinstance(data, Sequence):
        raise TypeError(
            f"data must be bytes{'' if single else ' or a sequence of bytes'}. "
            f"Received: {type(data).__name__}"
        )
    files = [_check_bytes(d) for d in data]
    if not files:
        raise ValueError("data must hold at least one file. Received: an empty sequence")
    return files


def _values(spec: SignatureInputs, family: str, n: int, values: dict[str, Any]):
    """The other inputs, one list of ``n`` Python scalars each (a scalar is repeated)."""
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
        array = np.asarray(value, dtype=dtype)
        if array.ndim == 0:
            array = np.repeat(array, n)
        if array.shape != (n,):
            raise ValueError(
                f"{name} must be a scalar or one value per file ({n}). "
                f"Received: shape {array.shape}"
            )
        out[name] = [v.item() for v in array]
    return out


def _b64(data: bytes) -> dict[str, str]:
    return {"b64": base64.b64encode(data).decode("ascii")}


def rest_request(
    family: str,
    data: bytes | Sequence[bytes],
    *,
    columnar: bool = False,
    single: bool = False,
    **values: Any,
) -> dict[str, Any]:
    """The JSON body of a TF Serving REST ``:predict`` call on a family's bytes signature.

    Args:
        family: "decoder" (JPEG bytes, ``seed``: default -1, the neutral decoding) or "editor"
            (PNG/JPEG bytes, ``quality`` required).
        data: one file's bytes or a sequence of files, each sent as ``{"b64": ...}``.
        columnar: the ``"inputs"`` form (one list per input) instead of ``"instances"`` (one
            row per file).
        single: address the single-file signature (``decode_bytes`` / ``edit_bytes``) with
            scalars (columnar form only; ``data`` is one file).
        **values: the signature's other inputs: a scalar for every file or one value per file.

    Returns:
        A JSON-serializable dict.

    Raises:
        TfjpegError: unknown family.
        ValueError: unknown or missing inputs, a row form for ``single``.
        TypeError: ``data`` is not bytes.
    """
    spec = _spec(family)
    files = _files(data, single)
    others = _values(spec, family, len(files), values)
    if single:
        if not columnar:
            raise ValueError(
                f"the single-file signature {spec.single_signature!r} takes scalars: use "
                "columnar=True (TF Serving's row form adds a batch dimension)"
            )
        inputs = {spec.bytes_input: _b64(files[0]), **{k: v[0] for k, v in others.items()}}
        return {"signature_name": spec.single_signature, "inputs": inputs}
    body: dict[str, Any] = {"signature_name": spec.signature}
    if columnar:
        body["inputs"] = {spec.bytes_input: [_b64(f) for f in files], **others}
    else:
        body["instances"] = [
            {spec.bytes_input: _b64(f), **{k: v[i] for k, v in others.items()}}
            for i, f in enumerate(files)
        ]
    return body


def grpc_predict_request(
    model_name: str,
    family: str,
    data: bytes | Sequence[bytes],
    *,
    single: bool = False,
    version: int | None = None,
    **values: Any,
) -> Any:
    """A gRPC ``PredictRequest`` for ``model_name`` (as TF Serving knows it) on the family's
    batch signature (``serving_default``: tensors of shape (n,)) or, with ``single``, its
    single-file signature (scalars).

    Raises:
        TfjpegError: ``tensorflow-serving-api`` is not installed, or unknown family.
    """
    try:
        from tensorflow_serving.apis import predict_pb2
    except ImportError as err:
        raise TfjpegError(
            "gRPC requests need the tensorflow-serving-api package: "
            "pip install tensorflow-serving-api (matching your TensorFlow version)."
        ) from err
    import tensorflow as tf

    spec = _spec(family)
    files = _files(data, single)
    others = _values(spec, family, len(files), values)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = spec.single_signature if single else spec.signature
    if version is not None:
        request.model_spec.version.value = int(version)
    shape = [] if single else [len(files)]
    request.inputs[spec.bytes_input].CopyFrom(
        tf.make_tensor_proto(files[0] if single else files, dtype=tf.string, shape=shape)
    )
    for name, dtype, _ in spec.others:
        value = others[name][0] if single else others[name]
        request.inputs[name].CopyFrom(
            tf.make_tensor_proto(value, dtype=tf.as_dtype(dtype), shape=shape)
        )
    return request
