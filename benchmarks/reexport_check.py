"""Check that re-exported shipped models give exactly today's outputs.

Runs the shipped folders (``tfjpeg.models.saved_models_root()``) and the re-exported ones
(``python -m tfjpeg.serving.export --out DIR``) on a Kodak crop: each editor's ``edit_bytes``
signature and rebuilt Keras model (edited image), each decoder's ``serving_default`` signature
and Keras model (decoded image), the rate SavedModel (bits for every model and encoder) and
``RatePredictor`` loaded from each folder's parameters. Prints one line per model and exits 1 on
any difference.

    python benchmarks/reexport_check.py --new /tmp/reexported [--image kodim23.png] [--crop 96]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new", type=Path, required=True, help="root of the re-exported models")
    parser.add_argument("--image", default="kodim23.png", help="file in $TFJPEG_KODAK_DIR")
    parser.add_argument("--crop", type=int, default=96)
    args = parser.parse_args(argv)

    import tensorflow as tf
    from PIL import Image

    from tfjpeg.io import encode_pixels, read_jpeg
    from tfjpeg.models import REGISTRY, saved_models_root
    from tfjpeg.models.saving import load_keras_model
    from tfjpeg.rate import ENCODERS, MODELS, RatePredictor, load_params

    kodak = os.environ.get("TFJPEG_KODAK_DIR")
    if not kodak:
        parser.error("set TFJPEG_KODAK_DIR to the Kodak folder")
    image = np.asarray(Image.open(Path(kodak) / args.image).convert("RGB"))
    image = np.ascontiguousarray(image[: args.crop, : args.crop])
    png = io.BytesIO()
    Image.fromarray(image).save(png, "PNG")
    jpeg = encode_pixels(image, 20)
    floats = tf.constant(image[None].astype(np.float32))
    old_root, failures = saved_models_root(), 0
    for name, e in REGISTRY.items():
        if e.family == "tables":  # a JSON file, not a SavedModel
            continue
        old, new = old_root / e.relative_path, args.new / e.relative_path
        outs = []
        for folder in (old, new):
            signatures = tf.saved_model.load(str(folder)).signatures
            # the single-file signatures (named decode_bytes / edit_bytes since the batch
            # serving_default; older folders served one file as serving_default)
            single = {"editor": "edit_bytes", "decoder": "decode_bytes"}.get(e.family)
            served = signatures[single if single in signatures else "serving_default"]
            if e.family == "editor":
                sig = served(image_bytes=tf.constant(png.getvalue()), quality=tf.constant(20.0))
                keras_out = load_keras_model(folder)(floats, quality=[20.0])["edited"]
                outs.append({"edited_uint8": sig["edited"], "keras_edited": keras_out})
            elif e.family == "decoder":
                from tfjpeg.decoders import decoder_inputs

                arg = "jpeg_bytes" if "decode_bytes" in signatures else "jpeg"
                sig = served(**{arg: tf.constant(jpeg)}, seed=tf.constant(3, tf.int64))
                inputs, ss = decoder_inputs(read_jpeg(jpeg))
                keras_out = load_keras_model(folder)(inputs, training=False, subsampling=ss)
                outs.append({"image": sig["image"], "keras_decoded": keras_out["decoded"]})
            else:
                sig = served(images=floats, quality=tf.constant([20.0]))
                params = load_params(folder)
                outs.append(dict(sig))
                for model in MODELS:
                    for enc in ENCODERS:
                        pred = RatePredictor(model=model, encoder=enc, weights=None)
                        pred.set_params(params)
                        outs[-1][f"keras_{model}_{enc}"] = pred(floats, quality=[20.0])
        diffs = {
            k: float(np.max(np.abs(np.asarray(outs[0][k], np.float64) - np.asarray(outs[1][k]))))
            for k in outs[0]
        }
        same = set(outs[0]) == set(outs[1]) and all(d == 0.0 for d in diffs.values())
        failures += not same
        worst = max(diffs.values())
        per_key = ", ".join(f"{k} {diffs[k]:g}" for k in sorted(diffs))
        print(f"{name:15s} {'identical' if same else 'DIFFERENT'} (max |diff| {worst:g}; "
              f"{per_key})", flush=True)  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
