"""Time to refusal and peak memory of the in-graph reader on hostile files.

Each hostile file of ``tests/test_io_graph.py`` (huge frame sizes with tiny data, 50,000 scans,
1 MiB of zeros, RGB-coded, restart markers out of order, garbage, missing progressive scans,
16-bit tables) goes through (a) ``coefficients_from_jpeg_bytes`` in a ``tf.function`` with the
decoders' pixel limit and (b) the ``serving_default`` signature of a small exported
``ConsistentDecoder`` loaded with ``tf.saved_model.load``. Each mode runs in its own child process;
after a warm-up call on a valid file (a server's warm-up: the first run optimizes the graph), the
refusal time is the median of ``--repeats`` calls and the peak RSS growth is
``ru_maxrss`` after the calls minus before (0 means no allocation beyond the warm process).

Usage: ``python benchmarks/graph_reader_hostile.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _child(mode: str, repeats: int) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import tensorflow as tf
    from conftest import natural_image, pillow_jpeg
    from test_io_graph import EXPECTED, hostile_files

    from tfjpeg.io.graph import coefficients_from_jpeg_bytes

    files = hostile_files()
    valid = pillow_jpeg(natural_image(16, 16), 50)
    if mode == "graph":
        fn = tf.function(
            lambda b: coefficients_from_jpeg_bytes(b, max_pixels=16_000_000),
            input_signature=[tf.TensorSpec([], tf.string)],
        )

        def call(data):
            return fn(tf.constant(data))
    else:
        import keras

        from tfjpeg.decoders import ConsistentDecoder, core_inputs
        from tfjpeg.io import read_jpeg
        from tfjpeg.serving.decoders import core_function, export_decoder

        keras.utils.set_random_seed(3)
        decoder = ConsistentDecoder(luma_width=4, luma_depth=1, chroma_width=4, chroma_depth=1)
        core_function(decoder)(**core_inputs(read_jpeg(valid)), iterations=0)
        folder = export_decoder(decoder, Path(tempfile.mkdtemp()) / "1")
        serve = tf.saved_model.load(str(folder)).signatures["decode_bytes"]

        def call(data):
            return serve(jpeg_bytes=tf.constant(data), seed=tf.constant(-1, tf.int64))

    start = time.perf_counter()
    call(valid)
    warm = time.perf_counter() - start
    results = {"warm-up s": warm}
    for name, data in files.items():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        times, message = [], ""
        for _ in range(repeats):
            start = time.perf_counter()
            try:
                call(data)
                message = "ACCEPTED"
            except tf.errors.InvalidArgumentError as e:
                message = e.message
            times.append(time.perf_counter() - start)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        results[name] = {
            "bytes": len(data),
            "seconds": statistics.median(times),
            "peak_rss_growth_mib": grown / 1024,
            "refused_as_expected": EXPECTED[name] in message,
        }
    results["peak rss mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["graph", "savedmodel"])
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.repeats)
        return
    out = {}
    for mode in ("graph", "savedmodel"):
        run = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--repeats", str(args.repeats)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        line = next(x for x in run.stdout.splitlines() if x.startswith("RESULT "))
        out[mode] = json.loads(line[len("RESULT ") :])
    names = [k for k in out["graph"] if isinstance(out["graph"][k], dict)]
    print(
        "| file | bytes | tf.function: s, peak RSS growth (MiB) | SavedModel: s, RSS growth (MiB) |"
    )
    print("|---|---|---|---|")
    for name in names:
        g, s = out["graph"][name], out["savedmodel"][name]
        ok = "" if g["refused_as_expected"] and s["refused_as_expected"] else " (NOT REFUSED)"
        print(
            f"| {name}{ok} | {g['bytes']:,} | {g['seconds']:.3f}, {g['peak_rss_growth_mib']:.0f} | "
            f"{s['seconds']:.3f}, {s['peak_rss_growth_mib']:.0f} |"
        )
    for mode in ("graph", "savedmodel"):
        print(
            f"{mode}: warm-up call {out[mode]['warm-up s']:.1f} s, "
            f"peak RSS {out[mode]['peak rss mib']:.0f} MiB"
        )


if __name__ == "__main__":
    main()
