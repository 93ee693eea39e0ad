"""A test double of :class:`tfjpeg.explore.Explorer` for the explore app's fast tests.

It keeps the Explorer's contract (construct from JPEG bytes with the real tfjpeg reader and its
errors and pixel limit, ``image``/``standard_image``, ``tools``, ``apply`` with ``progress``,
undo/redo, ``consistency()``, atomic ``save_png``) with trivial tools, so the server's own logic
(locking, checks, paths, history) is tested in milliseconds. The real engine is tested in
``test_explore_*`` and, through the page, in ``test_cli_explore_browser.py``.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from PIL import Image

from tfjpeg.io import decode_pixels, save_bytes_atomic


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    default: object = None
    minimum: object = None
    maximum: object = None
    choices: tuple = ()
    help: str = ""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    params: tuple


TOOLS = {
    "brightness": Tool(
        "brightness",
        "add a constant to the region",
        (
            Param("offset", "float", 10.0, -100.0, 100.0, help="gray levels"),
            Param("channel", "choice", "all", choices=("all", "red")),
            Param("invert", "bool", False),
        ),
    ),
    "imprint": Tool("imprint", "paste an image", (Param("source", "image"),)),
    "variants": Tool("variants", "offers alternatives", (Param("count", "int", 3, 2, 8),)),
    "slow": Tool("slow", "waits, reporting progress", (Param("steps", "int", 5, 1, 1000),)),
    "fail": Tool("fail", "raises", ()),
}


class FakeExplorer:
    """Same surface as ``tfjpeg.explore.Explorer``; see the module docstring."""

    def __init__(self, source, decoder=None, max_pixels=None) -> None:
        pixels = decode_pixels(source, max_pixels=max_pixels)  # the real reader: real errors
        self.standard_image = np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels
        self.tools = TOOLS
        self._history = [self.standard_image.copy()]
        self._at = 0
        self.release = threading.Event()  # "slow" waits for it (or times out)
        self.applied: list[tuple] = []
        self.alternatives: list[np.ndarray] = []

    @property
    def image(self) -> np.ndarray:
        return self._history[self._at]

    def apply(self, tool, region=None, progress=None, **params) -> np.ndarray:
        self.applied.append((tool, region, params))
        out = self.image.astype(np.int16)
        y0, x0, y1, x1 = region or (0, 0, *out.shape[:2])
        if tool == "brightness":
            channels = slice(0, 1) if params.get("channel") == "red" else slice(None)
            sign = -1 if params.get("invert") else 1
            out[y0:y1, x0:x1, channels] += int(sign * params.get("offset", 10.0))
        elif tool == "imprint":
            source = params["source"]
            h, w = min(y1 - y0, source.shape[0]), min(x1 - x0, source.shape[1])
            out[y0 : y0 + h, x0 : x0 + w] = source[:h, :w]
        elif tool == "slow":
            steps = params.get("steps", 5)
            for i in range(steps):
                self.release.wait(0.02)
                progress and progress((i + 1) / steps)
            out[y0:y1, x0:x1] = 255 - out[y0:y1, x0:x1]
        elif tool == "fail":
            raise RuntimeError("the double's failing tool")
        results = [np.clip(out, 0, 255).astype(np.uint8)]
        if tool == "variants":
            results = [
                np.clip(out + 40 * i, 0, 255).astype(np.uint8) for i in range(params["count"])
            ]
        self.alternatives = results[1:]
        return self._push(results[0])

    def _push(self, image: np.ndarray) -> np.ndarray:
        self._history = [*self._history[: self._at + 1], image]
        self._at += 1
        return image

    def choose_alternative(self, index: int) -> np.ndarray:
        return self._push(self.alternatives[index])

    @property
    def can_undo(self) -> bool:
        return self._at > 0

    @property
    def can_redo(self) -> bool:
        return self._at < len(self._history) - 1

    def undo(self) -> np.ndarray:
        self._at -= 1
        return self.image

    def redo(self) -> np.ndarray:
        self._at += 1
        return self.image

    def consistency(self):
        same = float(np.mean(self.image == self.standard_image))
        return SimpleNamespace(consistent=same == 1.0, fraction_uint8=same)

    def save_png(self, path, overwrite=False):
        buffer = io.BytesIO()
        Image.fromarray(self.image).save(buffer, "PNG")
        return save_bytes_atomic(path, buffer.getvalue(), overwrite=overwrite)


def slow_factory(delay: float = 0.0):
    """An explorer factory that takes ``delay`` seconds (to test opening while busy)."""

    def factory(source, decoder=None, max_pixels=None):
        time.sleep(delay)
        return FakeExplorer(source, decoder=decoder, max_pixels=max_pixels)

    return factory
