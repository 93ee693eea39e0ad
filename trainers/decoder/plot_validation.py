"""Plot a decoder's validation curve (gain over the plain decode vs training step) with Pillow.

Reads the ``validation.jsonl`` files that :mod:`trainers.decoder.train` appends (one JSON line per
evaluation: ``step``, ``gain_q<Q>`` per validation quality, ``mean_gain``) of one or more runs
that continue each other, shifts each run's steps by the steps before it (``RUN:OFFSET``, or
``RUN:OFFSET:LAST`` to stop at the step the next run started from), and
draws one line per quality plus the mean, with a vertical mark at each run's start and a dot at
the chosen step (``--chosen``).

Usage::

    python -m trainers.decoder.plot_validation RUN1/validation.jsonl:3000 \\
        RUN2/validation.jsonl:16500:1750 RUN3/validation.jsonl:18250 --chosen 34250 --out curve.png
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import re
from pathlib import Path

from PIL import Image, ImageDraw

from tfjpeg.io.atomic import save_bytes_atomic
from tfjpeg.io.chart import draw_axes

__all__ = ["draw_curves", "load_curves", "main"]

_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]


def load_curves(specs: list[str]) -> tuple[dict[str, list[tuple[int, float]]], list[int]]:
    """``PATH[:OFFSET[:LAST]]`` specs → ({series: [(step, gain)]}, run start steps); a run's
    records after its own step LAST (where the next run started) are left out."""
    curves: dict[str, list[tuple[int, float]]] = {}
    starts = []
    for spec in specs:
        match = re.fullmatch(r"(.+?)(?::(\d+))?(?::(\d+))?", spec)
        path, offset, last = match.group(1), int(match.group(2) or 0), match.group(3)
        starts.append(offset)
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            if last is not None and int(record["step"]) > int(last):
                continue  # the next run started from this step
            step = int(record["step"]) + offset
            for key, value in record.items():
                if key.startswith("gain_q") or key == "mean_gain":
                    name = "mean" if key == "mean_gain" else f"q{key[6:]}"
                    curves.setdefault(name, []).append((step, float(value)))
    if not curves:
        raise ValueError(f"no validation records in {specs}")
    return {k: sorted(v) for k, v in curves.items()}, starts


def draw_curves(
    curves: dict[str, list[tuple[int, float]]],
    starts: list[int],
    path: Path,
    chosen: int | None = None,
    title: str = "validation PSNR gain over the plain decode (dB) vs step",
) -> None:
    """One panel, one line per series; the PNG is written atomically and never replaces a file."""
    width, height, left, top, right, bottom = 760, 430, 64, 34, 730, 350
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    xs = [s for c in curves.values() for s, _ in c] + starts
    ys = [g for c in curves.values() for _, g in c]
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    pad = 0.05 * (y_hi - y_lo or 1.0)
    y_lo, y_hi = y_lo - pad, y_hi + pad

    box = (left, top, right, bottom)
    px = draw_axes(draw, box, (x_lo, x_hi), (y_lo, y_hi), "step", x_format=".0f", y_format="+.3f")
    draw.text((left, 10), title, fill=(0, 0, 0))
    for start in starts:
        x, _ = px(start, y_lo)
        draw.line([x, top, x, bottom], fill=(190, 190, 190))
    for (name, series), colour in zip(curves.items(), itertools.cycle(_COLOURS), strict=False):
        if name == "mean":
            colour = (0, 0, 0)
        points = [px(s, g) for s, g in series]
        for a, b in itertools.pairwise(points):
            draw.line([a, b], fill=colour, width=2)
        for x, y in points:
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
        if chosen is not None:
            hit = [(s, g) for s, g in series if s == chosen]
            if hit:
                x, y = px(*hit[0])
                draw.ellipse([x - 5, y - 5, x + 5, y + 5], outline=colour, width=2)
    for i, name in enumerate(curves):
        colour = (0, 0, 0) if name == "mean" else _COLOURS[i % len(_COLOURS)]
        x = left + 10 + i * 110
        draw.line([x, bottom + 48, x + 18, bottom + 48], fill=colour, width=3)
        draw.text((x + 24, bottom + 42), name, fill=(0, 0, 0))
    if chosen is not None:
        draw.text((left + 10, bottom + 58), f"circled: the chosen step {chosen}", fill=(0, 0, 0))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    save_bytes_atomic(path, buffer.getvalue())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "runs", nargs="+", help="validation.jsonl[:STEP_OFFSET[:LAST_STEP]], in order"
    )
    parser.add_argument("--chosen", type=int, default=None, help="the shipped step (circled)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    args = parser.parse_args(argv)
    curves, starts = load_curves(args.runs)
    draw_curves(curves, starts, args.out, args.chosen)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
