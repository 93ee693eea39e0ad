"""A JPEG encoder with mozjpeg's trellis quantization whose file libjpeg-turbo writes.

:func:`trellis_encode` quantizes an image as libjpeg-turbo does (its integer DCT, bit-exact:
:func:`tfjpeg.jpeg.codec.encode`), lets :func:`tfjpeg.rdo.trellis.trellis_coefficients` choose
the coefficients (mozjpeg's rate-distortion trellis, priced by the exact Huffman code lengths of
libjpeg's optimal tables), and hands them to libjpeg-turbo's ``jpeg_write_coefficients``
(:func:`tfjpeg.io.encode_coefficients`, optimized Huffman tables): a standard sequential JPEG,
byte for byte the file libjpeg-turbo would write for those coefficients.

It is the optimize mode (:func:`tfjpeg.rdo.optimize_image`) without its last step: no pixels
are realized for a stock encoder to quantize back (which costs five exact re-encodes), since
here the coefficients go to the writer directly. ``tfjpeg.compress``'s default uses it.

Reference: mozjpeg 4 ``quantize_trellis``; Talebi et al. 2020, eq. 4.

Example:
    >>> data = trellis_encode(image, quality=30)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from tfjpeg._checks import check_quality, is_int
from tfjpeg.errors import InvalidArgumentError
from tfjpeg.jpeg.layout import get_layout
from tfjpeg.jpeg.tables import check_baseline_tables, quality_tables
from tfjpeg.rdo.optimize import RDOSettings
from tfjpeg.rdo.trellis import trellis_coefficients

__all__ = ["DEFAULT_TRELLIS_LOOPS", "trellis_encode", "trellis_files"]

#: Trellis loops of the default: the second and third loops add 0.5 and 0.2 points of MS-SSIM
#: BD-rate on the validation split (benchmarks/results/optimize_speed/trellis_summary.md) for
#: twice and three times the work.
DEFAULT_TRELLIS_LOOPS = 1


def trellis_encode(
    image: np.ndarray,
    quality: int | None = None,
    *,
    tables: Any = None,
    subsampling: str = "420",
    loops: int = DEFAULT_TRELLIS_LOOPS,
    settings: RDOSettings | None = None,
) -> bytes:
    """A baseline JPEG of ``image`` with trellis-quantized coefficients.

    Args:
        image: uint8 (H, W, 3) RGB, or (H, W) / (H, W, 1) gray.
        quality: IJG quality 1..100 (libjpeg's tables for it), unless ``tables`` is given.
        tables: explicit (2|3, 8, 8) baseline tables [luma, chroma(, chroma)].
        subsampling: "444", "422" or "420" (ignored for gray).
        loops: trellis loops (≥ 1), each priced by the previous choice's optimal Huffman lengths.
        settings: the trellis' distortion and λ; default ``RDOSettings()``.

    Returns:
        The JPEG file's bytes, written by libjpeg-turbo with optimized Huffman tables.
    """
    if not is_int(loops) or loops < 1:
        raise InvalidArgumentError(f"loops must be an integer >= 1. Received: loops={loops!r}")
    pixels = np.asarray(image)
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise InvalidArgumentError(
            "image must be uint8 (H, W, 3) or (H, W[, 1]). "
            f"Received: dtype={pixels.dtype}, shape={pixels.shape}"
        )
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    gray = pixels.shape[-1] == 1
    if not gray and pixels.shape[-1] != 3:
        raise InvalidArgumentError(f"image must have 1 or 3 channels. Received: {pixels.shape}")
    if tables is not None:
        file_tables = np.asarray(check_baseline_tables(tables), np.float32)
    elif quality is None:
        raise InvalidArgumentError("trellis_encode needs a quality or tables; received neither")
    else:
        file_tables = np.asarray(quality_tables(check_quality(quality)), np.float32)[0]
    return trellis_files(
        pixels, [file_tables], subsampling=subsampling, loops=loops, settings=settings
    )[0]


def trellis_files(
    image: np.ndarray,
    tables: list[np.ndarray],
    *,
    subsampling: str = "420",
    loops: int = DEFAULT_TRELLIS_LOOPS,
    settings: RDOSettings | None = None,
) -> list[bytes]:
    """:func:`trellis_encode` of one checked uint8 (H, W, C) image for several sets of
    (2|3, 8, 8) tables, in one batch (the per-image table search's candidates)."""
    from tfjpeg.io import JpegCoefficients, encode_coefficients

    settings = settings or RDOSettings()
    gray = image.shape[-1] == 1
    batch_tables = tf.constant(np.stack([np.asarray(t, np.float32) for t in tables]))
    coefficients = trellis_coefficients(
        tf.broadcast_to(tf.constant(image[None].astype(np.float32)), [len(tables), *image.shape]),
        batch_tables,
        loops,
        settings.lam(batch_tables),
        settings,
        subsampling,
    )
    files = []
    for i, file_tables in enumerate(tables):
        if gray:
            used, table_index = file_tables[:1], (0,)
        else:
            used = file_tables
            table_index = (0, 1, 1) if len(file_tables) == 2 else (0, 1, 2)
        coeffs = JpegCoefficients(
            components=tuple(np.asarray(c[i], np.int16) for c in coefficients),
            tables=np.round(used).astype(np.uint16),
            table_index=table_index,
            sampling=get_layout("gray" if gray else subsampling).sampling,
            height=image.shape[0],
            width=image.shape[1],
        )
        files.append(encode_coefficients(coeffs, optimize=True))
    return files
