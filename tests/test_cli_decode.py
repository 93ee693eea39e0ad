"""``tfjpeg decode``: consistent decoding from the command line (tfjpeg/cli/decode.py)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import natural_image, pillow_jpeg
from PIL import Image

import tfjpeg
from tfjpeg.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def jpeg_bytes() -> bytes:
    return pillow_jpeg(natural_image(48, 64, seed=8), 10, "420")


def test_cli_decode_writes_pngs_and_protects_the_input(tmp_path, jpeg_bytes, capsys):
    src = tmp_path / "in.jpg"
    src.write_bytes(jpeg_bytes)
    out = tmp_path / "out.png"
    assert main(["decode", str(src), "-o", str(out), "--quiet"]) == 0
    np.testing.assert_array_equal(
        np.asarray(Image.open(out)), tfjpeg.decode(jpeg_bytes, decoder="consistent-l1")
    )
    assert main(["decode", str(src), "-o", str(out)]) == 2  # exists, no --overwrite
    assert "exists" in capsys.readouterr().err
    assert main(["decode", str(src), "-o", str(tmp_path / "x.jpg")]) == 2
    assert main(["decode", str(tmp_path / "missing.jpg"), "-o", str(out)]) == 2
    disguised = tmp_path / "photo.png"  # a JPEG named .png: never overwritten
    disguised.write_bytes(jpeg_bytes)
    assert main(["decode", str(disguised), "-o", str(disguised), "--overwrite"]) == 2
    assert disguised.read_bytes() == jpeg_bytes
    samples = tmp_path / "s.png"
    argv = ["decode", str(src), "-o", str(samples), "--samples", "2", "--seed", "5", "--quiet"]
    assert main(argv) == 0
    a = np.asarray(Image.open(tmp_path / "s_0.png"))
    b = np.asarray(Image.open(tmp_path / "s_1.png"))
    assert a.shape == b.shape == (48, 64, 3)
    assert main(["decode", str(src), "-o", str(out), "--decoder", "libjpeg", "--seed", "1"]) == 2
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8garbage")
    assert main(["decode", str(bad), "-o", str(tmp_path / "bad.png")]) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--samples", "0"], "samples must be an integer in [1, 64], got 0"),
        (["--samples", "65"], "got 65"),
        (["--seed", "x"], "seed must be a non-negative integer, got 'x'"),
        (["--decoder", "blur"], "invalid choice: 'blur'"),
    ],
)
def test_decode_bad_arguments_exit_2_with_one_error_line(args, fragment, tmp_path, capsys):
    assert main(["decode", "in.jpg", "-o", str(tmp_path / "o.png"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tfjpeg: error: ") and fragment in err[0]


def _must_not_run(*args, **kwargs):
    raise AssertionError("the decoder ran although the command should have been refused first")


@pytest.mark.parametrize("name", ["out.jpg", "out.PNG.txt", "out"])
def test_decode_refuses_an_output_name_that_is_not_png(
    name, tmp_path, jpeg_bytes, monkeypatch, capsys
):
    import tfjpeg.api.decoding

    monkeypatch.setattr(tfjpeg.api.decoding, "decode", _must_not_run)
    src = tmp_path / "in.jpg"
    src.write_bytes(jpeg_bytes)
    assert main(["decode", str(src), "-o", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "writes PNG images" in err[0] and "must end in .png" in err[0]


def test_decode_checks_the_output_folder_before_any_work(tmp_path, jpeg_bytes, monkeypatch, capsys):
    import tfjpeg.api.decoding

    monkeypatch.setattr(tfjpeg.api.decoding, "decode", _must_not_run)
    src = tmp_path / "in.jpg"
    src.write_bytes(jpeg_bytes)
    missing = tmp_path / "missing" / "out.png"
    for extra in ([], ["--samples", "3"]):
        assert main(["decode", str(src), "-o", str(missing), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [
            f"tfjpeg: error: output folder '{missing.parent}' does not exist; create it first."
        ]
    assert not missing.parent.exists()


def test_decode_says_a_folder_input_is_a_folder(tmp_path, capsys):
    folder = tmp_path / "photos.jpg"
    folder.mkdir()
    assert main(["decode", str(folder), "-o", str(tmp_path / "out.png")]) == 2
    err = capsys.readouterr().err
    assert f"{folder}: is a folder" in err and "no such file" not in err


def test_decode_samples_of_a_stochastic_decoder_as_files_or_one_contact_sheet(
    tmp_path, jpeg_bytes, monkeypatch
):
    from tfjpeg.decoders import PosteriorSampler
    from tfjpeg.io import contact_sheet
    from tfjpeg.models.saving import build_model

    model = PosteriorSampler(features=8, blocks=1, growth=4, rdbs=1)
    build_model(model)
    model.last.kernel.assign(
        0.05 * np.random.default_rng(0).standard_normal(model.last.kernel.shape)
    )
    monkeypatch.setattr("tfjpeg.api.decoding.load_decoder_model", lambda name: model)
    src = tmp_path / "in.jpg"
    src.write_bytes(jpeg_bytes)
    expected = [tfjpeg.decode(jpeg_bytes, decoder=model, seed=s) for s in (3, 4, 5)]
    argv = ["decode", str(src), "--decoder", "posterior", "--seed", "3", "--samples", "3"]
    assert main([*argv, "-o", str(tmp_path / "s.png"), "--quiet"]) == 0
    for i in range(3):  # OUT_i.png from seed S + i
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / f"s_{i}.png")), expected[i])
    assert main([*argv, "-o", str(tmp_path / "sheet.png"), "--contact-sheet", "--quiet"]) == 0
    sheet = np.asarray(Image.open(tmp_path / "sheet.png"))
    np.testing.assert_array_equal(sheet, contact_sheet(expected))
    assert not (tmp_path / "sheet_0.png").exists()
