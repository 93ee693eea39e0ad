"""How close do valid files come to the in-graph reader's refusal of unrecoverable clamped blocks?

``tfjpeg.io.graph`` refuses a file when more than ``MAX_UNRESOLVED_SHARE`` of a component's
blocks hold clamped samples (0 or 255) and the reader's final estimate misses a decoded sample by
more than ``MISS_TOLERANCE`` grey levels (provably wrong blocks; graph.py, step 6). This script
measures that share (the largest over components, for several tolerances) on valid files, with
the share of coefficients that differ from ``tfjpeg.io.read_jpeg`` (the truth), so the
threshold's margin and what it refuses can be judged:

* ``train``: BSDS500 training images (every ``--train-every``-th), encoded by Pillow at
  qualities 90, 95, 98 and 100, 4:4:4 and 4:2:0 (validation images, never Kodak);
* ``synthetic``: small saturated graphics (flat primaries, checkerboards, text, shapes, binary
  noise; 8 to 64 pixels) encoded by Pillow, cjpeg and mozjpeg at qualities 30 to 100.

Run (~10 min on a shared 2-core CPU):

    python benchmarks/graph_reader_refusal.py --train-dir $TFJPEG_TRAIN_DIR --out /tmp/refusal

Reference: ARCHITECTURE.md "Serving"; issue 14 (no silently wrong outputs).
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parent.parent))  # an installed tfjpeg first

from benchutil import environment, write_results

TOLERANCES = (1, 2, 4, 8, 16)


def pillow(image: Image.Image, quality: int, subsampled: bool) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality, subsampling=2 if subsampled else 0)
    return buf.getvalue()


def cjpeg(image: Image.Image, quality: int, subsampled: bool) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.ppm"
        image.convert("RGB").save(path)
        sample = "2x2" if subsampled else "1x1"
        args = ["cjpeg", "-quality", str(quality), "-sample", sample, str(path)]
        return subprocess.run(args, capture_output=True, check=True).stdout


def mozjpeg(image: Image.Image, quality: int, subsampled: bool) -> bytes:
    from tfjpeg.io import encode_pixels

    pixels = np.asarray(image.convert("RGB"))
    return encode_pixels(
        pixels, quality=quality, subsampling="420" if subsampled else "444", encoder="mozjpeg"
    )


def graphics(size: int) -> Iterator[tuple[str, Image.Image]]:
    """Saturated synthetic images of ``size`` pixels (height)."""
    rng = np.random.default_rng(size)
    for colour in ((255, 0, 0), (0, 0, 255)):
        yield f"flat{colour[0]}-{colour[2]}", Image.new("RGB", (size, size), colour)
    fine = np.indices((size, size)).sum(0) % 2 * 255
    yield "checker1", Image.fromarray(np.stack([fine] * 3, -1).astype(np.uint8))
    coarse = (np.indices((size, size)) // 4).sum(0) % 2 * 255
    yield "checker4", Image.fromarray(np.stack([coarse, 255 - coarse, coarse], -1).astype(np.uint8))
    text = Image.new("RGB", (size * 3, size), (255, 255, 255))
    draw = ImageDraw.Draw(text)
    draw.text((1, 0), "Hello W0rld! ###", fill=(0, 0, 0))
    draw.text((2, size // 2), "RGB text", fill=(255, 0, 0))
    yield "text", text
    shapes = Image.new("RGB", (size, size), (0, 0, 255))
    draw = ImageDraw.Draw(shapes)
    draw.rectangle([size // 4, size // 4, size // 2, size // 2], fill=(255, 255, 0))
    draw.line([0, 0, size, size], fill=(255, 0, 0), width=1)
    yield "shapes", shapes
    noise = (rng.integers(0, 2, (size, size, 3)) * 255).astype(np.uint8)
    yield "noise", Image.fromarray(noise)
    yield "gray-checker", Image.fromarray(coarse.astype(np.uint8))


def synthetic_files() -> Iterator[tuple[str, bytes]]:
    encoders = {"pillow": pillow, "cjpeg": cjpeg, "mozjpeg": mozjpeg}
    if shutil.which("cjpeg") is None:
        del encoders["cjpeg"]
    for size in (8, 16, 64):
        for name, image in graphics(size):
            for quality in (30, 50, 75, 90, 95, 100):
                for subsampled in (False, True):
                    for enc, encode in encoders.items():
                        if image.mode == "L" and (subsampled or enc != "pillow"):
                            continue
                        tag = f"{enc} q{quality} {'420' if subsampled else '444'}"
                        yield f"{tag} {name} {size}px", encode(image, quality, subsampled)


def train_files(train_dir: Path, every: int) -> Iterator[tuple[str, bytes]]:
    paths = sorted(p for p in train_dir.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    for path in paths[::every]:
        image = Image.open(path).convert("RGB")
        for quality in (90, 95, 98, 100):
            for subsampled in (False, True):
                sub = "420" if subsampled else "444"
                yield f"pillow q{quality} {sub} {path.name}", pillow(image, quality, subsampled)


def measure(files: Iterator[tuple[str, bytes]]) -> list[dict]:
    """Per file: the largest per-component share for each tolerance, and the wrong share."""
    import tensorflow as tf

    from tfjpeg.errors import TfjpegError
    from tfjpeg.io import read_jpeg
    from tfjpeg.io.graph import _miss_shares, _recover

    def shares(data):
        out, misses = _recover(data, 16, 4, None, False)
        return out, tf.stack([_miss_shares(misses, t) for t in TOLERANCES])

    graph = tf.function(shares, input_signature=[tf.TensorSpec([], tf.string)], autograph=False)
    rows = []
    for name, data in files:
        try:
            ref = read_jpeg(data)
            out, share = graph(tf.constant(data))
        except (TfjpegError, tf.errors.InvalidArgumentError) as err:
            rows.append({"file": name, "refused_by_header": type(err).__name__})
            continue
        got = [out[k].numpy() for k in ("y", "cb", "cr")][: len(ref.components)]
        differ = sum(int((g != r).sum()) for g, r in zip(got, ref.components, strict=True))
        total = sum(r.size for r in ref.components)
        rows.append(
            {
                "file": name,
                "share": dict(zip(TOLERANCES, share.numpy().max(axis=1).tolist(), strict=True)),
                "wrong": differ / total,
            }
        )
    return rows


def summarize(rows: list[dict], tolerance: int, threshold: float) -> dict:
    read = [r for r in rows if "share" in r]
    refused = [r for r in read if r["share"][tolerance] > threshold]
    return {
        "files": len(rows),
        "refused_by_header": len(rows) - len(read),
        "max_share": max((r["share"][tolerance] for r in read), default=0.0),
        "max_share_read_within_1pct": max(
            (r["share"][tolerance] for r in read if r["wrong"] <= 0.01), default=0.0
        ),
        "refused": len(refused),
        "refused_min_wrong": min((r["wrong"] for r in refused), default=None),
        "accepted_over_15pct_wrong": sum(
            r["share"][tolerance] <= threshold and r["wrong"] > 0.15 for r in read
        ),
        "max_wrong": max((r["wrong"] for r in read), default=0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, help="BSDS500 training images (skipped if unset)")
    parser.add_argument("--train-every", type=int, default=10, help="use every n-th image")
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--out", type=Path, required=True, help="folder for the table and JSON")
    args = parser.parse_args()
    if args.train_every < 1:
        parser.error("--train-every must be >= 1")

    from tfjpeg.io.graph import MAX_UNRESOLVED_SHARE, MISS_TOLERANCE

    sets = {}
    if not args.no_synthetic:
        sets["synthetic"] = measure(synthetic_files())
    if args.train_dir is not None:
        sets["train"] = measure(train_files(args.train_dir, args.train_every))
    summary = {k: summarize(v, MISS_TOLERANCE, MAX_UNRESOLVED_SHARE) for k, v in sets.items()}
    lines = [
        f"Refusal rule: > {MAX_UNRESOLVED_SHARE:.0%} of a component's blocks clamped and missed "
        f"by > {MISS_TOLERANCE} grey levels.",
        "",
        "| set | files | header-refused | max share | max share (read within 1 %) | refused "
        "| least wrong refused | accepted > 15 % wrong | max wrong |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        least = "-" if s["refused_min_wrong"] is None else f"{s['refused_min_wrong']:.1%}"
        lines.append(
            f"| {name} | {s['files']} | {s['refused_by_header']} | {s['max_share']:.1%} "
            f"| {s['max_share_read_within_1pct']:.1%} | {s['refused']} | {least} "
            f"| {s['accepted_over_15pct_wrong']} | {s['max_wrong']:.1%} |"
        )
    markdown = "\n".join(lines) + "\n"
    print(markdown)
    results = {"environment": environment(), "summary": summary, "files": sets}
    write_results(args.out, "graph_reader_refusal", results, markdown)


if __name__ == "__main__":
    main()
