"""``tfjpeg explore``: the command's checks and start-up (tfjpeg/cli/explore.py).

The server's run is replaced by one request to it and the explorer by the test double, so these
tests take milliseconds; the real explorer behind the real page is tested in
``test_cli_explore_browser.py``.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.request

import pytest
from conftest import cli_error_line, natural_image, pillow_jpeg

from tfjpeg.cli import main
from tfjpeg.cli.explore_app import WEB_STACK

pytest.importorskip("starlette", reason="the explore extra is not installed")
pytest.importorskip("uvicorn", reason="the explore extra is not installed")
from explore_double import FakeExplorer


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(pillow_jpeg(natural_image(24, 40, seed=2), 40))
    return path


@pytest.fixture
def served(monkeypatch):
    """Replaces the explorer by the double and the blocking run by one /api/state request."""
    from tfjpeg.cli.explore_app import server, session

    monkeypatch.setattr(session, "_default_explorer_factory", FakeExplorer)
    seen: dict = {}

    def run_once(self) -> None:
        self.start()
        try:
            with urllib.request.urlopen(self.url + "api/state", timeout=10) as answer:
                seen["state"] = json.load(answer)
            seen["url"] = self.url
        finally:
            self.stop()

    monkeypatch.setattr(server.LocalServer, "run", run_once)
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    seen["browser"] = opened
    return seen


def test_explore_serves_the_file_and_opens_the_browser(photo, tmp_path, served, capsys):
    assert main(["explore", str(photo), "--output-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert served["state"]["file"] == "photo.jpg" and served["state"]["width"] == 40
    assert served["browser"] == [served["url"]] and served["url"].startswith("http://127.0.0.1:")
    assert served["url"] in out and str(tmp_path) in out and err == ""


def test_explore_warns_when_listening_beyond_this_machine(photo, tmp_path, served, capsys):
    argv = [
        "explore",
        str(photo),
        "--host",
        "0.0.0.0",
        "--no-browser",
        "--output-dir",
        str(tmp_path),
    ]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.startswith("tfjpeg: warning: listening on 0.0.0.0, not only this machine")
    assert served["browser"] == [] and served["state"]["height"] == 24


def test_explore_names_the_missing_web_stack(photo, monkeypatch, capsys):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in WEB_STACK else find_spec(name, *a),
    )
    assert main(["explore", str(photo), "--no-browser"]) == 2
    line = cli_error_line(capsys)
    assert "needs starlette and uvicorn" in line and 'pip install "tfjpeg[explore]"' in line


@pytest.mark.parametrize(
    ("content", "args", "fragment"),
    [
        (b"\xff\xd8garbage", [], "photo.jpg"),
        (None, ["--output-dir", "/nonexistent/folder"], "does not exist"),
        (None, ["--max-pixels", "100"], "more than the limit of 100"),
        (None, ["--port", "70000"], "port must be an integer in [0, 65535], got 70000"),
        (None, ["--decoder", "blur"], "invalid choice: 'blur'"),
    ],
)
def test_explore_refuses_bad_input_before_serving(photo, content, args, fragment, served, capsys):
    if content is not None:
        photo.write_bytes(content)
    assert main(["explore", str(photo), "--no-browser", *args]) == 2
    assert fragment in cli_error_line(capsys)
    assert "state" not in served


def test_explore_refuses_a_port_in_use(photo, tmp_path, served, capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        argv = ["explore", str(photo), "--no-browser", "--port", str(port)]
        assert main([*argv, "--output-dir", str(tmp_path)]) == 2
    assert f"cannot listen on 127.0.0.1 port {port}" in cli_error_line(capsys)


def test_the_parser_loads_no_web_stack():
    """``tfjpeg --help`` and the other commands never import Starlette or uvicorn."""
    import subprocess
    import sys

    code = (
        "import sys; from tfjpeg.cli.main import build_parser; "
        "build_parser().parse_args(['explore', 'photo.jpg']); "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'tensorflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
