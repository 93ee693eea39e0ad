"""SSIM and MS-SSIM scores (numpy-friendly wrappers over ``tfjpeg.losses.distance``)."""

from __future__ import annotations

from tfjpeg.losses.distance import ms_ssim as _ms_ssim
from tfjpeg.losses.distance import ssim as _ssim
from tfjpeg.metrics._wrap import finish
from tfjpeg.metrics.psnr import _pair

__all__ = ["ms_ssim_score", "ssim_score"]


def ssim_score(x, y, max_val: float = 255.0, **kwargs):
    """SSIM (Gaussian 11×11, σ 1.5) of (H, W, C) images or (N, H, W, C) batches.

    Returns a float for one image, a numpy array for a batch. ``kwargs`` go to
    :func:`tfjpeg.losses.ssim`.
    """
    xb, yb, single = _pair(x, y)
    return finish(_ssim(xb, yb, max_val=max_val, **kwargs), single)


def ms_ssim_score(x, y, max_val: float = 255.0, **kwargs):
    """MS-SSIM (Wang et al. 2003, 5 scales for images ≥ 161 px, fewer below) of images/batches.

    Returns a float for one image, a numpy array for a batch. ``kwargs`` go to
    :func:`tfjpeg.losses.ms_ssim` (e.g. ``scales``).
    """
    xb, yb, single = _pair(x, y)
    return finish(_ms_ssim(xb, yb, max_val=max_val, **kwargs), single)
