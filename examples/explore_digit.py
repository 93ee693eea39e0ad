"""Classifier-driven exploration (Bahat & Michaeli 2021, Fig. 2 and appendix B.8): which digits
could a heavily compressed digit have been?

For every test case a digit is rendered with a font the shipped digit classifier never saw
(:func:`tfjpeg.data.glyphs.split_fonts`), ``--glyph`` pixels tall (default 16: 2×2 blocks, a
digit the file leaves ambiguous, like the licence plate of the paper's Fig. 2), dark on light
in a 64×64 picture (gray, or with ``--rgb`` coloured ink and paper), and compressed with
libjpeg-turbo at ``--quality`` (≤ 20).
The explorer (``consistent-gan``) then runs its ``classifier`` tool on the digit's box toward
``--targets`` other classes each. A try succeeds when the shipped classifier reads the result as
the target *and* the result re-encodes to exactly the file's coefficients.

Reported: the classifier's reading of the standard (libjpeg) decoding and of the explorer's
neutral decoding, the success rate per target, and the consistency of every result. The
classifier that guided the search is also its first judge: that success means "a consistent
decoding this classifier reads as the target exists", the tool's promise. ``--judge DIR`` adds a
second opinion from a classifier the search never saw (another design, seed and training run:
``python -m trainers.classifier.train --config trainers/configs/classifier_digits_judge.json
--run-dir runs/judge`` writes it to ``runs/judge/export``), which tells results that look like
the target to any reader from ones that only fool the guide. Neither is a person: the PNGs
written with ``--save-images`` show what the results look like.

Usage::

    nice -n 10 python examples/explore_digit.py --out /tmp/explore_digit --refine-steps 40 \
        [--rgb] [--quality 10] [--judge runs/judge/export]

Writes ``explore_digit.json`` and ``explore_digit.md`` (and PNGs with ``--save-images``) to
``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # an installed tfjpeg first

SIZE = 64


def digit_box(glyph: int) -> tuple[int, int, int, int]:
    """The box (y0, x0, y1, x1) of a ``glyph``-pixel digit in the middle of the picture."""
    start = (SIZE - glyph) // 2
    return (start, start, start + glyph, start + glyph)


def make_case(
    digit: int, font: str, rgb: bool, rng: np.random.Generator, box: tuple[int, ...]
) -> np.ndarray:
    """A 64×64 picture of a digit (glyph in ``box``), uint8 (64, 64, 3) or (64, 64)."""
    from tfjpeg.data.glyphs import render_digit

    glyph = render_digit(digit, font, box[2] - box[0], rng).astype(np.float32)
    paper = np.full((SIZE, SIZE), float(glyph[0, 0]), np.float32)
    paper[box[0] : box[2], box[1] : box[3]] = glyph
    if not rgb:
        return paper.astype(np.uint8)
    ink, sheet = rng.uniform(0, 120, 3), rng.uniform(170, 255, 3)
    t = (paper - paper.min()) / max(float(np.ptp(paper)), 1.0)  # 0 ink … 1 paper
    return np.clip(ink + (sheet - ink) * t[..., None], 0, 255).astype(np.uint8)


def read_as(model, image: np.ndarray, box: tuple[int, ...]) -> tuple[int, np.ndarray]:
    """The classifier's class and probabilities for the digit box of a uint8 image."""
    import tensorflow as tf

    from tfjpeg.explore.objectives import classifier_input

    x = tf.constant(image[None].astype(np.float32))
    logits = model(classifier_input(model, x, box, 1.0))
    p = tf.nn.softmax(logits)[0].numpy()
    return int(p.argmax()), p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the results")
    parser.add_argument("--quality", type=int, default=10, help="libjpeg quality, 1..20")
    parser.add_argument("--cases", type=int, default=20, help="test digits (cycling 0..9)")
    parser.add_argument("--targets", type=int, default=3, help="other classes per case (>= 3)")
    parser.add_argument("--steps", type=int, default=30, help="Adam steps per try")
    parser.add_argument("--learning-rate", type=float, default=0.2)
    parser.add_argument(
        "--refine-steps", type=int, default=0,
        help="then projected Adam on the pixels in the consistent set (the tool's refine_steps)",
    )  # fmt: skip
    parser.add_argument(
        "--shift", type=int, default=0,
        help="the tool's shift: also read the box moved this many pixels each way",
    )  # fmt: skip
    parser.add_argument("--rgb", action="store_true", help="coloured ink and paper, 4:2:0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--glyph", type=int, default=16,
        help="digit size in pixels (8..48): 16 (default) is 2x2 blocks, an ambiguous digit like "
        "the licence plate of the paper's Fig. 2; 32 (4x4 blocks) pins the shape much more",
    )  # fmt: skip
    parser.add_argument(
        "--classifier", default="digit-classifier",
        help="the classifier that guides the search: a shipped name or a Keras model folder",
    )  # fmt: skip
    parser.add_argument(
        "--judge", default=None,
        help="a second classifier (Keras model folder) that scores the results independently",
    )  # fmt: skip
    parser.add_argument("--save-images", action="store_true", help="PNGs of every try")
    args = parser.parse_args(argv)
    if not 1 <= args.quality <= 20:
        parser.error(f"--quality must be in 1..20. Received: {args.quality}")
    if not 1 <= args.targets <= 9:
        parser.error(f"--targets must be in 1..9. Received: {args.targets}")

    from tfjpeg.data.glyphs import split_fonts, system_fonts
    from tfjpeg.explore import Explorer
    from tfjpeg.io import encode_pixels
    from tfjpeg.models import names
    from tfjpeg.models.presets import load

    if not 8 <= args.glyph <= 48:
        parser.error(f"--glyph must be in 8..48. Received: {args.glyph}")
    box = digit_box(args.glyph)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from tfjpeg.models.saving import load_keras_model

    model = (
        load(args.classifier)
        if args.classifier in names()
        else load_keras_model(Path(args.classifier))
    )
    judge = None if args.judge is None else load_keras_model(Path(args.judge))
    _, fonts = split_fonts(system_fonts())
    rng = np.random.default_rng(args.seed)
    rows, tries = [], []
    start = time.perf_counter()
    for case in range(args.cases):
        digit = case % 10
        font = fonts[case % len(fonts)]
        data = encode_pixels(make_case(digit, font, args.rgb, rng, box), args.quality)
        ex = Explorer(data)
        standard, _ = read_as(model, ex.standard_image, box)
        neutral, _ = read_as(model, ex.image, box)
        judge_standard = read_as(judge, ex.standard_image, box)[0] if judge is not None else None
        others = rng.permutation([d for d in range(10) if d != digit])[: args.targets]
        for target in others:
            t0 = time.perf_counter()
            image = ex.apply(
                "classifier", box, target=int(target), model=model, steps=args.steps,
                learning_rate=args.learning_rate, refine_steps=args.refine_steps,
                shift=args.shift,
            )  # fmt: skip
            seconds = time.perf_counter() - t0
            read, p = read_as(model, image, box)
            consistent = ex.consistency().consistent
            judge_read = read_as(judge, image, box)[0] if judge is not None else None
            judged_ok = None if judge is None else bool(judge_read == target and consistent)
            tries.append(
                {
                    "case": case,
                    "digit": digit,
                    "font": Path(font).name,
                    "target": int(target),
                    "read_as": read,
                    "p_target": float(p[target]),
                    "consistent": bool(consistent),
                    "success": bool(read == target and consistent),
                    "judge_reads_as": judge_read,
                    "judge_success": judged_ok,
                    "seconds": seconds,
                }
            )
            if args.save_images:
                ex.save_png(out / f"case{case:02d}_digit{digit}_to{target}.png", overwrite=True)
            ex.undo()
        rows.append(
            {"case": case, "digit": digit, "font": Path(font).name, "standard_reads": standard,
             "neutral_reads": neutral, "judge_standard_reads": judge_standard}
        )  # fmt: skip
        print(
            f"case {case}: digit {digit} ({Path(font).name}) standard→{standard} "
            f"neutral→{neutral}; "
            + ", ".join(
                f"{t['target']}:{'ok' if t['success'] else 'no'}" for t in tries[-len(others) :]
            ),
            flush=True,
        )
    wall = time.perf_counter() - start
    success = float(np.mean([t["success"] for t in tries]))
    consistent = float(np.mean([t["consistent"] for t in tries]))
    standard_ok = float(np.mean([r["standard_reads"] == r["digit"] for r in rows]))
    neutral_ok = float(np.mean([r["neutral_reads"] == r["digit"] for r in rows]))
    mode = "RGB 4:2:0" if args.rgb else "gray"
    judge_lines, judge_success = [], None
    if judge is not None:
        judge_success = float(np.mean([t["judge_success"] for t in tries]))
        judge_standard_ok = float(np.mean([r["judge_standard_reads"] == r["digit"] for r in rows]))
        judge_lines = [
            f"| independent judge ({Path(args.judge).name}) reads the standard decoding as the "
            f"digit | {judge_standard_ok:.0%} |",
            f"| **success by the independent judge** (it reads the target, consistent) | "
            f"**{judge_success:.1%}** |",
        ]
    lines = [
        f"# Classifier-driven exploration: {args.cases} digits ({mode}, q{args.quality}, "
        f"{args.glyph}-px glyphs), "
        f"{args.targets} other classes each, {args.steps} Adam steps on z, "
        f"{args.refine_steps} refinement steps on the pixels, shift {args.shift}; guided by "
        f"{Path(args.classifier).name}",
        "",
        "| measure | value |",
        "|---|---|",
        f"| classifier reads the standard decoding as the true digit | {standard_ok:.0%} |",
        f"| classifier reads the explorer's neutral decoding as the digit | {neutral_ok:.0%} |",
        f"| tries | {len(tries)} |",
        f"| **success** (read as the target and consistent) | **{success:.1%}** |",
        f"| results consistent with the file (uint8 re-encoding) | {consistent:.1%} |",
        *judge_lines,
        f"| median seconds per try | {np.median([t['seconds'] for t in tries]):.2f} |",
        f"| wall time | {wall:.0f} s |",
        "",
        "| target | tries | success |" + (" by the judge |" if judge is not None else ""),
        "|---|---|---|" + ("---|" if judge is not None else ""),
    ]
    for target in range(10):
        mine = [t for t in tries if t["target"] == target]
        if mine:
            rate = np.mean([t["success"] for t in mine])
            judged = (
                f" {np.mean([t['judge_success'] for t in mine]):.0%} |" if judge is not None else ""
            )
            lines.append(f"| {target} | {len(mine)} | {rate:.0%} |{judged}")
    markdown = "\n".join(lines) + "\n"
    print(markdown)
    summary = {
        "quality": args.quality,
        "mode": mode,
        "cases": rows,
        "tries": tries,
        "success_rate": success,
        "classifier": args.classifier,
        "judge": args.judge,
        "judge_success_rate": judge_success,
        "consistent_rate": consistent,
        "standard_accuracy": standard_ok,
        "neutral_accuracy": neutral_ok,
        "steps": args.steps,
        "refine_steps": args.refine_steps,
        "shift": args.shift,
        "glyph": args.glyph,
        "learning_rate": args.learning_rate,
        "wall_s": wall,
        "command": " ".join(sys.argv),
    }
    (out / "explore_digit.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "explore_digit.md").write_text(markdown)
    print(f"wrote {out / 'explore_digit.json'} and {out / 'explore_digit.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
