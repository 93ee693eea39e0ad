"""``tfjpeg demo``: libjpeg-turbo vs DiffJPEG on the test chart (tfjpeg/cli/demo.py)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from conftest import cli_error_line
from PIL import Image

from tfjpeg.cli import demo, main

SMALL = ["--size", "64x96"]


def _run_demo(out: Path, *extra: str) -> int:
    return main(["demo", "--out", str(out), *SMALL, "--qualities", "10,90", *extra])


@pytest.mark.parametrize("subsampling", ["420", "422", "444"])
def test_demo_hard_mode_matches_libjpeg_exactly_and_writes_png_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], subsampling: str
) -> None:
    out = tmp_path / "new" / "demo"
    assert _run_demo(out, "--subsampling", subsampling) == 0

    captured = capsys.readouterr()
    assert "q=10" in captured.err and "wrote" in captured.err  # progress lines
    table, compress_table, decode_table = (
        part.splitlines() for part in captured.out.split("\n\n")
    )
    assert table[1].split()[:2] == ["quality", "bpp"]
    assert "tfjpeg default" in compress_table[1] and compress_table[-1].split()[0] == "90"
    assert "tfjpeg --optimize" in compress_table[1]
    assert "tfjpeg.decode" in decode_table[0] and decode_table[-1].split()[0] == "90"
    assert [line.split()[0] for line in table[-2:]] == ["10", "90"]
    assert all("100.000" in line and "∞" in line for line in table[-2:])

    doc = json.loads((out / demo.JSON_NAME).read_text())
    assert doc["chart"] == {"height": 64, "width": 96, "seed": 0}
    assert doc["subsampling"] == subsampling
    rows = doc["results"]
    assert [r["quality"] for r in rows] == [10, 90]
    for row in rows:
        assert row["coefficient_agreement_percent"] == 100.0
        assert row["diffjpeg_hard_psnr_vs_libjpeg_db"] == "inf"
        assert row["diffjpeg_hard_max_abs_diff"] == 0.0
        assert 25.0 < row["diffjpeg_poly3_psnr_vs_libjpeg_db"] < math.inf
        assert row["bpp"] == pytest.approx(8 * row["bytes"] / (64 * 96), abs=1e-4)
    assert rows[0]["bpp"] < rows[1]["bpp"]
    assert rows[0]["psnr_jpeg_db"] < rows[1]["psnr_jpeg_db"]

    with Image.open(out / demo.PNG_NAME) as sheet:
        assert sheet.format == "PNG" and sheet.mode == "RGB"
        # Original, 2 qualities and tfjpeg.decode at q=10: 4 columns of 24-px-wide chart
        # windows scaled x4, 4 px apart.
        assert sheet.width == 4 * 96 + 3 * 4
    assert sorted(p.name for p in out.iterdir()) == [demo.PNG_NAME, demo.JSON_NAME][::-1]


def test_demo_rerun_replaces_its_outputs_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("user file")
    assert main(["demo", "--out", str(tmp_path), *SMALL, "--qualities", "50", "--quiet"]) == 0
    first = json.loads((tmp_path / demo.JSON_NAME).read_text())
    assert main(["demo", "--out", str(tmp_path), *SMALL, "--qualities", "20", "--quiet"]) == 0
    second = json.loads((tmp_path / demo.JSON_NAME).read_text())
    assert [r["quality"] for r in first["results"]] == [50]
    assert [r["quality"] for r in second["results"]] == [20]
    assert sorted(os.listdir(tmp_path)) == sorted([demo.JSON_NAME, demo.PNG_NAME, "keep.txt"])
    assert (tmp_path / "keep.txt").read_text() == "user file"


def test_unwritable_output_directory_exits_2_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    assert _run_demo(blocker / "out") == 2
    line = cli_error_line(capsys)
    assert "cannot write to output directory" in line and str(blocker / "out") in line
    assert _run_demo(blocker) == 2
    assert "exists and is not a directory" in cli_error_line(capsys)
    assert blocker.read_text() == "not a directory"


def test_demo_psnr_columns_are_tfjpeg_metrics_psnr_of_the_files(tmp_path: Path) -> None:
    from tfjpeg.data.synthetic import make_test_chart
    from tfjpeg.io import decode_pixels, encode_pixels
    from tfjpeg.metrics import psnr

    doc = demo.run_demo(tmp_path, qualities=[30], size=(64, 96), seed=2, log=lambda _: None)
    chart = make_test_chart(64, 96, 2)
    decoded = decode_pixels(encode_pixels(chart, 30, subsampling="420"))
    row = doc["results"][0]
    assert row["psnr_jpeg_db"] == pytest.approx(psnr(decoded, chart), abs=1e-3)
    assert 15.0 < row["psnr_jpeg_db"] < 60.0
    assert row["diffjpeg_hard_psnr_vs_libjpeg_db"] == "inf"  # identical pixels: infinite PSNR


def test_run_demo_rejects_bad_arguments_with_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Received: quality=0"):
        demo.run_demo(tmp_path, qualities=[0], size=(64, 96))
    with pytest.raises(ValueError, match="Received: subsampling='411'"):
        demo.run_demo(tmp_path, subsampling="411", size=(64, 96))
    assert list(tmp_path.iterdir()) == []


def test_demo_compress_rows_are_the_default_and_the_baselines_files(tmp_path: Path) -> None:
    from tfjpeg.api.compression import compress_image
    from tfjpeg.data.synthetic import make_test_chart
    from tfjpeg.io import decode_pixels, encode_pixels
    from tfjpeg.metrics import psnr

    doc = demo.run_demo(tmp_path, qualities=[30, 95], size=(64, 96), seed=2, log=lambda _: None)
    chart = make_test_chart(64, 96, 2)
    rows = {r["quality"]: r for r in doc["compress"]}
    assert rows[30]["default_tables"] == "learned" and rows[95]["default_tables"] == "standard"
    default = compress_image(chart, quality=30)
    assert rows[30]["default_bpp"] == pytest.approx(default.bpp, abs=1e-4)
    assert rows[30]["default_psnr_db"] == pytest.approx(
        psnr(decode_pixels(default.jpeg), chart), 1e-3
    )
    moz = encode_pixels(chart, 30, subsampling="420", encoder="mozjpeg")
    assert rows[30]["mozjpeg_bpp"] == pytest.approx(8 * len(moz) / (64 * 96), abs=1e-4)
    assert json.loads((tmp_path / demo.JSON_NAME).read_text())["compress"] == doc["compress"]
    table = demo.format_compress_table(doc["compress"])
    assert "tfjpeg default" in table and "learned" in table and len(table.splitlines()) == 5
