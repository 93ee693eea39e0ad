"""Run trainers in child processes from tests: plain, killed mid-run, or as a local cluster.

Why children: a ``MultiWorkerMirroredStrategy`` must be created before any other TensorFlow
work in its process, two ``MirroredStrategy`` runs in one process collide in their collective
ops, and a SIGKILL test needs a process to kill. Every child gets this checkout on
``PYTHONPATH`` (``trainers/`` only: tfjpeg is the installed one), the single-thread TensorFlow
settings of the CI machine and its output in a log file (shown when it fails).

Reuse from any trainer test (``tests/`` is on ``sys.path`` under pytest)::

    from trainer_processes import python_command, run_child, run_cluster, start_child

    # one run, fails the test with the child's log tail on a non-zero exit
    run_child(python_command("-m", "trainers.editor.train", "--run-dir", run, ...), tmp_path)

    # a two-worker MultiWorkerMirroredStrategy run on localhost (TF_CONFIG set per worker)
    results = run_cluster(lambda i: python_command("-m", "trainers.editor.train", ...),
                          tmp_path, workers=2)

    # kill a run once its first checkpoint at step >= 4 exists, then resume it
    proc = start_child(command, tmp_path / "killed.log")
    step = wait_for_checkpoint(run / "checkpoints", min_step=4, process=proc)
    kill(proc)

    # compare two checkpoints variable by variable
    a, b = read_checkpoint(path_a), read_checkpoint(path_b)
    assert max_scaled_difference(a, b) <= 1e-4

Functions: :func:`python_command`, :func:`child_env`, :func:`start_child`, :func:`run_child`,
:func:`finish_child`, :func:`free_ports`, :func:`tf_config`, :func:`start_cluster`,
:func:`run_cluster`,
:func:`kill`, :func:`latest_checkpoint_step`, :func:`wait_for_checkpoint`,
:func:`read_checkpoint`, :func:`max_scaled_difference`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from data_selection import DATA_VARIABLES

REPO = Path(__file__).resolve().parents[1]

# Generous: children start TensorFlow on a loaded 2-core machine.
DEFAULT_TIMEOUT = 240.0


def python_command(*args: str | os.PathLike) -> list[str]:
    """``[sys.executable, *args]`` as strings (e.g. ``python_command("-m", "trainers.x")``)."""
    return [sys.executable, *map(str, args)]


_TRAINERS_ONLY: Path | None = None


def trainers_only_path() -> Path:
    """A folder holding only a link to the checkout's ``trainers/``, for a child's PYTHONPATH:
    children import ``trainers`` from the checkout and ``tfjpeg`` from where it is installed
    (the checkout's root on PYTHONPATH would shadow the installed package)."""
    global _TRAINERS_ONLY
    if _TRAINERS_ONLY is None:
        import atexit
        import shutil
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="tfjpeg-trainers-path-"))
        (folder / "trainers").symlink_to(REPO / "trainers", target_is_directory=True)
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _TRAINERS_ONLY = folder
    return _TRAINERS_ONLY


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment plus ``trainers/`` (not the checkout's ``tfjpeg/``) on PYTHONPATH and
    CI's TensorFlow thread limits. Children start in the repository root; PYTHONSAFEPATH keeps
    that folder off their ``sys.path`` (Python >= 3.11), so they too import the installed
    ``tfjpeg``. The session's data folders (``TFJPEG_KODAK_DIR``, ``TFJPEG_TRAIN_DIR``) are not
    passed on: a child sees only the folders its test gives in ``extra``, so it runs the same
    with and without them (and CI's second pass need not run it again)."""
    # (keys first: the data variables' values are never read)
    env = {key: os.environ[key] for key in os.environ if key not in DATA_VARIABLES}
    paths = (str(trainers_only_path()), env.get("PYTHONPATH", ""))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env["PYTHONSAFEPATH"] = "1"
    for key, value in (
        ("TF_CPP_MIN_LOG_LEVEL", "2"),
        ("TF_NUM_INTRAOP_THREADS", "1"),
        ("TF_NUM_INTEROP_THREADS", "2"),
        ("OMP_NUM_THREADS", "1"),
    ):
        env.setdefault(key, value)
    env.pop("TF_CONFIG", None)
    env.update(extra or {})
    return env


def start_child(
    command: Sequence[str], log_path: Path, *, env: Mapping[str, str] | None = None
) -> subprocess.Popen:
    """Start ``command`` in the repository root, stdout+stderr to ``log_path``."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            list(command),
            cwd=REPO,
            env=child_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _tail(log_path: Path, chars: int = 4000) -> str:
    try:
        return Path(log_path).read_text(errors="replace")[-chars:]
    except OSError:
        return "<no log>"


def finish_child(
    proc: subprocess.Popen, log_path: Path, *, timeout: float = DEFAULT_TIMEOUT
) -> str:
    """Wait for ``proc``; fail (with its log tail) on a timeout or non-zero exit; its log."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(proc)
        raise AssertionError(
            f"child timed out after {timeout} s: {proc.args}\n{_tail(log_path)}"
        ) from None
    if proc.returncode != 0:
        raise AssertionError(f"child exited with {proc.returncode}: {proc.args}\n{_tail(log_path)}")
    return Path(log_path).read_text(errors="replace")


def run_child(
    command: Sequence[str],
    log_dir: Path,
    *,
    name: str = "child",
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """Run ``command`` to completion (must exit 0); returns its output."""
    log_path = Path(log_dir) / f"{name}.log"
    return finish_child(start_child(command, log_path, env=env), log_path, timeout=timeout)


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on localhost right now."""
    sockets, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("localhost", 0))
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


def tf_config(ports: Sequence[int], index: int) -> str:
    """TF_CONFIG of worker ``index`` in a cluster of localhost workers on ``ports``."""
    return json.dumps(
        {
            "cluster": {"worker": [f"localhost:{p}" for p in ports]},
            "task": {"type": "worker", "index": index},
        }
    )


def start_cluster(
    command_for: Callable[[int], Sequence[str]], log_dir: Path, *, workers: int = 2
) -> list[tuple[subprocess.Popen, Path]]:
    """Start ``command_for(i)`` as worker ``i`` of a localhost cluster; ``[(process, log)]``."""
    ports = free_ports(workers)
    started = []
    for i in range(workers):
        log = Path(log_dir) / f"worker{i}.log"
        started.append(
            (start_child(command_for(i), log, env={"TF_CONFIG": tf_config(ports, i)}), log)
        )
    return started


def run_cluster(
    command_for: Callable[[int], Sequence[str]],
    log_dir: Path,
    *,
    workers: int = 2,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[str]:
    """Run ``command_for(i)`` as worker ``i`` of a localhost cluster (all at once).

    Every worker gets its TF_CONFIG; all must exit 0 (a failing worker fails the test and the
    others are killed). Returns the workers' outputs in index order.
    """
    started = start_cluster(command_for, log_dir, workers=workers)
    try:
        return [finish_child(p, log, timeout=timeout) for p, log in started]
    finally:
        for p, _ in started:
            kill(p)


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` (if still running) and reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


_CKPT = re.compile(r"-(\d+)$")


def latest_checkpoint_step(checkpoint_dir: Path) -> int | None:
    """Step number of the latest checkpoint a ``CheckpointManager`` recorded, or None."""
    state = Path(checkpoint_dir) / "checkpoint"
    try:
        text = state.read_text()
    except OSError:
        return None
    match = re.search(r'^model_checkpoint_path: "([^"]+)"', text, re.MULTILINE)
    if not match:
        return None
    number = _CKPT.search(match.group(1))
    return int(number.group(1)) if number else None


def wait_for_checkpoint(
    checkpoint_dir: Path,
    *,
    min_step: int,
    process: subprocess.Popen | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    poll: float = 0.02,
) -> int:
    """Wait until the latest checkpoint's step is >= ``min_step``; returns that step.

    Fails if ``process`` exits first or on timeout.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step = latest_checkpoint_step(checkpoint_dir)
        if step is not None and step >= min_step:
            return step
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"child exited ({process.returncode}) before a checkpoint at step >= {min_step}"
            )
        time.sleep(poll)
    raise AssertionError(f"no checkpoint at step >= {min_step} in {checkpoint_dir} in {timeout} s")


def read_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every saved tensor of a checkpoint (prefix path, e.g. ``.../ckpt-8``) by its key."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(path))
    return {
        key: np.asarray(reader.get_tensor(key))
        for key in reader.get_variable_to_shape_map()
        if not key.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")
    }


def max_scaled_difference(
    a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], *, floor: float = 1e-6
) -> float:
    """Largest per-variable ``max|a - b| / max(max|b|, floor)`` over all keys (same key sets).

    Scaling per variable makes one tolerance fit weights, Adam moments and counters alike; the
    CI machine is not bitwise reproducible, so compare with a tolerance and pair it with a
    negative control (a state one step apart must exceed it).
    """
    if set(a) != set(b):
        raise AssertionError(f"different variables: {sorted(set(a) ^ set(b))}")
    worst = 0.0
    for key in a:
        x = np.asarray(a[key])
        y = np.asarray(b[key])
        if x.shape != y.shape:
            raise AssertionError(f"{key}: shapes {x.shape} vs {y.shape}")
        if x.dtype.kind not in "fiu" or x.size == 0:
            if not np.array_equal(x, y):
                return float("inf")
            continue
        x, y = x.astype(np.float64), y.astype(np.float64)
        scale = max(float(np.max(np.abs(y))), floor)
        worst = max(worst, float(np.max(np.abs(x - y))) / scale)
    return worst
