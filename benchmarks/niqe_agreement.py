"""How closely tfjpeg's NIQE reproduces scikit-video's ``skvideo.measure.niqe``.

First produce reference values with ``benchmarks/niqe_skvideo_reference.py`` (in an environment
with scipy + scikit-video, see its docstring), then::

    python benchmarks/niqe_agreement.py --reference ref.json --images-dir "$TFJPEG_KODAK_DIR"

The committed results (``benchmarks/results/niqe_agreement.md``) compare the 24 Kodak PNGs and
Pillow quality-10 JPEGs of them, made with ``Image.open(png).convert("RGB").save(jpg,
quality=10)`` (libjpeg-turbo, 4:2:0), each against stock scikit-video and ``--exact-flat``;
the reference JSONs are in ``benchmarks/results/niqe_reference/``::

    R=benchmarks/results/niqe_reference
    python benchmarks/niqe_agreement.py \
        --reference $R/kodak.json --images-dir $TFJPEG_KODAK_DIR \
        --reference $R/kodak_exact_flat.json --images-dir $TFJPEG_KODAK_DIR \
        --reference $R/kodak_q10_pillow.json --images-dir /tmp/kodak_q10 \
        --reference $R/kodak_q10_pillow_exact_flat.json --images-dir /tmp/kodak_q10

For every image named in the reference file this computes ``tfjpeg.metrics.niqe_score``
(nearest shape-table entry, as the reference) and the differentiable ``tfjpeg.losses.niqe``
(linear shape lookup, the training loss), prints a markdown table of both against the reference
and writes ``benchmarks/results/niqe_agreement.{json,md}`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reference",
        type=Path,
        action="append",
        required=True,
        help="JSON written by niqe_skvideo_reference.py (repeatable)",
    )
    parser.add_argument(
        "--images-dir",
        type=Path,
        action="append",
        required=True,
        help="folder of the images of each --reference, in the same order",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/niqe_agreement"))
    args = parser.parse_args(argv)
    if len(args.reference) != len(args.images_dir):
        parser.error("give one --images-dir per --reference")

    import tensorflow as tf

    from tfjpeg.losses import niqe
    from tfjpeg.metrics import niqe_score

    rows = []
    for ref_path, folder in zip(args.reference, args.images_dir, strict=True):
        ref = json.loads(ref_path.read_text())
        crop = ref.get("crop")
        for name, ref_value in ref["niqe"].items():
            rgb = np.asarray(Image.open(folder / name).convert("RGB"), dtype=np.float32)
            if crop:
                rgb = rgb[: crop[0], : crop[1]]
            start = time.perf_counter()
            nearest = niqe_score(rgb)
            seconds = time.perf_counter() - start
            linear = float(niqe(tf.constant(rgb[None]))[0])
            rows.append(
                {
                    "image": f"{ref_path.stem}/{name}",
                    "reference": ref_value,
                    "niqe_score": nearest,
                    "niqe_linear": linear,
                    "rel_err_score_pct": 100 * (nearest / ref_value - 1),
                    "rel_err_linear_pct": 100 * (linear / ref_value - 1),
                    "seconds": seconds,
                }
            )
            r = rows[-1]
            print(
                f"{r['image']}: ref {ref_value:.4f}  score {nearest:.4f} "
                f"({r['rel_err_score_pct']:+.4f}%)  linear {linear:.4f} "
                f"({r['rel_err_linear_pct']:+.4f}%)",
                flush=True,
            )

    def summarize(group: list[dict]) -> dict:
        score_err = np.abs([r["rel_err_score_pct"] for r in group])
        lin_err = np.abs([r["rel_err_linear_pct"] for r in group])
        refs = np.array([r["reference"] for r in group])
        ours = np.array([r["niqe_score"] for r in group])
        return {
            "images": len(group),
            "score_abs_rel_err_pct": {
                "mean": float(score_err.mean()),
                "max": float(score_err.max()),
            },
            "linear_abs_rel_err_pct": {"mean": float(lin_err.mean()), "max": float(lin_err.max())},
            "score_max_abs_err": float(np.max(np.abs(ours - refs))),
            "pearson_r": float(np.corrcoef(refs, ours)[0, 1]) if len(group) > 1 else None,
        }

    summary = {}
    for ref_path in args.reference:
        group = [r for r in rows if r["image"].startswith(ref_path.stem + "/")]
        summary[ref_path.stem] = {
            "reference": json.loads(ref_path.read_text())["reference"],
            **summarize(group),
        }
    lines = [
        "| reference | images | niqe_score: mean / max abs. rel. err. | differentiable (linear): "
        "mean / max | max abs. err. | Pearson r |",
        "|---|---|---|---|---|---|",
    ]
    for stem, sm in summary.items():
        lines.append(
            f"| {stem} ({sm['reference']}) | {sm['images']} | "
            f"{sm['score_abs_rel_err_pct']['mean']:.4f}% / "
            f"{sm['score_abs_rel_err_pct']['max']:.4f}% | "
            f"{sm['linear_abs_rel_err_pct']['mean']:.4f}% / "
            f"{sm['linear_abs_rel_err_pct']['max']:.4f}% | {sm['score_max_abs_err']:.4f} | "
            f"{sm['pearson_r']:.6f} |"
        )
    lines += [
        "",
        "| image | scikit-video | niqe_score | rel. err. | niqe (linear) | rel. err. |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['image']} | {r['reference']:.4f} | {r['niqe_score']:.4f} | "
            f"{r['rel_err_score_pct']:+.4f}% | {r['niqe_linear']:.4f} | "
            f"{r['rel_err_linear_pct']:+.4f}% |"
        )
    table = "\n".join(lines)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps({"summary": summary, "rows": rows}, indent=1)
    )
    args.out.with_suffix(".md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
