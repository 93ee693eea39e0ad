"""The one evaluation path: edit → encode → decode → measure, and decode → measure.

:func:`evaluate_compression` scores pre-editing (Talebi et al. 2020 §5): each image is edited for
each quality (or not, with ``editor=None``), encoded by a standard encoder with
:func:`tfjpeg.editors.inference.edit_and_encode` (exactly what ``tfjpeg compress`` writes), decoded
by libjpeg-turbo and measured. :func:`evaluate_decoding` scores a decoder of real files (Bahat &
Michaeli 2021, appendix A; Man et al. 2023 §5): each file is decoded and compared with its
original, and its consistency with the file is measured.

:func:`evaluate_sampling` scores a stochastic decoder (Man et al. 2023 §5, table 1): K samples
per file (one seed each), their per-pixel spread, consistency, PSNR of each and of their mean.

All return plain records (one dict per image and setting), ready for ``json.dumps`` and for
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
    "evaluate_sampling",
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


def evaluate_sampling(
    sample_fn: Callable[[bytes, int], np.ndarray],
    jpeg_files: Sequence[bytes],
    originals: Iterable[Any],
    *,
    samples: int = 16,
    niqe_samples: int = 2,
    on_samples: Callable[[str, list[np.ndarray]], None] | None = None,
) -> list[dict[str, Any]]:
    """Draw ``samples`` decodings of each file (seeds 0 … K−1) and measure them.

    Args:
        sample_fn: (file bytes, seed) → uint8 image (H, W, C), e.g. ``lambda data, s:
            tfjpeg.decode(data, decoder="posterior", seed=s)``.
        jpeg_files: the JPEG files' bytes.
        originals: the uncompressed images (uint8 arrays, or (name, array) pairs).
        samples: K, the draws per file (Man et al.: 16 for the moments, 64 for the std maps).
        niqe_samples: NIQE is averaged over the first this many samples (it is slow).
        on_samples: called with (name, the K uint8 samples) per file, e.g. to draw a grid.

    Returns:
        One record per file: ``std`` (mean over pixels of the per-pixel standard deviation
        over the K samples, images in [0, 1]; the paper's "per-pixel STD"), ``psnr_sample``
        (mean PSNR-RGB of single samples), ``psnr_mean`` (PSNR of the mean of the K samples, the
        paper's "Ours-A"), ``consistent_uint8`` (the smallest fraction of re-quantized
        coefficients equal to the file's over the samples) and ``rmse_uint8`` (the largest
        consistency RMSE, gray levels; :func:`tfjpeg.decoders.consistency.consistency_report`),
        ``niqe`` and ``seconds_per_sample``.
    """
    from tfjpeg.decoders.consistency import consistency_report
    from tfjpeg.metrics.niqe import niqe_score
    from tfjpeg.metrics.psnr import psnr

    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
        raise ValueError(f"samples must be an integer >= 2. Received: samples={samples!r}")
    named = _named(originals)
    if len(named) != len(jpeg_files):
        raise ValueError(
            "give one original per file. "
            f"Received: {len(jpeg_files)} files and {len(named)} originals"
        )
    records = []
    for data, (name, original) in zip(jpeg_files, named, strict=True):
        start = time.perf_counter()
        drawn = [np.asarray(sample_fn(data, seed), np.uint8) for seed in range(samples)]
        seconds = (time.perf_counter() - start) / samples
        stack = np.stack(drawn).astype(np.float64) / 255.0
        mean = np.clip(np.round(stack.mean(axis=0) * 255.0), 0, 255).astype(np.uint8)
        reports = [consistency_report(image, data) for image in drawn]
        records.append(
            {
                "image": name,
                "std": float(np.mean(np.std(stack, axis=0))),
                "psnr_sample": float(np.mean([psnr(image, original) for image in drawn])),
                "psnr_mean": float(psnr(mean, original)),
                "consistent_uint8": float(min(r["fraction_uint8"] for r in reports)),
                "rmse_uint8": float(max(r["rmse_uint8"] for r in reports)),
                "niqe": float(np.mean([niqe_score(im) for im in drawn[:niqe_samples]])),
                "seconds_per_sample": seconds,
            }
        )
        if on_samples is not None:
            on_samples(name, drawn)
    return records
