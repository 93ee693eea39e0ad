"""Where an edit acts: the region mask, and the block windows around it.

An exploration edit (Bahat & Michaeli 2021 §5, appendix B) changes the control signal z only near
the user's region, so only a window of the block grid needs the network. From the inside out
(all in luma blocks, aligned to whole MCUs so that chroma blocks are never split):

- ``zone``: where z may change, the region's blocks plus ``z_margin``;
- ``written``: the coefficients (and pixels) an edit writes back, the zone plus ``out_margin``
  (where a change of z still moves the network's output noticeably);
- ``net``: what the network sees, ``written`` plus ``context`` blocks of the file around it;
- ``render``: ``written`` plus one MCU, the crop that is projected and rounded (the chroma
  upsampling of ``written``'s edge pixels needs its neighbours).

Each is clipped to the image; a window that reaches the image's bottom or right edge keeps the
file's partial blocks there, so projecting a window is exactly projecting those blocks of the
whole image (the projection and the uint8 correction act per block and per MCU).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfjpeg.errors import InvalidArgumentError
from tfjpeg.jpeg.blocks import ceil_div

__all__ = ["Span", "Windows", "edit_windows", "region_mask"]


@dataclasses.dataclass(frozen=True)
class Span:
    """Luma blocks [r0, r1) × [c0, c1)."""

    r0: int
    r1: int
    c0: int
    c1: int

    def grown(self, blocks: int, unit: tuple[int, int], grid: tuple[int, int]) -> Span:
        """This span plus ``blocks`` on every side, aligned outwards to ``unit`` = (rows,
        cols) and clipped to the ``grid`` (hb, wb)."""
        ur, uc = unit
        hb, wb = grid
        r0 = max(0, (self.r0 - blocks) // ur * ur)
        c0 = max(0, (self.c0 - blocks) // uc * uc)
        r1 = min(hb, ceil_div(self.r1 + blocks, ur) * ur)
        c1 = min(wb, ceil_div(self.c1 + blocks, uc) * uc)
        return Span(r0, r1, c0, c1)

    def pixels(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1) pixels of the span inside a height × width image."""
        return (8 * self.r0, min(height, 8 * self.r1), 8 * self.c0, min(width, 8 * self.c1))

    def within(self, outer: Span) -> Span:
        """This span in the coordinates of ``outer`` (blocks)."""
        return Span(self.r0 - outer.r0, self.r1 - outer.r0, self.c0 - outer.c0, self.c1 - outer.c0)

    def component(self, factors: tuple[int, int], grid: tuple[int, int]) -> tuple[slice, slice]:
        """Row and column slices of a component sampled ``factors`` = (fh, fv) times less than
        the luma, with block grid ``grid``."""
        fh, fv = factors
        return (
            slice(self.r0 // fv, min(grid[0], ceil_div(self.r1, fv))),
            slice(self.c0 // fh, min(grid[1], ceil_div(self.c1, fh))),
        )


@dataclasses.dataclass(frozen=True)
class Windows:
    """The nested windows of one edit (see the module docstring)."""

    zone: Span
    written: Span
    net: Span
    render: Span


def region_mask(region, height: int, width: int, name: str = "region") -> np.ndarray:
    """The bool (height, width) mask of a region: None (the whole image), a rectangle
    (y0, x0, y1, x1) in pixels, or a bool mask of the image's size.

    Raises:
        InvalidArgumentError: anything else, an empty or out-of-image rectangle, an empty mask.
    """
    if region is None:
        return np.ones((height, width), bool)
    if isinstance(region, np.ndarray) and region.ndim == 2:
        if region.shape != (height, width):
            raise InvalidArgumentError(
                f"{name} as a mask must have the image's shape {(height, width)}. "
                f"Received: {name}.shape={region.shape}"
            )
        if region.dtype != bool:
            raise InvalidArgumentError(
                f"{name} as a mask must be a bool array. Received: dtype={region.dtype}"
            )
        if not region.any():
            raise InvalidArgumentError(
                f"{name} must select at least one pixel (the mask is empty)."
            )
        return region.copy()
    try:
        values = [int(v) for v in region]
        exact = all(int(v) == v for v in region) and not any(isinstance(v, bool) for v in region)
    except (TypeError, ValueError):
        values, exact = [], False
    if len(values) != 4 or not exact:
        raise InvalidArgumentError(
            f"{name} must be None, a rectangle (y0, x0, y1, x1) of integers or a bool mask "
            f"(height, width). Received: {name}={region!r}"
        )
    y0, x0, y1, x1 = values
    if not (0 <= y0 < y1 <= height and 0 <= x0 < x1 <= width):
        raise InvalidArgumentError(
            f"{name} (y0, x0, y1, x1) must satisfy 0 <= y0 < y1 <= {height} and "
            f"0 <= x0 < x1 <= {width}. Received: {name}={tuple(values)}"
        )
    mask = np.zeros((height, width), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def edit_windows(
    mask: np.ndarray,
    grid: tuple[int, int],
    unit: tuple[int, int],
    z_margin: int,
    out_margin: int,
    context: int,
) -> Windows:
    """The windows around a region mask on a luma block ``grid`` (hb, wb) with MCU ``unit``
    (rows, cols) = (fv, fh)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    region = Span(
        int(rows[0]) // 8, int(rows[-1]) // 8 + 1, int(cols[0]) // 8, int(cols[-1]) // 8 + 1
    )
    zone = region.grown(z_margin, unit, grid)
    written = zone.grown(out_margin, unit, grid)
    return Windows(
        zone=zone,
        written=written,
        net=written.grown(context, unit, grid),
        render=written.grown(max(unit), unit, grid),
    )
