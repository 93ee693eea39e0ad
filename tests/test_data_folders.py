"""Image folder loading: env variables, clear errors, pixel limit."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tfjpeg.data import dataset_dir, iter_images, list_images, load_image
from tfjpeg.errors import ImageTooLargeError, InvalidImageError, TfjpegError


@pytest.fixture
def folder(tmp_path):
    for i, size in enumerate([(8, 6), (5, 7)]):
        Image.fromarray(np.full((*size, 3), 40 * i, np.uint8)).save(tmp_path / f"im{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_dataset_dir_reads_the_environment_variable(folder, monkeypatch):
    monkeypatch.setenv("TFJPEG_KODAK_DIR", str(folder))
    assert dataset_dir("kodak") == folder
    assert [p.name for p in list_images(folder)] == ["im0.png", "im1.png"]


def test_dataset_dir_without_a_path_says_which_variable_to_set(monkeypatch):
    monkeypatch.delenv("TFJPEG_TRAIN_DIR", raising=False)
    with pytest.raises(TfjpegError, match="TFJPEG_TRAIN_DIR"):
        dataset_dir("train")


def test_dataset_dir_rejects_missing_and_empty_folders(tmp_path):
    with pytest.raises(TfjpegError, match="does not exist"):
        dataset_dir("kodak", tmp_path / "nope")
    with pytest.raises(TfjpegError, match="no images"):
        dataset_dir("kodak", tmp_path)


def test_iter_images_yields_names_and_rgb_arrays(folder):
    items = list(iter_images(folder))
    assert [name for name, _ in items] == ["im0", "im1"]
    assert items[1][1].shape == (5, 7, 3) and items[1][1].dtype == np.uint8
    assert int(items[1][1][0, 0, 0]) == 40


def test_load_image_rejects_non_images_and_huge_images(folder):
    with pytest.raises(InvalidImageError, match="cannot read"):
        load_image(folder / "notes.txt")
    with pytest.raises(ImageTooLargeError, match=r"im0\.png: .*6x8 = 48 pixels.*limit of 47"):
        load_image(folder / "im0.png", max_pixels=47)
    assert load_image(folder / "im0.png", max_pixels=48).shape == (8, 6, 3)
