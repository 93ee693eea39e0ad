"""Conformance checks every tfjpeg layer and model must pass (as keras-hub's
``run_model_saving_test``): :func:`run_model_saving_test`.

1. config round trip: ``from_config(get_config())`` has an equal config, and so does
   ``keras.saving`` (de)serialization;
2. output contract: the outputs have exactly the given keys and dtypes;
3. weights round trip: a model rebuilt from the config gives the same outputs after
   ``keras.saving.save_weights``/``load_weights`` (weights are perturbed first so that fresh
   initial values could not pass by chance);
4. SavedModel round trip in a fresh process: :func:`tfjpeg.serving.export.export_model` writes
   config, weights and a SavedModel; a child Python process loads the SavedModel signature and
   :func:`tfjpeg.models.saving.load_keras_model`, and both give the same outputs.

A case is a model (tiny configuration), example inputs (a dict of arrays) and a module-level
``call(model, **inputs)`` returning a dict of tensors (nested tuples allowed), so the child can
import it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import importlib, json, sys, traceback
import numpy as np
import tensorflow as tf
from tfjpeg.models.saving import load_keras_model

sys.path.insert(0, sys.argv[1])


def flat(prefix, value, leaves):
    if isinstance(value, dict):
        for k, v in value.items():
            flat(f"{prefix}_{k}" if prefix else k, v, leaves)
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            flat(f"{prefix}_{i}", v, leaves)
    elif value is not None:
        leaves[prefix or "output"] = np.asarray(value)
    return leaves


def check(folder, module, function, build_by_call):
    call = getattr(importlib.import_module(module), function)
    tensors = {k: tf.constant(v) for k, v in np.load(folder + "/../inputs.npz").items()}
    served = tf.saved_model.load(folder).signatures["serving_default"]
    np.savez(folder + "/../signature.npz", **{k: v.numpy() for k, v in served(**tensors).items()})
    build = (lambda m: call(m, **tensors)) if build_by_call else None
    model = load_keras_model(folder, build=build)
    np.savez(folder + "/../keras.npz", **flat("", call(model, **tensors), {}))


print("@@ready", flush=True)
for line in sys.stdin:
    try:
        check(**json.loads(line))
        print("@@" + json.dumps({"ok": True}), flush=True)
    except Exception:
        print("@@" + json.dumps({"ok": False, "error": traceback.format_exc()}), flush=True)
"""


class FreshProcess:
    """A child Python process that has never seen the models: it loads exported folders
    (SavedModel signature and :func:`~tfjpeg.models.saving.load_keras_model`) and writes their
    outputs. One child serves many checks, so TensorFlow is imported once."""

    def __init__(self) -> None:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in close())
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(Path(__file__).parent)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            text=True, env=env,
        )  # fmt: skip
        self._reply()  # ready

    def _reply(self) -> str:
        for line in self._proc.stdout:
            if line.startswith("@@"):
                return line[2:]
        self._stderr.seek(0)
        raise AssertionError(f"the child process died: {self._stderr.read()[-4000:]}")

    def check(self, folder: Path, call: Callable[..., Any], build_by_call: bool) -> None:
        """Load ``folder`` in the child; it writes ``signature.npz`` and ``keras.npz`` next to
        the folder."""
        request = {
            "folder": str(folder),
            "module": call.__module__,
            "function": call.__name__,
            "build_by_call": build_by_call,
        }
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        reply = json.loads(self._reply())
        assert reply["ok"], reply.get("error")

    def close(self) -> None:
        self._proc.stdin.close()
        self._proc.wait(timeout=60)
        self._stderr.close()


def flatten_outputs(outputs: Any, prefix: str = "") -> dict[str, Any]:
    """A flat name → tensor dict of a dict/tuple/tensor output (``coefficients_0`` etc.)."""
    leaves: dict[str, Any] = {}
    if isinstance(outputs, dict):
        for key, value in outputs.items():
            leaves.update(flatten_outputs(value, f"{prefix}_{key}" if prefix else key))
    elif isinstance(outputs, (tuple, list)):
        for i, value in enumerate(outputs):
            leaves.update(flatten_outputs(value, f"{prefix}_{i}"))
    elif outputs is not None:  # None entries (e.g. DiffJPEG's "unrounded" when hard) are left out
        leaves[prefix or "output"] = outputs
    return leaves


def _perturb(model: keras.layers.Layer, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for var in model.weights:
        if not var.dtype.startswith("float"):
            continue
        value = np.asarray(var.numpy())
        noise = rng.normal(0.0, 0.02, value.shape).astype(value.dtype)
        if "variance" in var.path or "moving" in var.path:
            noise = np.abs(noise)
        var.assign(value + noise)


def _numpy(outputs: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in outputs.items()}


def _assert_same(got: dict[str, np.ndarray], expected: dict[str, np.ndarray], what: str,
                 atol: float) -> None:  # fmt: skip
    assert set(got) == set(expected), f"{what}: keys {sorted(got)} != {sorted(expected)}"
    for key in expected:
        np.testing.assert_allclose(
            got[key], expected[key], atol=atol, rtol=1e-4, err_msg=f"{what}: {key}"
        )


def run_model_saving_test(
    model: keras.layers.Layer,
    inputs: dict[str, np.ndarray],
    call: Callable[..., Any],
    tmp_path: Path,
    *,
    output_keys: tuple[str, ...] | None = None,
    output_dtypes: dict[str, str] | None = None,
    atol: float = 1e-3,
    fresh_process: bool | FreshProcess = True,
    build_by_call: bool = False,
) -> dict[str, np.ndarray]:
    """Run the four conformance checks on ``model`` (see the module docstring).

    Args:
        model: a tfjpeg layer or model in a tiny configuration.
        inputs: example inputs, name → array (the names of ``call``'s keyword arguments and of
            the SavedModel signature's inputs).
        call: module-level ``call(model, **tensors)`` → dict of tensors (or one tensor).
        tmp_path: a fresh folder.
        output_keys: the exact top-level keys of the output dict (None: a single tensor).
        output_dtypes: flat output name → dtype name the output must have.
        atol: absolute tolerance of every comparison (graph vs eager float round-off; rtol 1e-4).
        fresh_process: run the SavedModel check in a child process (a :class:`FreshProcess` to
            share one between cases; True: a new one).
        build_by_call: the child builds the rebuilt model by calling it before loading weights
            (``load_keras_model(build=...)``), for layers whose build config cannot.

    Returns:
        The flat outputs of the model.
    """
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    outputs = call(model, **tensors)  # builds the model

    # 1. config round trip (from_config and keras.saving serialization)
    config = model.get_config()
    again = type(model).from_config(config)
    assert again.get_config() == config, "from_config(get_config()) changed the config"
    spec = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))  # plain JSON
    rebuilt = keras.saving.deserialize_keras_object(spec)
    assert type(rebuilt) is type(model) and rebuilt.get_config() == config

    # 2. output contract
    if output_keys is None:
        assert not isinstance(outputs, dict), "expected one tensor"
    else:
        assert isinstance(outputs, dict) and tuple(outputs) == tuple(output_keys), (
            f"output keys {list(outputs) if isinstance(outputs, dict) else type(outputs)} "
            f"!= {list(output_keys)}"
        )
    flat = flatten_outputs(outputs)
    for key, dtype in (output_dtypes or {}).items():
        assert key in flat, f"no output {key}; outputs: {sorted(flat)}"
        assert flat[key].dtype == tf.as_dtype(dtype), f"{key}: {flat[key].dtype} != {dtype}"

    # 3. weights round trip
    _perturb(model)
    expected = _numpy(flatten_outputs(call(model, **tensors)))
    weights = tmp_path / "model.weights.h5"
    keras.saving.save_weights(model, str(weights))
    call(again, **tensors)  # build
    keras.saving.load_weights(again, str(weights))
    _assert_same(_numpy(flatten_outputs(call(again, **tensors))), expected, "weights", atol)

    # 4. SavedModel (+ Keras config/weights) round trip, loaded in a fresh process
    from tfjpeg.serving.export import export_model

    specs = [tf.TensorSpec(v.shape, v.dtype, name=k) for k, v in tensors.items()]
    names = list(tensors)
    module = tf.Module()
    module.model = model

    @tf.function(input_signature=specs)
    def serve(*args):
        return flatten_outputs(call(module.model, **dict(zip(names, args, strict=True))))

    module.serve = serve
    folder = export_model(model, tmp_path / "export" / "1", module, {"serving_default": serve})
    np.savez(tmp_path / "export" / "inputs.npz", **inputs)
    if fresh_process:
        child = fresh_process if isinstance(fresh_process, FreshProcess) else FreshProcess()
        try:
            child.check(folder, call, build_by_call)
        finally:
            if child is not fresh_process:
                child.close()
        got_signature = dict(np.load(tmp_path / "export" / "signature.npz"))
        got_keras = dict(np.load(tmp_path / "export" / "keras.npz"))
        _assert_same(got_signature, expected, "SavedModel signature (fresh process)", atol)
        _assert_same(got_keras, expected, "load_keras_model (fresh process)", atol)
    return expected
