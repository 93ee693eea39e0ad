"""The container of a JPEG file's quantized DCT coefficients, tables and geometry.

:class:`JpegCoefficients` is what :func:`tfjpeg.io.read_jpeg` returns and
:func:`tfjpeg.io.encode_coefficients` writes; editors and decoders build one to hand back a real
file. It validates its fields on construction (shapes, ranges, sampling factors, T.81 limits).

Reference: ITU-T T.81 A.1.1 (sampling factors, MCUs), B.2.3 (at most 10 blocks per MCU).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tfjpeg.errors import InvalidArgumentError
from tfjpeg.io.markers import COLOR_SPACES, LIBJPEG_MAX_DIMENSION
from tfjpeg.jpeg.layout import layout_from_sampling

__all__ = ["JpegCoefficients"]


@dataclasses.dataclass(frozen=True, eq=False)
class JpegCoefficients:
    """The quantized DCT coefficients, tables and geometry of a JPEG file.

    ``components[c]`` is exactly what ``jpeglib.read_dct`` returns for component c (Y, Cb, Cr):
    int16 of shape (height_in_blocks, width_in_blocks, 8, 8), each block in natural row-major order
    (``block[u, v]``: u vertical, v horizontal frequency), *quantized* (multiply by the table to get
    DCT values). The arrays hold only the component's real blocks, libjpeg's ``height_in_blocks``
    × ``width_in_blocks`` = :meth:`real_block_shape`, and **not** the dummy blocks that pad the
    last MCU row/column of interleaved scans: a 100×100 4:2:0 image has 13×13 Y blocks (not 14×14)
    and 7×7 blocks per chroma component. :meth:`padded_block_shape` gives the MCU-padded size; a
    writer fills the dummy blocks itself (DC of the neighbour, AC zero, as libjpeg does).

    The dataclass is frozen (fields cannot be reassigned); the arrays are ordinary numpy arrays, so
    copy them before editing in place. Construct one by hand to write new coefficients with
    :func:`encode_coefficients`; shapes and ranges are validated.

    Attributes:
        components: 1 (grayscale) or 3 (Y, Cb, Cr; R, G, B if ``color_space`` is "rgb") int16
            arrays (Hb, Wb, 8, 8).
        tables: uint16 (K, 8, 8) quantization tables in natural order, 1 ≤ K ≤ 3, one per DQT
            table slot used, in order of first use (for IJG-style files: [luma, chroma], even
            when they are equal, as at quality 100).
        table_index: for each component, the index into ``tables`` of its table.
        sampling: (h, v) sampling factors per component, as in the SOF header.
        height: image height in pixels.
        width: image width in pixels.
        progressive: whether the file was progressive (the coefficients do not depend on it).
        color_space: what the components are, as libjpeg decides from the header
            (:func:`tfjpeg.io.markers.libjpeg_color_space`): ``"gray"`` (1 component),
            ``"ycbcr"`` (the usual JFIF file) or ``"rgb"`` (an RGB-coded file: components R, G,
            B without the colour transform, e.g. ``cjpeg -rgb``). None (the default when
            constructing one) means ``"gray"`` for 1 component and ``"ycbcr"`` for 3. Code that
            assumes YCbCr (the learned decoders, the pixel-domain codec) must check it.

    Example:
        >>> coeffs = read_jpeg("photo.jpg")  # doctest: +SKIP
        >>> coeffs.subsampling, coeffs.components[0].shape  # doctest: +SKIP
        ('420', (64, 96, 8, 8))
        >>> same = read_jpeg(encode_coefficients(coeffs))  # doctest: +SKIP
    """

    components: tuple[np.ndarray, ...]
    tables: np.ndarray
    table_index: tuple[int, ...]
    sampling: tuple[tuple[int, int], ...]
    height: int
    width: int
    progressive: bool = False
    color_space: str | None = None

    def __post_init__(self) -> None:
        comps = tuple(_as_int16_blocks(c, i) for i, c in enumerate(self.components))
        if len(comps) not in (1, 3):
            raise InvalidArgumentError(
                "components must hold 1 (grayscale) or 3 (Y, Cb, Cr) arrays. "
                f"Received: len(components)={len(comps)}"
            )
        tables = np.asarray(self.tables)
        if tables.ndim == 2:
            tables = tables[None]
        if tables.ndim != 3 or tables.shape[1:] != (8, 8) or not 1 <= tables.shape[0] <= 3:
            raise InvalidArgumentError(
                "tables must have shape (K, 8, 8) with K in 1..3. "
                f"Received: tables.shape={tables.shape}"
            )
        if tables.dtype.kind not in "iu" or tables.min() < 1 or tables.max() > 65535:
            raise InvalidArgumentError("tables must be integers in [1, 65535].")
        table_index = tuple(int(i) for i in self.table_index)
        if len(table_index) != len(comps) or any(not 0 <= i < len(tables) for i in table_index):
            raise InvalidArgumentError(
                f"table_index must give one index in [0, {len(tables)}) per component. "
                f"Received: table_index={self.table_index}"
            )
        sampling = tuple((int(h), int(v)) for h, v in self.sampling)
        if len(sampling) != len(comps) or any(
            not (1 <= h <= 4 and 1 <= v <= 4) for h, v in sampling
        ):
            raise InvalidArgumentError(
                "sampling must give (h, v) factors in 1..4 per component. "
                f"Received: sampling={self.sampling}"
            )
        hmax = max(h for h, _ in sampling)
        vmax = max(v for _, v in sampling)
        if len(sampling) > 1 and sum(h * v for h, v in sampling) > 10:
            raise InvalidArgumentError(
                "an MCU holds at most 10 blocks (sum of h·v over the components, T.81 B.2.3). "
                f"Received: sampling={sampling}"
            )
        if any(hmax % h or vmax % v for h, v in sampling):
            raise InvalidArgumentError(
                f"sampling factors must divide the largest ones. Received: sampling={sampling}"
            )
        height, width = int(self.height), int(self.width)
        if not (1 <= height <= LIBJPEG_MAX_DIMENSION and 1 <= width <= LIBJPEG_MAX_DIMENSION):
            raise InvalidArgumentError(
                f"height and width must be in 1..{LIBJPEG_MAX_DIMENSION}. "
                f"Received: height={self.height}, width={self.width}"
            )
        object.__setattr__(self, "components", comps)
        object.__setattr__(self, "tables", tables.astype(np.uint16))
        object.__setattr__(self, "table_index", table_index)
        object.__setattr__(self, "sampling", sampling)
        object.__setattr__(self, "height", height)
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "progressive", bool(self.progressive))
        color_space = self.color_space
        if color_space is None:
            color_space = "gray" if len(comps) == 1 else "ycbcr"
        allowed = ("gray",) if len(comps) == 1 else tuple(c for c in COLOR_SPACES if c != "gray")
        if not isinstance(color_space, str) or color_space not in allowed:
            raise InvalidArgumentError(
                f"color_space must be one of {allowed} for {len(comps)} component(s). "
                f"Received: color_space={self.color_space!r}"
            )
        object.__setattr__(self, "color_space", color_space)
        for c, comp in enumerate(comps):
            if comp.shape[:2] != self.real_block_shape(c):
                raise InvalidArgumentError(
                    f"component {c} must have {self.real_block_shape(c)} blocks for a "
                    f"{width}x{height} image with sampling {sampling}. Received: "
                    f"components[{c}].shape={comp.shape}"
                )

    @property
    def num_components(self) -> int:
        """1 for grayscale, 3 for YCbCr or RGB."""
        return len(self.components)

    @property
    def subsampling(self) -> str:
        """Chroma subsampling name: "gray", "444", "422", "420", "440", "411", "410".

        Other layouts are spelled out as "HxV,HxV,HxV" (the sampling factors).
        """
        return layout_from_sampling(self.sampling)

    @property
    def component_tables(self) -> np.ndarray:
        """uint16 (num_components, 8, 8): the table of each component (``tables[table_index]``)."""
        return self.tables[list(self.table_index)]

    def real_block_shape(self, c: int) -> tuple[int, int]:
        """Blocks of component ``c`` that hold image data: ⌈⌈H·v/vmax⌉/8⌉ × ⌈⌈W·h/hmax⌉/8⌉.

        For a single-component (grayscale) image the factors are irrelevant: ⌈H/8⌉ × ⌈W/8⌉.
        """
        if self.num_components == 1:
            return (math.ceil(self.height / 8), math.ceil(self.width / 8))
        h, v = self.sampling[c]
        hmax = max(s[0] for s in self.sampling)
        vmax = max(s[1] for s in self.sampling)
        return (
            math.ceil(math.ceil(self.height * v / vmax) / 8),
            math.ceil(math.ceil(self.width * h / hmax) / 8),
        )

    def padded_block_shape(self, c: int) -> tuple[int, int]:
        """Blocks of component ``c`` including the MCU padding of interleaved scans.

        (MCU rows × v, MCU columns × h) with MCU = 8·vmax × 8·hmax pixels; equal to
        :meth:`real_block_shape` for grayscale images.
        """
        if self.num_components == 1:
            return self.real_block_shape(c)
        h, v = self.sampling[c]
        hmax = max(s[0] for s in self.sampling)
        vmax = max(s[1] for s in self.sampling)
        return (math.ceil(self.height / (8 * vmax)) * v, math.ceil(self.width / (8 * hmax)) * h)


def _as_int16_blocks(comp, index: int) -> np.ndarray:
    arr = np.asarray(comp)
    if arr.ndim != 4 or arr.shape[2:] != (8, 8):
        raise InvalidArgumentError(
            f"components[{index}] must have shape (height_in_blocks, width_in_blocks, 8, 8). "
            f"Received: shape={arr.shape}"
        )
    if arr.dtype != np.int16:
        if arr.dtype.kind not in "iu":
            raise InvalidArgumentError(
                f"components[{index}] must be int16. Received: dtype={arr.dtype}"
            )
        if arr.size and (arr.min() < -32768 or arr.max() > 32767):
            raise InvalidArgumentError(f"components[{index}] has values outside the int16 range.")
        arr = arr.astype(np.int16)
    return arr
