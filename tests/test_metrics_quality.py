"""tfjpeg.metrics: PSNR, PSNR-Y, SSIM, MS-SSIM, NIQE score and bpp."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image, pillow_jpeg
from PIL import Image
from test_losses_quality import SYNTHETIC_GOLDEN, integer_test_image

from tfjpeg.errors import InvalidImageError, InvalidJpegError
from tfjpeg.losses import niqe
from tfjpeg.metrics import bpp, ms_ssim_score, niqe_score, psnr, psnr_y, ssim_score
from tfjpeg.metrics.psnr import blocking_effect_factor, psnr_b, psnr_tf


def test_psnr_known_values_and_identical_images():
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.ones((4, 4, 3), np.uint8)
    assert psnr(a, b) == pytest.approx(20 * math.log10(255), abs=1e-4)  # MSE 1 → 48.13 dB
    c = a.copy()
    c[0, 0, 0] = 16  # MSE = 256 / 48
    assert psnr(a, c) == pytest.approx(10 * math.log10(255**2 * 48 / 256), abs=1e-4)
    assert psnr(a, a) == math.inf
    batch = psnr(np.stack([a, a]), np.stack([b, a]))
    assert batch.shape == (2,) and batch[1] == math.inf


def test_psnr_b_known_blocking_penalty():
    # Two flat 8-column blocks 10 apart: D_B = 16 rows · 10² / 32 boundary pairs = 50, D_B^c = 0,
    # η = log2 8 / log2 16 = 3/4, so BEF = 37.5 (Yim & Bovik 2011, eq. 9-12).
    blocky = np.zeros((16, 16, 1), np.float32)
    blocky[:, 8:] = 10.0
    assert float(blocking_effect_factor(tf.constant(blocky[None, ..., 0]))[0]) == 37.5
    assert psnr_b(blocky, blocky) == pytest.approx(10 * math.log10(255**2 / 37.5), abs=1e-4)
    # A ramp steps as much across block boundaries as inside blocks: no penalty, PSNR-B = PSNR.
    ramp = np.tile(np.arange(16, dtype=np.float32)[None, :, None] * 3, (16, 1, 3))
    assert psnr_b(ramp + 2.0, ramp) == pytest.approx(10 * math.log10(255**2 / 4), abs=1e-4)
    # Libjpeg's decode of a coarse file is blockier than the original: PSNR-B < PSNR.
    image = natural_image(64, 64, seed=3)
    decoded = np.asarray(Image.open(io.BytesIO(pillow_jpeg(image, 5))).convert("RGB"))
    assert psnr_b(decoded, image) < psnr(decoded, image)


def test_psnr_y_uses_jfif_luma():
    a = natural_image(32, 48).astype(np.float64)
    b = np.clip(a + np.random.default_rng(0).normal(0, 5, a.shape), 0, 255)
    w = np.array([0.299, 0.587, 0.114])
    mse = np.mean((a @ w - b @ w) ** 2)
    assert psnr_y(a, b) == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-5)
    with pytest.raises(InvalidImageError, match="RGB"):
        psnr_y(a[..., :1], b[..., :1])


def test_psnr_tf_gradient_equals_the_analytic_gradient():
    # PSNR = 10·log10(255² / MSE), MSE = mean((x − y)²) over the n values of one image, so
    # ∂PSNR/∂x_i = −(10 / ln 10) · 2 (x_i − y_i) / (n · MSE). Two images: each PSNR depends on its
    # own pixels only, so the gradient of the sum is the per-image gradient.
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 255, (2, 2, 3, 3))
    x = y + rng.choice([-1.0, 1.0], y.shape) * rng.uniform(2, 8, y.shape)
    xv = tf.Variable(x.astype(np.float32))
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(psnr_tf(xv, tf.constant(y, tf.float32)))
    grad = tape.gradient(value, xv).numpy()
    n = x[0].size
    mse = np.mean((x - y) ** 2, axis=(1, 2, 3), keepdims=True)
    expected = -(10.0 / math.log(10.0)) * 2.0 * (x - y) / (n * mse)
    assert np.abs(expected).min() > 1e-3  # a real, non-zero gradient everywhere
    np.testing.assert_allclose(grad, expected, rtol=2e-3, atol=1e-6)


def test_metric_inputs_are_validated():
    with pytest.raises(InvalidImageError, match="same shape"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(InvalidImageError, match=r"\(H, W, C\)"):
        psnr(np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(InvalidImageError, match="channels"):
        ssim_score(np.zeros((16, 16, 2)), np.zeros((16, 16, 2)))


def test_ssim_and_ms_ssim_scores_match_tensorflow_and_are_one_for_identical():
    a = natural_image(180, 180).astype(np.float32)
    b = np.clip(a + np.random.default_rng(1).normal(0, 10, a.shape), 0, 255).astype(np.float32)
    # tf.image.ssim sums 180x180 float32 terms: ~1e-5 relative rounding on smooth images
    assert ssim_score(a, b) == pytest.approx(float(tf.image.ssim(a, b, 255.0)), rel=5e-5)
    expected = float(tf.image.ssim_multiscale(a, b, 255.0))
    assert ms_ssim_score(a.astype(np.uint8), b.astype(np.uint8)) == pytest.approx(
        float(tf.image.ssim_multiscale(a.astype(np.uint8), b.astype(np.uint8), 255)), rel=1e-5
    )
    assert ms_ssim_score(a, b) == pytest.approx(expected, rel=1e-5)
    assert ms_ssim_score(a, a) == pytest.approx(1.0, abs=1e-6)


def test_niqe_score_matches_scikit_video_golden_and_the_loss():
    img = integer_test_image(200, 300)
    assert niqe_score(img) == pytest.approx(SYNTHETIC_GOLDEN[(200, 300)], rel=2e-4)
    two = niqe_score(np.stack([img, img[::-1]]))
    assert two.shape == (2,)
    loss = niqe(img[::-1][None].astype(np.float32), shape_lookup="nearest").numpy()[0]
    assert two[1] == pytest.approx(float(loss), rel=1e-6)


def test_bpp_counts_the_whole_file():
    img = natural_image(48, 64)
    data = pillow_jpeg(img, 50)
    assert bpp(data) == pytest.approx(8 * len(data) / (48 * 64))
    assert bpp(data, num_pixels=1000) == pytest.approx(8 * len(data) / 1000)
    gray = io.BytesIO()
    Image.fromarray(img[..., 0]).save(gray, "JPEG", quality=20)
    assert bpp(gray.getvalue()) == pytest.approx(8 * len(gray.getvalue()) / (48 * 64))
    with pytest.raises(InvalidJpegError):
        bpp(b"not a jpeg")
    with pytest.raises(InvalidJpegError):
        bpp(data[: len(data) // 2])
    with pytest.raises(ValueError, match="num_pixels"):
        bpp(data, num_pixels=0)
