"""Editor inference time per megapixel on CPU (Talebi et al. 2020 §5: 1.7 s smoothing, 1.2 s STN
per megapixel on a 12-core Xeon @ 3.5 GHz).

For each editor (the shipped ``saved_models/<name>/1``, or an untrained one of the same
configuration with ``--untrained``: the time does not depend on the weights) and image size, times
a batch-1 edit: the Keras model called eagerly, the Keras model inside ``tf.function``, and the
SavedModel's ``edit_tensor`` signature (what TF Serving runs). Each figure is the median of
``--repeats`` runs after one warm-up. Writes ``results.json`` and ``results.md`` into ``--out``
(default ``benchmarks/results/editor_speed``).

Usage::

    python benchmarks/editor_speed.py [--sizes 512x768,1024x1024] [--repeats 3]
        [--editors smoothing,stn,cascade] [--threads 1] [--untrained]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # an installed tfjpeg first
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchutil import median_seconds  # noqa: E402

PAPER_S_PER_MP = {"smoothing": 1.7, "stn": 1.2}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="512x768", help="HxW,HxW,...")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--editors", default="smoothing,stn,cascade")
    parser.add_argument("--threads", type=int, default=0, help="TF intra-op threads (0: TF's)")
    parser.add_argument("--untrained", action="store_true", help="random weights, shipped config")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/editor_speed")
    args = parser.parse_args(argv)

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    from tfjpeg.models import entry, model_dir
    from tfjpeg.models.presets import load
    from tfjpeg.models.saving import CONFIG_FILE

    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    rows = []
    for name in [e for e in args.editors.split(",") if e]:
        folder = model_dir(name, family="editor")
        if args.untrained:
            config = json.loads((folder / CONFIG_FILE).read_text())["config"]
            editor = entry(name, family="editor").model_class().from_config(config)
        else:
            editor = load(name)
        served = tf.saved_model.load(str(folder))
        compiled = tf.function(lambda x, q, editor=editor: editor(x, quality=q)["edited"])
        for h, w in sizes:
            x = tf.random.uniform([1, h, w, 3], 0, 255, seed=0)
            q = tf.constant([20.0])
            mp = h * w / 1e6
            timings = {
                "eager": median_seconds(
                    lambda x=x, q=q, e=editor: e(x, quality=q)["edited"].numpy(), args.repeats
                ),
                "tf.function": median_seconds(
                    lambda x=x, q=q, c=compiled: c(x, q).numpy(), args.repeats
                ),
                "savedmodel": median_seconds(
                    lambda x=x, q=q, served=served: served.signatures["edit_tensor"](
                        images=x, quality=q
                    )["edited"].numpy(),
                    args.repeats,
                ),
            }
            row = {"editor": name, "size": f"{h}x{w}", "megapixels": mp}
            row.update({f"{k}_s_per_mp": v / mp for k, v in timings.items()})
            row["paper_s_per_mp"] = PAPER_S_PER_MP.get(name)
            rows.append(row)
            print(json.dumps(row), flush=True)
    doc = {
        "command": "python benchmarks/editor_speed.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "load_average_at_end": os.getloadavg(),
        },
        "weights": "untrained" if args.untrained else "shipped",
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = [
        "# Editor inference time on CPU (s per megapixel, batch 1, median)",
        "",
        f"Command: `{doc['command']}`; {doc['machine']}",
        "",
        "| editor | size | eager | tf.function | SavedModel | paper (12-core Xeon) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        paper = "-" if r["paper_s_per_mp"] is None else f"{r['paper_s_per_mp']:.1f}"
        lines.append(
            f"| {r['editor']} | {r['size']} | {r['eager_s_per_mp']:.2f} | "
            f"{r['tf.function_s_per_mp']:.2f} | {r['savedmodel_s_per_mp']:.2f} | {paper} |"
        )
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
