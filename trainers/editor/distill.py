"""Distillation of the optimize mode into a pre-editor (issue 10): teacher pairs and the loss.

The teacher is ``tfjpeg.compress(..., optimize=N)`` with the learned tables: mozjpeg's trellis
chooses the coefficients (:func:`tfjpeg.rdo.optimize_image`) and :func:`tfjpeg.rdo.realize`
builds uint8 pixels that plain libjpeg-turbo quantizes back to exactly them. A feed-forward
editor (the smoothing editor, then a stock encoder with no trellis) learns to produce pixels that
land on the teacher's coefficients.

* :func:`build_teacher_pairs`: 16-px-aligned crops of the TRAINING part of a folder
  (:func:`tfjpeg.data.splits.split_images`; never validation images, never Kodak) and their
  teacher images at a few qualities of the editors' band, cached as one ``.npz``.
* :func:`teacher_batches`: batches ``{"images", "teacher", "quality", "tables"}`` of the cache,
  deterministic per step (so a resumed run sees the same stream).
* :func:`distillation_loss`: per image, either ``"coefficients"`` — the squared distance (in
  quantization steps) of the editor output's unrounded DCT coefficients to the teacher's
  quantization bins, ``relu(|u − k| − ½)²``: zero exactly where libjpeg-turbo would round the
  output to the teacher's coefficient ``k``, so the student is free inside each bin and is not
  asked to copy the teacher's bin-centre (blocky) pixels — or ``"pixels"``: the L1 distance to
  the teacher's pixels.

No horizontal flips: the trellis' DC search runs along the scan, so the teacher of a flipped
crop is not the flipped teacher.

Usage::

    python -m trainers.editor.distill --out /work/runs/distill/pairs.npz \
        [--crop 128] [--crops-per-image 2] [--qualities 10,15,20,25] [--loops 1]

Reference: Talebi et al. 2020, "Better compression with deep pre-editing", eq. 4 (the optimize
mode) and eq. 5 (the editor); Hinton et al. 2015, "Distilling the knowledge in a neural network".
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DISTILL_LOSSES",
    "DISTILL_QUALITIES",
    "MCU",
    "build_teacher_pairs",
    "distillation_loss",
    "learned_tables",
    "teacher_batches",
    "teacher_images",
]

#: Qualities of the teacher pairs: inside the editors' training band [8, 25] and the learned
#: family's range.
DISTILL_QUALITIES = (10, 15, 20, 25)
#: The 4:2:0 MCU side: crops start and end on it, so their block grid is the file's.
MCU = 16
DISTILL_LOSSES = ("coefficients", "pixels")


def learned_tables(quality: int) -> np.ndarray:
    """The shipped learned family's (2, 8, 8) tables for ``quality``."""
    from tfjpeg.api.compression import learned_table_family

    return np.asarray(learned_table_family().tables(quality), np.float32)


def teacher_images(
    images: np.ndarray, tables: np.ndarray, loops: int = 1, settings: Any = None
) -> tuple[np.ndarray, float]:
    """The optimize mode's uint8 images of a batch (N, H, W, 3) for (2|3, 8, 8) ``tables``.

    The trellis (``loops`` loops, :class:`tfjpeg.rdo.RDOSettings` default: ``tfjpeg.compress``'s)
    chooses the coefficients, :func:`tfjpeg.rdo.realize` turns them into pixels that
    libjpeg-turbo quantizes back to them. Returns ``(pixels, mismatch)``: the fraction of
    coefficients libjpeg-turbo still quantizes differently.
    """
    import tensorflow as tf

    from tfjpeg.rdo import RDOSettings, optimize_coefficients, realize

    settings = settings or RDOSettings()
    n, height, width = images.shape[:3]
    t = tf.broadcast_to(tf.constant(tables, tf.float32), [n, *np.shape(tables)])
    x = tf.constant(np.asarray(images, np.float32))
    coefficients = optimize_coefficients(x, t, loops, settings.lam(t), settings, None, "420")
    return realize(coefficients, t, height, width, "420")


def _aligned_crops(image: np.ndarray, crop: int, count: int, rng: np.random.Generator):
    """``count`` crops of side ``crop`` at MCU-aligned random offsets (reflect-padded if small)."""
    h, w = image.shape[:2]
    if h < crop or w < crop:
        image = np.pad(image, ((0, max(crop - h, 0)), (0, max(crop - w, 0)), (0, 0)), "reflect")
        h, w = image.shape[:2]
    out = []
    for _ in range(count):
        y = MCU * int(rng.integers(0, (h - crop) // MCU + 1))
        x = MCU * int(rng.integers(0, (w - crop) // MCU + 1))
        out.append(image[y : y + crop, x : x + crop])
    return out


def build_teacher_pairs(
    out: str | os.PathLike,
    folder: str | os.PathLike | None = None,
    *,
    crop: int = 128,
    crops_per_image: int = 2,
    qualities: Sequence[int] = DISTILL_QUALITIES,
    loops: int = 1,
    seed: int = 0,
    chunk: int = 32,
    limit: int | None = None,
) -> dict[str, Any]:
    """Crops of the training part of ``folder`` and their teacher images, saved to ``out``.

    The ``.npz`` holds ``images`` uint8 (N, crop, crop, 3), ``teachers`` uint8
    (N, Q, crop, crop, 3), ``qualities`` (Q,), ``tables`` (Q, 2, 8, 8) (the learned ones),
    ``mismatch`` (Q,) and the ``names`` of the source images. Returns a summary.
    """
    from tfjpeg.data.folders import dataset_dir, load_image
    from tfjpeg.data.splits import split_images
    from tfjpeg.io.atomic import save_bytes_atomic

    if crop % MCU:
        raise ValueError(f"crop must be a multiple of {MCU}. Received: crop={crop}")
    paths = split_images(dataset_dir("train", folder), "train")[:limit]
    rng = np.random.default_rng(seed)
    crops, names = [], []
    for path in paths:
        for c in _aligned_crops(load_image(path), crop, crops_per_image, rng):
            crops.append(c)
            names.append(path.name)
    images = np.stack(crops)
    tables = np.stack([learned_tables(q) for q in qualities])
    teachers = np.empty((len(images), len(qualities), crop, crop, 3), np.uint8)
    mismatch = np.zeros(len(qualities))
    started = time.time()
    for j, table in enumerate(tables):
        for i in range(0, len(images), chunk):
            pixels, wrong = teacher_images(images[i : i + chunk], table, loops)
            teachers[i : i + chunk, j] = pixels
            mismatch[j] += wrong * len(pixels) / len(images)
    buffer = io.BytesIO()
    np.savez(
        buffer, images=images, teachers=teachers, qualities=np.asarray(qualities, np.int32),
        tables=tables, mismatch=mismatch, names=np.asarray(names), loops=np.int32(loops),
    )  # fmt: skip
    save_bytes_atomic(out, buffer.getvalue(), overwrite=True)
    return {
        "pairs": len(images),
        "qualities": list(qualities),
        "mismatch": mismatch.tolist(),
        "seconds": time.time() - started,
    }


def teacher_batches(pairs: str | os.PathLike, batch_size: int, seed: int = 0, start_step: int = 0):
    """Endless ``tf.data`` batches of the cache: ``images`` and ``teacher`` float32 [0, 255],
    ``quality`` float32 (B,), ``tables`` float32 (B, 2, 8, 8); batch ``s`` depends only on
    ``(seed, s)``."""
    import tensorflow as tf

    data = np.load(pairs)
    images, teachers = data["images"], data["teachers"]
    qualities, tables = data["qualities"].astype(np.float32), data["tables"].astype(np.float32)
    n, k, size = len(images), len(qualities), images.shape[1]

    def generate():
        step = start_step
        while True:
            rng = np.random.default_rng([seed, step])
            i, j = rng.integers(0, n, batch_size), rng.integers(0, k, batch_size)
            yield {
                "images": images[i].astype(np.float32),
                "teacher": teachers[i, j].astype(np.float32),
                "quality": qualities[j],
                "tables": tables[j],
            }
            step += 1

    pixels = tf.TensorSpec([batch_size, size, size, 3], tf.float32)
    signature = {
        "images": pixels,
        "teacher": pixels,
        "quality": tf.TensorSpec([batch_size], tf.float32),
        "tables": tf.TensorSpec([batch_size, *tables.shape[1:]], tf.float32),
    }
    return tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(2)


def distillation_loss(edited, teacher, tables, kind: str = "coefficients"):
    """Per-image distance (N,) of ``edited`` to the ``teacher`` images (float [0, 255]).

    ``"coefficients"``: mean over every coefficient of ``relu(|u − k| − ½)²``, ``u`` the
    edited images' DCT coefficients in quantization steps (float path of
    :func:`tfjpeg.jpeg.encode`, differentiable), ``k`` the teacher's as libjpeg-turbo
    quantizes them (exact path); ``"pixels"``: mean ``|edited − teacher| / 255``.
    """
    import tensorflow as tf

    from tfjpeg.jpeg import encode

    if kind not in DISTILL_LOSSES:
        raise ValueError(f"kind must be one of {DISTILL_LOSSES}. Received: kind={kind!r}")
    if kind == "pixels":
        return tf.reduce_mean(tf.abs(edited - teacher), axis=[1, 2, 3]) / 255.0
    target = encode(teacher, tables, "420", "hard")["coefficients"]
    unrounded = encode(edited, tables, "420", "poly3")["unrounded"]
    total, count = 0.0, 0
    for u, k in zip(unrounded, target, strict=True):
        outside = tf.nn.relu(tf.abs(u - tf.stop_gradient(k)) - 0.5)
        total += tf.reduce_sum(tf.square(outside), axis=[1, 2, 3, 4])
        count += int(np.prod(u.shape[1:]))
    return total / float(count)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainers.editor.distill",
        description="Build the teacher pairs (optimize mode, learned tables) of the training part.",
    )
    parser.add_argument("--out", type=Path, required=True, help="the .npz to write")
    parser.add_argument("--data-dir", default=None, help="training folder ($TFJPEG_TRAIN_DIR)")
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--crops-per-image", type=int, default=2)
    parser.add_argument(
        "--qualities", default=",".join(map(str, DISTILL_QUALITIES)), help="comma-separated"
    )
    parser.add_argument("--loops", type=int, default=1, help="trellis loops of the teacher")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="first N training images")
    args = parser.parse_args(argv)
    summary = build_teacher_pairs(
        args.out, args.data_dir, crop=args.crop, crops_per_image=args.crops_per_image,
        qualities=[int(q) for q in args.qualities.split(",")], loops=args.loops,
        seed=args.seed, limit=args.limit,
    )  # fmt: skip
    print(summary)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
