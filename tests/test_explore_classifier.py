"""The shipped digit classifier of the ``classifier`` tool and the glyphs it was trained on."""

from __future__ import annotations

import numpy as np
import pytest

from tfjpeg.data.glyphs import render_digit, split_fonts, system_fonts
from tfjpeg.models import entry, names


def test_fonts_split_into_disjoint_training_and_held_out_sets():
    fonts = system_fonts()
    if len(fonts) < 5:
        pytest.skip("fewer than 5 system fonts")
    train, held_out = split_fonts(fonts)
    assert held_out and train and not set(train) & set(held_out)
    assert sorted(train + held_out) == sorted(fonts)
    rng = np.random.default_rng(0)
    glyph = render_digit(7, held_out[0], 28, rng, jitter=False)
    assert glyph.shape == (28, 28) and glyph.dtype == np.uint8
    assert glyph.min() < 80 and glyph.max() > 200  # dark ink on light paper


def test_the_digit_classifier_is_registered_unserved_and_reads_held_out_fonts():
    assert "digit-classifier" in names("classifier")
    assert "digit-classifier" not in names(served=True)
    assert entry("digit-classifier").family == "classifier"
    fonts = system_fonts()
    if len(fonts) < 5:
        pytest.skip("fewer than 5 system fonts")
    from tfjpeg.models.presets import load

    model = load("digit-classifier")
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    _, held_out = split_fonts(fonts)
    rng = np.random.default_rng(3)
    digits = np.arange(30) % 10
    x = np.stack(
        [render_digit(int(d), held_out[i % len(held_out)], 28, rng)[..., None]
         for i, d in enumerate(digits)]
    ).astype(np.float32)  # fmt: skip
    accuracy = (np.asarray(model(x)).argmax(-1) == digits).mean()
    assert accuracy >= 0.9  # 99.25 % on 2 000 held-out samples (MODEL_CARD.md)


def test_the_shifted_classifier_loss_averages_five_views_of_the_box():
    import keras
    import tensorflow as tf

    from tfjpeg.explore.objectives import classifier_input, classifier_loss

    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    x = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, 20, 20, 1)), tf.float32)
    inputs = {"box": np.array([4, 4, 12, 12], np.int32), "scale": np.float32(1 / 255),
              "target": np.int32(2)}  # fmt: skip
    one = float(classifier_loss(model, x, inputs))
    log_p = tf.nn.log_softmax(model(classifier_input(model, x, (4, 4, 12, 12), 1 / 255)))
    assert one == pytest.approx(-float(log_p[0, 2]), rel=1e-5)
    # inside the image a shifted view is the box moved; the mean of the five -log p
    views = [(4, 4), (2, 4), (6, 4), (4, 2), (4, 6)]
    want = np.mean(
        [
            -float(tf.nn.log_softmax(model(x[:, y : y + 8, x0 : x0 + 8] / 255))[0, 2])
            for y, x0 in views
        ]
    )
    assert float(classifier_loss(model, x, inputs, shift=2)) == pytest.approx(want, rel=1e-5)
