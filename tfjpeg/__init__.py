"""tfjpeg: better JPEG on both ends, on a differentiable JPEG that matches libjpeg.

Reference: Talebi et al. 2020 (pre-editing); Bahat & Michaeli 2021 (explorable decoding);
Man et al. 2023 (posterior-sampling decoding); Guo & Chao 2017 (one-to-many).
"""

from tfjpeg.errors import (
    ImageTooLargeError,
    InvalidImageError,
    InvalidJpegError,
    TfjpegError,
    UnsupportedJpegError,
)
from tfjpeg.jpeg import DiffJPEG

__version__ = "0.1.0"

__all__ = [
    "DiffJPEG",
    "ImageTooLargeError",
    "InvalidImageError",
    "InvalidJpegError",
    "TfjpegError",
    "UnsupportedJpegError",
    "__version__",
]
