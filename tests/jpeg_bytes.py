"""Helpers for the tfjpeg.io tests: JPEG segment surgery and comparisons (not a test module)."""

from __future__ import annotations

from pathlib import Path

import jpeglib
import numpy as np

from tfjpeg.io import JpegCoefficients


def segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker code, offset of the FF, segment length) of every header segment up to the 1st SOS."""
    out, pos = [], 2
    while True:
        code = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        out.append((code, pos, length))
        if code == 0xDA:
            return out
        pos += 2 + length


def offset(data: bytes, code: int) -> int:
    return next(off for c, off, _ in segments(data) if c == code)


def patched(data: bytes, offset: int, value: int) -> bytes:
    out = bytearray(data)
    out[offset] = value
    return bytes(out)


def scan_start(data: bytes) -> int:
    _, off, length = segments(data)[-1]
    return off + 2 + length


def same_coefficients(a: JpegCoefficients, b: JpegCoefficients) -> bool:
    return (
        len(a.components) == len(b.components)
        and all(np.array_equal(x, y) for x, y in zip(a.components, b.components, strict=True))
        and np.array_equal(a.component_tables, b.component_tables)
        and (a.sampling, a.height, a.width) == (b.sampling, b.height, b.width)
    )


def jpeglib_write(image: np.ndarray, path: Path, samp_factor=None, flags=()) -> bytes:
    """Encode with jpeglib's libjpeg-turbo 2.1 (used for samplings and codings Pillow lacks)."""
    with jpeglib.version("turbo210"):
        jpeg = jpeglib.from_spatial(np.ascontiguousarray(image))
        if samp_factor is not None:
            jpeg.samp_factor = np.array(samp_factor, dtype=np.int32)
        jpeg.write_spatial(str(path), qt=75, flags=list(flags))
    return path.read_bytes()
