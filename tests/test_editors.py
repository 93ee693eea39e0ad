"""Editors (Talebi et al. 2020 §3.2): padding, bilinear sampler, smoothing, STN, cascade."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfjpeg.editors import CascadeEditor, SmoothingEditor, SpatialTransformerEditor
from tfjpeg.editors.padding import reflect_pad
from tfjpeg.editors.sampler import bilinear_sample
from tfjpeg.editors.spatial_transformer import averaged_sampling_grid

TINY_SMOOTHING = {"filters": 8}
TINY_STN = {"filters": 8, "context_layers": 1}


def _perturb(model: keras.Model, scale: float = 0.05, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(w + rng.normal(0, scale, w.shape).astype("float32"))


@pytest.mark.parametrize("shape,pads", [((3, 4), (1, 2, 2, 1)), ((5, 9), (0, 3, 0, 7))])
def test_reflect_pad_matches_numpy_reflect(shape, pads):
    x = np.arange(np.prod(shape), dtype="float32").reshape(1, *shape, 1)
    top, bottom, left, right = pads
    ref = np.pad(x[0, ..., 0], ((top, bottom), (left, right)), mode="reflect")
    np.testing.assert_array_equal(np.asarray(reflect_pad(x, *pads))[0, ..., 0], ref)


def test_reflect_pad_handles_sides_shorter_than_the_pad():
    x = np.array([[[[1.0], [2.0]]]], "float32")  # 1 × 2 image
    out = np.asarray(reflect_pad(x, 3, 4, 5, 6))[0, ..., 0]
    assert out.shape == (8, 13)
    assert set(np.unique(out)) == {1.0, 2.0}
    np.testing.assert_array_equal(out[:, 5:7], np.tile([[1.0, 2.0]], (8, 1)))


def _numpy_bilinear(img, rows, cols):
    h, w = img.shape[:2]
    rows, cols = np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    wr, wc = (rows - r0)[..., None], (cols - c0)[..., None]
    top = img[r0, c0] * (1 - wc) + img[r0, c1] * wc
    bot = img[r1, c0] * (1 - wc) + img[r1, c1] * wc
    return top * (1 - wr) + bot * wr


def test_bilinear_sampler_matches_reference_and_is_exact_on_the_grid():
    rng = np.random.default_rng(1)
    img = rng.uniform(0, 255, (1, 7, 9, 3)).astype("float32")
    rows = rng.uniform(-2, 9, (1, 5, 6)).astype("float32")
    cols = rng.uniform(-2, 11, (1, 5, 6)).astype("float32")
    out = np.asarray(bilinear_sample(img, rows, cols))
    np.testing.assert_allclose(out[0], _numpy_bilinear(img[0], rows[0], cols[0]), rtol=1e-5)
    gr, gc = np.meshgrid(np.arange(7.0), np.arange(9.0), indexing="ij")
    same = np.asarray(bilinear_sample(img, gr[None], gc[None]))
    np.testing.assert_array_equal(same, img)


def test_bilinear_sampler_gradient_in_coordinates_matches_finite_differences():
    img = tf.constant(np.random.default_rng(2).uniform(0, 1, (1, 6, 6, 1)), tf.float32)
    rows = tf.Variable([[[2.3, 1.6]]], dtype=tf.float32)
    cols = tf.Variable([[[3.4, 0.7]]], dtype=tf.float32)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(bilinear_sample(img, rows, cols))
    g_rows = tape.gradient(total, rows).numpy()
    eps = 1e-3
    plus = tf.reduce_sum(bilinear_sample(img, rows + eps, cols))
    minus = tf.reduce_sum(bilinear_sample(img, rows - eps, cols))
    # Per-element gradient check via separate perturbations.
    numeric = []
    for i in range(2):
        d = np.zeros((1, 1, 2), "float32")
        d[0, 0, i] = eps
        p = tf.reduce_sum(bilinear_sample(img, rows + d, cols))
        m = tf.reduce_sum(bilinear_sample(img, rows - d, cols))
        numeric.append(float(p - m) / (2 * eps))
    np.testing.assert_allclose(g_rows[0, 0], numeric, rtol=1e-2, atol=1e-3)
    assert abs(float(plus - minus) / (2 * eps) - g_rows.sum()) < 1e-2


def _brute_force_grid(params, height, width):
    """Average over every 32×32 patch (centred on an 8×8 block) that covers each pixel."""
    _, hb, wb, _ = params.shape
    rows = np.zeros((height, width))
    cols = np.zeros((height, width))
    for y in range(height):
        for x in range(width):
            acc, count = np.zeros(2), 0
            for i in range(hb):
                for j in range(wb):
                    cy, cx = 8 * i + 3.5, 8 * j + 3.5
                    if abs(y - cy) < 16 and abs(x - cx) < 16:
                        a11, a12, a21, a22, tr, tc = params[0, i, j]
                        a = np.array([[1 + a11, a12], [a21, 1 + a22]])
                        p = np.array([y - cy, x - cx])
                        acc += np.array([cy, cx]) + a @ p + 16 * np.array([tr, tc])
                        count += 1
            rows[y, x], cols[y, x] = acc / count
    return rows, cols


def test_sampling_grid_is_the_average_of_overlapping_patch_grids():
    params = np.random.default_rng(3).uniform(-0.2, 0.2, (1, 3, 5, 6)).astype("float32")
    rows, cols = averaged_sampling_grid(params, 24, 40)
    ref_r, ref_c = _brute_force_grid(params, 24, 40)
    np.testing.assert_allclose(np.asarray(rows)[0], ref_r, atol=1e-4)
    np.testing.assert_allclose(np.asarray(cols)[0], ref_c, atol=1e-4)


def test_averaging_removes_the_seams_of_per_block_warps():
    """Independent per-block warps jump at block borders; averaged grids jump 4× less (one row of
    the 4×4 covering patches changes between half-blocks)."""
    params = np.zeros((1, 4, 4, 6), "float32")
    params[..., 4] = np.random.default_rng(4).choice([-0.2, 0.2], (1, 4, 4))
    rows, _ = averaged_sampling_grid(params, 32, 32)
    disp = np.asarray(rows)[0] - np.arange(32.0)[:, None]
    per_block = np.repeat(np.repeat(16 * params[0, ..., 4], 8, 0), 8, 1)
    assert np.abs(np.diff(per_block, axis=0)).max() == pytest.approx(6.4, abs=1e-5)
    assert np.abs(np.diff(disp, axis=0)).max() <= 4 * 6.4 / 16 + 1e-5


@pytest.mark.parametrize("size", [(1, 1), (13, 30), (16, 24)])
def test_untrained_editors_are_the_identity_at_any_size(size):
    x = np.random.default_rng(5).uniform(0, 255, (2, *size, 3)).astype("float32")
    for editor in (
        SmoothingEditor(**TINY_SMOOTHING),
        SpatialTransformerEditor(**TINY_STN),
        CascadeEditor(TINY_SMOOTHING, TINY_STN),
    ):
        out = editor(x, quality=[10.0, 25.0])
        assert out["edited"].shape == x.shape
        np.testing.assert_allclose(np.asarray(out["edited"]), x, atol=1e-3)


def test_stn_with_translation_shifts_the_image():
    editor = SpatialTransformerEditor(**TINY_STN)
    x = np.random.default_rng(6).uniform(0, 255, (1, 48, 48, 3)).astype("float32")
    editor(x)
    bias = editor.params_head.conv.bias
    bias.assign(np.array([0, 0, 0, 0, np.arctanh(2 / 16 / 0.25), 0], "float32"))  # 2 px down
    out = editor(x)
    np.testing.assert_allclose(np.asarray(out["displacement"])[0, ..., 0], 2.0, atol=1e-4)
    np.testing.assert_allclose(np.asarray(out["edited"])[0, 8:40], x[0, 10:42], atol=1e-3)


def test_quality_and_noise_channels_change_the_edit():
    editor = SmoothingEditor(**TINY_SMOOTHING)
    x = np.random.default_rng(7).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    editor(x)
    _perturb(editor)
    a = np.asarray(editor(x, quality=[10.0, 10.0])["edited"])
    b = np.asarray(editor(x, quality=[10.0, 40.0])["edited"])
    c = np.asarray(editor(x, quality=[10.0, 10.0], noise_sigma=0.1)["edited"])
    np.testing.assert_allclose(a[0], b[0], atol=1e-4)  # per-image conditioning
    assert np.abs(a[1] - b[1]).max() > 1e-2
    assert np.abs(a - c).max() > 1e-2


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        (SmoothingEditor, TINY_SMOOTHING),
        (SpatialTransformerEditor, TINY_STN),
        (CascadeEditor, {"smoothing": TINY_SMOOTHING, "spatial_transformer": TINY_STN}),
    ],
)
def test_editor_keras_save_load_round_trip(cls, kwargs, tmp_path):
    editor = cls(**kwargs)
    x = np.random.default_rng(8).uniform(0, 255, (1, 24, 16, 3)).astype("float32")
    editor(x)
    _perturb(editor, 0.02)
    assert editor.get_config() == cls.from_config(editor.get_config()).get_config()
    path = tmp_path / "editor.keras"
    editor.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        np.asarray(loaded(x, quality=15.0)["edited"]),
        np.asarray(editor(x, quality=15.0)["edited"]),
        atol=1e-4,
    )


def test_cascade_trains_both_stages_jointly():
    editor = CascadeEditor(TINY_SMOOTHING, TINY_STN)
    x = tf.constant(np.random.default_rng(9).uniform(0, 255, (2, 16, 16, 3)), tf.float32)
    editor(x)
    _perturb(editor, 0.02)
    with tf.GradientTape() as tape:
        out = editor(x, quality=20.0, training=True)
        loss = tf.reduce_mean(tf.square(out["edited"] - 0.5 * x))
    grads = tape.gradient(loss, editor.trainable_weights)
    names = [w.path for w, g in zip(editor.trainable_weights, grads, strict=True) if g is not None]
    assert any("smoother" in n for n in names) and any("warper" in n for n in names)
    assert all(g is not None for g in grads)


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        (SmoothingEditor, {"filters": 0}),
        (SmoothingEditor, {"num_blocks": -1}),
        (SmoothingEditor, {"quality": 0}),
        (SpatialTransformerEditor, {"max_translation": 0}),
        (CascadeEditor, {"smoothing": [1]}),
    ],
)
def test_bad_constructor_arguments_raise_value_error(cls, kwargs):
    with pytest.raises(ValueError, match="Received"):
        cls(**kwargs)
