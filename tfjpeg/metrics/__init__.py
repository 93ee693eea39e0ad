"""Evaluation metrics: PSNR (RGB, Y), SSIM, MS-SSIM, NIQE, Butteraugli, bits per pixel, BD-rate.

The image metrics take numpy arrays or tensors, (H, W, C) or (N, H, W, C), any real dtype, in
[0, 255], and return a float (one image) or a numpy array (a batch). They run the same TF ops as
the losses in ``tfjpeg.losses`` (the differentiable forms ``psnr_tf``/``psnr_y_tf`` are in
``tfjpeg.metrics.psnr``). :func:`evaluate_compression` and :func:`evaluate_decoding` are the one
evaluation path (edit → encode → decode → measure; decode → measure).
"""

from tfjpeg.metrics.bd_rate import BDRateError, bd_rate
from tfjpeg.metrics.bpp import bpp
from tfjpeg.metrics.butteraugli import butteraugli_scores
from tfjpeg.metrics.evaluation import evaluate_compression, evaluate_decoding, evaluate_encoding
from tfjpeg.metrics.niqe import niqe_score
from tfjpeg.metrics.psnr import psnr, psnr_y
from tfjpeg.metrics.ssim import ms_ssim_score, ssim_score

__all__ = [
    "BDRateError",
    "bd_rate",
    "bpp",
    "butteraugli_scores",
    "evaluate_compression",
    "evaluate_decoding",
    "evaluate_encoding",
    "ms_ssim_score",
    "niqe_score",
    "psnr",
    "psnr_y",
    "ssim_score",
]
