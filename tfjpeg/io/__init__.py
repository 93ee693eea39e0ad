"""Real JPEG files: coefficients (jpeglib), pixels (Pillow), validation and safe writing.

``coefficients_from_jpeg_bytes`` (TF ops only, for SavedModels) loads TensorFlow on first use.
"""

from __future__ import annotations

from typing import Any

from tfjpeg.io.files import (
    DEFAULT_MAX_PIXELS,
    JPEGLIB_MOZJPEG_VERSION,
    JPEGLIB_READ_VERSION,
    MAX_PIXELS_ENV,
    JpegCoefficients,
    decode_pixels,
    encode_coefficients,
    encode_pixels,
    read_jpeg,
    resolve_max_pixels,
    save_bytes_atomic,
)
from tfjpeg.io.markers import FrameComponent, JpegHeader, parse_jpeg_header

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "JPEGLIB_MOZJPEG_VERSION",
    "JPEGLIB_READ_VERSION",
    "MAX_PIXELS_ENV",
    "FrameComponent",
    "JpegCoefficients",
    "JpegHeader",
    "coefficients_from_jpeg_bytes",
    "decode_pixels",
    "encode_coefficients",
    "encode_pixels",
    "parse_jpeg_header",
    "read_jpeg",
    "resolve_max_pixels",
    "save_bytes_atomic",
]


def __getattr__(name: str) -> Any:
    if name == "coefficients_from_jpeg_bytes":
        from tfjpeg.io.graph import coefficients_from_jpeg_bytes

        return coefficients_from_jpeg_bytes
    raise AttributeError(f"module 'tfjpeg.io' has no attribute {name!r}")
