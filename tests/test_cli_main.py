"""The ``tfjpeg`` command line itself (tfjpeg/cli/main.py): parsing, errors, help, ``-m``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_error_line

import tfjpeg
from tfjpeg.cli import build_parser, main
from tfjpeg.cli.main import COMMANDS, bounded_int, qualities_type
from tfjpeg.errors import TfjpegIOError

#: Fragments of TensorFlow's native start-up lines (absl, oneDNN, CPU features, CUDA probe).
NOISE = (
    "cuda",
    "onednn",
    "i0000",
    "w0000",
    "e0000",
    "absl",
    "cpu_feature_guard",
    "rebuild tensorflow",
)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["demo", "--qualities", "0"], "quality must be an integer in [1, 100], got 0"),
        (["demo", "--qualities", "101"], "got 101"),
        (["demo", "--qualities", "abc"], "got 'abc'"),
        (["demo", "--qualities", "10,,x"], "got 'x'"),
        (["demo", "--qualities", ","], "expected comma-separated qualities"),
        (["demo", "--subsampling", "411"], "unknown subsampling '411'; supported: 444, 422, 420"),
        (["demo", "--size", "16x16"], "height must be in [32, 8192], got 16"),
        (["demo", "--size", "large"], "size must be HEIGHTxWIDTH"),
        (["demo", "--seed", "-3"], "seed must be a non-negative integer"),
        (["demo", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["explode"], "invalid choice: 'explode'"),
        ([], "missing command; choose one of: demo"),
    ],
)
def test_bad_arguments_exit_2_with_onecli_error_line(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    assert fragment in cli_error_line(capsys)


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"tfjpeg {tfjpeg.__version__}"
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["demo", "--help"]) == 0
    help_text = capsys.readouterr().out
    for option in ("--out", "--qualities", "--subsampling", "--size", "--seed"):
        assert option in help_text


@pytest.mark.slow
def test_python_dash_m_tfjpeg_reports_bad_quality_without_traceback(tmp_path) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [sys.executable, "-m", "tfjpeg", "demo", "--qualities", "0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # not the checkout: "-m" puts the working folder first on sys.path
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "tfjpeg: error: argument --qualities: quality must be" in proc.stderr


def test_help_lists_every_command_with_its_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("demo", "compress", "decode"):
        assert name in out
    assert "pre-edit an image" in out and "consistent learned decoder" in out
    assert list(COMMANDS) == ["demo", "compress", "decode", "explore"]
    for name in COMMANDS:
        assert main([name, "--help"]) == 0
        assert f"usage: tfjpeg {name}" in capsys.readouterr().out


def test_one_integer_check_serves_qualities_seeds_and_counts() -> None:
    samples = bounded_int("samples", 1, 64)
    assert samples(" 7 ") == 7
    for bad, message in (("0", "got 0"), ("65", "got 65"), ("x", "got 'x'")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            samples(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="non-negative integer, got '-1'"):
        bounded_int("seed", 0)("-1")
    assert qualities_type("10, 90,") == [10, 90]


def test_build_parser_parses_without_running_anything() -> None:
    args = build_parser().parse_args(["decode", "in.jpg", "-o", "out.png", "--samples", "3"])
    assert (args.command, args.samples, args.seed, args.decoder) == (
        "decode",
        3,
        None,
        "consistent-l1",
    )
    assert callable(args.handler)


def test_help_describes_every_command_as_available(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "to come" not in out.lower() and "not yet" not in out.lower()
    assert "consistent decoding (decode)" in " ".join(out.split())


def _jpeg(tmp_path: Path) -> Path:
    from conftest import natural_image, pillow_jpeg

    src = tmp_path / "in.jpg"
    src.write_bytes(pillow_jpeg(natural_image(24, 32, seed=1), 50))
    return src


def test_tfjpeg_io_error_is_one_cleancli_error_line(tmp_path, monkeypatch, capsys) -> None:
    import tfjpeg.api.decoding

    def full_disk(*args, **kwargs):
        raise TfjpegIOError(28, "tfjpeg could not use its temporary files in '/tmp' (disk full)")

    monkeypatch.setattr(tfjpeg.api.decoding, "decode", full_disk)
    src = _jpeg(tmp_path)
    assert main(["decode", str(src), "-o", str(tmp_path / "out.png")]) == 2
    line = cli_error_line(capsys)
    assert line == "tfjpeg: error: tfjpeg could not use its temporary files in '/tmp' (disk full)"
    assert not (tmp_path / "out.png").exists()


def test_an_unreadable_input_is_one_cleancli_error_line(tmp_path, monkeypatch, capsys) -> None:
    import tfjpeg.api.decoding

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "in.jpg")

    monkeypatch.setattr(tfjpeg.api.decoding, "decode", denied)
    src = _jpeg(tmp_path)
    assert main(["decode", str(src), "-o", str(tmp_path / "out.png")]) == 2
    assert cli_error_line(capsys) == "tfjpeg: error: in.jpg: Permission denied"


def test_python_warnings_become_one_line_without_source(tmp_path, monkeypatch, capsys) -> None:
    import warnings

    import numpy as np

    import tfjpeg.api.decoding

    def warns(*args, **kwargs):
        warnings.warn("something odd\n  happened", UserWarning, stacklevel=2)
        return np.zeros((24, 32, 3), np.uint8)

    monkeypatch.setattr(tfjpeg.api.decoding, "decode", warns)
    src = _jpeg(tmp_path)
    assert main(["decode", str(src), "-o", str(tmp_path / "out.png"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == ["tfjpeg: warning: something odd happened"]


@pytest.mark.slow
def test_a_cli_call_prints_no_tensorflow_start_up_noise(tmp_path) -> None:
    src = _jpeg(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run(
        [sys.executable, "-m", "tfjpeg", "decode", str(src), "-o", "out.png"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["out.png: 32x24 (consistent-l1, z = 0)"]
    noisy = [line for line in proc.stderr.splitlines() if any(n in line.lower() for n in NOISE)]
    assert noisy == [] and proc.stderr.strip() == ""
    assert (tmp_path / "out.png").is_file()
