"""Learn quantization tables per anchor quality through DiffJPEG and the shipped rate model.

Item 4 of the pre-editing issue. For each anchor quality q the [luma, chroma] log-tables θ start
at libjpeg's tables for q and minimize, on random crops of the training split,

    D(T) = (1 − MS-SSIM)/(1 − MS-SSIM_std) + w_mse · MSE/MSE_std      (distortion, relative)
    L = D(T) + μ · R(T)/R_std                                           (Lagrangian)

with T = round(clip(exp θ, 1, 255)) (straight-through: the forward tables are the integers the
real writer gets), distortion on the exact forward codec (``rounding="ste"``, exact libjpeg
coefficients, the table gradient of the straight-through quantizer, whose value is the
rounding error) and R the shipped rate model for libjpeg-turbo ``optimize=True``. "std" is the
same crop coded with libjpeg's standard tables at q. μ starts at the slope −dD/dR of the
standard tables' own curve at q (:func:`standard_slope`) and is a dual variable, raised while the
(smoothed) predicted bits exceed ``rate_target`` × the standard tables' bits and lowered
otherwise, within [μ*/mu_range, μ*·mu_range]. The log-tables are averaged over the last
``average_steps`` steps (the batches are small and noisy); finally one global factor rescales
each anchor's tables so that the real libjpeg-turbo files of the training crops match
``rate_target`` × the standard tables' bits (:func:`calibrate`): the learned *shape* gives the
gain, the quality keeps its meaning (about the same file size as libjpeg at that quality).
Before that rescaling the learned log-tables are pulled toward libjpeg's by ``shape_weight``
(1: the learned shape, 0.5: halfway in log space): the learned shape alone wins at equal MS-SSIM
and PSNR but loses at equal Butteraugli; halfway wins on all three on the validation split
(``saved_models/learned_tables/1/MODEL_CARD.md``).

Validation split: the sorted training images whose index % 10 == 0 are never used here
(``tfjpeg.data.splits``).

Usage:
    nice -n 10 python -m trainers.tables.train --config trainers/configs/tables.json \
        --run-dir runs/tables
Resumable: finished anchors and the running anchor's state live in ``RUN_DIR/state.json``; the
family is written to ``RUN_DIR/tables.json`` after every anchor.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tfjpeg.data.folders import dataset_dir, load_image
from tfjpeg.data.splits import split_images
from tfjpeg.io import save_bytes_atomic
from tfjpeg.jpeg.codec import decode, encode
from tfjpeg.jpeg.learned import TABLES_FILE, TableFamily
from tfjpeg.jpeg.rounding import straight_through
from tfjpeg.jpeg.tables import quality_to_tables
from tfjpeg.losses.distance import ms_ssim
from tfjpeg.rate import RatePredictor
from trainers.common.config import load_config, save_config

DEFAULTS: dict[str, Any] = {
    "train_dir": None,
    "qualities": [5, 10, 15, 20, 30, 40, 50, 60, 75, 90],
    "crops": 48,
    "crop_size": 256,
    "batch": 4,
    "steps": 60,
    "learning_rate": 0.03,
    "w_mse": 0.5,
    "rate_target": 0.99,
    "mu_rate": 0.3,
    "mu_range": 2.0,
    "average_steps": 40,
    "shape_weight": 0.5,
    "slope_crops": 8,
    "slope_step": 3,
    "encoder": "libjpeg-optimize",
    "seed": 1,
    "log_every": 10,
}


def random_crops(files: list[Path], count: int, size: int, seed: int) -> np.ndarray:
    """``count`` uint8 (size, size, 3) crops, one per randomly chosen training image."""
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.permutation(len(files))[:count]:
        img = load_image(files[i])
        if img.shape[-1] == 1:
            img = np.repeat(img, 3, axis=-1)
        h, w = img.shape[:2]
        if min(h, w) < size:
            continue
        y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        out.append(img[y : y + size, x : x + size, :3])
    return np.stack(out)


def integer_tables(theta: tf.Tensor) -> tf.Tensor:
    """Straight-through integer tables in 1..255 from log-tables."""
    soft = tf.clip_by_value(tf.exp(theta), 1.0, 255.0)
    return straight_through(tf.round(soft), soft)


def code(x: tf.Tensor, tables: tf.Tensor, rate: RatePredictor) -> dict[str, tf.Tensor]:
    """Exact forward codec (ste) + differentiable decode; per-image MS-SSIM, MSE, bits."""
    t = tf.broadcast_to(tables[None], [tf.shape(x)[0], 2, 8, 8])
    coefs = encode(x, t, "420", "ste")["coefficients"]
    y = decode(coefs, t, x.shape[1], x.shape[2], "420")
    return {
        "msssim": ms_ssim(x, y),
        "mse": tf.reduce_mean(tf.square(x - y), axis=[1, 2, 3]),
        "bits": rate.bits_from_coefficients(coefs, t),
    }


def standard_slope(q: int, crops: np.ndarray, rate: RatePredictor, cfg: dict) -> float:
    """−dD/dR of libjpeg's own tables around ``q``, both relative to q (the initial μ).

    The learned tables then start at the multiplier where the standard curve trades distortion
    for rate, so a Lagrangian step moves along a curve that dominates it.
    """
    x = tf.constant(crops, tf.float32)
    out = {}
    for qq in (max(q - cfg["slope_step"], 1), q, min(q + cfg["slope_step"], 100)):
        o = code(x, tf.constant(quality_to_tables(qq), tf.float32), rate)
        d = tf.reduce_mean(1.0 - o["msssim"]), tf.reduce_mean(o["mse"])
        out[qq] = (float(d[0]), float(d[1]), float(tf.reduce_sum(o["bits"])))
    (lo, mid, hi) = sorted(out)
    ref = out[mid]

    def rel(v):
        return v[0] / ref[0] + cfg["w_mse"] * v[1] / ref[1], v[2] / ref[2]

    (d0, r0), (d1, r1) = rel(out[lo]), rel(out[hi])
    return float(max(-(d1 - d0) / (r1 - r0), 1e-3))


def learn_anchor(q: int, crops: np.ndarray, rate: RatePredictor, cfg: dict, state: dict,
                 save: Any) -> np.ndarray:  # fmt: skip
    """Learn the tables of anchor ``q``; ``state`` (resumable) holds θ, μ, step and Adam."""
    std = tf.constant(quality_to_tables(q), tf.float32)
    ref = {k: [] for k in ("msssim", "mse", "bits")}
    for i in range(0, len(crops), cfg["batch"]):
        out = code(tf.constant(crops[i : i + cfg["batch"]], tf.float32), std, rate)
        for k in ref:
            ref[k].append(out[k].numpy())
    ref = {k: np.concatenate(v) for k, v in ref.items()}
    theta = tf.Variable(state.get("theta", np.log(quality_to_tables(q)).tolist()), dtype=tf.float32)
    opt = tf.keras.optimizers.Adam(cfg["learning_rate"])
    opt.build([theta])
    if "adam" in state:
        for var, value in zip(opt.variables, state["adam"], strict=True):
            var.assign(np.asarray(value, np.float32))
    if "mu" not in state:
        state["mu_star"] = standard_slope(q, crops[: cfg["slope_crops"]], rate, cfg)
        print(f"q{q:3d} slope of the standard tables' curve: mu* = {state['mu_star']:.3f}",
              flush=True)  # fmt: skip
    mu_star = state["mu_star"]
    mu = float(state.get("mu", mu_star))
    average = np.asarray(state.get("average", np.zeros((2, 8, 8))), np.float64)
    rng = np.random.default_rng(cfg["seed"] * 1000 + q)
    for _ in range(state.get("step", 0)):
        rng.choice(len(crops), cfg["batch"], replace=False)

    @tf.function(reduce_retracing=True)
    def step(x, r_ms, r_mse, r_bits, mu):
        with tf.GradientTape() as tape:
            out = code(x, integer_tables(theta), rate)
            dist = tf.reduce_mean((1.0 - out["msssim"]) / r_ms) + cfg["w_mse"] * tf.reduce_mean(
                out["mse"] / r_mse
            )
            ratio = tf.reduce_sum(out["bits"]) / tf.reduce_sum(r_bits)
            loss = dist + mu * ratio
        opt.apply_gradients([(tape.gradient(loss, theta), theta)])
        theta.assign(tf.clip_by_value(theta, 0.0, float(np.log(255.0))))
        return dist, ratio

    start, ema = time.time(), state.get("ema")
    for s in range(state.get("step", 0), cfg["steps"]):
        idx = rng.choice(len(crops), cfg["batch"], replace=False)
        dist, ratio = step(
            tf.constant(crops[idx], tf.float32),
            tf.constant(1.0 - ref["msssim"][idx], tf.float32),
            tf.constant(ref["mse"][idx], tf.float32),
            tf.constant(ref["bits"][idx], tf.float32),
            tf.constant(mu, tf.float32),
        )
        ema = float(ratio) if ema is None else 0.8 * ema + 0.2 * float(ratio)
        mu = float(np.clip(mu * np.exp(cfg["mu_rate"] * (ema - cfg["rate_target"])),
                           mu_star / cfg["mu_range"], mu_star * cfg["mu_range"]))  # fmt: skip
        if s >= cfg["steps"] - cfg["average_steps"]:
            average += theta.numpy() / cfg["average_steps"]
        if (s + 1) % cfg["log_every"] == 0 or s + 1 == cfg["steps"]:
            print(f"q{q:3d} step {s + 1:4d}/{cfg['steps']}  dist {float(dist):.4f} (std 1+w) "
                  f"rate ratio {float(ratio):.4f}  mu {mu:.3f}  {time.time() - start:.0f}s",
                  flush=True)  # fmt: skip
            state.update(theta=theta.numpy().tolist(), mu=mu, ema=ema, step=s + 1,
                         average=average.tolist(),
                         adam=[v.numpy().tolist() for v in opt.variables])  # fmt: skip
            save()
    return average


def calibrate(log_tables: np.ndarray, q: int, crops: np.ndarray, target: float) -> np.ndarray:
    """Integer tables exp(log_tables + s) with the one global shift s whose real
    libjpeg-turbo files (``optimize=True``) of the training crops total ``target`` × the bits
    of the standard tables at ``q`` (bisection; the learned shape is kept, the rate matched)."""
    from tfjpeg.io import encode_pixels

    def bits(tables: np.ndarray | None) -> int:
        return sum(len(encode_pixels(c, q, optimize=True, tables=tables)) for c in crops)

    def tables_at(shift: float) -> np.ndarray:
        return np.clip(np.round(np.exp(log_tables + shift)), 1, 255).astype(np.int32)

    want = target * bits(None)
    lo, hi = -1.5, 1.5  # larger shift, coarser tables, fewer bits
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if bits(tables_at(mid)) <= want else (mid, hi)
    return tables_at(hi)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="trainers/configs/tables.json")
    parser.add_argument("--run-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    cfg = {**DEFAULTS, **load_config(args.config)}
    args.run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, args.run_dir)
    state_path = args.run_dir / "state.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {"done": {}}

    def save() -> None:
        save_bytes_atomic(state_path, json.dumps(state).encode(), overwrite=True)

    files = split_images(dataset_dir("train", cfg["train_dir"]), "train")
    crops = random_crops(files, cfg["crops"], cfg["crop_size"], cfg["seed"])
    print(f"{len(files)} training images, {len(crops)} crops of {cfg['crop_size']} px", flush=True)
    rate = RatePredictor.from_preset("rate_predictor", encoder=cfg["encoder"])
    began = time.time() - state.get("seconds", 0.0)
    for q in cfg["qualities"]:
        if str(q) in state["done"]:
            continue
        current = state.setdefault("current", {})
        if current.get("quality") != q:
            current.clear()
            current["quality"] = q
        state["done"][str(q)] = learn_anchor(q, crops, rate, cfg, current, save).tolist()
        state["current"] = {}
        state["seconds"] = time.time() - began
        save()
    calibrated = state.setdefault("calibrated", {})
    for q in cfg["qualities"]:
        if str(q) not in calibrated and str(q) in state["done"]:
            w = cfg["shape_weight"]
            standard = np.log(quality_to_tables(q))
            log_tables = w * np.asarray(state["done"][str(q)], np.float64) + (1 - w) * standard
            calibrated[str(q)] = calibrate(log_tables, q, crops, cfg["rate_target"]).tolist()
            print(f"q{q:3d} calibrated to {cfg['rate_target']} x the standard tables' real bits",
                  flush=True)  # fmt: skip
            save()
    done = sorted(int(k) for k in calibrated)
    if done:
        family = TableFamily(done, [calibrated[str(k)] for k in done], {
            "objective": "(1-MS-SSIM)/ref + w_mse*MSE/ref + mu*bits/ref (mu from the standard "
                         "curve's slope, mild dual ascent), log-tables averaged, moved toward the "
                         "standard ones by shape_weight, then rescaled so real libjpeg-turbo bits "
                         "on the training crops = rate_target x standard",
            "config": {k: v for k, v in cfg.items() if k != "train_dir"},
            "split": "training images with sorted index % 10 != 0",
            "wall_seconds": round(state.get("seconds", 0.0), 1),
        })  # fmt: skip
        save_bytes_atomic(
            args.run_dir / TABLES_FILE, json.dumps(family.to_json()).encode(), overwrite=True
        )
    print(f"done in {state.get('seconds', 0.0):.0f} s: {args.run_dir / TABLES_FILE}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
