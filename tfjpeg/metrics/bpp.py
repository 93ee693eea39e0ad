"""Bits per pixel of a JPEG file."""

from __future__ import annotations

from tfjpeg.io.markers import parse_jpeg_header

__all__ = ["bpp"]


def bpp(jpeg: bytes, num_pixels: int | None = None) -> float:
    """8 · len(file) / pixels: the whole file (headers included) per image pixel.

    Args:
        jpeg: the complete JPEG file bytes (validated with ``tfjpeg.io.parse_jpeg_header``).
        num_pixels: pixel count to divide by; default: height × width from the frame header.

    Raises:
        InvalidJpegError: not a (complete) JPEG.
        ValueError: ``num_pixels`` is not a positive integer.
    """
    header = parse_jpeg_header(jpeg, allow_arithmetic=True)  # only the size is needed
    if num_pixels is None:
        num_pixels = header.num_pixels
    if not isinstance(num_pixels, int) or isinstance(num_pixels, bool) or num_pixels <= 0:
        raise ValueError(
            f"num_pixels must be a positive integer. Received: num_pixels={num_pixels!r}"
        )
    return 8.0 * len(jpeg) / num_pixels
