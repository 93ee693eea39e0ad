"""Train the posterior sampler (Man et al. 2023, §4.2 and appendix A.2).

One run, two phases on the shared loop (``trainers.common``: strategy, checkpoints with
automatic resume, TensorBoard, progress): ``pretrain_steps`` of MSE regression (the paper's
initialization; 0 when the generator starts from a ``base`` MMSE decoder), then the GAN phase to
``steps`` (:class:`trainers.posterior.steps.PosteriorSteps`: non-saturating GAN + R1,
consistency through the exact codec, first and second moment penalties against the frozen MMSE
decoder ``mmse``, optional VGG, EMA of the generator). Each training image gets its own quality
from ``quality_range`` and is compressed in-graph exactly as libjpeg-turbo would.

``model`` holds the :class:`~tfjpeg.decoders.PosteriorSampler` arguments; ``base`` names a
shipped decoder (e.g. ``"consistent-l1"``) that the sampler perturbs, copied into the model (its
weights frozen); ``mmse`` names the MMSE decoder for SM (default: the base). ``--export DIR``
writes the EMA generator (:mod:`tfjpeg.serving.decoders`).

Usage:
    python -m trainers.posterior.train --config trainers/configs/decoder_posterior.json \\
        --run-dir runs/posterior --export saved_models/posterior/1
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from tfjpeg.data.pipelines import training_crops
from tfjpeg.decoders import ConsistencyCritic, PosteriorSampler
from tfjpeg.errors import TfjpegError
from trainers.common import (
    TrainingLoop,
    add_common_arguments,
    apply_common_arguments,
    load_config,
    make_strategy,
    save_config,
)
from trainers.decoder.steps import jpeg_inputs
from trainers.posterior.steps import ExponentialAverage, PosteriorSteps

__all__ = ["DEFAULT_CONFIG", "build_models", "main"]

#: The CPU config (trainers/configs/decoder_posterior.json holds the same).
DEFAULT_CONFIG: dict[str, Any] = {
    "steps": 900,
    "pretrain_steps": 0,
    "crop_size": 64,
    "batch_size": 4,
    "quality_range": [5, 49],
    "subsampling": "420",
    "learning_rate": 1e-4,
    "critic_learning_rate": 1e-4,
    "seed": 0,
    "log_every": 10,
    "checkpoint_every": 25,
    "base": "consistent-l1",
    "mmse": None,
    "model": {"features": 32, "blocks": 1, "growth": 16, "rdbs": 3},
    "critic": {"width": 48, "depth": 4, "spectral": False},
    "loss": {
        "adversarial": 1e-3,
        "r1": 1.0,
        "fm": 1.0,
        "sm": 1e3,
        "vgg": 1e-2,
        "consistency_start": 1.0,
        "consistency_end": 1e3,
    },
    "vgg_weights": None,
    "samples": 4,
    "moment_images": 2,
    "ema_decay": 0.99,
}


def _merged(config: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(DEFAULT_CONFIG)
    for key, value in config.items():
        if key not in out:
            raise TfjpegError(
                f"unknown posterior config key {key!r}; known keys: {', '.join(sorted(out))}"
            )
        out[key] = {**out[key], **value} if isinstance(out[key], dict) else value
    lo, hi = out["quality_range"]
    if not 1 <= lo <= hi <= 100:
        raise TfjpegError(f"quality_range must be within [1, 100]. Received: {[lo, hi]}")
    if out["crop_size"] % 16:
        raise TfjpegError(f"crop_size must be a multiple of 16. Received: {out['crop_size']}")
    if not 0 <= out["pretrain_steps"] <= out["steps"]:
        raise TfjpegError("pretrain_steps must be in [0, steps].")
    if not 1 <= out["moment_images"] <= out["batch_size"]:
        raise TfjpegError("moment_images must be in [1, batch_size].")
    return out


def _shipped_copy(name: str) -> keras.Model:
    """A fresh copy (own variables, in the current scope) of shipped decoder ``name``."""
    from tfjpeg.models.presets import load
    from tfjpeg.models.saving import build_model

    shipped = load(name)
    model = type(shipped).from_config(shipped.get_config())
    build_model(model)
    model.set_weights(shipped.get_weights())
    return model


def build_models(config: dict[str, Any]):
    """(generator, critic, mmse): the sampler (with its base), the critic and the frozen MMSE
    decoder (None when it is the base), each built with one tiny call."""
    base = _shipped_copy(config["base"]) if config["base"] else None
    generator = PosteriorSampler(**config["model"], base=base)
    inputs = jpeg_inputs(tf.zeros([1, 16, 16, 3]), tf.constant([50.0]), config["subsampling"])
    out = generator(inputs, subsampling=config["subsampling"])
    critic = ConsistencyCritic(**config["critic"])
    critic({**inputs, "ycbcr": out["ycbcr"]}, subsampling=config["subsampling"])
    mmse_name = config["mmse"] or config["base"]
    if mmse_name is None:
        raise TfjpegError("give mmse (a shipped MMSE decoder) when there is no base.")
    mmse = None if mmse_name == config["base"] else _shipped_copy(mmse_name)
    if mmse is not None:
        mmse.trainable = False
    return generator, critic, mmse


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--config --run-dir --steps --strategy ...`` plus ``--export``."""
    parser = argparse.ArgumentParser(
        prog="python -m trainers.posterior.train",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_common_arguments(parser)
    parser.add_argument("--export", type=Path, help="export the EMA generator here")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    config = load_config(args.config) if args.config else {}
    config = _merged(apply_common_arguments(config, args))
    run_dir = args.run_dir or Path("runs") / "posterior"
    save_config(config, run_dir)
    keras.utils.set_random_seed(config["seed"])
    strategy = make_strategy(args.strategy)

    def dataset(start_step: int) -> tf.data.Dataset:
        return training_crops(
            None,
            crop_size=config["crop_size"],
            batch_size=config["batch_size"],
            quality_range=tuple(config["quality_range"]),
            seed=config["seed"],
            start_step=start_step,
        )

    with strategy.scope():
        generator, critic, mmse = build_models(config)
        optimizer = keras.optimizers.Adam(config["learning_rate"], beta_1=0.9, beta_2=0.999)
        critic_optimizer = keras.optimizers.Adam(
            config["critic_learning_rate"], beta_1=0.9, beta_2=0.999
        )
        ema = ExponentialAverage(generator, config["ema_decay"])
    vgg = None
    if config["vgg_weights"] and Path(config["vgg_weights"]).is_file():
        from tfjpeg.losses import VGGFeatureDistance

        vgg = VGGFeatureDistance(weights=config["vgg_weights"], layer="block5_conv3")
    steps = PosteriorSteps(
        generator,
        optimizer,
        config["batch_size"],
        config["subsampling"],
        critic,
        critic_optimizer,
        mmse=mmse,
        ema=ema,
        vgg=vgg,
        weights=config["loss"],
        samples=config["samples"],
        moment_images=config["moment_images"],
        total_steps=config["steps"],
        seed=config["seed"],
    )
    trackables = {
        "model": generator,
        "optimizer": optimizer,
        "critic": critic,
        "critic_optimizer": critic_optimizer,
        "ema": ema,
    }
    phases = [("mse", config["pretrain_steps"], steps.mse_step)] if config["pretrain_steps"] else []
    phases.append(("gan", config["steps"], steps.gan_step))
    for phase, total, step_fn in phases:
        TrainingLoop(
            strategy=strategy,
            run_dir=run_dir,
            total_steps=total,
            train_step=step_fn,
            dataset=dataset,
            trackables=trackables,
            checkpoint_every=config["checkpoint_every"],
            log_every=config["log_every"],
            description=f"train posterior ({phase})",
        ).run()
    if args.export is not None:
        from tfjpeg.serving.decoders import export_decoder

        ema.copy_to(generator)
        export_decoder(generator, args.export)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
