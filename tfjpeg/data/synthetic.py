"""A deterministic codec test chart that tfjpeg draws itself (no downloads, no font files).

The chart packs the content that JPEG finds hard at low quality into one image: text and large
digits (ringing around glyphs), sharp edges (a Siemens star, multi-scale checkerboards, a fan of
lines, a zone plate: aliasing, ringing and blocking), smooth colour and gray gradients (banding and
blocking), band-limited noise texture (the texture gets smeared away), and saturated colour patches
(chroma subsampling bleed). Only the noise depends on ``seed``; everything else is analytic or
drawn with Pillow's embedded font, so the same arguments always give the same pixels.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["MAX_SIDE", "MIN_SIDE", "SENTENCE", "make_test_chart"]

#: Smallest and largest chart side in pixels.
MIN_SIDE = 32
MAX_SIDE = 8192

#: The sentence in the chart's text banner (a pangram, so every lowercase letter appears).
SENTENCE = "The quick brown fox jumps over the lazy dog."

_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
_RGB = tuple[int, int, int]

# Fractions of the height at which the four chart bands start/end: text, digits, edges, colour.
_BANDS = (0.0, 0.14, 0.36, 0.68, 1.0)

_SATURATED: tuple[_RGB, ...] = (
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (0, 255, 255),
    (255, 0, 255),
    (255, 255, 0),
    (255, 128, 0),
    (128, 0, 255),
    (0, 128, 255),
    (255, 0, 128),
    (128, 255, 0),
    (0, 255, 128),
)


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer. Received: {name}={value!r}")
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}. Received: {name}={value}")
    return int(value)


def _font(size: int) -> _Font:
    """Pillow's embedded scalable font at ``size`` px, or the bitmap default without FreeType."""
    try:
        return ImageFont.load_default(size=max(1, size))
    except (ImportError, OSError):  # Pillow built without FreeType
        bitmap = getattr(ImageFont, "load_default_imagefont", None)
        return bitmap() if bitmap is not None else ImageFont.load_default()


def _text_image(text: str, height: int, width: int, fg: _RGB, bg: _RGB) -> np.ndarray:
    """``text`` as large as fits in a ``height`` x ``width`` box, centred, as uint8 RGB."""
    probe = _font(100)
    scalable = isinstance(probe, ImageFont.FreeTypeFont)
    ref = 100 if scalable else 1
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox(
        (0, 0), text, font=probe
    )
    text_w, text_h = max(1, right - left), max(1, bottom - top)
    if scalable:
        size = max(1, int(ref * min(0.8 * height / text_h, 0.94 * width / text_w)))
        font = _font(size)
        box = Image.new("RGB", (width, height), bg)
        draw = ImageDraw.Draw(box)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        origin = ((width - (right - left)) / 2 - left, (height - (bottom - top)) / 2 - top)
        draw.text(origin, text, fill=fg, font=font)
        return np.asarray(box)
    # Bitmap fallback: draw at native size, then scale up with nearest neighbour.
    small = Image.new("RGB", (text_w + 2, text_h + 2), bg)
    ImageDraw.Draw(small).text((1 - left, 1 - top), text, fill=fg, font=probe)
    scale = min(0.8 * height / small.height, 0.94 * width / small.width)
    new_w, new_h = max(1, int(small.width * scale)), max(1, int(small.height * scale))
    small = small.resize((new_w, new_h), Image.Resampling.NEAREST)
    box = Image.new("RGB", (width, height), bg)
    box.paste(small, ((width - new_w) // 2, (height - new_h) // 2))
    return np.asarray(box)


def _supersampled(height: int, width: int, draw: Callable[[ImageDraw.ImageDraw, int], None]):
    """Draws at 4x in gray and box-filters down: anti-aliased edges, like a photographed chart."""
    factor = 4
    big = Image.new("L", (width * factor, height * factor), 255)
    draw(ImageDraw.Draw(big), factor)
    small = big.resize((width, height), Image.Resampling.BOX)
    return np.repeat(np.asarray(small)[..., None], 3, axis=-1)


def _text_banner(height: int, width: int) -> np.ndarray:
    top = height * 5 // 9
    line1 = _text_image(SENTENCE, top, width, (0, 0, 0), (255, 255, 255))
    half = width // 2
    line2a = _text_image(SENTENCE, height - top, half, (255, 255, 255), (40, 40, 40))
    line2b = _text_image(SENTENCE, height - top, width - half, (230, 0, 0), (0, 0, 200))
    return np.concatenate([line1, np.concatenate([line2a, line2b], axis=1)], axis=0)


def _digits(height: int, width: int) -> np.ndarray:
    colours: tuple[_RGB, ...] = ((0, 0, 0), (170, 0, 0), (0, 0, 170), (0, 110, 0), (90, 0, 130))
    edges = np.linspace(0, width, 11).round().astype(int)
    cells = []
    for d in range(10):
        bg = (245, 245, 235) if d % 2 == 0 else (215, 225, 240)
        cells.append(_text_image(str(d), height, edges[d + 1] - edges[d], colours[d % 5], bg))
    return np.concatenate(cells, axis=1)


def _siemens_star(height: int, width: int, spokes: int = 36) -> np.ndarray:
    def draw(d: ImageDraw.ImageDraw, f: int) -> None:
        cx, cy = width * f / 2, height * f / 2
        r = 0.47 * min(width, height) * f
        for k in range(spokes):
            a0, a1 = 2 * np.pi * k / spokes, 2 * np.pi * (k + 0.5) / spokes
            d.polygon(
                [(cx, cy), (cx + r * np.cos(a0), cy + r * np.sin(a0))]
                + [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in np.linspace(a0, a1, 6)[1:]],
                fill=0,
            )

    return _supersampled(height, width, draw)


def _checkerboards(height: int, width: int) -> np.ndarray:
    """Four checkerboards, periods 1, 2, 4 and 8 px; the 4 px one red/cyan (chroma only)."""
    out = np.empty((height, width, 3), np.uint8)
    ys, xs = np.mgrid[0:height, 0:width]
    half_h, half_w = height // 2, width // 2
    quads = [
        (slice(0, half_h), slice(0, half_w), 1, (0, 0, 0), (255, 255, 255)),
        (slice(0, half_h), slice(half_w, width), 2, (0, 0, 0), (255, 255, 255)),
        (slice(half_h, height), slice(0, half_w), 4, (255, 0, 0), (0, 255, 255)),
        (slice(half_h, height), slice(half_w, width), 8, (20, 20, 20), (235, 235, 235)),
    ]
    for rows, cols, cell, a, b in quads:
        on = ((ys[rows, cols] // cell + xs[rows, cols] // cell) % 2).astype(bool)
        out[rows, cols] = np.where(on[..., None], np.array(a, np.uint8), np.array(b, np.uint8))
    return out


def _angled_lines(height: int, width: int) -> np.ndarray:
    """A fan of thin black lines from the bottom-left corner, every 7.5 degrees."""

    def draw(d: ImageDraw.ImageDraw, f: int) -> None:
        x0, y0 = 0.02 * width * f, 0.98 * height * f
        length = 2.0 * max(width, height) * f
        for k, deg in enumerate(np.arange(0.0, 90.01, 7.5)):
            a = np.deg2rad(deg)
            end = (x0 + length * np.cos(a), y0 - length * np.sin(a))
            d.line([(x0, y0), end], fill=0, width=f * (1 + k % 2))

    return _supersampled(height, width, draw)


def _zone_plate(height: int, width: int) -> np.ndarray:
    """Concentric chirp whose local frequency reaches 0.5 cycle/px at the cell's edge."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    r2 = (ys - (height - 1) / 2) ** 2 + (xs - (width - 1) / 2) ** 2
    rmax = max(1.0, min(height, width) / 2)
    gray = 127.5 + 127.5 * np.cos(np.pi * r2 / (2 * rmax))
    return np.repeat(np.clip(gray.round(), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)


def _hue_ramp(height: int, width: int) -> np.ndarray:
    """Hue left to right; white at the top, the pure hue in the middle, black at the bottom."""
    hue = np.array(
        [colorsys.hsv_to_rgb(h, 1.0, 1.0) for h in np.arange(width) / max(1, width)], np.float64
    )
    t = np.linspace(0.0, 1.0, height)[:, None, None]
    top = (1 - 2 * t) * 1.0 + 2 * t * hue[None]
    bottom = (2 - 2 * t) * hue[None]
    rgb = np.where(t < 0.5, top, bottom)
    return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)


def _gray_ramps(height: int, width: int) -> np.ndarray:
    """A continuous 0-255 ramp, 16 gray steps, and a shadow ramp 0-64 (blocking shows first)."""
    x = np.arange(width) / max(1, width - 1)
    rows = np.linspace(0, height, 4).round().astype(int)
    bands = [
        np.round(255 * x),
        np.minimum(np.floor(16 * x), 15) * 17,
        np.round(64 * x),
    ]
    out = np.empty((height, width), np.uint8)
    for k, values in enumerate(bands):
        out[rows[k] : rows[k + 1]] = values.astype(np.uint8)[None]
    return np.repeat(out[..., None], 3, axis=-1)


def _colour_patches(height: int, width: int) -> np.ndarray:
    """Twelve saturated patches, 4 x 3, edge to edge."""
    out = np.empty((height, width, 3), np.uint8)
    rows = np.linspace(0, height, 4).round().astype(int)
    cols = np.linspace(0, width, 5).round().astype(int)
    for k, colour in enumerate(_SATURATED):
        i, j = divmod(k, 4)
        out[rows[i] : rows[i + 1], cols[j] : cols[j + 1]] = colour
    return out


def _band_noise(height: int, width: int, low: float, high: float, rng: np.random.Generator):
    """White noise kept between ``low`` and ``high`` cycles/px, scaled to unit std per channel."""
    white = rng.standard_normal((3, height, width))
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    radius = np.sqrt(fy**2 + fx**2)
    keep = (radius >= low) & (radius <= high)
    noise = np.fft.ifft2(np.fft.fft2(white) * keep).real
    std = noise.std(axis=(1, 2), keepdims=True)
    return noise / np.where(std > 0, std, 1.0)


def _noise_texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Band-limited random texture: fine, mostly luminance (top); coarse and colourful (bottom)."""
    top = height // 2
    fine = _band_noise(top, width, 0.15, 0.45, rng)
    fine = 128 + 50 * fine[0][..., None] + 12 * fine[1:].mean(axis=0)[..., None] * [1, -1, 0.5]
    coarse = _band_noise(height - top, width, 0.02, 0.10, rng)
    coarse = 128 + 45 * np.moveaxis(coarse, 0, -1)
    noise = np.concatenate([fine, coarse], axis=0)
    return np.clip(noise.round(), 0, 255).astype(np.uint8)


def make_test_chart(height: int = 512, width: int = 768, seed: int = 0) -> np.ndarray:
    """Draws the tfjpeg codec test chart.

    Four bands from top to bottom: a text banner (the sentence black on white, white on dark
    gray, red on blue), large digits 0-9, an edge row (Siemens star, checkerboards with 1/2/4/8 px
    periods, a fan of lines every 7.5 degrees, a zone plate), and a colour row (hue ramp, gray
    ramps, saturated patches, band-limited noise texture). The layout scales with the size; the
    default 512 x 768 is the demo's chart.

    Args:
        height: image height in pixels, in [32, 8192].
        width: image width in pixels, in [32, 8192].
        seed: non-negative seed of the noise texture (the only random part).

    Returns:
        uint8 array (height, width, 3), RGB.

    Raises:
        ValueError: if an argument is not an integer in its range.

    Example:
        >>> chart = make_test_chart(256, 384)
        >>> chart.shape, chart.dtype
        ((256, 384, 3), dtype('uint8'))
    """
    height = _check_int("height", height, MIN_SIDE, MAX_SIDE)
    width = _check_int("width", width, MIN_SIDE, MAX_SIDE)
    seed = _check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)

    rows = [round(f * height) for f in _BANDS]
    cols = np.linspace(0, width, 5).round().astype(int)
    cw = [int(cols[k + 1] - cols[k]) for k in range(4)]
    text_h, digit_h = rows[1] - rows[0], rows[2] - rows[1]
    edge_h, colour_h = rows[3] - rows[2], rows[4] - rows[3]

    edge_row = [
        _siemens_star(edge_h, cw[0]),
        _checkerboards(edge_h, cw[1]),
        _angled_lines(edge_h, cw[2]),
        _zone_plate(edge_h, cw[3]),
    ]
    colour_row = [
        _hue_ramp(colour_h, cw[0]),
        _gray_ramps(colour_h, cw[1]),
        _colour_patches(colour_h, cw[2]),
        _noise_texture(colour_h, cw[3], rng),
    ]
    chart = np.concatenate(
        [
            _text_banner(text_h, width),
            _digits(digit_h, width),
            np.concatenate(edge_row, axis=1),
            np.concatenate(colour_row, axis=1),
        ],
        axis=0,
    )
    return np.ascontiguousarray(chart, dtype=np.uint8)
