"""The one evaluation path (tfjpeg/metrics/evaluation.py): edit → encode → decode → measure."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image

from tfjpeg.editors import SmoothingEditor
from tfjpeg.editors.inference import edit_and_encode, edit_image
from tfjpeg.io import decode_pixels, encode_pixels
from tfjpeg.metrics import evaluate_compression, evaluate_decoding, psnr, psnr_y


def test_compression_records_measure_the_file_that_the_encoder_writes():
    image = natural_image(48, 64, seed=4)
    records = evaluate_compression(
        None, [("a", image)], [10, 60], ["libjpeg", "mozjpeg"], metrics=("psnr",)
    )
    assert [(r["image"], r["quality"], r["encoder"]) for r in records] == [
        ("a", 10, "libjpeg"),
        ("a", 10, "mozjpeg"),
        ("a", 60, "libjpeg"),
        ("a", 60, "mozjpeg"),
    ]
    for rec in records:
        data = encode_pixels(
            image, rec["quality"], subsampling="420", encoder=rec["encoder"], optimize=True
        )
        assert rec["bytes"] == len(data)
        assert rec["bpp"] == pytest.approx(8 * len(data) / (48 * 64))
        assert rec["psnr"] == pytest.approx(psnr(decode_pixels(data), image))
    assert records[0]["bpp"] < records[2]["bpp"] and records[0]["psnr"] < records[2]["psnr"]


def test_compression_with_an_editor_scores_edit_and_encode_once_per_conditioning_quality():
    editor = SmoothingEditor(filters=8)
    editor(tf.zeros([1, 16, 16, 3]))
    calls = []

    def counting(x, **kwargs):
        calls.append(float(kwargs["quality"][0]))
        return editor(x, **kwargs)

    image = natural_image(40, 48, seed=5)
    # 30 and 40 are both conditioned on 25 (the top of the training range): one edit.
    records = evaluate_compression(counting, [image], [10, 30, 40], "libjpeg", metrics=("psnr",))
    assert calls == [10.0, 25.0]
    assert records[0]["image"] == "0"
    edited = edit_image(editor, image, 25)
    data = encode_pixels(edited, 40, subsampling="420", optimize=True)
    assert data == edit_and_encode(editor, image, 40, "libjpeg")
    assert records[2]["bytes"] == len(data)
    assert records[2]["psnr"] == pytest.approx(psnr(decode_pixels(data), image))


def test_decoding_records_of_the_standard_decoder():
    image = natural_image(48, 64, seed=6)
    data = encode_pixels(image, 20, subsampling="420")
    ticks = iter([1.0, 1.25])
    (rec,) = evaluate_decoding(
        decode_pixels,
        [data],
        [("img", image)],
        metrics=("psnr_rgb", "psnr_y", "consistency"),
        clock=lambda: next(ticks),
    )
    decoded = decode_pixels(data)
    assert rec["image"] == "img"
    assert rec["psnr_rgb"] == pytest.approx(psnr(decoded, image))
    assert rec["psnr_y"] == pytest.approx(psnr_y(decoded, image))
    assert rec["consistent_uint8"] > 0.999 and rec["rmse_uint8"] < 1.0
    assert rec["seconds"] == 0.25
    assert rec["s_per_mp"] == pytest.approx(0.25 / (48 * 64 / 1e6))


def test_evaluation_rejects_unknown_metrics_and_missing_originals():
    image = natural_image(16, 16)
    with pytest.raises(ValueError, match="metrics must be among"):
        evaluate_compression(None, [image], [50], metrics=("vmaf",))
    with pytest.raises(ValueError, match="one original per file"):
        evaluate_decoding(decode_pixels, [b"", b""], [image])
    with pytest.raises(ValueError, match="encoder must be one of"):
        evaluate_compression(None, [image], [50], "webp", metrics=())


def test_encoding_records_measure_any_encode_function():
    from tfjpeg.metrics import evaluate_encoding

    image = natural_image(40, 56, seed=9)

    def encode(pixels, quality):
        return encode_pixels(pixels, quality, subsampling="444", optimize=True)

    records = evaluate_encoding(encode, [("x", image)], [15, 70], metrics=("psnr",))
    assert [(r["image"], r["quality"]) for r in records] == [("x", 15), ("x", 70)]
    for rec in records:
        data = encode(image, rec["quality"])
        assert rec["bytes"] == len(data)
        assert rec["bpp"] == pytest.approx(8 * len(data) / (40 * 56))
        assert rec["psnr"] == pytest.approx(psnr(decode_pixels(data), image))
    with pytest.raises(ValueError, match="metrics must be among"):
        evaluate_encoding(encode, [image], [50], metrics=("vmaf",))


def test_evaluate_sampling_spread_mean_and_consistency():
    from tfjpeg.metrics.evaluation import evaluate_sampling

    original = natural_image(96, 96, seed=4)
    data = encode_pixels(original, 30)
    standard = decode_pixels(data)

    def sample(jpeg: bytes, seed: int):  # two "samples": the standard decoding and +2 levels
        return np.clip(decode_pixels(jpeg).astype(int) + 2 * (seed % 2), 0, 255).astype(np.uint8)

    seen = []
    (row,) = evaluate_sampling(
        sample, [data], [("a", original)], samples=2, niqe_samples=1,
        on_samples=lambda name, drawn: seen.append((name, len(drawn))),
    )  # fmt: skip
    assert seen == [("a", 2)]
    shifted = sample(data, 1)
    assert row["std"] == pytest.approx(np.mean(np.abs(shifted.astype(int) - standard)) / 255 / 2)
    assert row["psnr_sample"] == pytest.approx(
        (psnr(standard, original) + psnr(shifted, original)) / 2
    )
    assert row["consistent_uint8"] <= 1.0 and row["rmse_uint8"] > 0.0  # the +2 sample is worse
    with pytest.raises(ValueError, match="samples"):
        evaluate_sampling(sample, [data], [original], samples=1)
