"""Losses of the pre-editing objective (eq. 5 of Talebi et al. 2020): distances, quality terms."""

from tfjpeg.losses.distance import (
    DISTANCES,
    MS_SSIM_WEIGHTS,
    VGGFeatureDistance,
    get_distance,
    l1_distance,
    l2_distance,
    ms_ssim,
    ms_ssim_loss,
    ms_ssim_scales,
    nlpd,
    ssim,
)
from tfjpeg.losses.preedit import LOSS_KEYS, QUALITY_TERMS, PreEditLoss, auto_niqe_patch_size
from tfjpeg.losses.quality import (
    NIQE,
    ExternalQualityModel,
    niqe,
    niqe_features,
    niqe_pristine_model,
    total_variation,
)

__all__ = [
    "DISTANCES",
    "LOSS_KEYS",
    "MS_SSIM_WEIGHTS",
    "NIQE",
    "QUALITY_TERMS",
    "ExternalQualityModel",
    "PreEditLoss",
    "VGGFeatureDistance",
    "auto_niqe_patch_size",
    "get_distance",
    "l1_distance",
    "l2_distance",
    "ms_ssim",
    "ms_ssim_loss",
    "ms_ssim_scales",
    "niqe",
    "niqe_features",
    "niqe_pristine_model",
    "nlpd",
    "ssim",
    "total_variation",
]
