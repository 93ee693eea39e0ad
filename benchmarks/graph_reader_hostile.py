"""Time to refusal and peak memory of the in-graph reader on hostile files.

Each hostile file of ``tests/test_io_graph.py`` (huge frame sizes with tiny data, 50,000 scans,
1 MiB of zeros, RGB-coded, restart markers out of order, garbage, missing progressive scans,
16-bit tables) goes through (a) ``coefficients_from_jpeg_bytes`` in a ``tf.function`` with the
decoders' pixel limit and (b) the ``serving_default`` signature of a small exported
``ConsistentDecoder`` loaded with ``tf.saved_model.load``. Each mode runs in its own child process;
after a warm-up call on a valid file (a server's warm-up: the first run optimizes the graph), the
refusal time is the median of ``--repeats`` calls and the peak RSS growth is
``ru_maxrss`` after the calls minus before (0 means no allocation beyond the warm process).
Each child runs under an address-space cap (``--cap-gb``, default 8 GiB: the issue's budget).
Two files must be *decoded*, not refused: a file whose Cr has its own table
(``cjpeg -qslots 0,1,2``; the graph reader must give read_jpeg's tables and agree on ≥ 99 % of
the coefficients, the SavedModel an image of the file's size) and, in this script only, a real
13000x13000 JPEG (refused by the pixel limit from its header, like the tiny one).

Usage: ``python benchmarks/graph_reader_hostile.py --out DIR [--repeats 3] [--cap-gb 8]``
(writes ``DIR/graph_reader_hostile.json`` and ``.md``).
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import write_results  # noqa: E402


def _extra_files() -> tuple[dict[str, bytes], dict[str, str]]:
    """Files of the issue that tests/test_io_graph.py does not build (too slow, or decodable)."""
    import io

    import numpy as np
    from conftest import cjpeg_jpeg, natural_image
    from PIL import Image

    # Three different tables, one per component (as tests/test_api_decoding.py's OWN_TABLES).
    tables = [np.arange(64).reshape(8, 8) % 11 + 4 + 6 * k for k in range(3)]
    tile = natural_image(100, 100, seed=7)
    big = np.tile(tile, (130, 130, 1))  # 13000 x 13000, real image data
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "JPEG", quality=75)
    files = {
        "13000x13000 valid (real pixels)": buf.getvalue(),
        "cjpeg -qslots 0,1,2": cjpeg_jpeg(
            natural_image(48, 64, seed=8), "-qslots", "0,1,2", "-sample", "2x2", tables=tables
        ),
    }
    expected = {"13000x13000 valid (real pixels)": "more than the limit of 16,000,000"}
    return files, expected


#: Files that must be decoded (correctly), not refused.
DECODED = ("cjpeg -qslots 0,1,2",)


def _decoded_correctly(mode: str, data: bytes, out) -> bool:
    import numpy as np

    from tfjpeg.io import read_jpeg

    ref = read_jpeg(data)
    if mode == "savedmodel":
        return tuple(out["image"].shape[:2]) == (ref.height, ref.width)
    if not np.array_equal(out["tables"].numpy(), ref.component_tables):
        return False
    differ = sum(
        int(np.count_nonzero(out[k].numpy() != c))
        for k, c in zip(("y", "cb", "cr"), ref.components, strict=True)
    )
    return differ <= 0.01 * sum(c.size for c in ref.components)


def _child(mode: str, repeats: int, cap_gb: float) -> None:
    cap = int(cap_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    sys.path.insert(0, str(ROOT / "tests"))
    import tensorflow as tf
    from conftest import natural_image, pillow_jpeg
    from test_io_graph import EXPECTED, hostile_files

    from tfjpeg.io.graph import coefficients_from_jpeg_bytes

    files = hostile_files()
    extra, extra_expected = _extra_files()
    files.update(extra)
    expected = {**EXPECTED, **extra_expected}
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
        times, message, out = [], "", None
        for _ in range(repeats):
            start = time.perf_counter()
            try:
                out = call(data)
                message = "ACCEPTED"
            except tf.errors.InvalidArgumentError as e:
                message = e.message
            times.append(time.perf_counter() - start)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        if name in DECODED:
            outcome = "decoded" if out is not None and _decoded_correctly(mode, data, out) else ""
        else:
            outcome = "refused" if expected[name] in message else ""
        results[name] = {
            "bytes": len(data),
            "seconds": statistics.median(times),
            "peak_rss_growth_mib": grown / 1024,
            "outcome": outcome or "WRONG: " + message[:200],
        }
    results["peak rss mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cap-gb", type=float, default=8.0, help="address-space cap per child")
    parser.add_argument("--out", help="folder for graph_reader_hostile.json and .md")
    parser.add_argument("--child", choices=["graph", "savedmodel"])
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.repeats, args.cap_gb)
        return
    if not args.out:
        parser.error("--out DIR is required (the folder the results are written to)")
    out = {"command": " ".join(["python", *sys.argv]), "cap_gb": args.cap_gb}
    for mode in ("graph", "savedmodel"):
        run = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                mode,
                "--repeats",
                str(args.repeats),
                "--cap-gb",
                str(args.cap_gb),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        line = next(x for x in run.stdout.splitlines() if x.startswith("RESULT "))
        out[mode] = json.loads(line[len("RESULT ") :])
    names = [k for k in out["graph"] if isinstance(out["graph"][k], dict)]
    lines = [
        f"`{out['command']}` (address space capped at {args.cap_gb:g} GiB per child; median of "
        f"{args.repeats} calls after a warm-up call)",
        "",
        "| file | bytes | tf.function: outcome, s, RSS growth (MiB) "
        "| SavedModel: outcome, s, RSS growth (MiB) |",
        "|---|---:|---|---|",
    ]
    for name in names:
        g, s = out["graph"][name], out["savedmodel"][name]
        lines.append(
            f"| {name} | {g['bytes']:,} | {g['outcome']}, {g['seconds']:.3f}, "
            f"{g['peak_rss_growth_mib']:.0f} | {s['outcome']}, {s['seconds']:.3f}, "
            f"{s['peak_rss_growth_mib']:.0f} |"
        )
    lines.append("")
    for mode in ("graph", "savedmodel"):
        lines.append(
            f"{mode}: warm-up call {out[mode]['warm-up s']:.1f} s, "
            f"peak RSS {out[mode]['peak rss mib']:.0f} MiB"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    write_results(Path(args.out), "graph_reader_hostile", out, "# Hostile files\n\n" + text)


if __name__ == "__main__":
    main()
