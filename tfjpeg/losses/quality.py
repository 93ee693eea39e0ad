"""No-reference quality terms Q(x) for eq. (5) of the pre-editing paper (lower is better).

- :func:`niqe` / :class:`NIQE`: a differentiable NIQE (Mittal, Soundararajan & Bovik, "Making a
  'completely blind' image quality analyzer", IEEE SPL 2013) that reproduces scikit-video's
  ``skvideo.measure.niqe`` — MSCN coefficients (7-tap Gaussian σ = 7/6, zero borders, C = 1),
  18 AGGD features of the MSCN and of its four pairwise products per 96×96 patch at full and
  half resolution (Pillow-bicubic halving), a multivariate Gaussian fit over the patches and its
  distance to the pristine model that ships with scikit-video (BSD-3-Clause, see
  ``tfjpeg/losses/data/NOTICE``). Exactly flat areas (DC-only JPEG blocks) give exactly zero
  MSCN coefficients here; stock scikit-video leaves float32 rounding noise there that its fits
  count, so on low-quality JPEGs the two differ by up to ~2% (≤ 0.01% against scikit-video
  with exact zeros, ≤ 0.15% with the linear shape lookup; ``benchmarks/niqe_agreement.py``).
  The AGGD shape is the inverse of the ratio table ρ(γ) = Γ(2/γ)² / (Γ(1/γ) Γ(3/γ)) on
  scikit-video's grid 0.2:0.001:10.
  scikit-video takes the nearest grid entry (piecewise constant, zero gradient); tfjpeg
  interpolates linearly between the two neighbouring entries (``shape_lookup="linear"``:
  continuous, useful gradient) or reproduces the nearest entry in the forward pass with the
  linear inverse's gradient (``"nearest"``, a straight-through estimator; what the metric uses).
- :func:`total_variation`: mean absolute difference of neighbouring pixels.
- :class:`ExternalQualityModel`: a user-supplied no-reference model (e.g. NIMA) loaded from a
  Keras file or a SavedModel directory, frozen, turned into a lower-is-better term.

Reference: Talebi et al., "Better Compression with Deep Pre-Editing", 2020, §3.1 (Q = NIMA + TV
there; NIMA weights cannot be downloaded here, so NIQE is the built-in alternative).
"""

from __future__ import annotations

import functools
import math
import os
from importlib import resources

import keras
import numpy as np
import tensorflow as tf

from tfjpeg.losses._common import as_image_batch, rgb_to_gray, safe_sqrt

__all__ = [
    "NIQE",
    "NIQE_DUPLICATE_FEATURES",
    "NIQE_GAMMA_GRID",
    "ExternalQualityModel",
    "niqe",
    "niqe_features",
    "niqe_pristine_model",
    "total_variation",
]

#: scikit-video's grid of AGGD shape values γ (np.arange(0.2, 10, 0.001)).
NIQE_GAMMA_GRID = np.arange(0.2, 10, 0.001)
#: Feature indices that repeat the one before them in scikit-video's feature vector (the
#: diagonal pairwise products list bl twice); the pristine covariance is singular along them.
NIQE_DUPLICATE_FEATURES = (13, 17, 31, 35)
_KEEP = np.array([i for i in range(36) if i not in NIQE_DUPLICATE_FEATURES])


def _lgamma_table() -> np.ndarray:
    lg = np.vectorize(math.lgamma)
    g = NIQE_GAMMA_GRID
    return np.exp(2 * lg(2.0 / g) - lg(1.0 / g) - lg(3.0 / g))


#: ρ(γ) on the grid; increasing from ≈0 to ≈0.75.
_RHO_TABLE = _lgamma_table()


@functools.lru_cache(maxsize=1)
def niqe_pristine_model() -> tuple[np.ndarray, np.ndarray]:
    """The pristine MVG model (mean (36,), covariance (36, 36)) shipped with scikit-video."""
    ref = resources.files("tfjpeg.losses").joinpath("data/niqe_pristine_skvideo.npz")
    with resources.as_file(ref) as path, np.load(path) as data:
        return data["pop_mu"].copy(), data["pop_cov"].copy()


def _mscn(gray: tf.Tensor) -> tf.Tensor:
    """Mean-subtracted contrast-normalised coefficients of (N, H, W, 1), as scikit-video.

    Same definition as scikit-video (7-tap Gaussian σ = 7/6, zero borders, C = 1), in float64,
    and computed so that exactly flat areas (e.g. the DC-only blocks of a low-quality JPEG)
    give exactly zero: |x − μ| below 1e-11·max(1, |x|) (float64 rounding noise; real values
    are orders of magnitude larger) is set to 0 in the forward pass, the gradient staying that
    of x − μ. Otherwise the rounding noise of x − blur(x) there has a random (or, with an
    inexactly normalised window, a fixed) sign, and the AGGD fits count it as samples (see
    ``benchmarks/niqe_agreement.py``).
    """
    taps = np.exp(-0.5 * np.arange(-3, 4) ** 2 / (7.0 / 6.0) ** 2)
    taps = taps / taps.sum()
    x = tf.cast(gray, tf.float64)
    kv = tf.constant(taps[:, None, None, None], tf.float64)
    kh = tf.constant(taps[None, :, None, None], tf.float64)

    def blur(t: tf.Tensor) -> tf.Tensor:  # zero ("constant") borders, as scipy.ndimage
        t = tf.nn.conv2d(t, kv, strides=1, padding="SAME")
        return tf.nn.conv2d(t, kh, strides=1, padding="SAME")

    mu = blur(x)
    var = blur(x * x) - mu * mu
    # sqrt(|var|) with a floor far below the +1 of the denominator, for finite gradients.
    sigma = tf.sqrt(tf.maximum(tf.abs(var), tf.constant(1e-12, tf.float64)))
    centred = x - mu
    # Exact zeros where x − μ vanishes in exact arithmetic (flat or locally symmetric/linear
    # windows): float64 rounding leaves |x − μ| ≲ 1e-13·|x| there; genuine values are far larger.
    tiny = 1e-11 * tf.maximum(tf.abs(x), 1.0)
    centred = centred + tf.stop_gradient(
        tf.where(tf.abs(centred) < tiny, -centred, tf.zeros_like(centred))
    )
    return tf.cast(centred / (sigma + 1.0), gray.dtype)


def _pil_bicubic_half(gray: tf.Tensor) -> tf.Tensor:
    """Pillow's BICUBIC resize of a mode-"F" image to half size (what scikit-video calls).

    8-tap support (a = −0.5 cubic stretched ×2), edge weights renormalised, horizontal pass
    first; each pass accumulates in float64 and stores float32, as Pillow does, so flat areas
    stay exactly flat and the result matches Pillow's to the last bit almost everywhere.
    """

    def cubic(x: np.ndarray) -> np.ndarray:  # Pillow's bicubic_filter, a = −0.5
        a = -0.5
        x = np.abs(x)
        return np.where(
            x < 1,
            ((a + 2) * x - (a + 3)) * x * x + 1,
            np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0),
        )

    taps = cubic((np.arange(-3, 5) - 0.5) / 2.0)  # output i reads inputs 2i−3 … 2i+4

    def one_axis(x: tf.Tensor, axis: int) -> tf.Tensor:
        if axis == 1:
            kernel = tf.constant(taps.reshape(8, 1, 1, 1), tf.float64)
            strides, pad = [1, 2, 1, 1], [[0, 0], [3, 4], [0, 0], [0, 0]]
        else:
            kernel = tf.constant(taps.reshape(1, 8, 1, 1), tf.float64)
            strides, pad = [1, 1, 2, 1], [[0, 0], [0, 0], [3, 4], [0, 0]]
        num = tf.nn.conv2d(tf.pad(x, pad), kernel, strides=strides, padding="VALID")
        ones = tf.ones_like(x[:1])
        den = tf.nn.conv2d(tf.pad(ones, pad), kernel, strides=strides, padding="VALID")
        return tf.cast(tf.cast(num / den, tf.float32), tf.float64)

    out = one_axis(one_axis(tf.cast(gray, tf.float64), 2), 1)
    return tf.cast(out, gray.dtype)


def _patches(x: tf.Tensor, size: int) -> tf.Tensor:
    """(N, h·size, w·size, 1) → (N, h·w, size, size), row-major patch order."""
    shape = tf.shape(x)
    n, nh, nw = shape[0], shape[1] // size, shape[2] // size
    x = tf.reshape(x, [n, nh, size, nw, size])
    x = tf.transpose(x, [0, 1, 3, 2, 4])
    return tf.reshape(x, [n, nh * nw, size, size])


def _shape_from_ratio(rhat_norm: tf.Tensor, lookup: str) -> tf.Tensor:
    """γ with ρ(γ) = rhat_norm, by linear interpolation in the table (see module docstring)."""
    dtype = rhat_norm.dtype
    table = tf.constant(_RHO_TABLE, dtype)
    grid = tf.constant(NIQE_GAMMA_GRID, dtype)
    size = len(NIQE_GAMMA_GRID)
    r = tf.clip_by_value(rhat_norm, table[0], table[-1])
    flat = tf.reshape(r, [1, -1])
    idx = tf.searchsorted(table[None, :], flat, side="right")[0] - 1
    idx = tf.clip_by_value(idx, 0, size - 2)
    lo = tf.gather(table, idx)
    hi = tf.gather(table, idx + 1)
    t = (tf.reshape(r, [-1]) - lo) / (hi - lo)
    g_lo = tf.gather(grid, idx)
    g_hi = tf.gather(grid, idx + 1)
    linear = g_lo + t * (g_hi - g_lo)
    if lookup == "nearest":
        # scikit-video's argmin((ρ − r)²): the closer of the two neighbours in ρ.
        nearest = tf.where(t < 0.5, g_lo, g_hi)
        linear = linear + tf.stop_gradient(nearest - linear)
    return tf.reshape(linear, tf.shape(rhat_norm))


def _gamma(x: tf.Tensor) -> tf.Tensor:
    return tf.exp(tf.math.lgamma(x))


def _aggd(x: tf.Tensor, lookup: str) -> tuple[tf.Tensor, ...]:
    """AGGD fit along the last axis: (alpha, mean N, beta_left, beta_right), each (...)."""
    tiny = tf.constant(1e-12, x.dtype)
    sq = x * x
    left = tf.cast(x < 0, x.dtype)
    right = 1.0 - left
    left_ms = tf.reduce_sum(sq * left, -1) / tf.maximum(tf.reduce_sum(left, -1), 1.0)
    right_ms = tf.reduce_sum(sq * right, -1) / tf.maximum(tf.reduce_sum(right, -1), 1.0)
    left_std = safe_sqrt(left_ms)
    right_std = safe_sqrt(right_ms)
    gamma_hat = left_std / tf.maximum(right_std, tiny)
    mean_sq = tf.reduce_mean(sq, -1)
    r_hat = tf.square(tf.reduce_mean(tf.abs(x), -1)) / tf.maximum(mean_sq, tiny)
    rhat_norm = (
        r_hat * ((gamma_hat**3 + 1.0) * (gamma_hat + 1.0)) / tf.square(gamma_hat * gamma_hat + 1.0)
    )
    alpha = _shape_from_ratio(rhat_norm, lookup)
    g1 = _gamma(1.0 / alpha)
    g2 = _gamma(2.0 / alpha)
    g3 = _gamma(3.0 / alpha)
    ratio = tf.sqrt(g1 / g3)
    bl = ratio * left_std
    br = ratio * right_std
    mean = (br - bl) * (g2 / g1)
    return alpha, mean, bl, br


def _subband_features(mscn_patches: tf.Tensor, lookup: str) -> tf.Tensor:
    """(N, P, s, s) MSCN patches → (N, P, 18) scikit-video NIQE features."""
    x = mscn_patches
    # np.roll inside each patch (circular), in scikit-video's order H, V, D1, D2.
    stacked = tf.stack(
        [
            x,
            x * tf.roll(x, 1, axis=3),
            x * tf.roll(x, 1, axis=2),
            x * tf.roll(tf.roll(x, 1, axis=2), 1, axis=3),
            x * tf.roll(tf.roll(x, 1, axis=2), -1, axis=3),
        ],
        axis=2,
    )  # (N, P, 5, s, s): one AGGD fit per slice, all at once (a small graph)
    shape = tf.shape(stacked)
    alpha, mean, bl, br = _aggd(tf.reshape(stacked, [shape[0], shape[1], 5, -1]), lookup)
    feats = [alpha[..., 0], (bl[..., 0] + br[..., 0]) / 2.0]
    for k in range(1, 5):
        # scikit-video lists (bl, bl) for the diagonal products, and its pristine model too.
        feats += [alpha[..., k], mean[..., k], bl[..., k], br[..., k] if k < 3 else bl[..., k]]
    return tf.stack(feats, axis=-1)


def _check_patch_size(patch_size: int) -> int:
    if not (isinstance(patch_size, int) and patch_size >= 8 and patch_size % 2 == 0):
        raise ValueError(
            f"patch_size must be an even integer ≥ 8. Received: patch_size={patch_size!r}"
        )
    return patch_size


def niqe_features(
    images: tf.Tensor,
    patch_size: int = 96,
    max_val: float = 255.0,
    shape_lookup: str = "linear",
) -> tf.Tensor:
    """Per-patch NIQE features (N, P, 36) of RGB or gray images in [0, max_val].

    The image is cropped at the bottom/right to a multiple of ``patch_size`` (as scikit-video
    does); P = (H // patch_size) · (W // patch_size) ≥ 1 is required.
    """
    patch_size = _check_patch_size(patch_size)
    if shape_lookup not in ("linear", "nearest"):
        raise ValueError(
            f"shape_lookup must be 'linear' or 'nearest'. Received: shape_lookup={shape_lookup!r}"
        )
    images = as_image_batch(images, "images", channels=(1, 3))
    for side in (images.shape[1], images.shape[2]):
        if side is not None and side < patch_size:
            raise ValueError(
                f"NIQE needs images of at least patch_size={patch_size} pixels per side "
                f"(at least 2·patch_size for a sample covariance). Received: shape={images.shape}"
            )
    # Gray in float64 rounded to float32, as the reference computes it (float64 weights, then
    # ``img.astype(np.float32)``): a float32 weighted sum differs by an ulp here and there,
    # which is enough to break the exact flatness of flat areas.
    gray = tf.cast(rgb_to_gray(tf.cast(images, tf.float64)) * (255.0 / max_val), tf.float32)
    gray = tf.cast(gray, images.dtype)
    shape = tf.shape(gray)
    h = shape[1] - shape[1] % patch_size
    w = shape[2] - shape[2] % patch_size
    gray = gray[:, :h, :w, :]
    half = _pil_bicubic_half(gray)
    full = _subband_features(_patches(_mscn(gray), patch_size), shape_lookup)
    coarse = _subband_features(_patches(_mscn(half), patch_size // 2), shape_lookup)
    return tf.concat([full, coarse], axis=-1)


def niqe(
    images: tf.Tensor,
    patch_size: int = 96,
    max_val: float = 255.0,
    shape_lookup: str = "linear",
) -> tf.Tensor:
    """Differentiable NIQE per image → (N,), lower is more natural. See the module docstring.

    Args:
        images: float (N, H, W, 3) RGB (converted to gray with 0.2989/0.5870/0.1140) or
            (N, H, W, 1) gray, in [0, max_val].
        patch_size: side of the square patches at full resolution (half of it at the coarse
            scale). 96 is the reference; the pristine model was fitted with 96. Images need at
            least one patch; with a single patch the sample covariance is taken as zero (the
            reference needs > 192 px, i.e. at least 4 patches). For small training crops
            (128–192 px) a smaller patch (32 or 48) gives several patches per crop at the cost
            of noisier per-patch fits — the value is then a NIQE-like score, not the reference.
        max_val: dynamic range of the input.
        shape_lookup: "linear" (smooth inverse of the AGGD ratio table) or "nearest"
            (scikit-video's forward value, straight-through gradient).

    Returns:
        (N,) NIQE = sqrt((ν − ν_p)ᵀ ((Σ + Σ_p)/2)⁻¹ (ν − ν_p)) with ν, Σ the mean and covariance
        of the patch features and ν_p, Σ_p the pristine model. Computed in float64 after the
        features (the pristine covariance has condition number ≈ 6·10⁶), cast back.
    """
    images = as_image_batch(images, "images", channels=(1, 3))
    feats = niqe_features(images, patch_size, max_val, shape_lookup)
    feats = tf.gather(tf.cast(feats, tf.float64), _KEEP, axis=-1)  # drop exact duplicates
    pop_mu, pop_cov = niqe_pristine_model()
    pop_mu = tf.constant(pop_mu[_KEEP], tf.float64)
    pop_cov = tf.constant(pop_cov[np.ix_(_KEEP, _KEEP)], tf.float64)
    count = tf.cast(tf.shape(feats)[1], tf.float64)
    mean = tf.reduce_mean(feats, axis=1)  # (N, 32)
    centred = feats - mean[:, None, :]
    cov = tf.matmul(centred, centred, transpose_a=True) / tf.maximum(count - 1.0, 1.0)
    matrix = (pop_cov[None] + cov) / 2.0
    diff = (mean - pop_mu[None])[:, :, None]  # (N, 32, 1)
    # Dropping the duplicated features leaves a positive-definite matrix, and the quadratic form
    # equals the reference's one with the pseudo-inverse of the full 36×36 matrix.
    chol = tf.linalg.cholesky(matrix)
    solved = tf.linalg.cholesky_solve(chol, diff)
    quad = tf.reshape(tf.matmul(diff, solved, transpose_a=True), [-1])
    return tf.cast(safe_sqrt(tf.maximum(quad, 0.0)), images.dtype)


@keras.saving.register_keras_serializable(package="tfjpeg")
class NIQE(keras.layers.Layer):
    """Keras layer around :func:`niqe`: ``NIQE()(images)`` → (N,) (no trainable weights)."""

    def __init__(
        self,
        patch_size: int = 96,
        max_val: float = 255.0,
        shape_lookup: str = "linear",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.patch_size = _check_patch_size(patch_size)
        if shape_lookup not in ("linear", "nearest"):
            raise ValueError(
                "shape_lookup must be 'linear' or 'nearest'. "
                f"Received: shape_lookup={shape_lookup!r}"
            )
        if not max_val > 0:
            raise ValueError(f"max_val must be positive. Received: max_val={max_val!r}")
        self.max_val = float(max_val)
        self.shape_lookup = shape_lookup

    def call(self, images: tf.Tensor) -> tf.Tensor:
        return niqe(images, self.patch_size, self.max_val, self.shape_lookup)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "patch_size": self.patch_size,
                "max_val": self.max_val,
                "shape_lookup": self.shape_lookup,
            }
        )
        return config


def total_variation(images: tf.Tensor, max_val: float = 255.0) -> tf.Tensor:
    """Anisotropic total variation per image → (N,): the mean |vertical| plus the mean
    |horizontal| neighbour difference, on images scaled to [0, 1] (size-independent)."""
    images = as_image_batch(images, "images", channels=(1, 3))
    if not max_val > 0:
        raise ValueError(f"max_val must be positive. Received: max_val={max_val!r}")
    x = images / max_val
    dv = tf.reduce_mean(tf.abs(x[:, 1:] - x[:, :-1]), axis=[1, 2, 3])
    dh = tf.reduce_mean(tf.abs(x[:, :, 1:] - x[:, :, :-1]), axis=[1, 2, 3])
    return dv + dh


@keras.saving.register_keras_serializable(package="tfjpeg")
class ExternalQualityModel(keras.layers.Layer):
    """A user-supplied no-reference quality model (e.g. NIMA) as a frozen, lower-is-better term.

    ``model_path`` is either a Keras model file (``.keras`` or ``.h5``, loaded with
    ``keras.models.load_model``) or a TensorFlow SavedModel directory (loaded with
    ``tf.saved_model.load``; its ``serving_default`` signature is called, or the object itself
    if it has none). The model receives the images rescaled from [0, ``max_val``] to
    ``input_range`` (and resized to ``input_size`` if given, bilinear). If its output has a last
    dimension K > 1 it is read as a distribution over the scores 1…K (NIMA) and reduced to the
    mean score; otherwise the output is the score. With ``higher_is_better`` (NIMA: yes) the term
    is −score, so minimising the loss raises the model's quality score.

    Args:
        model_path: Keras file or SavedModel directory (nothing is downloaded).
        input_range: (low, high) the model expects, e.g. (0, 1) or (−1, 1) or (0, 255).
        input_size: optional (height, width) the model needs; None feeds the images as they are.
        higher_is_better: whether a larger model output means better quality.
        max_val: dynamic range of the images passed to the layer.

    Call: ``ExternalQualityModel(path)(images)`` → (N,) quality term.
    """

    def __init__(
        self,
        model_path: str,
        input_range: tuple[float, float] = (0.0, 1.0),
        input_size: tuple[int, int] | None = None,
        higher_is_better: bool = True,
        max_val: float = 255.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(model_path, str | os.PathLike) or not os.path.exists(model_path):
            raise ValueError(
                f"model_path must be an existing Keras model file or SavedModel directory. "
                f"Received: model_path={model_path!r}"
            )
        low, high = (float(v) for v in input_range)
        if not high > low:
            raise ValueError(
                f"input_range must be (low, high). Received: input_range={input_range!r}"
            )
        if input_size is not None:
            input_size = tuple(int(v) for v in input_size)
            if len(input_size) != 2 or min(input_size) < 1:
                raise ValueError(
                    "input_size must be (height, width) or None. "
                    f"Received: input_size={input_size!r}"
                )
        if not max_val > 0:
            raise ValueError(f"max_val must be positive. Received: max_val={max_val!r}")
        self.model_path = os.fspath(model_path)
        self.input_range = (low, high)
        self.input_size = input_size
        self.higher_is_better = bool(higher_is_better)
        self.max_val = float(max_val)
        self._fn, self._model = self._load(self.model_path)

    @staticmethod
    def _load(path: str):
        if os.path.isdir(path):
            loaded = tf.saved_model.load(path)
            signatures = getattr(loaded, "signatures", {})
            if "serving_default" in signatures:
                signature = signatures["serving_default"]
                name = next(iter(signature.structured_input_signature[1]))

                def call(x):
                    out = signature(**{name: x})
                    return next(iter(out.values()))

                return call, loaded
            if not callable(loaded):
                raise ValueError(
                    f"The SavedModel has neither a serving_default signature nor __call__. "
                    f"Received: model_path={path!r}"
                )
            return loaded, loaded
        model = keras.models.load_model(path, compile=False)
        model.trainable = False
        return (lambda x: model(x, training=False)), model

    def call(self, images: tf.Tensor) -> tf.Tensor:
        images = as_image_batch(images, "images")
        low, high = self.input_range
        x = images / self.max_val * (high - low) + low
        if self.input_size is not None:
            x = tf.image.resize(x, self.input_size, method="bilinear")
        out = self._fn(tf.cast(x, tf.float32))
        out = tf.cast(out, images.dtype)
        if out.shape.rank is not None and out.shape.rank >= 2 and out.shape[-1] not in (None, 1):
            bins = tf.range(1, out.shape[-1] + 1, dtype=out.dtype)
            probs = out / tf.reduce_sum(out, axis=-1, keepdims=True)
            score = tf.reduce_sum(probs * bins, axis=-1)
        else:
            score = tf.reshape(out, [tf.shape(images)[0]])
        return -score if self.higher_is_better else score

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "model_path": self.model_path,
                "input_range": self.input_range,
                "input_size": self.input_size,
                "higher_is_better": self.higher_is_better,
                "max_val": self.max_val,
            }
        )
        return config
