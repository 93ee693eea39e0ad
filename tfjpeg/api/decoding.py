"""``tfjpeg.decode``: decode a real JPEG with a consistent decoder (or libjpeg-turbo).

Reference: Bahat & Michaeli, "What's in the Image? Explorable Decoding of Compressed Images",
CVPR 2021.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tfjpeg._checks import check_bool, check_choice, check_seed
from tfjpeg.decoders.core import PROJECTION_ITERATIONS, PROJECTION_MARGIN
from tfjpeg.errors import InvalidArgumentTypeError, TfjpegError
from tfjpeg.models import default_name, names

__all__ = [
    "DECODERS",
    "DEFAULT_DECODER",
    "PROJECTION_ITERATIONS",
    "PROJECTION_MARGIN",
    "decode",
    "load_decoder_model",
]

#: Decoder names ``decode`` accepts: libjpeg-turbo's own decoder and the shipped models.
DECODERS = (*names("decoder"), "libjpeg")
#: The decoder of ``tfjpeg.decode`` and ``tfjpeg decode`` by default: the registry's first
#: decoder (:func:`tfjpeg.models.default_name`).
DEFAULT_DECODER = default_name("decoder")


def load_decoder_model(name: str):
    """The Keras decoder of shipped model ``name``, of its registry class
    (:func:`tfjpeg.models.presets.load`: cached, a re-exported folder is read again).

    Raises:
        TfjpegError: unknown name, not a decoder, or the model folder is not installed.
    """
    from tfjpeg.models import entry
    from tfjpeg.models.presets import load

    found = entry(name, family="decoder")  # the decoder names in the error message
    return load(name, cls=found.model_class())


def decode(
    jpeg: str | os.PathLike | bytes,
    decoder: Any = DEFAULT_DECODER,
    seed: int | None = None,
    z: Any = None,
    *,
    project: bool = True,
    max_pixels: int | None = None,
    dtype: str = "uint8",
) -> np.ndarray:
    """Decode a JPEG file into pixels that re-encode to the same file.

    Args:
        jpeg: path or bytes of a JPEG (gray, 4:4:4, 4:2:2, 4:4:0 or 4:2:0 for the learned
            decoders).
        decoder: "consistent-l1" (distortion-oriented, the default), "consistent-gan"
            (perceptual, explorable), "block-unet" (distortion-oriented, one model for every
            quality, faster), "posterior" (stochastic: a sample of the posterior, Man et al. 2023),
            "one-to-many" (stochastic: Guo & Chao 2017, a noise map per seed), "libjpeg"
            (libjpeg-turbo's standard decoding), or an instance of one of
            :data:`tfjpeg.decoders.DECODER_CLASSES`.
        seed: draw the control signal z from this seed: a per-channel constant for the
            explorable decoders, per-pixel Gaussian noise for the stochastic ones
            (:func:`tfjpeg.explore.control_from_seed`); different seeds give different
            consistent decodings, the same seed the same one (also in the SavedModel, whose
            ``seed`` input is this). None: the neutral z = 0 (for a stochastic decoder its
            noise-free decoding, deterministic).
        z: an explicit control signal (hb, wb, 64) on the luma block grid; overrides ``seed``.
        project: make the final image consistent too. The network's output is consistent by
            construction, but clipping to [0, 255] and rounding to uint8 move a few
            coefficients across their bin edges; this alternates the projection onto the
            file's consistent set with clipping (:func:`tfjpeg.decoders.consistency.project`,
            :data:`PROJECTION_MARGIN` inside each bin so that uint8 rounding keeps them).
            The whole computation (network, projection, rounding) is the ``tf.function`` that
            the decoder SavedModels' signatures call
            (:func:`tfjpeg.serving.decoders.core_function`), run on the exact coefficients of
            :func:`tfjpeg.io.read_jpeg`.
        max_pixels: refuse larger images (height × width), from the header, before decoding.
            None: for the learned decoders the smaller of ``$TFJPEG_MAX_PIXELS`` (or 100 M,
            :func:`tfjpeg.io.limits.resolve_max_pixels`) and
            :data:`tfjpeg.io.limits.DEFAULT_DECODER_MAX_PIXELS` (16 M: they need ~166 bytes
            per pixel), so that setting ``TFJPEG_MAX_PIXELS`` can only lower their limit; pass
            ``max_pixels`` to raise it. For ``"libjpeg"`` the reader's limit
            (:func:`tfjpeg.io.read_jpeg`).
        dtype: "uint8" (the image, clipped and rounded) or "float32": the decoding before that
            final clipping and rounding, for measuring consistency
            (:func:`tfjpeg.metrics.evaluation.evaluate_decoding`).

    Returns:
        Array (H, W, 3), or (H, W, 1) for grayscale files, of ``dtype``.

    Raises:
        InvalidJpegError, UnsupportedJpegError, ImageTooLargeError: the file cannot be decoded.
        TfjpegError: unknown decoder name or model not installed.
        ValueError: bad ``seed`` or ``z``.

    Example:
        >>> pixels = tfjpeg.decode("photo.jpg", decoder="consistent-gan", seed=3)  # doctest: +SKIP
    """
    check_seed(seed, allow_none=True)
    check_choice(dtype, ("uint8", "float32"), "dtype")
    check_bool(project, "project")
    from tfjpeg.io import decode_pixels, read_jpeg
    from tfjpeg.io.limits import DEFAULT_DECODER_MAX_PIXELS, resolve_max_pixels

    if isinstance(decoder, str):
        if decoder not in DECODERS:
            raise TfjpegError(f"unknown decoder {decoder!r}; choose one of: {', '.join(DECODERS)}")
        if decoder == "libjpeg":
            if seed is not None or z is not None:
                raise ValueError("the libjpeg decoder has no control signal: drop seed and z.")
            return decode_pixels(jpeg, max_pixels=max_pixels).astype(dtype)
    else:
        from tfjpeg.decoders import DECODER_CLASSES

        if not isinstance(decoder, DECODER_CLASSES):
            raise InvalidArgumentTypeError(
                f"decoder must be a name ({', '.join(DECODERS)}) or a tfjpeg decoder "
                f"({', '.join(c.__name__ for c in DECODER_CLASSES)}). "
                f"Received: decoder of type {type(decoder).__name__}"
            )
    if max_pixels is None:
        max_pixels = min(resolve_max_pixels(None), DEFAULT_DECODER_MAX_PIXELS)
    coefficients = read_jpeg(jpeg, max_pixels=max_pixels)
    from tfjpeg.decoders import core_inputs
    from tfjpeg.explore import control_from_seed

    core_inputs(coefficients)  # UnsupportedJpegError before loading a model
    model = load_decoder_model(decoder) if isinstance(decoder, str) else decoder
    if z is None and seed is not None:
        z = control_from_seed(model, seed, *coefficients.components[0].shape[:2])
    inputs = core_inputs(coefficients, z=z)
    from tfjpeg.serving.decoders import core_function

    # The same tf.function (network, projection, uint8) that the SavedModel signatures call.
    iterations = PROJECTION_ITERATIONS if project else 0
    out = core_function(model)(**inputs, iterations=iterations)
    return out["image"].numpy() if dtype == "uint8" else out["decoded"].numpy()
