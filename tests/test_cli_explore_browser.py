"""The explore page in a real browser (Playwright driving Debian's chromium, headless).

Two levels:

- ``test_the_page_drives_every_control``: the page's mechanics against the explorer's test
  double (``explore_double.py``): region drag, a form per tool from its ParamSpecs (float, int,
  choice, bool, image), painted and copied content, alternatives, undo/redo, progress, save,
  errors shown in the page, opening another file through the page. Seconds.
- ``test_every_tool_of_the_real_explorer`` (slow): the real :class:`tfjpeg.explore.Explorer`
  with the shipped decoder behind the page, every tool applied to a selected region; each
  result must change the image and be consistent (badge), and the saved PNG must re-encode to
  the file's coefficients.

Both skip, with the reason, where playwright or chromium is missing.
"""

from __future__ import annotations

import io
import os
import shutil

import numpy as np
import pytest
from conftest import natural_image, pillow_jpeg, synthetic_photo
from PIL import Image

pytest.importorskip("starlette", reason="the explore extra is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

from explore_double import FakeExplorer  # noqa: E402

from tfjpeg.cli.explore_app.app import create_app  # noqa: E402
from tfjpeg.cli.explore_app.server import LocalServer, allowed_hosts  # noqa: E402
from tfjpeg.cli.explore_app.session import ExploreSession  # noqa: E402
from tfjpeg.io import decode_pixels  # noqa: E402

EDIT_TIMEOUT_MS = 240_000  # a first edit compiles the tool's graph (seconds on a busy CPU)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        except sync_api.Error as err:
            pytest.skip(f"chromium does not start under playwright: {err}")
        yield browser
        browser.close()


def serve(session: ExploreSession) -> LocalServer:
    return LocalServer(create_app(session, allowed_hosts=allowed_hosts("127.0.0.1"))).start()


def open_page(browser, server: LocalServer):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(server.url)
    page.wait_for_function("document.body.dataset.version !== '0'")
    return page, errors


def drag(page, top_left: tuple[float, float], bottom_right: tuple[float, float], on="#current"):
    """Drags from one point to another, given as fractions (y, x) of the image on screen."""
    box = page.locator(on).bounding_box()
    (y0, x0), (y1, x1) = top_left, bottom_right
    page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + x1 * box["width"], box["y"] + y1 * box["height"], steps=4)
    page.mouse.up()


def apply_and_wait(page) -> None:
    """Clicks Apply and waits until the edit is shown or a message says why it failed."""
    version = page.evaluate("document.body.dataset.version")
    page.click("#apply")
    page.wait_for_function(
        "document.body.dataset.busy === 'false' && "
        f"(document.body.dataset.version !== '{version}' || "
        "!document.querySelector('#message').hidden)",
        timeout=EDIT_TIMEOUT_MS,
    )


def shown(page, server, which="current") -> np.ndarray:
    answer = page.request.get(f"{server.url}api/image/{which}")
    assert answer.ok
    return np.asarray(Image.open(io.BytesIO(answer.body())))


def message(page) -> str:
    return page.inner_text("#message") if page.is_visible("#message") else ""


def test_the_page_drives_every_control(browser, tmp_path):
    jpeg = pillow_jpeg(natural_image(48, 64, seed=3), 30)
    session = ExploreSession(tmp_path, explorer_factory=FakeExplorer)
    session.open(jpeg, "photo.jpg")
    explorer = session._explorer
    server = serve(session)
    try:
        page, errors = open_page(browser, server)
        assert page.inner_text("#file") == "photo.jpg (64x48)"
        assert page.eval_on_selector_all("#tool option", "o => o.map(x => x.value)") == list(
            explorer.tools
        )
        np.testing.assert_array_equal(shown(page, server, "standard"), decode_pixels(jpeg))

        # A region, and a form with a float, a choice and a bool.
        drag(page, (0.25, 0.25), (0.75, 0.5))
        assert page.inner_text("#region") == "rows 12-36, columns 16-32"
        before = shown(page, server)
        page.fill("#param-offset", "25")
        page.select_option("#param-channel", "red")
        page.check("#param-invert")
        apply_and_wait(page)
        assert explorer.applied[-1] == (
            "brightness",
            (12, 16, 36, 32),
            {"offset": 25.0, "channel": "red", "invert": True},
        )
        after = shown(page, server)
        changed = np.any(after != before, axis=-1)
        assert changed[12:36, 16:32].any() and changed.sum() == changed[12:36, 16:32].sum()
        assert page.get_attribute("#badge", "data-consistent") == "false"  # the double's report
        assert "NOT consistent" in page.inner_text("#badge")

        # A refused value is a message; nothing changes.
        page.fill("#param-offset", "500")
        page.click("#apply")
        page.wait_for_selector("#message:not([hidden])")
        assert "offset must be in [-100.0, 100.0]" in message(page)
        assert len(explorer.applied) == 1

        # Image content: a file, then paint on the image.
        stamp = np.zeros((6, 8, 3), np.uint8)
        stamp[..., 1] = 220
        Image.fromarray(stamp).save(tmp_path / "stamp.png")
        page.select_option("#tool", "imprint")
        page.set_input_files("#param-source", str(tmp_path / "stamp.png"))
        apply_and_wait(page)
        np.testing.assert_array_equal(shown(page, server)[12:18, 16:24], stamp)
        page.select_option("#tool", "variants")
        page.select_option("#tool", "imprint")  # a fresh form: no file
        page.check("#paint-mode")
        drag(page, (0.4, 0.3), (0.6, 0.45))
        apply_and_wait(page)
        painted = explorer.applied[-1][2]["source"]
        assert painted.shape == (24, 16, 3)  # the region's box
        assert (painted[..., 0].astype(int) - painted[..., 1] > 100).any()  # red strokes
        page.uncheck("#paint-mode")

        # Alternatives: shown after an edit that offers them; a click makes one current.
        page.select_option("#tool", "variants")
        apply_and_wait(page)
        assert page.locator("#alternative-strip button").count() == 2
        second = shown(page, server, "alternative1")
        version = page.evaluate("document.body.dataset.version")
        page.locator("#alternative-strip button").nth(1).click()
        page.wait_for_function(f"document.body.dataset.version !== '{version}'")
        np.testing.assert_array_equal(shown(page, server), second)

        # Undo / redo.
        chosen = shown(page, server)
        page.click("#undo")
        page.wait_for_function("!document.querySelector('#redo').disabled")
        assert not np.array_equal(shown(page, server), chosen)
        page.click("#redo")
        page.wait_for_function("document.querySelector('#redo').disabled")
        np.testing.assert_array_equal(shown(page, server), chosen)

        # Progress of a longer edit.
        explorer.release.clear()
        page.select_option("#tool", "slow")
        page.fill("#param-steps", "400")
        page.click("#apply")
        page.wait_for_selector("#progress:not([hidden])")
        page.wait_for_function("document.querySelector('#progress').value > 0")
        assert page.is_disabled("#apply") and page.is_disabled("#undo")
        explorer.release.set()
        page.wait_for_function("document.body.dataset.busy === 'false'")
        assert page.is_hidden("#progress")

        # Save: a name escaping the folder is refused; a plain name is written.
        page.fill("#save-name", "../escape.png")
        page.click("#save")
        page.wait_for_function("document.querySelector('#message').textContent.includes('name')")
        assert "plain file name inside the output folder" in message(page)
        page.fill("#save-name", "mine.png")
        page.click("#save")
        page.wait_for_selector("#saved:has-text('Saved')")
        saved = np.asarray(Image.open(tmp_path / "mine.png"))
        np.testing.assert_array_equal(saved, shown(page, server))
        assert not (tmp_path.parent / "escape.png").exists()

        # Opening another file through the page: a bad one is refused with the reader's message.
        (tmp_path / "bad.jpg").write_bytes(jpeg[:200])
        page.set_input_files("#open", str(tmp_path / "bad.jpg"))
        page.wait_for_function(
            "document.querySelector('#message').textContent.startsWith('bad.jpg: ')"
        )
        assert page.inner_text("#file") == "photo.jpg (64x48)"
        other = tmp_path / "other.jpg"
        other.write_bytes(pillow_jpeg(natural_image(24, 40, seed=9), 60))
        page.set_input_files("#open", str(other))
        page.wait_for_function("document.querySelector('#file').textContent.startsWith('other')")
        assert page.inner_text("#file") == "other.jpg (40x24)"
        np.testing.assert_array_equal(shown(page, server), decode_pixels(other.read_bytes()))
        assert errors == []
    finally:
        server.stop()


# ----------------------------------------------------------------------------- the real engine

#: What the page sets for a tool beyond its defaults (steps: 2, to keep the test short).
REAL_EDITS = {
    "periodicity": {"period_y": "8"},
    "classifier": {"target": "3"},
}
REAL_REGION = ((0.25, 0.25), (0.75, 0.75))  # of a 48x64 image: rows 12-36, columns 16-48


@pytest.fixture(scope="module")
def real_page(browser, tmp_path_factory):
    folder = tmp_path_factory.mktemp("explore-real")
    jpeg = pillow_jpeg(synthetic_photo(48, 64, seed=3), 20)
    session = ExploreSession(folder)  # the real Explorer, the shipped default decoder
    session.open(jpeg, "photo.jpg")
    server = serve(session)
    page, errors = open_page(browser, server)
    yield page, server, jpeg, folder
    server.stop()
    assert errors == []


def _tool_names() -> list[str]:
    from tfjpeg.explore import TOOLS

    return list(TOOLS)


@pytest.mark.slow
@pytest.mark.parametrize("tool", _tool_names())
def test_every_tool_of_the_real_explorer(real_page, tool, tmp_path):
    page, server, _, _ = real_page
    if tool == "classifier":
        from tfjpeg.errors import TfjpegError
        from tfjpeg.models.registry import model_dir

        try:
            model_dir("digit-classifier")
        except TfjpegError as err:
            pytest.skip(f"the classifier tool's model is not installed: {err}")
    page.select_option("#tool", tool)
    if tool == "patch":  # the source rectangle first, then the region to edit
        drag(page, (0.0, 0.0), (0.25, 0.25))
        page.click("#source-from-selection")
        assert page.input_value("#param-source_y1") == "12"
    drag(page, *REAL_REGION)
    if tool == "scribble":
        page.check("#paint-mode")
        drag(page, (0.3, 0.3), (0.6, 0.7))
        page.uncheck("#paint-mode")
    if tool == "imprint":
        stamp = np.full((12, 16, 3), (30, 200, 60), np.uint8)
        Image.fromarray(stamp).save(tmp_path / "stamp.png")
        page.set_input_files("#param-content", str(tmp_path / "stamp.png"))
    for name, value in {"steps": "2", **REAL_EDITS.get(tool, {})}.items():
        page.fill(f"#param-{name}", value)
    before = shown(page, server)
    apply_and_wait(page)
    assert message(page) == ""
    after = shown(page, server)
    assert np.any(after != before), f"{tool} left the image as it was"
    assert page.get_attribute("#badge", "data-consistent") == "true", page.inner_text("#badge")
    if tool == "diverse":
        assert page.locator("#alternative-strip button").count() == 2
        version = page.evaluate("document.body.dataset.version")
        page.locator("#alternative-strip button").nth(0).click()
        page.wait_for_function(f"document.body.dataset.version !== '{version}'")
        assert page.get_attribute("#badge", "data-consistent") == "true"


@pytest.mark.slow
def test_the_real_explorer_undoes_and_saves_a_consistent_png(real_page):
    from tfjpeg.decoders.consistency import consistency_report

    page, server, jpeg, folder = real_page
    page.select_option("#tool", "brightness")
    drag(page, *REAL_REGION)
    page.fill("#param-steps", "2")
    apply_and_wait(page)
    edited = shown(page, server)
    page.click("#undo")
    page.wait_for_function("!document.querySelector('#redo').disabled")
    assert not np.array_equal(shown(page, server), edited)
    page.click("#redo")
    page.wait_for_function("document.querySelector('#redo').disabled")
    np.testing.assert_array_equal(shown(page, server), edited)
    page.fill("#save-name", "explored.png")
    page.click("#save")
    page.wait_for_selector("#saved:has-text('Saved')")
    saved = np.asarray(Image.open(folder / "explored.png"))
    np.testing.assert_array_equal(saved, edited)
    assert not np.array_equal(saved, decode_pixels(jpeg))  # an explored decoding, not libjpeg's
    # Re-encoded as libjpeg-turbo does, the PNG gives back every coefficient of the file.
    assert consistency_report(saved, jpeg)["fraction_uint8"] == 1.0
