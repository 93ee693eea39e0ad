"""Writing files safely: never a half-written file, never the user's input overwritten."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from tfjpeg.errors import InvalidArgumentError, InvalidArgumentTypeError, OutputExistsError

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
        ValueError: ``path`` is ``source``.

    Example:
        >>> save_bytes_atomic("out.jpg", jpeg_bytes, source="in.jpg")  # doctest: +SKIP
        PosixPath('out.jpg')
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidArgumentTypeError(
            f"data must be bytes. Received: type(data)={type(data).__name__}"
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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())
        if overwrite:
            os.replace(tmp_name, dest)
        else:
            try:
                os.link(tmp_name, dest)  # atomic "create only if absent"
            except FileExistsError:
                raise OutputExistsError(
                    errno.EEXIST, "Output file exists; pass overwrite=True to replace it", str(dest)
                ) from None
            except OSError:  # no hard links on this file system
                if dest.exists():
                    raise OutputExistsError(
                        errno.EEXIST,
                        "Output file exists; pass overwrite=True to replace it",
                        str(dest),
                    ) from None
                os.replace(tmp_name, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    _fsync_dir(folder)
    return dest


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
