"""What the explore page sends, checked and turned into :meth:`Explorer.apply` arguments.

The page builds one form per tool from its :class:`ToolSpec` (:func:`tool_specs_json`) and sends
``{"tool": name, "region": [y0, x0, y1, x1] | null, "params": {name: value}}``; every value is
checked with the explorer's own checks before an edit starts, so a bad value is a clear message
in the page rather than a failed edit. ``image`` parameters arrive as
``data:`` URLs of an image file the user picked (read by Pillow with the pixel limit). Saved
files get plain names inside the output folder only (:func:`output_path`).
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tfjpeg.errors import InvalidArgumentError, TfjpegError

__all__ = [
    "MAX_PARAM_IMAGE_BYTES",
    "apply_arguments",
    "output_path",
    "tool_specs_json",
]

#: Largest image file accepted as a tool parameter (an imprint source, a scribble), in bytes.
MAX_PARAM_IMAGE_BYTES = 16 * 2**20
_DATA_URL = re.compile(r"data:[\w.+/-]*(;[\w=.+-]+)*;base64,(?P<payload>.*)", re.DOTALL)


def _jsonable(value: Any) -> Any:
    """A parameter default/bound as JSON (numbers, strings, bools, lists); anything else None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (list, tuple)) and len(value) <= 64:
        return [_jsonable(v) for v in value]
    return None


def tool_specs_json(tools: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The explorer's tools (``name -> ToolSpec``) as the JSON the page builds its forms from."""
    return [
        {
            "name": name,
            "description": str(spec.description),
            "params": [
                {
                    "name": p.name,
                    "kind": p.kind,
                    "default": _jsonable(p.default),
                    "minimum": _jsonable(p.minimum),
                    "maximum": _jsonable(p.maximum),
                    "choices": _jsonable(p.choices),
                    "help": str(p.help or ""),
                }
                for p in spec.params
            ],
        }
        for name, spec in tools.items()
    ]


def _region(value: Any, height: int, width: int) -> tuple[int, int, int, int] | None:
    """The page's ``[y0, x0, y1, x1]`` (or null), checked as the explorer checks regions."""
    from tfjpeg.explore.window import region_mask

    if value is None:
        return None
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 4
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise InvalidArgumentError(
            f"region must be [y0, x0, y1, x1] (integers) or null. Received: region={value!r}"
        )
    region = tuple(value)
    region_mask(region, height, width)  # raises InvalidArgumentError naming the bounds
    return region


def _image_param(name: str, value: Any, max_pixels: int | None) -> np.ndarray:
    """An image file the page sent as a ``data:`` URL, read by Pillow with the pixel limit."""
    from tfjpeg.io.pixels import load_pillow_image

    match = _DATA_URL.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidArgumentError(f"{name} must be an image file (a data: URL from the page).")
    payload = match.group("payload")
    if len(payload) * 3 // 4 > MAX_PARAM_IMAGE_BYTES:
        raise InvalidArgumentError(
            f"{name}: the image file is larger than {MAX_PARAM_IMAGE_BYTES // 2**20} MiB."
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgumentError(f"{name}: the image data is not valid base64.") from None
    try:
        return load_pillow_image(data, mode="RGB", max_pixels=max_pixels)
    except TfjpegError as err:  # not an image, too large: name the parameter
        raise InvalidArgumentError(f"{name}: {err}") from None


def apply_arguments(
    request: Any, tools: Mapping[str, Any], shape: tuple[int, ...], max_pixels: int | None = None
) -> tuple[str, tuple[int, int, int, int] | None, dict[str, Any]]:
    """``(tool, region, params)`` for :meth:`Explorer.apply` from the page's JSON request.

    ``image`` parameters are decoded from their ``data:`` URLs; then everything is checked as
    the explorer will check it (:func:`tfjpeg.explore.tools.resolve_params`,
    :func:`tfjpeg.explore.window.region_mask`), so a bad value is refused before an edit starts.

    Args:
        request: the decoded JSON body (``tool``, optional ``region`` and ``params``).
        tools: the explorer's ``name -> ToolSpec``.
        shape: the current image's shape (the region must lie inside it).
        max_pixels: the pixel limit for ``image`` parameters (None: tfjpeg's default).

    Raises:
        InvalidArgumentError: unknown tool or parameter, or a value its spec refuses.
    """
    from tfjpeg.explore.tools import resolve_params

    if not isinstance(request, Mapping):
        raise InvalidArgumentError("the request must be a JSON object.")
    tool = request.get("tool")
    if not isinstance(tool, str) or tool not in tools:
        raise InvalidArgumentError(
            f"tool must be one of {', '.join(tools)}. Received: tool={tool!r}"
        )
    region = _region(request.get("region"), shape[0], shape[1])
    given = request.get("params") or {}
    if not isinstance(given, Mapping):
        raise InvalidArgumentError("params must be a JSON object.")
    kinds = {p.name: p.kind for p in tools[tool].params}
    params = {
        name: _image_param(name, value, max_pixels) if kinds.get(name) == "image" else value
        for name, value in given.items()
        if value is not None
    }
    resolve_params(tools[tool], params)
    return tool, region, params


def output_path(folder: str | os.PathLike, name: Any) -> Path:
    """Where a PNG named ``name`` is saved: a plain ``*.png`` name directly inside ``folder``.

    Refuses separators, ``..``, hidden names and anything that would resolve outside the folder
    (a symbolic link pointing elsewhere included).

    Raises:
        InvalidArgumentError: ``name`` is not a plain PNG file name inside ``folder``.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"name must be a file name. Received: name={name!r}")
    name = name.strip()
    if (
        "/" in name
        or "\\" in name
        or "\x00" in name
        or name.startswith(".")
        or name != os.path.basename(name)
        or len(name) > 200
    ):
        raise InvalidArgumentError(
            f"name must be a plain file name inside the output folder (no folders, no leading "
            f"dot). Received: name={name!r}"
        )
    if Path(name).suffix.lower() != ".png":
        raise InvalidArgumentError(f"name must end in .png. Received: name={name!r}")
    root = Path(folder).resolve()
    path = root / name
    if path.resolve().parent != root:
        raise InvalidArgumentError(
            f"name must stay inside the output folder {os.fspath(root)!r}. Received: name={name!r}"
        )
    return path
