"""Decoding speed in s/MP: Pillow, jpegqs and tfjpeg's consistent decoders, timed in one run.

For a JPEG of each size and quality (a smooth-noise synthetic photo,
:func:`memory_limits.make_jpeg`, re-encoded at each of ``--qualities``: the uint8 correction's
rounds, and so the time, grow with the quality), times round-robin
(:func:`benchutil.time_runs`, median of ``--repeats`` after one warm-up) on ``--threads``
threads:

* ``pillow``: ``Image.open(...).load()`` (libjpeg-turbo's own decode);
* ``jpegqs -q6``: the jpegqs binary (``-q 6 -t threads``), file to file, the strongest classical
  baseline of the issue;
* for each decoder of ``--models``: ``tfjpeg.decoders.core.decode_core`` in a ``tf.function`` (what
  ``tfjpeg.decode`` and the SavedModels run), network only (``iterations=0``) and with the
  projection and the uint8 correction, on tiles of ``--tile`` luma blocks; with ``--xla`` also the
  network through XLA per tile (``jit_compile``; reported as an error where XLA cannot compile).

Models: a shipped name (``consistent-l1``), or ``unet:W0,W1,...:D0,D1,...`` for an untrained
:class:`tfjpeg.decoders.BlockUNetDecoder` of that size (its time does not depend on the weights;
use it to size an architecture), or ``consistent:LW,LD,CW,CD`` for an untrained
:class:`~tfjpeg.decoders.ConsistentDecoder`.

Usage::

    python benchmarks/decoder_speed.py --sizes 1 --threads 2 --qualities 10,30,90 \\
        --models consistent-l1 unet:48,96,128:1,2,2 --xla --out /tmp/decoder_speed

Writes ``decoder_speed.json`` and ``decoder_speed.md`` to ``--out``. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # an installed tfjpeg first
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchutil import (  # noqa: E402
    check_arguments,
    configure_threads,
    environment,
    time_runs,
    write_results,
)
from memory_limits import make_jpeg  # noqa: E402


def build_model(spec: str):
    """A decoder from a ``--models`` entry (see the module docstring)."""
    from tfjpeg.decoders import BlockUNetDecoder, ConsistentDecoder
    from tfjpeg.models.saving import build_model as build

    kind, _, args = spec.partition(":")
    if kind == "unet":
        widths, _, depths = args.partition(":")
        model = BlockUNetDecoder(
            widths=[int(w) for w in widths.split(",")], depths=[int(d) for d in depths.split(",")]
        )
    elif kind == "consistent":
        lw, ld, cw, cd = (int(v) for v in args.split(","))
        model = ConsistentDecoder(luma_width=lw, luma_depth=ld, chroma_width=cw, chroma_depth=cd)
    else:
        from tfjpeg.api.decoding import load_decoder_model

        return load_decoder_model(spec)
    build(model)
    return model


def core_runner(model, inputs: dict, iterations: int, tile: int, xla: bool):
    """A call of ``decode_core`` on ``inputs`` (one traced tf.function)."""
    import tensorflow as tf

    from tfjpeg.decoders.core import CORE_SIGNATURE, decode_core

    def fn(y, cb, cr, tables, height, width, sampling, z, its):
        args = (y, cb, cr, tables, height, width, sampling, z, its)
        return decode_core(model, *args, tile_blocks=tile, jit_compile=xla)["image"]

    compiled = tf.function(fn, input_signature=CORE_SIGNATURE, autograph=False)
    its = tf.constant(iterations)
    return lambda: compiled(**inputs, its=its).numpy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1.0], help="megapixels")
    parser.add_argument(
        "--qualities", default="30", help="comma-separated JPEG qualities (one file each)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--tile", type=int, help="tile side, luma blocks (default: tfjpeg's, TILE_BLOCKS)"
    )
    parser.add_argument("--models", nargs="+", default=["unet:48,96,128:1,2,2"])
    parser.add_argument("--xla", action="store_true", help="also the network through XLA")
    parser.add_argument("--no-projection-free", action="store_true", help="skip iterations=0")
    parser.add_argument("--out", default="./decoder_speed_results")
    args = parser.parse_args(argv)
    if (
        args.threads < 1
        or args.repeats < 1
        or (args.tile is not None and (args.tile < 2 or args.tile % 2))
    ):
        parser.error("--threads and --repeats must be >= 1, --tile a positive even number")
    check_arguments(parser, args, ("threads", "repeats"))
    qualities = args.qualities
    threads = configure_threads(args.threads)
    if args.tile is None:
        from tfjpeg.decoders.tiling import TILE_BLOCKS

        args.tile = TILE_BLOCKS
    from PIL import Image

    from tfjpeg.decoders import core_inputs
    from tfjpeg.io import read_jpeg

    models = {spec: build_model(spec) for spec in args.models}
    jpegqs = shutil.which("jpegqs")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mp, quality in itertools.product(args.sizes, qualities):
            source = Path(tmp) / f"source_{mp:g}.jpg"
            if not source.exists():
                make_jpeg(mp, source)
            height, width = Image.open(source).size[::-1]
            path = Path(tmp) / f"q{quality}_{mp:g}.jpg"
            Image.open(source).save(path, "JPEG", quality=quality)
            pixels = height * width
            inputs = core_inputs(read_jpeg(path, max_pixels=10**9))
            runs = {"pillow": lambda path=path: Image.open(path).load()}
            if jpegqs:
                out = Path(tmp) / "jpegqs.png"
                cmd = [jpegqs, "-q", "6", "-t", str(args.threads), "-i", "0", str(path), str(out)]
                runs["jpegqs -q6"] = lambda cmd=cmd: subprocess.run(cmd, check=True)
            for spec, model in models.items():
                variants = [(False, 5)] + ([] if args.no_projection_free else [(False, 0)])
                if args.xla:
                    variants += [(True, 5)]
                for xla, its in variants:
                    name = (
                        f"{spec} {'projection' if its else 'network only'}{' XLA' if xla else ''}"
                    )
                    runs[name] = core_runner(model, inputs, its, args.tile, xla)
            timed = time_runs(runs, args.repeats, catch_errors=True)
            for name, result in timed.items():
                row = {
                    "size_mp": pixels / 1e6,
                    "height": height,
                    "width": width,
                    "quality": quality,
                    "run": name,
                }
                if "error" in result:
                    row["error"] = result["error"]
                else:
                    row.update(
                        s_per_mp=result["median_s"] / (pixels / 1e6),
                        median_s=result["median_s"],
                        best_s=result["best_s"],
                        warmup_s=result.get("warmup_s"),
                    )
                rows.append(row)
                shown = row.get("error") or f"{row['s_per_mp']:.3f} s/MP"
                print(f"{pixels / 1e6:5.2f} MP  q{quality:<3d} {name:46s} {shown}", flush=True)
    lines = [
        f"Decoding speed, {args.threads} thread(s), tiles of {args.tile} blocks.",
        "",
        "| size | q | run | s/MP | median s |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(
                f"| {r['size_mp']:.2f} MP | {r['quality']} | {r['run']} | "
                f"error: {r['error'][:80]} | |"
            )
        else:
            lines.append(
                f"| {r['size_mp']:.2f} MP | {r['quality']} | {r['run']} | {r['s_per_mp']:.3f} | "
                f"{r['median_s']:.3f} |"
            )
    results = {
        "qualities": qualities,
        "tile_blocks": args.tile,
        "threads": threads,
        "rows": rows,
        "environment": environment(),
    }
    write_results(Path(args.out), "decoder_speed", results, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
