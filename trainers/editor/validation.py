"""Validation of a pre-editing network with the real encoder, and the proxy-vs-real gap.

The honest protocol of issue 10: the editor is scored on the validation part of the training
folder (:mod:`tfjpeg.data.splits`; never Kodak or any image of a reported table) by what a user
gets — edit, encode with real libjpeg-turbo (``optimize=True``, the tfjpeg writer), decode, and
measure — and the checkpoint with the best **score** is kept:

    score = rate change (%) at equal MS-SSIM against plain libjpeg-turbo,

i.e. for every validation crop and evaluation quality, the bits of the edited file against the
bits plain libjpeg-turbo needs for the same MS-SSIM on that crop (its curve sampled at every
quality around the evaluation ones, computed once;
:func:`tfjpeg.metrics.bd_rate.rate_change_at_equal_quality`). Negative = the editor saves
bits at equal quality; it does not depend on the training μ.

The same evaluation measures how far the training signal is from the real JPEG (the
``gap/...`` scalars, logged to TensorBoard as ``eval/gap/...``): the rate model's predicted bits
of the edited crops against the real files' bits, and the training distance (e.g. 1 − MS-SSIM)
through the training codec C_q (``DiffJPEG``) against the same distance on the real decode.

Reference: Talebi et al. 2020, "Better compression with deep pre-editing", eq. (5), §3.3, §5.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

__all__ = ["ValidationEvaluator", "anchor_qualities", "validation_crops"]


def validation_crops(
    folder: str | os.PathLike | None, images: int | Sequence[str], crop: int
) -> list[tuple[str, np.ndarray]]:
    """Centre ``crop``-pixel crops (uint8) of validation images of ``folder`` (None:
    ``$TFJPEG_TRAIN_DIR``): the first ``images`` of the validation part, or the named files,
    which must all be validation images. Smaller images are reflect-padded to the crop.

    Raises:
        ValueError: a named image is not in the validation part (training on it, or a set like
            Kodak that reports are made on, would make the choice dishonest).
    """
    from tfjpeg.data.folders import dataset_dir, load_image
    from tfjpeg.data.splits import split_images

    paths = split_images(dataset_dir("train", folder), "validation")
    if isinstance(images, int):
        chosen = paths[:images]
    else:
        by_name = {p.name: p for p in paths}
        missing = [name for name in images if name not in by_name]
        if missing:
            raise ValueError(
                f"eval images must be validation images of the training folder "
                f"(every 10th in name order); not validation: {missing[:5]}"
            )
        chosen = [by_name[name] for name in images]
    out = []
    for path in chosen:
        image = load_image(path)
        h, w = image.shape[:2]
        if h < crop or w < crop:
            image = np.pad(image, ((0, max(crop - h, 0)), (0, max(crop - w, 0)), (0, 0)), "reflect")
            h, w = image.shape[:2]
        y, x = (h - crop) // 2, (w - crop) // 2
        out.append((path.stem, np.ascontiguousarray(image[y : y + crop, x : x + crop])))
    return out


def anchor_qualities(qualities: Sequence[int]) -> list[int]:
    """The qualities at which plain libjpeg-turbo's curve is sampled: every quality from half
    the lowest to twice the highest evaluation quality (+10), so that an edited file's MS-SSIM
    falls inside it."""
    lo = max(1, min(qualities) // 2)
    hi = min(100, 2 * max(qualities) + 10)
    return list(range(lo, hi + 1))


class ValidationEvaluator:
    """``evaluator()`` → the validation results of the editor as it is now (see module doc).

    Args:
        editor: the editor being trained.
        crops: ``validation_crops(...)``.
        qualities: JPEG qualities of the evaluation.
        mu: (100,) μ per quality, for the eq. (5) ``objective`` kept for comparison.
        codec, rate, loss: the training C_q, B_q and :class:`tfjpeg.losses.PreEditLoss`
            (``reduction="none"``) for the gap scalars; None skips them (pre-training).
        tables: ``tables(quality)`` → the files' (2|3, 8, 8) quantization tables (e.g. the
            learned family's ``tables``); None: libjpeg-turbo's own. The anchor is always plain
            libjpeg-turbo with its own tables.
    """

    def __init__(
        self,
        editor,
        crops: list[tuple[str, np.ndarray]],
        qualities: Sequence[int],
        mu: np.ndarray,
        codec=None,
        rate=None,
        loss=None,
        tables=None,
    ) -> None:
        if not crops:
            raise ValueError("the validation evaluation needs at least one image.")
        self.editor = editor
        self.crops = crops
        self.qualities = [int(q) for q in qualities]
        self.mu = np.broadcast_to(np.asarray(mu, np.float32), (100,))
        self.codec, self.rate, self.loss = codec, rate, loss
        self.tables = tables
        self.anchor = self._anchor_curves()

    def _measure(self, editor, quality: int) -> dict[str, np.ndarray]:
        """Per crop: bits, MS-SSIM, PSNR of the real files and their libjpeg-turbo decodes."""
        from tfjpeg.editors.inference import edit_and_encode
        from tfjpeg.io import decode_pixels
        from tfjpeg.metrics import ms_ssim_score, psnr

        tables = None if editor is None or self.tables is None else self.tables(quality)
        files = [
            edit_and_encode(editor, image, quality, "libjpeg", tables=tables)
            for _, image in self.crops
        ]
        decoded = np.stack([decode_pixels(data) for data in files])
        originals = np.stack([image for _, image in self.crops])
        return {
            "bits": np.array([8.0 * len(data) for data in files]),
            "ms_ssim": np.atleast_1d(ms_ssim_score(decoded, originals)),
            "psnr": np.atleast_1d(psnr(decoded, originals)),
            "decoded": decoded,
        }

    def _anchor_curves(self) -> dict[int, dict[str, np.ndarray]]:
        return {q: self._measure(None, q) for q in anchor_qualities(self.qualities)}

    def _rate_change(self, points: dict[int, dict[str, np.ndarray]], metric: str):
        from tfjpeg.metrics.bd_rate import rate_change_at_equal_quality

        logs, outside = [], []
        qs = sorted(self.anchor)
        for i in range(len(self.crops)):
            anchor_bits = [self.anchor[q]["bits"][i] for q in qs]
            anchor_values = [self.anchor[q][metric][i] for q in qs]
            bits = [points[q]["bits"][i] for q in self.qualities]
            values = [points[q][metric][i] for q in self.qualities]
            change, out = rate_change_at_equal_quality(anchor_bits, anchor_values, bits, values)
            logs.append(np.log1p(change / 100.0))
            outside.append(out)
        return 100.0 * float(np.expm1(np.mean(logs))), float(np.mean(outside))

    def _gap(self, quality: int, real: dict[str, np.ndarray]) -> dict[str, float]:
        """Training-signal terms of the crops at ``quality`` against the real files."""
        import tensorflow as tf

        from tfjpeg.editors.inference import conditioning_quality
        from trainers.editor.steps import rate_bits

        z = tf.constant(np.stack([image for _, image in self.crops]), tf.float32)
        n = z.shape[0]
        cond = tf.fill([n], float(conditioning_quality(quality)))
        q = tf.fill([n], float(quality))
        edited = self.editor(z, quality=cond, training=False)["edited"]
        encoded = self.codec(edited, quality=q)
        bits = rate_bits(self.rate, self.codec, edited, encoded, q)
        proxy = self.loss(z, encoded["decoded"], bits)
        real_bits = tf.constant(real["bits"], tf.float32)
        actual = self.loss(z, tf.constant(real["decoded"], tf.float32), real_bits)
        pixels = float(z.shape[1] * z.shape[2])
        predicted, measured = float(tf.reduce_mean(bits)), float(np.mean(real["bits"]))
        d_proxy = float(tf.reduce_mean(proxy["distance"]))
        d_real = float(tf.reduce_mean(actual["distance"]))
        return {
            "bpp_predicted": predicted / pixels,
            "bpp_real": measured / pixels,
            "bits_rel_error": predicted / measured - 1.0,
            "distance_proxy": d_proxy,
            "distance_real": d_real,
            "distance_ratio": d_real / d_proxy if d_proxy > 0 else float("nan"),
        }

    def __call__(self) -> dict[str, float]:
        points = {q: self._measure(self.editor, q) for q in self.qualities}
        pixels = float(self.crops[0][1].shape[0] * self.crops[0][1].shape[1])
        score, outside = self._rate_change(points, "ms_ssim")
        psnr_change, _ = self._rate_change(points, "psnr")
        objective = [
            float(
                np.mean((1.0 - points[q]["ms_ssim"]) + self.mu[q - 1] * points[q]["bits"] / pixels)
            )
            for q in self.qualities
        ]
        results = {
            "score": score,
            "score_outside_anchor": outside,
            "rate_change_psnr": psnr_change,
            "bpp": float(np.mean([points[q]["bits"] for q in self.qualities])) / pixels,
            "ms_ssim": float(np.mean([points[q]["ms_ssim"] for q in self.qualities])),
            "psnr": float(np.mean([points[q]["psnr"] for q in self.qualities])),
            "bpp_plain": float(np.mean([self.anchor[q]["bits"] for q in self.qualities])) / pixels,
            "ms_ssim_plain": float(np.mean([self.anchor[q]["ms_ssim"] for q in self.qualities])),
            "objective": float(np.mean(objective)),
        }
        if self.loss is not None:
            gaps = {q: self._gap(q, points[q]) for q in self.qualities}
            for key in gaps[self.qualities[0]]:
                results[f"gap/{key}"] = float(np.mean([g[key] for g in gaps.values()]))
                for q, g in gaps.items():
                    results[f"gap/q{q}/{key}"] = g[key]
        return results
