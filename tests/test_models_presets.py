"""Presets: from_preset on each model class, the cache and its re-export check, error types."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfjpeg.api.decoding import load_decoder_model
from tfjpeg.decoders import ConsistentDecoder
from tfjpeg.editors import SmoothingEditor, SpatialTransformerEditor
from tfjpeg.errors import TfjpegError
from tfjpeg.models import SAVED_MODELS_ENV, entry, names
from tfjpeg.models.presets import load
from tfjpeg.rate import RatePredictor
from tfjpeg.serving import export_editor
from tfjpeg.serving.decoders import load_decoder

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _editor(seed: int) -> SmoothingEditor:
    editor = SmoothingEditor(filters=4, num_blocks=1)
    editor(tf.zeros([1, 16, 16, 3]))
    rng = np.random.default_rng(seed)
    for w in editor.trainable_weights:
        w.assign(w + rng.normal(0, 0.05, w.shape).astype("float32"))
    return editor


def test_from_preset_is_cached_and_a_re_export_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv(SAVED_MODELS_ENV, str(tmp_path))
    folder = tmp_path / "smoothing" / "1"
    first = _editor(1)
    export_editor(first, folder)
    x = tf.random.uniform([1, 16, 16, 3], 0, 255, seed=1)
    loaded = SmoothingEditor.from_preset("smoothing")
    assert loaded is SmoothingEditor.from_preset("smoothing") is load("smoothing")
    np.testing.assert_allclose(loaded(x)["edited"], first(x)["edited"], atol=1e-4)
    second = _editor(2)
    export_editor(second, folder)  # re-export in place: same folder, new files
    again = SmoothingEditor.from_preset("smoothing")
    assert again is not loaded
    np.testing.assert_allclose(again(x)["edited"], second(x)["edited"], atol=1e-4)


def test_a_preset_of_another_class_or_family_is_refused():
    with pytest.raises(TfjpegError, match="not a SmoothingEditor"):
        SmoothingEditor.from_preset("stn")
    with pytest.raises(TfjpegError, match="SpatialTransformerEditor presets: stn"):
        SpatialTransformerEditor.from_preset("consistent-l1")
    with pytest.raises(TfjpegError, match="unknown model"):
        ConsistentDecoder.from_preset("nope")
    with pytest.raises(TfjpegError, match="is a BlockUNetDecoder, not a ConsistentDecoder"):
        ConsistentDecoder.from_preset("block-unet")
    with pytest.raises(TfjpegError, match="choose one of: consistent-l1"):
        load_decoder_model("smoothing")


def test_shipped_presets_load_and_the_rate_preset_equals_the_default_weights():
    for name in names("decoder"):
        cls = entry(name).model_class()  # ConsistentDecoder, OneToManyDecoder, PosteriorSampler
        assert isinstance(cls.from_preset(name), cls)
        assert load_decoder_model(name) is cls.from_preset(name)
    assert load_decoder_model(names("decoder")[0]) is ConsistentDecoder.from_preset(
        names("decoder")[0]
    )
    rate = RatePredictor.from_preset(names("rate")[0], encoder="libjpeg-optimize")
    default = RatePredictor(encoder="libjpeg-optimize")
    x = tf.random.uniform([1, 32, 32, 3], 0, 255, seed=2)
    np.testing.assert_allclose(rate(x, quality=30), default(x, quality=30))
    assert rate is RatePredictor.from_preset(names("rate")[0], encoder="libjpeg-optimize")
    with pytest.raises(ValueError, match="no constructor arguments"):
        load(names("editor")[0], filters=3)


def test_loaders_raise_tfjpeg_errors_for_folders_without_a_model(tmp_path):
    with pytest.raises(TfjpegError, match="not an exported"):
        load_decoder(tmp_path)
    with pytest.raises(TfjpegError, match="no such folder"):
        load_decoder(tmp_path / "missing")
    (tmp_path / "keras_config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TfjpegError, match="not a readable Keras config"):
        load_decoder(tmp_path)
