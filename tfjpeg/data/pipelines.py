"""tf.data training input: random crops, flips and one random JPEG quality per image.

Only the training part of a folder is read by default (:mod:`tfjpeg.data.splits`): the
validation images, on which checkpoints are chosen, are never trained on.

Every random choice is a stateless function of ``(seed, global example index)``, so the stream
is deterministic for a seed, identical on every worker, and can be started at any step without
replaying the steps before it (``start_step``), which is how a resumed training run continues
with new batches instead of repeating the first ones.

Example:
    >>> ds = training_crops(dataset_dir("train"), crop_size=128, batch_size=16)
    >>> batch = next(iter(ds))
    >>> batch["images"].shape, batch["quality"].shape
    (TensorShape([16, 128, 128, 3]), TensorShape([16]))
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import tensorflow as tf
from PIL import Image

from tfjpeg._checks import MAX_QUALITY, MIN_QUALITY, is_int
from tfjpeg.data.folders import dataset_dir
from tfjpeg.data.splits import SPLITS, split_images
from tfjpeg.errors import TfjpegError
from tfjpeg.io.limits import resolve_max_pixels

__all__ = ["DECODABLE_EXTENSIONS", "training_crops"]

# What tf.io.decode_image reads (the other extensions of tfjpeg.data.folders are skipped).
DECODABLE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}. Received: {name}={value!r}")
    return value


def _image_files(directory: str | os.PathLike | None, split: str) -> list[str]:
    """The images of the folder's ``split`` part (:mod:`tfjpeg.data.splits`) tf.io can decode,
    minus unreadable or oversized ones (warned)."""
    folder = dataset_dir("train", directory)
    files = split_images(folder, split)
    if not files:
        raise TfjpegError(
            f"{folder}: the {split!r} part of the split holds no images (every "
            "10th image in name order is validation, starting with the first); "
            "pass split='all' to train on every image."
        )
    usable = [p for p in files if p.suffix.lower() in DECODABLE_EXTENSIONS]
    if len(usable) < len(files):
        warnings.warn(
            f"training_crops: skipping {len(files) - len(usable)} image(s) in {folder} that "
            f"tf.io cannot decode (only {', '.join(DECODABLE_EXTENSIONS)}).",
            stacklevel=3,
        )
    limit = resolve_max_pixels(None)
    good, bad = [], []
    for path in usable:  # headers only: cheap, catches truncated/garbage files and bombs
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as img:
                    ok = img.width * img.height <= limit
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            ok = False
        (good if ok else bad).append(str(path))
    if bad:
        names = ", ".join(Path(p).name for p in bad[:5]) + (" ..." if len(bad) > 5 else "")
        warnings.warn(
            f"training_crops: skipping {len(bad)} unreadable image(s) or image(s) over "
            f"{limit} pixels in {folder}: {names}",
            stacklevel=3,
        )
    if not good:
        raise TfjpegError(
            f"{folder} holds no images tf.data can decode ({', '.join(DECODABLE_EXTENSIONS)})."
        )
    return good


def _reflect_indices(size: tf.Tensor, target: int) -> tf.Tensor:
    """Indices 0..target-1 folded into [0, size) by reflection (no edge repeat), any size >= 1."""
    idx = tf.range(target)
    period = tf.maximum(2 * (size - 1), 1)
    j = idx % period
    j = tf.where(j >= size, period - j, j)
    return tf.minimum(j, size - 1)


def _random_crop(image: tf.Tensor, crop: int, seed: tf.Tensor) -> tf.Tensor:
    """A random crop x crop window; a side shorter than ``crop`` is reflect-padded."""
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    seeds = tf.random.experimental.stateless_split(seed, 2)
    top = tf.random.stateless_uniform(
        [], seeds[0], minval=0, maxval=tf.maximum(h - crop, 0) + 1, dtype=tf.int32
    )
    left = tf.random.stateless_uniform(
        [], seeds[1], minval=0, maxval=tf.maximum(w - crop, 0) + 1, dtype=tf.int32
    )
    window = image[top : top + crop, left : left + crop]
    wh = tf.shape(window)
    window = tf.gather(window, _reflect_indices(wh[0], crop), axis=0)
    window = tf.gather(window, _reflect_indices(wh[1], crop), axis=1)
    return tf.ensure_shape(window, [crop, crop, 3])


def training_crops(
    directory: str | os.PathLike | None,
    *,
    crop_size: int,
    batch_size: int,
    quality_range: tuple[int, int] | None = (8, 25),
    seed: int = 0,
    flips: bool = True,
    repeat: bool = True,
    start_step: int = 0,
    split: str = "train",
) -> tf.data.Dataset:
    """Batches of random square crops from a folder of images, for training.

    Each example picks an image (a fresh random permutation of the folder every epoch), a
    random ``crop_size`` window (images smaller than that are reflect-padded), an optional
    horizontal flip and, if ``quality_range`` is given, one integer JPEG quality drawn uniformly
    from the inclusive range. Images are decoded with ``tf.io.decode_image`` (PNG, JPEG, BMP;
    gray, RGBA and 16-bit become 8-bit RGB). Files that cannot be opened or exceed the pixel
    limit (``$TFJPEG_MAX_PIXELS``, 100 M) are skipped with a warning; an image whose data turn
    out corrupt while decoding is dropped with a logged warning.

    Args:
        directory: Folder of training images; ``None`` means ``$TFJPEG_TRAIN_DIR``.
        crop_size: Side of the square crops in pixels.
        batch_size: GLOBAL batch size (all replicas of all workers together). The stream is
            not sharded here: ``trainers.common.TrainingLoop`` distributes it (across workers
            by tf.data's DATA auto-sharding).
        quality_range: Inclusive ``(low, high)`` IJG qualities in [1, 100], or ``None`` for
            no ``"quality"`` key.
        seed: Seed of every random choice; the same seed gives the same stream.
        flips: Random horizontal flips.
        repeat: Endless stream (batches of exactly ``batch_size``). ``False``: one epoch over
            the folder, the last batch may be smaller.
        start_step: Begin at global batch ``start_step`` (cheap: nothing before it is read).
        split: the part of the folder to read (:func:`tfjpeg.data.splits.split_images`):
            "train" (the default: every image but the validation ones, so a trainer never sees
            the images its checkpoints are chosen on), "validation" or "all".

    Returns:
        A dataset of dicts ``{"images": float32 (B, crop, crop, 3) in [0, 255],
        "quality": float32 (B,) integer-valued}`` (``"quality"`` only with a range).

    Raises:
        ValueError: an argument is out of range.
        TfjpegError: the folder (or its ``split`` part) is missing or holds no decodable images.
    """
    crop_size = _check_int("crop_size", crop_size, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    start_step = _check_int("start_step", start_step, 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer. Received: seed={seed!r}")
    if quality_range is not None and (
        len(quality_range) != 2
        or not all(is_int(q) for q in quality_range)
        or not MIN_QUALITY <= quality_range[0] <= quality_range[1] <= MAX_QUALITY
    ):
        raise ValueError(
            "quality_range must be two integers 1 <= low <= high <= 100 or None. "
            f"Received: quality_range={quality_range!r}"
        )
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}. Received: split={split!r}")
    files = _image_files(directory, split)
    n = len(files)
    file_table = tf.constant(files)
    seed_t = tf.constant(seed, tf.int64)

    # Example index g of the stream; batch k holds examples [k·batch_size, (k + 1)·batch_size).
    if repeat:
        indices = tf.data.Dataset.range(start_step * batch_size, 2**62)
    else:  # one epoch: examples [start, n)
        indices = tf.data.Dataset.range(start_step * batch_size, n)

    def load(g: tf.Tensor) -> dict[str, tf.Tensor]:
        epoch, pos = g // n, g % n
        order = tf.argsort(tf.random.stateless_uniform([n], tf.stack([seed_t, -1 - epoch])))
        data = tf.io.read_file(tf.gather(file_table, tf.gather(order, pos)))
        # uint8 also for 16-bit PNGs (scaled), RGB also for gray/RGBA.
        image = tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False)
        seeds = tf.random.experimental.stateless_split(tf.stack([seed_t, g]), 3)
        image = tf.cast(_random_crop(image, crop_size, seeds[0]), tf.float32)
        if flips:
            flip = tf.random.stateless_uniform([], seeds[1]) < 0.5
            image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
        out = {"images": image}
        if quality_range is not None:
            q = tf.random.stateless_uniform(
                [], seeds[2], minval=quality_range[0], maxval=quality_range[1] + 1, dtype=tf.int32
            )
            out["quality"] = tf.cast(q, tf.float32)
        return out

    ds = indices.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # A file whose body is corrupt (its header was fine) is dropped with a logged warning
    # instead of stopping a long training run.
    ds = ds.ignore_errors(log_warning=True)
    ds = ds.batch(batch_size, drop_remainder=repeat).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    return ds.with_options(options)
