"""Train the consistent DCT-domain decoder (Bahat & Michaeli 2021, §3.2–3.3, appendix E).

Two phases, one config each (``phase``):

- ``"l1"``: the initialization phase, L1 between decoded and original RGB with z = 0
  (``pixel_loss="l2"``: the squared error instead, to fine-tune towards PSNR);
- ``"gan"``: WGAN-GP with a spectrally normalized, layer-normalized critic conditioned on X_Q,
  plus λ_Range·L_Range and λ_Map·L_Map with an inner z optimization (``gan.map_steps``; paper
  10), started from an L1 run (``init_from``).

Each training image gets its own JPEG quality drawn from ``quality_range`` (paper [5, 49]; the
``decoder_l1_wide.json`` variant [5, 90]) and is compressed in-graph exactly as libjpeg-turbo
would (:func:`tfjpeg.jpeg.encode`). ``architecture`` picks the decoder class: ``"consistent"``
(:class:`~tfjpeg.decoders.ConsistentDecoder`, the paper's) or ``"block_unet"``
(:class:`~tfjpeg.decoders.BlockUNetDecoder`, the fast one; ``model`` then holds its arguments
only). With ``validation_dir`` and ``validation_every``, the PSNR of the decoding (network only)
and its gain over the standard decoding (Δ = 0) on centre crops of those images at
``validation_qualities`` is logged (TensorBoard ``eval/``, and one JSON line per evaluation in
``<run-dir>/validation.jsonl``, with the decoder weights of that step in
``<run-dir>/validated/step-N``). The shared loop (``trainers.common``) gives tf.distribute,
checkpoints with automatic resume, TensorBoard and a progress bar; ``--export DIR`` writes the
final decoder as a SavedModel with serving signatures (:mod:`tfjpeg.serving.decoders`).

Usage:
    python -m trainers.decoder.train --config trainers/configs/decoder_l1.json --run-dir runs/l1
    python -m trainers.decoder.train --config trainers/configs/decoder_gan.json \\
        --run-dir runs/gan --init-from runs/l1 --export saved_models/consistent-gan/1
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from tfjpeg.data.pipelines import training_crops
from tfjpeg.decoders import BlockUNetDecoder, ConsistencyCritic, ConsistentDecoder
from tfjpeg.decoders.geometry import chroma_factors, image_from_coefficients
from tfjpeg.errors import TfjpegError
from trainers.common import (
    TrainingLoop,
    add_common_arguments,
    apply_common_arguments,
    load_config,
    make_strategy,
    save_config,
)
from trainers.decoder.steps import PIXEL_LOSSES, DecoderSteps, jpeg_inputs, real_planes

__all__ = [
    "ARCHITECTURES",
    "DEFAULT_CONFIG",
    "build_models",
    "load_run_decoder",
    "main",
    "restore_decoder",
    "validation_fn",
]

#: The CPU L1 config (trainers/configs/decoder_l1.json holds the same).
DEFAULT_CONFIG: dict[str, Any] = {
    "phase": "l1",
    "pixel_loss": "l1",
    "steps": 3000,
    "crop_size": 96,
    "batch_size": 16,
    "quality_range": [5, 49],
    "subsampling": "420",
    "learning_rate": 5e-4,
    "critic_learning_rate": 1e-4,
    "seed": 0,
    "log_every": 25,
    "checkpoint_every": 100,
    "init_from": None,
    "architecture": "consistent",
    "validation_dir": None,
    "validation_every": 0,
    "validation_qualities": [10, 30, 50, 90],
    "validation_crop": 256,
    "model": {
        "luma_width": 80,
        "luma_depth": 6,
        "chroma_width": 48,
        "chroma_depth": 4,
        "norm": "batch",
    },
    "critic": {"width": 48, "depth": 4},
    "gan": {
        "gp_weight": 10.0,
        "range_weight": 200.0,
        "map_weight": 0.1,
        "critic_steps": 2,
        "map_steps": 3,
        "map_learning_rate": 0.1,
    },
}

_PHASES = ("l1", "gan")
#: ``architecture`` → decoder class.
ARCHITECTURES = {"consistent": ConsistentDecoder, "block_unet": BlockUNetDecoder}


def _merged(config: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(DEFAULT_CONFIG)
    for key, value in config.items():
        if key not in out:
            raise TfjpegError(
                f"unknown decoder config key {key!r}; known keys: {', '.join(sorted(out))}"
            )
        if isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    if out["architecture"] not in ARCHITECTURES:
        raise TfjpegError(
            f"architecture must be one of {tuple(ARCHITECTURES)}. "
            f"Received: architecture={out['architecture']!r}"
        )
    if out["architecture"] != "consistent":  # the defaults are the ConsistentDecoder's
        out["model"] = dict(config.get("model", {}))
    if out["phase"] not in _PHASES:
        raise TfjpegError(f"phase must be one of {_PHASES}. Received: phase={out['phase']!r}")
    if out["pixel_loss"] not in PIXEL_LOSSES:
        raise TfjpegError(
            f"pixel_loss must be one of {tuple(PIXEL_LOSSES)}. "
            f"Received: pixel_loss={out['pixel_loss']!r}"
        )
    lo, hi = out["quality_range"]
    if not 1 <= lo <= hi <= 100:
        raise TfjpegError(f"quality_range must be within [1, 100]. Received: {[lo, hi]}")
    if out["crop_size"] % 16:
        raise TfjpegError(
            f"crop_size must be a multiple of 16 (whole 4:2:0 MCUs). Received: {out['crop_size']}"
        )
    return out


def _sample_inputs(config: dict[str, Any]) -> dict[str, Any]:
    images = tf.zeros([1, 16, 16, 3])
    return jpeg_inputs(images, tf.constant([50.0]), config["subsampling"])


def build_models(config: dict[str, Any]) -> tuple[ConsistentDecoder, ConsistencyCritic | None]:
    """The decoder (and, for the GAN phase, the critic), built with one tiny call."""
    inputs = _sample_inputs(config)
    decoder = ARCHITECTURES[config["architecture"]](**config["model"])
    out = decoder(inputs, subsampling=config["subsampling"])
    critic = None
    if config["phase"] == "gan":
        critic = ConsistencyCritic(**config["critic"])
        critic({**inputs, "ycbcr": out["ycbcr"]}, subsampling=config["subsampling"])
    return decoder, critic


def restore_decoder(decoder: ConsistentDecoder, source: str | Path) -> str:
    """Load decoder weights from a run folder, a checkpoint prefix or an exported SavedModel.

    Returns the checkpoint path read.
    """
    source = Path(source)
    if (source / "variables" / "variables.index").is_file():
        path = str(source / "variables" / "variables")
    elif (source / "checkpoints").is_dir():
        path = tf.train.latest_checkpoint(str(source / "checkpoints"))
    else:
        path = tf.train.latest_checkpoint(str(source)) or str(source)
    if path is None or not Path(f"{path}.index").is_file():
        raise TfjpegError(f"no decoder checkpoint found at {source}")
    tf.train.Checkpoint(model=decoder).read(path).expect_partial()
    return path


def load_run_decoder(source: str | Path) -> ConsistentDecoder:
    """The decoder of a training run: built from the run's ``config.json`` and restored from
    ``source`` (the run folder: its latest checkpoint; or a checkpoint prefix in the run folder
    or one level below it, e.g. ``<run-dir>/validated/step-4000``)."""
    source = Path(source)
    run_dir = source if source.is_dir() else source.parent
    for folder in (run_dir, run_dir.parent):
        if (folder / "config.json").is_file():
            config = _merged(json.loads((folder / "config.json").read_text(encoding="utf-8")))
            break
    else:
        raise TfjpegError(f"no config.json in {run_dir} or {run_dir.parent}")
    decoder, _ = build_models({**config, "phase": "l1"})
    restore_decoder(decoder, source)
    return decoder


def _image_summaries(decoder: ConsistentDecoder, config: dict[str, Any], batch: dict):
    inputs = jpeg_inputs(batch["images"], batch["quality"], config["subsampling"])

    def images() -> dict[str, tf.Tensor]:
        out = decoder(inputs, training=False, subsampling=config["subsampling"])
        return {"decoded": out["decoded"], "original": batch["images"]}

    return images


def validation_fn(decoder, config: dict[str, Any], run_dir: Path, optimizer):
    """The ``eval_fn`` of the loop: PSNR of the decoder (network only, z = 0) and its gain over
    the standard decoding (every coefficient at its bin centre) on centre crops of the
    validation images, per quality; also appended to ``run_dir/validation.jsonl``."""
    import numpy as np
    from PIL import Image

    folder = Path(config["validation_dir"])
    crop = config["validation_crop"] // 16 * 16
    crops = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        img = np.asarray(Image.open(path).convert("RGB"), np.float32)
        h, w = img.shape[:2]
        side = min(crop, h // 16 * 16, w // 16 * 16)
        top, left = (h - side) // 2, (w - side) // 2
        crops.append(img[top : top + side, left : left + side][:side, :side])
    if not crops:
        raise TfjpegError(f"no validation images in {folder}")
    side = min(c.shape[0] for c in crops)
    images = tf.constant(np.stack([c[:side, :side] for c in crops]))
    subsampling = config["subsampling"]

    @tf.function(autograph=False)
    def psnrs(quality):
        q = tf.fill([tf.shape(images)[0]], quality)
        inputs = jpeg_inputs(images, q, subsampling)
        out = decoder(inputs, training=False, subsampling=subsampling)["decoded"]
        comps = [inputs["y"]] + ([] if subsampling == "gray" else [inputs["cb"], inputs["cr"]])
        fh, fv = (1, 1) if subsampling == "gray" else chroma_factors(subsampling)
        plain = image_from_coefficients(tuple(comps), inputs["tables"], side, side, fh, fv)[
            "decoded"
        ]
        target = real_planes(images, "gray")[..., :1] if subsampling == "gray" else images

        def psnr(x):
            mse = tf.reduce_mean(tf.square(tf.round(x) - target))
            return 10.0 * tf.math.log(255.0**2 / mse) / tf.math.log(10.0)

        return psnr(out), psnr(plain)

    def evaluate() -> dict[str, float]:
        results: dict[str, float] = {}
        for quality in config["validation_qualities"]:
            ours, plain = psnrs(tf.constant(float(quality)))
            results[f"psnr_q{quality}"] = float(ours)
            results[f"gain_q{quality}"] = float(ours - plain)
        results["mean_gain"] = float(
            np.mean([v for k, v in results.items() if k.startswith("gain_")])
        )
        step = int(optimizer.iterations.numpy())
        line = {"step": step, **results}
        with open(Path(run_dir) / "validation.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
        # The weights behind each validation line, so the best step can be picked afterwards
        # (the rolling checkpoints keep only the latest few).
        tf.train.Checkpoint(model=decoder).write(str(Path(run_dir) / "validated" / f"step-{step}"))
        return results

    return evaluate


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--config --run-dir --steps --strategy ...`` plus ``--init-from``,
    ``--export``. Returns 0 on success."""
    parser = argparse.ArgumentParser(
        prog="python -m trainers.decoder.train",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--init-from", type=Path, help="decoder weights to start from (run dir / SavedModel)"
    )
    parser.add_argument("--export", type=Path, help="export the final decoder here")
    parser.add_argument(
        "--validation-dir", type=Path, help="validation images (overrides validation_dir)"
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    config = load_config(args.config) if args.config else {}
    config = _merged(apply_common_arguments(config, args))
    if args.init_from is not None:
        config["init_from"] = str(args.init_from)
    if args.validation_dir is not None:
        config["validation_dir"] = str(args.validation_dir)
    run_dir = args.run_dir or Path("runs") / f"decoder_{config['phase']}"
    save_config(config, run_dir)
    keras.utils.set_random_seed(config["seed"])

    strategy = make_strategy(args.strategy)
    global_batch = config["batch_size"]

    def dataset(start_step: int) -> tf.data.Dataset:
        return training_crops(
            None,
            crop_size=config["crop_size"],
            batch_size=global_batch,
            quality_range=tuple(config["quality_range"]),
            seed=config["seed"],
            start_step=start_step,
        )

    with strategy.scope():
        decoder, critic = build_models(config)
        optimizer = keras.optimizers.Adam(config["learning_rate"], beta_1=0.9, beta_2=0.999)
        critic_optimizer = None
        if critic is not None:
            critic_optimizer = keras.optimizers.Adam(
                config["critic_learning_rate"], beta_1=0.9, beta_2=0.999
            )
    if (
        config["init_from"]
        and tf.train.latest_checkpoint(str(Path(run_dir) / "checkpoints")) is None
    ):
        restore_decoder(decoder, config["init_from"])
    steps = DecoderSteps(
        decoder,
        optimizer,
        global_batch,
        config["subsampling"],
        critic,
        critic_optimizer,
        **config["gan"],
        pixel_loss=config["pixel_loss"],
    )
    trackables: dict[str, Any] = {"model": decoder, "optimizer": optimizer}
    if critic is not None:
        trackables.update(critic=critic, critic_optimizer=critic_optimizer)
    sample = next(iter(dataset(0).take(1)))
    sample = {k: v[:2] for k, v in sample.items()}
    loop = TrainingLoop(
        strategy=strategy,
        run_dir=run_dir,
        total_steps=config["steps"],
        train_step=steps.l1_step if config["phase"] == "l1" else steps.gan_step,
        dataset=dataset,
        trackables=trackables,
        checkpoint_every=config["checkpoint_every"],
        log_every=config["log_every"],
        image_summaries=_image_summaries(decoder, config, sample),
        image_every=max(config["checkpoint_every"], 1) * 5,
        eval_fn=(
            validation_fn(decoder, config, run_dir, optimizer)
            if config["validation_dir"] and config["validation_every"]
            else None
        ),
        eval_every=config["validation_every"] if config["validation_dir"] else 0,
        description=f"train decoder ({config['phase']})",
    )
    loop.run()
    if args.export is not None:
        from tfjpeg.serving.decoders import export_decoder

        export_decoder(decoder, args.export)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
