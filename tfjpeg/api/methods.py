"""Compression methods named by a short spec, for evaluations and benchmarks.

A spec names one way of making a JPEG through :func:`tfjpeg.compress_image`::

    ENCODER                      libjpeg | mozjpeg: the plain encoder (editor "none")
    EDITOR+ENCODER               e.g. smoothing+libjpeg: a shipped editor, then the encoder
    default                      tfjpeg.compress's default configuration (tables="auto")
    BASE:KEY=VALUE,KEY=VALUE     more compress_image keyword arguments, e.g.
                                 libjpeg:subsampling=444, smoothing+libjpeg:optimize=25,
                                 libjpeg:tables=learned, libjpeg:editor=runs/x/export

Values are read as int, float, ``true``/``false``/``none`` or else kept as strings (an argument
annotated ``str`` always keeps its text). Every key
must be a keyword argument of :func:`tfjpeg.compress_image` (so options added there are usable
at once), except ``image``, ``quality`` and ``target_bpp``, which the evaluation sets. The spec
itself is the method's label in tables. A spec without ``tables=`` writes the encoder's
standard tables (``tables="standard"``), and a libjpeg spec without ``trellis=`` (or
``optimize=``) libjpeg-turbo's own rounding (``trellis=0``), so ``libjpeg`` and ``mozjpeg`` stay
the plain anchors whatever :func:`tfjpeg.compress`'s default is; ``default`` is that default.

Example:
    >>> method = parse_method("smoothing+mozjpeg")
    >>> method.options
    {'editor': 'smoothing', 'encoder': 'mozjpeg', 'tables': 'standard'}
    >>> data = encode_function(method)(image, 20)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from tfjpeg.errors import InvalidArgumentError

__all__ = ["Method", "encode_function", "parse_method"]

#: compress_image arguments a method may not set (the evaluation chooses them).
RESERVED = ("image", "quality", "target_bpp")
#: Options that :func:`tfjpeg.editors.inference.edit_and_encode` alone reproduces, with the
#: standard tables and no trellis (an edit cache then serves several qualities and encoders).
_PLAIN_OPTIONS = frozenset({"editor", "encoder", "subsampling", "tables", "trellis"})
#: The spec of :func:`tfjpeg.compress`'s default configuration.
DEFAULT_SPEC = "default"


@dataclasses.dataclass(frozen=True)
class Method:
    """A labelled set of :func:`tfjpeg.compress_image` keyword arguments."""

    label: str
    options: dict[str, Any]


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _keywords() -> dict[str, inspect.Parameter]:
    from tfjpeg.api.compression import compress_image

    params = inspect.signature(compress_image).parameters
    return {name: p for name, p in params.items() if name not in RESERVED}


def parse_method(spec: str) -> Method:
    """The :class:`Method` of a spec (see the module docstring).

    Raises:
        InvalidArgumentError: a malformed spec, an unknown editor or encoder, or a key that is
            not a :func:`tfjpeg.compress_image` keyword argument (the message lists them).
    """
    from tfjpeg.api.compression import DEFAULT_EDITOR, DEFAULT_TABLES, EDITOR_NAMES, ENCODERS

    if not isinstance(spec, str) or not spec.strip():
        raise InvalidArgumentError(f"method must be a non-empty spec string. Received: {spec!r}")
    spec = spec.strip()
    if spec == DEFAULT_SPEC:
        return Method(
            spec, {"editor": DEFAULT_EDITOR, "encoder": "libjpeg", "tables": DEFAULT_TABLES}
        )
    base, _, extra = spec.partition(":")
    editor, plus, encoder = base.partition("+")
    if not plus:
        editor, encoder = "none", base
    if encoder not in ENCODERS:
        raise InvalidArgumentError(
            f"method {spec!r}: the encoder must be one of {ENCODERS} (spec ENCODER or "
            f"EDITOR+ENCODER[:KEY=VALUE,...]). Received: encoder={encoder!r}"
        )
    if editor not in EDITOR_NAMES:
        raise InvalidArgumentError(
            f"method {spec!r}: the editor must be one of {EDITOR_NAMES} (an exported folder: "
            f"{encoder}:editor=PATH). Received: editor={editor!r}"
        )
    options: dict[str, Any] = {"editor": editor, "encoder": encoder}
    known = _keywords()
    for item in [part.strip() for part in extra.split(",") if part.strip()]:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InvalidArgumentError(
                f"method {spec!r}: options are KEY=VALUE separated by commas. Received: {item!r}"
            )
        if key not in known:
            raise InvalidArgumentError(
                f"method {spec!r}: {key!r} is not a tfjpeg.compress_image keyword argument "
                f"that a method may set; known: {', '.join(known)}."
            )
        text = text.strip()
        # A str-only argument keeps its text (subsampling=444 is "444").
        options[key] = text if str(known[key].annotation) == "str" else _value(text)
    options.setdefault("tables", "standard")
    if encoder == "libjpeg" and "optimize" not in options:
        options.setdefault("trellis", 0)  # libjpeg-turbo's own quantizer, unless asked
    return Method(spec, options)


def encode_function(
    method: Method, *, edits: dict[Any, dict[int, np.ndarray]] | None = None
) -> Callable[[np.ndarray, int], bytes]:
    """``(image, quality) -> bytes``: ``compress_image(image, quality=quality, **options).jpeg``.

    ``edits`` (one dict per image, shared by its methods) lets methods that only choose the
    editor, encoder and subsampling edit once per conditioning quality: they then run
    :func:`tfjpeg.editors.inference.edit_and_encode` with a cache, which is what
    ``compress_image`` runs, so the bytes are the same.
    """
    from tfjpeg.api.compression import _resolve_editor, compress_image
    from tfjpeg.editors.inference import edit_and_encode

    options = dict(method.options)
    plain = (
        set(options) <= _PLAIN_OPTIONS
        and options.get("tables") == "standard"
        and not options.get("trellis")
    )
    if edits is None or not plain or options["editor"] == "none":

        def encode(image: np.ndarray, quality: int) -> bytes:
            return compress_image(image, quality=int(quality), **options).jpeg

        return encode
    model = _resolve_editor(options["editor"])
    subsampling = options.get("subsampling", "420")
    cache = edits.setdefault((options["editor"], subsampling), {})

    def encode_cached(image: np.ndarray, quality: int) -> bytes:
        return edit_and_encode(
            model, image, int(quality), options["encoder"], subsampling=subsampling, cache=cache
        )

    return encode_cached
