"""The one table of chroma layouts: names, components and sampling factors.

A layout says how many components a JPEG has and how much its two chroma components are
downsampled relative to the luma: (fh, fv), the horizontal and vertical factor. These are the
layouts libjpeg writes (``jpeg_set_colorspace`` and ``comp_info[0].h_samp_factor`` /
``v_samp_factor``): gray, 4:4:4, 4:2:2, 4:4:0 and 4:2:0. libjpeg also *reads* 4:1:1 and 4:1:0
files; they have names here too (:data:`READ_ONLY_LAYOUTS`) so a file can say what it is, but no
part of tfjpeg writes or decodes them. Every other module reads its names and factors from here,
and keeps only its own subset of names (what its encoder or decoder supports).

Reference: ITU-T T.81 A.1.1 (sampling factors); libjpeg ``jcparam.c`` / ``jpeg_set_defaults``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from tfjpeg._checks import check_choice

__all__ = [
    "CODEC_SUBSAMPLINGS",
    "LAYOUTS",
    "READ_ONLY_LAYOUTS",
    "Layout",
    "chroma_factors",
    "component_factors",
    "get_layout",
    "layout_from_sampling",
]


@dataclasses.dataclass(frozen=True)
class Layout:
    """One chroma layout.

    Attributes:
        name: "gray", "444", "422", "440" or "420" (the names used throughout tfjpeg).
        label: the usual J:a:b spelling, e.g. "4:2:0" ("gray" for one component).
        num_components: 1 (gray) or 3 (Y, Cb, Cr).
        chroma: (fh, fv) chroma downsampling factors, horizontal and vertical; (1, 1) for gray.
    """

    name: str
    label: str
    num_components: int
    chroma: tuple[int, int]

    @property
    def factors(self) -> tuple[tuple[int, int], ...]:
        """(fh, fv) downsampling factors per component: luma (1, 1), then the chroma ones."""
        return ((1, 1),) if self.num_components == 1 else ((1, 1), self.chroma, self.chroma)

    @property
    def sampling(self) -> tuple[tuple[int, int], ...]:
        """The SOF header's (h, v) sampling factors per component that give this layout."""
        fh, fv = self.chroma
        return ((1, 1),) if self.num_components == 1 else ((fh, fv), (1, 1), (1, 1))


def _table(*layouts: Layout) -> dict[str, Layout]:
    return {lay.name: lay for lay in layouts}


#: The layouts libjpeg writes, by name.
LAYOUTS: dict[str, Layout] = _table(
    Layout("gray", "gray", 1, (1, 1)),
    Layout("444", "4:4:4", 3, (1, 1)),
    Layout("422", "4:2:2", 3, (2, 1)),
    Layout("440", "4:4:0", 3, (1, 2)),
    Layout("420", "4:2:0", 3, (2, 2)),
)

#: Colour layouts libjpeg reads but tfjpeg never writes; named only to describe a file.
READ_ONLY_LAYOUTS: dict[str, Layout] = _table(
    Layout("411", "4:1:1", 3, (4, 1)),
    Layout("410", "4:1:0", 3, (4, 2)),
)

#: Colour layouts the codec (:mod:`tfjpeg.jpeg.codec`, its exact integer downsampling included),
#: the standard encoders of :mod:`tfjpeg.io` and the command line write.
CODEC_SUBSAMPLINGS: tuple[str, ...] = ("444", "422", "420")

_BY_CHROMA = {
    lay.chroma: lay.name
    for lay in (*LAYOUTS.values(), *READ_ONLY_LAYOUTS.values())
    if lay.num_components == 3
}


def get_layout(name: str, supported: Sequence[str] | None = None) -> Layout:
    """The :class:`Layout` called ``name``, one of ``supported`` (default: all of :data:`LAYOUTS`).

    Raises:
        InvalidArgumentError: an unknown or unsupported name (a ``ValueError``).
    """
    check_choice(name, tuple(LAYOUTS) if supported is None else supported, "subsampling")
    return LAYOUTS[name]


def chroma_factors(name: str) -> tuple[int, int]:
    """(fh, fv) chroma downsampling factors of a layout name ((1, 1) for "gray")."""
    return get_layout(name).chroma


def component_factors(
    num_channels: int, subsampling: str, supported: Sequence[str] = CODEC_SUBSAMPLINGS
) -> list[tuple[int, int]]:
    """Per-component downsampling factors (fh, fv): luma (1, 1), chroma by ``subsampling``.

    One component (gray) always gives [(1, 1)], whatever ``subsampling`` says.
    """
    if num_channels == 1:
        return [(1, 1)]
    return list(get_layout(subsampling, supported).factors)


def layout_from_sampling(sampling: Sequence[Sequence[int]]) -> str:
    """The layout name of a file's per-component (h, v) sampling factors.

    "gray" for one component; the name from :data:`LAYOUTS` or :data:`READ_ONLY_LAYOUTS` when
    both chroma components share their factors and these divide the luma's; otherwise the factors
    spelled out as "HxV,HxV,HxV".

    Example:
        >>> layout_from_sampling(((2, 2), (1, 1), (1, 1)))
        '420'
    """
    sampling = tuple((int(h), int(v)) for h, v in sampling)
    if len(sampling) == 1:
        return "gray"
    (hy, vy), (hb, vb), (hr, vr) = sampling
    if (hb, vb) == (hr, vr) and hy % hb == 0 and vy % vb == 0:
        name = _BY_CHROMA.get((hy // hb, vy // vb))
        if name is not None:
            return name
    return ",".join(f"{h}x{v}" for h, v in sampling)
