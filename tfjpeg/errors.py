"""The tfjpeg exception hierarchy: every error the package raises on bad input is one of these."""

from __future__ import annotations

__all__ = [
    "ImageTooLargeError",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "InvalidImageError",
    "InvalidJpegError",
    "ModelNotFoundError",
    "OutputExistsError",
    "TfjpegError",
    "TfjpegIOError",
    "UnsupportedJpegError",
]


class TfjpegError(Exception):
    """Base class of every error tfjpeg raises on purpose."""

    # Spelled out so that subclasses that also derive from ValueError/TypeError keep the plain
    # one-message constructor: AutoGraph re-raises an error from inside a tf.function as its own
    # type only when ``type(e).__init__ is Exception.__init__`` (else it becomes a StagingError).
    __init__ = Exception.__init__


class InvalidArgumentError(TfjpegError, ValueError):
    """An argument outside its allowed values (a quality of 0, an unknown layout name)."""


class InvalidArgumentTypeError(InvalidArgumentError, TypeError):
    """An argument of the wrong type (bytes expected, a path given as a number, ...)."""


class InvalidJpegError(TfjpegError, ValueError):
    """The bytes are not a JPEG, or the JPEG is corrupt or truncated."""


class UnsupportedJpegError(TfjpegError):
    """A valid JPEG that uses a feature tfjpeg does not handle (e.g. 12-bit, arithmetic coding)."""


class ImageTooLargeError(TfjpegError):
    """The image has more pixels than the configured limit (decompression-bomb guard)."""


class ModelNotFoundError(TfjpegError, FileNotFoundError):
    """A folder that holds no exported tfjpeg model (its config file is missing)."""

    __init__ = FileNotFoundError.__init__  # OSError's (errno, strerror, filename) arguments


class OutputExistsError(TfjpegError, FileExistsError):
    """The output file exists and overwriting it was not allowed."""

    __init__ = FileExistsError.__init__  # OSError's (errno, strerror, filename) arguments


class InvalidImageError(TfjpegError, ValueError):
    """An image array or tensor with the wrong shape, dtype or value range."""


class TfjpegIOError(TfjpegError, OSError):
    """An operating-system error inside tfjpeg's own file handling (a full or unwritable temporary
    folder, ...), as opposed to a problem with the user's data. ``errno`` and ``strerror`` are
    those of the underlying :class:`OSError`; the message names what tfjpeg was doing."""

    __init__ = OSError.__init__  # OSError's (errno, strerror, filename) arguments
