"""Train the digit classifier of classifier-driven exploration (Bahat & Michaeli 2021, B.8).

Data that needs no download: digits rendered with Pillow from the system's fonts
(:mod:`tfjpeg.data.glyphs`), dark on light, with random scale, position, rotation, stroke, ink
and paper levels, blur and noise; ``jpeg_share`` of them also pass through a libjpeg-turbo
JPEG at a random quality (the explorer feeds it decoded JPEG content). Validation: fonts never
used in training (every 5th font, :func:`tfjpeg.data.glyphs.split_fonts`).

The model is a plain ``keras.Sequential`` (standard layers only: no custom class to register):
uint8-range gray (28, 28, 1) in, 10 logits out. It is exported with
:func:`tfjpeg.models.saving.save_keras_model` and its weights stored as float16 (the validation
accuracy of the float16 weights is measured after reloading them).

Configs: ``classifier_digits_robust.json`` (the shipped ``digit-classifier``: adversarial
training, :func:`adversarial_fit`), ``classifier_digits.json`` (the same network trained on
clean samples only, the first shipped version) and ``classifier_digits_judge.json`` (another
design and seed: the independent judge of ``examples/explore_digit.py --judge``).

Usage:
    nice -n 10 python -m trainers.classifier.train \
        --config trainers/configs/classifier_digits_robust.json \
        --run-dir runs/digits [--export saved_models/digit-classifier/1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np


def make_data(count: int, fonts: list[str], config: dict, rng: np.random.Generator):
    """``count`` rendered digits (uint8 (count, size, size, 1)) and their labels."""
    from tfjpeg.data.glyphs import render_digit
    from tfjpeg.io import decode_pixels, encode_pixels

    size = config["size"]
    lo, hi = config["jpeg_qualities"]
    images = np.zeros((count, size, size, 1), np.uint8)
    labels = rng.integers(0, 10, count)
    for i in range(count):
        img = render_digit(int(labels[i]), fonts[rng.integers(len(fonts))], size, rng)
        if rng.random() < config["jpeg_share"]:
            img = decode_pixels(encode_pixels(img, int(rng.integers(lo, hi + 1))))[..., 0]
        images[i, ..., 0] = img
    return images, labels.astype(np.int32)


def build_model(size: int, architecture: str = "cnn"):
    """``cnn``: the shipped classifier. ``judge``: another design (5×5 convolutions, average
    pooling, dropout) for an independent second opinion on the explorer's results, which the
    ``cnn`` it was steered by cannot give (examples/explore_digit.py ``--judge``)."""
    import keras

    if architecture == "cnn":
        body = [
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
        ]
    elif architecture == "judge":
        body = [
            keras.layers.Conv2D(48, 5, padding="same", activation="elu"),
            keras.layers.AveragePooling2D(2),
            keras.layers.Conv2D(96, 5, padding="same", activation="elu"),
            keras.layers.AveragePooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(128, activation="elu"),
        ]
    else:
        raise ValueError(f"architecture must be 'cnn' or 'judge'. Received: {architecture!r}")
    return keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Rescaling(1.0 / 255.0),
            *body,
            keras.layers.Dense(10),
        ],
        name="digit_classifier" if architecture == "cnn" else "digit_judge",
    )


def pgd_l2(model, x, y, epsilon: float, steps: int):
    """An L2 projected-gradient attack (Madry et al. 2018): the perturbation (same units as x,
    0..255) of norm ≤ ``epsilon`` per image that raises the cross-entropy most in ``steps``
    normalized-gradient steps of 2.5·ε/steps, the image kept in 0..255."""
    import tensorflow as tf

    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    alpha = 2.5 * epsilon / steps
    delta = tf.zeros_like(x)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            tape.watch(delta)
            loss = loss_fn(y, model(x + delta, training=False))
        grad = tape.gradient(loss, delta)
        norm = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=[1, 2, 3], keepdims=True)) + 1e-12
        delta = delta + alpha * grad / norm
        size = tf.sqrt(tf.reduce_sum(tf.square(delta), axis=[1, 2, 3], keepdims=True))
        delta = delta * tf.minimum(1.0, epsilon / (size + 1e-12))
        delta = tf.clip_by_value(x + delta, 0.0, 255.0) - x
    return tf.stop_gradient(delta)


def adversarial_fit(model, x_train, y_train, x_val, y_val, config: dict) -> dict[str, list]:
    """Adversarial training (Madry et al. 2018): each batch is trained on together with its
    :func:`pgd_l2` perturbation (``config["adversarial"]``: ``epsilon`` in 0..1 units per
    image, ``steps``, ``ramp_steps``: ε grows from 0 over them, as training from scratch at full
    ε stays at chance). A robust classifier's gradients point to features a person sees
    (Santurkar et al. 2019), so the explorer's classifier tool steers decodings toward digits
    that other classifiers read the same way, not into its adversarial directions."""
    import tensorflow as tf

    settings = config["adversarial"]
    epsilon, steps = 255.0 * float(settings["epsilon"]), int(settings["steps"])
    ramp = int(settings.get("ramp_steps", 0))  # ε grows linearly from 0 over these steps
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = model.optimizer

    @tf.function
    def train_step(x, y, radius):
        delta = pgd_l2(model, x, y, radius, steps)
        both_x, both_y = tf.concat([x, x + delta], 0), tf.concat([y, y], 0)
        with tf.GradientTape() as tape:
            loss = loss_fn(both_y, model(both_x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def robust_correct(x, y):
        delta = pgd_l2(model, x, y, epsilon, steps)
        predicted = tf.argmax(model(x + delta, training=False), -1, output_type=tf.int32)
        return tf.reduce_sum(tf.cast(predicted == y, tf.float32))

    x_train = x_train.astype(np.float32)
    history: dict[str, list] = {
        "loss": [], "val_loss": [], "val_accuracy": [], "val_robust_accuracy": []
    }  # fmt: skip
    rng = np.random.default_rng(config["seed"])
    batch, done = config["batch"], 0
    for epoch in range(config["epochs"]):
        order = rng.permutation(len(x_train))
        losses = []
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            radius = epsilon * min(1.0, (done + 1) / ramp) if ramp else epsilon
            losses.append(float(train_step(x_train[idx], y_train[idx], tf.constant(radius))))
            done += 1
        logits = model.predict(x_val, verbose=0)
        val_loss = float(loss_fn(y_val, logits))
        accuracy = float((logits.argmax(-1) == y_val).mean())
        robust = sum(
            float(robust_correct(x_val[i : i + 256].astype(np.float32), y_val[i : i + 256]))
            for i in range(0, len(x_val), 256)
        ) / len(x_val)
        values = (np.mean(losses), val_loss, accuracy, robust)
        for key, value in zip(history, values, strict=True):
            history[key].append(float(value))
        print(
            f"epoch {epoch + 1}/{config['epochs']}: loss {np.mean(losses):.4f}, val_loss "
            f"{val_loss:.4f}, val_accuracy {accuracy:.4f}, val_robust_accuracy {robust:.4f}",
            flush=True,
        )
    return history


def to_float16(weights_file: Path) -> None:
    """Rewrite a Keras weights file with every float32 array as float16, without the
    optimizer's state (a fresh file: HDF5 does not give back the space of deleted datasets)."""
    import h5py

    fresh = weights_file.with_suffix(".f16.h5")
    with h5py.File(weights_file, "r") as src, h5py.File(fresh, "w") as dst:
        dst.attrs.update(dict(src.attrs))

        def copy(name: str, obj) -> None:
            if name.split("/")[0] == "optimizer":
                return
            if isinstance(obj, h5py.Group):
                dst.require_group(name).attrs.update(dict(obj.attrs))
                return
            data = obj[()]
            if getattr(data, "dtype", None) == np.float32:
                data = data.astype(np.float16)
            dst.create_dataset(name, data=data).attrs.update(dict(obj.attrs))

        src.visititems(copy)
    fresh.replace(weights_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--export", default=None, help="write the float16 model here")
    args = parser.parse_args(argv)
    config = json.loads(Path(args.config).read_text())
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    import keras

    from tfjpeg.data.glyphs import split_fonts, system_fonts
    from tfjpeg.models.saving import WEIGHTS_FILE, load_keras_model, save_keras_model

    keras.utils.set_random_seed(config["seed"])
    train_fonts, val_fonts = split_fonts(system_fonts())
    rng = np.random.default_rng(config["seed"])
    start = time.perf_counter()
    x_train, y_train = make_data(config["train_samples"], train_fonts, config, rng)
    x_val, y_val = make_data(config["val_samples"], val_fonts, config, rng)
    data_s = time.perf_counter() - start
    architecture = config.get("architecture", "cnn")
    model = build_model(config["size"], architecture)
    model.compile(
        optimizer=keras.optimizers.Adam(config["learning_rate"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    if config.get("adversarial"):
        history = adversarial_fit(model, x_train, y_train, x_val, y_val, config)
    else:
        history = model.fit(
            x_train,
            y_train,
            batch_size=config["batch"],
            epochs=config["epochs"],
            validation_data=(x_val, y_val),
            verbose=2,
        ).history
    train_s = time.perf_counter() - start - data_s
    export = Path(args.export) if args.export else run_dir / "export"
    # uncompiled: no optimizer in the shipped files
    plain = build_model(config["size"], architecture)
    plain.set_weights(model.get_weights())
    save_keras_model(plain, export)
    to_float16(export / WEIGHTS_FILE)
    reloaded = load_keras_model(export)
    logits = reloaded.predict(x_val, verbose=0)
    val_acc16 = float((logits.argmax(-1) == y_val).mean())
    steps = config["epochs"] * int(np.ceil(config["train_samples"] / config["batch"]))
    summary = {
        "train_fonts": [Path(f).name for f in train_fonts],
        "val_fonts": [Path(f).name for f in val_fonts],
        "steps": steps,
        "final_train_loss": float(history["loss"][-1]),
        "final_val_loss": float(history["val_loss"][-1]),
        "val_accuracy_float32": float(history["val_accuracy"][-1]),
        "val_accuracy_float16": val_acc16,
        "data_seconds": round(data_s, 1),
        "train_seconds": round(train_s, 1),
        "parameters": int(model.count_params()),
        "adversarial": config.get("adversarial"),
        "val_robust_accuracy": history.get("val_robust_accuracy", [None])[-1],
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"hardware: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
