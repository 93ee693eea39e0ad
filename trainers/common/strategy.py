"""Choosing a tf.distribute strategy by name: one device, all local devices, or many workers."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import tensorflow as tf

from tfjpeg.errors import TfjpegError

__all__ = ["STRATEGIES", "is_chief", "make_strategy", "num_workers", "worker_index"]

STRATEGIES = ("default", "mirrored", "multiworker")


def _check_tf_config() -> None:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise TfjpegError(
            "strategy 'multiworker' needs TF_CONFIG, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}} on every worker.'
        )
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        task = config["task"]
        task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as err:
        raise TfjpegError(
            f"TF_CONFIG is not a valid cluster spec ({err!r}): needs cluster.worker (a list of "
            f"host:port) and task.type/task.index. Received: TF_CONFIG={raw!r}"
        ) from err
    if not isinstance(workers, list) or not workers:
        raise TfjpegError(f"TF_CONFIG cluster.worker must be a non-empty list. Received: {raw!r}")


def make_strategy(name: str = "default", *, devices: Sequence[str] | None = None):
    """A ``tf.distribute.Strategy`` by name.

    * ``"default"``: the default strategy (one device, no distribution).
    * ``"mirrored"``: synchronous data parallelism over this machine's devices: all GPUs, or,
      without GPUs, all logical CPU devices (configure several with
      ``tf.config.set_logical_device_configuration`` to test on a CPU). ``devices`` overrides.
    * ``"multiworker"``: ``MultiWorkerMirroredStrategy`` over the cluster in ``TF_CONFIG``
      (every worker runs the same program). Create it first thing in the program, before other
      TensorFlow work, as TensorFlow requires.

    Args:
        name: One of :data:`STRATEGIES`.
        devices: Device names for ``"mirrored"`` (default: see above).

    Raises:
        ValueError: unknown ``name``.
        TfjpegError: ``"multiworker"`` without a usable ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}. Received: name={name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if devices is None:
            gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
            devices = gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
        devices = list(devices)
        on_gpus = all("GPU" in d.upper() for d in devices)
        # NCCL all-reduce exists only between GPUs; reduce on one device otherwise.
        ops = None if on_gpus else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=ops)
    _check_tf_config()
    return tf.distribute.MultiWorkerMirroredStrategy()


def num_workers(strategy) -> int:
    """How many worker processes train together (1 without a cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 1
    cluster = resolver.cluster_spec().as_dict()
    return sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))


def worker_index(strategy) -> int:
    """This worker's index in the cluster (0 without a cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 0
    return int(resolver.task_id or 0)


def is_chief(strategy) -> bool:
    """Whether this process writes checkpoints, logs and exports (always true without a cluster).

    The chief is the ``"chief"`` task if the cluster has one, else worker 0.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    cluster = resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and "chief" not in cluster and resolver.task_id == 0
