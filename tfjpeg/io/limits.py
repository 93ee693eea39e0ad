"""What every reader checks first: the decompression-bomb pixel limit, and the input source.

Every JPEG input is validated by the marker parser (:func:`tfjpeg.io.markers.parse_jpeg_header`)
before any decoder sees a byte; the largest image it accepts is :data:`DEFAULT_MAX_PIXELS`,
overridable per call or with the ``TFJPEG_MAX_PIXELS`` environment variable. The readers
(:mod:`tfjpeg.io.jpeglib_backend`, :mod:`tfjpeg.io.pixels`) also share how a source (a path or
bytes) is loaded and how their errors name the file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np

from tfjpeg.errors import InvalidArgumentError, InvalidArgumentTypeError, TfjpegError

__all__ = [
    "DEFAULT_DECODER_MAX_PIXELS",
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_ENV",
    "load_source",
    "naming",
    "resolve_max_pixels",
]

#: Default decompression-bomb limit (pixels = height × width), checked from the header, for
#: reading coefficients and standard pixel decoding. Measured (``benchmarks/memory_limits.py``,
#: peak RSS of ``read_jpeg`` + ``decode_pixels`` on 1-32 MP files): about 10 bytes per pixel
#: plus 42 MiB, so 100 MP needs about 1 GiB, well within an 8 GiB machine.
DEFAULT_MAX_PIXELS = 100_000_000
#: Limit for the learned decoders: the default of ``tfjpeg.decode`` (capped by
#: ``$TFJPEG_MAX_PIXELS`` when that is lower) and of the decoder SavedModels' JPEG-bytes signature
#: (``export_decoder(..., max_pixels=...)``). Measured at about 166 bytes per pixel plus 0.7 GiB
#: (consistent-l1, 1-4 MP), so 100 MP would need ~16 GiB while 16 MP needs ~3.2 GiB, under half
#: of 8 GiB.
DEFAULT_DECODER_MAX_PIXELS = 16_000_000
#: Environment variable that overrides :data:`DEFAULT_MAX_PIXELS` (a positive integer).
MAX_PIXELS_ENV = "TFJPEG_MAX_PIXELS"


def resolve_max_pixels(max_pixels: int | None = None) -> int:
    """The pixel limit in force: ``max_pixels`` if given, else ``$TFJPEG_MAX_PIXELS``, else 100 M.

    Args:
        max_pixels: an explicit limit (a positive integer) or None.

    Returns:
        The limit as an int.

    Raises:
        ValueError: the argument or the environment variable is not a positive integer.

    Example:
        >>> resolve_max_pixels(1_000)
        1000
    """
    if max_pixels is not None:
        if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)):
            raise InvalidArgumentError(
                f"max_pixels must be a positive integer. Received: max_pixels={max_pixels!r}"
            )
        if max_pixels < 1:
            raise InvalidArgumentError(
                f"max_pixels must be a positive integer. Received: max_pixels={max_pixels}"
            )
        return int(max_pixels)
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise InvalidArgumentError(
            f"The environment variable {MAX_PIXELS_ENV} must be a positive integer. "
            f"Received: {MAX_PIXELS_ENV}={value!r}"
        )
    return limit


def load_source(source) -> tuple[bytes, str | None]:
    """The bytes of ``source`` (a path or bytes) and its file name (None for bytes)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        with open(path, "rb") as f:
            return f.read(), str(path)
    raise InvalidArgumentTypeError(
        "source must be a path (str or os.PathLike) or the file's bytes. "
        f"Received: type(source)={type(source).__name__}"
    )


@contextlib.contextmanager
def naming(label: str | None) -> Iterator[None]:
    """Prefix tfjpeg errors with the file name, so batch jobs say which file was bad."""
    try:
        yield
    except TfjpegError as e:
        if label is None:
            raise
        raise type(e)(f"{label}: {e}") from None
