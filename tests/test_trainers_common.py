"""trainers.common: the shared training loop (learning, checkpoints, resume after SIGKILL,
MirroredStrategy, two-worker MultiWorkerMirroredStrategy), TensorBoard records, progress bar,
configs, strategies and CLI options.

Distributed runs and the killed run happen in child processes (tests/trainer_processes.py);
tests/loop_child.py is the small trainer they run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import time
from pathlib import Path

import keras
import loop_child
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from trainer_processes import (
    finish_child,
    kill,
    latest_checkpoint_step,
    max_scaled_difference,
    python_command,
    read_checkpoint,
    start_child,
    start_cluster,
    wait_for_checkpoint,
)

from tfjpeg.errors import TfjpegError
from trainers.common import (
    ProgressBar,
    TrainingLoop,
    add_common_arguments,
    apply_common_arguments,
    is_chief,
    load_config,
    make_strategy,
    replica_seed,
    save_config,
)
from trainers.common.progress import format_duration
from trainers.common.summaries import write_images, write_scalar

CHILD = Path(loop_child.__file__)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("loopdata")
    rng = np.random.default_rng(0)
    for i in range(6):
        img = rng.integers(0, 256, (12 + i, 10 + 2 * i, 3), dtype=np.uint8)
        Image.fromarray(img).save(root / f"im{i}.png")
    return root


def _events(log_dir: Path) -> dict[str, list[tuple[int, tf.Tensor]]]:
    """TensorBoard records by tag: [(step, tensor)]."""
    out: dict[str, list] = {}
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                out.setdefault(value.tag, []).append(
                    (event.step, tf.make_ndarray(value.tensor), value.metadata)
                )
    return out


def _child(data_dir: Path, run_dir: Path, *args: str) -> list[str]:
    return python_command(CHILD, "--data", data_dir, "--run-dir", run_dir, *args)


def _in_process(data_dir: Path, run_dir: Path, *args: str | Path) -> None:
    """The same trainer in this process (default strategy): the reference runs."""
    assert (
        loop_child.main(["--data", str(data_dir), "--run-dir", str(run_dir), *map(str, args)]) == 0
    )


def _weights(result_path: Path) -> list[np.ndarray]:
    return [np.array(w) for w in json.loads(result_path.read_text())["weights"]]


# ---------------------------------------------------------------- loop, in process
def test_loop_learns_logs_checkpoints_and_resumes(data_dir, tmp_path):
    strategy = make_strategy("default")
    run = tmp_path / "run"
    model, optimizer = loop_child.build(strategy, seed=0)
    evals = []

    def eval_fn():
        evals.append(int(optimizer.iterations.numpy()))
        return {"kernel_norm": float(tf.norm(model.weights[0]))}

    sample = next(iter(loop_child.make_dataset(data_dir, seed=9)(0)))["images"]
    loop = TrainingLoop(
        strategy=strategy,
        run_dir=run,
        total_steps=30,
        train_step=loop_child.make_train_step(model, optimizer, loop_child.GLOBAL_BATCH),
        dataset=loop_child.make_dataset(data_dir, seed=0),
        trackables={"model": model, "optimizer": optimizer},
        checkpoint_every=10,
        log_every=5,
        image_summaries=lambda: {"output": model(sample / 255.0) * 255.0, "input": sample},
        image_every=15,
        eval_fn=eval_fn,
        eval_every=10,
        progress=False,
    )
    history = loop.run()
    assert history["step"] == 30 and history["start_step"] == 0
    assert set(history) >= {"step", "losses", "wall_seconds", "eval"}
    losses = [entry[1]["loss"] for entry in history["log"]]
    assert [entry[0] for entry in history["log"]] == [5, 10, 15, 20, 25, 30]
    assert losses[-1] < 0.5 * losses[0]  # the identity is learnable
    assert history["losses"] == history["log"][-1][1]
    assert [s for s, _ in history["eval"]] == [10, 20, 30] and evals == [10, 20, 30]
    assert int(optimizer.iterations.numpy()) == 30
    assert latest_checkpoint_step(run / "checkpoints") == 30
    assert sorted(p.name for p in (run / "checkpoints").glob("*.index")) == [
        "ckpt-10.index",
        "ckpt-20.index",
        "ckpt-30.index",
    ]

    events = _events(run / "logs")
    assert [s for s, _, _ in events["train/loss"]] == [5, 10, 15, 20, 25, 30]
    np.testing.assert_allclose([float(v) for _, v, _ in events["train/loss"]], losses, rtol=1e-6)
    assert events["train/loss"][0][2].plugin_data.plugin_name == "scalars"
    assert [s for s, _, _ in events["eval/kernel_norm"]] == [10, 20, 30]
    assert "train/steps_per_second" in events
    (step, record, meta), *_ = events["output"]
    assert step == 15 and meta.plugin_data.plugin_name == "images"
    assert record[:2].tolist() == [b"8", b"8"]  # width, height
    assert tf.io.decode_png(record[2]).shape == (8, 8, 3)

    # A new loop in the same run dir resumes: step counter, weights and optimizer state.
    trained = [w.copy() for w in model.get_weights()]
    model2, optimizer2 = loop_child.build(strategy, seed=123)
    assert not np.allclose(model2.get_weights()[0], trained[0])
    loop2 = TrainingLoop(
        strategy=strategy,
        run_dir=run,
        total_steps=35,
        train_step=loop_child.make_train_step(model2, optimizer2, loop_child.GLOBAL_BATCH),
        dataset=loop_child.make_dataset(data_dir, seed=0),
        trackables={"model": model2, "optimizer": optimizer2},
        checkpoint_every=10,
        progress=False,
    )
    assert loop2.restore() == 30
    for a, b in zip(model2.get_weights(), trained, strict=True):
        np.testing.assert_array_equal(a, b)
    history2 = loop2.run()
    assert history2["start_step"] == 30 and history2["step"] == 35
    assert int(optimizer2.iterations.numpy()) == 35
    assert latest_checkpoint_step(run / "checkpoints") == 35  # final checkpoint off the grid
    # Already finished: nothing to do.
    assert loop2.run()["step"] == 35


def test_loop_passes_the_step_and_stops_at_the_end_of_finite_data(tmp_path):
    strategy = make_strategy("default")
    w = tf.Variable(0.0)
    steps, seeds = [], []

    def train_step(batch, step):
        steps.append(step)
        seeds.append(replica_seed(7, step))
        w.assign_add(tf.reduce_sum(batch))
        return {"sum": tf.reduce_sum(batch)}

    ds = tf.data.Dataset.range(1, 5).map(lambda x: tf.fill([2], tf.cast(x, tf.float32)))
    loop = TrainingLoop(
        strategy=strategy,
        run_dir=tmp_path,
        total_steps=10,
        train_step=train_step,
        dataset=ds,
        trackables={"w": w},
        progress=False,
    )
    with pytest.warns(UserWarning, match="dataset ended at step 4"):
        history = loop.run()
    assert history["step"] == 4 and float(w.numpy()) == 2 * (1 + 2 + 3 + 4)
    assert history["losses"] == {"sum": 8.0}
    assert latest_checkpoint_step(tmp_path / "checkpoints") == 4
    assert len(steps) == 1  # traced once: the step is a tensor, not a Python constant
    assert seeds[0].shape == (2,)
    # One device: [seed, step]; a resumed run draws the same stream at the same step.
    assert replica_seed(7, tf.constant(5, tf.int64)).numpy().tolist() == [7, 5]


def test_sigterm_checkpoints_the_steps_done_then_exits(data_dir, tmp_path):
    fallback = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: fallback.append(signum))
    try:
        strategy = make_strategy("default")
        model, optimizer = loop_child.build(strategy, seed=0)
        inner = loop_child.make_train_step(model, optimizer, loop_child.GLOBAL_BATCH)

        def terminate_at_step_2(step):
            if int(step) == 2:
                os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` would, mid-run
            return step

        def train_step(batch, step):
            tf.py_function(terminate_at_step_2, [step], tf.int64)
            return inner(batch)

        loop = TrainingLoop(
            strategy=strategy,
            run_dir=tmp_path,
            total_steps=10**6,
            train_step=train_step,
            dataset=loop_child.make_dataset(data_dir, seed=0),
            trackables={"model": model, "optimizer": optimizer},
            checkpoint_every=1000,
            progress=False,
        )
        with pytest.raises(SystemExit) as exit_info:
            loop.run()
        assert exit_info.value.code == 128 + signal.SIGTERM
        assert fallback == []  # the loop's handler took it, and then restored the previous one
        assert latest_checkpoint_step(tmp_path / "checkpoints") == 3  # steps 0, 1, 2 done
        assert int(optimizer.iterations.numpy()) == 3
        os.kill(os.getpid(), signal.SIGTERM)
        assert fallback == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_loop_rejects_bad_arguments(tmp_path):
    strategy = make_strategy("default")
    ds = tf.data.Dataset.range(3)
    base = {
        "strategy": strategy,
        "run_dir": tmp_path,
        "total_steps": 5,
        "train_step": lambda b: {"x": tf.cast(b, tf.float32)},
        "dataset": ds,
        "trackables": {},
    }
    for key, value in [
        ("total_steps", -1),
        ("checkpoint_every", 0),
        ("log_every", 0),
        ("train_step", 3),
        ("dataset", [1, 2]),
        ("trackables", {"step": tf.Variable(1)}),
    ]:
        with pytest.raises(ValueError, match=key.split("_")[0]):
            TrainingLoop(**{**base, key: value})
    loop = TrainingLoop(**{**base, "train_step": lambda b: [b]})
    with pytest.raises(ValueError, match="non-empty dict"):
        loop.run()


# ---------------------------------------------------------------- child processes
def test_mirrored_two_cpus_matches_one_device(data_dir, tmp_path):
    """2 replicas x 2 examples give the same training as one device with the global batch 4."""
    args = ["--steps", "6", "--strategy", "mirrored", "--cpu-devices", "2"]
    proc = start_child(
        _child(data_dir, tmp_path / "mirrored", *args, "--out", tmp_path / "mirrored.json"),
        tmp_path / "mirrored.log",
    )
    try:  # the one-device reference, here, meanwhile
        _in_process(data_dir, tmp_path / "one", "--steps", "6", "--out", tmp_path / "one.json")
        finish_child(proc, tmp_path / "mirrored.log")
    finally:
        kill(proc)
    result = json.loads((tmp_path / "mirrored.json").read_text())
    one = json.loads((tmp_path / "one.json").read_text())
    assert result["replicas"] == 2 and one["replicas"] == 1
    assert result["history"]["step"] == 6
    mirrored_weights = _weights(tmp_path / "mirrored.json")
    for a, b in zip(mirrored_weights, _weights(tmp_path / "one.json"), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        result["history"]["losses"]["loss"], one["history"]["losses"]["loss"], rtol=1e-4
    )


def test_two_worker_multiworker_run_on_localhost(data_dir, tmp_path):
    """Two MultiWorkerMirroredStrategy workers: both finish with the same weights, the chief
    alone writes checkpoints/logs, and together they train like one device on the global batch
    (so each worker got its own half of every batch). Resuming when a worker cannot see the
    chief's checkpoints stops both with a clear error."""
    run = tmp_path / "cluster"
    args = ["--strategy", "multiworker", "--checkpoint-every", "2"]
    started = start_cluster(
        lambda i: _child(data_dir, run, "--steps", "4", *args, "--out", tmp_path / f"w{i}.json"),
        tmp_path,
    )
    try:  # the one-device reference, here, meanwhile
        _in_process(data_dir, tmp_path / "one", "--steps", "4", "--out", tmp_path / "one.json")
        for proc, log in started:
            finish_child(proc, log)
    finally:
        for proc, _ in started:
            kill(proc)
    results = [json.loads((tmp_path / f"w{i}.json").read_text()) for i in range(2)]
    assert [r["replicas"] for r in results] == [2, 2]
    assert [r["history"]["step"] for r in results] == [4, 4]
    w0, w1 = _weights(tmp_path / "w0.json"), _weights(tmp_path / "w1.json")
    initial = loop_child.build(make_strategy("default"), seed=0)[0].get_weights()
    for a, b, c, d in zip(w0, w1, _weights(tmp_path / "one.json"), initial, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-6)
        assert not np.allclose(a, d)  # it did train
    assert latest_checkpoint_step(run / "checkpoints") == 4
    assert list((run / "logs").glob("events.out.tfevents.*"))
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "logs"]  # no worker temp

    started = start_cluster(
        lambda i: _child(
            data_dir, run if i == 0 else tmp_path / "elsewhere", "--steps", "6", *args
        ),
        tmp_path / "mismatch",
    )
    for proc, log in started:
        try:
            assert proc.wait(timeout=240) != 0, log.read_text()[-2000:]
        finally:
            kill(proc)
    messages = [log.read_text() for _, log in started]
    assert "worker 0 restored step 4 but the workers disagree" in messages[0]
    assert "worker 1 restored step 0 but the workers disagree" in messages[1]


def test_sigkill_then_resume_continues_from_the_last_checkpoint(data_dir, tmp_path):
    """Kill a run (SIGKILL) after a checkpoint, resume it, and compare its final state with an
    uninterrupted run's: equal within a per-variable tolerance, while the uninterrupted state
    one step earlier is outside it (negative control)."""
    run = tmp_path / "killed"
    proc = start_child(
        _child(data_dir, run, "--steps", "100000", "--checkpoint-every", "3", "--slow-ms", "40"),
        tmp_path / "killed.log",
    )
    try:
        wait_for_checkpoint(run / "checkpoints", min_step=6, process=proc)
    finally:
        kill(proc)
    assert proc.returncode == -9
    killed_at = latest_checkpoint_step(run / "checkpoints")
    assert killed_at is not None and killed_at >= 6 and killed_at % 3 == 0
    final = killed_at + 4

    resumed = start_child(
        _child(
            data_dir,
            run,
            "--steps",
            str(final),
            "--checkpoint-every",
            "3",
            "--out",
            tmp_path / "resumed.json",
        ),
        tmp_path / "resumed.log",
    )
    try:  # meanwhile, the uninterrupted reference here, with a checkpoint at every step
        reference = tmp_path / "reference"
        _in_process(
            data_dir,
            reference,
            "--steps",
            str(final),
            "--checkpoint-every",
            "1",
            "--max-to-keep",
            "0",
        )
        finish_child(resumed, tmp_path / "resumed.log")
    finally:
        kill(resumed)
    history = json.loads((tmp_path / "resumed.json").read_text())["history"]
    assert history["start_step"] == killed_at and history["step"] == final

    def training_state(path: Path) -> dict[str, np.ndarray]:
        state = read_checkpoint(path)
        state.pop("save_counter/.ATTRIBUTES/VARIABLE_VALUE")  # counts saves, not training
        return state

    state = training_state(run / "checkpoints" / f"ckpt-{final}")
    same_step = training_state(reference / "checkpoints" / f"ckpt-{final}")
    step_before = training_state(reference / "checkpoints" / f"ckpt-{final - 1}")
    assert state["step/.ATTRIBUTES/VARIABLE_VALUE"] == final
    tolerance = 1e-4
    assert max_scaled_difference(state, same_step) <= tolerance
    # Negative control on the float state only (weights, Adam moments), not the counters.
    floats = [k for k, v in state.items() if v.dtype.kind == "f" and "learning_rate" not in k]
    assert len(floats) >= 6  # kernel, bias, and two Adam moments each
    control = max_scaled_difference(
        {k: state[k] for k in floats}, {k: step_before[k] for k in floats}
    )
    assert control > 10 * tolerance


# ---------------------------------------------------------------- pieces
def test_summaries_without_tensorboard(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        write_scalar("a/b", 1.5, step=3)
        write_images("img", np.zeros((6, 5, 7, 3), np.uint8), step=4, max_outputs=2)
        write_images("gray", np.ones((1, 2, 3, 1), np.float32), step=5)
    writer.flush()
    events = _events(tmp_path)
    assert [(s, float(v)) for s, v, _ in events["a/b"]] == [(3, 1.5)]
    ((_, record, _),) = events["img"]
    assert record.shape == (4,) and record[:2].tolist() == [b"7", b"5"]
    gray = tf.io.decode_png(events["gray"][0][1][2]).numpy()
    assert gray.shape == (2, 3, 1) and np.all(gray == 255)
    with pytest.raises(ValueError, match="N, H, W, C"):
        write_images("bad", np.zeros((4, 4, 3)), step=0)


def test_progress_bar_rate_eta_and_non_terminal_lines():
    stream = io.StringIO()
    bar = ProgressBar(100, initial=20, description="train x", stream=stream, line_interval=1e9)
    t0 = bar._start
    bar.update(30, {"loss": 0.25})
    text = bar.render(now=t0 + 5.0)  # 10 steps in 5 s -> 2 step/s, 70 left -> 35 s
    assert text.startswith("train x   30%|")
    assert "30/100 [00:05<00:35, 2.00 step/s] loss=0.25" in text
    for step in range(31, 101):
        bar.update(step)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "100/100" in lines[-1]  # first draw, final state; no \r
    assert "\r" not in stream.getvalue()
    assert format_duration(3725) == "1:02:05" and format_duration(float("nan")) == "?"
    quiet = io.StringIO()
    off = ProgressBar(5, stream=quiet, enabled=False)
    off.update(5)
    off.close()
    assert quiet.getvalue() == ""


def test_config_round_trip_and_errors(tmp_path):
    config = {"steps": 10, "editor": {"filters": 64}, "lr": 1e-3}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    assert load_config(path) == config
    saved = save_config(config, tmp_path / "run")
    assert saved == tmp_path / "run" / "config.json" and load_config(saved) == config
    mtime = saved.stat().st_mtime_ns
    time.sleep(0.01)
    save_config(dict(config), tmp_path / "run")  # same config: file untouched
    assert saved.stat().st_mtime_ns == mtime
    with pytest.warns(UserWarning, match="differs"):
        save_config({**config, "steps": 20}, tmp_path / "run")
    assert load_config(saved)["steps"] == 20

    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "c.toml").write_text("a = 1")
    for bad in ("list.json", "bad.json", "c.toml", "missing.json"):
        with pytest.raises(TfjpegError):
            load_config(tmp_path / bad)
    with pytest.raises(TfjpegError, match="JSON-serialisable"):
        save_config({"x": object()}, tmp_path / "run2")

    (tmp_path / "c.yaml").write_text("steps: 5\neditor:\n  filters: 8\n")
    try:
        import yaml  # noqa: F401
    except ImportError:
        with pytest.raises(TfjpegError, match="PyYAML"):
            load_config(tmp_path / "c.yaml")
    else:
        assert load_config(tmp_path / "c.yaml") == {"steps": 5, "editor": {"filters": 8}}


def test_common_arguments():
    parser = add_common_arguments(argparse.ArgumentParser(prog="t"))
    args = parser.parse_args(
        ["--run-dir", "r", "--steps", "7", "--strategy", "mirrored", "--seed", "0"]
    )
    assert args.run_dir == Path("r") and args.strategy == "mirrored" and args.config is None
    merged = apply_common_arguments({"steps": 100, "log_every": 3, "seed": 5}, args)
    assert merged == {"steps": 7, "log_every": 3, "seed": 0}
    assert parser.parse_args([]).strategy == "default"
    for bad in (
        ["--steps", "0"],
        ["--steps", "x"],
        ["--strategy", "tpu"],
        ["--seed", "-1"],
        ["--checkpoint-every", "1.5"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_strategies(monkeypatch):
    default = make_strategy("default")
    assert default.num_replicas_in_sync == 1 and is_chief(default)
    with pytest.raises(ValueError, match="Received: name='tpu'"):
        make_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(TfjpegError, match="TF_CONFIG"):
        make_strategy("multiworker")
    for bad in (
        "not json",
        '{"cluster": {}}',
        '{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}',
    ):
        monkeypatch.setenv("TF_CONFIG", bad)
        with pytest.raises(TfjpegError, match="TF_CONFIG"):
            make_strategy("multiworker")


def test_keras_model_checkpoint_keys_are_stable(tmp_path):
    """The checkpoint layout trainers rely on: model/ and optimizer/ variables plus step."""
    strategy = make_strategy("default")
    model, optimizer = loop_child.build(strategy, seed=0)
    optimizer.build(model.trainable_variables)
    loop = TrainingLoop(
        strategy=strategy,
        run_dir=tmp_path,
        total_steps=1,
        train_step=lambda b: {"x": tf.constant(0.0)},
        dataset=tf.data.Dataset.range(1),
        trackables={"model": model, "optimizer": optimizer},
        progress=False,
    )
    path = loop.save()
    keys = read_checkpoint(path)
    assert "step/.ATTRIBUTES/VARIABLE_VALUE" in keys
    # Keras 3 models' variables are saved once, under the optimizer's path to them.
    saved = [
        keys[f"optimizer/_trainable_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE"]
        for i in range(len(model.trainable_variables))
    ]
    for value, variable in zip(saved, model.trainable_variables, strict=True):
        np.testing.assert_array_equal(value, variable.numpy())
    assert isinstance(model, keras.Model) and os.path.basename(path) == "ckpt-0"
