"""The training / validation split of an image folder: the honest protocol's one rule.

Checkpoints and hyper-parameters are chosen on a validation part carved out of the training
images, never on Kodak or any image of a reported table (Talebi et al. 2020 §3.3 hold out 10 %
of their data the same way). The rule is deterministic and needs no file beside the images:
the image files of the folder (:func:`tfjpeg.data.folders.list_images`, sorted by name) whose
index is a multiple of :data:`VALIDATION_EVERY` are validation, the rest training. For the
project's 300 training images that is 30 validation and 270 training images.

Example:
    >>> train = split_images(dataset_dir("train"), "train")  # doctest: +SKIP
    >>> validation = split_images(dataset_dir("train"), "validation")  # doctest: +SKIP
    >>> len(train), len(validation)  # doctest: +SKIP
    (270, 30)
"""

from __future__ import annotations

import os
from pathlib import Path

from tfjpeg._checks import check_choice

__all__ = ["SPLITS", "VALIDATION_EVERY", "is_validation_index", "split_images"]

#: The parts of a folder; "all" is every image (no split).
SPLITS = ("train", "validation", "all")
#: Every VALIDATION_EVERY-th image in name order (index 0, 10, 20, ...) is validation.
VALIDATION_EVERY = 10


def is_validation_index(index: int) -> bool:
    """Whether the image at ``index`` of the folder's sorted image list is validation."""
    return index % VALIDATION_EVERY == 0


def split_images(folder: str | os.PathLike, part: str = "train") -> list[Path]:
    """The image files of ``folder`` in ``part`` ("train", "validation" or "all"), by name.

    Raises:
        InvalidArgumentError: ``part`` is not one of :data:`SPLITS`.
    """
    from tfjpeg.data.folders import list_images

    check_choice(part, SPLITS, "part")
    files = list_images(folder)
    if part == "all":
        return files
    want_validation = part == "validation"
    return [p for i, p in enumerate(files) if is_validation_index(i) == want_validation]
