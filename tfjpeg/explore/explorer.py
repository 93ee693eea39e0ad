"""The Explorer: interactive exploration of a JPEG file's consistent decodings (Bahat & Michaeli
2021 §5, appendix B). The web GUI and the CLI are built on this class.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from tfjpeg._checks import check_bool
from tfjpeg.errors import InvalidArgumentError, InvalidArgumentTypeError
from tfjpeg.explore.engine import DecodingState, Engine
from tfjpeg.explore.tools import TOOLS, EditContext, ToolSpec, resolve_params
from tfjpeg.explore.window import edit_windows, region_mask

__all__ = ["DEFAULT_DECODER", "ConsistencyReport", "Explorer"]

#: The explorable shipped decoder (GAN-trained: different z give visibly different decodings).
DEFAULT_DECODER = "consistent-gan"
#: Undo steps kept.
HISTORY = 64
#: Window margins (luma blocks, :func:`tfjpeg.explore.window.edit_windows`): z changes up to
#: ``Z_MARGIN`` blocks around the region, outputs are rewritten ``OUT_MARGIN`` blocks further,
#: the network sees ``CONTEXT`` blocks more of the file.
Z_MARGIN, OUT_MARGIN, CONTEXT = 1, 2, 2


@dataclasses.dataclass(frozen=True)
class ConsistencyReport:
    """How consistent an image is with the file (:func:`tfjpeg.decoders.consistency.
    consistency_report`): shares of the file's quantized coefficients that the image
    reproduces when re-encoded as uint8 exactly as libjpeg-turbo does, and at float precision;
    the consistency RMSEs; the number of coefficients; ``consistent``: every coefficient of the
    uint8 re-encoding equals the file's."""

    fraction_uint8: float
    fraction_float: float
    rmse_uint8: float
    rmse_float: float
    coefficients: int
    consistent: bool


class Explorer:
    """Explore the decodings of one JPEG file that are all consistent with it.

    The contract the GUI and CLI rely on:

    - ``Explorer(source, decoder=None, *, max_pixels=None)``: ``source`` a path or the file's
      bytes; a bad or hostile file raises the errors of :func:`tfjpeg.io.read_jpeg`
      (``InvalidJpegError``, ``UnsupportedJpegError``, ``ImageTooLargeError``); ``decoder`` a
      decoder name of the registry (None: ``"consistent-gan"``) or a
      :class:`~tfjpeg.decoders.ConsistentDecoder`; ``max_pixels`` as in :func:`tfjpeg.decode`;
      ``compiled=False`` runs every step eagerly: no ``tf.function`` tracing (which costs
      seconds per tool the first time in a process), slower edits after that.
    - ``image``: the current decoding, uint8 (H, W, 3) (a gray file gives 3 equal channels);
      starts as the decoder's z = 0 decoding.
    - ``standard_image``: libjpeg-turbo's standard decoding, uint8 (H, W, 3).
    - ``tools``: name → :class:`~tfjpeg.explore.tools.ToolSpec` (name, description, params of
      :class:`~tfjpeg.explore.tools.ParamSpec`: name, kind "float"|"int"|"choice"|"image"|
      "bool", default, minimum, maximum, choices, help). Every tool takes ``steps`` and
      ``learning_rate``.
    - ``apply(tool, region=None, *, progress=None, **params)``: region a rectangle
      (y0, x0, y1, x1) in pixels (end excluded), a bool mask (H, W), or None for the whole
      image; ``progress(fraction)`` is called after every Adam step. Returns the new current
      image (uint8 (H, W, 3)), consistent with the file. Bad tool names, regions or parameters
      raise :class:`~tfjpeg.errors.InvalidArgumentError` naming the argument.
    - ``undo()``, ``redo()`` (return the image), ``can_undo``, ``can_redo``.
    - ``alternatives``: after ``diverse``, the other decodings (uint8 images);
      ``choose_alternative(i)`` makes one current (an undoable step).
    - ``consistency()``: a :class:`ConsistencyReport` of the current image.
    - ``save_png(path, *, overwrite=False)``: atomic (:mod:`tfjpeg.io.atomic`), never replaces
      a file without ``overwrite=True``.

    How an edit works: :mod:`tfjpeg.explore.engine` (Adam on z in a window around the region,
    then the decoding core's projection and exact uint8 correction on that window);
    the objectives are in :mod:`tfjpeg.explore.objectives`, the tools in
    :mod:`tfjpeg.explore.tools`.

    Example:
        >>> ex = Explorer("photo.jpg")  # doctest: +SKIP
        >>> ex.apply("variance", (64, 64, 192, 192), direction=1)  # doctest: +SKIP
        >>> ex.consistency().consistent  # doctest: +SKIP
        True

    Reference: Bahat & Michaeli, "What's in the Image? Explorable Decoding of Compressed
    Images", CVPR 2021, §5 and appendix B.
    """

    def __init__(
        self,
        source: str | os.PathLike | bytes,
        decoder: Any = None,
        *,
        max_pixels: int | None = None,
        compiled: bool = True,
    ) -> None:
        from tfjpeg.io import read_jpeg
        from tfjpeg.io.limits import DEFAULT_DECODER_MAX_PIXELS, load_source, resolve_max_pixels

        if max_pixels is None:
            max_pixels = min(resolve_max_pixels(None), DEFAULT_DECODER_MAX_PIXELS)
        data, _ = load_source(source)
        jpeg = read_jpeg(data, max_pixels=max_pixels)
        model = self._model(DEFAULT_DECODER if decoder is None else decoder)
        self._data = data
        self._jpeg = jpeg
        self._source = None if isinstance(source, (bytes, bytearray)) else os.fspath(source)
        self._engine = Engine(model, jpeg, compiled=check_bool(compiled, "compiled"))
        hb, wb = self._engine.grid
        self._history = [self._engine.decode(np.zeros((hb, wb, 64), np.float32))]
        self._position = 0
        self._alternatives: list[DecodingState] = []
        self._standard: np.ndarray | None = None

    @staticmethod
    def _model(decoder: Any):
        from tfjpeg.decoders import ConsistentDecoder

        if isinstance(decoder, ConsistentDecoder):
            return decoder
        if not isinstance(decoder, str):
            raise InvalidArgumentTypeError(
                "decoder must be a decoder name or a ConsistentDecoder. "
                f"Received: decoder of type {type(decoder).__name__}"
            )
        from tfjpeg.models import entry, names

        if decoder not in names("decoder"):
            raise InvalidArgumentError(
                f"decoder must be one of {list(names('decoder'))}. Received: decoder={decoder!r}"
            )
        entry(decoder, family="decoder")
        return ConsistentDecoder.from_preset(decoder)

    # ------------------------------------------------------------------ views
    @staticmethod
    def _rgb(image: np.ndarray) -> np.ndarray:
        return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image.copy()

    @property
    def _state(self) -> DecodingState:
        return self._history[self._position]

    @property
    def image(self) -> np.ndarray:
        """The current decoding, uint8 (H, W, 3) (gray files: three equal channels)."""
        return self._rgb(self._state.image)

    @property
    def z(self) -> np.ndarray:
        """The current control signal, float32 (hb, wb, 64) on the luma block grid."""
        return self._state.z.copy()

    @property
    def standard_image(self) -> np.ndarray:
        """libjpeg-turbo's standard decoding (:func:`tfjpeg.io.decode_pixels`), uint8
        (H, W, 3)."""
        if self._standard is None:
            from tfjpeg.io import decode_pixels

            self._standard = decode_pixels(self._data)
        return self._rgb(self._standard)

    @property
    def tools(self) -> dict[str, ToolSpec]:
        """Tool name → :class:`~tfjpeg.explore.tools.ToolSpec`."""
        return {name: tool.spec for name, tool in TOOLS.items()}

    @property
    def alternatives(self) -> list[np.ndarray]:
        """The other decodings of the last ``diverse`` edit (uint8 (H, W, 3) each)."""
        return [self._rgb(s.image) for s in self._alternatives]

    # ------------------------------------------------------------------ history
    def _push(self, state: DecodingState) -> np.ndarray:
        self._history = [*self._history[: self._position + 1], state]
        if len(self._history) > HISTORY + 1:
            self._history = self._history[-(HISTORY + 1) :]
        self._position = len(self._history) - 1
        return self.image

    @property
    def can_undo(self) -> bool:
        return self._position > 0

    @property
    def can_redo(self) -> bool:
        return self._position < len(self._history) - 1

    def undo(self) -> np.ndarray:
        """Go back one edit (no-op at the start); returns the current image."""
        self._position = max(0, self._position - 1)
        return self.image

    def redo(self) -> np.ndarray:
        """Redo the edit undone last (no-op if none); returns the current image."""
        self._position = min(len(self._history) - 1, self._position + 1)
        return self.image

    def choose_alternative(self, index: int) -> np.ndarray:
        """Make alternative ``index`` of the last ``diverse`` edit current (undoable)."""
        if (
            isinstance(index, bool)
            or not isinstance(index, (int, np.integer))
            or not (0 <= index < len(self._alternatives))
        ):
            raise InvalidArgumentError(
                f"index must be an integer in [0, {len(self._alternatives)}). "
                f"Received: index={index!r}"
            )
        return self._push(self._alternatives[int(index)])

    # ------------------------------------------------------------------ editing
    def apply(
        self,
        tool: str,
        region: tuple[int, int, int, int] | np.ndarray | None = None,
        *,
        progress: Callable[[float], None] | None = None,
        **params: Any,
    ) -> np.ndarray:
        """Run exploration tool ``tool`` on ``region``; returns the new current image.

        Raises:
            InvalidArgumentError: unknown tool, bad region, bad parameter (named).
        """
        if not isinstance(tool, str) or tool not in TOOLS:
            raise InvalidArgumentError(
                f"tool must be one of {list(TOOLS)}. Received: tool={tool!r}"
            )
        if progress is not None and not callable(progress):
            raise InvalidArgumentTypeError(
                f"progress must be callable or None. Received: progress={progress!r}"
            )
        spec = TOOLS[tool].spec
        values = resolve_params(spec, params)
        engine = self._engine
        state = self._state
        mask = region_mask(region, engine.height, engine.width)
        windows = edit_windows(mask, engine.grid, engine.unit, Z_MARGIN, OUT_MARGIN, CONTEXT)
        net = windows.net
        y0, y1, x0, x1 = net.pixels(engine.height, engine.width)
        x0_image = state.image[y0:y1, x0:x1].astype(np.float32)
        window_mask = mask[y0:y1, x0:x1]
        ctx = EditContext(
            x0=x0_image,
            mask=window_mask,
            origin=(y0, x0),
            image=state.image,
            project=lambda img, **kw: engine.project(img, net, **kw),
            gray=engine.gray,
        )
        prepared = TOOLS[tool].prepare(ctx, values)
        inputs = dict(prepared.inputs)
        inputs["mask"] = inputs.get("mask", window_mask).astype(np.float32)[None, ..., None]
        inputs["x0"] = x0_image[None]
        z_init = None
        if prepared.z_count > 1:
            rng = np.random.default_rng(prepared.seed)
            z_cur = state.z[net.r0 : net.r1, net.c0 : net.c1]
            z_init = z_cur[None] + prepared.z_noise * rng.standard_normal(
                (prepared.z_count, *z_cur.shape)
            ).astype(np.float32)
        total = values["steps"] + prepared.refine_steps

        def phase(done: int, steps: int):
            if progress is None:
                return None
            return lambda f: progress((done + f * steps) / total)

        z, coefs, _ = engine.optimize(
            f"{tool}:{prepared.key}",
            prepared.objective,
            state,
            net,
            windows.zone,
            inputs,
            z_init,
            values["steps"],
            values["learning_rate"],
            phase(0, values["steps"]),
        )
        results = [
            engine.write_back(
                state,
                z[i],
                tuple(c[i] for c in coefs),
                net,
                windows.zone,
                windows.written,
                windows.render,
            )
            for i in range(z.shape[0])
        ]
        if prepared.refine_steps:
            pixels = engine.refine_pixels(
                f"{tool}:{prepared.key}",
                prepared.objective,
                results[0].image[y0:y1, x0:x1].astype(np.float32),
                net,
                inputs,
                prepared.refine_steps,
                values["refine_learning_rate"],
                phase(values["steps"], prepared.refine_steps),
            )
            refined = engine.coefficients_of(pixels, net)
            results[0] = engine.write_back(
                results[0], z[0], refined, net, windows.zone, windows.written, windows.render
            )
        self._alternatives = results[1:]
        return self._push(results[0])

    # ------------------------------------------------------------------ results
    def consistency(self) -> ConsistencyReport:
        """How consistent the current image is with the file."""
        from tfjpeg.decoders.consistency import consistency_report

        report = consistency_report(self._state.image, self._jpeg)
        return ConsistencyReport(
            fraction_uint8=report["fraction_uint8"],
            fraction_float=report["fraction_float"],
            rmse_uint8=report["rmse_uint8"],
            rmse_float=report["rmse_float"],
            coefficients=int(report["coefficients"]),
            consistent=report["fraction_uint8"] == 1.0,
        )

    def save_png(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Write the current image as a PNG, atomically; an existing file is replaced only
        with ``overwrite=True``, and the input JPEG never."""
        from PIL import Image

        from tfjpeg.io.atomic import save_bytes_atomic

        overwrite = check_bool(overwrite, "overwrite")
        image = self._state.image
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, "PNG")
        save_bytes_atomic(path, buffer.getvalue(), overwrite=overwrite, source=self._source)
