"""The ``tfjpeg`` command line: parser assembly, error handling and the shared argument types.

Each command lives in its own module (``tfjpeg/cli/<command>.py``) with an
``add_parser(subparsers, name)`` function that builds its subparser and sets a
``handler(args) -> int``. :func:`main` parses, runs the handler, and turns every
:class:`tfjpeg.errors.TfjpegError` and usage error into one line ``tfjpeg: error: <message>`` on
stderr with exit status 2. Command modules import their heavy modules (TensorFlow) inside their
handlers, so ``tfjpeg --help`` stays fast.

Quiet by default: unless the user set ``TF_CPP_MIN_LOG_LEVEL``, the CLI sets it to 3 and imports
TensorFlow with the process's stderr parked in a temporary file, so the native absl/oneDNN/CUDA
lines TensorFlow prints while it loads and looks for GPUs never reach the terminal (they are
shown if the import fails). Python warnings become one line ``tfjpeg: warning: <message>``.

Example:
    $ tfjpeg demo --out /tmp/tfjpeg_demo --qualities 10,30,50,90 --subsampling 420
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from tfjpeg.errors import TfjpegError, TfjpegIOError
from tfjpeg.jpeg.layout import CODEC_SUBSAMPLINGS

__all__ = [
    "COMMANDS",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "bounded_int",
    "build_parser",
    "check_input_file",
    "check_output",
    "check_output_folder",
    "check_output_suffix",
    "main",
    "qualities_type",
    "quality_type",
    "seed_type",
    "size_type",
    "subsampling_type",
    "target_bpp_type",
]

PROG = "tfjpeg"
EXIT_OK = 0
#: Exit status for bad arguments and for every ``TfjpegError`` (bad input, unwritable output).
EXIT_USAGE = 2

_MIN_SIDE, _MAX_SIDE = 32, 8192  # tfjpeg.data.synthetic.MIN_SIDE/MAX_SIDE (kept import-free)
SUBSAMPLINGS = CODEC_SUBSAMPLINGS

#: Command name → module (under ``tfjpeg.cli``) whose ``add_parser`` builds its subparser.
COMMANDS: dict[str, str] = {
    "demo": "tfjpeg.cli.demo",
    "compress": "tfjpeg.cli.compress",
    "decode": "tfjpeg.cli.decode",
    "explore": "tfjpeg.cli.explore",
}


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


def bounded_int(
    name: str, low: int, high: int | None = None, *, article: str = "an"
) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high] (no upper bound when ``high`` is None).

    The one integer check of the CLI (qualities, seeds, sample counts); its message reads
    "<name> must be an integer in [low, high], got ..." or, without ``high`` and with
    ``low == 0``, "<name> must be a non-negative integer, got ...".
    """
    if high is None:
        what = "a non-negative integer" if low == 0 else f"an integer >= {low}"
    else:
        what = f"{article} integer in [{low}, {high}]"

    def parse(text: str) -> int:
        stripped = text.strip()
        try:
            value = int(stripped)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {what}, got {stripped!r}") from None
        if value < low or (high is not None and value > high):
            shown = value if high is not None else repr(text)
            raise argparse.ArgumentTypeError(f"{name} must be {what}, got {shown}")
        return value

    parse.__name__ = name  # argparse names the type in some messages
    return parse


quality_type = bounded_int("quality", 1, 100)
seed_type = bounded_int("seed", 0)


def qualities_type(text: str) -> list[int]:
    """Comma-separated JPEG qualities, each checked by :data:`quality_type`."""
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated qualities, got {text!r}")
    return [quality_type(p) for p in parts]


def subsampling_type(text: str) -> str:
    """Chroma subsampling "444", "422" or "420" (colons allowed: "4:2:0")."""
    name = text.strip().replace(":", "")
    if name not in SUBSAMPLINGS:
        raise argparse.ArgumentTypeError(
            f"unknown subsampling {text!r}; supported: {', '.join(SUBSAMPLINGS)}"
        )
    return name


def size_type(text: str) -> tuple[int, int]:
    """``HEIGHTxWIDTH``, each side in [32, 8192]."""
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


def target_bpp_type(text: str) -> float:
    """A target size in bits per pixel, in (0, 24]."""
    try:
        value = float(text.strip())
    except ValueError:
        value = float("nan")
    if not 0.0 < value <= 24.0:
        raise argparse.ArgumentTypeError(
            f"target bpp must be a number in (0, 24], got {text.strip()!r}"
        )
    return value


def check_input_file(path: str | os.PathLike) -> None:
    """The input must be an existing file: a folder or a missing path is refused by name."""
    if os.path.isdir(path):
        raise TfjpegError(f"{os.fspath(path)}: is a folder; give an image file.")
    if not os.path.isfile(path):
        raise TfjpegError(f"{os.fspath(path)}: no such file.")


def check_output_suffix(output: str | os.PathLike, suffixes: Sequence[str], what: str) -> None:
    """Refuse an output name whose suffix does not say what is written (e.g. JPEG in ``.png``)."""
    suffix = Path(output).suffix.lower()
    if suffix not in suffixes:
        shown = f"'{suffix}'" if suffix else "no suffix"
        raise TfjpegError(
            f"{os.fspath(output)}: this command writes {what}; the output name must end in "
            f"{' or '.join(suffixes)}, got {shown}."
        )


def check_output_folder(output: str | os.PathLike) -> None:
    """The output's folder must exist and be writable, checked before any (long) model run."""
    folder = Path(output).parent
    if not folder.exists():
        raise TfjpegError(f"output folder {os.fspath(folder)!r} does not exist; create it first.")
    if not folder.is_dir():
        raise TfjpegError(f"output folder {os.fspath(folder)!r} is not a folder.")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".tfjpeg-probe-"):
            pass
    except OSError as exc:
        raise TfjpegError(
            f"cannot write to output folder {os.fspath(folder)!r}: {exc.strerror or exc}"
        ) from None


def check_output(source: str, output: str | os.PathLike, overwrite: bool) -> None:
    """Refuse to replace the input file, and an existing output unless ``--overwrite``."""
    if not os.path.exists(output):
        return
    if os.path.samefile(source, output):
        raise TfjpegError(f"refusing to overwrite the input {source!r}; choose another -o.")
    if not overwrite:
        raise TfjpegError(f"{output} exists; pass --overwrite to replace it.")


# ----------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    """The ``tfjpeg`` argument parser with one subparser per command (:data:`COMMANDS`).

    Returns:
        A parser whose errors raise instead of exiting; use :func:`main` to run commands.
    """
    from tfjpeg import __version__

    parser = _Parser(
        prog=PROG,
        description=(
            "Differentiable JPEG that matches libjpeg; learned pre-editing (compress) and "
            "consistent decoding (decode) around standard JPEG files."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        importlib.import_module(module).add_parser(subparsers, name)
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
        choices = ", ".join(COMMANDS)
        return _fail(f"missing command; choose one of: {choices} (see '{PROG} --help')")
    try:
        with _one_line_warnings():
            _import_tensorflow_quietly()
            return int(args.handler(args))
    except TfjpegIOError as exc:
        return _fail(_os_error_message(exc))
    except TfjpegError as exc:
        return _fail(str(exc))
    except OSError as exc:  # the user's files: unreadable input, vanished folder, ...
        return _fail(_os_error_message(exc))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _os_error_message(exc: OSError) -> str:
    """``<strerror>[: <filename>]`` without the ``[Errno N]`` prefix (plain text kept as is)."""
    if not exc.strerror:
        return str(exc)
    return exc.strerror if exc.filename is None else f"{exc.filename}: {exc.strerror}"


# ----------------------------------------------------------------------------- quiet runtime

#: Set for TensorFlow unless the user set it: C++ INFO, WARNING and ERROR logs off. ERROR too:
#: oneDNN logs "oneDNN supports DT_INT32 only on platforms with AVX-512. Falling back to ..." at
#: ERROR level when the decoding core's exact integer re-encode runs on some CPUs, a notice, not
#: a failure; failures reach the user as Python exceptions (one ``tfjpeg: error:`` line).
DEFAULT_TF_LOG_LEVEL = "3"


def _user_wants_tf_logs() -> bool:
    """True when the user set ``TF_CPP_MIN_LOG_LEVEL`` to show INFO or WARNING lines (0 or 1)."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", DEFAULT_TF_LOG_LEVEL).strip() in ("0", "1")


def _import_tensorflow_quietly() -> None:
    """Imports TensorFlow (and finds its devices) with file descriptor 2 parked in a temp file.

    TensorFlow's native code writes absl lines ("All log messages before absl::InitializeLog"),
    the oneDNN notice, the CPU-feature notice and the CUDA probe ("Could not find cuda drivers",
    "failed call to cuInit") straight to fd 2 while it loads and initialises devices, before
    ``TF_CPP_MIN_LOG_LEVEL`` applies. What was captured is replayed only if the import fails.
    Nothing is hidden when the user asked for logs (``TF_CPP_MIN_LOG_LEVEL`` 0 or 1).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_TF_LOG_LEVEL)
    if "tensorflow" in sys.modules or _user_wants_tf_logs():
        _quiet_python_loggers()
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr: nothing to protect
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        failed = True
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe logs here
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                sink.seek(0)
                sys.stderr.write(sink.read().decode("utf-8", "replace"))
    _quiet_python_loggers()


def _quiet_python_loggers() -> None:
    """TensorFlow's and absl's Python loggers: errors only."""
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Python warnings as one line ``tfjpeg: warning: <message>`` (no source line), each once."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = " ".join(str(message).split())
        print(f"{PROG}: warning: {text}", file=sys.stderr if file is None else file)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        warnings.showwarning = show
        yield
