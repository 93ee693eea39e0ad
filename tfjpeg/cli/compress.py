"""``tfjpeg compress``: pre-edit an image with a learned editor and write a standard JPEG."""

from __future__ import annotations

import argparse
import sys

from tfjpeg.cli.main import (
    EXIT_OK,
    bounded_int,
    check_input_file,
    check_output,
    check_output_folder,
    check_output_suffix,
    quality_type,
    subsampling_type,
    target_bpp_type,
)
from tfjpeg.errors import TfjpegError
from tfjpeg.models import names

__all__ = ["JPEG_SUFFIXES", "add_parser", "run"]

#: Output names ``compress`` accepts (it writes JPEG bytes).
JPEG_SUFFIXES = (".jpg", ".jpeg")
#: ``--optimize``: optimizer steps, 1..1000 (``tfjpeg.api.compression.MAX_OPTIMIZE_STEPS``).
optimize_type = bounded_int("optimize", 1, 1000)
#: ``--tables`` choices (``tfjpeg.api.compression.TABLE_CHOICES``; the API loads lazily).
TABLE_CHOICES = ("auto", "standard", "learned", "per-image")
#: ``--trellis``: loops, 0..10 (``tfjpeg.api.compression.MAX_TRELLIS_LOOPS``).
_trellis_loops = bounded_int("trellis", 0, 10)


def trellis_type(text: str) -> str | int:
    """``auto`` or a number of trellis loops."""
    return "auto" if text.strip() == "auto" else _trellis_loops(text)


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    """Adds the ``compress`` subparser (handler :func:`run`)."""
    parser = subparsers.add_parser(
        name,
        help="pre-edit an image (optional) and write a smaller standard JPEG (learned tables)",
        description=(
            "Encode the image as an ordinary JPEG any viewer opens. With no option but --quality "
            "this runs the default: no editor, the shipped learned quantization tables (where "
            "they were learned: 4:2:0, quality 5..90; the standard tables "
            "elsewhere) and mozjpeg's trellis quantization, written by libjpeg-turbo (a "
            "standard JPEG) - about 30 % fewer bits than libjpeg-turbo at equal MS-SSIM "
            "below 0.5 bpp, in under half a second per megapixel. --editor adds a pre-editing "
            "network (Talebi et al. 2020), --optimize rate-distortion optimized pre-editing; "
            "both cost seconds per megapixel. With --target-bpp the largest quality whose file "
            "fits is searched. The input file is never overwritten; the output is written "
            "atomically."
        ),
    )
    parser.add_argument("input", metavar="IN", help="input image (PNG, JPEG, ...)")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output .jpg or .jpeg file"
    )
    parser.add_argument(
        "--editor",
        choices=(*names("editor"), "none"),
        default="none",
        help="pre-editing network (default: none; the networks cost seconds per megapixel)",
    )
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument(
        "--quality", type=quality_type, default=None, metavar="Q", help="JPEG quality (default: 20)"
    )
    rate.add_argument(
        "--target-bpp",
        type=target_bpp_type,
        default=None,
        metavar="B",
        help="largest quality whose file has at most B bits per pixel",
    )
    parser.add_argument(
        "--encoder",
        choices=("libjpeg", "mozjpeg"),
        default="libjpeg",
        help="JPEG encoder (default: libjpeg = libjpeg-turbo, optimized Huffman tables)",
    )
    parser.add_argument(
        "--subsampling",
        type=subsampling_type,
        default="420",
        metavar="{444,422,420}",
        help="chroma subsampling (default: 420)",
    )
    parser.add_argument(
        "--tables",
        choices=TABLE_CHOICES,
        default="auto",
        help="quantization tables: auto (default: learned where the family was learned - "
        "4:2:0, quality 5..90 - standard elsewhere), standard (the encoder's own for "
        "the quality), learned (the shipped learned family; qualities outside its range are "
        "refused) or per-image (auto's tables with luma and chroma rescaled for this image by "
        "a rate-distortion search over 15 candidates: about 10x the default's time, and no "
        "gain on Butteraugli)",
    )
    parser.add_argument(
        "--optimize",
        type=optimize_type,
        default=None,
        metavar="N",
        help=(
            "rate-distortion optimized pre-editing: refine the (edited) image with N optimizer "
            "steps so the encoder lands on cheaper coefficients (slow: 8 N s/MP, or 10-20 s "
            "once then ~3 N s/MP on big images; progress is shown unless --quiet)"
        ),
    )
    parser.add_argument(
        "--trellis",
        type=trellis_type,
        default="auto",
        metavar="{auto,N}",
        help=(
            "trellis quantization loops of the libjpeg-turbo writer (mozjpeg's rate-distortion "
            "choice of each coefficient): auto (default: 1 with --encoder libjpeg and no "
            "--optimize, else off), 0 (libjpeg's plain rounding) .. 10"
        ),
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Compresses ``args.input`` into ``args.output``; returns the exit status."""
    check_input_file(args.input)
    check_output(args.input, args.output, args.overwrite)
    check_output_suffix(args.output, JPEG_SUFFIXES, "a JPEG")
    check_output_folder(args.output)  # before the model runs, not after
    from tfjpeg.api.compression import compress_image
    from tfjpeg.io import save_bytes_atomic

    result = compress_image(
        args.input,
        quality=args.quality,
        target_bpp=args.target_bpp,
        editor=args.editor,
        encoder=args.encoder,
        subsampling=args.subsampling,
        tables=args.tables,
        optimize=args.optimize,
        trellis=args.trellis,
        progress=None if args.quiet or args.optimize is None else _show_progress,
    )
    try:
        save_bytes_atomic(args.output, result.jpeg, overwrite=args.overwrite, source=args.input)
    except (OSError, ValueError) as err:
        raise TfjpegError(f"cannot write {args.output}: {err}") from None
    if not args.quiet:
        print(
            f"{args.output}: {result.width}x{result.height}, quality {result.quality}, "
            f"{len(result.jpeg)} bytes, {result.bpp:.4f} bpp (editor {args.editor}, "
            f"encoder {args.encoder}, {result.tables} tables"
            f"{'' if args.optimize is None else f', optimize {args.optimize}'})"
        )
    return EXIT_OK


def _show_progress(step: int, steps: int) -> None:
    """One updating line on stderr per optimizer run."""
    end = "\n" if step == steps else ""
    print(f"\roptimize: step {step}/{steps}", end=end, file=sys.stderr, flush=True)
