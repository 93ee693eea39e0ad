"""What the per-image table search (``tables="per-image"``) chooses, and how well its proxy ranks.

Issue 10 item 4: :func:`tfjpeg.rdo.image_tables.choose_tables` picks, per image and quality, the
base tables ("auto"'s) with luma × ℓ and chroma × c minimizing D + λ·R. On validation images of
the training folder (never Kodak) this records:

- ``choices``: how often each (ℓ, c) is chosen with the default path's encoder (one trellis
  loop written by libjpeg-turbo), and the chosen candidate's rate and distortion change
  against the base;
- ``proxy``: for ``optimize=1``, whose candidates ``compress`` ranks with one trellis loop
  written directly (the optimize mode itself costs five encodes per candidate), whether the
  proxy picks what ranking by real ``optimize=1`` files picks, and the real J it gives up.

The rate-distortion curves of the modes are measured by ``examples/kodak_preedit.py`` (method
specs ``libjpeg:tables=per-image,trellis=1``, ``libjpeg:optimize=1,tables=per-image``).

Usage::

    python benchmarks/per_image_tables.py --out DIR [--images 8] [--qualities 5,10,...]
        [--proxy-images 3] [--proxy-qualities 10,30,75]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # an installed tfjpeg first
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from benchutil import environment, write_results  # noqa: E402


def _point(choice: Any) -> dict[str, float]:
    chosen = next(
        c for c in choice.candidates if (c[0], c[1]) == (choice.luma_scale, choice.chroma_scale)
    )
    _, _, base_rate, base_dist = choice.candidates[0]
    return {
        "luma_scale": choice.luma_scale,
        "chroma_scale": choice.chroma_scale,
        "rate_change": chosen[2] / base_rate - 1.0,
        "distortion_change": chosen[3] - base_dist,
        "cost_change": choice.cost / choice.base_cost - 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for results.json/.md")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--qualities", default="5,10,15,20,30,50,75")
    parser.add_argument("--proxy-images", type=int, default=3)
    parser.add_argument("--proxy-qualities", default="10,30,75")
    args = parser.parse_args()

    from tfjpeg.api import compression
    from tfjpeg.data.folders import dataset_dir, load_image
    from tfjpeg.data.splits import split_images
    from tfjpeg.rdo.encoder import trellis_files
    from tfjpeg.rdo.image_tables import choose_tables

    per_image = compression._resolve_tables("per-image", "libjpeg", "420")
    paths = split_images(dataset_dir("train"), "validation")[: args.images]
    qualities = [int(q) for q in args.qualities.split(",")]
    points, seconds, pixels = [], 0.0, 0
    for path in paths:
        image = load_image(path)
        for q in qualities:
            start = time.perf_counter()
            choice = choose_tables(
                image, per_image.base_at(q), lambda batch, x=image: trellis_files(x, batch)
            )
            seconds += time.perf_counter() - start
            pixels += image.shape[0] * image.shape[1]
            points.append({"image": path.stem, "quality": q, **_point(choice)})
            print(path.stem, q, points[-1], flush=True)
    counts = collections.Counter((p["luma_scale"], p["chroma_scale"]) for p in points)

    proxy = []
    for path in paths[: args.proxy_images]:
        image = load_image(path)
        for q in [int(v) for v in args.proxy_qualities.split(",")]:
            base = per_image.base_at(q)
            fast = choose_tables(image, base, lambda batch, x=image: trellis_files(x, batch))
            real = choose_tables(
                image,
                base,
                lambda batch, x=image, q=q: [
                    compression.compress(x, q, tables=t, optimize=1) for t in batch
                ],
            )
            real_costs = {(lu, ch): d + real.lam * r for lu, ch, r, d in real.candidates}
            given_up = (real_costs[(fast.luma_scale, fast.chroma_scale)] - real.cost) / (
                real.base_cost
            )
            proxy.append(
                {
                    "image": path.stem,
                    "quality": q,
                    "proxy": [fast.luma_scale, fast.chroma_scale],
                    "real": [real.luma_scale, real.chroma_scale],
                    "real_cost_given_up": given_up,
                }
            )
            print("proxy", proxy[-1], flush=True)

    results = {
        "environment": environment(),
        "images": [p.stem for p in paths],
        "qualities": qualities,
        "search_seconds_per_mp": seconds / (pixels / 1e6),
        "choice_counts": {f"{lu}x{ch}": n for (lu, ch), n in sorted(counts.items())},
        "mean_rate_change": float(np.mean([p["rate_change"] for p in points])),
        "mean_cost_change": float(np.mean([p["cost_change"] for p in points])),
        "base_kept": sum(1 for p in points if (p["luma_scale"], p["chroma_scale"]) == (1.0, 1.0)),
        "points": points,
        "proxy": proxy,
        "proxy_agreement": sum(p["proxy"] == p["real"] for p in proxy),
    }
    given_up = [p["real_cost_given_up"] for p in proxy] or [0.0]
    lines = [
        "# Per-image tables: the search's choices (validation split of TFJPEG_TRAIN_DIR)",
        "",
        f"Command: `python benchmarks/per_image_tables.py --out DIR --images {args.images} "
        f"--qualities {args.qualities} --proxy-images {args.proxy_images} "
        f"--proxy-qualities {args.proxy_qualities}`",
        "",
        f"Search (default path, 15 candidates + 2 slope points, trellis 1 loop): "
        f"{results['search_seconds_per_mp']:.1f} s/MP per quality; base kept "
        f"{results['base_kept']}/{len(points)}; mean rate change "
        f"{100 * results['mean_rate_change']:+.1f} %; mean J change "
        f"{100 * results['mean_cost_change']:+.2f} %.",
        "",
        "| luma scale, chroma scale | chosen |",
        "|---|---|",
        *(f"| {lu}, {ch} | {n} |" for (lu, ch), n in sorted(counts.items())),
        "",
        f"optimize=1 proxy (one trellis loop) picks what real optimize=1 files pick: "
        f"{results['proxy_agreement']}/{len(proxy)}; real J given up by the proxy's pick "
        f"(of the base's J): mean {100 * np.mean(given_up):.3f} %, "
        f"max {100 * max(given_up):.3f} %.",
        "",
    ]
    write_results(args.out, "choices", results, "\n".join(lines))


if __name__ == "__main__":
    main()
