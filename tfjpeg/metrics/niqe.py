"""NIQE score (non-differentiable use of :func:`tfjpeg.losses.niqe`), lower is more natural."""

from __future__ import annotations

from tfjpeg.losses.quality import niqe
from tfjpeg.metrics._wrap import as_batch, finish

__all__ = ["niqe_score"]


def niqe_score(image, patch_size: int = 96, max_val: float = 255.0):
    """NIQE of an RGB or gray image (H, W, C) or batch (N, H, W, C), as scikit-video computes it.

    Uses the nearest entry of the AGGD shape table (scikit-video's forward computation); on
    Kodak it agrees with ``skvideo.measure.niqe`` to within about 0.1% (see
    ``benchmarks/niqe_agreement.py``). The reference needs images larger than 192×192; here any
    image with at least one ``patch_size`` patch is scored (one patch: zero sample covariance).

    Returns a float for one image, a numpy array for a batch.
    """
    batch, single = as_batch(image, "image")
    return finish(niqe(batch, patch_size, max_val, shape_lookup="nearest"), single)
