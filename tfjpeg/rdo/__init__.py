"""Rate-distortion optimized pre-editing: the image refined per file for a stock JPEG encoder.

:func:`optimize_image` (Talebi et al. 2020, eq. 4 solved per image) chooses the quantized DCT
coefficients that minimize distortion + μ(q)·bits through the exact codec and the rate model,
and :func:`realize` turns them into uint8 pixels that libjpeg-turbo quantizes back to them.
"""

from tfjpeg.rdo.optimize import RDOSettings, optimize_coefficients, optimize_image
from tfjpeg.rdo.realize import realize

__all__ = ["RDOSettings", "optimize_coefficients", "optimize_image", "realize"]
