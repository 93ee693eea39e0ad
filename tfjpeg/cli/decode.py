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
            "different consistent decodings (explorable decoding). Stochastic decoders "
            "(posterior: Man et al. 2023; one-to-many: Guo & Chao 2017) draw a sample per "
            "seed, each projected onto the file's consistent set; --contact-sheet puts the K "
            "samples on one PNG grid. libjpeg is the standard decoder. The input is never "
            "overwritten; outputs are written atomically."
        ),
    )
    parser.add_argument("input", metavar="IN", help="input JPEG")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output .png; with --samples K > 1: OUT_0.png ... OUT_{K-1}.png (file i from "
        "seed S + i), or with --contact-sheet the one grid OUT",
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
    parser.add_argument(
        "--contact-sheet",
        action="store_true",
        help="with --samples K: write the K decodings as one PNG grid (row by row, seeds "
        "S, S+1, ...) to OUT instead of K files",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace outputs that exist")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Decodes ``args.input`` into one PNG per seed; returns the exit status."""
    from pathlib import Path

    check_input_file(args.input)
    check_output_suffix(args.output, (".png",), "PNG images")
    out = Path(args.output)
    if args.decoder == "libjpeg" and (args.seed is not None or args.samples > 1):
        raise TfjpegError("the libjpeg decoder is deterministic: drop --seed and --samples.")
    if args.samples == 1:
        targets = [(out, args.seed)]
    elif args.contact_sheet:
        first = 0 if args.seed is None else args.seed
        targets = [(out, first + i) for i in range(args.samples)]
    else:
        first = 0 if args.seed is None else args.seed
        targets = [
            (out.with_name(f"{out.stem}_{i}{out.suffix}"), first + i) for i in range(args.samples)
        ]
    for path in {path for path, _ in targets}:
        check_output(args.input, path, args.overwrite)
    check_output_folder(out)  # before the model runs, not after
    from tfjpeg.api.decoding import decode
    from tfjpeg.io import contact_sheet, png_bytes, save_bytes_atomic

    def write(path: Path, pixels) -> None:
        try:
            save_bytes_atomic(path, png_bytes(pixels), overwrite=args.overwrite, source=args.input)
        except (OSError, ValueError) as err:
            raise TfjpegError(f"cannot write {path}: {err}") from None

    data = Path(args.input).read_bytes()
    samples = []
    for path, seed in targets:
        pixels = decode(data, decoder=args.decoder, seed=seed)
        if args.contact_sheet and args.samples > 1:
            samples.append(pixels)
            continue
        write(path, pixels)
        if not args.quiet:
            z = "z = 0" if seed is None else f"seed {seed}"
            print(f"{path}: {pixels.shape[1]}x{pixels.shape[0]} ({args.decoder}, {z})")
    if samples:
        sheet = contact_sheet(samples)
        write(out, sheet)
        if not args.quiet:
            seeds = f"seeds {targets[0][1]}..{targets[-1][1]}"
            print(f"{out}: {len(samples)} decodings on one sheet ({args.decoder}, {seeds})")
    return EXIT_OK
