"""The one evaluation path: edit → encode → decode → measure, and decode → measure.

:func:`evaluate_compression` scores pre-editing (Talebi et al. 2020 §5): each image is edited for
each quality (or not, with ``editor=None``), encoded by a standard encoder with
:func:`tfjpeg.editors.inference.edit_and_encode` (exactly what ``tfjpeg compress`` writes), decoded
by libjpeg-turbo and measured. :func:`evaluate_decoding` scores a decoder of real files (Bahat &
Michaeli 2021, appendix A; Man et al. 2023 §5): each file is decoded and compared with its
original, and its consistency with the file is measured.

Both return plain records (one dict per image and setting), ready for ``json.dumps`` and for
averaging; examples and benchmarks build their tables from them.

Example:
    >>> rows = evaluate_compression(None, [("chart", chart)], [10, 50], "libjpeg")  # doctest: +SKIP
    >>> rows[0]["bpp"], rows[0]["psnr"]  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "COMPRESSION_METRICS",
    "DECODING_METRICS",
    "OPTIONAL_COMPRESSION_METRICS",
    "OPTIONAL_DECODING_METRICS",
    "evaluate_compression",
    "evaluate_decoding",
    "evaluate_encoding",
]

#: Measures of :func:`evaluate_compression` by default (``bpp`` is always given).
COMPRESSION_METRICS = ("psnr", "ms_ssim", "niqe")
#: Measures it gives on request: Butteraugli's max-norm distance and its 3-norm (lower is better;
#: :mod:`tfjpeg.metrics.butteraugli`, needs the ``butteraugli_main`` tool).
OPTIONAL_COMPRESSION_METRICS = ("butteraugli", "butteraugli_3norm")
#: Measures of :func:`evaluate_decoding` (``seconds`` is always given); ``consistency`` adds
#: ``consistent_float``, ``rmse_float``, ``consistent_uint8`` and ``rmse_uint8``.
DECODING_METRICS = ("psnr_rgb", "psnr_y", "consistency", "niqe")
#: Measures it gives on request: PSNR-B (:func:`tfjpeg.metrics.psnr.psnr_b`, Yim & Bovik 2011)
#: and SSIM (RGB, Gaussian 11×11).
OPTIONAL_DECODING_METRICS = ("psnr_b", "ssim")


def _named(images: Iterable[Any]) -> list[tuple[str, np.ndarray]]:
    """(name, uint8 image) pairs from pairs or bare arrays (named "0", "1", ...)."""
    out = []
    for i, item in enumerate(images):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            name, image = item
        else:
            name, image = str(i), item
        out.append((name, np.asarray(image)))
    return out


def _check_metrics(metrics: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise ValueError(f"metrics must be among {tuple(known)}. Received: {unknown}")
    return metrics


def _image_measures(decoded: np.ndarray, original: np.ndarray, metrics: Sequence[str]) -> dict:
    from tfjpeg.metrics.niqe import niqe_score
    from tfjpeg.metrics.psnr import psnr, psnr_b, psnr_y
    from tfjpeg.metrics.ssim import ms_ssim_score, ssim_score

    row: dict[str, float] = {}
    if "butteraugli" in metrics or "butteraugli_3norm" in metrics:
        from tfjpeg.metrics.butteraugli import butteraugli_scores

        scores = butteraugli_scores(decoded, original)  # one run gives both norms
        if "butteraugli" in metrics:
            row["butteraugli"] = scores.max_norm
        if "butteraugli_3norm" in metrics:
            row["butteraugli_3norm"] = scores.p_norm
    for metric in metrics:
        if metric in ("psnr", "psnr_rgb"):
            row[metric] = float(psnr(decoded, original))
        elif metric == "psnr_y":
            row[metric] = float(psnr_y(decoded, original))
        elif metric == "psnr_b":
            row[metric] = float(psnr_b(decoded, original))
        elif metric == "ssim":
            row[metric] = float(ssim_score(decoded, original))
        elif metric == "ms_ssim":
            row[metric] = float(ms_ssim_score(decoded, original))
        elif metric == "niqe":
            row[metric] = float(niqe_score(decoded))
    return row


def evaluate_compression(
    editor: Any,
    images: Iterable[Any],
    qualities: Sequence[int],
    encoder: str | Sequence[str] = "libjpeg",
    *,
    metrics: Sequence[str] = COMPRESSION_METRICS,
    subsampling: str = "420",
) -> list[dict[str, Any]]:
    """Edit → encode → decode (libjpeg-turbo) → measure, for every image, quality and encoder.

    Args:
        editor: a Keras editor, or None for the plain encoder.
        images: uint8 (H, W, 3) arrays, or (name, array) pairs.
        qualities: JPEG qualities of the files (the editor is conditioned on each, clamped into
            its training range; one edit per conditioning quality and image).
        encoder: "libjpeg", "mozjpeg", or a sequence of them.
        metrics: among :data:`COMPRESSION_METRICS` (PSNR on RGB, MS-SSIM against the original;
            NIQE of the decoded image alone) and :data:`OPTIONAL_COMPRESSION_METRICS`
            (Butteraugli against the original).
        subsampling: chroma subsampling of the files.

    Returns:
        One record per image, quality and encoder: ``{"image", "quality", "encoder", "bytes",
        "bpp", <metric>: float ...}``, in the order images → qualities → encoders.
    """
    from tfjpeg.editors.inference import edit_and_encode

    metrics = _check_metrics(metrics, COMPRESSION_METRICS + OPTIONAL_COMPRESSION_METRICS)
    encoders = (encoder,) if isinstance(encoder, str) else tuple(encoder)
    records = []
    for name, image in _named(images):
        edits: dict[int, np.ndarray] = {}
        for q in qualities:
            for enc in encoders:
                data = edit_and_encode(
                    editor, image, int(q), enc, subsampling=subsampling, cache=edits
                )
                row = {"image": name, "quality": int(q), "encoder": enc}
                records.append({**row, **_file_measures(data, image, metrics)})
    return records


def _file_measures(data: bytes, image: np.ndarray, metrics: Sequence[str]) -> dict[str, Any]:
    """``bytes``, ``bpp`` and ``metrics`` of one JPEG file (decoded by libjpeg-turbo)."""
    from tfjpeg.io import decode_pixels

    decoded = decode_pixels(data)
    row: dict[str, Any] = {
        "bytes": len(data),
        "bpp": 8.0 * len(data) / (image.shape[0] * image.shape[1]),
    }
    row.update(_image_measures(decoded, image, metrics))
    return row


def evaluate_encoding(
    encode: Callable[[np.ndarray, int], bytes],
    images: Iterable[Any],
    qualities: Sequence[int],
    *,
    metrics: Sequence[str] = COMPRESSION_METRICS,
) -> list[dict[str, Any]]:
    """Like :func:`evaluate_compression` for any way of making a JPEG: ``encode(image, quality)``
    returns the file's bytes (e.g. ``tfjpeg.compress_image`` with a method's options), which is
    decoded by libjpeg-turbo and measured against ``image``.

    Returns:
        One record per image and quality: ``{"image", "quality", "bytes", "bpp", <metric> ...}``.
    """
    metrics = _check_metrics(metrics, COMPRESSION_METRICS + OPTIONAL_COMPRESSION_METRICS)
    records = []
    for name, image in _named(images):
        for q in qualities:
            data = encode(image, int(q))
            records.append(
                {"image": name, "quality": int(q), **_file_measures(data, image, metrics)}
            )
    return records


def evaluate_decoding(
    decode_fn: Callable[[bytes], np.ndarray],
    jpeg_files: Sequence[bytes],
    originals: Iterable[Any],
    *,
    metrics: Sequence[str] = DECODING_METRICS,
    clock: Callable[[], float] = time.perf_counter,
) -> list[dict[str, Any]]:
    """Decode each file with ``decode_fn`` and measure it against its original.

    Args:
        decode_fn: file bytes → image (H, W, C) in [0, 255]; float (before the final rounding,
            e.g. ``tfjpeg.decode(..., dtype="float32")``) or uint8. Image metrics are taken on
            the image clipped and rounded to uint8; ``consistency`` on the image as returned
            (:func:`tfjpeg.decoders.consistency.consistency_report`: float and uint8).
        jpeg_files: the JPEG files' bytes.
        originals: the uncompressed images (uint8 arrays, or (name, array) pairs), one per file.
        metrics: among :data:`DECODING_METRICS` and :data:`OPTIONAL_DECODING_METRICS`.
        clock: the clock timing each ``decode_fn`` call (one call per file).

    Returns:
        One record per file: ``{"image", <metric>: float ..., "seconds", "s_per_mp"}``.
    """
    from tfjpeg.decoders.consistency import consistency_report

    metrics = _check_metrics(metrics, DECODING_METRICS + OPTIONAL_DECODING_METRICS)
    named = _named(originals)
    if len(named) != len(jpeg_files):
        raise ValueError(
            "give one original per file. "
            f"Received: {len(jpeg_files)} files and {len(named)} originals"
        )
    records = []
    for data, (name, original) in zip(jpeg_files, named, strict=True):
        start = clock()
        decoded = np.asarray(decode_fn(data))
        seconds = clock() - start
        rounded = np.clip(np.round(decoded), 0, 255).astype(np.uint8)
        row: dict[str, Any] = {"image": name}
        for metric in metrics:
            if metric == "consistency":
                report = consistency_report(decoded, data)
                row["consistent_float"] = report["fraction_float"]
                row["rmse_float"] = report["rmse_float"]
                row["consistent_uint8"] = report["fraction_uint8"]
                row["rmse_uint8"] = report["rmse_uint8"]
            else:
                row.update(_image_measures(rounded, original, [metric]))
        row["seconds"] = seconds
        row["s_per_mp"] = seconds / (original.shape[0] * original.shape[1] / 1e6)
        records.append(row)
    return records
