"""Tests of the synthetic codec test chart (tfjpeg.data.synthetic)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

# The chart function is called through its module, as the other public helpers are.
from tfjpeg.data import synthetic


@pytest.fixture(scope="module")
def chart() -> np.ndarray:
    return synthetic.make_test_chart()


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def test_default_chart_is_512_by_768_rgb_uint8(chart: np.ndarray) -> None:
    assert chart.shape == (512, 768, 3)
    assert chart.dtype == np.uint8
    assert chart.flags.c_contiguous


@pytest.mark.parametrize(("height", "width"), [(32, 32), (37, 53), (64, 96), (300, 200)])
def test_chart_has_the_requested_odd_or_small_size(height: int, width: int) -> None:
    image = synthetic.make_test_chart(height, width)
    assert image.shape == (height, width, 3)
    assert image.dtype == np.uint8


def test_same_seed_gives_an_identical_chart(chart: np.ndarray) -> None:
    np.testing.assert_array_equal(synthetic.make_test_chart(seed=0), chart)
    np.testing.assert_array_equal(
        synthetic.make_test_chart(96, 128, 7), synthetic.make_test_chart(96, 128, 7)
    )


def test_different_seeds_change_only_the_noise_texture(chart: np.ndarray) -> None:
    other = synthetic.make_test_chart(seed=1)
    assert not np.array_equal(other, chart)
    changed_rows, changed_cols = np.nonzero(np.any(other != chart, axis=-1))
    # The noise texture is the bottom-right cell: everything else is analytic or drawn text.
    assert changed_rows.min() >= round(0.68 * 512)
    assert changed_cols.min() >= 3 * 768 // 4


def test_chart_has_high_frequency_energy(chart: np.ndarray) -> None:
    luma = _luma(chart)
    spectrum = np.abs(np.fft.fft2(luma - luma.mean())) ** 2
    fy = np.fft.fftfreq(luma.shape[0])[:, None]
    fx = np.fft.fftfreq(luma.shape[1])[None, :]
    high = np.maximum(np.abs(fy), np.abs(fx)) > 0.25  # beyond half of Nyquist
    assert spectrum[high].sum() / spectrum.sum() > 0.1


def test_chart_has_saturated_colour_pixels(chart: np.ndarray) -> None:
    spread = chart.max(axis=-1).astype(int) - chart.min(axis=-1)
    assert np.mean(spread >= 250) > 0.07
    for channel in range(3):  # pure primaries: one channel 255, the others 0
        others = [c for c in range(3) if c != channel]
        primary = (chart[..., channel] == 255) & np.all(chart[..., others] == 0, axis=-1)
        assert primary.sum() > 1000


def test_chart_has_smooth_gradient_blocks(chart: np.ndarray) -> None:
    luma = chart.astype(np.int16)
    blocks = luma[: 512 // 8 * 8, : 768 // 8 * 8].reshape(64, 8, 96, 8, 3).swapaxes(1, 2)
    step_x = np.abs(np.diff(blocks, axis=3)).max(axis=(2, 3, 4))
    step_y = np.abs(np.diff(blocks, axis=2)).max(axis=(2, 3, 4))
    spread = blocks.max(axis=(2, 3, 4)) - blocks.min(axis=(2, 3, 4))
    smooth_not_flat = (np.maximum(step_x, step_y) <= 6) & (spread > 0)
    assert smooth_not_flat.mean() > 0.2


def test_chart_spans_the_full_range_with_many_colours(chart: np.ndarray) -> None:
    assert chart.min() == 0 and chart.max() == 255
    assert len(np.unique(chart.reshape(-1, 3), axis=0)) > 20000


def test_chart_text_banner_has_dark_glyphs_on_white(chart: np.ndarray) -> None:
    banner = _luma(chart[: round(0.14 * 512) * 5 // 9])
    dark = np.mean(banner < 64)
    assert 0.03 < dark < 0.4


def test_chart_is_hard_for_jpeg_at_low_quality(chart: np.ndarray) -> None:
    buffer = io.BytesIO()
    Image.fromarray(chart).save(buffer, "JPEG", quality=10)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    mse = np.mean((decoded.astype(np.float64) - chart) ** 2)
    assert 10 * np.log10(255**2 / mse) < 25.0
    assert 8 * len(buffer.getvalue()) / (512 * 768) > 0.4


@pytest.mark.parametrize(
    "kwargs",
    [
        {"height": 31},
        {"width": 0},
        {"height": 8193},
        {"height": 64.0},
        {"width": "768"},
        {"height": True},
        {"seed": -1},
        {"seed": 1.5},
    ],
)
def test_invalid_arguments_raise_value_error_naming_the_argument(kwargs: dict) -> None:
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"Received: {name}="):
        synthetic.make_test_chart(**kwargs)
