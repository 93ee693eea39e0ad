"""What the explore page sends, checked and turned into :meth:`Explorer.apply` arguments.

The page builds one form per tool from its :class:`ToolSpec` (:func:`tool_specs_json`) and sends
``{"tool": name, "region": [y0, x0, y1, x1] | null, "params": {name: value}}``; every value is
checked against its ``ParamSpec`` here (kind, range, choices) before an edit starts, so a bad
value is a clear message in the page rather than a failed edit. ``image`` parameters arrive as
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

from tfjpeg.errors import InvalidArgumentError

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
    y0, x0, y1, x1 = value
    if not (0 <= y0 < y1 <= height and 0 <= x0 < x1 <= width):
        raise InvalidArgumentError(
            f"region must lie inside the {width}x{height} image with y0 < y1 and x0 < x1. "
            f"Received: region={list(value)}"
        )
    return y0, x0, y1, x1


def _image_param(name: str, value: Any, max_pixels: int | None) -> np.ndarray:
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
    except InvalidArgumentError:
        raise
    except Exception as err:  # InvalidImageError, ImageTooLargeError: name the parameter
        raise InvalidArgumentError(f"{name}: {err}") from None


def _number(name: str, value: Any, kind: str, spec) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"{name} must be a number. Received: {name}={value!r}")
    if kind == "int":
        if float(value) != int(value):
            raise InvalidArgumentError(f"{name} must be an integer. Received: {name}={value!r}")
        value = int(value)
    elif not math.isfinite(value):
        raise InvalidArgumentError(f"{name} must be a finite number. Received: {name}={value!r}")
    else:
        value = float(value)
    low, high = spec.minimum, spec.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise InvalidArgumentError(f"{name} must be in {bounds}. Received: {name}={value}")
    return value


def _param(spec, value: Any, max_pixels: int | None) -> Any:
    name, kind = spec.name, spec.kind
    if kind in ("float", "int"):
        return _number(name, value, kind, spec)
    if kind == "bool":
        if not isinstance(value, bool):
            raise InvalidArgumentError(f"{name} must be true or false. Received: {name}={value!r}")
        return value
    if kind == "choice":
        choices = tuple(spec.choices or ())
        if value not in choices:
            raise InvalidArgumentError(
                f"{name} must be one of {', '.join(map(str, choices))}. Received: {name}={value!r}"
            )
        return value
    if kind == "image":
        return _image_param(name, value, max_pixels)
    raise InvalidArgumentError(f"{name}: unknown parameter kind {kind!r}.")


def apply_arguments(
    request: Any, tools: Mapping[str, Any], shape: tuple[int, ...], max_pixels: int | None = None
) -> tuple[str, tuple[int, int, int, int] | None, dict[str, Any]]:
    """``(tool, region, params)`` for :meth:`Explorer.apply` from the page's JSON request.

    Args:
        request: the decoded JSON body (``tool``, optional ``region`` and ``params``).
        tools: the explorer's ``name -> ToolSpec``.
        shape: the current image's shape (the region must lie inside it).
        max_pixels: the pixel limit for ``image`` parameters (None: tfjpeg's default).

    Raises:
        InvalidArgumentError: unknown tool or parameter, or a value its spec refuses.
    """
    if not isinstance(request, Mapping):
        raise InvalidArgumentError("the request must be a JSON object.")
    tool = request.get("tool")
    if tool not in tools:
        raise InvalidArgumentError(
            f"tool must be one of {', '.join(tools)}. Received: tool={tool!r}"
        )
    region = _region(request.get("region"), shape[0], shape[1])
    given = request.get("params") or {}
    if not isinstance(given, Mapping):
        raise InvalidArgumentError("params must be a JSON object.")
    specs = {p.name: p for p in tools[tool].params}
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise InvalidArgumentError(
            f"{tool} has no parameter {', '.join(unknown)}; its parameters: "
            f"{', '.join(specs) or 'none'}."
        )
    params = {
        name: _param(specs[name], value, max_pixels)
        for name, value in given.items()
        if value is not None
    }
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
