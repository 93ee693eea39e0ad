"""Axes of a line chart drawn with Pillow (the RD plots of ``examples/kodak_preedit.py`` and the
validation curves of ``trainers.decoder.plot_validation``)."""

from __future__ import annotations

from collections.abc import Callable

from PIL import ImageDraw

__all__ = ["draw_axes"]

_BLACK = (0, 0, 0)


def draw_axes(
    draw: ImageDraw.ImageDraw,
    box: tuple[float, float, float, float],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    x_label: str,
    x_format: str = ".2f",
    y_format: str = ".3g",
    ticks: int = 5,
) -> Callable[[float, float], tuple[float, float]]:
    """Frame ``box`` (left, top, right, bottom), ``ticks + 1`` labelled ticks on both axes and
    the x label; returns the map from data (x, y) to pixel coordinates."""
    left, top, right, bottom = box
    (x_lo, x_hi), (y_lo, y_hi) = x_range, y_range

    def to_px(x: float, y: float) -> tuple[float, float]:
        return (
            left + (x - x_lo) / ((x_hi - x_lo) or 1.0) * (right - left),
            bottom - (y - y_lo) / ((y_hi - y_lo) or 1.0) * (bottom - top),
        )

    draw.rectangle([left, top, right, bottom], outline=_BLACK)
    for i in range(ticks + 1):
        xv = x_lo + i * (x_hi - x_lo) / ticks
        px, _ = to_px(xv, y_lo)
        draw.line([px, bottom, px, bottom + 4], fill=_BLACK)
        draw.text((px - 12, bottom + 6), format(xv, x_format), fill=_BLACK)
        yv = y_lo + i * (y_hi - y_lo) / ticks
        _, py = to_px(x_lo, yv)
        draw.line([left - 4, py, left, py], fill=_BLACK)
        draw.text((left - 50, py - 6), format(yv, y_format), fill=_BLACK)
    draw.text(((left + right) / 2 - 10, bottom + 20), x_label, fill=_BLACK)
    return to_px
