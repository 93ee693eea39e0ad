"""tests/data_selection.py: the record of data-dependent tests that CI's second pass runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import data_selection
from data_selection import DataRecord, _install_recorder, depends_on_data, fixture_key


def test_reads_are_charged_to_the_running_test_fixture_or_module(monkeypatch):
    record = DataRecord()
    monkeypatch.setattr(os, "environ", os.environ)  # restored after the test
    monkeypatch.setattr(subprocess.Popen, "__init__", subprocess.Popen.__init__)
    monkeypatch.setenv("TFJPEG_KODAK_DIR", "/nowhere")  # inherited by the session
    monkeypatch.delenv("TFJPEG_TRAIN_DIR", raising=False)
    monkeypatch.delenv("TFJPEG_NO_SHARED", raising=False)
    _install_recorder(record)

    record.current_collector = "tests/test_a.py"
    assert "TFJPEG_KODAK_DIR" in os.environ  # a read while a module is imported
    record.current_collector = None
    record.current_item = "tests/test_b.py::test_one"
    os.environ.get("HOME")  # not watched
    os.environ.get("TFJPEG_TEST_INSTALLED")  # not watched: the same in both passes
    record.current_item = "tests/test_b.py::test_two"
    record.fixture_stack.append("tests/io_fixtures.py::natural")
    assert os.getenv("TFJPEG_KODAK_DIR") == "/nowhere"
    record.fixture_stack.pop()
    record.current_item = "tests/test_c.py::test_child"
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # inherits the data variable
    record.current_item = "tests/test_c.py::test_tool"
    subprocess.run(["true"], check=True)  # not Python: reads no TFJPEG_* variable
    record.current_item = "tests/test_d.py::test_own_folder"
    os.environ["TFJPEG_TRAIN_DIR"] = "/tmp/own"  # a folder the test made: the same in pass 2
    assert os.environ["TFJPEG_TRAIN_DIR"] == "/tmp/own"
    os.environ["TFJPEG_KODAK_DIR"] = "/tmp/own-kodak"
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    del os.environ["TFJPEG_KODAK_DIR"]
    assert "TFJPEG_KODAK_DIR" not in os.environ  # removed by the test: removed in pass 2 too
    os.environ["TFJPEG_KODAK_DIR"] = "/nowhere"  # the inherited value again: the data
    record.current_item = "tests/test_d.py::test_inherited_again"
    assert os.environ["TFJPEG_KODAK_DIR"] == "/nowhere"
    record.current_item = "tests/test_e.py::test_fallback"
    assert "TFJPEG_NO_SHARED" not in os.environ  # set in pass 2 only
    record.current_item = None

    assert record.to_json() == {
        "tests": [
            "tests/test_b.py::test_two",
            "tests/test_c.py::test_child",
            "tests/test_d.py::test_inherited_again",
            "tests/test_e.py::test_fallback",
        ],
        "fixtures": ["tests/io_fixtures.py::natural"],
        "modules": ["tests/test_a.py"],
    }


def test_selection_follows_tests_fixtures_and_modules():
    natural = fixture_key("tests/io_fixtures.py", "natural")
    record = {"tests": ["t.py::x"], "fixtures": [natural], "modules": ["m.py"]}
    assert depends_on_data("t.py::x", [], record)
    assert not depends_on_data("t.py::y", ["::tmp_path"], record)
    assert depends_on_data("u.py::z[1]", ["::tmp_path", natural], record)
    assert not depends_on_data("u.py::w", [fixture_key("u.py", "natural")], record)  # another
    assert depends_on_data("m.py::Test::w", [], record)
    assert not depends_on_data("m.py2::w", [], record)


def test_xdist_workers_write_parts_that_the_controller_merges(tmp_path, monkeypatch):
    out = tmp_path / "record.json"
    monkeypatch.setenv(data_selection.OUT_ENV, str(out))
    for worker, test, fixture in (("gw0", "a.py::x", "f.py::k"), ("gw1", "b.py::y", None)):
        record = DataRecord()
        record.tests.add(test)
        record.fixtures.update([fixture] if fixture else [])
        record.modules.update([] if fixture else ["m.py"])
        monkeypatch.setattr(data_selection, "_RECORD", record)
        monkeypatch.setenv(data_selection.XDIST_WORKER, worker)
        data_selection.pytest_sessionfinish(None, 0)
        assert not out.exists() and (tmp_path / f"record.json.{worker}").is_file()
    monkeypatch.delenv(data_selection.XDIST_WORKER)
    monkeypatch.setattr(data_selection, "_RECORD", DataRecord())  # the controller ran no test
    data_selection.pytest_sessionfinish(None, 0)
    assert json.loads(out.read_text()) == {
        "tests": ["a.py::x", "b.py::y"],
        "fixtures": ["f.py::k"],
        "modules": ["m.py"],
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]  # parts removed
