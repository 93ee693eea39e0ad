"""Train a pre-editing network (Talebi et al. 2020): pre-training, the eq. (5) phase, distillation.

Phases (config key ``"phase"``):

* ``"pretrain"`` (§5): the smoothing editor learns to denoise: crops ``z`` get white Gaussian
  noise of a random σ ∈ ``noise_sigma_range`` (of [0, 1] pixels; paper [0, 0.15]) per image,
  σ and the JPEG quality are the editor's extra input channels, and the loss is
  ``‖T(z + n) − z‖²`` (or ``‖C_q(T(z + n)) − z‖²`` with ``"pretrain_through_jpeg": true``).
* ``"preedit"`` (eq. 5): ``dist(C_q(T(z)), z) + λ·Q(C_q(T(z))) + μ·B_q(T(z))`` with
  ``C_q`` = :class:`tfjpeg.jpeg.DiffJPEG` (default ``"ste"`` rounding: the exact libjpeg-turbo
  forward codec — 100 % of the coefficients equal, ``benchmarks/codec_fidelity_speed.py`` — with
  an identity gradient; the paper's ``"poly3"`` under-counts the added distortion), ``B_q`` =
  :class:`tfjpeg.rate.RatePredictor` (the shipped fitted rate model of the target encoder,
  bits → bpp) and the terms of :class:`tfjpeg.losses.PreEditLoss`; one random integer quality
  per image in ``data.quality_range`` (paper [8, 25]); 176-px crops so that MS-SSIM has all
  five scales (161 px is the least).
* ``"distill"`` (issue 10): the editor learns the optimize mode's output (the teacher pairs of
  :mod:`trainers.editor.distill`, built from the training part beforehand): ``distill.loss``
  ``"coefficients"`` (land in the teacher's quantization bins, learned tables) or ``"pixels"``
  (L1 to the teacher's pixels); no codec, rate model or eq. (5) loss.

Config (JSON/YAML; every section maps 1:1 to a constructor's arguments)::

    {"editor": "smoothing" | "stn" | "cascade",
     "editor_config": {...},              # the editor class's constructor arguments
     "phase": "pretrain" | "preedit" | "distill",
     "init": null | PATH | {"smoother": PATH, "warper": PATH},   # warm start (see load_init)
     "data": {...},                       # tfjpeg.data.pipelines.training_crops (minus directory)
     "noise_sigma_range": [0.0, 0.15],    # pretrain only
     "inference_mode_edits": false,       # eq. 5 with training=False edits (see EditorSteps)
     "optimizer": {"learning_rate": ...}, # keras.optimizers.Adam
     "codec": {...},                      # tfjpeg.jpeg.DiffJPEG
     "rate": {...},                       # tfjpeg.rate.RatePredictor
     "loss": {...},                       # tfjpeg.losses.PreEditLoss
     "mu_by_quality": null | [[q, mu], ...],  # μ per image, piecewise linear in its quality
     "distill": {"pairs": PATH, "loss": "coefficients" | "pixels"},  # distill only
     "eval": {"images": N | [names], "crop": 256, "qualities": [10, 20],  # validation images
              "mu_by_quality": null | [[q, mu], ...],  # μ(q) of its "objective"
              "tables": "standard" | "learned"},  # the edited files' tables
     "eval_dir": null,                    # folder whose validation part is used (data_dir)
     "steps", "checkpoint_every", "log_every", "image_every", "eval_every", "seed"}

``mu_by_quality`` replaces the constant μ by one interpolated at each image's quality, e.g. the
local slope −d(1 − MS-SSIM)/d(bpp) of the plain encoder's own rate-distortion curve: then the
editor accepts exactly the trades of bits for distortion that beat changing the quality (the
paper's "weighted rate and distance should be close", made per quality).

The config is copied into the run folder; checkpoints resume automatically. Training reads only
the training part of the folder (:mod:`tfjpeg.data.splits`). With ``eval.images`` (the first N
validation images, or names of validation images; never Kodak), every evaluation edits centre
crops of them, encodes with real libjpeg-turbo and keeps the weights with the lowest
validation **score** — the rate change (%) at equal MS-SSIM against plain libjpeg-turbo — as
``best.weights.h5`` (``best.json``); it also logs the proxy-vs-real gap (``eval/gap/...``:
predicted vs real bits, training distance through C_q vs on the real decode), see
:mod:`trainers.editor.validation`.

Usage::

    python -m trainers.editor.train --config trainers/configs/editor_smoothing.json \
        --run-dir runs/smoothing [--strategy default|mirrored|multiworker] [--steps N]
    python -m trainers.editor.train export --run-dir runs/smoothing --out saved_models/smoothing/1 \
        [--weights last|best]

Reference: Talebi et al. 2020, "Better compression with deep pre-editing", §2–§5.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULTS",
    "build_editor",
    "build_steps",
    "load_init",
    "main",
    "train",
]

#: Defaults filled in under a user config (a config names only what it changes).
DEFAULTS: dict[str, Any] = {
    "editor": "smoothing",
    "editor_config": {},
    "phase": "preedit",
    "init": None,
    "data": {"crop_size": 176, "batch_size": 4, "quality_range": [8, 25], "flips": True},
    "data_dir": None,
    "noise_sigma_range": [0.0, 0.15],
    "pretrain_through_jpeg": False,
    "inference_mode_edits": False,
    "optimizer": {"learning_rate": 1e-4},
    "codec": {"subsampling": "420", "rounding": "ste"},
    "rate": {
        "model": "jpeg",
        "encoder": "libjpeg-optimize",
        "rounding": "ste",
        "weights": "default",
    },
    "loss": {
        "distance": "ms-ssim",
        "lam": 0.02,
        "mu": 1.0,
        "quality_terms": ["tv"],
        "rate_unit": "bpp",
    },
    "mu_by_quality": None,
    "distill": {"pairs": None, "loss": "coefficients"},
    "eval": {"images": 0, "crop": 256, "qualities": [10, 20], "tables": "standard"},
    "eval_dir": None,
    "steps": 1000,
    "checkpoint_every": 100,
    "log_every": 10,
    "image_every": 200,
    "eval_every": 0,
    "seed": 0,
}

PHASES = ("pretrain", "preedit", "distill")
#: In the run folder: the weights with the lowest validation score so far, and that evaluation
#: (``{"step", "score", "selected_by", "bpp", "ms_ssim", ...}``).
BEST_WEIGHTS = "best.weights.h5"
BEST_INFO = "best.json"


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key in ("data", "codec", "rate", "loss", "eval", "distill") and isinstance(value, dict):
            out[key] = {**out.get(key, {}), **value}
        else:
            out[key] = copy.deepcopy(value)
    return out


def full_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` over :data:`DEFAULTS`, checked."""
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        raise ValueError(
            f"unknown config keys {sorted(unknown)}; known: {sorted(DEFAULTS)}. "
            f"Received: {sorted(config)}"
        )
    merged = _merge(DEFAULTS, config)
    from tfjpeg.editors import EDITOR_CLASSES

    if merged["editor"] not in EDITOR_CLASSES:
        raise ValueError(
            f"editor must be one of {tuple(EDITOR_CLASSES)}. Received: editor={merged['editor']!r}"
        )
    if merged["phase"] not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}. Received: phase={merged['phase']!r}")
    if merged["phase"] == "pretrain" and merged["editor"] == "stn":
        raise ValueError("the pretrain phase (denoising) is for the smoothing/cascade editors.")
    if merged["phase"] == "distill" and not merged["distill"]["pairs"]:
        raise ValueError(
            "the distill phase needs distill.pairs (python -m trainers.editor.distill --out P)."
        )
    if merged["eval"]["tables"] not in ("standard", "learned"):
        raise ValueError(
            "eval.tables must be 'standard' or 'learned'. "
            f"Received: eval.tables={merged['eval']['tables']!r}"
        )
    lo, hi = merged["noise_sigma_range"]
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(
            "noise_sigma_range must be [low, high] with 0 <= low <= high <= 1. "
            f"Received: noise_sigma_range={merged['noise_sigma_range']!r}"
        )
    return merged


def mu_table(config: dict[str, Any]):
    """μ for qualities 1..100 as a float32 array (constant ``loss.mu`` or ``mu_by_quality``)."""
    import numpy as np

    knots = config["mu_by_quality"]
    if knots is None:
        return np.full(100, float(config["loss"].get("mu", 1.0)), np.float32)
    knots = sorted((float(q), float(m)) for q, m in knots)
    if not knots or any(m < 0 or not 1 <= q <= 100 for q, m in knots):
        raise ValueError(
            "mu_by_quality must be a non-empty list of [quality in 1..100, mu >= 0]. "
            f"Received: mu_by_quality={config['mu_by_quality']!r}"
        )
    qs, mus = zip(*knots, strict=True)
    return np.interp(np.arange(1, 101), qs, mus).astype(np.float32)


def build_editor(config: dict[str, Any]):
    """The editor named by ``config["editor"]`` with ``config["editor_config"]``, built."""
    import tensorflow as tf

    from tfjpeg.editors import EDITOR_CLASSES

    editor = EDITOR_CLASSES[config["editor"]](**config["editor_config"])
    editor(tf.zeros([1, 16, 16, 3]), training=False)
    return editor


def _load_weights_into(model, path: str | Path) -> None:
    """Weights from a ``.weights.h5`` file, an exported editor folder or a run folder."""
    import tensorflow as tf

    from tfjpeg.errors import TfjpegError
    from tfjpeg.serving.editors import KERAS_WEIGHTS

    path = Path(path)
    if path.is_file():
        model.load_weights(str(path))
        return
    if (path / KERAS_WEIGHTS).is_file():
        model.load_weights(str(path / KERAS_WEIGHTS))
        return
    latest = tf.train.latest_checkpoint(str(path / "checkpoints"))
    if latest is None:
        raise TfjpegError(
            f"init {path}: not a .weights.h5 file, an exported editor or a run folder with "
            "checkpoints."
        )
    status = tf.train.Checkpoint(model=model).restore(latest)
    status.expect_partial()  # the optimizer and step are not wanted here
    try:  # every variable of the model must come from the checkpoint (no silent partial init)
        status.assert_existing_objects_matched()
    except AssertionError as err:
        raise TfjpegError(
            f"init {path}: the checkpoint does not hold this editor ({err})"
        ) from None
    status.expect_partial()


def load_init(editor, init: Any) -> None:
    """Warm-start ``editor``: ``init`` is a path (same editor kind) or, for the cascade,
    ``{"smoother": PATH, "warper": PATH}`` (either optional)."""
    if init is None:
        return
    if isinstance(init, dict):
        for part, path in init.items():
            if part not in ("smoother", "warper") or not hasattr(editor, part):
                raise ValueError(
                    "a dict init is for the cascade: keys 'smoother' and/or 'warper'. "
                    f"Received: init={init!r}"
                )
            if path is not None:
                _load_weights_into(getattr(editor, part), path)
        return
    _load_weights_into(editor, init)


SELECTED_BY = (
    "score: rate change (%) at equal MS-SSIM against plain libjpeg-turbo (optimize=True) on "
    "centre crops of validation images, real files"
)


def build_steps(config: dict[str, Any], strategy):
    """The editor, its optimizer, the codec and (eq. (5) phase) the rate predictor and loss,
    built in ``strategy.scope()`` from the (full) config and wrapped in
    :class:`trainers.editor.steps.EditorSteps`; the editor is warm-started from ``init``."""
    import keras

    from tfjpeg.jpeg import DiffJPEG
    from trainers.editor.steps import EditorSteps

    with strategy.scope():
        editor = build_editor(config)
        load_init(editor, config["init"])
        optimizer = keras.optimizers.Adam(**config["optimizer"])
        optimizer.build(editor.trainable_variables)
        codec = DiffJPEG(**config["codec"])
        rate = loss_fn = None
        if config["phase"] == "preedit":
            from tfjpeg.losses import PreEditLoss
            from tfjpeg.rate import RatePredictor

            rate = RatePredictor(**config["rate"])
            loss_fn = PreEditLoss(**{**config["loss"], "reduction": "none"})
    return EditorSteps(
        editor,
        optimizer,
        codec,
        int(config["data"]["batch_size"]),
        rate=rate,
        loss=loss_fn,
        mu_table=mu_table(config),
        seed=int(config["seed"]),
        noise_sigma_range=config["noise_sigma_range"],
        pretrain_through_jpeg=config["pretrain_through_jpeg"],
        inference_mode_edits=config["inference_mode_edits"],
        distill_loss=config["distill"]["loss"],
    )


def _evaluation_hooks(config: dict[str, Any], steps, run_dir: Path, loop_ref: list):
    """``(eval_fn, preview)`` for the loop (both None without evaluation images); ``eval_fn``
    keeps the weights with the best validation score (``loop_ref[0]`` is the loop, set once it
    exists)."""
    import tensorflow as tf

    from trainers.editor.validation import ValidationEvaluator, validation_crops

    images = config["eval"]["images"]
    if not images:
        return None, None
    folder = config["eval_dir"] if config["eval_dir"] is not None else config["data_dir"]
    crops = validation_crops(folder, images, int(config["eval"]["crop"]))
    eval_mus = mu_table(config)
    if config["eval"].get("mu_by_quality") is not None:
        eval_mus = mu_table({"mu_by_quality": config["eval"]["mu_by_quality"], "loss": {}})
    editor = steps.editor
    tables = None
    if config["eval"]["tables"] == "learned":
        from trainers.editor.distill import learned_tables as tables
    evaluator = ValidationEvaluator(
        editor, crops, config["eval"]["qualities"], eval_mus,
        codec=steps.codec, rate=steps.rate, loss=steps.loss, tables=tables,
    )  # fmt: skip
    best_path = run_dir / BEST_INFO

    def eval_fn():
        loop = loop_ref[0]
        results = evaluator()
        best = json.loads(best_path.read_text()) if best_path.is_file() else None
        if loop.is_chief and (best is None or results["score"] < best["score"]):
            editor.save_weights(str(run_dir / BEST_WEIGHTS))
            info = {
                "step": int(loop.step.numpy()),
                "selected_by": SELECTED_BY,
                "images": [name for name, _ in crops],
                **results,
            }
            best_path.write_text(json.dumps(info, indent=1) + "\n")
        return results

    sample = tf.constant(crops[0][1][None], tf.float32)

    def preview():
        edited = editor(sample, quality=[float(config["eval"]["qualities"][0])])["edited"]
        return {"original": sample, "edited": edited}

    return eval_fn, preview


def train(config: dict[str, Any], run_dir: str | Path, strategy_name: str = "default"):
    """Run (or resume) one training phase; returns the loop's history."""
    import keras

    from tfjpeg.data.pipelines import training_crops
    from trainers.common import TrainingLoop, make_strategy, save_config

    config = full_config(config)
    strategy = make_strategy(strategy_name)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir)
    keras.utils.set_random_seed(int(config["seed"]))
    steps = build_steps(config, strategy)
    phase = config["phase"]
    data = {**config["data"], "quality_range": tuple(config["data"]["quality_range"])}

    def dataset(start_step: int):
        if phase == "distill":
            from trainers.editor.distill import teacher_batches

            return teacher_batches(
                config["distill"]["pairs"], int(data["batch_size"]), int(config["seed"]),
                start_step,
            )  # fmt: skip
        return training_crops(
            config["data_dir"], seed=int(config["seed"]), start_step=start_step, **data
        )

    loop_ref: list = []
    eval_fn, preview = _evaluation_hooks(config, steps, run_dir, loop_ref)
    loop = TrainingLoop(
        strategy=strategy,
        run_dir=run_dir,
        total_steps=int(config["steps"]),
        train_step={
            "pretrain": steps.pretrain_step,
            "preedit": steps.preedit_step,
            "distill": steps.distill_step,
        }[phase],
        dataset=dataset,
        trackables={"model": steps.editor, "optimizer": steps.optimizer},
        checkpoint_every=int(config["checkpoint_every"]),
        log_every=int(config["log_every"]),
        image_summaries=preview,
        image_every=int(config["image_every"]),
        eval_fn=eval_fn,
        eval_every=int(config["eval_every"]),
        description=f"{config['editor']} {phase}",
    )
    loop_ref.append(loop)
    started = time.time()
    history = loop.run()
    if loop.is_chief:
        _write_history(run_dir, history, started)
    return history


def _write_history(run_dir: Path, history: dict[str, Any], started: float) -> None:
    summary = {
        "step": history["step"],
        "start_step": history["start_step"],
        "losses": history["losses"],
        "wall_seconds": history["wall_seconds"],
        "eval": history["eval"],
        "log": history["log"],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "elapsed": time.time() - started,
    }
    with open(run_dir / f"history_{history['start_step']:06d}.json", "w") as f:
        json.dump(summary, f, indent=1)


def export(run_dir: str | Path, out: str | Path, which: str = "last") -> Path:
    """Export the run's latest checkpoint (``which="last"``) or its best evaluated weights
    (``"best"``, :data:`BEST_WEIGHTS`) as a SavedModel + Keras weights (``tfjpeg.serving``)."""
    from tfjpeg.serving import export_editor
    from trainers.common import load_config

    run_dir = Path(run_dir)
    config = full_config(load_config(run_dir / "config.json"))
    editor = build_editor(config)
    if which not in ("last", "best"):
        raise ValueError(f"which must be 'last' or 'best'. Received: which={which!r}")
    _load_weights_into(editor, run_dir / BEST_WEIGHTS if which == "best" else run_dir)
    return export_editor(editor, out)


def _build_parser() -> argparse.ArgumentParser:
    from trainers.common import add_common_arguments

    parser = argparse.ArgumentParser(
        prog="python -m trainers.editor.train",
        description="Train a pre-editing network (pretrain or eq. 5 phase), or export one.",
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--logical-cpus",
        type=int,
        default=0,
        metavar="N",
        help="split the CPU into N logical devices first (to run --strategy mirrored on a CPU)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m trainers.editor.train [train] --config C --run-dir R [...]`` or
    ``export --run-dir R --out O``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["export"]:
        parser = argparse.ArgumentParser(prog="python -m trainers.editor.train export")
        parser.add_argument("--run-dir", type=Path, required=True)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--weights", choices=("last", "best"), default="last")
        args = parser.parse_args(argv[1:])
        print(export(args.run_dir, args.out, args.weights))
        return 0
    if argv[:1] == ["train"]:
        argv = argv[1:]
    from trainers.common import apply_common_arguments, load_config

    args = _build_parser().parse_args(argv)
    if args.logical_cpus > 1:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus
        )
    if args.run_dir is None:
        raise SystemExit("--run-dir is required")
    if args.config is not None:
        config = load_config(args.config)
    elif (args.run_dir / "config.json").is_file():
        config = load_config(args.run_dir / "config.json")  # resume with the run's own config
    else:
        raise SystemExit("--config is required for a new run")
    config = apply_common_arguments(config, args)
    history = train(config, args.run_dir, args.strategy)
    print(json.dumps({"step": history["step"], "losses": history["losses"]}))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
