"""``tfjpeg.decode``: decode a real JPEG with a consistent decoder (or libjpeg-turbo).

Reference: Bahat & Michaeli, "What's in the Image? Explorable Decoding of Compressed Images",
CVPR 2021.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tfjpeg.errors import TfjpegError
from tfjpeg.models import names

__all__ = ["DECODERS", "PROJECTION_ITERATIONS", "PROJECTION_MARGIN", "decode", "load_decoder_model"]

#: Decoder names ``decode`` accepts: libjpeg-turbo's own decoder and the shipped models.
DECODERS = (*names("decoder"), "libjpeg")
#: Distance from the bin edges (quantized units) the final projection keeps coefficients at.
PROJECTION_MARGIN = 0.15
#: At most this many projection / clipping rounds.
PROJECTION_ITERATIONS = 5


def load_decoder_model(name: str):
    """The Keras :class:`~tfjpeg.decoders.ConsistentDecoder` of shipped model ``name``
    (``ConsistentDecoder.from_preset``: cached, a re-exported folder is read again).

    Raises:
        TfjpegError: unknown name, not a decoder, or the model folder is not installed.
    """
    from tfjpeg.decoders import ConsistentDecoder
    from tfjpeg.models import entry

    entry(name, family="decoder")  # the decoder names in the error message
    return ConsistentDecoder.from_preset(name)


def decode(
    jpeg: str | os.PathLike | bytes,
    decoder: Any = "consistent-l1",
    seed: int | None = None,
    z: Any = None,
    *,
    project: bool = True,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Decode a JPEG file into pixels that re-encode to the same file.

    Args:
        jpeg: path or bytes of a JPEG (gray, 4:4:4, 4:2:2 or 4:2:0 for the learned decoders).
        decoder: "consistent-l1" (distortion-oriented), "consistent-gan" (perceptual,
            explorable), "libjpeg" (libjpeg-turbo's standard decoding), or a
            :class:`~tfjpeg.decoders.ConsistentDecoder` instance.
        seed: draw the control signal z as a per-channel constant from this seed (different
            seeds give different consistent decodings); None: the neutral z = 0.
        z: an explicit control signal (hb, wb, 64) on the luma block grid; overrides ``seed``.
        project: make the final image consistent too. The network's output is consistent by
            construction, but clipping to [0, 255] and rounding to uint8 move a few
            coefficients across their bin edges; this alternates the projection onto the
            file's consistent set with clipping (:func:`tfjpeg.jpeg.consistency.project`,
            :data:`PROJECTION_MARGIN` inside each bin so that uint8 rounding keeps them).
        max_pixels: refuse larger images (see :func:`tfjpeg.io.read_jpeg`).

    Returns:
        uint8 array (H, W, 3), or (H, W, 1) for grayscale files.

    Raises:
        InvalidJpegError, UnsupportedJpegError, ImageTooLargeError: the file cannot be decoded.
        TfjpegError: unknown decoder name or model not installed.
        ValueError: bad ``seed`` or ``z``.

    Example:
        >>> pixels = tfjpeg.decode("photo.jpg", decoder="consistent-gan", seed=3)  # doctest: +SKIP
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer or None. Received: seed={seed!r}")
    from tfjpeg.io import decode_pixels, read_jpeg

    if isinstance(decoder, str):
        if decoder not in DECODERS:
            raise TfjpegError(f"unknown decoder {decoder!r}; choose one of: {', '.join(DECODERS)}")
        if decoder == "libjpeg":
            if seed is not None or z is not None:
                raise ValueError("the libjpeg decoder has no control signal: drop seed and z.")
            return decode_pixels(jpeg, max_pixels=max_pixels)
    coefficients = read_jpeg(jpeg, max_pixels=max_pixels)
    from tfjpeg.decoders import decoder_inputs, z_from_seed
    from tfjpeg.decoders.geometry import chroma_factors

    chroma_factors(coefficients.subsampling)  # UnsupportedJpegError before loading a model
    model = load_decoder_model(decoder) if isinstance(decoder, str) else decoder
    if z is None and seed is not None:
        z = z_from_seed(seed, *coefficients.components[0].shape[:2])
    inputs, subsampling = decoder_inputs(coefficients, z=z)
    out = model(inputs, training=False, subsampling=subsampling)
    decoded = out["decoded"][0].numpy()
    if project:
        from tfjpeg.jpeg.consistency import project as project_image

        decoded = project_image(
            decoded, coefficients, margin=PROJECTION_MARGIN, iterations=PROJECTION_ITERATIONS
        )
    return np.clip(np.round(decoded), 0, 255).astype(np.uint8)
