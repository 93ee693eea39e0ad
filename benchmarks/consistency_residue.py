"""Which coefficients a decoder's uint8 output still misses, counted by cause (issue 11 item 5).

``tfjpeg.decode`` returns uint8 pixels after the projection and the exact uint8 correction
(:func:`tfjpeg.decoders.exact.correct_uint8`); at high quality a small share of the file's
coefficients still re-quantize differently. For the validation images of ``$TFJPEG_TRAIN_DIR``
(never Kodak) at each quality of ``--qualities`` this decodes every libjpeg-turbo 4:2:0 file with
each decoder of ``--models`` (and libjpeg-turbo's own decode, the reference), re-encodes the
uint8 output exactly as libjpeg-turbo does (:func:`tfjpeg.decoders.exact.exact_coefficients`)
and sorts every missed coefficient by

- component (Y, chroma) and DC / AC;
- size of the miss (one quantization step, or more);
- where it is: a block whose pixels (for chroma: its 16×16 colour cell) reach 0 or 255 in some
  channel of the output (**clipped**: the consistent set holds no uint8 image there without
  leaving [0, 255], so the correction cannot reach it), or an unclipped block;
- the file's step there: q = 1 (an interval one uint8 rounding can cross from any side) or more.

Usage::

    TFJPEG_TRAIN_DIR=/work/shared/data/train python benchmarks/consistency_residue.py \\
        --models block-unet consistent-l1 --qualities 50,75,90 --images 10 --out DIR

Writes ``consistency_residue.json`` and ``.md`` to ``--out``. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from benchutil import configure_threads, environment, write_results  # noqa: E402

CAUSES = ("clipped", "unclipped, step 1", "unclipped, step > 1")


def block_flags(pixels: np.ndarray, cell: int) -> np.ndarray:
    """(hb, wb) True where a ``cell``×``cell`` block of the uint8 image reaches 0 or 255."""
    h, w = pixels.shape[:2]
    hb, wb = -(-h // cell), -(-w // cell)
    padded = np.pad(pixels, ((0, hb * cell - h), (0, wb * cell - w), (0, 0)), mode="edge")
    extreme = ((padded == 0) | (padded == 255)).any(axis=-1)
    return extreme.reshape(hb, cell, wb, cell).any(axis=(1, 3))


def misses(pixels: np.ndarray, data: bytes) -> dict[str, Any]:
    """Counts of the coefficients of ``pixels`` (uint8) that libjpeg-turbo would re-quantize
    differently from the file ``data``, by component, DC/AC, size and cause."""
    import tensorflow as tf

    from tfjpeg.decoders.exact import exact_coefficients
    from tfjpeg.io import read_jpeg

    jpeg = read_jpeg(data)
    components = [tf.constant(c.astype(np.float32)) for c in jpeg.components]
    tables = tf.constant(jpeg.component_tables.astype(np.float32))
    fh, fv = jpeg.sampling[0]  # the luma's sampling factors: chroma's downsampling
    per_component = [(1, 1)] + [(fh, fv)] * (len(components) - 1)
    got = exact_coefficients(
        tf.constant(pixels[None].astype(np.float32)), components, tables, jpeg.height,
        jpeg.width, per_component,
    )  # fmt: skip
    counts: dict[str, int] = {"coefficients": 0, "missed": 0}
    for c, (want, have) in enumerate(zip(jpeg.components, got, strict=True)):
        have = np.asarray(have[1])[0, : want.shape[0], : want.shape[1]]
        wrong = have != want
        counts["coefficients"] += want.size
        counts["missed"] += int(wrong.sum())
        if not wrong.any():
            continue
        cell = 8 if c == 0 else 8 * max(fh, fv)
        clipped = block_flags(pixels, cell)[: want.shape[0], : want.shape[1]]
        table = jpeg.component_tables[c]
        by, bx, u, v = np.nonzero(wrong)
        name = "Y" if c == 0 else "chroma"
        for yy, xx, uu, vv in zip(by, bx, u, v, strict=True):
            band = "DC" if uu == 0 and vv == 0 else "AC"
            step = abs(int(have[yy, xx, uu, vv]) - int(want[yy, xx, uu, vv]))
            size = "1 step" if step == 1 else ">1"
            unclipped = CAUSES[1] if table[uu, vv] == 1 else CAUSES[2]
            cause = CAUSES[0] if clipped[yy, xx] else unclipped
            for key in (f"{name} {band}", f"size {size}", cause):
                counts[key] = counts.get(key, 0) + 1
    return counts


def set_correction(iterations: int | None, margin: float | None) -> dict[str, Any]:
    """The uint8 correction's settings for this process's ``tfjpeg.decode`` (see the module
    docstring); returns the ones in force."""
    import functools

    from tfjpeg.decoders import core, exact

    if iterations is not None:
        core.CORRECTION_ITERATIONS = int(iterations)
    if margin is not None:
        core.correct_uint8 = functools.partial(exact.correct_uint8, margin=float(margin))
    return {
        "iterations": core.CORRECTION_ITERATIONS,
        "margin": exact.CORRECTION_MARGIN if margin is None else float(margin),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["block-unet", "consistent-l1"])
    parser.add_argument("--qualities", default="50,75,90")
    parser.add_argument("--images", type=int, default=10, help="first N validation images")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--correction-iterations", type=int, default=None)
    parser.add_argument("--correction-margin", type=float, default=None)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    configure_threads(args.threads)
    correction = set_correction(args.correction_iterations, args.correction_margin)
    import tfjpeg
    from tfjpeg.data.folders import dataset_dir, load_image
    from tfjpeg.data.splits import split_images
    from tfjpeg.io import decode_pixels, encode_pixels

    files = split_images(dataset_dir("train"), "validation")[: args.images]
    if not files:
        parser.error("no validation images (set TFJPEG_TRAIN_DIR)")
    qualities = [int(q) for q in args.qualities.split(",") if q.strip()]
    rows = []
    for q in qualities:
        totals: dict[str, dict[str, int]] = {}
        for path in files:
            data = encode_pixels(load_image(path), q)
            outputs = {"libjpeg": decode_pixels(data)}
            outputs.update({m: tfjpeg.decode(data, decoder=m) for m in args.models})
            for name, pixels in outputs.items():
                counts = misses(np.asarray(pixels), data)
                total = totals.setdefault(name, {})
                for key, value in counts.items():
                    total[key] = total.get(key, 0) + value
        for name, total in totals.items():
            rows.append({"quality": q, "decoder": name, **total})
            print(q, name, total, flush=True)
    keys = ["Y DC", "Y AC", "chroma DC", "chroma AC", "size 1 step", "size >1", *CAUSES]
    lines = [
        f"# Coefficients the uint8 output misses, by cause ({len(files)} validation images, 4:2:0)",
        "",
        "| q | decoder | consistent | missed | " + " | ".join(keys) + " |",
        "|---|---|---|---|" + "---|" * len(keys),
    ]
    for row in rows:
        share = 1.0 - row["missed"] / row["coefficients"]
        cells = [str(row.get(k, 0)) for k in keys]
        lines.append(
            f"| {row['quality']} | {row['decoder']} | {100 * share:.4f}% | {row['missed']} | "
            + " | ".join(cells)
            + " |"
        )
    doc = {
        "command": "python benchmarks/consistency_residue.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "images": [f.name for f in files],
        "correction": correction,
        "environment": environment(),
        "rows": rows,
    }
    write_results(args.out, "consistency_residue", doc, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
