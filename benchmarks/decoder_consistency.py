"""uint8 consistency of tfjpeg's decodings, before and after the exact correction pass.

For the first ``--images`` validation images of ``$TFJPEG_TRAIN_DIR`` (files whose sorted index
is a multiple of 10: the validation split; never Kodak), each quality of ``--qualities``
(libjpeg-turbo 4:2:0 through :func:`tfjpeg.io.encode_pixels`): decodes with ``tfjpeg.decode``
(``--model``: a shipped decoder name, or ``unet`` for an untrained
:class:`~tfjpeg.decoders.BlockUNetDecoder` of ``trainers/configs/decoder_block_unet.json``),
dtype float32 (the projected image before rounding), and counts the coefficients that
libjpeg-turbo's encoder (:func:`tfjpeg.decoders.exact.count_misses`, checked against the real
library in ``tests/test_decoders_exact.py``) would quantize differently from the file: after
plain rounding to uint8, and after :func:`tfjpeg.decoders.exact.correct_uint8` with ``--rounds``
rounds (what ``tfjpeg.decode`` returns with the default 8).

Usage::

    TFJPEG_TRAIN_DIR=/work/shared/data/train python benchmarks/decoder_consistency.py \\
        --images 10 --qualities 5,10,20,30,40,50,75,90,95 --out /tmp/decoder_consistency

Writes ``decoder_consistency.json`` and ``.md`` to ``--out``. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchutil import check_arguments, configure_threads, environment, write_results  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--qualities", default="5,10,20,30,40,50,75,90,95")
    parser.add_argument("--model", default="consistent-l1")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="./decoder_consistency_results")
    args = parser.parse_args(argv)
    check_arguments(parser, args, ("images", "rounds", "threads"))
    configure_threads(args.threads)
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    import tfjpeg
    from tfjpeg.decoders import BlockUNetDecoder
    from tfjpeg.decoders.exact import correct_uint8, count_misses
    from tfjpeg.decoders.geometry import chroma_factors
    from tfjpeg.io import encode_pixels, read_jpeg

    folder = os.environ.get("TFJPEG_TRAIN_DIR")
    if not folder:
        parser.error("set TFJPEG_TRAIN_DIR to the training images")
    files = sorted(p for p in Path(folder).iterdir() if p.is_file())[::10][: args.images]
    if args.model == "unet":
        config = json.loads((REPO / "trainers/configs/decoder_block_unet.json").read_text())
        model = BlockUNetDecoder(**config["model"])
    else:
        model = args.model
    rows = []
    for quality in args.qualities:
        total = {"coefficients": 0, "misses_rounded": 0, "misses_corrected": 0}
        for path in files:
            image = np.asarray(Image.open(path).convert("RGB"))
            data = encode_pixels(image, quality)
            decoded = tfjpeg.decode(data, decoder=model, dtype="float32")
            jpeg = read_jpeg(data)
            fh, fv = chroma_factors(jpeg.subsampling)
            comps = [tf.constant(c, tf.int32) for c in jpeg.components]
            tables = tf.constant(jpeg.component_tables.astype(np.float32))
            args_ = (comps, tables, jpeg.height, jpeg.width)
            factors = [(1, 1), (fh, fv), (fh, fv)]
            fixed = correct_uint8(tf.constant(decoded), *args_, (fh, fv), args.rounds)
            total["coefficients"] += sum(c.size for c in jpeg.components)
            total["misses_rounded"] += int(count_misses(decoded[None], *args_, factors))
            total["misses_corrected"] += int(count_misses(fixed[None], *args_, factors))
        row = {"quality": quality, "images": len(files), **total}
        row["fraction_rounded"] = 1 - total["misses_rounded"] / total["coefficients"]
        row["fraction_corrected"] = 1 - total["misses_corrected"] / total["coefficients"]
        rows.append(row)
        print(
            f"q{quality:3d}: misses {total['misses_rounded']} → {total['misses_corrected']} of "
            f"{total['coefficients']} ({row['fraction_corrected']:.6%} consistent)",
            flush=True,
        )
    lines = [
        f"uint8 consistency, {args.model}, {len(files)} validation images, 4:2:0, "
        f"{args.rounds} correction rounds.",
        "",
        "| quality | coefficients | misses (rounded) | misses (corrected) | consistent |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['quality']} | {r['coefficients']} | {r['misses_rounded']} | "
        f"{r['misses_corrected']} | {r['fraction_corrected']:.6%} |"
        for r in rows
    ]
    results = {"model": args.model, "rounds": args.rounds, "rows": rows, "env": environment()}
    write_results(Path(args.out), "decoder_consistency", results, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
