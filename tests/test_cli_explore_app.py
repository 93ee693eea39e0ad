"""The explore page's server (tfjpeg/cli/explore_app): endpoints, checks, locking, paths.

Fast: Starlette's TestClient over the app, with the explorer replaced by the test double of
``explore_double.py`` (the real reader and errors, trivial tools). The real engine behind the
real page is tested in ``test_cli_explore_browser.py``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import threading
import time
import warnings

import numpy as np
import pytest
from conftest import natural_image, pillow_jpeg
from PIL import Image

pytest.importorskip("starlette", reason="the explore extra is not installed")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")
from explore_double import FakeExplorer, slow_factory

with warnings.catch_warnings():  # newer Starlette prefers httpx2; httpx works with every version
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from tfjpeg.cli.explore_app.app import create_app
from tfjpeg.cli.explore_app.forms import apply_arguments, output_path
from tfjpeg.cli.explore_app.server import LocalServer, allowed_hosts, is_loopback
from tfjpeg.cli.explore_app.session import ExploreSession
from tfjpeg.errors import InvalidArgumentError
from tfjpeg.io import decode_pixels

H = {"X-Tfjpeg": "1"}


@pytest.fixture(scope="module")
def jpeg_bytes() -> bytes:
    return pillow_jpeg(natural_image(40, 56, seed=3), 30, "420")


@pytest.fixture
def session(tmp_path, jpeg_bytes) -> ExploreSession:
    out = tmp_path / "out"
    out.mkdir()
    s = ExploreSession(out, explorer_factory=FakeExplorer)
    s.open(jpeg_bytes, "photo.jpg")
    yield s
    s._explorer.release.set()
    s.wait(5)


@pytest.fixture
def client(session) -> TestClient:
    return TestClient(create_app(session))


def png_array(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def current(client) -> np.ndarray:
    return png_array(client.get("/api/image/current").content)


def apply(client, session, tool="brightness", **body) -> dict:
    answer = client.post("/api/apply", headers=H, json={"tool": tool, **body})
    assert answer.status_code == 202, answer.text
    assert session.wait(10)
    return client.get("/api/state").json()


def test_the_page_its_files_and_the_state(client, jpeg_bytes):
    page = client.get("/")
    assert page.status_code == 200 and "<title>tfjpeg explore</title>" in page.text
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN
    state = client.get("/api/state").json()
    assert (state["file"], state["height"], state["width"]) == ("photo.jpg", 40, 56)
    assert [t["name"] for t in state["tools"]] == [
        "brightness",
        "imprint",
        "variants",
        "slow",
        "fail",
    ]
    offset = state["tools"][0]["params"][0]
    assert offset == {
        "name": "offset",
        "kind": "float",
        "default": 10.0,
        "minimum": -100.0,
        "maximum": 100.0,
        "choices": [],
        "help": "gray levels",
    }
    assert state["consistency"] == {"consistent": True, "share": 1.0}
    assert not state["can_undo"] and not state["can_redo"] and not state["job"]["running"]
    standard = client.get("/api/image/standard")
    assert standard.headers["content-type"] == "image/png"
    np.testing.assert_array_equal(png_array(standard.content), decode_pixels(jpeg_bytes))
    assert client.get("/api/image/other").status_code == 404


def test_an_edit_changes_the_region_and_undo_redo_walk_the_history(client, session):
    before = current(client)
    state = apply(client, session, region=[8, 16, 24, 40], params={"offset": 20})
    after = current(client)
    changed = np.any(after != before, axis=-1)
    assert changed[8:24, 16:40].any() and not changed[:8].any() and not changed[:, :16].any()
    assert state["version"] == 2 and state["can_undo"] and not state["can_redo"]
    assert state["consistency"]["consistent"] is False  # the double's badge follows its report
    state = client.post("/api/undo", headers=H).json()
    np.testing.assert_array_equal(current(client), before)
    assert state["can_redo"] and not state["can_undo"] and state["consistency"]["consistent"]
    client.post("/api/redo", headers=H)
    np.testing.assert_array_equal(current(client), after)
    nothing = client.post("/api/redo", headers=H)
    assert nothing.status_code == 400 and nothing.json()["error"] == "nothing to redo."


def test_alternatives_of_an_edit_are_shown_and_one_can_be_chosen(client, session):
    state = apply(client, session, tool="variants", params={"count": 3})
    assert state["alternatives"] == 2
    second = png_array(client.get("/api/image/alternative1").content)
    assert client.get("/api/image/alternative2").status_code == 404
    refused = client.post("/api/choose", headers=H, json={"index": 2})
    assert refused.status_code == 400 and "in [0, 2)" in refused.json()["error"]
    state = client.post("/api/choose", headers=H, json={"index": 1}).json()
    np.testing.assert_array_equal(current(client), second)
    assert state["alternatives"] == 2 and state["version"] == 3  # still offered
    state = client.post("/api/undo", headers=H).json()
    assert state["alternatives"] == 0  # gone with any other change
    assert apply(client, session)["alternatives"] == 0


def test_choice_bool_and_image_parameters_reach_the_tool(client, session):
    apply(client, session, params={"offset": 5, "channel": "red", "invert": True})
    assert session._explorer.applied[-1] == (
        "brightness",
        None,
        {"offset": 5.0, "channel": "red", "invert": True},
    )
    stamp = np.zeros((4, 6, 3), np.uint8)
    stamp[..., 2] = 200
    buffer = io.BytesIO()
    Image.fromarray(stamp).save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    apply(client, session, tool="imprint", region=[2, 2, 10, 10], params={"source": url})
    np.testing.assert_array_equal(current(client)[2:6, 2:8], stamp)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"tool": "blur"}, "tool must be one of brightness, imprint, variants"),
        ({"tool": "brightness", "region": [0, 0, 41, 10]}, "0 <= y0 < y1 <= 40 and 0 <= x0"),
        ({"tool": "brightness", "region": [5, 5, 5, 9]}, "x1 <= 56. Received: region=(5, 5, 5, 9)"),
        ({"tool": "brightness", "region": "all"}, "region must be [y0, x0, y1, x1]"),
        ({"tool": "brightness", "params": {"offset": 500}}, "offset must be in [-100.0, 100.0]"),
        ({"tool": "brightness", "params": {"offset": "x"}}, "offset must be a number"),
        (
            {"tool": "brightness", "params": {"channel": "blue"}},
            "channel must be one of ['all', 'red']",
        ),
        ({"tool": "brightness", "params": {"invert": 1}}, "invert must be a bool"),
        (
            {"tool": "brightness", "params": {"gain": 1}},
            "tool 'brightness' has no parameter 'gain'",
        ),
        ({"tool": "slow", "params": {"steps": 2.5}}, "steps must be an integer"),
        ({"tool": "imprint", "params": {"source": "data:image/png;base64,AAAA"}}, "source:"),
        ({"tool": "imprint", "params": {"source": "/etc/passwd"}}, "source must be an image"),
        ({"tool": "imprint"}, "tool 'imprint' needs the parameter 'source'"),
    ],
)
def test_bad_edit_requests_are_refused_with_a_message_and_change_nothing(client, body, fragment):
    answer = client.post("/api/apply", headers=H, json=body)
    assert answer.status_code == 400 and fragment in answer.json()["error"]
    assert client.get("/api/state").json()["version"] == 1


def test_a_bad_jpeg_is_a_message_and_the_open_file_stays(client, jpeg_bytes):
    answer = client.post(
        "/api/open", headers={**H, "X-Filename": "bad.jpg"}, content=jpeg_bytes[:300]
    )
    assert answer.status_code == 400
    with pytest.raises(Exception) as reader:  # the page shows the reader's own message
        decode_pixels(jpeg_bytes[:300])
    assert answer.json()["error"] == f"bad.jpg: {reader.value}"
    for junk in (b"not a jpeg at all", b""):
        answer = client.post("/api/open", headers=H, content=junk)
        assert answer.status_code == 400 and answer.json()["error"]
    assert client.get("/api/state").json()["file"] == "photo.jpg"
    other = pillow_jpeg(natural_image(24, 32, seed=4), 50, "444")
    state = client.post(
        "/api/open", headers={**H, "X-Filename": "other%20one.jpg"}, content=other
    ).json()
    assert (state["file"], state["width"], state["height"]) == ("other one.jpg", 32, 24)
    np.testing.assert_array_equal(current(client), decode_pixels(other))


def test_oversize_files_are_refused_by_bytes_and_by_pixels(tmp_path, jpeg_bytes):
    limit = len(jpeg_bytes) - 1
    by_bytes = ExploreSession(tmp_path, max_bytes=limit, explorer_factory=FakeExplorer)
    answer = TestClient(create_app(by_bytes)).post("/api/open", headers=H, content=jpeg_bytes)
    assert answer.status_code == 413 and "more than the limit of" in answer.json()["error"]
    by_pixels = ExploreSession(tmp_path, max_pixels=1000, explorer_factory=FakeExplorer)
    answer = TestClient(create_app(by_pixels)).post("/api/open", headers=H, content=jpeg_bytes)
    assert answer.status_code == 413 and "56x40 = 2,240 pixels" in answer.json()["error"]
    assert by_pixels.state()["file"] is None


@pytest.mark.parametrize(
    "name",
    ["../x.png", "/tmp/x.png", "sub/x.png", "..\\x.png", ".hidden.png", "x.jpg", "x", "", 7],
)
def test_saving_refuses_names_that_leave_the_output_folder(client, session, name, tmp_path):
    answer = client.post("/api/save", headers=H, json={"name": name})
    assert answer.status_code == 400 and "name must" in answer.json()["error"]
    assert sorted(os.listdir(tmp_path)) == ["out"] and os.listdir(session.output_dir) == []


def test_saving_through_a_link_that_points_outside_is_refused(client, session, tmp_path):
    os.symlink(tmp_path / "elsewhere.png", session.output_dir / "link.png")
    answer = client.post("/api/save", headers=H, json={"name": "link.png"})
    assert answer.status_code == 400 and "inside the output folder" in answer.json()["error"]
    assert not (tmp_path / "elsewhere.png").exists()


def test_saving_writes_the_current_image_and_never_replaces_silently(client, session):
    apply(client, session, params={"offset": -30})
    answer = client.post("/api/save", headers=H, json={"name": "edit.png"})
    assert answer.status_code == 200 and answer.json()["name"] == "edit.png"
    saved = session.output_dir / "edit.png"
    np.testing.assert_array_equal(np.asarray(Image.open(saved)), current(client))
    again = client.post("/api/save", headers=H, json={"name": "edit.png"})
    assert again.status_code == 409 and "exists" in again.json()["error"]
    client.post("/api/undo", headers=H)
    answer = client.post("/api/save", headers=H, json={"name": "edit.png", "overwrite": True})
    assert answer.status_code == 200
    np.testing.assert_array_equal(np.asarray(Image.open(saved)), current(client))
    assert client.get("/api/state").json()["saved"] == ["edit.png", "edit.png"]


def test_changes_without_the_page_header_are_forbidden(client):
    for path in ("/api/apply", "/api/undo", "/api/save", "/api/open"):
        answer = client.post(path, json={"tool": "brightness", "name": "a.png"})
        assert answer.status_code == 403 and "X-Tfjpeg" in answer.json()["error"]
    assert client.get("/api/state").json()["version"] == 1


def test_only_this_machines_host_names_are_served_on_loopback(session):
    app = create_app(session, allowed_hosts=allowed_hosts("127.0.0.1"))
    assert TestClient(app, base_url="http://127.0.0.1:8000").get("/api/state").status_code == 200
    assert TestClient(app, base_url="http://localhost:8000").get("/").status_code == 200
    assert TestClient(app, base_url="http://evil.example:8000").get("/").status_code == 400
    assert allowed_hosts("0.0.0.0") is None  # listening everywhere: any name
    assert is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")


def test_one_edit_at_a_time_however_many_clients_ask(client, session):
    session._explorer.release.clear()
    answers: list[int] = []

    def ask() -> None:
        body = {"tool": "slow", "params": {"steps": 200}}
        answers.append(client.post("/api/apply", headers=H, json=body).status_code)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [202, 409, 409, 409, 409, 409]
    busy = client.post("/api/undo", headers=H)
    assert busy.status_code == 409 and "the slow edit is still running" in busy.json()["error"]
    for path, body in (("/api/save", {"name": "a.png"}), ("/api/apply", {"tool": "fail"})):
        assert client.post(path, headers=H, json=body).status_code == 409
    opened = client.post("/api/open", headers=H, content=pillow_jpeg(natural_image(8, 8), 50))
    assert opened.status_code == 409
    deadline = time.monotonic() + 5
    while (state := client.get("/api/state").json())["job"]["progress"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert state["job"]["running"] and state["job"]["tool"] == "slow"
    assert 0 < state["job"]["progress"] < 1 and not state["can_undo"]
    session._explorer.release.set()
    assert session.wait(10)
    state = client.get("/api/state").json()
    assert state["version"] == 2 and state["can_undo"] and len(session._explorer.applied) == 1


def test_a_failing_tool_is_a_message_and_the_next_edit_works(client, session):
    state = apply(client, session, tool="fail")
    assert state["error"] == "fail failed: RuntimeError: the double's failing tool"
    assert state["version"] == 1 and not state["job"]["running"]
    assert apply(client, session)["version"] == 2


def test_an_edit_finishes_when_its_client_disconnects_and_the_server_stays(session):
    session._explorer.release.clear()
    server = LocalServer(create_app(session), "127.0.0.1", 0).start()
    try:
        body = json.dumps({"tool": "slow", "params": {"steps": 20}}).encode()
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            raw.sendall(
                b"POST /api/apply HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Tfjpeg: 1\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body)
            )
        with socket.create_connection(("127.0.0.1", server.port)) as raw:  # half a request
            raw.sendall(b"POST /api/open HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999\r\n")
        session._explorer.release.set()
        deadline = time.monotonic() + 10
        import urllib.request

        while True:
            with urllib.request.urlopen(server.url + "api/state", timeout=5) as answer:
                state = json.load(answer)
            if state["version"] == 2 and not state["job"]["running"]:
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.02)
        assert session._explorer.can_undo
    finally:
        server.stop()


def test_opening_while_another_open_runs_is_refused(tmp_path, jpeg_bytes):
    session = ExploreSession(tmp_path, explorer_factory=slow_factory(0.5))
    client = TestClient(create_app(session))
    first = threading.Thread(target=lambda: client.post("/api/open", headers=H, content=jpeg_bytes))
    first.start()
    time.sleep(0.15)
    answer = client.post("/api/open", headers=H, content=jpeg_bytes)
    first.join()
    assert answer.status_code == 409 and "another change is still running" in answer.json()["error"]
    assert client.get("/api/state").json()["width"] == 56


def test_forms_and_output_path_directly(tmp_path):
    tools = FakeExplorer(pillow_jpeg(natural_image(16, 16), 50)).tools
    assert apply_arguments({"tool": "slow", "params": {"steps": 3}}, tools, (16, 16, 3)) == (
        "slow",
        None,
        {"steps": 3},
    )
    assert output_path(tmp_path, " a.PNG ") == tmp_path.resolve() / "a.PNG"
    with pytest.raises(InvalidArgumentError, match="must be a JSON object"):
        apply_arguments(["slow"], tools, (16, 16, 3))
