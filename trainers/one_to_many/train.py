"""Train the one-to-many network (Guo & Chao 2017, §3.4) on the shared loop.

Each training image gets its own JPEG quality drawn from ``quality_range`` and is compressed
in-graph exactly as libjpeg-turbo would (:func:`trainers.decoder.steps.jpeg_inputs`); one model
serves every quality (its tables are an input). Each step updates the discriminator, then the
proposal network on λ_p·L_p + λ_n·L_n + λ_j·L_j (:class:`trainers.one_to_many.steps.
OneToManySteps`); L_p is VGG-16 features when ``vgg_weights`` names a local weights file, NLPD
otherwise (:func:`tfjpeg.losses.one_to_many.perceptual_distance`). The shared loop
(``trainers.common``) gives tf.distribute, checkpoints with automatic resume, TensorBoard and a
progress bar; ``--export DIR`` writes the final decoder in the export convention with its
serving signatures (:func:`tfjpeg.serving.decoders.export_decoder`). ``init`` (config) /
``--init`` warm-starts a new run from an exported decoder or from another run's latest
checkpoint (:func:`load_init`); ``losses.diversity_weight`` > 0 adds the diversity-sensitive
term and ``losses.mean_weight`` > 0 the first-moment penalty on the proposals' mean (neither in
the paper; :mod:`trainers.one_to_many.steps`), e.g. the fine-tune of
``trainers/configs/decoder_one_to_many_diverse.json``.

Usage:
    python -m trainers.one_to_many.train --config trainers/configs/decoder_one_to_many.json \\
        --run-dir runs/one_to_many --export saved_models/one-to-many/1
    python -m trainers.one_to_many.train \
        --config trainers/configs/decoder_one_to_many_diverse.json \
        --init saved_models/one-to-many/1 --run-dir runs/one_to_many_diverse --export DIR
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
from tfjpeg.decoders import ConsistencyCritic, OneToManyDecoder
from tfjpeg.errors import TfjpegError
from tfjpeg.losses.one_to_many import perceptual_distance
from trainers.common import (
    TrainingLoop,
    add_common_arguments,
    apply_common_arguments,
    load_config,
    make_strategy,
    save_config,
)
from trainers.decoder.steps import jpeg_inputs
from trainers.one_to_many.steps import OneToManySteps

__all__ = ["DEFAULT_CONFIG", "build_models", "load_init", "main"]

#: The CPU config (trainers/configs/decoder_one_to_many.json holds the same).
DEFAULT_CONFIG: dict[str, Any] = {
    "steps": 2000,
    "crop_size": 64,
    "batch_size": 8,
    "quality_range": [5, 49],
    "subsampling": "420",
    "learning_rate": 2e-4,
    "critic_learning_rate": 2e-4,
    "beta_1": 0.5,
    "seed": 0,
    "log_every": 10,
    "checkpoint_every": 50,
    "vgg_weights": None,
    "init": None,
    "model": {"width": 32, "branch_units": 2, "aggregate_units": 4, "norm": "batch"},
    "critic": {"width": 32, "depth": 4, "spectral": False},
    "losses": {
        "perceptual_weight": 1.0,
        "naturalness_weight": 0.02,
        "jpeg_weight": 0.01,
        "r1_weight": 0.1,
        "warmup_steps": 400,
        "noise_std": 1.0,
        "diversity_weight": 0.0,
        "diversity_bound": 0.02,
        "mean_weight": 0.0,
    },
}


def _merged(config: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(DEFAULT_CONFIG)
    for key, value in config.items():
        if key not in out:
            raise TfjpegError(
                f"unknown one-to-many config key {key!r}; known keys: {', '.join(sorted(out))}"
            )
        if isinstance(out[key], dict) and isinstance(value, dict):
            unknown = set(value) - set(out[key])
            if unknown:
                raise TfjpegError(
                    f"unknown keys in {key!r}: {', '.join(sorted(unknown))}; known: "
                    f"{', '.join(sorted(out[key]))}"
                )
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    lo, hi = out["quality_range"]
    if not 1 <= lo <= hi <= 100:
        raise TfjpegError(f"quality_range must be within [1, 100]. Received: {[lo, hi]}")
    if out["crop_size"] % 16 or out["crop_size"] < 32:
        raise TfjpegError(
            "crop_size must be a multiple of 16 (whole 4:2:0 MCUs) and at least 32 (NLPD). "
            f"Received: {out['crop_size']}"
        )
    return out


def build_models(config: dict[str, Any]) -> tuple[OneToManyDecoder, ConsistencyCritic]:
    """The proposal network and the discriminator, built with one tiny call."""
    inputs = jpeg_inputs(tf.zeros([1, 16, 16, 3]), tf.constant([50.0]), config["subsampling"])
    decoder = OneToManyDecoder(**config["model"])
    out = decoder(inputs, subsampling=config["subsampling"])
    critic = ConsistencyCritic(**config["critic"])
    critic({**inputs, "ycbcr": out["ycbcr"]}, subsampling=config["subsampling"])
    return decoder, critic


def load_init(decoder: OneToManyDecoder, critic: ConsistencyCritic, source: str | Path) -> str:
    """Warm-start a new run: the decoder's weights from an exported folder (``--export``:
    ``keras_config.json`` + weights; the critic keeps its fresh weights), or the decoder's and
    the critic's from the latest checkpoint of a run folder (not the optimizers or the step).

    Returns:
        "export" or "checkpoint": what was read.

    Raises:
        TfjpegError: neither, or weights of another architecture.
    """
    from tfjpeg.models.saving import CONFIG_FILE, load_keras_model

    source = Path(source)
    if (source / CONFIG_FILE).is_file():
        exported = load_keras_model(source, cls=OneToManyDecoder)
        try:
            decoder.set_weights(exported.get_weights())
        except ValueError as err:
            raise TfjpegError(
                f"init {source}: the exported decoder does not fit the config's model ({err})"
            ) from None
        return "export"
    latest = tf.train.latest_checkpoint(str(source / "checkpoints"))
    if latest is None:
        raise TfjpegError(
            f"init {source}: neither an exported one-to-many decoder ({CONFIG_FILE}) nor a run "
            "folder with checkpoints."
        )
    try:  # every variable of both networks must come from the checkpoint, with its shape
        status = tf.train.Checkpoint(model=decoder, critic=critic).read(latest)
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError) as err:
        raise TfjpegError(
            f"init {source}: the checkpoint does not fit the config ({err})"
        ) from None
    status.expect_partial()  # the optimizers and the step stay fresh
    return "checkpoint"


def _image_summaries(decoder: OneToManyDecoder, config: dict[str, Any], batch: dict):
    inputs = jpeg_inputs(batch["images"], batch["quality"], config["subsampling"])

    def images() -> dict[str, tf.Tensor]:
        shape = tf.shape(inputs["y"])
        z = tf.random.stateless_normal(tf.stack([shape[0], shape[1], shape[2], 64]), [0, 1])
        out = decoder({**inputs, "z": z}, training=False, subsampling=config["subsampling"])
        return {"decoded": out["decoded"], "original": batch["images"]}

    return images


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--config --run-dir --steps --strategy ...`` plus ``--export`` and
    ``--vgg-weights``. Returns 0 on success."""
    parser = argparse.ArgumentParser(
        prog="python -m trainers.one_to_many.train",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_common_arguments(parser)
    parser.add_argument("--export", type=Path, help="export the final decoder here")
    parser.add_argument(
        "--vgg-weights", type=Path, help="local VGG-16 (no top) weights: the perceptual loss"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="training images (default: $TFJPEG_TRAIN_DIR)"
    )
    parser.add_argument(
        "--init", type=Path, help="warm start: an exported decoder or a run folder (see load_init)"
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    config = load_config(args.config) if args.config else {}
    config = _merged(apply_common_arguments(config, args))
    if args.vgg_weights is not None:
        config["vgg_weights"] = str(args.vgg_weights)
    if args.init is not None:
        config["init"] = str(args.init)
    run_dir = args.run_dir or Path("runs") / "one_to_many"
    save_config(config, run_dir)
    keras.utils.set_random_seed(config["seed"])

    strategy = make_strategy(args.strategy)
    global_batch = config["batch_size"]

    def dataset(start_step: int) -> tf.data.Dataset:
        return training_crops(
            args.data_dir,
            crop_size=config["crop_size"],
            batch_size=global_batch,
            quality_range=tuple(config["quality_range"]),
            seed=config["seed"],
            start_step=start_step,
        )

    with strategy.scope():
        decoder, critic = build_models(config)
        optimizer = keras.optimizers.Adam(config["learning_rate"], beta_1=config["beta_1"])
        critic_optimizer = keras.optimizers.Adam(
            config["critic_learning_rate"], beta_1=config["beta_1"]
        )
        perceptual = perceptual_distance(config["vgg_weights"])
        # A resumed run continues from its own checkpoint; only a new one is warm-started.
        if config["init"] and tf.train.latest_checkpoint(str(run_dir / "checkpoints")) is None:
            load_init(decoder, critic, config["init"])
    steps = OneToManySteps(
        decoder,
        optimizer,
        critic,
        critic_optimizer,
        perceptual,
        global_batch,
        config["subsampling"],
        seed=config["seed"],
        **config["losses"],
    )
    sample = next(iter(dataset(0).take(1)))
    sample = {k: v[:2] for k, v in sample.items()}
    loop = TrainingLoop(
        strategy=strategy,
        run_dir=run_dir,
        total_steps=config["steps"],
        train_step=steps.train_step,
        dataset=dataset,
        trackables={
            "model": decoder,
            "optimizer": optimizer,
            "critic": critic,
            "critic_optimizer": critic_optimizer,
        },
        checkpoint_every=config["checkpoint_every"],
        log_every=config["log_every"],
        image_summaries=_image_summaries(decoder, config, sample),
        image_every=max(config["checkpoint_every"], 1) * 5,
        description="train one-to-many",
    )
    loop.run()
    if args.export is not None:
        from tfjpeg.serving.decoders import export_decoder

        export_decoder(decoder, args.export)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
