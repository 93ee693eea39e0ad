"""Kodak rate-distortion of pre-editing (Talebi et al. 2020 §5): editors × encoders vs plain JPEG.

For every Kodak image and quality, each method is encoded, decoded with libjpeg-turbo (Pillow),
and scored: bits per pixel, PSNR (RGB), MS-SSIM and NIQE (``tfjpeg.metrics``). Methods:

* ``libjpeg``: libjpeg-turbo with optimized Huffman tables (``optimize=True``) — the anchor;
* ``mozjpeg``: mozjpeg 4.0.3 (trellis quantization, its tables; sequential, optimized Huffman);
* ``<editor>+libjpeg`` and ``<editor>+mozjpeg`` for each shipped editor (smoothing, stn, cascade),
  the editor conditioned on the file's quality clamped into its training range [8, 25]
  (``tfjpeg.editors.inference.edit_and_encode``, exactly what ``tfjpeg compress`` does; scored by
  ``tfjpeg.metrics.evaluation.evaluate_compression``).

Writes into ``--out`` (default ``./kodak_preedit_results``; the committed results used
``--out benchmarks/results/kodak_preedit``): ``results.json`` (every
point and the aggregates), ``results.md`` (mean RD table and BD-rates), ``rd_curves.png``
(drawn with Pillow) and ``crops_0.3bpp.png`` (side-by-side crops of one image at ≈0.3 bpp).
Per-image results are cached in ``--out/cache`` so an interrupted run resumes.

BD-rate (``tfjpeg.metrics.bd_rate``, pchip) of every method against plain libjpeg-turbo within
0.1–0.5 and 0.5–1.5 bpp for PSNR and MS-SSIM; NIQE (lower is better) uses −NIQE as quality and
is "n/m" where the mean curve is not monotone in bpp; then the mean NIQE difference at equal bpp
(linear interpolation in log-bpp over the band) is given instead. Editor + mozjpeg is also
compared against mozjpeg.

Usage::

    python examples/kodak_preedit.py [--images 24] [--qualities 5,8,10,...,50,65]
        [--editors smoothing,stn,cascade] [--no-niqe] [--out DIR]

The default qualities are 5…50 plus 65, so that libjpeg-turbo's curve reaches 1.5 bpp on Kodak
and the 0.5–1.5 bpp band is covered.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_QUALITIES = (5, 8, 10, 12, 15, 20, 25, 30, 40, 50, 65)
BANDS = ((0.1, 0.5), (0.5, 1.5))
METRICS = ("psnr", "ms_ssim", "niqe")
CROP_TARGET_BPP = 0.3


def load_editor(name: str):
    """None for "none"; else the shipped editor ``name`` (a cached preset)."""
    if name == "none":
        return None
    from tfjpeg.models.presets import load

    return load(name)


def evaluate_image(name, image, qualities, editor, encoders, with_niqe) -> dict:
    """{method: {quality: {"bpp", "psnr", "ms_ssim"[, "niqe"]}}} of one editor on one image.

    The records come from :func:`tfjpeg.metrics.evaluation.evaluate_compression` (edit → encode
    → decode → measure, the path ``tfjpeg compress`` takes).
    """
    from tfjpeg.metrics.evaluation import evaluate_compression

    metrics = METRICS if with_niqe else METRICS[:2]
    records = evaluate_compression(
        load_editor(editor), [(name, image)], qualities, encoders, metrics=metrics
    )
    out: dict[str, dict[str, dict[str, float]]] = {}
    for rec in records:
        method = rec["encoder"] if editor == "none" else f"{editor}+{rec['encoder']}"
        point = {"bpp": rec["bpp"], **{m: rec[m] for m in metrics}}
        out.setdefault(method, {})[str(rec["quality"])] = point
    return out


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
    if metric == "niqe":
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


def _style(method: str):
    editor, _, encoder = method.partition("+")
    colour = _COLOURS.get(editor if encoder else method, (148, 103, 189))
    dashed = (encoder or method) == "mozjpeg"
    return colour, dashed


def draw_rd_plot(curves: dict, metrics, path: Path) -> None:
    """RD curves (one panel per metric, bpp on x) drawn with Pillow."""
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

        def to_px(x, y, left=left, right=right, top=top, bottom=bottom, y_lo=y_lo, y_hi=y_hi):
            return (
                left + (x - x_lo) / (x_hi - x_lo) * (right - left),
                bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top),
            )

        draw.rectangle([left, top, right, bottom], outline=(0, 0, 0))
        title = {"psnr": "PSNR (dB)", "ms_ssim": "MS-SSIM", "niqe": "NIQE (lower = better)"}
        draw.text((left + 5, 8), title[metric] + " vs bpp", fill=(0, 0, 0))
        for i in range(6):
            xv = x_lo + i * (x_hi - x_lo) / 5
            px, _ = to_px(xv, y_lo)
            draw.line([px, bottom, px, bottom + 4], fill=(0, 0, 0))
            draw.text((px - 10, bottom + 6), f"{xv:.2f}", fill=(0, 0, 0))
            yv = y_lo + i * (y_hi - y_lo) / 5
            _, py = to_px(x_lo, yv)
            draw.line([left - 4, py, left, py], fill=(0, 0, 0))
            draw.text((left - 50, py - 6), f"{yv:.3g}", fill=(0, 0, 0))
        draw.text(((left + right) / 2 - 10, bottom + 20), "bpp", fill=(0, 0, 0))
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
    img.save(path, optimize=True)


def draw_crops(name, image, per_image_result, editors, path: Path, size: int = 160) -> dict:
    """Side-by-side crops of ``image`` for every method at the quality closest to 0.3 bpp."""
    from tfjpeg.editors.inference import edit_and_encode
    from tfjpeg.io import decode_pixels

    h, w = image.shape[:2]
    y0, x0 = (h - size) // 2, (w - size) // 2
    tiles, chosen = [("original", image[y0 : y0 + size, x0 : x0 + size])], {}
    for method, curve in per_image_result.items():
        q = min(curve, key=lambda k: abs(curve[k]["bpp"] - CROP_TARGET_BPP))
        editor, _, encoder = method.partition("+")
        if not encoder:
            editor, encoder = "none", method
        data = edit_and_encode(load_editor(editor), image, int(q), encoder, subsampling="420")
        bpp = 8.0 * len(data) / (h * w)
        chosen[method] = {"quality": int(q), "bpp": bpp}
        tiles.append(
            (f"{method} q{q} {bpp:.3f}bpp", decode_pixels(data)[y0 : y0 + size, x0 : x0 + size])
        )
    cols = 4
    rows = math.ceil(len(tiles) / cols)
    sheet = Image.new("RGB", (cols * (size + 8), rows * (size + 24)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, tile) in enumerate(tiles):
        x, y = (i % cols) * (size + 8), (i // cols) * (size + 24)
        sheet.paste(Image.fromarray(np.ascontiguousarray(tile)), (x, y + 18))
        draw.text((x + 2, y + 3), label, fill=(0, 0, 0))
    sheet.save(path, optimize=True)
    return {"image": name, "crop": [int(y0), int(x0), size], "methods": chosen}


def _fmt(v, digits=1):
    return "n/m" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:+.{digits}f}"


def write_markdown(doc: dict, path: Path) -> None:
    lines = [
        "# Kodak pre-editing rate-distortion",
        "",
        f"Command: `{doc['command']}`  ",
        f"Images: {doc['num_images']} Kodak, 4:2:0; qualities {doc['qualities']}; "
        f"wall time {doc['wall_seconds'] / 60:.1f} min.",
        "",
        "## BD-rate (%) vs libjpeg-turbo (optimize=True); negative = fewer bits at equal quality",
        "",
    ]
    metrics = doc["metrics"]
    cols = [f"{m} {lo}-{hi}" for m in metrics for lo, hi in BANDS]
    lines.append("| method | " + " | ".join(cols) + " |")
    lines.append("|---" * (len(cols) + 1) + "|")
    for method, row in doc["bd_vs_libjpeg"].items():
        lines.append(f"| {method} | " + " | ".join(_fmt(row.get(c)) for c in cols) + " |")
    if doc.get("bd_vs_mozjpeg"):
        lines += ["", "## BD-rate (%) of editor + mozjpeg vs mozjpeg", ""]
        lines.append("| method | " + " | ".join(cols) + " |")
        lines.append("|---" * (len(cols) + 1) + "|")
        for method, row in doc["bd_vs_mozjpeg"].items():
            lines.append(f"| {method} | " + " | ".join(_fmt(row.get(c)) for c in cols) + " |")
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
    head = ["method", "q", "bpp", "PSNR", "MS-SSIM"] + (["NIQE"] if "niqe" in metrics else [])
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|---" * len(head) + "|")
    for method, curve in doc["curves"].items():
        for q in sorted(curve, key=int):
            pt = curve[q]
            cells = [method, q, f"{pt['bpp']:.4f}", f"{pt['psnr']:.2f}", f"{pt['ms_ssim']:.4f}"]
            if "niqe" in pt:
                cells.append(f"{pt['niqe']:.2f}")
            lines.append("| " + " | ".join(cells) + " |")
    if doc.get("crops"):
        c = doc["crops"]
        lines += [
            "",
            f"Crops (`crops_0.3bpp.png`): {c['image']}, quality per method closest to "
            f"{CROP_TARGET_BPP} bpp: "
            + ", ".join(f"{m} q{v['quality']} ({v['bpp']:.3f})" for m, v in c["methods"].items()),
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images")
    parser.add_argument(
        "--qualities", default=",".join(map(str, DEFAULT_QUALITIES)), help="comma-separated"
    )
    parser.add_argument("--editors", default="smoothing,stn,cascade")
    parser.add_argument("--encoders", default="libjpeg,mozjpeg")
    parser.add_argument("--no-niqe", action="store_true", help="skip NIQE (faster)")
    parser.add_argument("--crop-image", default="kodim23", help="image of the crops sheet")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("kodak_preedit_results"),
        help="output folder (default: ./kodak_preedit_results in the current directory; the "
        "committed results were written with --out benchmarks/results/kodak_preedit)",
    )
    args = parser.parse_args(argv)

    from tfjpeg.data.folders import dataset_dir, iter_images

    qualities = [int(q) for q in args.qualities.split(",") if q.strip()]
    editors = [e for e in args.editors.split(",") if e.strip()]
    encoders = [e for e in args.encoders.split(",") if e.strip()]
    with_niqe = not args.no_niqe
    metrics = METRICS if with_niqe else METRICS[:2]
    cache = args.out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    started = time.time()
    per_image, images = {}, {}
    signature = {"qualities": qualities, "encoders": encoders, "niqe": with_niqe}
    for name, image in iter_images(dataset_dir("kodak"), limit=args.images):
        images[name] = image
        per_image[name] = {}
        for editor in ("none", *editors):
            # One cache file per image and editor, so runs with other editors reuse it.
            cached = cache / f"{name}_{editor}.json"
            doc = json.loads(cached.read_text()) if cached.is_file() else {}
            if doc.get("signature") != signature:
                t0 = time.time()
                result = evaluate_image(name, image, qualities, editor, encoders, with_niqe)
                doc = {"signature": signature, "results": result}
                cached.write_text(json.dumps(doc))
                print(f"{name} {editor}: {time.time() - t0:.1f} s", flush=True)
            per_image[name].update(doc["results"])
    methods = list(next(iter(per_image.values())))
    curves = _mean_curves(per_image, methods, qualities)
    doc = {
        "command": "python examples/kodak_preedit.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "num_images": len(per_image),
        "qualities": qualities,
        "metrics": list(metrics),
        "curves": curves,
        "bd_vs_libjpeg": bd_table(curves, "libjpeg", methods, metrics),
        "bd_vs_mozjpeg": bd_table(
            {m: c for m, c in curves.items() if m == "mozjpeg" or m.endswith("+mozjpeg")},
            "mozjpeg",
            [m for m in methods if m.endswith("+mozjpeg")] + ["mozjpeg"],
            metrics,
        )
        if "mozjpeg" in curves
        else {},
        "per_image": per_image,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    draw_rd_plot(curves, metrics, args.out / "rd_curves.png")
    crop_name = args.crop_image if args.crop_image in images else next(iter(images))
    doc["crops"] = draw_crops(
        crop_name, images[crop_name], per_image[crop_name], editors, args.out / "crops_0.3bpp.png"
    )
    doc["wall_seconds"] = time.time() - started
    (args.out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    write_markdown(doc, args.out / "results.md")
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
