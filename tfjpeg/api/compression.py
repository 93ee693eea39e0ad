"""``tfjpeg.compress``: pre-edit an image with a learned editor, then encode a standard JPEG.

The product surface of deep pre-editing (Talebi et al. 2020): the editor T(z) runs on the encoder
side only, and the output is an ordinary baseline JPEG that any viewer opens. A target size is
met by searching the JPEG quality, as the paper does for its comparisons (§5).

Example:
    >>> data = compress("photo.png", quality=20)  # doctest: +SKIP
    >>> data[:2]
    b'\\xff\\xd8'

The default (``editor="none"``, ``tables="auto"``, ``trellis="auto"``) is the best configuration
measured within 0.5 s/MP on the project's 2-core machine: the shipped learned quantization
tables and one loop of mozjpeg's trellis quantization (:mod:`tfjpeg.rdo.encoder`), written by
libjpeg-turbo. On the validation split (8 images, BD-rate vs libjpeg-turbo optimize=True at
0.1-0.5 bpp): MS-SSIM -30.2 %, PSNR -20.1 %, Butteraugli -16.3 % (mozjpeg 4.0.3: -22.3, -17.3,
-19.0 %; the learned tables alone, the earlier default: -13.9, -13.5, +0.7 %;
``benchmarks/results/default_validation/``; the speed in ``benchmarks/results/compress_speed/``).
The learned editors stay available (``editor="smoothing"``) but cost seconds per megapixel for
no measured gain at equal MS-SSIM on top of the tables.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from tfjpeg._checks import check_quality, is_int
from tfjpeg.editors.inference import (
    ENCODERS,
    TRAINED_QUALITY_RANGE,
    edit_and_encode,
    edited_pixels,
)
from tfjpeg.errors import InvalidArgumentError, InvalidImageError, TfjpegError
from tfjpeg.models import names

__all__ = [
    "DEFAULT_EDITOR",
    "DEFAULT_QUALITY",
    "DEFAULT_TABLES",
    "DEFAULT_TRELLIS",
    "EDITOR_NAMES",
    "ENCODERS",
    "MAX_OPTIMIZE_STEPS",
    "MAX_TRELLIS_LOOPS",
    "TABLE_CHOICES",
    "TRAINED_QUALITY_RANGE",
    "CompressResult",
    "compress",
    "compress_image",
    "learned_table_family",
]

#: Editors by name; "none" encodes the image as it is.
EDITOR_NAMES = (*names("editor"), "none")
#: Quality used when neither ``quality`` nor ``target_bpp`` is given (inside the training range).
DEFAULT_QUALITY = 20
#: Named table choices: "auto" (learned where the family was learned, else standard), the
#: encoder's own tables for the quality, the shipped learned family, or "per-image" (auto's
#: tables rescaled per image by a rate-distortion search, :mod:`tfjpeg.rdo.image_tables`).
TABLE_CHOICES = ("auto", "standard", "learned", "per-image")
#: Editor of the default configuration: none (the editors add no measured gain on top of the
#: learned tables for their 4+ s/MP; benchmarks/results/compress_speed/).
DEFAULT_EDITOR = "none"
#: Tables of the default configuration (see :func:`compress`).
DEFAULT_TABLES = "auto"
#: The (writer, subsampling) pairs where "auto" writes the learned family: it was learned for
#: libjpeg-turbo at 4:2:0, and with mozjpeg's own trellis on the validation split (8 images,
#: 0.1-0.5 bpp) it still saves against mozjpeg alone: MS-SSIM -4.8 %, PSNR -5.2 %,
#: Butteraugli -1.1 % (benchmarks/results/default_validation/).
AUTO_LEARNED_FOR = frozenset({("libjpeg", "420"), ("mozjpeg", "420")})
#: Most optimizer steps ``optimize`` accepts (beyond it the gains have long stopped).
MAX_OPTIMIZE_STEPS = 1000
#: Most trellis loops ``trellis`` accepts (the third adds 0.2 points; beyond, nothing measured).
MAX_TRELLIS_LOOPS = 10
#: ``trellis`` of the default configuration (see :func:`check_trellis`).
DEFAULT_TRELLIS = "auto"


@dataclasses.dataclass(frozen=True)
class CompressResult:
    """What :func:`compress_image` made: the JPEG, its quality and size."""

    jpeg: bytes
    quality: int
    bpp: float
    height: int
    width: int
    #: the file's quantization tables: "learned", "standard", "custom" or "per-image"
    tables: str = "standard"


def _read_image(image: Any) -> np.ndarray:
    """A path, file bytes or uint8 array → uint8 (H, W, 3) or (H, W, 1)."""
    from tfjpeg.data.folders import load_image
    from tfjpeg.io import decode_pixels

    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        if data[:2] == b"\xff\xd8":
            return decode_pixels(data)
        from tfjpeg.io.pixels import load_pillow_image

        # The pixel limit is checked before Pillow's bomb check; every Pillow mode converted.
        arr = load_pillow_image(data)
        return arr[..., None] if arr.ndim == 2 else arr
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise InvalidImageError(f"{path}: no such file.")
        with open(path, "rb") as f:
            head = f.read(2)
        if head == b"\xff\xd8":
            return decode_pixels(path)
        return load_image(path)
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise InvalidImageError(
            f"image arrays must be uint8 (H, W, 3) or (H, W). Received: dtype={arr.dtype}"
        )
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3) or min(arr.shape[:2]) < 1:
        raise InvalidImageError(
            f"image arrays must have shape (H, W, 3), (H, W, 1) or (H, W). "
            f"Received: shape={np.shape(image)}"
        )
    return arr


def _load_named_editor(folder: str) -> Any:
    """The Keras editor of an exported folder (cached; a re-export is read again)."""
    from tfjpeg.editors import CascadeEditor, SmoothingEditor, SpatialTransformerEditor
    from tfjpeg.models.presets import load_folder

    return load_folder(folder, cls=(SmoothingEditor, SpatialTransformerEditor, CascadeEditor))


def _resolve_editor(editor: Any) -> Any:
    """None for "none"; a Keras editor for a registry name, an exported folder or a model."""
    if editor is None or (isinstance(editor, str) and editor == "none"):
        return None
    if isinstance(editor, str) and editor in EDITOR_NAMES:
        from tfjpeg.models.presets import load

        return load(editor)
    if isinstance(editor, (str, os.PathLike)):
        if not Path(editor).is_dir():
            raise TfjpegError(
                f"unknown editor {os.fspath(editor)!r}: choose one of {', '.join(EDITOR_NAMES)} "
                "or give the folder of an exported editor."
            )
        return _load_named_editor(str(Path(editor).resolve()))
    if callable(editor):
        return editor
    raise TfjpegError(f"editor must be a name, a folder or a model. Received: {editor!r}")


@dataclasses.dataclass(frozen=True)
class _AutoTables:
    """``tables="auto"``: the learned family inside its quality range, standard tables outside."""

    family: Any


@dataclasses.dataclass(frozen=True)
class _PerImageTables:
    """``tables="per-image"``: "auto"'s tables at the quality (None: the encoder's standard
    ones) are the base of a per-image search (:func:`tfjpeg.rdo.image_tables.choose_tables`)."""

    base: Any
    encoder: str

    def base_at(self, quality: int) -> np.ndarray:
        """int32 (2, 8, 8) base tables for ``quality``."""
        from tfjpeg.jpeg.tables import mozjpeg_quality_tables, quality_tables

        tables, _ = _tables_at(self.base, quality)
        if tables is not None:
            return np.asarray(tables, np.int32)
        standard = mozjpeg_quality_tables if self.encoder == "mozjpeg" else quality_tables
        return np.asarray(standard(quality), np.float32)[0].round().astype(np.int32)


def learned_table_family() -> Any:
    """The shipped learned quantization-table family (:class:`tfjpeg.jpeg.learned.TableFamily`)."""
    from tfjpeg.jpeg.learned import TableFamily
    from tfjpeg.models import default_name
    from tfjpeg.models.presets import load

    return load(default_name("tables"), cls=TableFamily)


def _resolve_tables(tables: Any, encoder: str, subsampling: str) -> Any:
    """None (the encoder's own tables), a :class:`TableFamily`, :class:`_AutoTables`,
    :class:`_PerImageTables`, or checked (K, 8, 8) tables."""
    from tfjpeg.jpeg.learned import TableFamily
    from tfjpeg.jpeg.tables import check_baseline_tables

    if isinstance(tables, str):
        if tables == "standard":
            return None
        if tables == "learned":
            return learned_table_family()
        if tables == "per-image":
            return _PerImageTables(_resolve_tables("auto", encoder, subsampling), encoder)
        if tables == "auto":
            if (encoder, subsampling) not in AUTO_LEARNED_FOR:
                return None
            try:
                return _AutoTables(learned_table_family())
            except TfjpegError as err:  # a models root without the tables: standard ones
                warnings.warn(
                    f"tables='auto': the learned tables are not installed ({err}); using the "
                    "standard tables.",
                    stacklevel=3,
                )
                return None
        raise InvalidArgumentError(
            f"tables must be one of {TABLE_CHOICES}, a TableFamily or a (2|3, 8, 8) array. "
            f"Received: tables={tables!r}"
        )
    if tables is None or isinstance(tables, TableFamily):
        return tables
    return check_baseline_tables(tables)


def _tables_at(tables: Any, quality: int) -> tuple[np.ndarray | None, str]:
    """The file's tables for ``quality`` and their kind ("standard", "learned" or "custom");
    an explicit family refuses qualities it was not learned for, "auto" falls back to standard."""
    if tables is None:
        return None, "standard"
    if isinstance(tables, np.ndarray):
        return tables, "custom"
    if isinstance(tables, _AutoTables):
        lo, hi = tables.family.quality_range
        if not lo <= quality <= hi:
            return None, "standard"
        return tables.family.tables(quality), "learned"
    return tables.tables(quality), "learned"


def check_trellis(trellis: Any, encoder: str, optimize: int | None) -> int:
    """Trellis loops of the writer (0: libjpeg's plain rounding). "auto": on
    (:data:`~tfjpeg.rdo.encoder.DEFAULT_TRELLIS_LOOPS`) for libjpeg-turbo, off where the
    coefficients are chosen otherwise (mozjpeg runs its own trellis; ``optimize`` runs its own
    loops)."""
    from tfjpeg.rdo.encoder import DEFAULT_TRELLIS_LOOPS

    if isinstance(trellis, str) and trellis == "auto":
        return DEFAULT_TRELLIS_LOOPS if encoder == "libjpeg" and optimize is None else 0
    if not is_int(trellis) or not 0 <= trellis <= MAX_TRELLIS_LOOPS:
        raise InvalidArgumentError(
            f"trellis must be 'auto' or an integer in [0, {MAX_TRELLIS_LOOPS}] (trellis loops; "
            f"0: off). Received: trellis={trellis!r}"
        )
    if trellis and encoder != "libjpeg":
        raise InvalidArgumentError(
            f"trellis applies to the libjpeg-turbo writer; {encoder} quantizes with its own "
            f"trellis. Received: trellis={trellis!r}, encoder={encoder!r}"
        )
    if trellis and optimize is not None:
        raise InvalidArgumentError(
            "optimize already chooses the coefficients with its own trellis loops; give one of "
            f"them. Received: trellis={trellis!r}, optimize={optimize!r}"
        )
    return int(trellis)


def check_optimize(optimize: Any) -> int | None:
    """None (off) or a number of optimizer steps in [1, :data:`MAX_OPTIMIZE_STEPS`]."""
    if optimize is None:
        return None
    if not is_int(optimize) or not 1 <= optimize <= MAX_OPTIMIZE_STEPS:
        raise InvalidArgumentError(
            f"optimize must be None or an integer in [1, {MAX_OPTIMIZE_STEPS}] (optimizer "
            f"steps). Received: optimize={optimize!r}"
        )
    return int(optimize)


def _check_args(quality: Any, target_bpp: Any, encoder: str) -> None:
    if quality is not None and target_bpp is not None:
        raise ValueError(
            "give either quality or target_bpp, not both. "
            f"Received: quality={quality!r}, target_bpp={target_bpp!r}"
        )
    if quality is not None:
        check_quality(quality)
    if target_bpp is not None:
        try:
            value = float(target_bpp)
        except (TypeError, ValueError):
            value = float("nan")
        if not 0.0 < value <= 24.0:
            raise ValueError(
                f"target_bpp must be a number in (0, 24]. Received: target_bpp={target_bpp!r}"
            )
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}. Received: encoder={encoder!r}")


def compress_image(
    image: Any,
    quality: int | None = None,
    target_bpp: float | None = None,
    editor: Any = DEFAULT_EDITOR,
    encoder: str = "libjpeg",
    *,
    subsampling: str = "420",
    tables: Any = DEFAULT_TABLES,
    optimize: int | None = None,
    trellis: Any = DEFAULT_TRELLIS,
    progress: Any = None,
) -> CompressResult:
    """Like :func:`compress`, but returns a :class:`CompressResult` (bytes, quality, bpp)."""
    _check_args(quality, target_bpp, encoder)
    steps = check_optimize(optimize)
    loops = check_trellis(trellis, encoder, steps)
    if progress is not None and not callable(progress):
        raise InvalidArgumentError(f"progress must be callable or None. Received: {progress!r}")
    tables = _resolve_tables(tables, encoder, subsampling)
    if isinstance(tables, np.ndarray) and target_bpp is not None:
        raise InvalidArgumentError(
            "explicit tables fix the file's quantization, so target_bpp has no quality to "
            "search; give quality (it conditions the editor) or tables='learned'/'standard'."
        )
    # the qualities a search may use: an explicit learned family's range, else all of libjpeg's
    q_lo, q_hi = (
        (1, 100)
        if tables is None or isinstance(tables, (np.ndarray, _AutoTables, _PerImageTables))
        else tables.quality_range
    )
    pixels = _read_image(image)
    model = _resolve_editor(editor)
    height, width = pixels.shape[:2]
    edits: dict[int, np.ndarray] = {}
    kinds: dict[int, str] = {}

    def encode(q: int) -> bytes:
        if isinstance(tables, _PerImageTables):
            kinds[q] = "per-image"
            return encode_per_image(q, tables.base_at(q))
        file_tables, kinds[q] = _tables_at(tables, q)
        return encode_with(q, file_tables)

    def encode_with(q: int, file_tables: np.ndarray | None) -> bytes:
        if steps is None and loops:
            from tfjpeg.rdo.encoder import trellis_encode

            edited = edited_pixels(model, pixels, q, cache=edits)
            return trellis_encode(
                edited, q, tables=file_tables, subsampling=subsampling, loops=loops
            )
        if steps is None:
            return edit_and_encode(
                model, pixels, q, encoder, subsampling=subsampling, cache=edits,
                tables=file_tables,
            )  # fmt: skip
        from tfjpeg.io import encode_pixels
        from tfjpeg.rdo import optimize_image

        start = edited_pixels(model, pixels, q, cache=edits)
        refined = optimize_image(
            pixels,
            q,
            steps,
            encoder=encoder,
            subsampling=subsampling,
            tables=file_tables,
            start=start,
            progress=progress,
        )
        return encode_pixels(
            refined, q, subsampling=subsampling, encoder=encoder, optimize=True, tables=file_tables
        )

    def encode_per_image(q: int, base: np.ndarray) -> bytes:
        """The file with the tables :func:`~tfjpeg.rdo.image_tables.choose_tables` picks: each
        candidate encoded as this mode encodes, except ``optimize``, whose candidates one
        trellis loop written directly stands in for (its realization costs five encodes)."""
        from tfjpeg.rdo.encoder import trellis_files
        from tfjpeg.rdo.image_tables import choose_tables

        edited = edited_pixels(model, pixels, q, cache=edits)
        if steps is None and not loops:

            def candidates(batch: list[np.ndarray]) -> list[bytes]:
                return [encode_with(q, t) for t in batch]

        else:

            def candidates(batch: list[np.ndarray]) -> list[bytes]:
                return trellis_files(edited, batch, subsampling=subsampling, loops=loops or 1)

        choice = choose_tables(pixels, base, candidates)
        return choice.jpeg if steps is None else encode_with(q, choice.tables)

    def bpp(data: bytes) -> float:
        return 8.0 * len(data) / (height * width)

    if target_bpp is None:
        q = DEFAULT_QUALITY if quality is None else int(quality)
        data = encode(q)
        return CompressResult(data, q, bpp(data), height, width, kinds[q])
    # Largest quality whose file fits the target (file size grows with quality).
    lo, hi, best = q_lo, q_hi, None
    while lo <= hi:
        mid = (lo + hi) // 2
        data = encode(mid)
        if bpp(data) <= float(target_bpp):
            best, lo = (mid, data), mid + 1
        else:
            hi = mid - 1
    if best is None:
        data = encode(q_lo)
        warnings.warn(
            f"target_bpp={target_bpp} is below what quality {q_lo} reaches ({bpp(data):.3f} "
            f"bpp); returning the quality-{q_lo} file.",
            stacklevel=2,
        )
        best = (q_lo, data)
    return CompressResult(best[1], best[0], bpp(best[1]), height, width, kinds[best[0]])


def compress(
    image: Any,
    quality: int | None = None,
    target_bpp: float | None = None,
    editor: Any = DEFAULT_EDITOR,
    encoder: str = "libjpeg",
    *,
    subsampling: str = "420",
    tables: Any = DEFAULT_TABLES,
    optimize: int | None = None,
    trellis: Any = DEFAULT_TRELLIS,
    progress: Any = None,
) -> bytes:
    """Encode ``image`` as a standard JPEG, optionally pre-edited by a learned editor.

    With no option but ``quality`` this is the default configuration: no editor, the shipped
    learned quantization tables (where they were learned: 4:2:0, their quality range 5..90),
    mozjpeg's trellis quantization (one loop, :mod:`tfjpeg.rdo.encoder`), the file written by
    libjpeg-turbo with optimized Huffman tables. It is the best configuration measured within
    0.5 s/MP (README, "Compress"); the editors and ``optimize`` trade seconds per megapixel for
    the rest.

    Args:
        image: a file path (PNG, JPEG, ...), the file's bytes, or a uint8 array (H, W, 3) / (H, W).
        quality: JPEG quality 1..100 (default :data:`DEFAULT_QUALITY` when ``target_bpp`` is not
            given either).
        target_bpp: instead of a quality, the largest quality whose file has at most this many bits
            per pixel is searched (bisection over 1..100, the editor re-run per quality).
        editor: "none" (default: the image as it is), "smoothing", "stn", "cascade" (shipped
            models, :mod:`tfjpeg.models`), the folder of an exported editor, or a Keras editor.
        encoder: "libjpeg" (libjpeg-turbo via Pillow, optimized Huffman tables) or "mozjpeg"
            (sequential, optimized Huffman tables).
        subsampling: chroma subsampling, "420" (the editors' training setting), "422" or "444".
        tables: the file's quantization tables: "auto" (default: the shipped learned family
            where it pays, i.e. with ``subsampling="420"`` and a quality inside its range; the
            encoder's standard tables everywhere else, without a warning, and ``target_bpp``
            searches all of 1..100; the result's ``tables`` field
            says which were written), "standard" (the encoder's own for the quality),
            "learned" (the shipped learned family, :mod:`tfjpeg.jpeg.learned`, learned for a
            range of qualities: a quality outside it is refused, and ``target_bpp`` searches
            only inside it), a :class:`~tfjpeg.jpeg.learned.TableFamily`, or explicit integer
            tables (2, 8, 8) [luma, chroma] / (3, 8, 8) in 1..255, natural order (then
            ``quality`` only conditions the editor, and ``target_bpp`` is refused).
            "per-image": "auto"'s tables at the quality (learned or standard) with the luma
            table × ℓ and the chroma table × c chosen for this image
            (:func:`tfjpeg.rdo.image_tables.choose_tables`: 15 candidates, each encoded as this
            mode encodes it, the least D + λ·R with D = 1 − MS-SSIM and λ the image's own
            slope; with ``optimize`` one trellis loop ranks the candidates); any mode and
            ``target_bpp`` (the search runs per quality tried). 17 encodes per quality, about
            10× the default's time, and on the validation split it does not pay: MS-SSIM
            BD-rate −1 to −2 points against the default, Butteraugli +2 to +5, PSNR −0.4 / +1.8
            (0.1–0.5 / 0.5–1.5 bpp; ``benchmarks/results/per_image_tables/``).
        optimize: rate-distortion optimized pre-editing (:func:`tfjpeg.rdo.optimize_image`):
            this many trellis loops (mozjpeg's trellis quantization, :mod:`tfjpeg.rdo.trellis`)
            choose the coefficients (starting from the editor's output, or from the image
            itself with ``editor="none"``) and the image is rebuilt so that the encoder's own
            quantizer lands on them. None: off. Validation split, learned tables, 0.1–0.5 bpp,
            BD-rate vs libjpeg-turbo with 1 / 2 / 3 loops: MS-SSIM −21.7 / −22.2 / −22.4 %,
            PSNR −4.1 / −4.0 / −3.8 %, Butteraugli −12.7 / −12.7 / −12.8 % (mozjpeg alone
            −17.7, −9.2, −14.6 %). Seconds per megapixel, not milliseconds
            (``benchmarks/results/optimize_speed/trellis_*``); with ``target_bpp`` it runs once
            per quality the search tries (about 7 times).
        trellis: trellis quantization of the libjpeg-turbo writer (:mod:`tfjpeg.rdo.encoder`):
            mozjpeg's rate-distortion choice of each coefficient, then libjpeg-turbo writes
            the chosen coefficients. "auto" (default): 1 loop with ``encoder="libjpeg"`` and
            no ``optimize``, off otherwise; an integer: that many loops (0: libjpeg's plain
            rounding; refused with mozjpeg, which runs its own, and with ``optimize``).
        progress: with ``optimize``, called as ``progress(step, steps)`` after each step.

    Returns:
        The JPEG file's bytes (baseline, JFIF).

    Raises:
        ValueError: bad quality/target_bpp/encoder/tables combination (``InvalidArgumentError``
            naming ``tables`` or ``quality`` for bad tables or a quality the learned tables do
            not cover); ``InvalidArgumentError`` for an ``optimize`` that is not None or an
            integer in [1, 1000], or a ``trellis`` that is not "auto" or an integer in [0, 10]
            (or is given with mozjpeg or ``optimize``).
        InvalidImageError, InvalidJpegError, ImageTooLargeError: unreadable or too large input.
        TfjpegError: unknown editor, or a shipped editor that is not installed.

    Reference: Talebi et al. 2020, "Better compression with deep pre-editing".
    """
    return compress_image(
        image,
        quality,
        target_bpp,
        editor,
        encoder,
        subsampling=subsampling,
        tables=tables,
        optimize=optimize,
        trellis=trellis,
        progress=progress,
    ).jpeg
