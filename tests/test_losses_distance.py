"""tfjpeg.losses.distance: MS-SSIM/SSIM, L1/L2, NLPD and the VGG-16 feature distance."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image
from numpy.lib.stride_tricks import sliding_window_view

from tfjpeg.errors import InvalidImageError
from tfjpeg.losses import (
    VGGFeatureDistance,
    get_distance,
    l1_distance,
    l2_distance,
    ms_ssim,
    ms_ssim_loss,
    nlpd,
    ssim,
)
from tfjpeg.losses.distance import MS_SSIM_WEIGHTS, ms_ssim_scales


def _pair(height: int, width: int, sigma: float = 12.0, seed: int = 0):
    clean = natural_image(height, width, seed).astype(np.float32)
    rng = np.random.default_rng(seed + 100)
    noisy = np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 255).astype(np.float32)
    return clean[None], noisy[None]


# --- numpy references written from the papers, independent of the TF code ---------------------


def _np_gauss(size=11, sigma=1.5):
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _np_filter_valid(img, g):  # img (H, W), separable valid correlation
    rows = sliding_window_view(img, g.size, axis=0) @ g
    return sliding_window_view(rows, g.size, axis=1) @ g


def _np_ssim_cs(a, b, max_val=255.0):
    g = _np_gauss()
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    mx, my = _np_filter_valid(a, g), _np_filter_valid(b, g)
    sxx = _np_filter_valid(a * a, g) - mx**2
    syy = _np_filter_valid(b * b, g) - my**2
    sxy = _np_filter_valid(a * b, g) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    lum = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
    return (lum * cs).mean(), cs.mean()


def _np_ms_ssim(a, b, scales):
    """Wang et al. 2003 on one image (H, W, C) float64, per channel, channel mean."""
    w = np.array(MS_SSIM_WEIGHTS[:scales])
    w = w / w.sum()
    out = []
    for c in range(a.shape[-1]):
        x, y = a[..., c].astype(np.float64), b[..., c].astype(np.float64)
        vals = []
        for s in range(scales):
            if s:
                x = np.pad(x, ((0, x.shape[0] % 2), (0, x.shape[1] % 2)), mode="symmetric")
                y = np.pad(y, ((0, y.shape[0] % 2), (0, y.shape[1] % 2)), mode="symmetric")
                x = x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3))
                y = y.reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))
            s_val, cs = _np_ssim_cs(x, y)
            vals.append(s_val if s == scales - 1 else cs)
        out.append(np.prod(np.maximum(vals, 0) ** w))
    return float(np.mean(out))


# NLP_dist.m (Laparra et al. 2016), transcribed again from the authors' MATLAB code.
_F = np.array([0.05, 0.25, 0.4, 0.25, 0.05])
_SIGMAS = [0.0248, 0.0185, 0.0179, 0.0191, 0.0220, 0.2782]


def _np_dn_filters():
    f = [np.zeros((5, 5)) for _ in range(6)]
    f[0][1:4, 1:5] = [[0, 0.1011, 0, 0], [0.1493, 0, 0.1460, 0.0072], [0, 0.1015, 0, 0]]
    f[1][1:4, 1:4] = [[0, 0.0757, 0], [0.1986, 0, 0.1846], [0, 0.0837, 0]]
    f[2][1:4, 1:4] = [[0, 0.0477, 0], [0.2138, 0, 0.2243], [0, 0.0467, 0]]
    f[3][2, 1:4] = [0.2503, 0, 0.2616]
    f[4][2, 1:4] = [0.2598, 0, 0.2552]
    f[5][2, 1:4] = [0.2215, 0, 0.0717]
    return f


def _corr5(padded, k):  # valid 2-D correlation with a 5×5 kernel
    return np.einsum("ijkl,kl->ij", sliding_window_view(padded, (5, 5)), k)


def _np_nlp(im):
    k = np.outer(_F, _F)
    pyr, j = [], im
    for _ in range(5):
        low = _corr5(np.pad(j, 2, mode="symmetric"), k)[::2, ::2]
        odd = 2 * np.array(low.shape) - np.array(j.shape)
        p = np.pad(low, 1, mode="edge")
        up = np.zeros((2 * p.shape[0], 2 * p.shape[1]))
        up[::2, ::2] = 4 * p
        up = _corr5(np.pad(up, 2), k)
        up = up[2 : up.shape[0] - 2 - odd[0], 2 : up.shape[1] - 2 - odd[1]]
        pyr.append(j - up)
        j = low
    pyr.append(j)
    filters = _np_dn_filters()
    return [
        band / (_SIGMAS[n] + _corr5(np.pad(np.abs(band), 2), filters[n][::-1, ::-1]))
        for n, band in enumerate(pyr)
    ]


def _np_nlpd_gray(a, b):
    ya, yb = _np_nlp(a / 255.0), _np_nlp(b / 255.0)
    return float(np.mean([np.sqrt(np.mean((p - q) ** 2)) for p, q in zip(ya, yb, strict=True)]))


# --- MS-SSIM / SSIM ------------------------------------------------------------------------------


def test_ms_ssim_of_identical_images_is_one_and_loss_zero():
    a, _ = _pair(128, 160)
    np.testing.assert_allclose(ms_ssim(a, a).numpy(), [1.0], atol=1e-6)
    np.testing.assert_allclose(ms_ssim_loss(a, a).numpy(), [0.0], atol=1e-6)


def test_ms_ssim_matches_tf_image_ssim_multiscale_at_five_scales():
    a, b = _pair(192, 200)
    ours = ms_ssim(a, b).numpy()
    reference = tf.image.ssim_multiscale(a, b, 255.0).numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-5)
    assert 0.5 < ours[0] < 0.99


@pytest.mark.parametrize(("height", "width", "scales"), [(200, 184, 5), (128, 150, 4), (64, 90, 3)])
def test_ms_ssim_matches_numpy_reference_and_adapts_scales_to_small_crops(height, width, scales):
    a, b = _pair(height, width, seed=3)
    assert ms_ssim_scales(height, width) == scales
    expected = _np_ms_ssim(a[0], b[0], scales)
    np.testing.assert_allclose(ms_ssim(a, b).numpy()[0], expected, rtol=2e-5)


def test_ms_ssim_scales_minimum_sizes():
    assert ms_ssim_scales(161, 500) == 5
    assert ms_ssim_scales(160, 500) == 4
    assert ms_ssim_scales(81, 81) == 4
    assert ms_ssim_scales(80, 81) == 3
    assert ms_ssim_scales(11, 11) == 1
    with pytest.raises(ValueError, match="at least 11"):
        ms_ssim_scales(10, 300)
    a, b = _pair(128, 128)
    with pytest.raises(ValueError, match="161"):
        ms_ssim(a, b, scales=5)


def test_ms_ssim_decreases_with_distortion_and_is_per_image():
    a, mild = _pair(128, 128, sigma=4)
    _, strong = _pair(128, 128, sigma=30)
    values = ms_ssim(np.concatenate([a, a]), np.concatenate([mild, strong])).numpy()
    assert values.shape == (2,)
    assert 1.0 > values[0] > values[1] > 0.0


def test_ssim_matches_tf_image_ssim():
    a, b = _pair(64, 80)
    np.testing.assert_allclose(ssim(a, b).numpy(), tf.image.ssim(a, b, 255.0).numpy(), rtol=1e-5)


# --- L1 / L2 -------------------------------------------------------------------------------------


def test_l1_and_l2_known_values_on_unit_scale():
    a = np.zeros((2, 8, 8, 3), np.float32)
    b = np.full((2, 8, 8, 3), 51.0, np.float32)  # 0.2 on the [0, 1] scale
    np.testing.assert_allclose(l1_distance(a, b).numpy(), [0.2, 0.2], rtol=1e-6)
    np.testing.assert_allclose(l2_distance(a, b).numpy(), [0.04, 0.04], rtol=1e-6)
    np.testing.assert_allclose(l2_distance(a, b / 255.0, max_val=1.0).numpy()[0], 0.04, rtol=1e-5)


# --- NLPD ----------------------------------------------------------------------------------------


def test_nlpd_is_zero_for_identical_images_and_positive_otherwise():
    a, b = _pair(64, 96)
    assert nlpd(a, a).numpy()[0] == 0.0
    assert nlpd(a, b).numpy()[0] > 0.01


def test_nlpd_matches_numpy_transcription_of_nlp_dist_m():
    a, b = _pair(70, 99, seed=5)  # odd sizes exercise the pyramid's odd-size cropping
    gray_a = a[0] @ np.array([0.2989, 0.5870, 0.1140])
    gray_b = b[0] @ np.array([0.2989, 0.5870, 0.1140])
    expected = _np_nlpd_gray(gray_a, gray_b)
    np.testing.assert_allclose(nlpd(a, b, color="gray").numpy()[0], expected, rtol=1e-4)
    per_channel = np.mean([_np_nlpd_gray(a[0, ..., c], b[0, ..., c]) for c in range(3)])
    np.testing.assert_allclose(nlpd(a, b).numpy()[0], per_channel, rtol=1e-4)


def test_nlpd_grows_with_noise_and_rejects_tiny_images():
    a, mild = _pair(64, 64, sigma=3)
    _, strong = _pair(64, 64, sigma=25)
    assert nlpd(a, mild).numpy()[0] < nlpd(a, strong).numpy()[0]
    with pytest.raises(ValueError, match="at least 32"):
        nlpd(a[:, :31], a[:, :31])


# --- gradients, graphs, validation ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["ms-ssim", "l1", "l2", "nlpd"])
def test_distance_gradients_are_finite_inside_tf_function(name):
    fn = get_distance(name)
    a, b = _pair(64, 64)
    a = tf.constant(np.concatenate([a, a]))
    x = tf.Variable(np.concatenate([b, a[:1].numpy()]))  # second image identical to its target

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            value = tf.reduce_sum(fn(x, a))
        return value, tape.gradient(value, x)

    value, grad = step()
    assert np.isfinite(value.numpy())
    assert np.all(np.isfinite(grad.numpy()))
    assert np.abs(grad.numpy()[0]).max() > 0


def test_distances_reject_bad_shapes_and_names():
    a, b = _pair(32, 32)
    with pytest.raises(InvalidImageError, match="same shape"):
        l1_distance(a, b[:, :16])
    with pytest.raises(InvalidImageError, match=r"\(N, H, W, C\)"):
        l2_distance(a[0], b[0])
    with pytest.raises(ValueError, match="distance must be one of"):
        get_distance("psnr")
    with pytest.raises(ValueError, match="max_val"):
        l1_distance(a, b, max_val=0)


# --- VGG-16 --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vgg_weights_file(tmp_path_factory):
    """A VGG16 (no top) with random weights, saved as a weights file like a user would supply."""
    keras.utils.set_random_seed(7)
    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    path = tmp_path_factory.mktemp("vgg") / "vgg16_notop.weights.h5"
    model.save_weights(path)
    return model, str(path)


def test_vgg_distance_loads_user_weights_file_and_reproduces_features(vgg_weights_file):
    source, path = vgg_weights_file
    distance = VGGFeatureDistance(weights=path, layer="block1_conv2")
    a, b = _pair(32, 40)
    expected = keras.Model(source.input, source.get_layer("block1_conv2").output)(
        a[..., ::-1] - np.array([103.939, 116.779, 123.68], np.float32)
    )
    np.testing.assert_allclose(distance.feature_maps(a).numpy(), np.asarray(expected), atol=1e-4)
    assert distance(a, a).numpy()[0] == 0.0
    assert distance(a, b).numpy()[0] > 0.0
    assert not distance.trainable_weights
    other = VGGFeatureDistance(weights=None, layer="block1_conv2")  # different random weights
    assert not np.allclose(other.feature_maps(a).numpy(), distance.feature_maps(a).numpy())


def test_vgg_distance_config_round_trip_and_errors(vgg_weights_file, tmp_path):
    _, path = vgg_weights_file
    distance = VGGFeatureDistance(weights=path, layer="block2_conv1")
    clone = VGGFeatureDistance.from_config(distance.get_config())
    a, b = _pair(32, 32)
    np.testing.assert_allclose(clone(a, b).numpy(), distance(a, b).numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="download"):
        VGGFeatureDistance(weights="imagenet")
    with pytest.raises(ValueError, match="not found"):
        VGGFeatureDistance(weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="layer must be one of"):
        VGGFeatureDistance(weights=None, layer="fc1")
