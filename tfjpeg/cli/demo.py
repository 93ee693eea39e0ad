"""``tfjpeg demo``: the test chart through libjpeg-turbo and through DiffJPEG, side by side;
then ``tfjpeg.compress``'s default and optimize mode against libjpeg-turbo and mozjpeg, and
``tfjpeg.decode`` against the standard decode.

For each quality the chart is compressed by libjpeg-turbo (through Pillow) and by
``DiffJPEG(rounding="hard")`` and ``DiffJPEG(rounding="poly3")``. The demo reports the real file's
bits per pixel and PSNR, how many of DiffJPEG's quantized coefficients equal the file's (read
with jpeglib), and the PSNR of DiffJPEG's decoded pixels against libjpeg-turbo's decode (infinite
when identical). It writes ``demo_side_by_side.png`` and ``demo_results.json`` into the output
folder, each atomically (a temporary file in the same folder, then a rename).

The second table (``compress`` in the JSON) encodes the chart at each quality with the default
``tfjpeg.compress(chart, quality=q)`` (no editor, learned tables where they were learned, one
trellis loop written by libjpeg-turbo),
``tfjpeg.compress(chart, quality=q, optimize=2)`` (the trellis optimize mode,
:data:`OPTIMIZE_STEPS`), libjpeg-turbo (Pillow, optimize=True) and mozjpeg, and gives each
file's bpp and PSNR. The third (``decode``) decodes each libjpeg-turbo file with
``tfjpeg.decode`` (the default consistent decoder) and gives its PSNR next to the standard
decode's and the share of the file's coefficients its uint8 output re-encodes to; the
side-by-side image shows it at the lowest quality. One synthetic chart is a demonstration, not
a measurement: the README gives the validation and Kodak tables.

TensorFlow (and the JPEG readers) are imported only when :func:`run_demo` runs, so building
the ``tfjpeg`` parser stays fast. The command line is :func:`add_parser` / :func:`run`.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tfjpeg._checks import check_quality, check_seed
from tfjpeg.cli.main import EXIT_OK, qualities_type, seed_type, size_type, subsampling_type
from tfjpeg.data.synthetic import MAX_SIDE, MIN_SIDE
from tfjpeg.data.synthetic import make_test_chart as make_chart
from tfjpeg.errors import TfjpegError
from tfjpeg.io import decode_pixels, encode_pixels, read_jpeg, save_bytes_atomic
from tfjpeg.jpeg.layout import CODEC_SUBSAMPLINGS

__all__ = [
    "DEFAULT_OUT_DIR",
    "DEFAULT_QUALITIES",
    "DEFAULT_SIZE",
    "JSON_NAME",
    "PNG_NAME",
    "SUBSAMPLINGS",
    "add_parser",
    "compress_rows",
    "format_compress_table",
    "format_table",
    "print_table",
    "run",
    "run_demo",
]

DEFAULT_OUT_DIR = "tfjpeg_demo"
DEFAULT_QUALITIES = (10, 30, 50, 90)
DEFAULT_SIZE = (512, 768)
PNG_NAME = "demo_side_by_side.png"
JSON_NAME = "demo_results.json"
#: Rate-distortion passes of the demo's optimize column (``tfjpeg.compress(optimize=...)``).
OPTIMIZE_STEPS = 2

#: Chroma subsampling names the demo accepts.
SUBSAMPLINGS = CODEC_SUBSAMPLINGS  # the subsampling names the demo accepts

# Chart windows shown in the side-by-side image, as fractions (top, left, height, width) of the
# chart: the text banner and digits, the Siemens star, the gray ramps and the noise texture.
_CROPS = (
    (0.0, 0.5, 0.36, 0.25),
    (0.36, 0.0, 0.32, 0.25),
    (0.68, 0.25, 0.32, 0.25),
    (0.68, 0.75, 0.32, 0.25),
)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """:func:`tfjpeg.metrics.psnr` in float64 (``inf`` when identical)."""
    from tfjpeg.metrics import psnr

    return psnr(np.asarray(a, np.float64), np.asarray(b, np.float64))


def _agreement(ours: Sequence[np.ndarray], theirs: Sequence[np.ndarray]) -> float:
    """Percent of DiffJPEG's coefficients equal to the file's (component by component)."""
    same = total = 0
    for mine, ref in zip(ours, theirs, strict=True):
        hb, wb = mine.shape[:2]
        total += mine.size
        ref = ref[:hb, :wb]
        if ref.shape == mine.shape:
            same += int(np.count_nonzero(mine == ref))
        else:  # the file has fewer blocks (never expected): compare what overlaps
            same += int(np.count_nonzero(mine[: ref.shape[0], : ref.shape[1]] == ref))
    return 100.0 * same / total


def _prepare_out_dir(out_dir: Path) -> Path:
    """Creates ``out_dir`` if needed and checks that files can be created in it."""
    if out_dir.exists() and not out_dir.is_dir():
        raise TfjpegError(f"output path '{out_dir}' exists and is not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".tfjpeg-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise TfjpegError(f"cannot write to output directory '{out_dir}': {reason}") from exc
    return out_dir


def _write_atomic(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically, replacing an earlier demo output of that name."""

    if path.exists() and not path.is_file():
        raise TfjpegError(f"refusing to replace '{path}': it is not a regular file")
    try:
        save_bytes_atomic(path, data, overwrite=True)
    except OSError as exc:
        raise TfjpegError(f"cannot write '{path}': {exc.strerror or exc}") from exc


def _label(text: str, width: int, height: int) -> Image.Image:
    strip = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    try:
        font: Any = ImageFont.load_default(size=max(8, int(height * 0.62)))
    except (ImportError, OSError):  # Pillow without FreeType
        font = ImageFont.load_default()
    left, top, _, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text((4 - left, (height - (bottom - top)) / 2 - top), text, fill=(0, 0, 0), font=font)
    return strip


def _side_by_side(
    chart: np.ndarray, decoded: Sequence[np.ndarray], labels: Sequence[str]
) -> Image.Image:
    """Rows of chart windows; columns: original, then each JPEG; a label strip on top."""
    height, width = chart.shape[:2]
    windows = []
    for top, left, rel_h, rel_w in _CROPS:
        crop_h, crop_w = max(1, round(rel_h * height)), max(1, round(rel_w * width))
        y0, x0 = min(round(top * height), height - crop_h), min(round(left * width), width - crop_w)
        windows.append((y0, x0, crop_h, crop_w))
    crop_w = windows[0][3]
    scale = max(1, min(4, 384 // crop_w))
    cell_w, gap, label_h = crop_w * scale, 4, 36
    columns = [chart, *decoded]
    total_h = label_h + sum(h * scale + gap for _, _, h, _ in windows) - gap
    sheet = Image.new("RGB", (len(columns) * (cell_w + gap) - gap, total_h), (255, 255, 255))
    for col, (image, text) in enumerate(zip(columns, labels, strict=True)):
        x, y = col * (cell_w + gap), label_h
        sheet.paste(_label(text, cell_w, label_h), (x, 0))
        for y0, x0, crop_h, _ in windows:
            window = Image.fromarray(image[y0 : y0 + crop_h, x0 : x0 + crop_w])
            sheet.paste(window.resize((cell_w, crop_h * scale), Image.Resampling.NEAREST), (x, y))
            y += crop_h * scale + gap
    return sheet


def _json_number(value: float, digits: int = 4) -> float | str:
    return "inf" if math.isinf(value) else round(value, digits)


def _inf_text(stream: TextIO) -> str:
    try:
        "∞".encode(getattr(stream, "encoding", None) or "ascii")
    except (LookupError, UnicodeEncodeError):
        return "inf"
    return "∞"


def format_table(rows: Sequence[dict[str, Any]], infinity: str = "∞") -> str:
    """The demo's results as a fixed-width text table, one line per quality.

    Args:
        rows: the ``results`` entries of :func:`run_demo`.
        infinity: how to print an infinite PSNR.

    Returns:
        The table, lines joined with newlines, no trailing newline.
    """

    def db(value: float | str) -> str:
        return infinity if value == "inf" else f"{value:.2f}"

    header = (
        f"{'quality':>7}  {'bpp':>6}  {'PSNR JPEG':>9}  {'coef agree':>10}  "
        f"{'hard vs libjpeg':>15}  {'poly3 vs libjpeg':>16}"
    )
    units = f"{'':>7}  {'':>6}  {'dB':>9}  {'%':>10}  {'PSNR dB':>15}  {'PSNR dB':>16}"
    lines = [header, units, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['quality']:>7d}  {row['bpp']:>6.3f}  {db(row['psnr_jpeg_db']):>9}  "
            f"{row['coefficient_agreement_percent']:>10.3f}  "
            f"{db(row['diffjpeg_hard_psnr_vs_libjpeg_db']):>15}  "
            f"{db(row['diffjpeg_poly3_psnr_vs_libjpeg_db']):>16}"
        )
    return "\n".join(lines)


def compress_rows(chart: np.ndarray, qualities: Sequence[int], subsampling: str) -> list[dict]:
    """Per quality: bpp and PSNR of the default ``tfjpeg.compress``, its optimize mode
    (:data:`OPTIMIZE_STEPS`), libjpeg-turbo and mozjpeg."""
    from tfjpeg.api.compression import compress_image

    pixels = chart.shape[0] * chart.shape[1]
    rows = []
    for q in qualities:
        default = compress_image(chart, quality=q, subsampling=subsampling)
        optimized = compress_image(
            chart, quality=q, subsampling=subsampling, optimize=OPTIMIZE_STEPS
        )
        files = {
            "default": default.jpeg,
            "optimize": optimized.jpeg,
            "libjpeg_turbo": encode_pixels(chart, q, subsampling=subsampling, optimize=True),
            "mozjpeg": encode_pixels(chart, q, subsampling=subsampling, encoder="mozjpeg"),
        }
        row: dict[str, Any] = {"quality": q, "default_tables": default.tables}
        for name, data in files.items():
            row[f"{name}_bpp"] = round(8.0 * len(data) / pixels, 4)
            row[f"{name}_psnr_db"] = _json_number(_psnr(decode_pixels(data), chart))
        rows.append(row)
    return rows


def format_compress_table(rows: Sequence[dict[str, Any]], infinity: str = "∞") -> str:
    """The ``compress`` rows of :func:`run_demo` as a fixed-width text table."""

    def db(value: float | str) -> str:
        return infinity if value == "inf" else f"{value:.2f}"

    names = (
        ("default", "tfjpeg default"),
        ("optimize", f"tfjpeg --optimize {OPTIMIZE_STEPS}"),
        ("libjpeg_turbo", "libjpeg-turbo"),
        ("mozjpeg", "mozjpeg"),
    )
    header = f"{'quality':>7}  {'tables':>8}  " + "  ".join(f"{label:>21}" for _, label in names)
    units = f"{'':>7}  {'':>8}  " + "  ".join(f"{'bpp / PSNR dB':>21}" for _ in names)
    lines = [header, units, "-" * len(header)]
    for row in rows:
        cells = "  ".join(
            f"{row[f'{key}_bpp']:>12.3f} / {db(row[f'{key}_psnr_db']):>6}" for key, _ in names
        )
        lines.append(f"{row['quality']:>7d}  {row['default_tables']:>8}  {cells}")
    return "\n".join(lines)


def decode_rows(
    chart: np.ndarray,
    qualities: Sequence[int],
    files: Sequence[bytes],
    standard: Sequence[np.ndarray],
) -> tuple[list[dict], list[np.ndarray]]:
    """Per quality: PSNR of ``tfjpeg.decode`` (default decoder) and of the standard decode of
    the same libjpeg-turbo file, and the share of the file's coefficients the decoding's uint8
    output re-encodes to; also the decoded images."""
    from tfjpeg.api.decoding import decode
    from tfjpeg.decoders.consistency import consistency_report
    from tfjpeg.models import default_name

    rows, images = [], []
    for q, data, plain in zip(qualities, files, standard, strict=True):
        decoded = decode(data)
        report = consistency_report(decoded, data)
        rows.append(
            {
                "quality": q,
                "decoder": default_name("decoder"),
                "standard_psnr_db": _json_number(_psnr(plain, chart)),
                "decoded_psnr_db": _json_number(_psnr(decoded, chart)),
                "consistent_percent": round(100.0 * report["fraction_uint8"], 4),
            }
        )
        images.append(decoded)
    return rows, images


def format_decode_table(rows: Sequence[dict[str, Any]], infinity: str = "∞") -> str:
    """The ``decode`` rows of :func:`run_demo` as a fixed-width text table."""

    def db(value: float | str) -> str:
        return infinity if value == "inf" else f"{value:.2f}"

    header = (
        f"{'quality':>7}  {'standard decode dB':>18}  {'tfjpeg.decode dB':>16}  "
        f"{'gain dB':>7}  {'consistent %':>12}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        plain, ours = row["standard_psnr_db"], row["decoded_psnr_db"]
        gain = "" if "inf" in (plain, ours) else f"{ours - plain:+.2f}"
        lines.append(
            f"{row['quality']:>7d}  {db(plain):>18}  {db(ours):>16}  {gain:>7}  "
            f"{row['consistent_percent']:>12.4f}"
        )
    return "\n".join(lines)


def _check_args(
    qualities: Sequence[int], subsampling: str, size: tuple[int, int], seed: int
) -> tuple[int, ...]:
    qualities = tuple(qualities)
    if not qualities:
        raise ValueError("qualities must not be empty. Received: qualities=()")
    for q in qualities:
        check_quality(q)
    if subsampling not in SUBSAMPLINGS:
        raise ValueError(
            f"subsampling must be one of {SUBSAMPLINGS}. Received: subsampling={subsampling!r}"
        )
    if len(size) != 2 or not all(MIN_SIDE <= int(s) <= MAX_SIDE for s in size):
        raise ValueError(
            f"size must be (height, width), each in [{MIN_SIDE}, {MAX_SIDE}]. Received: size={size}"
        )
    check_seed(seed)
    return tuple(dict.fromkeys(qualities))


def run_demo(
    out_dir: str | os.PathLike[str] = DEFAULT_OUT_DIR,
    qualities: Sequence[int] = DEFAULT_QUALITIES,
    subsampling: str = "420",
    size: tuple[int, int] = DEFAULT_SIZE,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Runs the demo: libjpeg-turbo vs DiffJPEG on the test chart at each quality.

    Args:
        out_dir: folder for ``demo_side_by_side.png`` and ``demo_results.json``; created if
            missing. Those two files are replaced if present; nothing else is touched.
        qualities: JPEG qualities in [1, 100] (duplicates are dropped, order kept).
        subsampling: chroma subsampling, "444", "422" or "420".
        size: chart (height, width) in pixels.
        seed: seed of the chart's noise texture.
        log: called with one progress line at a time; defaults to printing on stderr.

    Returns:
        The JSON document written to ``demo_results.json``: chart size and seed, subsampling,
        versions, output paths, run time and ``results``, one dict per quality with ``quality``,
        ``bytes``, ``bpp``, ``psnr_jpeg_db``, ``coefficient_agreement_percent``,
        ``diffjpeg_hard_psnr_vs_libjpeg_db``, ``diffjpeg_hard_max_abs_diff`` and
        ``diffjpeg_poly3_psnr_vs_libjpeg_db`` (an infinite PSNR is the string ``"inf"``).

    Raises:
        ValueError: if an argument is out of range.
        TfjpegError: if the output folder cannot be created or written.

    Example:
        >>> doc = run_demo("/tmp/tfjpeg_demo", qualities=[10, 90], size=(128, 192))
        >>> doc["results"][0]["coefficient_agreement_percent"]
        100.0
    """
    if log is None:

        def log(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

    start = time.perf_counter()
    qualities = _check_args(qualities, subsampling, size, seed)
    out = _prepare_out_dir(Path(out_dir))
    height, width = int(size[0]), int(size[1])

    log(f"tfjpeg demo: drawing the {height}x{width} test chart (seed {seed})")
    chart = make_chart(height, width, seed)

    log(f"tfjpeg demo: libjpeg-turbo (Pillow) at quality {', '.join(map(str, qualities))}")
    files = [encode_pixels(chart, q, subsampling=subsampling) for q in qualities]
    libjpeg = [decode_pixels(data) for data in files]
    file_coefs = [read_jpeg(data).components for data in files]

    log("tfjpeg demo: loading TensorFlow and DiffJPEG")
    import tensorflow as tf

    from tfjpeg.jpeg import DiffJPEG

    batch = tf.constant(np.repeat(chart[None], len(qualities), axis=0), tf.float32)
    quality_tensor = tf.constant(qualities, tf.float32)
    log("tfjpeg demo: DiffJPEG rounding='hard' (libjpeg-exact)")
    hard = DiffJPEG(subsampling=subsampling, rounding="hard")(batch, quality=quality_tensor)
    hard_decoded = hard["decoded"].numpy()
    hard_coefs = [c.numpy() for c in hard["coefficients"]]
    log("tfjpeg demo: DiffJPEG rounding='poly3' (differentiable)")
    poly3 = DiffJPEG(subsampling=subsampling, rounding="poly3")(batch, quality=quality_tensor)
    poly3_decoded = poly3["decoded"].numpy()

    results = []
    for i, q in enumerate(qualities):
        ours = [c[i].astype(np.int64) for c in hard_coefs]
        row = {
            "quality": q,
            "bytes": len(files[i]),
            "bpp": round(8.0 * len(files[i]) / (height * width), 4),
            "psnr_jpeg_db": _json_number(_psnr(libjpeg[i], chart)),
            "coefficient_agreement_percent": round(_agreement(ours, file_coefs[i]), 4),
            "diffjpeg_hard_psnr_vs_libjpeg_db": _json_number(_psnr(hard_decoded[i], libjpeg[i])),
            "diffjpeg_hard_max_abs_diff": float(
                np.max(np.abs(hard_decoded[i] - libjpeg[i].astype(np.float32)))
            ),
            "diffjpeg_poly3_psnr_vs_libjpeg_db": _json_number(_psnr(poly3_decoded[i], libjpeg[i])),
        }
        results.append(row)
        log(
            f"tfjpeg demo: q={q}: {row['bpp']:.3f} bpp, {_psnr(libjpeg[i], chart):.2f} dB, "
            f"coefficients {row['coefficient_agreement_percent']:.3f}% identical"
        )

    log(
        f"tfjpeg demo: tfjpeg.compress default and --optimize {OPTIMIZE_STEPS} vs libjpeg-turbo "
        "and mozjpeg"
    )
    compressed = compress_rows(chart, qualities, subsampling)
    log("tfjpeg demo: tfjpeg.decode (consistent decoding) vs the standard decode")
    decoded_rows, decoded = decode_rows(chart, qualities, files, libjpeg)

    labels = ["original"] + [f"q={r['quality']}  {r['bpp']:.2f} bpp" for r in results]
    lowest = int(np.argmin(qualities))
    gain = decoded_rows[lowest]
    labels.append(f"q={gain['quality']} tfjpeg.decode")
    sheet = _side_by_side(chart, [*libjpeg, decoded[lowest]], labels)
    png = io.BytesIO()
    sheet.save(png, "PNG", optimize=False)
    png_path, json_path = out / PNG_NAME, out / JSON_NAME
    _write_atomic(png_path, png.getvalue())

    import jpeglib
    import PIL

    import tfjpeg

    doc: dict[str, Any] = {
        "tfjpeg_version": tfjpeg.__version__,
        "chart": {"height": height, "width": width, "seed": seed},
        "subsampling": subsampling,
        "encoder": f"libjpeg-turbo via Pillow {PIL.__version__}",
        "versions": {
            "pillow": PIL.__version__,
            "jpeglib": getattr(jpeglib, "__version__", "unknown"),
            "tensorflow": tf.__version__,
        },
        "side_by_side": str(png_path),
        "results": results,
        "compress": compressed,
        "decode": decoded_rows,
        "seconds": round(time.perf_counter() - start, 2),
    }
    _write_atomic(json_path, (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode())
    log(f"tfjpeg demo: wrote {png_path} and {json_path} in {doc['seconds']:.1f} s")
    return doc


def print_table(doc: dict[str, Any], stream: TextIO | None = None) -> None:
    """Prints :func:`format_table` of ``doc["results"]`` on ``stream`` (stdout by default)."""
    stream = sys.stdout if stream is None else stream
    subsampling = doc["subsampling"]
    chart = doc["chart"]
    print(
        f"tfjpeg demo: {chart['height']}x{chart['width']} chart, subsampling {subsampling}, "
        f"{doc['encoder']}",
        file=stream,
    )
    print(format_table(doc["results"], infinity=_inf_text(stream)), file=stream)
    if doc.get("compress"):
        print(
            "\ntfjpeg compress default (no editor, learned tables, trellis) and its optimize mode "
            "vs libjpeg-turbo (optimize) and mozjpeg at the same quality number; one chart, not a "
            "measurement (README: validation BD-rates)",
            file=stream,
        )
        print(format_compress_table(doc["compress"], infinity=_inf_text(stream)), file=stream)
    if doc.get("decode"):
        print(
            f"\ntfjpeg.decode ({doc['decode'][0]['decoder']}) vs the standard decode of the "
            "libjpeg-turbo files (PSNR against the chart; consistent: share of the file's "
            "coefficients the uint8 output re-encodes to)",
            file=stream,
        )
        print(format_decode_table(doc["decode"], infinity=_inf_text(stream)), file=stream)


# ----------------------------------------------------------------------------- command line


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    """Adds the ``demo`` subparser (handler :func:`run`)."""
    parser = subparsers.add_parser(
        name,
        help="compare libjpeg-turbo and DiffJPEG, and tfjpeg compress's default, on a test chart",
        description=(
            "Compress tfjpeg's test chart with libjpeg-turbo (Pillow) and with DiffJPEG at each "
            "quality; print bits per pixel, PSNR, DiffJPEG/libjpeg coefficient agreement and "
            "decode PSNR; then the chart through tfjpeg compress's default, libjpeg-turbo and "
            f"mozjpeg (bpp, PSNR); write {PNG_NAME} and {JSON_NAME} into --out."
        ),
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT_DIR,
        metavar="DIR",
        help=f"output folder, created if missing (default: ./{DEFAULT_OUT_DIR})",
    )
    parser.add_argument(
        "--qualities",
        type=qualities_type,
        default=list(DEFAULT_QUALITIES),
        metavar="Q,Q,...",
        help="comma-separated JPEG qualities in [1, 100] (default: "
        + ",".join(map(str, DEFAULT_QUALITIES))
        + ")",
    )
    parser.add_argument(
        "--subsampling",
        type=subsampling_type,
        default="420",
        metavar="{444,422,420}",
        help="chroma subsampling (default: 420)",
    )
    parser.add_argument(
        "--size",
        type=size_type,
        default=DEFAULT_SIZE,
        metavar="HxW",
        help=f"test chart size in pixels, each side in [{MIN_SIDE}, {MAX_SIDE}] "
        f"(default: {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]})",
    )
    parser.add_argument(
        "--seed", type=seed_type, default=0, help="seed of the chart's noise texture (default: 0)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only the table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Runs :func:`run_demo` with the parsed arguments and prints the table."""
    log = (lambda line: None) if args.quiet else None
    doc = run_demo(
        out_dir=args.out,
        qualities=args.qualities,
        subsampling=args.subsampling,
        size=args.size,
        seed=args.seed,
        log=log,
    )
    print_table(doc)
    return EXIT_OK
