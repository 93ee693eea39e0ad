"""Real JPEG files: coefficients (jpeglib), pixels (Pillow), validation and safe writing."""

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
    "decode_pixels",
    "encode_coefficients",
    "encode_pixels",
    "parse_jpeg_header",
    "read_jpeg",
    "resolve_max_pixels",
    "save_bytes_atomic",
]
