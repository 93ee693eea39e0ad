"""Evaluation metrics: PSNR (RGB, Y), SSIM, MS-SSIM, NIQE, bits per pixel, BD-rate.

The image metrics take numpy arrays or tensors, (H, W, C) or (N, H, W, C), any real dtype, in
[0, 255], and return a float (one image) or a numpy array (a batch). They run the same TF ops as
the losses in ``tfjpeg.losses`` (``psnr_tf``/``psnr_y_tf`` are the differentiable forms).
"""

from tfjpeg.metrics.bd_rate import BDRateError, bd_rate
from tfjpeg.metrics.bpp import bpp
from tfjpeg.metrics.niqe import niqe_score
from tfjpeg.metrics.psnr import psnr, psnr_tf, psnr_y, psnr_y_tf
from tfjpeg.metrics.ssim import ms_ssim_score, ssim_score

__all__ = [
    "BDRateError",
    "bd_rate",
    "bpp",
    "ms_ssim_score",
    "niqe_score",
    "psnr",
    "psnr_tf",
    "psnr_y",
    "psnr_y_tf",
    "ssim_score",
]
