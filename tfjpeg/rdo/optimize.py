"""Rate-distortion optimized pre-editing: refine the image itself for a stock JPEG encoder.

Eq. 4 of Talebi et al. 2020 solved per image instead of by a network:
``min_x dist(C_q(x), z) + μ·B_q(x)``. The user only ever sees x through the coefficients the
encoder quantizes it to, so the optimizer chooses those coefficients directly, in the encoder's
own transform (colour conversion, chroma box downsampling, 8×8 DCT, units of the quantization
step), and :func:`tfjpeg.rdo.realize.realize` then builds uint8 pixels that libjpeg-turbo
quantizes back to exactly them. The choice is the one mozjpeg's trellis makes inside its
encoder, made before any encoder: by default mozjpeg's trellis itself
(:mod:`tfjpeg.rdo.trellis`, a Viterbi search per block priced by exact Huffman code lengths);
``RDOSettings(method="greedy")`` keeps the earlier greedy passes, which move nonzero AC
coefficients one step towards zero wherever the squared error added is worth less than λ times
the bits the shipped rate model (:class:`tfjpeg.rate.RatePredictor`, its slope between the two
integers) says are saved.

Batches: :func:`optimize_coefficients` and :func:`~tfjpeg.rdo.realize.realize` take (N, H, W, C)
images, (N, 2|3, 8, 8) tables and a λ per image, so a trainer can make teacher targets for a
batch of crops in one call (``realize(optimize_coefficients(x, t, steps, settings.lam(t),
settings, rate), t, H, W)``).

Example:
    >>> out = optimize_image(image, quality=20, steps=3)  # doctest: +SKIP
    >>> encode_pixels(out, 20, optimize=True)  # smaller file  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tfjpeg.errors import InvalidArgumentError
from tfjpeg.jpeg.codec import encode
from tfjpeg.jpeg.layout import component_factors
from tfjpeg.jpeg.tables import (
    component_table,
    mozjpeg_quality_tables,
    quality_tables,
    validate_tables,
)
from tfjpeg.rdo.realize import realize

__all__ = ["MU_SCHEDULE", "RDOSettings", "optimize_coefficients", "optimize_image"]


#: λ scale per coarseness, chosen on the validation split at equal MS-SSIM (3 images, 256-px
#: crops): 0.15 best for coarse tables (mean luma step ≥ 240, IJG quality ≤ 12; 0.005–0.4
#: tried), 0.005 for fine ones (mean step ≤ 72, quality ≥ 40; 0.005–0.05 tried); geometric in
#: between.
MU_SCHEDULE = ((72.0, 0.005), (240.0, 0.15))

#: :class:`RDOSettings` ``method`` and ``distortion`` choices.
METHODS = ("greedy", "trellis")
DISTORTIONS = ("sse", "mozjpeg", "masked")


class RDOSettings:
    """Hyper-parameters of the optimizer, chosen on the validation split of the training images
    (``benchmarks/optimize_speed.py``; never Kodak).

    The default is mozjpeg's trellis (``method="trellis"``, ``distortion="mozjpeg"``, DC trellis
    on) with the price of a bit doubled (``lambda_scale=2``). On the validation split (4 images,
    256-px crops, learned tables, qualities 5–75) its BD-rates against libjpeg-turbo
    (optimize=True) in 0.1–0.5 bpp are, with 1 / 2 / 3 loops, MS-SSIM −21.7 / −22.2 / −22.4 %,
    PSNR −4.1 / −4.0 / −3.8 %, Butteraugli −12.7 / −12.7 / −12.8 % (mozjpeg 4.0.3 alone −17.7,
    −9.2, −14.6 %; the greedy passes with frequency weight 1.5, 2 steps, −14.7, −15.2,
    −14.0 %). mozjpeg's own λ (``lambda_scale=1``, 2 loops) trades MS-SSIM for PSNR and
    Butteraugli: −20.3, −10.1, −14.5 %. On 8 validation images (2 loops): −25.8 / −11.1 /
    −20.5 % (mozjpeg −20.3 / −12.6 / −19.6 %). ``benchmarks/results/optimize_speed/trellis_*``.

    Args:
        mu_scale: λ = ``mu_scale`` × (mean luma quantization step)² squared-error units per bit
            (the classic λ ∝ Q² of rate–distortion optimized quantization); None: the
            per-quality schedule :data:`MU_SCHEDULE`. Used by "greedy" and by the trellis'
            "sse" and "masked" distortions.
        chroma_weight: weight of chroma squared error relative to luma ("sse", "masked").
        frequency_weight: exponent γ of a per-frequency weight of the squared error,
            ``(K[0, 0] / K[u, v])^γ`` with K the Annex K table of the component (the visibility
            thresholds of ITU-T T.81 K.1, a contrast-sensitivity proxy); 0: plain squared error
            ("greedy", "sse", "masked"). 1.5: on the validation split (4 images, 256-px crops,
            3 greedy steps) it moved the MS-SSIM BD-rate against libjpeg-turbo in 0.1–0.5 bpp
            from −6.0 to −10.4 % (IJG tables) and −10.7 to −14.9 % (learned tables),
            Butteraugli −6.2 → −12.2 and −11.2 → −14.2 %, at a PSNR cost (−13.0 → −8.1,
            −18.9 → −15.1 %); 1 and 2 were measured too
            (``benchmarks/results/optimize_speed/*frequency_weight*``).
        dc: optimize the DC too: "greedy" moves it one step towards its left neighbour's;
            the trellis runs mozjpeg's DC trellis along the scan (value ±1 step). None: on for
            the trellis (−20.3 instead of −19.3 % MS-SSIM at λ×1), off for "greedy".
        compiled: "greedy" prices bits with a traced graph (True), eagerly (False), or by the
            amount of work (None, :data:`GRAPH_WORK`); the choices are the same either way.
        method: "trellis" (:mod:`tfjpeg.rdo.trellis`: mozjpeg's Viterbi search per block,
            priced by the exact Huffman code lengths of libjpeg's optimal tables; a step is one
            trellis loop, re-deriving the lengths from the previous choice) or "greedy" (a
            step is one pass moving nonzero AC coefficients one step towards zero where the
            weighted error added is below λ × the bits the rate model says are saved).
        distortion: the trellis' error weight: "mozjpeg" (squared error in quantization
            steps, per-block λ ``2^14.75 / (2^16.5 + mean AC energy)`` of libjpeg's 8×-scaled
            DCT: mozjpeg's defaults, activity masking), "sse" (the pixel squared error weighted
            by ``frequency_weight`` and ``chroma_weight``, λ from :meth:`lam`) or "masked"
            ("sse" times mozjpeg's per-block factor ``2^16.5 / (2^16.5 + energy)``). On the
            validation split at λ×2, 2 loops, MS-SSIM / PSNR / Butteraugli: "mozjpeg" −21.0 /
            −3.2 / −11.8 %, "masked" −21.2 / −2.8 / −12.1 %, "sse" −16.1 / −14.8 / −16.1 %.
        lambda_scale: multiplies the trellis' price of a bit (0.5, 1, 2, 4 measured for
            "mozjpeg"; 1, 2, 3 for "sse"; 2, 4 for "masked").
    """

    def __init__(
        self,
        mu_scale: float | None = None,
        chroma_weight: float = 1.0,
        frequency_weight: float = 1.5,
        dc: bool | None = None,
        compiled: bool | None = None,
        method: str = "trellis",
        distortion: str = "mozjpeg",
        lambda_scale: float = 2.0,
    ) -> None:
        if method not in METHODS:
            raise InvalidArgumentError(f"method must be one of {METHODS}. Received: {method!r}")
        if distortion not in DISTORTIONS:
            raise InvalidArgumentError(
                f"distortion must be one of {DISTORTIONS}. Received: {distortion!r}"
            )
        if not lambda_scale > 0:
            raise InvalidArgumentError(f"lambda_scale must be > 0. Received: {lambda_scale!r}")
        self.mu_scale = mu_scale
        self.chroma_weight = chroma_weight
        self.frequency_weight = frequency_weight
        self.dc = method == "trellis" if dc is None else bool(dc)
        self.compiled = compiled
        self.method = method
        self.distortion = distortion
        self.lambda_scale = float(lambda_scale)

    def weights(self, component: int) -> tf.Tensor:
        """(8, 8) weight of the squared error per DCT frequency of ``component``."""
        annex_k = component_table(quality_tables(50), component)[0]
        return tf.pow(annex_k[0, 0] / annex_k, float(self.frequency_weight))

    def lam(self, tables: tf.Tensor) -> tf.Tensor:
        """(N,) λ for tables (N, 2|3, 8, 8)."""
        luma = component_table(tf.convert_to_tensor(tables, tf.float32), 0)
        step = tf.reduce_mean(luma, axis=[1, 2])
        if self.mu_scale is not None:
            scale = tf.fill(tf.shape(step), float(self.mu_scale))
        else:
            (s0, m0), (s1, m1) = MU_SCHEDULE
            t = tf.clip_by_value(tf.math.log(step / s0) / float(np.log(s1 / s0)), 0.0, 1.0)
            scale = tf.exp(float(np.log(m0)) + t * float(np.log(m1 / m0)))
        return scale * tf.square(step)


def _rate_model(encoder: str) -> Any:
    from tfjpeg.rate.predictor import RatePredictor

    target = "libjpeg-optimize" if encoder == "libjpeg" else encoder
    return RatePredictor.from_preset("rate_predictor", encoder=target)


#: Work (pixels × passes) from which the bit prices are computed by a traced graph: tracing costs
#: 8–18 s once per process and component count on the loaded 2-core machine, then a 3-step
#: optimize runs at 6.7 s/MP instead of 24 s/MP eagerly (0.15 MP validation image, same
#: process, identical output), so the trace pays from about 1 MP × 3 passes.
GRAPH_WORK = 3_000_000


@functools.lru_cache(maxsize=8)
def _compiled_slopes(rate: Any, components: int) -> Callable[..., list[tf.Tensor]]:
    """:func:`_bit_slopes` of ``rate`` as one traced graph for any image size."""
    block = tf.TensorSpec([None, None, None, 8, 8], tf.float32)
    signature = [[block] * components, tf.TensorSpec([None, None, 8, 8], tf.float32)]
    return tf.function(
        lambda coefficients, tables: _bit_slopes(rate, coefficients, tables),
        input_signature=signature,
    )


def _slope_function(rate: Any, components: int, work: int, compiled: bool | None) -> Callable:
    """The traced :func:`_bit_slopes` where it pays (already traced, asked for, or big work)."""
    traced = (rate, components) in _TRACED
    if compiled or (compiled is None and (traced or work >= GRAPH_WORK)):
        _TRACED.add((rate, components))
        return _compiled_slopes(rate, components)
    return lambda coefficients, tables: _bit_slopes(rate, coefficients, tables)


_TRACED: set[tuple[Any, int]] = set()


def _bit_slopes(rate: Any, coefficients: list[tf.Tensor], tables: tf.Tensor) -> list[tf.Tensor]:
    """Bits saved by moving each nonzero coefficient one step towards zero, from the rate
    model's slope halfway between the two values (its counts are linear between integers)."""
    half = [c - 0.5 * tf.sign(c) for c in coefficients]
    with tf.GradientTape() as tape:
        tape.watch(half)
        bits = tf.reduce_sum(rate.bits_from_coefficients(half, tables))
    grads = tape.gradient(bits, half)
    return [g * tf.sign(c) for g, c in zip(grads, coefficients, strict=True)]


def _dc_moves(
    k: tf.Tensor, u: tf.Tensor, cost: tf.Tensor, lam: tf.Tensor, saved: tf.Tensor
) -> tf.Tensor:
    """k with each DC moved one step towards its left neighbour's where the added error is
    below λ × the bits the smaller coded difference saves (the rate model's slope)."""
    dc, u_dc, cost_dc = k[..., :1, :1], u[..., :1, :1], cost[..., :1, :1]
    left = tf.pad(dc[:, :, :-1], [[0, 0], [0, 0], [1, 0], [0, 0], [0, 0]])
    step = tf.sign(left - dc)
    gradient = saved[..., :1, :1] * tf.sign(dc)  # d bits / d DC (the slopes are signed by k)
    added = cost_dc * (tf.square(dc + step - u_dc) - tf.square(dc - u_dc))
    move = (step != 0) & (added < -lam * gradient * step)
    return tf.concat(
        [tf.concat([tf.where(move, dc + step, dc), k[..., :1, 1:]], -1), k[..., 1:, :]], -2
    )


def optimize_coefficients(
    start: tf.Tensor,
    tables: tf.Tensor,
    steps: int,
    lam: tf.Tensor,
    settings: RDOSettings,
    rate: Any,
    subsampling: str = "420",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[tf.Tensor, ...]:
    """Quantized coefficients (integer floats) minimizing squared error + λ·bits, for a batch.

    ``settings.method == "trellis"``: :func:`tfjpeg.rdo.trellis.trellis_coefficients`.
    "greedy": each step is one greedy rate–distortion pass over all coefficients (trellis-like): a
    nonzero coefficient moves one step towards zero where the squared error it adds (exact, in
    the orthonormal DCT domain, chroma weighted by its upsampled area) costs less than λ times
    the bits the rate model says it saves; the bit prices are recomputed every pass, as runs
    of zeros change. Coefficients the start image rounds away from its value are never moved
    further than one step from it, so the search stays near the start.

    Args:
        start: float (N, H, W, C) image (the editor's output or the original).
        tables: (N, 2|3, 8, 8) quantization tables.
        steps: greedy passes or trellis loops (0: the start image's own coefficients).
        lam: (N,) squared-error units (pixel SSE) per bit.
        settings: the method and its distortion weights.
        rate: a :class:`tfjpeg.rate.RatePredictor` for the target encoder ("greedy" only; the
            trellis counts exact Huffman bits and ignores it).
        subsampling: chroma subsampling.
        progress: called as ``progress(step, steps)`` after each pass.
    """
    if settings.method == "trellis":
        from tfjpeg.rdo.trellis import trellis_coefficients

        return trellis_coefficients(start, tables, steps, lam, settings, subsampling, progress)
    exact = list(encode(start, tables, subsampling, "hard")["coefficients"])
    if steps == 0:
        return tuple(exact)
    unrounded = encode(start, tables, subsampling, "poly3")["unrounded"]
    factors = component_factors(len(exact), subsampling)
    area = [fh * fv for fh, fv in factors]
    lam = tf.reshape(tf.cast(lam, tf.float32), [-1, 1, 1, 1, 1])
    coefs = exact
    ac = tf.constant(np.arange(64).reshape(8, 8) > 0)  # the DC (coded as a difference) stays
    work = int(np.prod(start.shape[:3])) * steps
    slopes = _slope_function(rate, len(exact), work, settings.compiled)
    for i in range(steps):
        saved = slopes(list(coefs), tf.cast(tables, tf.float32))
        new = []
        for c, (k, u) in enumerate(zip(coefs, unrounded, strict=True)):
            q = component_table(tables, c)[:, None, None]
            weight = (settings.chroma_weight * area[c] if c > 0 else 1.0) * settings.weights(c)
            lower = k - tf.sign(k)
            added = weight * tf.square(q) * (tf.square(lower - u) - tf.square(k - u))
            move = (k != 0) & (added < lam * saved[c]) & ac
            k_new = tf.where(move, lower, k)
            if settings.dc:
                k_new = _dc_moves(k_new, u, weight * tf.square(q), lam, saved[c])
            new.append(k_new)
        coefs = new
        if progress is not None:
            progress(i + 1, steps)
    return tuple(coefs)


def optimize_image(
    image: np.ndarray,
    quality: int,
    steps: int,
    *,
    encoder: str = "libjpeg",
    tables: Any = None,
    subsampling: str = "420",
    start: np.ndarray | None = None,
    settings: RDOSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
    report: dict[str, float] | None = None,
) -> np.ndarray:
    """uint8 image whose stock JPEG (at ``quality`` or ``tables``) is cheaper at equal quality.

    Args:
        image: uint8 (H, W, 3) or (H, W, 1), the original.
        quality: JPEG quality the file will be written with (selects the tables).
        steps: rate–distortion passes (:func:`optimize_coefficients`).
        encoder: "libjpeg" (libjpeg-turbo, optimized Huffman tables) or "mozjpeg".
        tables: explicit (2|3, 8, 8) tables instead of ``quality``'s.
        subsampling: chroma subsampling of the file.
        start: uint8 image to start from (e.g. an editor's output); default ``image``.
        settings: hyper-parameters; default ``RDOSettings()``.
        progress: called as ``progress(step, steps)``.
        report: a dict that receives ``mismatch``, the fraction of coefficients libjpeg-turbo
            quantizes the result to differently from the chosen ones (:func:`realize`).

    Returns:
        uint8 image of the same shape; hand it to the same encoder at the same quality.
    """
    settings = settings or RDOSettings()
    begin = image if start is None else start
    x = tf.constant(begin[None].astype(np.float32))
    if tables is not None:
        t = validate_tables(tables)
    elif encoder == "mozjpeg":
        t = mozjpeg_quality_tables(quality)
    else:
        t = quality_tables(quality)
    t = tf.broadcast_to(t, [1, t.shape[-3], 8, 8])
    rate = _rate_model(encoder) if settings.method == "greedy" else None
    coefs = optimize_coefficients(
        x, t, steps, settings.lam(t), settings, rate, subsampling, progress
    )
    pixels, mismatch = realize(coefs, t, image.shape[0], image.shape[1], subsampling)
    if report is not None:
        report["mismatch"] = mismatch
    return pixels[0]
