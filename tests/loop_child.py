"""A small trainer on the shared loop, run in-process or as a child by the trainer-loop tests.

A one-layer conv net learns the identity on random crops of a folder of images (a trivially
learnable problem), with the real pieces: ``training_crops`` (seekable by ``start_step``),
``make_strategy``, ``add_common_arguments``, ``TrainingLoop`` and a Keras 3 Adam optimizer.

    python tests/loop_child.py --data DIR --run-dir RUN --steps 20 [--strategy mirrored]
        [--cpu-devices 2] [--out result.json] [--slow-ms 30]

``--out`` receives JSON: the loop's history, the number of replicas and the final weights.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # trainers/ only: tfjpeg is the installed one

GLOBAL_BATCH = 4
CROP = 8


def build(strategy, *, seed: int, learning_rate: float = 0.02):
    """The model and optimizer, created in ``strategy.scope()`` from ``seed``."""
    import keras

    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = keras.Sequential(
            [keras.Input((None, None, 3)), keras.layers.Conv2D(3, 3, padding="same")]
        )
        optimizer = keras.optimizers.Adam(learning_rate)
    return model, optimizer


def make_train_step(model, optimizer, global_batch: int):
    """Per-replica step: MSE of the identity mapping, gradients scaled to the global batch."""
    import tensorflow as tf

    def train_step(batch):
        x = batch["images"] / 255.0
        with tf.GradientTape() as tape:
            per_example = tf.reduce_mean(tf.square(model(x, training=True) - x), axis=[1, 2, 3])
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return {"loss": tf.reduce_mean(per_example)}

    return train_step


def make_dataset(data: Path, *, seed: int, global_batch: int = GLOBAL_BATCH, slow_ms: int = 0):
    """``start_step -> dataset`` of crops; ``slow_ms`` sleeps per batch (kill tests)."""
    import tensorflow as tf

    from tfjpeg.data.pipelines import training_crops

    def dataset(start_step: int):
        ds = training_crops(
            data, crop_size=CROP, batch_size=global_batch, seed=seed, start_step=start_step
        )
        if slow_ms:

            def slow(batch):
                def sleep(x):
                    time.sleep(slow_ms / 1000)
                    return x

                images = tf.py_function(sleep, [batch["images"]], tf.float32)
                return {**batch, "images": tf.ensure_shape(images, batch["images"].shape)}

            ds = ds.map(slow)
        return ds

    return dataset


def main(argv: list[str] | None = None) -> int:
    from trainers.common import add_common_arguments

    parser = argparse.ArgumentParser(description=__doc__)
    add_common_arguments(parser)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--cpu-devices", type=int, default=1)
    parser.add_argument("--slow-ms", type=int, default=0)
    parser.add_argument("--max-to-keep", type=int, default=3)
    args = parser.parse_args(argv)

    import tensorflow as tf

    if args.cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.cpu_devices
        )
    from trainers.common import TrainingLoop, make_strategy

    strategy = make_strategy(args.strategy)  # first TF work after device setup (multiworker)
    seed = args.seed if args.seed is not None else 0
    model, optimizer = build(strategy, seed=seed)
    loop = TrainingLoop(
        strategy=strategy,
        run_dir=args.run_dir,
        total_steps=args.steps,
        train_step=make_train_step(model, optimizer, GLOBAL_BATCH),
        dataset=make_dataset(args.data, seed=seed, slow_ms=args.slow_ms),
        trackables={"model": model, "optimizer": optimizer},
        checkpoint_every=args.checkpoint_every or 5,
        log_every=args.log_every or 1,
        description="loop test",
        max_to_keep=args.max_to_keep or None,
    )
    history = loop.run()
    if args.out is not None:
        result = {
            "history": history,
            "replicas": strategy.num_replicas_in_sync,
            "weights": [w.tolist() for w in model.get_weights()],
            "pid": os.getpid(),
        }
        args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
