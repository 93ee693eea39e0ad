"""Read a real JPEG's quantized coefficients, decode them in TensorFlow, and write them back.

Shows the round trip every tfjpeg decoder builds on: the file's coefficients (jpeglib) → pixels
with tfjpeg's libjpeg-exact decoder → identical to Pillow's decode; and coefficients → a new
standard .jpg with the same coefficients.

    python examples/decode_coefficients.py photo.jpg
    python examples/decode_coefficients.py            # encodes Kodak #1 (or the test chart) first
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import tensorflow as tf

from tfjpeg.data import dataset_dir, list_images, load_image, make_test_chart
from tfjpeg.errors import TfjpegError
from tfjpeg.io import decode_pixels, encode_coefficients, encode_pixels, read_jpeg
from tfjpeg.jpeg import decode


def sample_jpeg(quality: int) -> bytes:
    """Kodak #1 when TFJPEG_KODAK_DIR is set, else the generated chart, as a 4:2:0 JPEG."""
    if os.environ.get("TFJPEG_KODAK_DIR"):
        image = load_image(list_images(dataset_dir("kodak"))[0])
    else:
        image = make_test_chart()
    return encode_pixels(image, quality, subsampling="420")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jpeg", nargs="?", help="a JPEG file (default: a sample)")
    parser.add_argument("--quality", type=int, default=30, help="quality of the sample")
    args = parser.parse_args(argv)
    try:
        if args.jpeg:
            with open(args.jpeg, "rb") as f:
                data = f.read()
        else:
            data = sample_jpeg(args.quality)
        jpeg = read_jpeg(data)
    except (OSError, TfjpegError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"{jpeg.width}x{jpeg.height}, {jpeg.num_components} component(s), "
        f"subsampling {jpeg.subsampling}, blocks {[c.shape[:2] for c in jpeg.components]}"
    )
    if jpeg.subsampling not in ("444", "422", "420", "gray"):
        print(f"tfjpeg.jpeg.decode handles 4:4:4, 4:2:2, 4:2:0 and gray, not {jpeg.subsampling}")
        return 0
    coefficients = [tf.constant(c[None], tf.float32) for c in jpeg.components]
    tables = tf.constant(jpeg.component_tables[None], tf.float32)  # one table per component
    subsampling = "444" if jpeg.subsampling == "gray" else jpeg.subsampling
    ours = decode(coefficients, tables, jpeg.height, jpeg.width, subsampling, exact=True)
    ours = ours.numpy()[0].astype(np.uint8)
    reference = decode_pixels(data)
    differing = int(np.count_nonzero(ours != reference.reshape(ours.shape)))
    print(f"tfjpeg exact decode vs libjpeg-turbo (Pillow): {differing} differing samples")

    rewritten = read_jpeg(encode_coefficients(jpeg))
    pairs = zip(jpeg.components, rewritten.components, strict=True)
    same = all(np.array_equal(a, b) for a, b in pairs)
    print(f"re-written from coefficients: {'identical' if same else 'DIFFERENT'} coefficients")
    return 0


if __name__ == "__main__":
    sys.exit(main())
