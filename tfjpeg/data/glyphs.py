"""Digit glyphs rendered with Pillow from the system's fonts: data that needs no download.

The digit classifier of the exploration tools (``saved_models/digit-classifier``, Bahat &
Michaeli 2021 appendix B.8) trains on these, and ``examples/explore_digit.py`` draws its test
digits from fonts the classifier never saw (:func:`split_fonts`: every 5th font in name order is
held out).
"""

from __future__ import annotations

import glob
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["FONT_DIRS", "render_digit", "split_fonts", "system_fonts"]

#: Where :func:`system_fonts` looks for TrueType fonts.
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts"))


def system_fonts() -> list[str]:
    """TrueType/OpenType font files that draw the ten digits, sorted by file name."""
    found = set()
    for folder in FONT_DIRS:
        for ext in ("ttf", "otf"):
            found.update(glob.glob(os.path.join(folder, "**", f"*.{ext}"), recursive=True))
    return sorted(
        (f for f in found if "math" not in os.path.basename(f).lower()), key=os.path.basename
    )


def split_fonts(fonts: list[str]) -> tuple[list[str], list[str]]:
    """(training, held-out) fonts: every 5th font in name order is held out."""
    return (
        [f for i, f in enumerate(fonts) if i % 5 != 0],
        [f for i, f in enumerate(fonts) if i % 5 == 0],
    )


def render_digit(
    digit: int, font: str, size: int, rng: np.random.Generator, jitter: bool = True
) -> np.ndarray:
    """A dark digit on a light background, uint8 (size, size).

    With ``jitter`` the glyph's scale, position, rotation, stroke, ink and paper levels, blur
    and noise are drawn from ``rng`` (training augmentation); without, it is centred and clean.
    """
    canvas = 4 * size
    img = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(img)
    scale = rng.uniform(0.55, 0.85) if jitter else 0.7
    face = ImageFont.truetype(font, max(8, int(canvas * scale)))
    stroke = int(rng.integers(0, 3)) if jitter else 0
    box = draw.textbbox((0, 0), str(digit), font=face, stroke_width=stroke)
    x = (canvas - (box[2] - box[0])) / 2 - box[0]
    y = (canvas - (box[3] - box[1])) / 2 - box[1]
    if jitter:
        x += rng.uniform(-0.08, 0.08) * canvas
        y += rng.uniform(-0.08, 0.08) * canvas
    draw.text((x, y), str(digit), fill=255, font=face, stroke_width=stroke, stroke_fill=255)
    if jitter:
        img = img.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BILINEAR)
    img = img.resize((size, size), Image.Resampling.LANCZOS)
    if jitter and rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.0)))
    ink = np.asarray(img, np.float32) / 255.0
    paper, dark = (rng.uniform(170, 255), rng.uniform(0, 90)) if jitter else (235.0, 20.0)
    out = paper + (dark - paper) * ink
    if jitter:
        out = out + rng.normal(0, rng.uniform(0, 8), out.shape)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
