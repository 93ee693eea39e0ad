"""Losses of the pre-editing objective (eq. 5 of Talebi et al. 2020): distances, quality terms;
and the adversarial losses of the decoders (:mod:`tfjpeg.losses.adversarial`) and the
penalties of posterior-sampling decoding (:mod:`tfjpeg.losses.posterior`).

Helpers (``MS_SSIM_WEIGHTS``, ``ms_ssim_scales``, ``niqe_features``, ``niqe_pristine_model``,
``auto_niqe_patch_size``) stay importable from their modules.
"""

from tfjpeg.losses.adversarial import (
    adam_z_step,
    gradient_penalty,
    map_loss,
    ns_critic_loss,
    ns_generator_loss,
    optimal_z,
    r1_penalty,
    range_loss,
    wgan_critic_loss,
    wgan_generator_loss,
)
from tfjpeg.losses.distance import (
    DISTANCES,
    VGGFeatureDistance,
    get_distance,
    l1_distance,
    l2_distance,
    ms_ssim,
    ms_ssim_loss,
    nlpd,
    ssim,
)
from tfjpeg.losses.posterior import (
    consistency_penalty,
    cosine_schedule,
    first_moment_penalty,
    second_moment_penalty,
)
from tfjpeg.losses.preedit import LOSS_KEYS, QUALITY_TERMS, PreEditLoss
from tfjpeg.losses.quality import (
    NIQE,
    ExternalQualityModel,
    niqe,
    total_variation,
)

__all__ = [
    "DISTANCES",
    "LOSS_KEYS",
    "NIQE",
    "QUALITY_TERMS",
    "ExternalQualityModel",
    "PreEditLoss",
    "VGGFeatureDistance",
    "adam_z_step",
    "consistency_penalty",
    "cosine_schedule",
    "first_moment_penalty",
    "get_distance",
    "gradient_penalty",
    "l1_distance",
    "l2_distance",
    "map_loss",
    "ms_ssim",
    "ms_ssim_loss",
    "niqe",
    "nlpd",
    "ns_critic_loss",
    "ns_generator_loss",
    "optimal_z",
    "r1_penalty",
    "range_loss",
    "second_moment_penalty",
    "ssim",
    "total_variation",
    "wgan_critic_loss",
    "wgan_generator_loss",
]
