"""``tfjpeg explore``: explore the consistent decodings of a JPEG in a local web page.

The page (Bahat & Michaeli 2021, §5) shows the file decoded by a consistent learned decoder next
to the standard decode; the user marks a rectangle and applies a tool (variance, TV, brightness,
hue, saturation, imprint, scribble, patch, ...), each an optimization of the decoder's control
signal z, so every result re-encodes to the file's coefficients (the badge re-checks after each
edit). Undo/redo; PNGs are saved into ``--output-dir`` only. The server listens on 127.0.0.1
unless ``--host`` says otherwise, and runs until Ctrl+C.
"""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from pathlib import Path

from tfjpeg.cli.main import EXIT_OK, PROG, bounded_int, check_input_file, check_output_folder
from tfjpeg.models import names

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    """Adds the ``explore`` subparser (handler :func:`run`)."""
    parser = subparsers.add_parser(
        name,
        help="explore the consistent decodings of a JPEG in a local web page",
        description=(
            "Open a JPEG in a local web page and explore its consistent decodings (explorable "
            "decoding, Bahat & Michaeli 2021): select a region with the mouse, apply a tool, "
            "compare with the standard decode, undo/redo, save PNGs into --output-dir. Every "
            "result re-encodes to the file's coefficients; a badge re-checks it after each "
            'edit. Needs the web extra: pip install "tfjpeg[explore]". Listens on 127.0.0.1 '
            "(this machine only) unless --host says otherwise; Ctrl+C stops it."
        ),
    )
    parser.add_argument("input", metavar="IN", help="the JPEG to explore")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=bounded_int("port", 0, 65535, article="an"),
        default=0,
        help="port to listen on (default: 0, a free port)",
    )
    parser.add_argument(
        "--output-dir",
        default=".",
        metavar="DIR",
        help="the only folder the page saves PNGs into (must exist; default: the current one)",
    )
    parser.add_argument(
        "--decoder",
        choices=names("decoder"),
        default=None,
        help="the consistent decoder to explore (default: the explorer's)",
    )
    parser.add_argument(
        "--max-pixels",
        type=bounded_int("max pixels", 1),
        default=None,
        metavar="N",
        help="refuse images with more pixels (default: $TFJPEG_MAX_PIXELS or tfjpeg's limit)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="print the address, do not open a browser"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Opens ``args.input`` and serves the page until interrupted; returns the exit status."""
    from tfjpeg.cli.explore_app import require_web_stack

    check_input_file(args.input)
    out_dir = Path(args.output_dir)
    check_output_folder(out_dir / "probe.png")  # exists, is a folder, is writable
    require_web_stack()
    from tfjpeg.cli.explore_app.app import create_app
    from tfjpeg.cli.explore_app.server import LocalServer, allowed_hosts, is_loopback
    from tfjpeg.cli.explore_app.session import ExploreSession, too_large

    session = ExploreSession(out_dir, decoder=args.decoder, max_pixels=args.max_pixels)
    size = os.path.getsize(args.input)
    if size > session.max_bytes:  # before reading a byte of it
        raise too_large(args.input, size, session.max_bytes)
    name = Path(args.input).name
    session.open(Path(args.input).read_bytes(), name)
    server = LocalServer(
        create_app(session, allowed_hosts=allowed_hosts(args.host)), args.host, args.port
    )
    if not is_loopback(args.host):
        print(
            f"{PROG}: warning: listening on {args.host}, not only this machine: anyone who can "
            f"reach port {server.port} can use the page and save PNGs into "
            f"{os.fspath(session.output_dir)}.",
            file=sys.stderr,
        )
    print(
        f"{PROG} explore: {name} at {server.url} (saving into {os.fspath(session.output_dir)}; "
        "Ctrl+C stops)",
        flush=True,
    )
    if not args.no_browser:
        webbrowser.open(server.url)
    server.run()
    return EXIT_OK
