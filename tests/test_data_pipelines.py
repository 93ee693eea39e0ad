"""tfjpeg.data.pipelines.training_crops: crops of the real images, flips, qualities, seeds,
resumable start, padding of small images, bad arguments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfjpeg.data.pipelines import training_crops
from tfjpeg.errors import TfjpegError


def _unique_image(height: int, width: int, index: int) -> np.ndarray:
    """Pixels whose (R, G, B) triple is unique across all test images (crops are traceable)."""
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([yy * 4 + index % 4, xx * 4 + index // 4, np.full_like(yy, 7 * index)], -1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    root = tmp_path_factory.mktemp("crops")
    images = []
    for i, (h, w) in enumerate([(20, 24), (17, 30), (25, 18), (22, 22), (19, 27)]):
        img = _unique_image(h, w, i).astype(np.uint8)
        Image.fromarray(img).save(root / f"img{i}.png")
        images.append(img)
    return root, images


def _batches(ds, count: int) -> list[dict[str, np.ndarray]]:
    return [{k: v.numpy() for k, v in b.items()} for b in ds.take(count)]


def _locate(crop: np.ndarray, images: list[np.ndarray]) -> tuple[int, bool]:
    """(image index, flipped) of the image a crop was cut from; fails if it is no crop."""
    c = crop.shape[0]
    for flipped, candidate in ((False, crop), (True, crop[:, ::-1])):
        corner = candidate[0, 0]
        for idx, img in enumerate(images):
            hits = np.argwhere(np.all(img == corner, axis=-1))
            for y, x in hits:
                window = img[y : y + c, x : x + c]
                if window.shape[:2] == (c, c) and np.array_equal(window, candidate):
                    return idx, flipped
    raise AssertionError("crop is not a window of any image")


def test_batches_are_crops_of_the_images_with_qualities(folder):
    root, images = folder
    ds = training_crops(
        root, crop_size=8, batch_size=6, quality_range=(8, 25), seed=1, split="all"
    )
    assert ds.element_spec["images"].shape.as_list() == [6, 8, 8, 3]
    seen_images, flips, qualities = set(), [], []
    for batch in _batches(ds, 8):
        assert batch["images"].dtype == np.float32 and batch["quality"].dtype == np.float32
        for crop in batch["images"]:
            assert crop.min() >= 0 and crop.max() <= 255
            idx, flipped = _locate(crop.astype(np.uint8), images)
            seen_images.add(idx)
            flips.append(flipped)
        qualities.extend(batch["quality"].tolist())
    assert seen_images == set(range(len(images)))
    assert 0.2 < np.mean(flips) < 0.8  # 48 crops, fair coin
    q = np.array(qualities)
    assert np.all(q == np.round(q)) and q.min() >= 8 and q.max() <= 25
    assert len(set(q.tolist())) >= 10  # spread over the range


def test_no_flips_no_quality(folder):
    root, images = folder
    ds = training_crops(root, crop_size=8, batch_size=5, quality_range=None, flips=False)
    for batch in _batches(ds, 4):
        assert set(batch) == {"images"}
        for crop in batch["images"]:
            assert _locate(crop.astype(np.uint8), images)[1] is False


def test_same_seed_same_stream_other_seed_differs(folder):
    root, _ = folder
    a = _batches(training_crops(root, crop_size=8, batch_size=4, seed=3), 3)
    b = _batches(training_crops(root, crop_size=8, batch_size=4, seed=3), 3)
    c = _batches(training_crops(root, crop_size=8, batch_size=4, seed=4), 3)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x["images"], y["images"])
        np.testing.assert_array_equal(x["quality"], y["quality"])
    assert not all(np.array_equal(x["images"], z["images"]) for x, z in zip(a, c, strict=True))


def test_start_step_continues_the_stream(folder):
    root, _ = folder
    full = _batches(training_crops(root, crop_size=8, batch_size=3, seed=2), 6)
    resumed = _batches(training_crops(root, crop_size=8, batch_size=3, seed=2, start_step=4), 2)
    for x, y in zip(full[4:], resumed, strict=True):
        np.testing.assert_array_equal(x["images"], y["images"])
        np.testing.assert_array_equal(x["quality"], y["quality"])


def test_one_epoch_visits_every_image_once(folder):
    root, images = folder
    ds = training_crops(root, crop_size=8, batch_size=2, repeat=False, flips=False, split="all")
    batches = _batches(ds, 100)
    assert [b["images"].shape[0] for b in batches] == [2, 2, 1]
    found = sorted(_locate(c.astype(np.uint8), images)[0] for b in batches for c in b["images"])
    assert found == list(range(len(images)))


def test_small_images_are_reflect_padded(tmp_path):
    img = _unique_image(3, 5, 1).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "small.png")
    (batch,) = _batches(
        training_crops(
            tmp_path, crop_size=9, batch_size=1, flips=False, quality_range=None, split="all"
        ),
        1,
    )
    expected = np.pad(img, ((0, 6), (0, 4), (0, 0)), mode="reflect")  # reflect repeats as needed
    rows = [0, 1, 2, 1, 0, 1, 2, 1, 0]
    cols = [0, 1, 2, 3, 4, 3, 2, 1, 0]
    np.testing.assert_array_equal(batch["images"][0], img[rows][:, cols])
    np.testing.assert_array_equal(expected[:9, :9], img[rows][:, cols])


def test_one_pixel_image_and_jpeg_input(tmp_path):
    Image.fromarray(np.full((1, 1, 3), 200, np.uint8)).save(tmp_path / "dot.png")
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(tmp_path / "flat.jpg", quality=95)
    for batch in _batches(training_crops(tmp_path, crop_size=4, batch_size=2, split="all"), 3):
        for crop in batch["images"]:
            assert np.all(crop == 200) or np.all(np.abs(crop - 90) <= 2)


def test_skips_undecodable_formats_with_a_warning(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "b.tif")
    with pytest.warns(UserWarning, match="skipping 1 image"):
        training_crops(tmp_path, crop_size=4, batch_size=1, split="all")
    (tmp_path / "a.png").unlink()
    with pytest.raises(TfjpegError, match="no images tf"), pytest.warns(UserWarning):
        training_crops(tmp_path, crop_size=4, batch_size=1, split="all")


def test_corrupt_truncated_oversized_and_16_bit_files(tmp_path, monkeypatch):
    good = np.full((12, 12, 3), 100, np.uint8)
    Image.fromarray(good).save(tmp_path / "good.png")
    (tmp_path / "garbage.png").write_bytes(b"not an image at all")
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "big.png")
    noisy = np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    Image.fromarray(noisy).save(tmp_path / "truncated.png")
    data = (tmp_path / "truncated.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])  # header fine, body cut
    deep = Image.fromarray(np.full((10, 10), 200 * 257, np.uint16))  # 16-bit gray PNG
    deep.save(tmp_path / "deep.png")
    monkeypatch.setenv("TFJPEG_MAX_PIXELS", "1000")  # big.png (1600 px) is over the limit
    with pytest.warns(UserWarning, match=r"skipping 2 unreadable.*big.png, garbage.png"):
        ds = training_crops(tmp_path, crop_size=8, batch_size=4, quality_range=None, split="all")
    values = set()
    for batch in _batches(ds, 5):  # the truncated file is dropped while decoding
        for crop in batch["images"]:
            assert len(np.unique(crop)) == 1  # a flat image, not noise or zeros
            values.add(float(crop[0, 0, 0]))
    assert values == {100.0, 200.0}


def test_missing_folder_and_env_default(tmp_path, monkeypatch):
    with pytest.raises(TfjpegError):
        training_crops(tmp_path / "nope", crop_size=4, batch_size=1)
    monkeypatch.delenv("TFJPEG_TRAIN_DIR", raising=False)
    with pytest.raises(TfjpegError, match="TFJPEG_TRAIN_DIR"):
        training_crops(None, crop_size=4, batch_size=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"crop_size": 0}, "crop_size"),
        ({"crop_size": 8.0}, "crop_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"quality_range": (0, 20)}, "quality_range"),
        ({"quality_range": (30, 20)}, "quality_range"),
        ({"quality_range": (8, 101)}, "quality_range"),
        ({"quality_range": (8.5, 20)}, "quality_range"),
        ({"start_step": -1}, "start_step"),
        ({"seed": 1.5}, "seed"),
        ({"split": "test"}, "split"),
    ],
)
def test_bad_arguments(folder, kwargs, match):
    args = {"crop_size": 8, "batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        training_crops(folder[0], **args)


def test_default_reads_only_the_training_part_of_the_split(folder):
    """Image 0 of the 5 (name order) is validation: the default stream never shows it, the
    validation stream shows only it."""
    root, images = folder
    train = training_crops(root, crop_size=8, batch_size=4, repeat=False, flips=False)
    found = sorted(_locate(c.astype(np.uint8), images)[0] for b in _batches(train, 10)
                   for c in b["images"])  # fmt: skip
    assert found == [1, 2, 3, 4]
    validation = training_crops(
        root, crop_size=8, batch_size=4, repeat=False, flips=False, split="validation"
    )
    found = [_locate(c.astype(np.uint8), images)[0] for b in _batches(validation, 10)
             for c in b["images"]]  # fmt: skip
    assert found == [0]


def test_an_empty_training_part_is_a_clear_error(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "only.png")  # validation
    with pytest.raises(TfjpegError, match="'train' part of the split holds no images"):
        training_crops(tmp_path, crop_size=4, batch_size=1)
