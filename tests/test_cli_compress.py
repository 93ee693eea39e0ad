"""``tfjpeg compress``: pre-edit + encode from the command line (tfjpeg/cli/compress.py)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import natural_image
from PIL import Image

from tfjpeg.cli import main
from tfjpeg.editors import SmoothingEditor
from tfjpeg.io import decode_pixels
from tfjpeg.models import SAVED_MODELS_ENV
from tfjpeg.serving import export_editor


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny smoothing editor exported under a fake saved_models root as 'smoothing/1'."""
    root = tmp_path_factory.mktemp("saved_models")
    editor = SmoothingEditor(filters=8)
    editor(tf.zeros([1, 16, 16, 3]))
    rng = np.random.default_rng(0)
    for w in editor.trainable_weights:
        w.assign(w + rng.normal(0, 0.03, w.shape).astype("float32"))
    export_editor(editor, root / "smoothing" / "1")
    return root, editor


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def test_cli_compress_writes_atomically_and_never_overwrites(
    exported, monkeypatch, tmp_path, capsys
):
    root, _ = exported
    monkeypatch.setenv(SAVED_MODELS_ENV, str(root))
    src = tmp_path / "in.png"
    src.write_bytes(_png(natural_image(32, 40)))
    out = tmp_path / "out.jpg"
    argv = ["compress", str(src), "-o", str(out), "--quality", "15", "--editor", "smoothing"]
    assert main([*argv, "--tables", "standard"]) == 0
    assert decode_pixels(out).shape == (32, 40, 3)
    assert "quality 15" in capsys.readouterr().out
    before = out.read_bytes()
    assert main(["compress", str(src), "-o", str(out), "--editor", "none"]) == 2
    assert "exists" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["compress", str(src), "-o", str(src), "--overwrite"]) == 2
    assert "input" in capsys.readouterr().err
    assert main(["compress", str(src), "-o", str(out), "--quality", "5", "--target-bpp", "1"]) == 2
    assert main(["compress", str(src), "-o", str(out), "--target-bpp", "0"]) == 2
    assert main(["compress", str(tmp_path / "nope.png"), "-o", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
    args = ["compress", str(src), "-o", str(out), "--editor", "none", "--target-bpp", "2"]
    assert main([*args, "--overwrite", "--encoder", "mozjpeg", "--quiet"]) == 0
    assert 8 * os.path.getsize(out) / (32 * 40) <= 2.0
    assert not list(tmp_path.glob(".out.jpg.*"))


def _must_not_run(*args, **kwargs):
    raise AssertionError("the model ran although the command should have been refused first")


@pytest.mark.parametrize("name", ["out.png", "out.webp", "out"])
def test_compress_refuses_an_output_name_that_is_not_jpeg(name, tmp_path, monkeypatch, capsys):
    import tfjpeg.api.compression

    monkeypatch.setattr(tfjpeg.api.compression, "compress_image", _must_not_run)
    src = tmp_path / "in.png"
    src.write_bytes(_png(natural_image(32, 40)))
    assert main(["compress", str(src), "-o", str(tmp_path / name), "--editor", "none"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "writes a JPEG" in err[0] and ".jpg or .jpeg" in err[0]
    assert not (tmp_path / name).exists()


def test_compress_accepts_jpeg_suffixes_in_any_case(tmp_path, capsys):
    src = tmp_path / "in.png"
    src.write_bytes(_png(natural_image(32, 40)))
    for name in ("a.jpeg", "b.JPG"):
        argv = ["compress", str(src), "-o", str(tmp_path / name), "--editor", "none", "--quiet"]
        assert main(argv) == 0
        assert decode_pixels(tmp_path / name).shape == (32, 40, 3)
    assert capsys.readouterr().out == ""


def test_compress_checks_the_output_folder_before_any_work(tmp_path, monkeypatch, capsys):
    import tfjpeg.api.compression

    monkeypatch.setattr(tfjpeg.api.compression, "compress_image", _must_not_run)
    src = tmp_path / "in.png"
    src.write_bytes(_png(natural_image(32, 40)))
    missing = tmp_path / "no" / "such" / "out.jpg"
    assert main(["compress", str(src), "-o", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"output folder '{missing.parent}' does not exist" in err
    assert ".tfjpeg" not in err and "tmp" not in err.replace(str(tmp_path), "")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["compress", str(src), "-o", str(blocker / "out.jpg")]) == 2
    assert "is not a folder" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_compress_refuses_an_unwritable_output_folder_first(tmp_path, monkeypatch, capsys):
    import tfjpeg.api.compression

    monkeypatch.setattr(tfjpeg.api.compression, "compress_image", _must_not_run)
    src = tmp_path / "in.png"
    src.write_bytes(_png(natural_image(32, 40)))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["compress", str(src), "-o", str(locked / "out.jpg")]) == 2
    finally:
        locked.chmod(0o700)
    assert "cannot write to output folder" in capsys.readouterr().err


def test_compress_says_a_folder_input_is_a_folder(tmp_path, capsys):
    assert main(["compress", str(tmp_path), "-o", str(tmp_path / "out.jpg")]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "no such file" not in err


@pytest.mark.slow
def test_compress_warning_is_one_line_and_start_up_is_quiet(tmp_path):
    import subprocess
    import sys

    from test_cli_main import NOISE

    (tmp_path / "in.png").write_bytes(_png(natural_image(32, 40)))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    argv = ["in.png", "-o", "out.jpg", "--editor", "none", "--target-bpp", "0.01", "--quiet"]
    proc = subprocess.run(
        [sys.executable, "-m", "tfjpeg", "compress", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tfjpeg: warning: target_bpp=0.01 is below what quality 1")
    assert "UserWarning" not in proc.stderr and not any(n in proc.stderr.lower() for n in NOISE)
    assert proc.stdout == "" and (tmp_path / "out.jpg").is_file()


def test_cli_compress_tables_flag_writes_the_learned_tables(tmp_path, capsys):
    from tfjpeg.io import read_jpeg
    from tfjpeg.jpeg.tables import quality_to_tables
    from tfjpeg.models.presets import load

    src = tmp_path / "in.png"
    src.write_bytes(_png(natural_image(24, 32, seed=5)))
    out = tmp_path / "out.jpg"
    argv = ["compress", str(src), "-o", str(out), "--editor", "none", "--quality", "30"]
    assert main([*argv, "--tables", "learned"]) == 0
    assert "learned tables" in capsys.readouterr().out
    family = load("learned_tables")
    np.testing.assert_array_equal(read_jpeg(out.read_bytes()).tables, family.tables(30))
    assert main([*argv, "--tables", "standard", "--overwrite", "--quiet"]) == 0
    np.testing.assert_array_equal(read_jpeg(out.read_bytes()).tables, quality_to_tables(30))
    assert main([*argv, "--tables", "learned", "--overwrite", "--quality", "1"]) == 2
    assert "quality" in capsys.readouterr().err
    assert main([*argv, "--tables", "fancy"]) == 2


def test_cli_compress_per_image_tables_writes_a_searched_candidate(tmp_path, capsys):
    from tfjpeg.api.compression import TABLE_CHOICES
    from tfjpeg.cli.compress import TABLE_CHOICES as CLI_TABLE_CHOICES
    from tfjpeg.io import read_jpeg
    from tfjpeg.jpeg.tables import quality_to_tables
    from tfjpeg.rdo.image_tables import CHROMA_SCALES, LUMA_SCALES, scaled_tables

    assert CLI_TABLE_CHOICES == TABLE_CHOICES
    src = tmp_path / "in.png"
    src.write_bytes(_png(natural_image(24, 32, seed=5)))
    out = tmp_path / "out.jpg"
    argv = ["compress", str(src), "-o", str(out), "--quality", "30", "--subsampling", "444"]
    assert main([*argv, "--tables", "per-image", "--trellis", "0"]) == 0
    assert "per-image tables" in capsys.readouterr().out
    written = read_jpeg(out.read_bytes()).tables
    base = quality_to_tables(30)  # 4:4:4: the standard tables are the base
    assert any(
        np.array_equal(written, scaled_tables(base, lu, ch))
        for lu in LUMA_SCALES
        for ch in CHROMA_SCALES
    )


def test_cli_compress_default_writes_learned_tables_and_says_so(tmp_path, capsys):
    from tfjpeg.io import read_jpeg
    from tfjpeg.jpeg.tables import quality_to_tables
    from tfjpeg.models.presets import load

    src = tmp_path / "in.png"
    src.write_bytes(_png(natural_image(24, 32, seed=7)))
    out = tmp_path / "out.jpg"
    assert main(["compress", str(src), "-o", str(out), "--quality", "30"]) == 0
    line = capsys.readouterr().out
    assert "editor none" in line and "encoder libjpeg" in line and "learned tables" in line
    np.testing.assert_array_equal(
        read_jpeg(out.read_bytes()).tables, load("learned_tables").tables(30)
    )
    # outside the learned range "auto" writes the standard tables and reports them
    assert main(["compress", str(src), "-o", str(out), "--quality", "95", "--overwrite"]) == 0
    assert "standard tables" in capsys.readouterr().out
    np.testing.assert_array_equal(read_jpeg(out.read_bytes()).tables, quality_to_tables(95))


def test_compress_optimize_flag_writes_a_smaller_file_and_shows_progress(tmp_path, capsys):
    src = tmp_path / "in.png"
    src.write_bytes(_png(natural_image(64, 80, seed=4)))
    plain, opt = tmp_path / "plain.jpg", tmp_path / "opt.jpg"
    base = ["compress", str(src), "--editor", "none", "--quality", "25"]
    assert main([*base, "-o", str(plain), "--quiet", "--trellis", "0"]) == 0
    assert main([*base, "-o", str(opt), "--optimize", "2"]) == 0
    captured = capsys.readouterr()
    assert "optimize: step 2/2" in captured.err and "optimize 2" in captured.out
    assert opt.stat().st_size < plain.stat().st_size


@pytest.mark.parametrize("bad", ["0", "-1", "2.5", "x", "100000"])
def test_compress_refuses_a_bad_optimize_and_writes_nothing(bad, tmp_path, capsys):
    from conftest import cli_error_line

    src = tmp_path / "in.png"
    src.write_bytes(_png(natural_image(32, 32)))
    out = tmp_path / "out.jpg"
    assert main(["compress", str(src), "-o", str(out), "--editor", "none", "--optimize", bad]) == 2
    assert "optimize must be an integer in [1, 1000]" in cli_error_line(capsys)
    assert not out.exists()


def test_compress_trellis_flag_default_off_and_loops(tmp_path):
    src = tmp_path / "in.png"
    src.write_bytes(_png(natural_image(64, 80, seed=5)))
    base = ["compress", str(src), "--quality", "30", "--quiet"]
    files = {}
    for name, extra in [("default", []), ("auto", ["--trellis", "auto"]),
                        ("off", ["--trellis", "0"]), ("two", ["--trellis", "2"])]:  # fmt: skip
        files[name] = tmp_path / f"{name}.jpg"
        assert main([*base, "-o", str(files[name]), *extra]) == 0
    data = {name: path.read_bytes() for name, path in files.items()}
    assert data["default"] == data["auto"]
    assert len(data["default"]) < len(data["off"]) and len(data["two"]) <= len(data["off"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--trellis", "-1"], "trellis must be an integer in [0, 10]"),
        (["--trellis", "11"], "trellis must be an integer in [0, 10]"),
        (["--trellis", "on"], "trellis must be an integer in [0, 10]"),
        (["--trellis", "1", "--encoder", "mozjpeg"], "mozjpeg quantizes with its own trellis"),
        (["--trellis", "1", "--optimize", "1"], "optimize already chooses the coefficients"),
    ],
)
def test_compress_refuses_a_bad_trellis_and_writes_nothing(extra, message, tmp_path, capsys):
    from conftest import cli_error_line

    src = tmp_path / "in.png"
    src.write_bytes(_png(natural_image(32, 32)))
    out = tmp_path / "out.jpg"
    assert main(["compress", str(src), "-o", str(out), *extra]) == 2
    assert message in cli_error_line(capsys)
    assert not out.exists()
