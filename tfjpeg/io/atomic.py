"""Writing files safely: never a half-written file, never the user's input overwritten."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from tfjpeg.errors import InvalidArgumentError, InvalidArgumentTypeError, OutputExistsError

#: Signals that terminate a process by default and after which no temporary file may remain.
_TERMINATING_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)

__all__ = ["save_bytes_atomic"]


def save_bytes_atomic(
    path: str | os.PathLike,
    data: bytes,
    *,
    overwrite: bool = False,
    source: str | os.PathLike | None = None,
) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, then a rename.

    Readers never see a half-written file, and a crash leaves either the old file or the new one.
    The hidden temporary file (``.NAME.XXXX.tmp``) is removed on errors and exceptions, and also
    when the process is terminated by SIGTERM or SIGHUP during the write: when called from the
    main thread and the signal has its default action, a handler is installed for the duration
    of the write only; it removes the temporary file, restores the previous handler and
    re-sends the signal, so the process still ends with the conventional status (killed by the
    signal). Signals that the program handles itself are left to its handler (an exception it
    raises, e.g. ``SystemExit``, removes the file too); ignored signals stay ignored.
    Without ``overwrite`` an existing file is never replaced (the final step is a hard link, which
    fails if the name exists, where the file system supports it). ``source`` — the user's input
    file — is never written to, even with ``overwrite=True`` (also when ``path`` is a hard or
    symbolic link to it).

    Args:
        path: destination file.
        data: the bytes to write.
        overwrite: allow replacing an existing file.
        source: the input file this output was made from, if any.

    Returns:
        The destination as a :class:`pathlib.Path`.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is False (a ``FileExistsError``).
        InvalidArgumentError: ``path`` is ``source``, or a bad argument (``data`` not bytes,
            ``path``/``source`` not a path, ``overwrite`` not a bool).

    Example:
        >>> save_bytes_atomic("out.jpg", jpeg_bytes, source="in.jpg")  # doctest: +SKIP
        PosixPath('out.jpg')
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidArgumentTypeError(
            f"data must be bytes. Received: type(data)={type(data).__name__}"
        )
    _check_path(path, "path")
    if source is not None:
        _check_path(source, "source")
    if not isinstance(overwrite, bool):
        raise InvalidArgumentTypeError(
            f"overwrite must be a bool. Received: overwrite={overwrite!r}"
        )
    dest = Path(os.fspath(path))
    if source is not None and _same_file(dest, Path(os.fspath(source))):
        raise InvalidArgumentError(
            f"Refusing to write onto the input file {os.fspath(source)!r}; "
            "choose another output path."
        )
    if dest.exists() and not overwrite:
        raise OutputExistsError(
            errno.EEXIST, "Output file exists; pass overwrite=True to replace it", str(dest)
        )
    folder = dest.parent if str(dest.parent) else Path(".")
    pending: list[str] = []  # the temporary file, for the signal handler
    with _removed_on_termination(pending):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=folder)
        pending.append(tmp_name)
        try:
            _write_and_publish(fd, tmp_name, dest, data, overwrite)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
    _fsync_dir(folder)
    return dest


def _write_and_publish(fd: int, tmp_name: str, dest: Path, data, overwrite: bool) -> None:
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp_name, 0o666 & ~_umask())
    if overwrite:
        os.replace(tmp_name, dest)
        return
    try:
        os.link(tmp_name, dest)  # atomic "create only if absent"
    except FileExistsError:
        raise OutputExistsError(
            errno.EEXIST, "Output file exists; pass overwrite=True to replace it", str(dest)
        ) from None
    except OSError:  # no hard links on this file system
        if dest.exists():
            raise OutputExistsError(
                errno.EEXIST, "Output file exists; pass overwrite=True to replace it", str(dest)
            ) from None
        os.replace(tmp_name, dest)


@contextlib.contextmanager
def _removed_on_termination(pending: list[str]) -> Iterator[None]:
    """Remove the files in ``pending`` if SIGTERM/SIGHUP (default action) ends the process.

    Only in the main thread (Python runs signal handlers there, and only there can they be
    installed); the previous handlers are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, object] = {}

    def terminate(signum: int, frame) -> None:
        for name in pending:
            with contextlib.suppress(OSError):
                os.unlink(name)
        for sig, handler in previous.items():
            with contextlib.suppress(OSError, ValueError):
                signal.signal(sig, handler)
        os.kill(os.getpid(), signum)  # default action again: die with the conventional status

    try:
        for sig in _TERMINATING_SIGNALS:
            with contextlib.suppress(OSError, ValueError):
                if signal.getsignal(sig) == signal.SIG_DFL:
                    previous[sig] = signal.signal(sig, terminate)
        yield
    finally:
        for sig, handler in previous.items():
            with contextlib.suppress(OSError, ValueError):
                signal.signal(sig, handler)


def _check_path(value, name: str) -> None:
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidArgumentTypeError(
            f"{name} must be a path (str or os.PathLike). "
            f"Received: type({name})={type(value).__name__}"
        )
    if not os.fspath(value):
        raise InvalidArgumentError(f"{name} must not be empty. Received: {name}={value!r}")


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def _umask() -> int:
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
