"""Fit and calibrate the rate predictor (``tfjpeg.rate.RatePredictor``) against real encoders.

Random crops of the training images (``TFJPEG_TRAIN_DIR``) at random qualities in 5..95 are
encoded for real with libjpeg-turbo (standard and optimized Huffman tables, Pillow) and mozjpeg
(jpeglib; trellis quantization, optimized tables, sequential), and the fitted parameters are
written as JSON next to a SavedModel:

1. JPEG-aware model (per encoder): the fixed header bytes (file − entropy-coded segment − DHT
   symbols), the byte-stuffing rate, mozjpeg's dead zone per frequency (a soft-threshold
   classifier of which coefficients trellis quantization keeps, fitted with binary
   cross-entropy against mozjpeg's real coefficients), and a small size correction
   ``exp(a + b · level)`` fitted by least squares on log size ratios.
2. Factorized model: three 64-channel deep-factorized densities trained with additive uniform
   noise on the DCT coefficients (pixel units / 16, DC as differences) by minimizing −log2 p,
   then a per-encoder power law from its bits to the file's entropy-coded bytes.

The two gradient-based fits (the dead zone and the factorized densities) run on the shared
training loop (``trainers.common.TrainingLoop``): ``--strategy``, checkpoints in
``RUN_DIR/deadzone`` and ``RUN_DIR/factorized`` with automatic resume (rerunning the same command
after a crash continues them; the crops are drawn and encoded again, deterministically from the
seed), TensorBoard logs and a progress bar. Without ``--run-dir`` they run in a temporary folder
(nothing to resume).

Usage::

    python -m trainers.rate.fit [--config trainers/configs/rate_fit.json] [--crops 320] \
        [--run-dir runs/rate_fit] [--out saved_models/rate_predictor/1]

Options given on the command line override the config (keys: the option names with
underscores, see :data:`DEFAULTS`). Runs in about ten minutes on one CPU core; prints a
validation table (MAPE on held-out crops).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
ENCODE_SETTINGS = {  # encoder name → tfjpeg.io.encode_pixels keyword arguments
    "libjpeg": {"encoder": "libjpeg", "optimize": False},
    "libjpeg-optimize": {"encoder": "libjpeg", "optimize": True},
    "mozjpeg": {"encoder": "mozjpeg", "optimize": True},
}


#: The fit's settings (a config names only what it changes; command-line options override it).
DEFAULTS: dict[str, Any] = {
    "train_dir": None,
    "crops": 400,
    "crop_size": 256,
    "qmin": 5,
    "qmax": 95,
    "seed": 1,
    "deadzone_steps": 400,
    "factorized_steps": 600,
    "factorized_batch": 512,
    "out": str(REPO / "saved_models" / "rate_predictor" / "1"),
    "no_savedmodel": False,
    "strategy": "default",
    "checkpoint_every": 100,
    "log_every": 10,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options over ``--config`` over :data:`DEFAULTS`, checked."""
    from trainers.common import STRATEGIES, load_config

    p = argparse.ArgumentParser(
        prog="python -m trainers.rate.fit", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--config", type=Path, help="JSON (or YAML) config; copied to the run dir")
    p.add_argument("--run-dir", type=Path, help="checkpoints of the fits (resumed), logs, config")
    p.add_argument("--strategy", choices=STRATEGIES, help="tf.distribute strategy (default)")
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (100)")
    p.add_argument("--log-every", type=int, help="steps between TensorBoard scalars (10)")
    p.add_argument("--train-dir", help="training images (default $TFJPEG_TRAIN_DIR)")
    p.add_argument("--crops", type=int, help="random crops (20%% held out; 400)")
    p.add_argument("--crop-size", type=int, help="256")
    p.add_argument("--qmin", type=int, help="5")
    p.add_argument("--qmax", type=int, help="95")
    p.add_argument("--seed", type=int, help="1")
    p.add_argument("--deadzone-steps", type=int, help="400")
    p.add_argument("--factorized-steps", type=int, help="600")
    p.add_argument("--factorized-batch", type=int, help="blocks per component/step (512)")
    p.add_argument("--out", help="output folder (saved_models/rate_predictor/1)")
    p.add_argument(
        "--no-savedmodel", action="store_true", default=None, help="write only the JSON parameters"
    )
    given = p.parse_args(argv)
    config = load_config(given.config) if given.config is not None else {}
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        p.error(f"unknown config keys {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    merged = {**DEFAULTS, **config}
    merged.update({k: v for k, v in vars(given).items() if k in DEFAULTS and v is not None})
    args = argparse.Namespace(**merged, config=given.config, run_dir=given.run_dir)
    if args.checkpoint_every < 1 or args.log_every < 1:
        p.error("--checkpoint-every and --log-every must be positive.")
    if args.deadzone_steps < 0 or args.factorized_steps < 0 or args.factorized_batch < 1:
        p.error("the step counts must be >= 0 and --factorized-batch positive.")
    if args.crops < 5:
        p.error(f"--crops must be at least 5. Received: {args.crops}")
    if args.crop_size < 16 or args.crop_size % 16:
        p.error(f"--crop-size must be a positive multiple of 16. Received: {args.crop_size}")
    if not 1 <= args.qmin <= args.qmax <= 100:
        p.error(f"need 1 <= --qmin <= --qmax <= 100. Received: {args.qmin}, {args.qmax}")
    return args


def real_sizes(image: np.ndarray, quality: int) -> dict[str, dict[str, Any]]:
    """Encode ``image`` with each target encoder; file size and byte accounting per encoder."""
    from tfjpeg.io import encode_pixels
    from tfjpeg.rate.huffman import scan_statistics

    out = {}
    for name, kwargs in ENCODE_SETTINGS.items():
        data = encode_pixels(image, int(quality), subsampling="420", **kwargs)
        stats = scan_statistics(data)
        stats.pop("huffman_tables")
        stats["data"] = data
        out[name] = stats
    return out


def sample_crops(folder: Path, count: int, size: int, qmin: int, qmax: int, seed: int):
    """``count`` random crops (uint8, size × size) with a random quality each."""
    from tfjpeg.data.folders import list_images, load_image

    rng = np.random.default_rng(seed)
    paths = list_images(folder)
    crops, qualities = [], []
    while len(crops) < count:
        img = load_image(paths[rng.integers(len(paths))])
        if img.shape[0] < size or img.shape[1] < size:
            continue
        y = rng.integers(img.shape[0] - size + 1)
        x = rng.integers(img.shape[1] - size + 1)
        crop = img[y : y + size, x : x + size]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crops.append(np.ascontiguousarray(crop))
        # half log-uniform (low qualities, where relative errors are largest), half uniform
        if len(crops) % 2:
            q = np.exp(rng.uniform(np.log(qmin), np.log(qmax)))
        else:
            q = rng.uniform(qmin, qmax)
        qualities.append(int(np.clip(np.round(q), qmin, qmax)))
    return np.stack(crops), np.asarray(qualities)


def _batches(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def fit_headers() -> dict[str, list[float]]:
    """Fixed bytes outside the scan per encoder, for colour and gray, measured on real files."""
    rng = np.random.default_rng(0)
    color = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    out = {}
    from tfjpeg.io import encode_pixels
    from tfjpeg.rate.huffman import scan_statistics

    for name, kwargs in ENCODE_SETTINGS.items():
        values = []
        for image in (color, color[..., 0]):
            s = scan_statistics(encode_pixels(image, 50, **kwargs))
            symbols = s["huffman_symbols"] if kwargs["optimize"] else 0
            values.append(float(s["size"] - s["ecs_bytes"] - symbols))
        out[name] = values
    return out


def mozjpeg_unrounded(images: np.ndarray, qualities: np.ndarray):
    """Unrounded coefficients (float pipeline) and block λ scaling with mozjpeg's tables."""
    import tensorflow as tf

    from tfjpeg.jpeg import component_table, encode
    from tfjpeg.jpeg.tables import mozjpeg_quality_tables
    from tfjpeg.rate.jpeg_bits import block_lambda

    out = []
    for sl in _batches(len(images), 16):
        tables = mozjpeg_quality_tables(qualities[sl])
        enc = encode(tf.constant(images[sl], tf.float32), tables, "420", "poly3")
        per = []
        for c, u in enumerate(enc["unrounded"]):
            g = block_lambda(u, component_table(tables, c))
            per.append((u.numpy(), np.broadcast_to(g.numpy(), u.shape)))
        out.extend([tuple((u[i], g[i]) for u, g in per) for i in range(sl.stop - sl.start)])
    return out


class FitRun:
    """Where and how the gradient-based fits run: the strategy, a run folder (a fit's
    checkpoints go to ``run_dir/<name>``; None: a temporary folder, nothing to resume) and the
    loop's checkpoint and log intervals."""

    def __init__(
        self,
        strategy=None,
        run_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 100,
        log_every: int = 10,
        progress: bool = True,
    ) -> None:
        if strategy is None:
            import tensorflow as tf

            strategy = tf.distribute.get_strategy()
        self.strategy = strategy
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.checkpoint_every = int(checkpoint_every)
        self.log_every = int(log_every)
        self.progress = progress

    @contextlib.contextmanager
    def folder(self, name: str):
        """The run folder of the fit ``name`` (a temporary one without ``run_dir``)."""
        if self.run_dir is not None:
            yield self.run_dir / name
            return
        with tempfile.TemporaryDirectory(prefix=f"rate_fit_{name}_") as tmp:
            yield Path(tmp)

    def loop(self, folder: Path, **kwargs):
        from trainers.common import TrainingLoop

        return TrainingLoop(
            strategy=self.strategy,
            run_dir=folder,
            checkpoint_every=self.checkpoint_every,
            progress=self.progress,
            **kwargs,
        )


def _replicas() -> float:
    import tensorflow as tf

    return float(tf.distribute.get_replica_context().num_replicas_in_sync)


def _deadzone_rows(unrounded, coefficients, qualities: np.ndarray, seed: int):
    """Per class (luma, chroma) the rows [|u|, g, level, k, kept] of the AC coefficients whose
    rounded magnitude is 1 or 2 (at most 400 000 each, subsampled with ``seed``)."""
    from tfjpeg.jpeg.tables import mozjpeg_quality_tables
    from tfjpeg.rate.jpeg_bits import table_level

    levels = table_level(mozjpeg_quality_tables(qualities)).numpy()
    rows = {0: [], 1: []}
    for (per, actual), level in zip(zip(unrounded, coefficients, strict=True), levels, strict=True):
        for c, ((u, g), a) in enumerate(zip(per, actual, strict=True)):
            u = u.reshape(-1, 64)
            g = g.reshape(-1, 64)
            a = a.reshape(-1, 64)[: u.shape[0]]
            mag = np.abs(u)
            sel = (mag > 0.5) & (mag < 2.5)
            sel[:, 0] = False
            k = np.nonzero(sel)
            rows[min(c, 1)].append(
                np.stack(
                    [
                        mag[k],
                        g[k],
                        np.full(len(k[0]), level, np.float32),
                        k[1].astype(np.float32),
                        (np.abs(a[k]) >= np.round(mag[k])).astype(np.float32),
                    ],
                    axis=1,
                )
            )
    rng = np.random.default_rng(seed)
    data = []
    for cls in (0, 1):
        d = np.concatenate(rows[cls]) if rows[cls] else np.zeros((0, 5), np.float32)
        if len(d) > 400_000:
            d = d[rng.choice(len(d), 400_000, replace=False)]
        data.append(d)
    return data


def fit_deadzone(
    unrounded, coefficients, qualities: np.ndarray, steps: int, seed: int, run: FitRun | None = None
):
    """Dead zone (2 [θ0, θ1], 2 [luma, chroma], 8, 8) from mozjpeg's real coefficients.

    Trellis quantization keeps coefficient k of a block when ``|u| > ½ + (θ0 + θ1·level)·g``
    (g = :func:`tfjpeg.rate.jpeg_bits.block_lambda`); fitted as a soft-threshold classifier
    (sigmoid of the margin, temperature 0.05) with binary cross-entropy on the coefficients whose
    rounded magnitude is 1 or 2 (where trellis decides), AC only. Full-batch Adam steps on the
    shared loop (``run``: strategy, checkpoints in ``run_dir/deadzone``, resume). Returns the
    dead zone and the loss of the last step.
    """
    import keras
    import tensorflow as tf

    run = run or FitRun()
    rows = _deadzone_rows(unrounded, coefficients, qualities, seed)
    init = np.zeros((2, 2, 64), np.float32)  # [θ0|θ1, luma|chroma, k]
    init[0] = 0.15
    with run.strategy.scope():
        theta = tf.Variable(init)
        opt = keras.optimizers.Adam(0.02)
        opt.build([theta])
    data = [tf.constant(d, tf.float32) for d in rows]

    def train_step(batch):
        del batch  # full batch: every step sees all the rows
        with tf.GradientTape() as tape:
            loss = 0.0
            for cls in (0, 1):
                d = data[cls]
                k = tf.cast(d[:, 3], tf.int32)
                t0 = tf.gather(theta[0, cls], k)
                t1 = tf.gather(theta[1, cls], k)
                shift = (t0 + t1 * d[:, 2]) * d[:, 1]
                # kept at round(|u|) iff |u| − shift ≥ round(|u|) − ½
                margin = d[:, 0] - shift - (tf.round(d[:, 0]) - 0.5)
                loss += tf.reduce_mean(
                    tf.nn.sigmoid_cross_entropy_with_logits(labels=d[:, 4], logits=margin / 0.05)
                )
            scaled = loss / _replicas()  # the replicas' gradients are summed
        grads = tape.gradient(scaled, [theta])
        opt.apply_gradients(zip(grads, [theta], strict=False))
        return {"bce": loss}

    replicas = run.strategy.num_replicas_in_sync
    with run.folder("deadzone") as folder:
        loop = run.loop(
            folder,
            total_steps=int(steps),
            train_step=train_step,
            dataset=tf.data.Dataset.from_tensors(tf.zeros([replicas])).repeat(),
            trackables={"theta": theta, "optimizer": opt},
            log_every=run.log_every,
            description="dead zone",
        )
        history = loop.run()
        loss = _final_losses(folder, history, loop.is_chief).get("bce", float("nan"))
    out = theta.numpy().reshape(2, 2, 8, 8).copy()
    out[:, :, 0, 0] = 0.0
    return out, loss


def _final_losses(folder: Path, history: dict[str, Any], chief: bool) -> dict[str, float]:
    """The last step's losses; kept in ``folder/final.json`` for a rerun of a finished fit."""
    path = folder / "final.json"
    if history["step"] > history["start_step"]:
        if chief:
            path.write_text(json.dumps(history["losses"]))
        return history["losses"]
    return json.loads(path.read_text()) if path.is_file() else {}


def size_features(predictor, images: np.ndarray, qualities: np.ndarray) -> np.ndarray:
    """(N, 6): exact Huffman bits E, table level ℓ and the four magnitude counts F of the
    JPEG-aware model's coefficients ("hard" rounding; with the predictor's dead zone)."""
    import tensorflow as tf

    from tfjpeg.rate.jpeg_bits import (
        entropy_coded_bits,
        magnitude_features,
        symbol_statistics,
        table_level,
    )

    @tf.function(reduce_retracing=True)
    def run(x, q):
        tables = predictor.tables_for(x, q)
        coefs = predictor.coefficients(x, tables)
        stats = symbol_statistics(coefs, predictor.subsampling, exact=True)
        bits = entropy_coded_bits(stats, optimize=predictor.size_model.optimize)["bits"]
        return tf.stack([bits, table_level(tables), *magnitude_features(stats)], axis=1)

    out = []
    for sl in _batches(len(images), 16):
        out.append(run(tf.constant(images[sl], tf.float32), tf.constant(qualities[sl], tf.float32)))
    return np.concatenate([o.numpy() for o in out]).astype(np.float64)


def _correction_design(features: np.ndarray, use_magnitudes: bool) -> np.ndarray:
    from tfjpeg.rate.jpeg_bits import level_basis

    h = level_basis(features[:, 1]).numpy().astype(np.float64)  # (N, K)
    cols = [features[:, 0]] + ([features[:, j] for j in range(2, 6)] if use_magnitudes else [])
    return np.stack([h[:, k] * c for k in range(h.shape[1]) for c in cols], axis=1)


def fit_correction(
    features: np.ndarray, target: np.ndarray, use_magnitudes: bool, ridge: float = 1e-6
) -> np.ndarray:
    """(K, 5) weights of the calibrated bits ``Σ_k h_k(ℓ)(w_k0 E + Σ_j w_kj F_j)``: least squares
    on relative errors, with a ridge on the magnitude weights (bits per coefficient) so that a
    coefficient's marginal cost stays positive; magnitude terms only when ``use_magnitudes``."""
    from tfjpeg.rate.jpeg_bits import LEVEL_KNOTS

    per = 5 if use_magnitudes else 1
    x = _correction_design(features, use_magnitudes) / target[:, None]
    # ridge towards the identity (w_k0 = 1, magnitude weights 0); tiny on w_k0 so knots without
    # data keep the identity
    prior = np.array([0.0 if j else 1.0 for _ in LEVEL_KNOTS for j in range(per)])
    strength = np.array([ridge if j else 1e-9 for _ in LEVEL_KNOTS for j in range(per)])
    penalty = np.diag(strength * len(target))
    w = np.linalg.solve(x.T @ x + penalty, x.T @ np.ones(len(target)) + penalty @ prior)
    out = np.zeros((len(LEVEL_KNOTS), 5))
    out[:, :per] = w.reshape(len(LEVEL_KNOTS), per)
    return out


def calibrated_bits(features: np.ndarray, w: np.ndarray) -> np.ndarray:
    return _correction_design(features, True) @ w.reshape(-1)


def factorized_values(images: np.ndarray, qualities: np.ndarray, encoder: str):
    """Per component: unrounded values (pixel units / 16, DC as differences) and bin widths."""
    import tensorflow as tf

    from tfjpeg.jpeg import component_table, encode, quality_tables
    from tfjpeg.jpeg.tables import mozjpeg_quality_tables
    from tfjpeg.rate.jpeg_bits import _scan_blocks

    make = mozjpeg_quality_tables if encoder == "mozjpeg" else quality_tables
    values = [[], [], []]
    widths = [[], [], []]
    for sl in _batches(len(images), 16):
        tables = make(qualities[sl])
        enc = encode(tf.constant(images[sl], tf.float32), tables, "420", "poly3")
        for c, u in enumerate(enc["unrounded"]):
            scan = _scan_blocks(u, 2 if c == 0 else 1, 2 if c == 0 else 1)
            dc = scan[..., 0]
            diff = dc - tf.pad(dc[:, :-1], [[0, 0], [1, 0]])
            v = tf.concat([diff[..., None], scan[..., 1:]], axis=-1)
            w = tf.reshape(component_table(tables, c), [-1, 1, 64]) / 16.0
            w = tf.broadcast_to(w, tf.shape(v))
            values[c].append((v * w).numpy().reshape(-1, 64))
            widths[c].append(w.numpy().reshape(-1, 64))
    return [np.concatenate(v) for v in values], [np.concatenate(w) for w in widths]


def _factorized_picks(sizes: list[int], steps: int, batch: int, seed: int, start: int):
    """The random rows of each step ``start..steps-1``: the draws of an uninterrupted run (the
    generator replays the skipped steps' draws)."""
    rng = np.random.default_rng(seed)
    for i in range(steps):
        picks = [rng.integers(n, size=batch) for n in sizes]
        if i >= start:
            yield picks


def fit_factorized(images, qualities, steps: int, batch: int, seed: int, run: FitRun | None = None):
    """Train three 64-channel densities with additive uniform noise; returns weights + losses.

    Adam (0.01, then 0.002 from 70% of the steps) on ``batch`` random blocks per component and
    step, on the shared loop (``run``: strategy, checkpoints in ``run_dir/factorized``, resume;
    a resumed run draws the same blocks as an uninterrupted one). The history holds
    ``[step, loss_y, loss_cb, loss_cr]`` every 50 steps and at the last.
    """
    import keras
    import tensorflow as tf

    from tfjpeg.rate import DeepFactorizedDensity

    run = run or FitRun()
    values, widths = factorized_values(images, qualities, "libjpeg")
    names = ("y", "cb", "cr")
    with run.strategy.scope():
        densities = [DeepFactorizedDensity(channels=64, name=f"density_{c}") for c in names]
        variables = [v for d in densities for v in d.trainable_weights]
        # the rate drops to 0.002 before step int(0.7 · steps) (0-based; "iterations" = steps done)
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
            [int(steps * 0.7) - 1], [0.01, 0.002]
        )
        opt = keras.optimizers.Adam(schedule)
        opt.build(variables)

    def dataset(start_step: int):
        def rows():
            for picks in _factorized_picks(
                [len(v) for v in values], steps, batch, seed, start_step
            ):
                yield (
                    tuple(v[p] for v, p in zip(values, picks, strict=True)),
                    tuple(w[p] for w, p in zip(widths, picks, strict=True)),
                )

        spec = tuple(tf.TensorSpec([batch, 64], tf.float32) for _ in names)
        return tf.data.Dataset.from_generator(rows, output_signature=(spec, spec))

    def train_step(batch_rows):
        vs, ws = batch_rows
        with tf.GradientTape() as tape:
            losses = [
                tf.reduce_mean(tf.reduce_sum(d(v, w, training=True), axis=-1))
                for d, v, w in zip(densities, vs, ws, strict=True)
            ]
            loss = tf.add_n(losses) / _replicas()  # the replicas' gradients are summed
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables, strict=False))
        return dict(zip(names, losses, strict=True))

    with run.folder("factorized") as folder:
        log_path = folder / "history.json"

        def kept_step(i: int) -> bool:
            return i % 50 == 0 or i == steps - 1

        kept = {}
        if log_path.is_file():  # the rows of the earlier runs (other step counts: their own last)
            rows = json.loads(log_path.read_text()).items()
            kept = {int(k): v for k, v in rows if kept_step(int(k))}

        def keep_history():  # at every checkpoint (eval_every = checkpoint_every) and the end
            for step, losses in loop.history["log"]:
                i = step - 1
                if kept_step(i):
                    kept[i] = [round(float(losses[c]), 3) for c in names]
            if loop.is_chief:
                log_path.parent.mkdir(parents=True, exist_ok=True)
                log_path.write_text(json.dumps({str(k): v for k, v in sorted(kept.items())}))
            return {}

        loop = run.loop(
            folder,
            total_steps=int(steps),
            train_step=train_step,
            dataset=dataset,
            trackables={**dict(zip(names, densities, strict=True)), "optimizer": opt},
            log_every=1,  # every step's losses reach the history (kept every 50 steps)
            eval_fn=keep_history,
            eval_every=run.checkpoint_every,
            description="factorized densities",
        )
        loop.run()
        keep_history()
    history = [[i, *v] for i, v in sorted(kept.items())]
    weights = [{v.name: v.numpy().tolist() for v in d.weights} for d in densities]
    return weights, history


def _lstsq(features: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(features, target, rcond=None)[0]


def initial_params(real: list[dict[str, Any]], n_fit: int) -> dict[str, Any]:
    """The parameter structure with the measured headers and a first stuffing rate per encoder
    (identity correction, no dead zone, no densities yet)."""
    from tfjpeg.rate import ENCODERS

    headers = fit_headers()
    params: dict[str, Any] = {"jpeg": {}, "factorized": {"densities": None, "calibration": {}}}
    for name in ENCODERS:
        ecs = np.array([r[name]["ecs_bytes"] for r in real[:n_fit]], np.float64)
        stuffed = np.array([r[name]["stuffed"] for r in real[:n_fit]], np.float64)
        params["jpeg"][name] = {
            "header": headers[name],
            "stuffing": [float(stuffed.sum() / (ecs - stuffed).sum()), 0.0],
            "correction": np.eye(5, 5)[[0] * 5].tolist(),
            "deadzone": np.zeros((2, 2, 8, 8)).tolist(),
        }
    return params


def fit_mozjpeg_deadzone(params, images, qualities, real, n_fit: int, args, run: FitRun):
    """mozjpeg's dead zone from its real coefficients (into ``params``); returns it and the BCE."""
    from tfjpeg.io import read_jpeg

    t0 = time.time()
    moz_coefs = [read_jpeg(r["mozjpeg"]["data"]).components for r in real[:n_fit]]
    unrounded = mozjpeg_unrounded(images[:n_fit], qualities[:n_fit])
    deadzone, dz_loss = fit_deadzone(
        unrounded, moz_coefs, qualities[:n_fit], args.deadzone_steps, args.seed, run
    )
    params["jpeg"]["mozjpeg"]["deadzone"] = deadzone.tolist()
    del unrounded, moz_coefs
    print(f"dead zone fitted in {time.time() - t0:.0f} s (BCE {dz_loss:.4f})", flush=True)
    return deadzone, dz_loss


def fit_size_corrections(params, images, qualities, real, n_fit: int, deadzone):
    """Size correction per encoder (mozjpeg: with and without the dead zone, keep the better);
    returns the table levels per encoder and the choices made (for the report)."""
    from tfjpeg.rate import ENCODERS, RatePredictor

    levels, choices = {}, {}
    for name in ENCODERS:
        jp = params["jpeg"][name]
        target = np.array(
            [(r[name]["ecs_bytes"] - r[name]["stuffed"] - 0.5) * 8.0 for r in real], np.float64
        )
        options = {"exact": np.zeros((2, 2, 8, 8))}
        if name == "mozjpeg":
            options = {"no dead zone": np.zeros((2, 2, 8, 8)), "dead zone": deadzone}
        best = None
        for label, dz in options.items():
            jp["deadzone"] = dz.tolist()
            pred = RatePredictor(encoder=name, weights=None, rounding="hard")
            pred.set_params(params)
            feats = size_features(pred, images, qualities)
            # stuffed bytes ≈ (ρ0 + ρ1 ℓ) × unstuffed entropy-coded bytes
            ecs = np.array([r[name]["ecs_bytes"] - r[name]["stuffed"] for r in real], np.float64)
            stuffed = np.array([r[name]["stuffed"] for r in real], np.float64)
            x = np.stack([ecs, ecs * feats[:, 1]], axis=1)[:n_fit]
            jp["stuffing"] = [float(v) for v in _lstsq(x, stuffed[:n_fit])]
            w = fit_correction(feats[:n_fit], target[:n_fit], use_magnitudes=name == "mozjpeg")
            err = np.abs(calibrated_bits(feats, w) - target) / target * 100
            score = float(err[n_fit:].mean()) if n_fit < len(images) else float(err.mean())
            choices[f"{name}/{label}"] = {
                "fit_ecs_mape": float(err[:n_fit].mean()),
                "heldout_ecs_mape": score,
                "weights": w.round(6).tolist(),
            }
            print(
                f"{name} [{label}]: ECS MAPE fit {err[:n_fit].mean():.2f}% held-out {score:.2f}%",
                flush=True,
            )
            if best is None or score < best[0]:
                best = (score, label, dz, w, feats[:, 1])
        _, label, dz, w, level = best
        jp["deadzone"] = dz.tolist()
        jp["correction"] = w.tolist()
        levels[name] = level
        choices[f"{name}/chosen"] = label
    return levels, choices


def calibrate_factorized(params, images, qualities, real, n_fit: int, levels) -> None:
    """Per encoder, the power law from the densities' bits to the file's entropy-coded bytes."""
    import tensorflow as tf

    from tfjpeg.rate import ENCODERS, RatePredictor

    for name in ENCODERS:
        pred = RatePredictor(model="factorized", encoder=name, weights=None, rounding="hard")
        params["factorized"]["calibration"][name] = [0.0, 1.0, 0.0, 0.0, 0.0]
        pred.set_params(params)

        @tf.function(reduce_retracing=True)
        def ideal(x, q, pred=pred):
            tables = pred.tables_for(x, q)
            bits, blocks = pred.factorized_bits(
                pred.coefficients(x, tables), tables, with_blocks=True
            )
            return tf.stack([bits, blocks], axis=1)

        out = np.concatenate(
            [
                ideal(
                    tf.constant(images[sl], tf.float32), tf.constant(qualities[sl], tf.float32)
                ).numpy()
                for sl in _batches(len(images), 16)
            ]
        ).astype(np.float64)
        bits, blocks = out[:, 0], out[:, 1]
        header = params["jpeg"][name]["header"][0]
        target = np.log(np.array([r[name]["size"] - header for r in real], np.float64) / blocks)
        x = np.log(np.maximum(bits, 1.0) / blocks)
        level = levels[name]
        feats = np.stack([np.ones(len(bits)), x, level, level**2, x * level], axis=1)
        coef = _lstsq(feats[:n_fit], target[:n_fit])
        params["factorized"]["calibration"][name] = [float(v) for v in coef]


def validate(params, images, qualities, real, n_fit: int) -> dict[str, Any]:
    """MAPE of the finished predictors on the fitted and the held-out crops."""
    import tensorflow as tf

    from tfjpeg.rate import ENCODERS, RatePredictor

    report: dict[str, Any] = {}
    held = slice(n_fit, len(images))
    for model in ("jpeg", "factorized"):
        for name in ENCODERS:
            pred = RatePredictor(model=model, encoder=name, weights=None, rounding="hard")
            pred.set_params(params)
            fn = tf.function(lambda x, q, pred=pred: pred(x, quality=q), reduce_retracing=True)
            got = np.concatenate(
                [
                    fn(
                        tf.constant(images[sl], tf.float32), tf.constant(qualities[sl], tf.float32)
                    ).numpy()
                    for sl in _batches(len(images), 16)
                ]
            )
            actual = np.array([8.0 * r[name]["size"] for r in real])
            err = np.abs(got - actual) / actual * 100
            report[f"{model}/{name}"] = {
                "fit_mape": float(err[:n_fit].mean()),
                "heldout_mape": float(err[held].mean()) if n_fit < len(images) else None,
                "heldout_max_ape": float(err[held].max()) if n_fit < len(images) else None,
            }
            print(f"{model:10s} {name:17s} {report[f'{model}/{name}']}", flush=True)
    return report


def write_outputs(out: Path, params: dict[str, Any], savedmodel: bool) -> None:
    """``out/rate_predictor.json`` and (unless ``savedmodel`` is false) the SavedModel."""
    from tfjpeg.io import save_bytes_atomic

    out.mkdir(parents=True, exist_ok=True)
    save_bytes_atomic(
        out / "rate_predictor.json", json.dumps(params, separators=(",", ":")).encode()
    )
    if savedmodel:
        export_savedmodel(out, params)


def main(argv: list[str] | None = None) -> int:
    """``python -m trainers.rate.fit [options]``; returns 0 after writing the parameters."""
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tfjpeg.data.folders import dataset_dir
    from trainers.common import make_strategy, save_config

    strategy = make_strategy(args.strategy)  # first TensorFlow work
    if args.run_dir is not None:
        save_config({k: getattr(args, k) for k in DEFAULTS}, args.run_dir)
    run = FitRun(strategy, args.run_dir, args.checkpoint_every, args.log_every)

    t_start = time.time()
    folder = dataset_dir("train", args.train_dir)
    images, qualities = sample_crops(
        folder, args.crops, args.crop_size, args.qmin, args.qmax, args.seed
    )
    n_fit = max(1, round(0.8 * len(images)))
    real = [real_sizes(img, q) for img, q in zip(images, qualities, strict=True)]
    print(f"encoded {len(images)} crops in {time.time() - t_start:.0f} s", flush=True)

    params = initial_params(real, n_fit)
    deadzone, dz_loss = fit_mozjpeg_deadzone(params, images, qualities, real, n_fit, args, run)
    levels, choices = fit_size_corrections(params, images, qualities, real, n_fit, deadzone)

    # factorized densities and their calibration
    t0 = time.time()
    weights, history = fit_factorized(
        images[:n_fit],
        qualities[:n_fit],
        args.factorized_steps,
        args.factorized_batch,
        args.seed,
        run,
    )
    params["factorized"]["densities"] = weights
    print(f"factorized densities trained in {time.time() - t0:.0f} s: {history[-1]}", flush=True)
    calibrate_factorized(params, images, qualities, real, n_fit, levels)
    report = validate(params, images, qualities, real, n_fit)

    wall = time.time() - t_start
    params["fit"] = {
        "crops": len(images),
        "fit_crops": n_fit,
        "crop_size": args.crop_size,
        "qualities": [args.qmin, args.qmax],
        "seed": args.seed,
        "train_dir": str(folder),
        "deadzone_steps": args.deadzone_steps,
        "deadzone_bce": dz_loss,
        "correction_choices": choices,
        "factorized_steps": args.factorized_steps,
        "factorized_batch": args.factorized_batch,
        "factorized_history": history,
        "validation": report,
        "wall_seconds": round(wall, 1),
    }
    out = Path(args.out)
    write_outputs(out, params, not args.no_savedmodel)
    print(f"wrote {out} in {wall:.0f} s", flush=True)
    return 0


def export_savedmodel(out: Path, params: dict[str, Any]) -> None:
    """SavedModel (TF Serving layout) with ``serving_default(images, quality)`` → bits per
    encoder and model (:func:`tfjpeg.serving.rate.export_rate_savedmodel`)."""
    from tfjpeg.serving.rate import export_rate_savedmodel

    export_rate_savedmodel(params, out)


if __name__ == "__main__":
    sys.exit(main())
