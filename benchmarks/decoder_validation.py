"""A decoder against the standard decode on the validation split, at every quality asked.

For the validation images of ``$TFJPEG_TRAIN_DIR`` (files whose sorted index is a multiple of
10, the split the decoder runs validate on; never Kodak) and each quality of ``--qualities``
(default 5, 10, …, 95; libjpeg-turbo 4:2:0 through :func:`tfjpeg.io.encode_pixels`), decodes
every file with libjpeg-turbo (the standard decode, ``tfjpeg.decode(decoder="libjpeg")``) and
with each decoder of ``--models`` through ``tfjpeg.decode`` (uint8: network, projection and the
uint8 correction, what users get), and reports the mean PSNR-RGB, the mean gain over libjpeg,
the worst image's gain, the number of images below libjpeg, and the coefficients of the uint8
output that libjpeg-turbo would re-quantize differently from the file
(:func:`tfjpeg.decoders.exact.count_misses`).

Models: a shipped decoder name (``consistent-l1``, ``block-unet``), or ``PATH`` to a training run
folder, a checkpoint prefix (``.../validated/step-4000``; the run's ``config.json`` is read from
the folder above) or an exported folder.

Usage::

    TFJPEG_TRAIN_DIR=/work/shared/data/train python benchmarks/decoder_validation.py \\
        --models block-unet --out /tmp/decoder_validation
    python benchmarks/decoder_validation.py --models consistent-l1 --qualities 10,30 ...

Writes ``decoder_validation.json`` and ``.md`` to ``--out``. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchutil import check_arguments, configure_threads, environment, write_results  # noqa: E402

QUALITIES = tuple(range(5, 100, 5))


def load_model(spec: str):
    """A shipped name as is (``tfjpeg.decode`` loads it); a path → the Keras decoder."""
    path = Path(spec)
    if not path.exists() and not Path(f"{spec}.index").exists():
        return spec
    from tfjpeg.models.saving import load_keras_model

    if (path / "keras_config.json").is_file():
        return load_keras_model(path)
    from trainers.decoder.train import load_run_decoder

    return load_run_decoder(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["block-unet"])
    parser.add_argument("--qualities", default=",".join(map(str, QUALITIES)))
    parser.add_argument("--images", type=int, default=30, help="first N validation images")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--projection-margin",
        type=float,
        help="decode with this projection margin instead of the shipped one (an experiment)",
    )
    parser.add_argument(
        "--projection-iterations",
        type=int,
        help="at most this many projection/clipping rounds instead of the shipped number",
    )
    parser.add_argument("--out", default="./decoder_validation_results")
    args = parser.parse_args(argv)
    check_arguments(parser, args, ("images", "threads"))
    if args.projection_margin is not None and not 0.0 <= args.projection_margin < 0.5:
        parser.error(f"--projection-margin must be in [0, 0.5), got {args.projection_margin}")
    if args.projection_iterations is not None and args.projection_iterations < 1:
        parser.error(f"--projection-iterations must be >= 1, got {args.projection_iterations}")
    threads = configure_threads(args.threads)
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    import tfjpeg
    import tfjpeg.api.decoding
    import tfjpeg.decoders.core
    from tfjpeg.decoders.exact import count_misses
    from tfjpeg.decoders.geometry import chroma_factors
    from tfjpeg.io import encode_pixels, read_jpeg
    from tfjpeg.metrics.psnr import psnr

    # read at trace time, so set before the first decode of this process
    if args.projection_margin is not None:
        tfjpeg.decoders.core.PROJECTION_MARGIN = args.projection_margin
    if args.projection_iterations is not None:
        tfjpeg.api.decoding.PROJECTION_ITERATIONS = args.projection_iterations
    settings = {
        "projection_margin": tfjpeg.decoders.core.PROJECTION_MARGIN,
        "projection_iterations": tfjpeg.api.decoding.PROJECTION_ITERATIONS,
    }
    folder = os.environ.get("TFJPEG_TRAIN_DIR")
    if not folder:
        parser.error("set TFJPEG_TRAIN_DIR to the training images")
    files = sorted(p for p in Path(folder).iterdir() if p.is_file())[::10][: args.images]
    qualities = args.qualities
    models = {spec: load_model(spec) for spec in args.models}
    originals = [np.asarray(Image.open(p).convert("RGB")) for p in files]
    rows = []
    t0 = time.time()
    for quality in qualities:
        files_q = [encode_pixels(image, quality, subsampling="420") for image in originals]
        plain = [
            float(psnr(tfjpeg.decode(d, decoder="libjpeg"), o))
            for d, o in zip(files_q, originals, strict=True)
        ]
        for spec, model in models.items():
            psnrs, misses, coefficients = [], 0, 0
            for data, original in zip(files_q, originals, strict=True):
                image = tfjpeg.decode(data, decoder=model)
                psnrs.append(float(psnr(image, original)))
                jpeg = read_jpeg(data)
                fh, fv = chroma_factors(jpeg.subsampling)
                comps = [tf.constant(c, tf.int32) for c in jpeg.components]
                tables = tf.constant(jpeg.component_tables.astype(np.float32))
                factors = [(1, 1), (fh, fv), (fh, fv)]
                misses += int(
                    count_misses(image[None], comps, tables, jpeg.height, jpeg.width, factors)
                )
                coefficients += sum(c.size for c in jpeg.components)
            gains = np.array(psnrs) - np.array(plain)
            row = {
                "model": spec,
                "quality": quality,
                "images": len(files),
                "psnr_libjpeg": float(np.mean(plain)),
                "psnr": float(np.mean(psnrs)),
                "gain": float(np.mean(gains)),
                "worst_gain": float(gains.min()),
                "images_below": int((gains < 0).sum()),
                "coefficients": coefficients,
                "misses_uint8": misses,
            }
            rows.append(row)
            print(
                f"[{time.time() - t0:6.0f}s] q{quality:3d} {spec}: {row['psnr']:.3f} dB "
                f"(libjpeg {row['psnr_libjpeg']:.3f}, gain {row['gain']:+.3f}, worst "
                f"{row['worst_gain']:+.3f}, {row['images_below']} below), "
                f"{misses} uint8 misses of {coefficients}",
                flush=True,
            )
    lines = [
        f"Validation split ({len(files)} images of $TFJPEG_TRAIN_DIR, sorted index % 10 == 0), "
        "libjpeg-turbo 4:2:0 files; PSNR-RGB of tfjpeg.decode's uint8 output (projection and "
        "uint8 correction included) and of libjpeg-turbo's decode. Projection margin "
        f"{settings['projection_margin']}, at most {settings['projection_iterations']} "
        "projection rounds.",
        "",
        "| q | model | PSNR | libjpeg | gain | worst image | images below | uint8 misses |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['quality']} | {r['model']} | {r['psnr']:.3f} | {r['psnr_libjpeg']:.3f} | "
        f"{r['gain']:+.3f} | {r['worst_gain']:+.3f} | {r['images_below']} | "
        f"{r['misses_uint8']} / {r['coefficients']} |"
        for r in rows
    ]
    results = {
        "command": "python benchmarks/decoder_validation.py " + " ".join(argv or sys.argv[1:]),
        "files": [p.name for p in files],
        "threads": threads,
        "settings": settings,
        "rows": rows,
        "environment": environment(),
    }
    write_results(Path(args.out), "decoder_validation", results, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
