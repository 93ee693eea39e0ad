"""How far the editor trainer's training signal is from the real JPEG, per codec rounding (issue 10,
item 2).

For an editor (default: the shipped smoothing editor) on centre crops of validation images
(``tfjpeg.data.splits``; never Kodak), the trainer's own validation evaluation
(``trainers.editor.validation.ValidationEvaluator``) is run once per ``DiffJPEG`` rounding:
predicted bits of the rate model (the shipped fit for libjpeg-turbo ``optimize=True``) against
the real files' bits, and the training distance (1 − MS-SSIM) through the codec against the
same distance on the real libjpeg-turbo decode, per quality. A distance ratio real / proxy
above 1 means the training signal under-counts the distortion the real file adds.

Usage::

    python benchmarks/training_signal_gap.py [--images 12] [--crop 256] [--qualities 10,20]
        [--roundings poly3,ste] [--editor smoothing] [--out DIR]

Writes ``training_signal_gap.json`` and ``.md`` into ``--out`` (default
``./training_signal_gap_results``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from benchutil import environment, write_results  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=12, help="first N validation images")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--qualities", default="10,20")
    p.add_argument("--roundings", default="poly3,ste")
    p.add_argument("--editor", default="smoothing", help="a shipped editor")
    p.add_argument("--config", type=Path, default=REPO / "trainers/configs/editor_smoothing.json")
    p.add_argument("--out", type=Path, default=Path("training_signal_gap_results"))
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import json

    from tfjpeg.jpeg import DiffJPEG
    from tfjpeg.losses import PreEditLoss
    from tfjpeg.models.presets import load
    from tfjpeg.rate import RatePredictor
    from trainers.editor.train import full_config, mu_table
    from trainers.editor.validation import ValidationEvaluator, validation_crops

    started = time.time()
    config = full_config(json.loads(args.config.read_text()))
    qualities = [int(q) for q in args.qualities.split(",")]
    crops = validation_crops(None, args.images, args.crop)
    editor = load(args.editor)
    rate = RatePredictor(**config["rate"])
    loss = PreEditLoss(**{**config["loss"], "reduction": "none"})
    rows = {}
    for rounding in args.roundings.split(","):
        codec = DiffJPEG(subsampling=config["codec"]["subsampling"], rounding=rounding)
        evaluator = ValidationEvaluator(editor, crops, qualities, mu_table(config),
                                        codec=codec, rate=rate, loss=loss)  # fmt: skip
        rows[rounding] = evaluator()
    keys = ("bpp_predicted", "bpp_real", "bits_rel_error", "distance_proxy", "distance_real",
            "distance_ratio")  # fmt: skip
    lines = [
        "# Training signal vs real JPEG (validation crops)",
        "",
        f"Command: `python benchmarks/training_signal_gap.py {' '.join(argv or sys.argv[1:])}`  ",
        f"Editor {args.editor}; {len(crops)} validation crops of {args.crop} px; rate model "
        f"{config['rate']}; distance {config['loss']['distance']}. Validation score of the "
        f"editor (rate change at equal MS-SSIM vs libjpeg-turbo): "
        f"{rows[next(iter(rows))]['score']:+.2f} %.",
        "",
        "| codec rounding | q | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 2) + "|",
    ]
    for rounding, row in rows.items():
        for q in qualities:
            cells = [f"{row[f'gap/q{q}/{k}']:.4f}" for k in keys]
            lines.append(f"| {rounding} | {q} | " + " | ".join(cells) + " |")
    lines.append(f"\nWall time {time.time() - started:.0f} s.")
    markdown = "\n".join(lines) + "\n"
    print(markdown)
    write_results(args.out, "training_signal_gap",
                  {"rows": rows, "images": [n for n, _ in crops], "environment": environment()},
                  markdown)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
