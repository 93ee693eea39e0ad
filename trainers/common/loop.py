"""The shared custom training loop: distributed steps, checkpoints with resume, TensorBoard."""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tensorflow as tf

from tfjpeg.errors import TfjpegError
from trainers.common.progress import ProgressBar
from trainers.common.strategy import is_chief, num_workers, worker_index
from trainers.common.summaries import write_images, write_scalar

__all__ = ["TrainingLoop", "replica_seed"]

StepFn = Callable[..., Mapping[str, tf.Tensor]]


def replica_seed(seed: int | tf.Tensor, step: tf.Tensor) -> tf.Tensor:
    """A stateless-RNG seed ``[seed, step * replicas + replica id]`` for use inside a step.

    Call it in a ``train_step`` that takes ``step`` to draw per-step randomness (noise levels,
    masks) with ``tf.random.stateless_*``: every replica gets its own stream, and a resumed run
    draws exactly what the uninterrupted run would have drawn at that step.
    """
    ctx = tf.distribute.get_replica_context()
    replicas = ctx.num_replicas_in_sync if ctx is not None else 1
    replica = tf.cast(ctx.replica_id_in_sync_group if ctx is not None else 0, tf.int64)
    step = tf.cast(step, tf.int64)
    return tf.stack([tf.cast(seed, tf.int64), step * replicas + replica])


class _SigtermError(Exception):
    """SIGTERM, turned into an exception so the loop can checkpoint before exiting."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def _sigterm_raises(enabled: bool):
    """While active (main thread only), SIGTERM raises :class:`_SigtermError`."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _SigtermError(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _to_image_batch(images: Any) -> tf.Tensor:
    """uint8 as is; floats are tfjpeg's [0, 255] convention -> [0, 1] for tf.summary.image."""
    images = tf.convert_to_tensor(images)
    if images.dtype == tf.uint8:
        return images
    return tf.clip_by_value(tf.cast(images, tf.float32) / 255.0, 0.0, 1.0)


class TrainingLoop:
    """A custom ``strategy.run`` training loop that checkpoints, resumes and logs.

    ``run()`` restores the latest checkpoint in ``run_dir/checkpoints`` (the step counter is a
    checkpointed variable, so a killed run continues where its last checkpoint left off), then
    runs the compiled step until ``total_steps``: each step takes the next global batch,
    calls ``train_step`` on every replica (``strategy.run``), mean-reduces the returned scalars
    across replicas and increments the step. It writes TensorBoard scalars to ``run_dir/logs``
    every ``log_every`` steps, optional images every ``image_every`` and evaluations every
    ``eval_every`` steps, checkpoints every ``checkpoint_every`` steps and at the end, and shows
    a progress bar with ETA on stderr. Under ``MultiWorkerMirroredStrategy`` every worker runs
    the same loop; only the chief writes checkpoints, logs and the progress bar (the others
    save to a temporary folder that is removed, as TensorFlow requires all to save). With one
    worker, Ctrl-C or SIGTERM checkpoints the steps done before the run stops (SIGTERM:
    ``SystemExit(143)``).

    Args:
        strategy: The ``tf.distribute.Strategy`` (see ``make_strategy``); build models and
            optimizers inside ``strategy.scope()`` before creating the loop.
        run_dir: Run folder: ``checkpoints/`` and ``logs/`` go inside.
        total_steps: Train until the step counter reaches this.
        train_step: Per-replica ``train_step(batch) -> dict[str, scalar tensor]``, or
            ``train_step(batch, step)`` to receive the current step (int64 tensor, the step
            being taken, counting from 0) e.g. for :func:`replica_seed`. It computes gradients
            and calls ``optimizer.apply_gradients``; scale the loss it differentiates with
            ``tf.nn.compute_average_loss(per_example, global_batch_size=...)``, and return
            this replica's mean losses (they are mean-reduced across replicas for logging).
        dataset: A ``tf.data.Dataset`` of GLOBAL batches (global = per-replica x replicas),
            or a callable ``dataset(start_step) -> tf.data.Dataset`` called with the step the
            run starts from, so a resumed run reads new data instead of the first batches
            again (e.g. ``lambda s: training_crops(..., start_step=s)``). The loop distributes
            it (``experimental_distribute_dataset``; across workers by data sharding), so do
            not shard it yourself.
        trackables: Everything to checkpoint besides the step, e.g.
            ``{"model": model, "optimizer": optimizer}`` (the key ``"step"`` is reserved).
        checkpoint_every: Steps between checkpoints (a final one is always written).
        log_every: Steps between TensorBoard scalars and ``history["log"]`` entries.
        image_summaries: Optional ``() -> dict[str, image batch]`` (uint8, or float in
            [0, 255]) written to TensorBoard every ``image_every`` steps by the chief only
            (it must not use collective ops).
        image_every: Steps between image summaries (0: never).
        eval_fn: Optional ``() -> dict[str, float]`` run by every worker every ``eval_every``
            steps and at the end; logged (chief) and kept in ``history["eval"]``.
        eval_every: Steps between evaluations (0: never).
        description: Progress-bar label.
        max_to_keep: Checkpoints kept in ``run_dir/checkpoints``.
        progress: Show the progress bar (chief only).

    Example:
        >>> with strategy.scope():
        ...     model, optimizer = build_model(), keras.optimizers.Adam(1e-3)
        >>> loop = TrainingLoop(strategy=strategy, run_dir=run_dir, total_steps=1000,
        ...                     train_step=step_fn, dataset=dataset,
        ...                     trackables={"model": model, "optimizer": optimizer})
        >>> history = loop.run()
    """

    def __init__(
        self,
        *,
        strategy: tf.distribute.Strategy,
        run_dir: str | os.PathLike,
        total_steps: int,
        train_step: StepFn,
        dataset: tf.data.Dataset | Callable[[int], tf.data.Dataset],
        trackables: Mapping[str, Any],
        checkpoint_every: int = 100,
        log_every: int = 10,
        image_summaries: Callable[[], Mapping[str, Any]] | None = None,
        image_every: int = 200,
        eval_fn: Callable[[], Mapping[str, float]] | None = None,
        eval_every: int = 0,
        description: str = "train",
        max_to_keep: int | None = 3,
        progress: bool = True,
    ) -> None:
        for name, value, minimum in (
            ("total_steps", total_steps, 0),
            ("checkpoint_every", checkpoint_every, 1),
            ("log_every", log_every, 1),
            ("image_every", image_every, 0),
            ("eval_every", eval_every, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(
                    f"{name} must be an integer >= {minimum}. Received: {name}={value!r}"
                )
        if not callable(train_step):
            raise ValueError(f"train_step must be callable. Received: train_step={train_step!r}")
        if not isinstance(dataset, tf.data.Dataset) and not callable(dataset):
            raise ValueError(
                "dataset must be a tf.data.Dataset or a callable start_step -> Dataset. "
                f"Received: dataset={dataset!r}"
            )
        if "step" in trackables:
            raise ValueError("trackables must not use the reserved key 'step'.")
        self.strategy = strategy
        self.run_dir = Path(run_dir)
        self.total_steps = total_steps
        self.train_step = train_step
        self.dataset = dataset
        self.trackables = dict(trackables)
        self.checkpoint_every = checkpoint_every
        self.log_every = log_every
        self.image_summaries = image_summaries
        self.image_every = image_every
        self.eval_fn = eval_fn
        self.eval_every = eval_every
        self.description = description
        self.progress = progress
        self.is_chief = is_chief(strategy)
        self.checkpoint_dir = self.run_dir / "checkpoints"
        self.log_dir = self.run_dir / "logs"
        self._passes_step = "step" in inspect.signature(train_step).parameters

        with strategy.scope():
            self.step = tf.Variable(
                0,
                dtype=tf.int64,
                trainable=False,
                name="step",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
        self.checkpoint = tf.train.Checkpoint(step=self.step, **self.trackables)
        if self.is_chief:
            self._save_dir = self.checkpoint_dir
        else:  # every worker must save; only the chief's copy is kept
            self._save_dir = self.run_dir / f".worker{worker_index(strategy)}_tmp_checkpoints"
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(self._save_dir), max_to_keep=max_to_keep if self.is_chief else 1
        )
        self._compiled: Callable | None = None
        self.history: dict[str, Any] = {}

    # ------------------------------------------------------------------ pieces
    def restore(self) -> int:
        """Restore the latest checkpoint of ``run_dir/checkpoints`` if any; the restored step."""
        latest = tf.train.latest_checkpoint(str(self.checkpoint_dir))
        if latest is not None:
            self.checkpoint.restore(latest).expect_partial()
        return int(self.step.numpy())

    def _check_same_step(self, step: int) -> None:
        """Fail clearly (on every worker) if the workers restored different steps."""
        local = tf.constant(float(step))
        total = self.strategy.reduce(
            tf.distribute.ReduceOp.SUM,
            self.strategy.run(lambda: tf.identity(local)),
            axis=None,
        )
        if float(total) != step * self.strategy.num_replicas_in_sync:
            raise TfjpegError(
                f"worker {worker_index(self.strategy)} restored step {step} but the workers "
                f"disagree (sum over replicas {float(total):g}): every worker must read the "
                f"same {self.checkpoint_dir} (a shared file system)."
            )

    def save(self) -> str | None:
        """Write a checkpoint at the current step (every worker must call it)."""
        path = self.manager.save(checkpoint_number=int(self.step.numpy()))
        if not self.is_chief:
            shutil.rmtree(self._save_dir, ignore_errors=True)
            return None
        return path

    def _distributed_dataset(self, start_step: int):
        ds = self.dataset
        if not isinstance(ds, tf.data.Dataset):
            ds = ds(start_step)
            if not isinstance(ds, tf.data.Dataset):
                raise ValueError(f"dataset({start_step}) must return a tf.data.Dataset, got {ds!r}")
        replicas = self.strategy.num_replicas_in_sync
        for spec in tf.nest.flatten(ds.element_spec):
            batch = spec.shape[0] if spec.shape.rank else None
            if batch is not None and batch % replicas:
                raise ValueError(
                    f"the global batch size ({batch}) must be divisible by the number of "
                    f"replicas ({replicas})."
                )
        if num_workers(self.strategy) > 1:
            policy = ds.options().experimental_distribute.auto_shard_policy
            if policy == tf.data.experimental.AutoShardPolicy.AUTO:
                options = tf.data.Options()
                options.experimental_distribute.auto_shard_policy = (
                    tf.data.experimental.AutoShardPolicy.DATA
                )
                ds = ds.with_options(options)
        return self.strategy.experimental_distribute_dataset(ds)

    def _build_step(self) -> Callable:
        strategy, user_step = self.strategy, self.train_step

        def replica_fn(batch, step):
            out = user_step(batch, step=step) if self._passes_step else user_step(batch)
            if not isinstance(out, Mapping) or not out:
                raise ValueError(
                    f"train_step must return a non-empty dict of scalar tensors. Received: {out!r}"
                )
            return dict(out)

        @tf.function
        def train_once(iterator):
            batch = next(iterator)
            step = tf.identity(self.step)
            per_replica = strategy.run(replica_fn, args=(batch, step))
            reduced = {
                k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                for k, v in per_replica.items()
            }
            # After the step's results: a failed next() (end of data) must not count a step.
            with tf.control_dependencies(tf.nest.flatten(reduced)):
                self.step.assign_add(1)
            return reduced

        return train_once

    def _write_scalars(self, writer, prefix: str, values: Mapping[str, float], step: int) -> None:
        if self.is_chief:
            with writer.as_default(step=step):
                for name, value in values.items():
                    write_scalar(f"{prefix}/{name}", value, step)

    def _write_images(self, writer, step: int) -> None:
        if not self.is_chief or self.image_summaries is None:
            return
        images = self.image_summaries()
        with writer.as_default(step=step):
            for name, batch in images.items():
                write_images(name, _to_image_batch(batch), step)

    def _evaluate(self, writer, step: int) -> dict[str, float]:
        results = {k: float(v) for k, v in self.eval_fn().items()}
        self.history["eval"].append((step, results))
        self._write_scalars(writer, "eval", results, step)
        return results

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, Any]:
        """Train (resuming if possible) to ``total_steps``; returns the history dict.

        Returns:
            ``{"step": final step, "start_step": step resumed from, "losses": last
            reduced losses (floats), "wall_seconds": this call's time, "eval": [(step,
            results)], "log": [(step, losses)] at every logged step}``.
        """
        started = time.monotonic()
        start = self.restore()
        if num_workers(self.strategy) > 1:
            self._check_same_step(start)
        self.history = {
            "step": start,
            "start_step": start,
            "losses": {},
            "wall_seconds": 0.0,
            "eval": [],
            "log": [],
        }
        if self.is_chief:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            writer = tf.summary.create_file_writer(str(self.log_dir))
        else:
            writer = tf.summary.create_noop_writer()
        if start >= self.total_steps:
            self.history["wall_seconds"] = time.monotonic() - started
            return self.history

        if self._compiled is None:
            self._compiled = self._build_step()
        iterator = iter(self._distributed_dataset(start))
        bar = ProgressBar(
            self.total_steps,
            initial=start,
            description=self.description,
            enabled=self.progress and self.is_chief,
        )
        single = num_workers(self.strategy) == 1
        try:
            # One worker: Ctrl-C or SIGTERM (kill, preemption) checkpoints the steps done,
            # then stops. Several workers: a save is collective, so a stopped worker just ends.
            with _sigterm_raises(single):
                step, losses = self._train(iterator, writer, bar, start)
        except (KeyboardInterrupt, _SigtermError) as interrupt:
            if single and int(self.step.numpy()) > start:
                self.save()
            if isinstance(interrupt, _SigtermError):
                raise SystemExit(128 + interrupt.signum) from None
            raise
        finally:
            bar.close()
            writer.flush()
        self.history.update(step=step, losses=losses, wall_seconds=time.monotonic() - started)
        return self.history

    def _train(self, iterator, writer, bar: ProgressBar, start: int) -> tuple[int, dict]:
        """The step loop of :meth:`run`; returns the final step and last losses."""
        last_saved, step, losses, out = start, start, {}, None
        window_start, window_steps = time.monotonic(), 0
        while step < self.total_steps:
            try:
                out = self._compiled(iterator)
            except (tf.errors.OutOfRangeError, StopIteration):
                warnings.warn(
                    f"the dataset ended at step {step} before total_steps="
                    f"{self.total_steps}; stopping there.",
                    stacklevel=3,
                )
                break
            step += 1
            window_steps += 1
            logged = step % self.log_every == 0 or step == self.total_steps
            if logged:
                losses = {k: float(v) for k, v in out.items()}
                now = time.monotonic()
                rate = window_steps / max(now - window_start, 1e-9)
                window_start, window_steps = now, 0
                self.history["log"].append((step, losses))
                self._write_scalars(writer, "train", {**losses, "steps_per_second": rate}, step)
            bar.update(step, losses if logged else None)
            if self.image_every and step % self.image_every == 0:
                self._write_images(writer, step)
            if self.eval_fn is not None and self.eval_every and step % self.eval_every == 0:
                self._evaluate(writer, step)
            if step % self.checkpoint_every == 0:
                self.save()
                last_saved = step
        if step != last_saved:
            self.save()
        if self.eval_fn is not None and self.eval_every and step % self.eval_every and step > start:
            self._evaluate(writer, step)
        if not losses and out is not None:
            losses = {k: float(v) for k, v in out.items()}
        return step, losses
