"""tfjpeg: better JPEG on both ends, on a differentiable JPEG that matches libjpeg.

Reference: Talebi et al. 2020 (pre-editing); Bahat & Michaeli 2021 (explorable decoding);
Man et al. 2023 (posterior-sampling decoding); Guo & Chao 2017 (one-to-many).

TensorFlow is imported on first use of a TF-backed name, so ``tfjpeg --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

from tfjpeg.errors import (
    ImageTooLargeError,
    InvalidImageError,
    InvalidJpegError,
    TfjpegError,
    UnsupportedJpegError,
)

__version__ = "0.1.0"

__all__ = [
    "DiffJPEG",
    "ImageTooLargeError",
    "InvalidImageError",
    "InvalidJpegError",
    "TfjpegError",
    "UnsupportedJpegError",
    "__version__",
    "compress",
    "decode",
]


def __getattr__(name: str) -> Any:
    if name == "DiffJPEG":
        from tfjpeg.jpeg import DiffJPEG

        return DiffJPEG
    if name == "compress":
        from tfjpeg.api.compression import compress

        return compress
    if name == "decode":
        from tfjpeg.api.decoding import decode

        return decode
    raise AttributeError(f"module 'tfjpeg' has no attribute {name!r}")
