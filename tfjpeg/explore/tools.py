"""The exploration tools: each a named objective with a parameter form (Bahat & Michaeli 2021,
appendix B). A tool turns its parameters and the current window into the objective's constant
inputs (:class:`Prepared`); the engine then optimizes z for it.

:data:`TOOLS` maps a name to a :class:`Tool`; ``Tool.spec`` (:class:`ToolSpec` with its
:class:`ParamSpec` s) is what a GUI renders its forms from. Every tool also takes ``steps`` and
``learning_rate`` (Adam on z). Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from tfjpeg._checks import is_int
from tfjpeg.errors import InvalidArgumentError, InvalidArgumentTypeError

__all__ = [
    "DEFAULT_CLASSIFIER",
    "PARAM_KINDS",
    "TOOLS",
    "EditContext",
    "ParamSpec",
    "Prepared",
    "Tool",
    "ToolSpec",
    "resolve_params",
]

#: Kinds of parameters a GUI must render.
PARAM_KINDS = ("float", "int", "choice", "image", "bool")
#: The classifier the ``classifier`` tool uses by default (a registry name).
DEFAULT_CLASSIFIER = "digit-classifier"


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One parameter of a tool: name, kind (:data:`PARAM_KINDS`), default, bounds (numbers),
    choices (kind "choice"), one-line help. An "image" is a uint8 array (h, w, 3) or (h, w)."""

    name: str
    kind: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()
    help: str = ""


@dataclasses.dataclass(frozen=True)
class ToolSpec:
    """A tool as a GUI shows it: name, description and parameters."""

    name: str
    description: str
    params: tuple[ParamSpec, ...]


@dataclasses.dataclass
class EditContext:
    """What a tool sees of one edit: the window's current image ``x0`` float32 (h, w, C), the
    region ``mask`` bool (h, w) in the window, the window's top-left pixel ``origin`` in the
    image, the whole current image (uint8 (H, W, C)), ``project`` (float (h, w, C) image of the
    window → projected onto the file's consistent set; ``iterations=`` bounds its projection /
    clipping rounds) and whether the file is gray."""

    x0: np.ndarray
    mask: np.ndarray
    origin: tuple[int, int]
    image: np.ndarray
    project: Callable[..., np.ndarray]
    gray: bool

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The region's bounding box (y0, x0, y1, x1) in the window."""
        rows = np.flatnonzero(self.mask.any(axis=1))
        cols = np.flatnonzero(self.mask.any(axis=0))
        return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


@dataclasses.dataclass
class Prepared:
    """A tool's objective, its inputs (arrays; ``x0`` and the region's ``mask`` are added by
    the explorer unless the tool sets its own bool ``mask``), the key of its compiled step,
    and how many decodings to optimize at once (``z_count`` > 1 only for ``diverse``: each
    starts at the current z plus ``z_noise`` Gaussian noise drawn from ``seed``)."""

    objective: Callable
    inputs: dict[str, Any]
    key: str
    z_count: int = 1
    z_noise: float = 0.0
    seed: int = 0
    refine_steps: int = 0


_COMMON = (
    ParamSpec("steps", "int", 10, 1, 500, help="Adam steps on z"),
    ParamSpec("learning_rate", "float", 0.1, 1e-4, 10.0, help="Adam's step size on z"),
)


@dataclasses.dataclass(frozen=True)
class Tool:
    """A tool: its spec and the function that prepares its objective for one edit."""

    spec: ToolSpec
    prepare: Callable[[EditContext, dict[str, Any]], Prepared]


def _objectives():
    """:mod:`tfjpeg.explore.objectives`, imported on first use: the specs here load without
    TensorFlow (a CLI can list the tools quickly)."""
    from tfjpeg.explore import objectives

    return objectives


# --------------------------------------------------------------------- parameter checks
def _check_number(spec: ParamSpec, value: Any) -> float | int:
    if spec.kind == "int":
        if not is_int(value):
            raise InvalidArgumentTypeError(
                f"{spec.name} must be an integer. Received: {spec.name}={value!r}"
            )
        value = int(value)
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise InvalidArgumentTypeError(
                f"{spec.name} must be a number. Received: {spec.name}={value!r}"
            )
        value = float(value)
        if not np.isfinite(value):
            raise InvalidArgumentError(f"{spec.name} must be finite. Received: {spec.name}={value}")
    if (spec.minimum is not None and value < spec.minimum) or (
        spec.maximum is not None and value > spec.maximum
    ):
        raise InvalidArgumentError(
            f"{spec.name} must be in [{spec.minimum}, {spec.maximum}]. "
            f"Received: {spec.name}={value}"
        )
    return value


def _check_image(spec: ParamSpec, value: Any) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise InvalidArgumentTypeError(
            f"{spec.name} must be a uint8 array (h, w, 3) or (h, w). "
            f"Received: {spec.name} of type {type(value).__name__}"
        )
    if (
        value.dtype != np.uint8
        or value.ndim not in (2, 3)
        or (value.ndim == 3 and value.shape[-1] not in (1, 3))
        or value.size == 0
    ):
        raise InvalidArgumentError(
            f"{spec.name} must be a non-empty uint8 array (h, w, 3), (h, w, 1) or (h, w). "
            f"Received: {spec.name}.shape={value.shape}, dtype={value.dtype}"
        )
    return value if value.ndim == 3 else value[..., None]


def resolve_params(spec: ToolSpec, params: dict[str, Any]) -> dict[str, Any]:
    """The tool's parameters with defaults filled in, each checked against its spec.

    Raises:
        InvalidArgumentError: an unknown parameter, a value of the wrong kind or out of range, a
            missing parameter without default; the message names it.
    """
    known = {p.name: p for p in spec.params}
    for name in params:
        if name not in known:
            raise InvalidArgumentError(
                f"tool {spec.name!r} has no parameter {name!r}; its parameters: {', '.join(known)}"
            )
    out = {}
    for p in spec.params:
        value = params.get(p.name, p.default)
        if value is None:
            raise InvalidArgumentError(f"tool {spec.name!r} needs the parameter {p.name!r}.")
        if p.kind in ("float", "int"):
            value = _check_number(p, value)
        elif p.kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise InvalidArgumentTypeError(
                    f"{p.name} must be a bool. Received: {p.name}={value!r}"
                )
            value = bool(value)
        elif p.kind == "choice":
            if p.name == "model" and not isinstance(value, str):
                pass  # a Keras classifier object (checked by the tool)
            elif value not in p.choices:
                raise InvalidArgumentError(
                    f"{p.name} must be one of {list(p.choices)}. Received: {p.name}={value!r}"
                )
        elif p.kind == "image":
            value = _check_image(p, value)
        out[p.name] = value
    return out


# --------------------------------------------------------------------- target tools
def _channels(ctx: EditContext, content: np.ndarray) -> np.ndarray:
    """Content in the window's channels (gray: luma of RGB; colour: gray repeated)."""
    c = ctx.x0.shape[-1]
    content = content.astype(np.float32)
    if c == 1 and content.shape[-1] == 3:
        return content @ np.array([[0.299], [0.587], [0.114]], np.float32)
    if c == 3 and content.shape[-1] == 1:
        return np.repeat(content, 3, axis=-1)
    return content


def _target(ctx: EditContext, desired: np.ndarray, mask: np.ndarray | None = None) -> Prepared:
    """The paper's two-phase user-input tools (appendix B.3): the desired content inside the
    region (the current image elsewhere) projected onto the consistent set (eq. 2), then z
    fitted to it by ‖x̂ − x_target‖₁."""
    mask = ctx.mask if mask is None else mask
    blended = np.where(mask[..., None], np.clip(desired, 0.0, 255.0), ctx.x0)
    target = ctx.project(blended.astype(np.float32))
    return Prepared(_objectives().target_l1, {"target": target[None], "mask": mask}, "target")


def _brightness(ctx: EditContext, p: dict[str, Any]) -> Prepared:
    return _target(ctx, ctx.x0 + p["amount"])


def _ycc(x: np.ndarray) -> np.ndarray:
    from tfjpeg.jpeg.color import rgb_to_ycbcr

    return np.array(rgb_to_ycbcr(x[None]))[0]


def _rgb(x: np.ndarray) -> np.ndarray:
    from tfjpeg.jpeg.color import ycbcr_to_rgb

    return np.array(ycbcr_to_rgb(x[None]))[0]


def _needs_colour(ctx: EditContext, tool: str) -> None:
    if ctx.gray:
        raise InvalidArgumentError(
            f"tool {tool!r} changes the chroma channels; this file is gray (it has none)."
        )


def _hue(ctx: EditContext, p: dict[str, Any]) -> Prepared:
    _needs_colour(ctx, "hue")
    ycc = _ycc(ctx.x0)
    angle = np.deg2rad(p["degrees"])
    cb, cr = ycc[..., 1] - 128.0, ycc[..., 2] - 128.0
    ycc[..., 1] = 128.0 + np.cos(angle) * cb - np.sin(angle) * cr
    ycc[..., 2] = 128.0 + np.sin(angle) * cb + np.cos(angle) * cr
    return _target(ctx, _rgb(ycc))


def _saturation(ctx: EditContext, p: dict[str, Any]) -> Prepared:
    _needs_colour(ctx, "saturation")
    ycc = _ycc(ctx.x0)
    ycc[..., 1:] = 128.0 + p["factor"] * (ycc[..., 1:] - 128.0)
    return _target(ctx, _rgb(ycc))


def _content_in_box(ctx: EditContext, content: np.ndarray, name: str) -> np.ndarray:
    """``content`` as the region's bounding box: the box's size, or the whole image's size
    (cropped to the box)."""
    y0, x0, y1, x1 = ctx.box
    oy, ox = ctx.origin
    h, w = y1 - y0, x1 - x0
    if content.shape[:2] == ctx.image.shape[:2]:
        return content[oy + y0 : oy + y1, ox + x0 : ox + x1]
    if content.shape[:2] != (h, w):
        raise InvalidArgumentError(
            f"{name} must be the region's size {(h, w)} or the image's size "
            f"{ctx.image.shape[:2]}. Received: {name}.shape={content.shape}"
        )
    return content


def _scribble(ctx: EditContext, p: dict[str, Any]) -> Prepared:
    content = _channels(ctx, _content_in_box(ctx, p["content"], "content"))
    y0, x0, y1, x1 = ctx.box
    desired = ctx.x0.copy()
    desired[y0:y1, x0:x1] = content
    return _target(ctx, desired)


def _resized(content: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image

    if content.shape[:2] == (h, w):
        return content
    img = Image.fromarray(content[..., 0] if content.shape[-1] == 1 else content)
    out = np.asarray(img.resize((w, h), Image.Resampling.LANCZOS))
    return out if out.ndim == 3 else out[..., None]


def _imprint(ctx: EditContext, p: dict[str, Any]) -> Prepared:
    """Imprint (appendix B.3, item 3): the content resized to the region's box; with
    ``shift_search`` the sub-block shift (|dy|, |dx| ≤ max_shift pixels) whose projection moves
    the content least is used (JPEG is sensitive to shifts of less than a block)."""
    y0, x0, y1, x1 = ctx.box
    h, w = y1 - y0, x1 - x0
    content = _channels(ctx, _resized(p["content"], h, w))
    wh, ww = ctx.mask.shape
    reach = p["max_shift"] if p["shift_search"] else 0
    best = None
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            if not (y0 + dy >= 0 and y1 + dy <= wh and x0 + dx >= 0 and x1 + dx <= ww):
                continue
            mask = np.zeros_like(ctx.mask)
            mask[y0 + dy : y1 + dy, x0 + dx : x1 + dx] = ctx.mask[y0:y1, x0:x1]
            desired = ctx.x0.copy()
            desired[y0 + dy : y1 + dy, x0 + dx : x1 + dx] = content
            blended = np.where(mask[..., None], np.clip(desired, 0.0, 255.0), ctx.x0)
            # one projection round ranks the shifts; the chosen one is projected fully below
            projected = ctx.project(blended.astype(np.float32), iterations=1)
            cost = float(np.abs(projected - blended)[mask].mean())
            if best is None or cost < best[0]:
                best = (cost, desired, mask)
    return _target(ctx, best[1], best[2])


# --------------------------------------------------------------------- objective tools
def _variance(ctx: EditContext, p: dict[str, Any]) -> Prepared:
    return Prepared(
        _objectives().variance, {"delta": np.float32(p["direction"] * p["amount"])}, "variance"
    )


def _tv(ctx: EditContext, p: dict[str, Any]) -> Prepared:
    return Prepared(_objectives().total_variation, {"direction": np.float32(p["direction"])}, "tv")


def _magnitude(ctx: EditContext, p: dict[str, Any]) -> Prepared:
    gain = np.float32(1.0 + p["direction"] * p["amount"])
    return Prepared(_objectives().magnitude, {"gain": gain}, "magnitude")


def _patch(ctx: EditContext, p: dict[str, Any]) -> Prepared:
    """Desired dictionary of patches (appendix B.4): the source rectangle's 6×6 patches (stride
    2, at most 2048), mean removed (and variance normalized unless ``keep_variance``)."""
    import tensorflow as tf

    height, width = ctx.image.shape[:2]
    sy0, sx0, sy1, sx1 = (p[k] for k in ("source_y0", "source_x0", "source_y1", "source_x1"))
    if (
        not (0 <= sy0 < sy1 <= height and 0 <= sx0 < sx1 <= width)
        or min(sy1 - sy0, sx1 - sx0) < _objectives().PATCH
    ):
        raise InvalidArgumentError(
            "the source rectangle (source_y0, source_x0, source_y1, source_x1) must lie in the "
            f"{height}x{width} image and be at least {_objectives().PATCH} pixels a side. "
            f"Received: {(sy0, sx0, sy1, sx1)}"
        )
    src = ctx.image[sy0:sy1, sx0:sx1].astype(np.float32)[None]
    stride = 2
    while ((sy1 - sy0 - 6) // stride + 1) * ((sx1 - sx0 - 6) // stride + 1) > 2048:
        stride += 1
    patches = np.asarray(_objectives().mean_removed_patches(tf.constant(src), stride))
    patches = patches.reshape(-1, patches.shape[-1])
    normalize = np.float32(0.0 if p["keep_variance"] else 1.0)
    if normalize:
        patches = patches / np.sqrt((patches**2).mean(-1, keepdims=True) + 1.0)
    return Prepared(
        _objectives().patch_dictionary, {"source": patches, "normalize": normalize}, "patch"
    )


def dominant_period(signal: np.ndarray, axis: int) -> int:
    """The most prominent period (pixels) of a 2-D signal along ``axis``: the lag ≥ 2 (at most
    half the extent) of the highest local maximum of its autocorrelation (appendix B.6); 0 if
    there is none."""
    x = signal - signal.mean()
    n = x.shape[axis]
    spectrum = np.fft.rfft(x, n=2 * n, axis=axis)
    corr = np.fft.irfft(np.abs(spectrum) ** 2, axis=axis)
    corr = corr.mean(axis=1 - axis)[: n // 2 + 1]
    if corr[0] <= 0:
        return 0
    best, lag = 0.0, 0
    for k in range(2, len(corr) - 1):
        if corr[k] > corr[k - 1] and corr[k] >= corr[k + 1] and corr[k] > best:
            best, lag = corr[k], k
    return lag if best > 0.1 * corr[0] else 0


def _periodicity(ctx: EditContext, p: dict[str, Any]) -> Prepared:
    y0, x0, y1, x1 = ctx.box
    region = luma_np(ctx.x0[y0:y1, x0:x1])
    periods = []
    for axis, key, use in ((0, "period_y", "vertical"), (1, "period_x", "horizontal")):
        if p["axis"] not in (use, "both"):
            periods.append(0)
            continue
        periods.append(p[key] if p[key] > 0 else dominant_period(region, axis))
    if not any(periods):
        raise InvalidArgumentError(
            "periodicity found no period in the region; give period_y or period_x (pixels)."
        )
    return Prepared(
        _objectives().periodicity, {"periods": np.array(periods, np.int32)}, "periodicity"
    )


def luma_np(x: np.ndarray) -> np.ndarray:
    """(h, w, C) → (h, w) luma, numpy (as :func:`tfjpeg.explore.objectives.luma`)."""
    if x.shape[-1] == 1:
        return x[..., 0]
    return x @ np.array([0.299, 0.587, 0.114], np.float32)


def _diverse(ctx: EditContext, p: dict[str, Any]) -> Prepared:
    return Prepared(
        _objectives().diverse,
        {"closeness": np.float32(p["closeness"])},
        "diverse",
        z_count=p["count"],
        z_noise=0.5,
        seed=p["seed"],
    )


def _classifier(ctx: EditContext, p: dict[str, Any]) -> Prepared:
    import keras

    model = p["model"]
    if isinstance(model, str):
        from tfjpeg.models.presets import load

        model = load(model)
    if not isinstance(model, keras.Model) or len(model.input_shape) != 4:
        raise InvalidArgumentTypeError(
            "model must be a classifier name or a Keras model taking (N, h, w, 1 or 3) images. "
            f"Received: model of type {type(model).__name__}"
        )
    classes = int(model.output_shape[-1])
    if not 0 <= p["target"] < classes:
        raise InvalidArgumentError(
            f"target must be a class of the classifier, in [0, {classes - 1}]. "
            f"Received: target={p['target']}"
        )
    scale = np.float32(1.0 if p["scale"] == "0-255" else 1.0 / 255.0)
    return Prepared(
        functools.partial(_objectives().classifier_loss, model, shift=p["shift"]),
        {"box": np.array(ctx.box, np.int32), "scale": scale, "target": np.int32(p["target"])},
        f"classifier-{id(model)}-shift{p['shift']}",
        refine_steps=p["refine_steps"],
    )


def _spec(name: str, description: str, *params: ParamSpec) -> ToolSpec:
    return ToolSpec(name, description, (*params, *_COMMON))


_DIRECTION = ParamSpec("direction", "choice", 1, choices=(1, -1), help="+1 increase, -1 decrease")

TOOLS: dict[str, Tool] = {
    t.spec.name: t
    for t in (
        Tool(
            _spec(
                "brightness",
                "Make the region brighter or darker, as far as the file allows.",
                ParamSpec(
                    "amount", "float", 16.0, -255.0, 255.0, help="gray levels (negative: darker)"
                ),
            ),
            _brightness,
        ),
        Tool(
            _spec(
                "variance",
                "Raise or lower the local variance of the region's 6x6 patches (B.1).",
                _DIRECTION,
                ParamSpec("amount", "float", 100.0, 0.0, 10000.0, help="δ, gray levels²"),
            ),
            _variance,
        ),
        Tool(
            _spec(
                "tv",
                "Total variation down (piecewise smooth, -1) or up (+1) in the region (B.2).",
                dataclasses.replace(_DIRECTION, default=-1),
            ),
            _tv,
        ),
        Tool(
            _spec(
                "hue",
                "Rotate the region's hue through the chroma channels (B.3, HSV).",
                ParamSpec("degrees", "float", 30.0, -180.0, 180.0, help="hue rotation"),
            ),
            _hue,
        ),
        Tool(
            _spec(
                "saturation",
                "Scale the region's saturation through the chroma channels (B.3, HSV).",
                ParamSpec("factor", "float", 1.5, 0.0, 4.0, help="chroma gain"),
            ),
            _saturation,
        ),
        Tool(
            _spec(
                "scribble",
                "Paint user content into the region (projected onto the consistent set, then "
                "z fitted to it, B.3).",
                ParamSpec("content", "image", None, help="the region's (or the image's) size"),
            ),
            _scribble,
        ),
        Tool(
            _spec(
                "imprint",
                "Imprint an image into the region's box, at the most consistent sub-block "
                "shift (B.3).",
                ParamSpec("content", "image", None, help="resized to the region's box"),
                ParamSpec("shift_search", "bool", True, help="search sub-block shifts"),
                ParamSpec("max_shift", "int", 2, 0, 7, help="largest shift tried, pixels"),
            ),
            _imprint,
        ),
        Tool(
            _spec(
                "patch",
                "Make the region's patches resemble those of a source rectangle (B.4).",
                ParamSpec("source_y0", "int", None, 0, None, help="source top"),
                ParamSpec("source_x0", "int", None, 0, None, help="source left"),
                ParamSpec("source_y1", "int", None, 1, None, help="source bottom (excluded)"),
                ParamSpec("source_x1", "int", None, 1, None, help="source right (excluded)"),
                ParamSpec("keep_variance", "bool", True, help="also copy the source's variance"),
            ),
            _patch,
        ),
        Tool(
            _spec(
                "magnitude",
                "Amplify (+1) or attenuate (-1) the signal of the region's patches (B.5).",
                _DIRECTION,
                ParamSpec(
                    "amount", "float", 0.5, 0.0, 4.0, help="delta: patches times (1 +- delta)"
                ),
            ),
            _magnitude,
        ),
        Tool(
            _spec(
                "periodicity",
                "Encourage a periodic pattern; periods found by autocorrelation when 0 (B.6).",
                ParamSpec("axis", "choice", "both", choices=("both", "vertical", "horizontal")),
                ParamSpec("period_y", "int", 0, 0, 4096, help="vertical period, 0: auto"),
                ParamSpec("period_x", "int", 0, 0, 4096, help="horizontal period, 0: auto"),
            ),
            _periodicity,
        ),
        Tool(
            _spec(
                "diverse",
                "Random alternatives with maximal pairwise L1 distance; the first becomes the "
                "current image, the others stay in Explorer.alternatives (B.7).",
                ParamSpec("count", "int", 3, 2, 8, help="number of alternatives"),
                ParamSpec("closeness", "float", 0.0, 0.0, 10.0, help="weight of L1 to current"),
                ParamSpec("seed", "int", 0, 0, 2**31 - 1, help="random start"),
            ),
            _diverse,
        ),
        Tool(
            _spec(
                "classifier",
                "Find a consistent decoding that a classifier reads as the target class (B.8); "
                "refine_steps > 0 then searches the whole consistent set, not only the "
                "decoder's images.",
                ParamSpec("target", "int", None, 0, 999, help="class index"),
                ParamSpec(
                    "model",
                    "choice",
                    DEFAULT_CLASSIFIER,
                    choices=(DEFAULT_CLASSIFIER,),
                    help="a shipped classifier, or a Keras model (API only)",
                ),
                ParamSpec(
                    "refine_steps",
                    "int",
                    0,
                    0,
                    500,
                    help="then projected Adam on the pixels in the consistent set (not only "
                    "the decoder's images)",
                ),
                ParamSpec(
                    "refine_learning_rate",
                    "float",
                    4.0,
                    0.01,
                    64.0,
                    help="pixel step of the refinement, gray levels",
                ),
                ParamSpec(
                    "scale",
                    "choice",
                    "0-255",
                    choices=("0-255", "0-1"),
                    help="the classifier's input range",
                ),
                ParamSpec(
                    "shift",
                    "int",
                    0,
                    0,
                    8,
                    help="also read the region moved this many pixels each way (0: one view)",
                ),
            ),
            _classifier,
        ),
    )
}
