"""Real JPEG files: coefficients (jpeglib), pixels (Pillow), validation and safe writing.

Modules: :mod:`~tfjpeg.io.coefficients` (the :class:`JpegCoefficients` container),
:mod:`~tfjpeg.io.markers` (the validating header parser), :mod:`~tfjpeg.io.jpeglib_backend`
(coefficients in and out of libjpeg, mozjpeg), :mod:`~tfjpeg.io.pixels` (Pillow pixel I/O),
:mod:`~tfjpeg.io.graph` (the TF-only reader for SavedModels), :mod:`~tfjpeg.io.limits` (the pixel
limit) and :mod:`~tfjpeg.io.atomic` (safe writing).

``coefficients_from_jpeg_bytes`` (TF ops only, for SavedModels) loads TensorFlow on first use.
"""

from __future__ import annotations

from typing import Any

from tfjpeg.io.atomic import save_bytes_atomic
from tfjpeg.io.coefficients import JpegCoefficients
from tfjpeg.io.jpeglib_backend import encode_coefficients, read_jpeg
from tfjpeg.io.markers import JpegHeader, parse_jpeg_header
from tfjpeg.io.pixels import decode_pixels, encode_pixels
from tfjpeg.io.sheet import contact_sheet, png_bytes

__all__ = [
    "JpegCoefficients",
    "JpegHeader",
    "coefficients_from_jpeg_bytes",
    "contact_sheet",
    "decode_pixels",
    "encode_coefficients",
    "encode_pixels",
    "parse_jpeg_header",
    "png_bytes",
    "read_jpeg",
    "save_bytes_atomic",
]


def __getattr__(name: str) -> Any:
    if name == "coefficients_from_jpeg_bytes":
        from tfjpeg.io.graph import coefficients_from_jpeg_bytes

        return coefficients_from_jpeg_bytes
    raise AttributeError(f"module 'tfjpeg.io' has no attribute {name!r}")
