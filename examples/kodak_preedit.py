"""Rate-distortion of pre-editing (Talebi et al. 2020 §5): methods × metrics vs plain JPEG.

For every image and quality, each method is encoded, decoded with libjpeg-turbo (Pillow) and
scored: bits per pixel, PSNR (RGB), MS-SSIM, Butteraugli (max-norm and 3-norm, through
``butteraugli_main``) and NIQE (``tfjpeg.metrics``). A method is a spec of
:mod:`tfjpeg.api.methods`, i.e. keyword arguments of ``tfjpeg.compress_image``:

* ``libjpeg``: libjpeg-turbo with optimized Huffman tables (``optimize=True``), sequential —
  exactly the writer ``tfjpeg compress`` uses (``progressive=False``) — the first anchor;
* ``mozjpeg``: mozjpeg 4.0.3 (trellis quantization, its tables; sequential, optimized Huffman),
  the second anchor;
* ``<editor>+<encoder>`` for the shipped editors (smoothing, stn, cascade), the editor
  conditioned on the file's quality clamped into its training range [8, 25];
* any other spec, e.g. ``smoothing+libjpeg:optimize=25`` or ``libjpeg:tables=learned`` once
  ``compress_image`` takes those options (an unknown option is refused with the known ones).

Images: ``--split kodak`` (the default; final reports only) or ``--split validation``: the
validation part of ``TFJPEG_TRAIN_DIR`` (:mod:`tfjpeg.data.splits`), where checkpoints and
settings are chosen.

Writes into ``--out`` (default ``./kodak_preedit_results``; the committed Kodak results used
``--out benchmarks/results/kodak_preedit``): ``results.json`` (mean curves, BD-rates, per-image
points), ``results.md`` (BD-rate tables vs libjpeg-turbo and vs mozjpeg, NIQE gaps, speed, mean
RD points), ``rd_curves.png`` (drawn with Pillow) and ``crops_0.3bpp.png`` (side-by-side crops
of one image at ≈0.3 bpp). Each image × method is cached in ``--out/cache`` so an interrupted
run resumes and a run with more methods reuses the rest; finished results in ``--out`` are
replaced only with ``--overwrite``.

BD-rate (``tfjpeg.metrics.bd_rate``, pchip) of every method against each anchor within 0.1–0.5
and 0.5–1.5 bpp for every metric; for NIQE and Butteraugli (lower is better) the negated score
is the quality; "n/m" where a mean curve is not monotone in bpp. The mean NIQE difference at
equal bpp (linear interpolation in log-bpp over the band) is also given.

Usage::

    python examples/kodak_preedit.py [--split kodak|validation] [--images 24]
        [--qualities 5,8,10,...,50,65] [--methods libjpeg mozjpeg smoothing+libjpeg ...]
        [--editors smoothing,stn,cascade [--encoders libjpeg,mozjpeg]]
        [--no-niqe] [--no-butteraugli] [--out DIR] [--overwrite]

The default qualities are 5…50 plus 65, so that libjpeg-turbo's curve reaches 1.5 bpp on Kodak
and the 0.5–1.5 bpp band is covered.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import re
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_QUALITIES = (5, 8, 10, 12, 15, 20, 25, 30, 40, 50, 65)
DEFAULT_METHODS = (
    "libjpeg",
    "mozjpeg",
    "smoothing+libjpeg",
    "stn+libjpeg",
    "cascade+libjpeg",
    "smoothing+mozjpeg",
    "stn+mozjpeg",
    "cascade+mozjpeg",
)
ANCHORS = ("libjpeg", "mozjpeg")
BANDS = ((0.1, 0.5), (0.5, 1.5))
METRICS = ("psnr", "ms_ssim", "butteraugli", "butteraugli_3norm", "niqe")
#: Metrics where lower is better (their negation is the quality of a BD-rate).
LOWER_IS_BETTER = ("butteraugli", "butteraugli_3norm", "niqe")
CROP_TARGET_BPP = 0.3
TITLES = {
    "psnr": "PSNR (dB)",
    "ms_ssim": "MS-SSIM",
    "butteraugli": "Butteraugli max (lower = better)",
    "butteraugli_3norm": "Butteraugli 3-norm (lower = better)",
    "niqe": "NIQE (lower = better)",
}


def cache_name(image: str, label: str) -> str:
    """A file name for one image × method (the label made safe, plus a short hash)."""
    slug = re.sub(r"[^A-Za-z0-9+_.=-]+", "_", label)[:60]
    digest = hashlib.sha1(label.encode()).hexdigest()[:8]
    return f"{image}__{slug}__{digest}.json"


def evaluate_method(name, image, qualities, method, metrics, edits) -> tuple[dict, float]:
    """({quality: {"bpp", <metric>...}}, seconds) of one method on one image, through
    :func:`tfjpeg.metrics.evaluation.evaluate_encoding` with the method's encode function
    (what ``tfjpeg.compress_image`` writes)."""
    from tfjpeg.api.methods import encode_function
    from tfjpeg.metrics.evaluation import evaluate_encoding

    encode = encode_function(method, edits=edits)
    start = time.perf_counter()
    files = {q: encode(image, q) for q in qualities}
    seconds = time.perf_counter() - start
    records = evaluate_encoding(lambda _img, q: files[q], [(name, image)], qualities,
                                metrics=metrics)  # fmt: skip
    curve = {str(r["quality"]): {"bpp": r["bpp"], **{m: r[m] for m in metrics}} for r in records}
    return curve, seconds


def _mean_curves(per_image: dict, methods, qualities) -> dict:
    curves = {}
    for method in methods:
        curve = {}
        for q in qualities:
            rows = [per_image[n][method][str(q)] for n in per_image]
            curve[str(q)] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        curves[method] = curve
    return curves


def _series(curve: dict, metric: str):
    qs = sorted(curve, key=int)
    rates = [curve[q]["bpp"] for q in qs]
    values = [curve[q][metric] for q in qs]
    if metric in LOWER_IS_BETTER:
        values = [-v for v in values]
    return rates, values


def _niqe_gap(anchor: dict, test: dict, band) -> float:
    """Mean NIQE(test) − NIQE(anchor) at equal bpp within ``band`` (log-bpp interpolation)."""
    ra, qa = _series(anchor, "niqe")
    rt, qt = _series(test, "niqe")
    lo = max(band[0], min(ra), min(rt))
    hi = min(band[1], max(ra), max(rt))
    if not hi > lo:
        return math.nan
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), 50))
    oa, ot = np.argsort(ra), np.argsort(rt)
    a = np.interp(np.log(grid), np.log(np.asarray(ra)[oa]), -np.asarray(qa)[oa])
    t = np.interp(np.log(grid), np.log(np.asarray(rt)[ot]), -np.asarray(qt)[ot])
    return float(np.mean(t - a))


def bd_table(curves: dict, anchor: str, methods, metrics) -> dict:
    from tfjpeg.metrics import BDRateError, bd_rate

    table = {}
    for method in methods:
        if method == anchor:
            continue
        row = {}
        for metric in metrics:
            for band in BANDS:
                key = f"{metric} {band[0]}-{band[1]}"
                ra, qa = _series(curves[anchor], metric)
                rt, qt = _series(curves[method], metric)
                try:
                    row[key] = bd_rate(ra, qa, rt, qt, band=band)
                except BDRateError as err:
                    row[key] = None
                    row[key + " why"] = str(err)
                if metric == "niqe":
                    row[f"niqe gap {band[0]}-{band[1]}"] = _niqe_gap(
                        curves[anchor], curves[method], band
                    )
        table[method] = row
    return table


# ------------------------------------------------------------------------------------ drawing
_COLOURS = {
    "libjpeg": (0, 0, 0),
    "mozjpeg": (120, 120, 120),
    "smoothing": (31, 119, 180),
    "stn": (214, 39, 40),
    "cascade": (44, 160, 44),
}


_EXTRA_COLOURS = ((148, 103, 189), (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207))


def _style(method: str):
    """(colour, dashed) of a method label: by editor, dashed for mozjpeg, other specs (with
    options) in extra colours."""
    base, _, extra = method.partition(":")
    editor, _, encoder = base.partition("+")
    colour = _COLOURS.get(editor if encoder else base, _EXTRA_COLOURS[0])
    if extra:
        index = int(hashlib.sha1(method.encode()).hexdigest(), 16) % len(_EXTRA_COLOURS)
        colour = _EXTRA_COLOURS[index]
    dashed = (encoder or base) == "mozjpeg"
    return colour, dashed


def draw_rd_plot(curves: dict, metrics, path: Path) -> None:
    """RD curves (one panel per metric, bpp on x) drawn with Pillow."""
    from tfjpeg.io.chart import draw_axes

    pw, ph, margin = 420, 320, 56
    width = pw * len(metrics) + margin
    height = ph + 170
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    rates = [pt["bpp"] for c in curves.values() for pt in c.values()]
    x_lo, x_hi = 0.0, max(min(max(rates), 2.5), 0.5)
    for p, metric in enumerate(metrics):
        values = [pt[metric] for c in curves.values() for pt in c.values() if metric in pt]
        y_lo, y_hi = min(values), max(values)
        pad = 0.05 * (y_hi - y_lo or 1)
        y_lo, y_hi = y_lo - pad, y_hi + pad
        left, top = margin + p * pw, 30
        right, bottom = left + pw - 40, top + ph - 50

        to_px = draw_axes(draw, (left, top, right, bottom), (x_lo, x_hi), (y_lo, y_hi), "bpp")
        draw.text((left + 5, 8), TITLES[metric] + " vs bpp", fill=(0, 0, 0))
        for method, curve in curves.items():
            colour, dashed = _style(method)
            pts = sorted((pt["bpp"], pt[metric]) for pt in curve.values() if metric in pt)
            pts = [to_px(x, y) for x, y in pts if x <= x_hi]
            for a, b in itertools.pairwise(pts):
                if dashed:
                    steps = 6
                    for s in range(0, steps, 2):
                        p0 = (a[0] + (b[0] - a[0]) * s / steps, a[1] + (b[1] - a[1]) * s / steps)
                        p1 = (
                            a[0] + (b[0] - a[0]) * (s + 1) / steps,
                            a[1] + (b[1] - a[1]) * (s + 1) / steps,
                        )
                        draw.line([p0, p1], fill=colour, width=2)
                else:
                    draw.line([a, b], fill=colour, width=2)
            for x, y in pts:
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
    # legend
    y = ph + 10
    for i, method in enumerate(curves):
        colour, dashed = _style(method)
        x = margin + (i % 4) * 260
        yy = y + (i // 4) * 22
        if dashed:
            draw.line([x, yy + 6, x + 10, yy + 6], fill=colour, width=2)
            draw.line([x + 16, yy + 6, x + 26, yy + 6], fill=colour, width=2)
        else:
            draw.line([x, yy + 6, x + 26, yy + 6], fill=colour, width=2)
        draw.text((x + 32, yy), method, fill=(0, 0, 0))
    _save_image(img, path)


def draw_crops(name, image, per_image_result, methods, path: Path, size: int = 160) -> dict:
    """Side-by-side crops of ``image`` for every method at the quality closest to 0.3 bpp."""
    from tfjpeg.api.methods import encode_function
    from tfjpeg.io import decode_pixels

    h, w = image.shape[:2]
    y0, x0 = (h - size) // 2, (w - size) // 2
    tiles, chosen, edits = [("original", image[y0 : y0 + size, x0 : x0 + size])], {}, {}
    for method in methods:
        curve = per_image_result[method.label]
        q = min(curve, key=lambda k: abs(curve[k]["bpp"] - CROP_TARGET_BPP))
        data = encode_function(method, edits=edits)(image, int(q))
        bpp = 8.0 * len(data) / (h * w)
        chosen[method.label] = {"quality": int(q), "bpp": bpp}
        tiles.append(
            (f"{method.label} q{q} {bpp:.3f}bpp",
             decode_pixels(data)[y0 : y0 + size, x0 : x0 + size])
        )  # fmt: skip
    cols = 4
    rows = math.ceil(len(tiles) / cols)
    sheet = Image.new("RGB", (cols * (size + 8), rows * (size + 24)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, tile) in enumerate(tiles):
        x, y = (i % cols) * (size + 8), (i // cols) * (size + 24)
        sheet.paste(Image.fromarray(np.ascontiguousarray(tile)), (x, y + 18))
        draw.text((x + 2, y + 3), label[:28], fill=(0, 0, 0))
    _save_image(sheet, path)
    return {"image": name, "crop": [int(y0), int(x0), size], "methods": chosen}


def _save_image(img: Image.Image, path: Path) -> None:
    """Save a PNG atomically (``tfjpeg.io.atomic``)."""
    import io

    from tfjpeg.io import save_bytes_atomic

    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    save_bytes_atomic(path, buf.getvalue(), overwrite=True)


def _fmt(v, digits=1):
    return "n/m" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:+.{digits}f}"


def _bd_lines(title: str, table: dict, cols) -> list[str]:
    lines = ["", title, ""]
    lines.append("| method | " + " | ".join(cols) + " |")
    lines.append("|---" * (len(cols) + 1) + "|")
    for method, row in table.items():
        lines.append(f"| {method} | " + " | ".join(_fmt(row.get(c)) for c in cols) + " |")
    return lines


def write_markdown(doc: dict, path: Path) -> None:
    from tfjpeg.io import save_bytes_atomic

    where = "Kodak" if doc["split"] == "kodak" else "validation split of TFJPEG_TRAIN_DIR"
    lines = [
        f"# Pre-editing rate-distortion ({where})",
        "",
        f"Command: `{doc['command']}`  ",
        f"Images: {doc['num_images']} ({where}), 4:2:0; qualities {doc['qualities']}; "
        f"wall time {doc['wall_seconds'] / 60:.1f} min.",
        "",
        "BD-rate (%): negative = fewer bits at equal quality; Butteraugli and NIQE: lower is "
        "better (negated for the BD-rate); n/m = a mean curve is not monotone in the band.",
    ]
    metrics = doc["metrics"]
    cols = [f"{m} {lo}-{hi}" for m in metrics for lo, hi in BANDS]
    lines += _bd_lines(
        "## BD-rate (%) vs libjpeg-turbo (optimize=True, sequential: the tfjpeg writer)",
        doc["bd_vs_libjpeg"], cols,
    )  # fmt: skip
    lines += _bd_lines("## BD-rate (%) vs mozjpeg 4.0.3", doc["bd_vs_mozjpeg"], cols)
    if "niqe" in metrics:
        lines += ["", "## Mean NIQE difference at equal bpp vs libjpeg-turbo (lower = better)", ""]
        lines.append("| method | 0.1-0.5 bpp | 0.5-1.5 bpp |")
        lines.append("|---|---|---|")
        for method, row in doc["bd_vs_libjpeg"].items():
            lines.append(
                f"| {method} | {_fmt(row.get('niqe gap 0.1-0.5'), 2)} | "
                f"{_fmt(row.get('niqe gap 0.5-1.5'), 2)} |"
            )
    lines += ["", "## Mean rate-distortion points", ""]
    head = ["method", "q", "bpp", *(TITLES[m].split(" (")[0] for m in metrics)]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|---" * len(head) + "|")
    digits = {"psnr": 2, "ms_ssim": 4, "butteraugli": 3, "butteraugli_3norm": 3, "niqe": 2}
    for method, curve in doc["curves"].items():
        for q in sorted(curve, key=int):
            pt = curve[q]
            cells = [method, q, f"{pt['bpp']:.4f}"]
            cells += [f"{pt[m]:.{digits[m]}f}" for m in metrics]
            lines.append("| " + " | ".join(cells) + " |")
    if doc.get("crops"):
        c = doc["crops"]
        lines += [
            "",
            f"Crops (`crops_0.3bpp.png`): {c['image']}, quality per method closest to "
            f"{CROP_TARGET_BPP} bpp: "
            + ", ".join(f"{m} q{v['quality']} ({v['bpp']:.3f})" for m, v in c["methods"].items()),
        ]
    save_bytes_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"), overwrite=True)


def load_images(split: str, limit: int | None):
    """[(name, uint8 image)] of Kodak or of the validation part of TFJPEG_TRAIN_DIR."""
    from tfjpeg.data.folders import dataset_dir, iter_images, load_image
    from tfjpeg.data.splits import split_images

    if split == "kodak":
        return list(iter_images(dataset_dir("kodak"), limit=limit))
    paths = split_images(dataset_dir("train"), "validation")[:limit]
    return [(p.stem, load_image(p)) for p in paths]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--split", choices=("kodak", "validation"), default="kodak",
        help="kodak (final reports) or the validation part of TFJPEG_TRAIN_DIR (choices)",
    )  # fmt: skip
    parser.add_argument("--images", type=int, default=None, help="first N images (default all)")
    parser.add_argument(
        "--qualities", default=",".join(map(str, DEFAULT_QUALITIES)), help="comma-separated"
    )
    parser.add_argument(
        "--methods", nargs="+", default=None, metavar="SPEC",
        help="method specs (tfjpeg.api.methods): ENCODER, EDITOR+ENCODER or "
        "BASE:KEY=VALUE,... with tfjpeg.compress_image keyword arguments; the anchors "
        "libjpeg and mozjpeg are always added (default: "
        + " ".join(DEFAULT_METHODS) + ")",
    )  # fmt: skip
    parser.add_argument(
        "--editors", default=None,
        help="shorthand: comma-separated editors, each with every --encoders encoder",
    )  # fmt: skip
    parser.add_argument("--encoders", default="libjpeg,mozjpeg", help="for --editors")
    parser.add_argument("--no-niqe", action="store_true", help="skip NIQE (faster)")
    parser.add_argument("--no-butteraugli", action="store_true", help="skip Butteraugli")
    parser.add_argument("--crop-image", default="kodim23", help="image of the crops sheet")
    parser.add_argument(
        "--out", type=Path, default=Path("kodak_preedit_results"),
        help="output folder (default: ./kodak_preedit_results in the current directory; the "
        "committed results were written with --out benchmarks/results/kodak_preedit)",
    )  # fmt: skip
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the finished results in --out"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from tfjpeg.api.methods import parse_method
    from tfjpeg.io import save_bytes_atomic

    qualities = [int(q) for q in args.qualities.split(",") if q.strip()]
    specs = args.methods
    if args.editors is not None:
        encoders = [e for e in args.encoders.split(",") if e.strip()]
        editors = [e for e in args.editors.split(",") if e.strip()]
        specs = [*(specs or ()), *encoders, *(f"{e}+{enc}" for e in editors for enc in encoders)]
    if specs is None:
        specs = list(DEFAULT_METHODS)
    labels = list(dict.fromkeys([*ANCHORS, *specs]))  # anchors first, no repeats
    methods = [parse_method(label) for label in labels]
    metrics = [
        m for m in METRICS
        if not (m == "niqe" and args.no_niqe)
        and not (m.startswith("butteraugli") and args.no_butteraugli)
    ]  # fmt: skip
    if not args.no_butteraugli:
        from tfjpeg.metrics.butteraugli import butteraugli_binary

        butteraugli_binary()  # a clear error now, not after the first image
    if (args.out / "results.json").is_file() and not args.overwrite:
        raise SystemExit(
            f"{args.out / 'results.json'} exists: pass --overwrite to replace the finished "
            "results (the per-image cache is reused), or choose another --out."
        )
    cache = args.out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    started = time.time()
    per_image, images, seconds = {}, {}, {m.label: 0.0 for m in methods}
    pixels = 0
    for name, image in load_images(args.split, args.images):
        images[name] = image
        per_image[name] = {}
        pixels += image.shape[0] * image.shape[1]
        edits: dict = {}  # edits of this image, shared by the methods of one editor
        for method in methods:
            signature = {"qualities": qualities, "metrics": metrics, "options": method.options}
            cached = cache / cache_name(name, method.label)
            doc = json.loads(cached.read_text()) if cached.is_file() else {}
            if doc.get("signature") != signature:
                curve, took = evaluate_method(name, image, qualities, method, metrics, edits)
                doc = {"signature": signature, "results": curve, "encode_seconds": took}
                save_bytes_atomic(cached, json.dumps(doc).encode(), overwrite=True)
                print(f"{name} {method.label}: {took:.1f} s to encode", flush=True)
            per_image[name][method.label] = doc["results"]
            seconds[method.label] += doc.get("encode_seconds", math.nan)
    curves = _mean_curves(per_image, labels, qualities)
    doc = {
        "command": "python examples/kodak_preedit.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "split": args.split,
        "num_images": len(per_image),
        "images": list(per_image),
        "qualities": qualities,
        "metrics": metrics,
        "methods": {m.label: m.options for m in methods},
        "curves": curves,
        "bd_vs_libjpeg": bd_table(curves, "libjpeg", labels, metrics),
        "bd_vs_mozjpeg": bd_table(curves, "mozjpeg", labels, metrics),
        # encode (edit + JPEG) seconds per megapixel over all qualities; an editor's edits are
        # shared by its encoders, so the first of them pays them
        "encode_s_per_mp_all_qualities": {k: v / (pixels / 1e6) for k, v in seconds.items()},
        "per_image": per_image,
    }
    draw_rd_plot(curves, metrics, args.out / "rd_curves.png")
    crop_name = args.crop_image if args.crop_image in images else next(iter(images))
    doc["crops"] = draw_crops(
        crop_name, images[crop_name], per_image[crop_name], methods,
        args.out / "crops_0.3bpp.png",
    )  # fmt: skip
    doc["wall_seconds"] = time.time() - started
    text = json.dumps(doc, indent=1) + "\n"
    save_bytes_atomic(args.out / "results.json", text.encode(), overwrite=True)
    write_markdown(doc, args.out / "results.md")
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
