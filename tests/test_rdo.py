"""Rate-distortion optimized pre-editing (tfjpeg/rdo): real libjpeg-turbo files get smaller."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image

from tfjpeg.api import compression
from tfjpeg.errors import InvalidArgumentError
from tfjpeg.io import decode_pixels, encode_pixels, read_jpeg
from tfjpeg.jpeg.codec import encode
from tfjpeg.jpeg.tables import quality_tables
from tfjpeg.metrics.psnr import psnr
from tfjpeg.rdo import optimize_image, realize


def _plain(image: np.ndarray, quality: int) -> bytes:
    return encode_pixels(image, quality, optimize=True)


@pytest.mark.parametrize("subsampling", ["420", "444"])
def test_realize_gives_pixels_libjpeg_quantizes_back_to_the_coefficients(subsampling):
    image = natural_image(48, 64, seed=1)
    tables = tf.broadcast_to(quality_tables(30), [1, 2, 8, 8])
    target = encode(image[None].astype(np.float32), tables, subsampling, "hard")["coefficients"]
    # A different choice of coefficients (every odd AC coefficient of luma moved to zero).
    luma = target[0].numpy()
    luma[..., 1::2] = 0
    target = (tf.constant(luma), *target[1:])
    pixels, mismatch = realize(target, tables, 48, 64, subsampling)
    assert mismatch == 0.0
    again = encode(pixels.astype(np.float32), tables, subsampling, "hard")["coefficients"]
    for got, want in zip(again, target, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_optimized_image_gives_a_smaller_real_jpeg_at_nearly_the_same_quality():
    image = natural_image(96, 128, seed=2)
    quality = 30
    plain = _plain(image, quality)
    optimized = optimize_image(image, quality, 2)
    assert optimized.dtype == np.uint8 and optimized.shape == image.shape
    data = _plain(optimized, quality)
    assert len(data) < 0.95 * len(plain)
    loss = psnr(decode_pixels(plain), image) - psnr(decode_pixels(data), image)
    assert 0.0 <= loss < 4.0  # the rate drops far more than a quality step would cost
    # No steps: the start image's own coefficients, the very same file.
    assert _plain(optimize_image(image, quality, 0), quality) == plain


def test_compress_optimize_composes_with_the_editor_choice():
    image = natural_image(64, 80, seed=3)
    plain = compression.compress(image, quality=25, editor="none", trellis=0)
    optimized = compression.compress(image, quality=25, editor="none", optimize=1)
    assert len(optimized) < len(plain)
    # one optimize loop realizes for libjpeg-turbo's quantizer what the default trellis writes
    default = read_jpeg(compression.compress(image, quality=25))
    for got, want in zip(read_jpeg(optimized).components, default.components, strict=True):
        assert np.mean(got != want) < 1e-3
    steps = []
    compression.compress(
        image, quality=25, editor="none", optimize=2, progress=lambda i, n: steps.append((i, n))
    )
    assert steps == [(1, 2), (2, 2)]


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "5", 10**6])
def test_compress_refuses_a_bad_optimize(bad):
    with pytest.raises(InvalidArgumentError, match="optimize"):
        compression.compress(natural_image(32, 32), quality=25, editor="none", optimize=bad)


def test_dc_moves_follow_lambda():
    from tfjpeg.rdo.optimize import RDOSettings, _rate_model, optimize_coefficients

    image = natural_image(32, 48, seed=4)[None].astype(np.float32)
    tables = tf.broadcast_to(quality_tables(40), [1, 2, 8, 8])
    start = encode(image, tables, "420", "hard")["coefficients"]
    rate = _rate_model("libjpeg")

    def run(lam, **kwargs):
        settings = RDOSettings(compiled=False, method="greedy", **kwargs)
        out = optimize_coefficients(image, tables, 1, tf.constant([lam]), settings, rate)
        return [c.numpy() for c in out]

    # λ = 0: nothing is worth any error; no option adds error to the start's coefficients.
    unrounded = encode(image, tables, "420", "poly3")["unrounded"]
    for got, want, u in zip(run(0.0, dc=True), start, unrounded, strict=True):
        assert np.sum((got - u) ** 2) <= np.sum((want.numpy() - u.numpy()) ** 2) + 1e-3
    # A huge λ: DC steps shrink the coded differences, one step per pass.
    for got, want in zip(run(1e9, dc=True), start, strict=True):
        dc, dc0 = got[..., 0, 0], want.numpy()[..., 0, 0]
        assert np.abs(np.diff(dc, axis=-1)).sum() <= np.abs(np.diff(dc0, axis=-1)).sum()
        assert np.abs(dc - dc0).max() <= 1  # one step per pass


@pytest.mark.slow
def test_traced_bit_prices_make_the_same_choices_as_eager():
    from tfjpeg.rdo.optimize import RDOSettings

    image = natural_image(48, 64, seed=5)
    eager = optimize_image(image, 20, 2, settings=RDOSettings(compiled=False, method="greedy"))
    traced = optimize_image(image, 20, 2, settings=RDOSettings(compiled=True, method="greedy"))
    np.testing.assert_array_equal(traced, eager)


def test_frequency_weight_follows_the_annex_k_visibility_thresholds():
    from tfjpeg.rdo.optimize import RDOSettings

    np.testing.assert_array_equal(RDOSettings(frequency_weight=0.0).weights(0).numpy(), 1.0)
    for component in (0, 1):
        annex_k = quality_tables(50)[0, component].numpy()
        got = RDOSettings(frequency_weight=1.0).weights(component).numpy()
        np.testing.assert_allclose(got, annex_k[0, 0] / annex_k, rtol=1e-6)
        assert got[0, 0] == 1.0 and got[7, 7] < 0.2  # the finest detail weighs least
