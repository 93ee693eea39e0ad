"""tfjpeg/io/chart.py: the axes of the Pillow line charts."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from tfjpeg.io.chart import draw_axes


def test_axes_map_the_data_ranges_onto_the_frame():
    img = Image.new("RGB", (300, 200), "white")
    to_px = draw_axes(ImageDraw.Draw(img), (60, 20, 280, 160), (0.0, 2.0), (10.0, 30.0), "bpp")
    assert to_px(0.0, 10.0) == (60, 160)  # lower-left corner
    assert to_px(2.0, 30.0) == (280, 20)  # upper-right corner
    assert to_px(1.0, 20.0) == (170, 90)
    pixels = np.asarray(img)
    assert np.all(pixels[20, 60:281] == 0) and np.all(pixels[20:161, 280] == 0)  # the frame
    assert np.any(pixels[165:200, :60] < 255)  # tick labels below and left of it
    # a degenerate range (one value) still maps without dividing by zero
    flat = draw_axes(ImageDraw.Draw(img), (60, 20, 280, 160), (5.0, 5.0), (1.0, 1.0), "step")
    assert flat(5.0, 1.0) == (60, 160)
