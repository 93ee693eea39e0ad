"""The pre-editing objective, eq. (5) of Talebi et al. 2020.

    Loss = dist(C_q(T(z)), z) + λ · Q(C_q(T(z))) + μ · B_q(T(z))

:class:`PreEditLoss` composes the three terms from the original ``z``, the differentiably
decoded edited image ``C_q(T(z))`` (e.g. ``tfjpeg.jpeg.DiffJPEG`` output) and the predicted
bits ``B_q(T(z))`` (from the rate predictor, passed in as a tensor) and returns a dict with the
fixed keys ``total``, ``distance``, ``quality``, ``rate``.

Reference: Talebi, Kelly, Luo, Dorado, Yang, Milanfar & Elad, "Better Compression with Deep
Pre-Editing", 2020, §2 eq. (5), §3.1 and §5 (λ = 0.02, μ = 1; the weighted rate and the distance
should be of similar size, and the quality term a fraction of the total).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfjpeg.losses._common import as_image_batch, check_same_shape
from tfjpeg.losses.distance import DISTANCES, VGGFeatureDistance
from tfjpeg.losses.quality import ExternalQualityModel, niqe, total_variation

__all__ = ["LOSS_KEYS", "QUALITY_TERMS", "PreEditLoss", "auto_niqe_patch_size"]

#: The keys of the dict :class:`PreEditLoss` returns, always all of them.
LOSS_KEYS = ("total", "distance", "quality", "rate")
#: Names accepted in ``quality_terms``.
QUALITY_TERMS = ("niqe", "tv", "external")


def auto_niqe_patch_size(height: int, width: int) -> int:
    """NIQE patch side for a crop: 96 (the reference) when the crop holds 2×2 such patches,
    else half the shorter side rounded down to a multiple of 8 (at least 16), so that small
    training crops (e.g. 128 px → 64) still give 4 patches and a sample covariance."""
    side = min(int(height), int(width))
    if side >= 192:
        return 96
    return max(16, (side // 2) // 8 * 8)


@keras.saving.register_keras_serializable(package="tfjpeg")
class PreEditLoss(keras.layers.Layer):
    """Eq. (5): distance + λ·quality + μ·rate, as a dict of loss terms.

    Args:
        distance: "ms-ssim" (1 − MS-SSIM), "l1", "l2", "nlpd" or "vgg" (L1 between VGG-16
            ``vgg_layer`` features; needs ``vgg_weights``). See ``tfjpeg.losses.distance``.
        lam: λ, weight of the quality term (paper: 0.02 with NIMA).
        mu: μ, weight of the rate term (paper: 1).
        quality_terms: names from ("niqe", "tv", "external"); Q is their weighted sum. Empty
            means no quality term (``quality`` is then 0). Typical sizes: NIQE 5–20 on natural
            images and JPEGs, TV 0.02–0.2, so NIQE at λ = 0.02 adds 0.1–0.4; scale it with
            ``quality_weights`` if it dominates a distance like 1 − MS-SSIM (0.02–0.2).
            NIQE can be gamed as a training loss: a fine high-frequency texture (e.g. a
            checkerboard) lowers it without looking better, so keep its share of the total
            small and look at the edited images, not only at the score.
        quality_weights: one weight per quality term (default 1 each).
        rate_unit: "bpp" divides the predicted bits per image by H·W of the original; "bits"
            uses them as given.
        reduction: "mean" averages each term over the batch (scalars); "none" returns (N,)
            per-image terms (for ``tf.nn.compute_average_loss`` under ``tf.distribute``).
        max_val: dynamic range of the images (255).
        niqe_patch_size: NIQE patch side, or None for :func:`auto_niqe_patch_size` of the input.
        vgg_weights, vgg_layer: for ``distance="vgg"`` (a local weights file; nothing is
            downloaded).
        nr_model_path, nr_model_input_range, nr_model_input_size, nr_model_higher_is_better:
            for the "external" quality term (see ``ExternalQualityModel``).

    Call:
        ``loss(original, decoded, bits, mu=None)`` with original/decoded (N, H, W, 3) in
        [0, max_val], bits (N,) (or (N, ...), summed per image) and ``mu`` the rate weight for
        this call: None (the constructor's ``mu``), a scalar, or one μ per image (N,) (e.g. μ(q)
        at each image's quality) → {"total", "distance", "quality", "rate"}.

    Example:
        >>> loss = PreEditLoss(distance="ms-ssim", lam=0.02, mu=1.0, quality_terms=("niqe",))
        >>> terms = loss(z, diffjpeg(editor(z))["decoded"], rate(editor(z)))  # doctest: +SKIP
        >>> terms["total"]  # doctest: +SKIP
    """

    def __init__(
        self,
        distance: str = "ms-ssim",
        lam: float = 0.02,
        mu: float = 1.0,
        quality_terms: tuple[str, ...] = ("niqe",),
        quality_weights: tuple[float, ...] | None = None,
        rate_unit: str = "bpp",
        reduction: str = "mean",
        max_val: float = 255.0,
        niqe_patch_size: int | None = None,
        vgg_weights: str | None = None,
        vgg_layer: str = "block1_conv2",
        nr_model_path: str | None = None,
        nr_model_input_range: tuple[float, float] = (0.0, 1.0),
        nr_model_input_size: tuple[int, int] | None = None,
        nr_model_higher_is_better: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if distance not in (*DISTANCES, "vgg"):
            raise ValueError(
                f"distance must be one of {[*DISTANCES, 'vgg']}. Received: distance={distance!r}"
            )
        for name, value in (("lam", lam), ("mu", mu)):
            if not (isinstance(value, int | float) and value >= 0):
                raise ValueError(f"{name} must be a number ≥ 0. Received: {name}={value!r}")
        if isinstance(quality_terms, str):
            quality_terms = (quality_terms,)
        quality_terms = tuple(quality_terms)
        for term in quality_terms:
            if term not in QUALITY_TERMS:
                raise ValueError(
                    f"quality_terms must be names from {QUALITY_TERMS}. "
                    f"Received: quality_terms={quality_terms!r}"
                )
        if len(set(quality_terms)) != len(quality_terms):
            raise ValueError(
                f"quality_terms must not repeat a name. Received: quality_terms={quality_terms!r}"
            )
        if quality_weights is None:
            weights = (1.0,) * len(quality_terms)
        else:
            weights = tuple(float(w) for w in quality_weights)
            if len(weights) != len(quality_terms):
                raise ValueError(
                    "quality_weights must have one weight per quality term. "
                    f"Received: quality_weights={quality_weights!r}"
                )
        if rate_unit not in ("bpp", "bits"):
            raise ValueError(
                f"rate_unit must be 'bpp' or 'bits'. Received: rate_unit={rate_unit!r}"
            )
        if reduction not in ("mean", "none"):
            raise ValueError(
                f"reduction must be 'mean' or 'none'. Received: reduction={reduction!r}"
            )
        if not (isinstance(max_val, int | float) and max_val > 0):
            raise ValueError(f"max_val must be positive. Received: max_val={max_val!r}")
        if niqe_patch_size is not None and not (
            isinstance(niqe_patch_size, int) and niqe_patch_size >= 8 and niqe_patch_size % 2 == 0
        ):
            raise ValueError(
                "niqe_patch_size must be an even integer ≥ 8 or None. "
                f"Received: niqe_patch_size={niqe_patch_size!r}"
            )
        if distance == "vgg" and vgg_weights is None:
            raise ValueError(
                "distance='vgg' needs vgg_weights, the path of a local VGG16 (no top) weights "
                "file. Received: vgg_weights=None"
            )
        if "external" in quality_terms and nr_model_path is None:
            raise ValueError(
                "The 'external' quality term needs nr_model_path (a Keras file or SavedModel "
                "directory). Received: nr_model_path=None"
            )
        self.distance = distance
        self.lam = float(lam)
        self.mu = float(mu)
        self.quality_terms = quality_terms
        self.quality_weights = quality_weights if quality_weights is None else weights
        self._term_weights = weights
        self.rate_unit = rate_unit
        self.reduction = reduction
        self.max_val = float(max_val)
        self.niqe_patch_size = niqe_patch_size
        self.vgg_weights = vgg_weights
        self.vgg_layer = vgg_layer
        self.nr_model_path = nr_model_path
        self.nr_model_input_range = tuple(float(v) for v in nr_model_input_range)
        self.nr_model_input_size = (
            None if nr_model_input_size is None else tuple(int(v) for v in nr_model_input_size)
        )
        self.nr_model_higher_is_better = bool(nr_model_higher_is_better)
        self._vgg = (
            VGGFeatureDistance(weights=vgg_weights, layer=vgg_layer, max_val=self.max_val)
            if distance == "vgg"
            else None
        )
        self._external = (
            ExternalQualityModel(
                nr_model_path,
                input_range=self.nr_model_input_range,
                input_size=self.nr_model_input_size,
                higher_is_better=self.nr_model_higher_is_better,
                max_val=self.max_val,
            )
            if "external" in quality_terms
            else None
        )

    def _distance(self, original: tf.Tensor, decoded: tf.Tensor) -> tf.Tensor:
        if self._vgg is not None:
            return self._vgg(decoded, original)
        return DISTANCES[self.distance](decoded, original, max_val=self.max_val)

    def _quality(self, decoded: tf.Tensor) -> tf.Tensor:
        total = tf.zeros(tf.shape(decoded)[:1], decoded.dtype)
        for term, weight in zip(self.quality_terms, self._term_weights, strict=True):
            if term == "niqe":
                patch = self.niqe_patch_size
                if patch is None:
                    h, w = decoded.shape[1], decoded.shape[2]
                    if h is None or w is None:
                        raise ValueError(
                            "niqe_patch_size=None needs statically known image sizes; set "
                            f"niqe_patch_size. Received: shape={decoded.shape}"
                        )
                    patch = auto_niqe_patch_size(h, w)
                value = niqe(decoded, patch_size=patch, max_val=self.max_val)
            elif term == "tv":
                value = total_variation(decoded, max_val=self.max_val)
            else:
                value = self._external(decoded)
            total = total + weight * tf.cast(value, decoded.dtype)
        return total

    def _rate(self, original: tf.Tensor, bits: tf.Tensor) -> tf.Tensor:
        bits = tf.cast(tf.convert_to_tensor(bits), original.dtype)
        if bits.shape.rank == 0:
            raise ValueError(
                "bits must have one value per image, shape (N,) or (N, ...). "
                f"Received: shape={bits.shape}"
            )
        if bits.shape.rank > 1:
            bits = tf.reduce_sum(bits, axis=list(range(1, bits.shape.rank)))
        if self.rate_unit == "bpp":
            shape = tf.shape(original)
            bits = bits / tf.cast(shape[1] * shape[2], original.dtype)
        return bits

    def _mu(self, mu, reference: tf.Tensor) -> tf.Tensor | float:
        if mu is None:
            return self.mu
        mu = tf.cast(tf.convert_to_tensor(mu), reference.dtype)
        if mu.shape.rank is not None and mu.shape.rank > 1:
            raise ValueError(
                "mu must be a scalar or one value per image, shape (N,). "
                f"Received: shape={mu.shape}"
            )
        return mu

    def call(self, original: tf.Tensor, decoded: tf.Tensor, bits: tf.Tensor, mu=None) -> dict:
        original = as_image_batch(original, "original")
        decoded = tf.cast(as_image_batch(decoded, "decoded"), original.dtype)
        check_same_shape(original, decoded)
        distance = self._distance(original, decoded)
        quality = self._quality(decoded)
        rate = self._rate(original, bits)
        terms = {
            "distance": distance,
            "quality": quality,
            "rate": rate,
            "total": distance + self.lam * quality + self._mu(mu, rate) * rate,
        }
        if self.reduction == "mean":
            terms = {k: tf.reduce_mean(v) for k, v in terms.items()}
        return {k: terms[k] for k in LOSS_KEYS}

    def compute_output_spec(self, original, decoded, bits, mu=None):
        shape = () if self.reduction == "mean" else (original.shape[0],)
        return {k: keras.KerasTensor(shape, dtype=original.dtype) for k in LOSS_KEYS}

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "distance": self.distance,
                "lam": self.lam,
                "mu": self.mu,
                "quality_terms": list(self.quality_terms),
                "quality_weights": (
                    None if self.quality_weights is None else list(self.quality_weights)
                ),
                "rate_unit": self.rate_unit,
                "reduction": self.reduction,
                "max_val": self.max_val,
                "niqe_patch_size": self.niqe_patch_size,
                "vgg_weights": self.vgg_weights,
                "vgg_layer": self.vgg_layer,
                "nr_model_path": self.nr_model_path,
                "nr_model_input_range": list(self.nr_model_input_range),
                "nr_model_input_size": (
                    None if self.nr_model_input_size is None else list(self.nr_model_input_size)
                ),
                "nr_model_higher_is_better": self.nr_model_higher_is_better,
            }
        )
        return config
