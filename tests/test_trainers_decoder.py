"""trainers/decoder/train.py: a few steps of each phase on tiny crops, resume, init from L1."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image
from PIL import Image
from trainer_processes import child_env, python_command, run_child

from tfjpeg.errors import TfjpegError
from trainers.decoder import train as decoder_train

TINY = {
    "crop_size": 32,
    "batch_size": 2,
    "log_every": 1,
    "checkpoint_every": 2,
    "model": {"luma_width": 8, "luma_depth": 1, "chroma_width": 8, "chroma_depth": 1},
    "critic": {"width": 8, "depth": 1},
    "gan": {"critic_steps": 1, "map_steps": 2},
}


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train")
    for i in range(3):
        Image.fromarray(natural_image(48, 64, seed=i)).save(folder / f"img{i}.png")
    return folder


def _config(tmp_path, name, **overrides):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({**TINY, **overrides}))
    return path


def _weights(run_dir):
    """The decoder variables of a run's latest checkpoint, by variable path."""
    config = decoder_train._merged({**TINY, "phase": "l1"})
    decoder, _ = decoder_train.build_models(config)
    decoder_train.restore_decoder(decoder, run_dir)
    return {v.path.split("/", 1)[1]: v.numpy() for v in decoder.variables}


def test_l1_mirrored_then_resume_then_gan_from_l1(tmp_path, train_dir, monkeypatch):
    monkeypatch.setenv("TFJPEG_TRAIN_DIR", str(train_dir))
    l1_cfg = _config(tmp_path, "l1", phase="l1", steps=2)
    l1_dir = tmp_path / "l1"
    # L1 phase under MirroredStrategy (2 logical CPUs), in a child process (see trainer_processes)
    command = python_command(
        "-m", "trainers.decoder.train", "--config", l1_cfg, "--run-dir", l1_dir,
        "--strategy", "mirrored",
    )  # fmt: skip
    run_child(command, tmp_path, env=child_env({"TFJPEG_TRAIN_DIR": str(train_dir)}))
    first = _weights(l1_dir)
    head = next(k for k in first if k.endswith("luma/head/kernel"))
    assert np.any(first[head] != 0)  # the zero-initialised head has learned
    assert json.loads((l1_dir / "config.json").read_text())["phase"] == "l1"
    assert any((l1_dir / "logs").iterdir())
    # resume (default strategy, this process): two more steps continue from step 2
    argv = ["--config", str(l1_cfg), "--run-dir", str(l1_dir), "--steps", "4"]
    assert decoder_train.main(argv) == 0
    assert tf.train.latest_checkpoint(str(l1_dir / "checkpoints")).endswith("-4")

    gan_cfg = _config(tmp_path, "gan", phase="gan", steps=1, learning_rate=1e-3)
    gan_dir = tmp_path / "gan"
    argv = ["--config", str(gan_cfg), "--run-dir", str(gan_dir), "--init-from", str(l1_dir)]
    assert decoder_train.main(argv) == 0
    gan = _weights(gan_dir)
    l1 = _weights(l1_dir)
    conv = next(k for k in l1 if k.endswith("luma/conv0/kernel"))
    # started from the L1 weights (not a fresh init) and moved by the adversarial step
    assert 0 < np.abs(gan[conv] - l1[conv]).max() < 0.05 * np.abs(l1[conv]).max() + 0.01
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(gan_dir / "checkpoints")))
    assert any(k.startswith("critic/") for k in reader.get_variable_to_shape_map())


def test_bad_configs_are_refused(tmp_path):
    with pytest.raises(TfjpegError, match="unknown decoder config key"):
        decoder_train.main(
            ["--config", str(_config(tmp_path, "a", lr=1)), "--run-dir", str(tmp_path / "a")]
        )
    with pytest.raises(TfjpegError, match="phase"):
        decoder_train.main(
            ["--config", str(_config(tmp_path, "b", phase="x")), "--run-dir", str(tmp_path / "b")]
        )
    with pytest.raises(TfjpegError, match="multiple of 16"):
        decoder_train.main(
            [
                "--config",
                str(_config(tmp_path, "c", crop_size=40)),
                "--run-dir",
                str(tmp_path / "c"),
            ]
        )


def test_block_unet_architecture_config_and_validation(tmp_path):
    config = decoder_train._merged(
        {**TINY, "architecture": "block_unet", "model": {"widths": [8, 8], "depths": [1, 1]}}
    )
    assert config["model"] == {"widths": [8, 8], "depths": [1, 1]}  # no ConsistentDecoder keys
    decoder, _ = decoder_train.build_models(config)
    assert type(decoder).__name__ == "BlockUNetDecoder"
    folder = tmp_path / "val"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(natural_image(40, 56, seed=i)).save(folder / f"v{i}.png")
    config.update(validation_dir=str(folder), validation_qualities=[20, 90], validation_crop=32)
    optimizer = SimpleNamespace(iterations=tf.Variable(7))
    evaluate = decoder_train.validation_fn(decoder, config, tmp_path, optimizer)
    results = evaluate()
    assert set(results) == {"psnr_q20", "gain_q20", "psnr_q90", "gain_q90", "mean_gain"}
    assert 15.0 < results["psnr_q20"] < results["psnr_q90"] < 60.0
    line = json.loads((tmp_path / "validation.jsonl").read_text().splitlines()[-1])
    assert line["step"] == 7 and line["psnr_q90"] == pytest.approx(results["psnr_q90"])
    # the weights behind that line are kept, and the run's decoder is rebuilt from them
    (tmp_path / "config.json").write_text(json.dumps(config))
    validated = [w.copy() for w in decoder.get_weights()]
    for v in decoder.trainable_variables:
        v.assign_add(tf.ones_like(v))  # later training steps move the weights
    reloaded = decoder_train.load_run_decoder(tmp_path / "validated" / "step-7")
    assert type(reloaded).__name__ == "BlockUNetDecoder"
    for got, want in zip(reloaded.get_weights(), validated, strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(TfjpegError, match="no decoder checkpoint found"):
        decoder_train.load_run_decoder(tmp_path / "val")
    with pytest.raises(TfjpegError, match="architecture"):
        decoder_train._merged({**TINY, "architecture": "resnet"})


def test_l2_pixel_loss_is_the_squared_error_and_bad_names_are_refused():
    from trainers.decoder.steps import DecoderSteps

    config = decoder_train._merged({**TINY, "pixel_loss": "l2"})
    decoder, _ = decoder_train.build_models(config)
    steps = DecoderSteps(decoder, tf.keras.optimizers.Adam(1e-3), 1, pixel_loss="l2")
    image = tf.constant(natural_image(32, 32, seed=4)[None], tf.float32)
    out = steps.l1_step({"images": image, "quality": tf.constant([20.0])})
    assert set(out) == {"l2", "psnr"}
    # one image: the loss is its mean squared error, the one the logged PSNR is computed from
    assert float(out["psnr"]) == pytest.approx(10 * np.log10(255.0**2 / float(out["l2"])), 1e-4)
    with pytest.raises(ValueError, match="pixel_loss"):
        DecoderSteps(decoder, tf.keras.optimizers.Adam(1e-3), 1, pixel_loss="huber")
    with pytest.raises(TfjpegError, match="pixel_loss"):
        decoder_train._merged({**TINY, "pixel_loss": "l3"})


def test_validation_curve_plot(tmp_path):
    from trainers.decoder import plot_validation

    runs = []
    for r, base in enumerate((0.5, 0.6)):
        path = tmp_path / f"run{r}.jsonl"
        lines = [
            {"step": s, "gain_q10": base + s / 1e4, "gain_q90": base / 2, "mean_gain": base}
            for s in (250, 500)
        ]
        path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
        runs.append(f"{path}:{1000 * r}")
    curves, starts = plot_validation.load_curves(runs)
    assert starts == [0, 1000]
    assert curves["q10"] == [(250, 0.525), (500, 0.55), (1250, 0.625), (1500, 0.65)]
    # the first run cut at the step the second one started from
    curves, _ = plot_validation.load_curves([f"{runs[0]}:250", runs[1]])
    assert curves["q10"] == [(250, 0.525), (1250, 0.625), (1500, 0.65)]
    assert set(curves) == {"q10", "q90", "mean"}
    out = tmp_path / "curve.png"
    plot_validation.main([*runs, "--chosen", "1500", "--out", str(out)])
    with Image.open(out) as img:
        assert img.size[0] > 500 and len(set(img.convert("RGB").getdata())) > 4
    with pytest.raises(FileExistsError):  # a figure is never replaced
        plot_validation.main([*runs, "--out", str(out)])
