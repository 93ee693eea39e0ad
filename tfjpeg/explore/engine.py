"""The exploration engine: z* = argmin_z f(ψ(x_Q, z)) by Adam on a window of the block grid.

Bahat & Michaeli 2021 §5: every tool solves ``z* = argmin_z f(ψ(x_Q, z))`` for an objective f
on the decoded image inside the user's region, with Adam, and the result ψ(x_Q, z*) is
consistent with the file. To be interactive on a CPU the engine runs the network only on a
window around the region (:mod:`tfjpeg.explore.window`), and keeps the decoding *outside* that
window exactly as it was. Inside, the new coefficients are the current ones plus the change the
new z makes to the network's output on the window,

    X̂(z) = X̂_current + ψ_window(x_Q, z) − ψ_window(x_Q, z_current),

so the window's own edge (where the network sees zero padding instead of the rest of the file)
cancels out to first order. The window's final image then goes through the decoding core's
projection and exact uint8 correction (:func:`tfjpeg.decoders.consistency.project_tensors`,
:func:`tfjpeg.decoders.exact.correct_uint8`, as :func:`tfjpeg.decoders.core.decode_core`), so
every edit's pixels re-encode to exactly the file's coefficients.

The compiled steps (one ``tf.function`` per model, chroma layout and objective, with
``reduce_retracing`` so one trace serves every window size) are cached at module level and shared
by every :class:`~tfjpeg.explore.Explorer` of the same model.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tfjpeg.decoders.consistency import project_tensors
from tfjpeg.decoders.core import PROJECTION_ITERATIONS, PROJECTION_MARGIN
from tfjpeg.decoders.exact import CORRECTION_ITERATIONS, correct_uint8
from tfjpeg.decoders.geometry import chroma_factors, image_from_coefficients
from tfjpeg.decoders.inputs import model_inputs
from tfjpeg.decoders.tiling import TILE_BLOCKS, tiled_coefficients
from tfjpeg.explore.window import Span
from tfjpeg.io.coefficients import JpegCoefficients

__all__ = ["ADAM_BETAS", "DecodingState", "Engine", "Objective"]

#: Adam's β₁, β₂ (the paper's, appendix E) and ε.
ADAM_BETAS = (0.9, 0.999)
_ADAM_EPSILON = 1e-8

#: An objective: (decoded window images float32 (N, h, w, C) in [0, 255], its inputs) → loss.
Objective = Callable[[tf.Tensor, dict[str, tf.Tensor]], tf.Tensor]

_cache: dict[tuple, Any] = {}
_lock = threading.Lock()


def _cached(key: tuple, build: Callable[[], Any]) -> Any:
    with _lock:
        if key not in _cache:
            _cache[key] = build()
        return _cache[key]


@dataclasses.dataclass(frozen=True)
class DecodingState:
    """One decoding of the file: the control signal, the network's coefficients, the pixels.

    ``z`` float32 (hb, wb, 64); ``coefficients`` float32 (hb, wb, 8, 8) per component
    (quantized units, before the projection); ``image`` uint8 (H, W, C), C = 3 or 1.
    """

    z: np.ndarray
    coefficients: tuple[np.ndarray, ...]
    image: np.ndarray


class Engine:
    """A file, a decoder and the compiled pieces of an edit (network on a window, Adam step,
    projection + uint8). :class:`~tfjpeg.explore.Explorer` holds one."""

    def __init__(self, model, jpeg: JpegCoefficients, compiled: bool = True) -> None:
        self.model = model
        self.compiled = compiled
        self.jpeg = jpeg
        self.gray = jpeg.num_components == 1
        # UnsupportedJpegError for a layout the decoders do not handle (e.g. 4:1:1)
        self.factors = (1, 1) if self.gray else chroma_factors(jpeg.subsampling)
        self.layout = "gray" if self.gray else jpeg.subsampling
        self.height, self.width = jpeg.height, jpeg.width
        self.components = tuple(c.astype(np.float32) for c in jpeg.components)
        tables = jpeg.component_tables.astype(np.float32)
        self.tables = np.repeat(tables, 3, axis=0)[:3] if self.gray else tables
        self.grid = self.components[0].shape[:2]
        self.unit = (self.factors[1], self.factors[0])  # MCU (rows, cols) in luma blocks
        self._tables_t = tf.constant(self.tables)

    def _compiled(self, key: tuple, fn: Callable) -> Callable:
        """``fn`` as a shared ``tf.function`` (one trace for every window size), or itself
        when the engine runs eagerly (no tracing: slower edits, a faster start)."""
        if not self.compiled:
            return fn
        return _cached(key, lambda: tf.function(fn, reduce_retracing=True, autograph=False))

    # ------------------------------------------------------------------ geometry
    def component_factors(self, c: int) -> tuple[int, int]:
        return (1, 1) if c == 0 else self.factors

    def crop_components(self, arrays, span: Span) -> tuple[np.ndarray, ...]:
        """Per-component (hb, wb, ...) arrays cropped to the blocks under ``span``."""
        out = []
        for c, a in enumerate(arrays):
            rows, cols = span.component(self.component_factors(c), a.shape[:2])
            out.append(a[rows, cols])
        return tuple(out)

    def size_of(self, span: Span) -> tuple[int, int]:
        y0, y1, x0, x1 = span.pixels(self.height, self.width)
        return int(y1 - y0), int(x1 - x0)

    # ------------------------------------------------------------------ compiled pieces
    def _network(self):
        model, layout = self.model, self.layout

        def network(comps, tables, height, width, z):
            n = tf.shape(z)[0]
            feed = [tf.repeat(c[None], n, axis=0) for c in comps]
            batch_tables = tf.repeat(tables[None], n, axis=0)
            out = model(
                model_inputs(feed, batch_tables, height, width, z),
                training=False,
                subsampling=layout,
            )
            return tuple(out["coefficients"])

        return network

    def network_on(self, span: Span, z: np.ndarray) -> tuple[np.ndarray, ...]:
        """The network's coefficients (N, ...) per component on ``span`` for z (N, hb, wb, 64)."""
        fn = self._compiled(("network", self.model, self.layout), self._network())
        h, w = self.size_of(span)
        comps = self.crop_components(self.components, span)
        out = fn(
            tuple(tf.constant(c) for c in comps),
            self._tables_t,
            tf.constant(h),
            tf.constant(w),
            tf.constant(z, tf.float32),
        )
        return tuple(c.numpy() for c in out)

    def full_coefficients(self, z: np.ndarray) -> tuple[np.ndarray, ...]:
        """The network's coefficients of the whole file: one pass (the window network, traced
        once for every edit too) when it fits in one tile, else tile by tile (bounded memory;
        the same coefficients, :func:`~tfjpeg.decoders.tiling.tiled_coefficients`)."""
        if max(self.grid) <= TILE_BLOCKS:
            whole = Span(0, self.grid[0], 0, self.grid[1])
            return tuple(c[0] for c in self.network_on(whole, z[None]))
        model, layout, factors = self.model, self.layout, self.factors

        def full(comps, tables, height, width, z):
            return tiled_coefficients(model, list(comps), tables, height, width, factors, z, layout)

        fn = self._compiled(("full", model, layout), full)
        out = fn(
            tuple(tf.constant(c) for c in self.components),
            self._tables_t,
            tf.constant(self.height),
            tf.constant(self.width),
            tf.constant(z),
        )
        return tuple(c.numpy()[0] for c in out)

    def render(self, coefficients, span: Span) -> np.ndarray:
        """uint8 (h, w, C) pixels of ``span`` from its coefficients: image, projection onto the
        file's consistent set, exact uint8 correction (as :func:`~tfjpeg.decoders.core.
        decode_core`)."""
        factors = self.factors

        def render(coefs, comps, tables, height, width):
            fh, fv = factors
            decoded = image_from_coefficients(
                [c[None] for c in coefs], tables[None], height, width, fh, fv
            )["decoded"][0]
            decoded = project_tensors(
                decoded,
                list(comps),
                tables,
                height,
                width,
                factors,
                margin=PROJECTION_MARGIN,
                iterations=PROJECTION_ITERATIONS,
            )
            return correct_uint8(
                decoded, list(comps), tables, height, width, factors, CORRECTION_ITERATIONS
            )

        fn = self._compiled(("render", self.layout), render)
        h, w = self.size_of(span)
        comps = self.crop_components(self.components, span)
        out = fn(
            tuple(tf.constant(c, tf.float32) for c in coefficients),
            tuple(tf.constant(c) for c in comps),
            self._tables_t,
            tf.constant(h),
            tf.constant(w),
        )
        return out.numpy().astype(np.uint8)

    def project(
        self, image: np.ndarray, span: Span, iterations: int = PROJECTION_ITERATIONS
    ) -> np.ndarray:
        """Float (h, w, C) pixels of ``span`` projected onto the file's consistent set (eq. 2
        of the paper, alternating with clipping to [0, 255] at most ``iterations`` times)."""
        factors = self.factors

        def project(image, comps, tables, height, width, iterations):
            # a size-free shape: the projection loop's planes have tensor sizes
            image = tf.compat.v1.placeholder_with_default(image, [None, None, image.shape[-1]])
            return project_tensors(
                image,
                list(comps),
                tables,
                height,
                width,
                factors,
                margin=PROJECTION_MARGIN,
                iterations=iterations,
            )

        fn = self._compiled(("project", self.layout), project)
        h, w = self.size_of(span)
        comps = self.crop_components(self.components, span)
        out = fn(
            tf.constant(image, tf.float32),
            tuple(tf.constant(c) for c in comps),
            self._tables_t,
            tf.constant(h),
            tf.constant(w),
            tf.constant(int(iterations)),
        )
        return out.numpy()

    def decode(self, z: np.ndarray) -> DecodingState:
        """The whole file decoded with control signal z (hb, wb, 64)."""
        coefs = self.full_coefficients(z.astype(np.float32))
        whole = Span(0, self.grid[0], 0, self.grid[1])
        return DecodingState(
            z=z.astype(np.float32), coefficients=coefs, image=self.render(coefs, whole)
        )

    # ------------------------------------------------------------------ optimization
    def _step(self, name: str, objective: Objective):
        network = self._network()
        betas = ADAM_BETAS
        fh, fv = self.factors

        def step(z, m, v, t, lr, zmask, comps, tables, height, width, base, ref, inputs):
            with tf.GradientTape() as tape:
                tape.watch(z)
                coefs = network(comps, tables, height, width, z)
                coefs = [b[None] + c - r for b, c, r in zip(base, coefs, ref, strict=True)]
                x = image_from_coefficients(coefs, tables[None], height, width, fh, fv)["decoded"]
                loss = objective(x, inputs)
            g = tape.gradient(loss, z) * zmask
            m = betas[0] * m + (1.0 - betas[0]) * g
            v = betas[1] * v + (1.0 - betas[1]) * tf.square(g)
            m_hat = m / (1.0 - betas[0] ** t)
            v_hat = v / (1.0 - betas[1] ** t)
            z = z - lr * m_hat / (tf.sqrt(v_hat) + _ADAM_EPSILON)
            return z, m, v, loss

        return self._compiled(("step", self.model, self.layout, name), step)

    def optimize(
        self,
        name: str,
        objective: Objective,
        state: DecodingState,
        net: Span,
        zone: Span,
        inputs: dict[str, Any],
        z_init: np.ndarray | None,
        steps: int,
        learning_rate: float,
        progress: Callable[[float], None] | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...], list[float]]:
        """Adam on z inside ``zone`` for ``objective`` on the window ``net``.

        Returns:
            (z (N, hb, wb, 64) of the window, the window's coefficients per component
            (N, hb, wb, 8, 8) for that z, the loss of every step).
        """
        step = self._step(name, objective)
        z_current = state.z[net.r0 : net.r1, net.c0 : net.c1][None]
        base = self.crop_components(state.coefficients, net)
        ref = self.network_on(net, z_current)
        z0 = z_current if z_init is None else z_init
        zmask = np.zeros((*z_current.shape[:3], 1), np.float32)
        inner = zone.within(net)
        zmask[:, inner.r0 : inner.r1, inner.c0 : inner.c1] = 1.0
        h, w = self.size_of(net)
        comps = tuple(tf.constant(c) for c in self.crop_components(self.components, net))
        base_t = tuple(tf.constant(b, tf.float32) for b in base)
        ref_t = tuple(tf.constant(r, tf.float32) for r in ref)
        inputs_t = {k: tf.constant(v) for k, v in inputs.items()}
        z = tf.constant(z0, tf.float32)
        m = tf.zeros_like(z)
        v = tf.zeros_like(z)
        zmask_t = tf.constant(zmask)
        lr = tf.constant(float(learning_rate))
        h_t, w_t = tf.constant(h), tf.constant(w)
        losses = []
        for i in range(steps):
            z, m, v, loss = step(
                z,
                m,
                v,
                tf.constant(float(i + 1)),
                lr,
                zmask_t,
                comps,
                self._tables_t,
                h_t,
                w_t,
                base_t,
                ref_t,
                inputs_t,
            )
            losses.append(float(loss))
            if progress is not None:
                progress((i + 1) / steps)
        z = z.numpy()
        out = self.network_on(net, z)
        coefs = tuple(b[None] + c - r for b, c, r in zip(base, out, ref, strict=True))
        return z, coefs, losses

    def coefficients_of(self, image: np.ndarray, span: Span) -> tuple[np.ndarray, ...]:
        """Quantized-unit coefficients (hb, wb, 8, 8) per component of float pixels (h, w, C)
        of ``span``: the encoder's colour conversion, edge padding, box downsampling and DCT
        (float), unrounded (as :func:`tfjpeg.decoders.consistency.requantize`, on a window)."""
        from tfjpeg.decoders.geometry import downsample_box, plane_to_coefficients
        from tfjpeg.jpeg.blocks import ceil_div, pad_edges
        from tfjpeg.jpeg.color import rgb_to_ycbcr

        x = tf.constant(image, tf.float32)[None]
        planes = x if self.gray else rgb_to_ycbcr(x)
        h, _ = self.size_of(span)
        out = []
        for c, comp in enumerate(self.crop_components(self.components, span)):
            fh, fv = self.component_factors(c)
            hb, wb = comp.shape[:2]
            plane = pad_edges(planes[..., c : c + 1], ceil_div(h, fv) * fv, wb * 8 * fh)[..., 0]
            plane = downsample_box(plane, fh, fv)
            plane = pad_edges(plane[..., None], hb * 8, wb * 8)[..., 0]
            out.append(plane_to_coefficients(plane, self._tables_t[c : c + 1])[0].numpy())
        return tuple(out)

    def refine_pixels(
        self,
        name: str,
        objective: Objective,
        image: np.ndarray,
        span: Span,
        inputs: dict[str, Any],
        steps: int,
        learning_rate: float,
        progress: Callable[[float], None] | None = None,
    ) -> np.ndarray:
        """Projected Adam on the pixels (h, w, C) of ``span`` inside ``inputs["mask"]``: each
        step moves the pixels along the objective's gradient, then projects them onto the
        file's consistent set (eq. 2, with clipping). Reaches every consistent decoding, not
        only the network's (less natural ones too). Returns the float pixels."""

        def step(x, m, v, t, lr, inputs):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = objective(x, inputs)
            g = tape.gradient(loss, x) * inputs["mask"]
            m = ADAM_BETAS[0] * m + (1.0 - ADAM_BETAS[0]) * g
            v = ADAM_BETAS[1] * v + (1.0 - ADAM_BETAS[1]) * tf.square(g)
            m_hat = m / (1.0 - ADAM_BETAS[0] ** t)
            v_hat = v / (1.0 - ADAM_BETAS[1] ** t)
            return x - lr * m_hat / (tf.sqrt(v_hat) + _ADAM_EPSILON), m, v

        fn = self._compiled(("pixels", self.layout, name), step)
        inputs_t = {k: tf.constant(v) for k, v in inputs.items()}
        x = image.astype(np.float32)[None]
        m = v = tf.zeros_like(x)
        lr = tf.constant(float(learning_rate))
        for i in range(steps):
            x, m, v = fn(tf.constant(x), m, v, tf.constant(float(i + 1)), lr, inputs_t)
            x = self.project(x.numpy()[0], span)[None]
            if progress is not None:
                progress((i + 1) / steps)
        return x[0]

    def write_back(
        self,
        state: DecodingState,
        z: np.ndarray,
        coefs,
        net: Span,
        zone: Span,
        written: Span,
        render: Span,
    ) -> DecodingState:
        """A new state: ``state`` with z in ``zone`` and the coefficients of ``written`` from
        one optimized window (z (hb, wb, 64), coefficients per component (hb, wb, 8, 8) of
        ``net``), and the pixels of ``written`` rendered again (projected, uint8)."""
        new_z = state.z.copy()
        inner = zone.within(net)
        new_z[zone.r0 : zone.r1, zone.c0 : zone.c1] = z[inner.r0 : inner.r1, inner.c0 : inner.c1]
        new_coefs = []
        for c, (full, window) in enumerate(zip(state.coefficients, coefs, strict=True)):
            f = self.component_factors(c)
            rows, cols = written.component(f, full.shape[:2])
            nrows, ncols = net.component(f, full.shape[:2])
            updated = full.copy()
            updated[rows, cols] = window[
                rows.start - nrows.start : rows.stop - nrows.start,
                cols.start - ncols.start : cols.stop - ncols.start,
            ]
            new_coefs.append(updated)
        pixels = self.render(self.crop_components(new_coefs, render), render)
        image = state.image.copy()
        y0, y1, x0, x1 = written.pixels(self.height, self.width)
        ry0, _, rx0, _ = render.pixels(self.height, self.width)
        image[y0:y1, x0:x1] = pixels[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0]
        return DecodingState(z=new_z, coefficients=tuple(new_coefs), image=image)
