"""The ``tfjpeg`` command line: ``tfjpeg demo`` now; ``compress``, ``decode``, ... to come.

Each subcommand is one ``_add_<name>(subparsers)`` function that builds its parser and sets a
``handler(args) -> int``; :func:`main` parses, runs the handler, and turns every
:class:`tfjpeg.errors.TfjpegError` and usage error into one line ``tfjpeg: error: <message>`` on
stderr with exit status 2. Handlers import their heavy modules (TensorFlow) inside, so
``tfjpeg --help`` stays fast.

Example:
    $ tfjpeg demo --out /tmp/tfjpeg_demo --qualities 10,30,50,90 --subsampling 420
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from tfjpeg._checks import check_quality
from tfjpeg.errors import InvalidArgumentError, TfjpegError
from tfjpeg.jpeg.layout import CODEC_SUBSAMPLINGS
from tfjpeg.models import names

__all__ = ["EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

PROG = "tfjpeg"
EXIT_OK = 0
#: Exit status for bad arguments and for every ``TfjpegError`` (bad input, unwritable output).
EXIT_USAGE = 2

_MIN_SIDE, _MAX_SIDE = 32, 8192  # tfjpeg.data.synthetic.MIN_SIDE/MAX_SIDE (kept import-free)
_SUBSAMPLINGS = CODEC_SUBSAMPLINGS


class _UsageError(Exception):
    """Raised instead of argparse's print-usage-and-exit, so :func:`main` can return 2."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.message = message
        self.prog = prog


class _ParserExitError(Exception):
    """Raised instead of ``sys.exit`` by ``--help`` and ``--version``."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting (so ``main`` returns an int)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message, self.prog)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise _ParserExitError(status)


# ----------------------------------------------------------------------------- argument types


def _quality(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"quality must be an integer in [1, 100], got {text.strip()!r}"
        ) from None
    try:
        return check_quality(value)
    except InvalidArgumentError:
        raise argparse.ArgumentTypeError(
            f"quality must be an integer in [1, 100], got {value}"
        ) from None


def _qualities(text: str) -> list[int]:
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated qualities, got {text!r}")
    return [_quality(p) for p in parts]


def _subsampling(text: str) -> str:
    name = text.strip().replace(":", "")
    if name not in _SUBSAMPLINGS:
        raise argparse.ArgumentTypeError(
            f"unknown subsampling {text!r}; supported: {', '.join(_SUBSAMPLINGS)}"
        )
    return name


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"size must be HEIGHTxWIDTH, e.g. 512x768, got {text!r}")
    height, width = int(match.group(1)), int(match.group(2))
    for name, value in (("height", height), ("width", width)):
        if not _MIN_SIDE <= value <= _MAX_SIDE:
            raise argparse.ArgumentTypeError(
                f"{name} must be in [{_MIN_SIDE}, {_MAX_SIDE}], got {value}"
            )
    return height, width


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"seed must be a non-negative integer, got {text!r}")
    return value


# ----------------------------------------------------------------------------- subcommands


def _add_demo(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name,
        help="compare libjpeg-turbo and DiffJPEG on a generated test chart",
        description=(
            "Compress tfjpeg's test chart with libjpeg-turbo (Pillow) and with DiffJPEG at each "
            "quality; print bits per pixel, PSNR, DiffJPEG/libjpeg coefficient agreement and "
            "decode PSNR; write demo_side_by_side.png and demo_results.json into --out."
        ),
    )
    parser.add_argument(
        "--out",
        default="tfjpeg_demo",
        metavar="DIR",
        help="output folder, created if missing (default: ./tfjpeg_demo)",
    )
    parser.add_argument(
        "--qualities",
        type=_qualities,
        default=[10, 30, 50, 90],
        metavar="Q,Q,...",
        help="comma-separated JPEG qualities in [1, 100] (default: 10,30,50,90)",
    )
    parser.add_argument(
        "--subsampling",
        type=_subsampling,
        default="420",
        metavar="{444,422,420}",
        help="chroma subsampling (default: 420)",
    )
    parser.add_argument(
        "--size",
        type=_size,
        default=(512, 768),
        metavar="HxW",
        help="test chart size in pixels, each side in [32, 8192] (default: 512x768)",
    )
    parser.add_argument(
        "--seed", type=_seed, default=0, help="seed of the chart's noise texture (default: 0)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only the table")
    parser.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from tfjpeg import demo

    log = (lambda line: None) if args.quiet else None
    doc = demo.run_demo(
        out_dir=args.out,
        qualities=args.qualities,
        subsampling=args.subsampling,
        size=args.size,
        seed=args.seed,
        log=log,
    )
    demo.print_table(doc)
    return EXIT_OK


def _target_bpp(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = float("nan")
    if not 0.0 < value <= 24.0:
        raise argparse.ArgumentTypeError(
            f"target bpp must be a number in (0, 24], got {text.strip()!r}"
        )
    return value


def _check_output(source: str, output: str | os.PathLike, overwrite: bool) -> None:
    """Refuse to replace the input file, and an existing output unless ``--overwrite``."""
    if not os.path.exists(output):
        return
    if os.path.samefile(source, output):
        raise TfjpegError(f"refusing to overwrite the input {source!r}; choose another -o.")
    if not overwrite:
        raise TfjpegError(f"{output} exists; pass --overwrite to replace it.")


def _add_compress(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name,
        help="pre-edit an image with a learned editor and write a standard JPEG",
        description=(
            "Edit the image with a pre-editing network (Talebi et al. 2020) and encode it with "
            "libjpeg-turbo or mozjpeg. The output is an ordinary JPEG any viewer opens. With "
            "--target-bpp the largest quality whose file fits is searched. The input file is "
            "never overwritten; the output is written atomically."
        ),
    )
    parser.add_argument("input", metavar="IN", help="input image (PNG, JPEG, ...)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output .jpg")
    parser.add_argument(
        "--editor",
        choices=(*names("editor"), "none"),
        default="smoothing",
        help="pre-editing network (default: smoothing; none = plain encoder)",
    )
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument(
        "--quality", type=_quality, default=None, metavar="Q", help="JPEG quality (default: 20)"
    )
    rate.add_argument(
        "--target-bpp",
        type=_target_bpp,
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
        type=_subsampling,
        default="420",
        metavar="{444,422,420}",
        help="chroma subsampling (default: 420)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    parser.set_defaults(handler=_run_compress)


def _run_compress(args: argparse.Namespace) -> int:
    from tfjpeg.errors import InvalidImageError

    if not os.path.isfile(args.input):
        raise InvalidImageError(f"{args.input}: no such file.")
    _check_output(args.input, args.output, args.overwrite)
    from tfjpeg.api.compression import compress_image
    from tfjpeg.io import save_bytes_atomic

    result = compress_image(
        args.input,
        quality=args.quality,
        target_bpp=args.target_bpp,
        editor=args.editor,
        encoder=args.encoder,
        subsampling=args.subsampling,
    )
    try:
        save_bytes_atomic(args.output, result.jpeg, overwrite=args.overwrite, source=args.input)
    except (OSError, ValueError) as err:
        raise TfjpegError(f"cannot write {args.output}: {err}") from None
    if not args.quiet:
        print(
            f"{args.output}: {result.width}x{result.height}, quality {result.quality}, "
            f"{len(result.jpeg)} bytes, {result.bpp:.4f} bpp (editor {args.editor}, "
            f"encoder {args.encoder})"
        )
    return EXIT_OK


def _samples(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"samples must be an integer in [1, 64], got {text!r}")
    return value


def _add_decode(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name,
        help="decode a JPEG with a consistent learned decoder and write a PNG",
        description=(
            "Decode a JPEG with a consistent DCT-domain decoder (Bahat & Michaeli 2021): the "
            "output re-encodes to the same coefficients as the file, so nothing in it "
            "contradicts the file. consistent-l1 aims at fidelity, consistent-gan at natural "
            "looks; --seed/--samples give different consistent decodings (explorable "
            "decoding). libjpeg is the standard decoder. The input is never overwritten; "
            "outputs are written atomically."
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
        default="consistent-l1",
        help="decoder (default: consistent-l1)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=None,
        help="seed of the control signal z (default: the neutral z = 0; with --samples: 0)",
    )
    parser.add_argument(
        "--samples",
        type=_samples,
        default=1,
        metavar="K",
        help="write K diverse decodings (seeds S, S+1, ...; default: 1)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace outputs that exist")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    parser.set_defaults(handler=_run_decode)


def _run_decode(args: argparse.Namespace) -> int:
    import io
    from pathlib import Path

    if not os.path.isfile(args.input):
        raise TfjpegError(f"{args.input}: no such file.")
    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise TfjpegError(f"output must be a .png file, got {args.output!r}")
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
        _check_output(args.input, path, args.overwrite)
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


# ----------------------------------------------------------------------------- entry point

#: Command name → function adding its subparser (``compress``, ``decode``, ... go here).
_COMMANDS: dict[str, Callable[[argparse._SubParsersAction, str], None]] = {
    "demo": _add_demo,
    "compress": _add_compress,
    "decode": _add_decode,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``tfjpeg`` argument parser with one subparser per command.

    Returns:
        A parser whose errors raise instead of exiting; use :func:`main` to run commands.
    """
    from tfjpeg import __version__

    parser = _Parser(
        prog=PROG,
        description=(
            "Differentiable JPEG that matches libjpeg; learned pre-editing and consistent "
            "decoding (to come)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, add in _COMMANDS.items():
        add(subparsers, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``tfjpeg`` command line.

    Args:
        argv: arguments without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The exit status: 0 on success, 2 on bad arguments or a ``TfjpegError`` (reported as one
        line ``tfjpeg: error: ...`` on stderr), 130 when interrupted.

    Example:
        >>> main(["demo", "--size", "64x96", "--qualities", "10,90", "--out", "/tmp/d"])
        0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except _ParserExitError as exc:
        return exc.status
    except _UsageError as exc:
        return _fail(f"{exc.message} (see '{exc.prog} --help')")
    if args.command is None:
        choices = ", ".join(_COMMANDS)
        return _fail(f"missing command; choose one of: {choices} (see '{PROG} --help')")
    try:
        return int(args.handler(args))
    except TfjpegError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
