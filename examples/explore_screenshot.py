"""A screenshot of ``tfjpeg explore``'s page, as in the README (``docs/explore.png``).

Opens a JPEG (default: the generated test chart at quality 10, whose digits make the paper's use
case: what could the compressed digits have been?) in the real explore page, selects a region,
runs one tool, and photographs the page with headless chromium (Playwright). The PNG is reduced
to a 256-colour palette to stay small.

    python examples/explore_screenshot.py --out docs                  # docs/explore.png
    python examples/explore_screenshot.py --out /tmp/shots --jpeg photo.jpg --tool brightness

Needs ``pip install "tfjpeg[explore]" playwright`` and chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
from pathlib import Path

from tfjpeg.errors import TfjpegError

#: The digits 2 and 3 of the test chart (fractions of the image: y0, x0, y1, x1).
CHART_REGION = (0.14, 0.2, 0.37, 0.45)


def sample_jpeg(quality: int) -> bytes:
    """The generated test chart (192x288), softened, as a 4:2:0 JPEG.

    Softened (1 px blur, values compressed to [25, 229]): with pure black and white edges at
    quality 10 no uint8 image re-encodes to every coefficient of the file (values beyond 0 and
    255 would be needed; the shipped decoders reach 99.96 % there), and the badge would say so.
    """
    import numpy as np
    from PIL import Image, ImageFilter

    from tfjpeg.data import make_test_chart
    from tfjpeg.io import encode_pixels

    chart = Image.fromarray(make_test_chart(192, 288, seed=0)).filter(ImageFilter.GaussianBlur(1))
    soft = np.round(np.asarray(chart, np.float32) * 0.8 + 25).astype(np.uint8)
    return encode_pixels(soft, quality, subsampling="420")


def screenshot(
    jpeg: bytes, name: str, tool: str, region: tuple[float, ...], steps: int, out: Path
) -> Path:
    """Serves ``jpeg``, applies ``tool`` to ``region`` through the page, writes ``out``."""
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from tfjpeg.cli.explore_app.app import create_app
    from tfjpeg.cli.explore_app.server import LocalServer, allowed_hosts
    from tfjpeg.cli.explore_app.session import ExploreSession

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as saves:
        session = ExploreSession(saves)
        session.open(jpeg, name)
        server = LocalServer(create_app(session, allowed_hosts=allowed_hosts("127.0.0.1")))
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, headless=True)
                page = browser.new_page(viewport={"width": 1180, "height": 640})
                page.goto(server.url)
                page.wait_for_function("document.body.dataset.version !== '0'")
                box = page.locator("#current").bounding_box()
                y0, x0, y1, x1 = region
                page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
                page.mouse.down()
                page.mouse.move(
                    box["x"] + x1 * box["width"], box["y"] + y1 * box["height"], steps=4
                )
                page.mouse.up()
                page.select_option("#tool", tool)
                page.fill("#param-steps", str(steps))
                version = page.evaluate("document.body.dataset.version")
                page.click("#apply")
                page.wait_for_function(
                    "document.body.dataset.busy === 'false' && "
                    f"(document.body.dataset.version !== '{version}' || "
                    "!document.querySelector('#message').hidden)",
                    timeout=1_800_000,
                )
                if page.is_visible("#message"):
                    raise TfjpegError(f"{tool} failed: {page.inner_text('#message')}")
                page.wait_for_timeout(500)  # the alternatives' thumbnails
                shot = page.screenshot(full_page=True)
                browser.close()
        finally:
            server.stop()
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    small = image.quantize(256, method=Image.Quantize.MEDIANCUT)
    out.parent.mkdir(parents=True, exist_ok=True)
    from tfjpeg.io import save_bytes_atomic

    buffer = io.BytesIO()
    small.save(buffer, "PNG", optimize=True)
    return save_bytes_atomic(out, buffer.getvalue(), overwrite=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to write explore.png into")
    parser.add_argument("--jpeg", help="the JPEG to show (default: the test chart, quality 10)")
    parser.add_argument("--quality", type=int, default=10, help="quality of the default chart")
    parser.add_argument("--tool", default="diverse", help="tool to apply (default: diverse)")
    parser.add_argument("--steps", type=int, default=10, help="Adam steps of the edit")
    args = parser.parse_args(argv)
    try:
        if args.jpeg:
            jpeg, name = Path(args.jpeg).read_bytes(), Path(args.jpeg).name
        else:
            jpeg, name = sample_jpeg(args.quality), f"test-chart-q{args.quality}.jpg"
        region = CHART_REGION if not args.jpeg else (0.3, 0.3, 0.6, 0.6)
        path = screenshot(jpeg, name, args.tool, region, args.steps, Path(args.out) / "explore.png")
    except (TfjpegError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{path}: {path.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
