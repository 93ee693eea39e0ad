"""``tfjpeg decode``: decode a JPEG with a consistent learned decoder and write PNGs."""

from __future__ import annotations

import argparse

from tfjpeg.cli.main import (
    EXIT_OK,
    bounded_int,
    check_input_file,
    check_output,
    check_output_folder,
    check_output_suffix,
    seed_type,
)
from tfjpeg.errors import TfjpegError
from tfjpeg.models import default_name, names

__all__ = ["MAX_SAMPLES", "add_parser", "run"]

#: ``--samples`` is at most this.
MAX_SAMPLES = 64


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    """Adds the ``decode`` subparser (handler :func:`run`)."""
    parser = subparsers.add_parser(
        name,
        help="decode a JPEG with a consistent learned decoder and write a PNG",
        description=(
            "Decode a JPEG with a consistent DCT-domain decoder (Bahat & Michaeli 2021): the "
            "output re-encodes to the same coefficients as the file, so nothing in it "
            "contradicts the file. consistent-l1 aims at fidelity, consistent-gan at natural "
            "looks, block-unet at fidelity at every quality, faster; --seed/--samples give "
            "different consistent decodings (explorable decoding). libjpeg is the standard "
            "decoder. The input is never overwritten; outputs are written atomically."
        ),
    )
    parser.add_argument("input", metavar="IN", help="input JPEG")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output .png; with --samples K > 1: OUT_0.png ... OUT_{K-1}.png",
    )
    parser.add_argument(
        "--decoder",
        choices=(*names("decoder"), "libjpeg"),
        default=default_name("decoder"),
        help=f"decoder (default: {default_name('decoder')})",
    )
    parser.add_argument(
        "--seed",
        type=seed_type,
        default=None,
        help="seed of the control signal z (default: the neutral z = 0; with --samples: 0)",
    )
    parser.add_argument(
        "--samples",
        type=bounded_int("samples", 1, MAX_SAMPLES),
        default=1,
        metavar="K",
        help=f"write K diverse decodings (seeds S, S+1, ...; K <= {MAX_SAMPLES}; default: 1)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace outputs that exist")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Decodes ``args.input`` into one PNG per seed; returns the exit status."""
    import io
    from pathlib import Path

    check_input_file(args.input)
    check_output_suffix(args.output, (".png",), "PNG images")
    out = Path(args.output)
    if args.decoder == "libjpeg" and (args.seed is not None or args.samples > 1):
        raise TfjpegError("the libjpeg decoder is deterministic: drop --seed and --samples.")
    if args.samples == 1:
        targets = [(out, args.seed)]
    else:
        first = 0 if args.seed is None else args.seed
        targets = [
            (out.with_name(f"{out.stem}_{i}{out.suffix}"), first + i) for i in range(args.samples)
        ]
    for path, _ in targets:
        check_output(args.input, path, args.overwrite)
    check_output_folder(out)  # before the model runs, not after
    from PIL import Image

    from tfjpeg.api.decoding import decode
    from tfjpeg.io import save_bytes_atomic

    data = Path(args.input).read_bytes()
    for path, seed in targets:
        pixels = decode(data, decoder=args.decoder, seed=seed)
        buffer = io.BytesIO()
        Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buffer, "PNG")
        try:
            save_bytes_atomic(path, buffer.getvalue(), overwrite=args.overwrite, source=args.input)
        except (OSError, ValueError) as err:
            raise TfjpegError(f"cannot write {path}: {err}") from None
        if not args.quiet:
            z = "z = 0" if seed is None else f"seed {seed}"
            print(f"{path}: {pixels.shape[1]}x{pixels.shape[0]} ({args.decoder}, {z})")
    return EXIT_OK
