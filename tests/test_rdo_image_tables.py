"""Per-image tables (``tables="per-image"``): the rate-distortion search over scaled base tables."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import natural_image
from tfjpeg.api import compression
from tfjpeg.errors import InvalidArgumentError
from tfjpeg.io import encode_pixels, read_jpeg
from tfjpeg.jpeg.tables import quality_to_tables
from tfjpeg.rdo.encoder import trellis_encode, trellis_files
from tfjpeg.rdo.image_tables import (
    CHROMA_SCALES,
    LUMA_SCALES,
    choose_tables,
    scaled_tables,
)


def _candidates(base: np.ndarray) -> list[np.ndarray]:
    return [scaled_tables(base, lu, ch) for lu in LUMA_SCALES for ch in CHROMA_SCALES]


def _is_candidate(tables: np.ndarray, base: np.ndarray) -> bool:
    return any(np.array_equal(tables, c) for c in _candidates(base))


def test_scaled_tables_scale_luma_and_chroma_apart_and_stay_baseline():
    base = quality_to_tables(50)
    out = scaled_tables(base, 1.1, 0.5)
    np.testing.assert_array_equal(out[0], np.clip(np.round(base[0] * 1.1), 1, 255))
    np.testing.assert_array_equal(out[1], np.clip(np.round(base[1] * 0.5), 1, 255))
    coarse = scaled_tables(quality_to_tables(5), 1.0, 3.0)
    assert coarse.max() == 255 and scaled_tables(quality_to_tables(100), 0.5, 0.5).min() == 1


def test_the_choice_is_the_candidate_of_least_cost_and_never_costs_more_than_the_base():
    image = natural_image(64, 96, seed=11)
    base = quality_to_tables(30)
    choice = choose_tables(image, base, lambda batch: trellis_files(image, batch))
    assert _is_candidate(choice.tables, base)
    np.testing.assert_array_equal(
        choice.tables, scaled_tables(base, choice.luma_scale, choice.chroma_scale)
    )
    assert choice.lam > 0  # the slope of a photo-like image between the two uniform scalings
    costs = [d + choice.lam * r for _, _, r, d in choice.candidates]
    assert choice.cost == pytest.approx(min(costs)) and choice.cost <= choice.base_cost
    assert choice.base_cost == pytest.approx(costs[0])  # the base is the first candidate
    assert len(choice.candidates) == len(LUMA_SCALES) * len(CHROMA_SCALES)
    # the file is the candidate's: its tables, byte for byte what the encoder writes for them
    np.testing.assert_array_equal(read_jpeg(choice.jpeg).tables, choice.tables)
    assert choice.jpeg == trellis_encode(image, tables=choice.tables)


def test_an_image_without_chroma_never_gets_finer_chroma_than_the_base():
    """R = G = B: every chroma coefficient is zero, so the chroma table changes neither bits nor
    distortion; the search must not refine chroma (ties keep the base's table). A slight colour
    ramp, by contrast, is worth a finer chroma DC step at quality 50."""
    gray = natural_image(64, 96, seed=12).astype(np.float32).mean(axis=-1, keepdims=True)
    image = np.repeat(np.round(gray), 3, axis=-1).astype(np.uint8)

    def plain(batch: list[np.ndarray]) -> list[bytes]:
        return [encode_pixels(image, None, tables=t) for t in batch]

    for quality in (15, 50):
        choice = choose_tables(image, quality_to_tables(quality), plain)
        assert choice.chroma_scale == 1.0, (quality, choice.candidates)
        for lu in LUMA_SCALES:  # same luma: the same rate and distortion whatever the chroma
            row = {(r, d) for lum, _, r, d in choice.candidates if lum == lu}
            assert len(row) == 1
    tint = np.linspace(-3.0, 3.0, 96, dtype=np.float32)[None, :, None] * [1.0, 0.0, -1.0]
    image = np.clip(np.round(gray + tint), 0, 255).astype(np.uint8)
    assert choose_tables(image, quality_to_tables(50), plain).chroma_scale < 1.0


def test_compress_per_image_writes_a_candidate_of_the_modes_base_tables():
    from tfjpeg.models.presets import load

    image = natural_image(48, 64, seed=13)
    learned = load("learned_tables").tables(30)
    result = compression.compress_image(image, quality=30, tables="per-image")
    written = read_jpeg(result.jpeg).tables
    assert result.tables == "per-image" and _is_candidate(written, learned)
    assert result.jpeg == trellis_encode(image, tables=written)  # the default path's file
    assert Image.open(io.BytesIO(result.jpeg)).convert("RGB").size == (64, 48)
    optimized = compression.compress_image(image, quality=30, tables="per-image", optimize=1)
    chosen = read_jpeg(optimized.jpeg).tables
    assert _is_candidate(chosen, learned)
    assert optimized.jpeg == compression.compress(image, 30, tables=chosen, optimize=1)
    # outside the learned family's setting the base is the encoder's standard tables
    full = compression.compress_image(image, quality=30, tables="per-image", subsampling="444")
    assert _is_candidate(read_jpeg(full.jpeg).tables, quality_to_tables(30))
    fit = compression.compress_image(image, target_bpp=1.5, tables="per-image", trellis=0)
    assert fit.bpp <= 1.5 and fit.tables == "per-image"


def test_the_combined_distortion_measures_each_part_relative_to_the_base():
    image = natural_image(32, 48, seed=14)
    base = quality_to_tables(40)

    def plain(batch: list[np.ndarray]) -> list[bytes]:
        return [encode_pixels(image, None, tables=t, optimize=True) for t in batch]

    both = choose_tables(image, base, plain, distortion="ms-ssim+mse")
    ssim = choose_tables(image, base, plain, distortion="ms-ssim")
    mse = choose_tables(image, base, plain, distortion="mse")
    assert both.candidates[0][3] == pytest.approx(2.0)  # the base: 1 + 1
    for b, s, m in zip(both.candidates, ssim.candidates, mse.candidates, strict=True):
        expected = s[3] / ssim.candidates[0][3] + m[3] / mse.candidates[0][3]
        assert b[3] == pytest.approx(expected) and b[2] == s[2] == m[2]


def test_images_too_small_for_ms_ssim_are_measured_by_mse():
    image = natural_image(8, 40, seed=15)  # under MS-SSIM's 11-pixel filter on one side
    base = quality_to_tables(30)

    def plain(batch: list[np.ndarray]) -> list[bytes]:
        return [encode_pixels(image, None, tables=t) for t in batch]

    small = choose_tables(image, base, plain)
    assert small.candidates == choose_tables(image, base, plain, distortion="mse").candidates
    for shape in ((1, 1, 3), (8, 8, 1)):
        tiny = np.full(shape, 90, np.uint8)
        result = compression.compress_image(tiny, quality=30, tables="per-image")
        assert result.tables == "per-image" and read_jpeg(result.jpeg).height == shape[0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"distortion": "psnr"}, "distortion"),
        ({"luma_scales": ()}, "luma_scales"),
        ({"chroma_scales": (1.0, -0.5)}, "chroma_scales"),
        ({"luma_scales": "big"}, "luma_scales"),
    ],
)
def test_choose_tables_refuses_bad_settings(kwargs, match):
    image = natural_image(16, 16)
    with pytest.raises(InvalidArgumentError, match=match):
        choose_tables(image, quality_to_tables(30), lambda batch: [], **kwargs)


def test_compress_names_the_per_image_choice_when_refusing_unknown_tables():
    with pytest.raises(InvalidArgumentError, match=r"tables.*per-image"):
        compression.compress(natural_image(16, 16), 30, tables="per_image")
