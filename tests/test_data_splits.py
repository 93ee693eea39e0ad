"""tfjpeg.data.splits: every 10th image in name order (from the first) is validation."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tfjpeg.data.splits import is_validation_index, split_images
from tfjpeg.errors import InvalidArgumentError


def test_split_is_every_tenth_image_in_name_order_and_partitions_the_folder(tmp_path):
    names = [f"im{i:02d}.png" for i in range(23)]
    for name in reversed(names):  # creation order must not matter
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")  # not counted
    validation = [p.name for p in split_images(tmp_path, "validation")]
    train = [p.name for p in split_images(tmp_path, "train")]
    assert validation == ["im00.png", "im10.png", "im20.png"]
    assert len(train) == 20 and not set(train) & set(validation)
    assert sorted(train + validation) == names
    assert [p.name for p in split_images(tmp_path, "all")] == names
    assert [i for i in range(300) if is_validation_index(i)] == list(range(0, 300, 10))


def test_unknown_part_names_the_argument(tmp_path):
    with pytest.raises(InvalidArgumentError, match="part must be one of"):
        split_images(tmp_path, "test")
