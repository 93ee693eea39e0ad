"""tfjpeg.io.limits: the decompression-bomb pixel limit, checked before decoding."""

from __future__ import annotations

import pytest
from jpeg_bytes import offset

from tfjpeg.errors import (
    ImageTooLargeError,
)
from tfjpeg.io import (
    decode_pixels,
    read_jpeg,
)
from tfjpeg.io import jpeglib_backend as backend_module
from tfjpeg.io.limits import resolve_max_pixels


def test_images_over_max_pixels_raise_image_too_large_before_decoding(baseline, monkeypatch):
    def must_not_decode(*args, **kwargs):
        raise AssertionError("libjpeg was called")

    monkeypatch.setattr(backend_module, "_read_dct", must_not_decode)
    with pytest.raises(ImageTooLargeError, match="53x37 = 1,961 pixels"):
        read_jpeg(baseline, max_pixels=1960)
    monkeypatch.setenv("TFJPEG_MAX_PIXELS", "1000")
    with pytest.raises(ImageTooLargeError, match="limit of 1,000"):
        read_jpeg(baseline)
    with pytest.raises(ImageTooLargeError):
        decode_pixels(baseline)
    monkeypatch.delenv("TFJPEG_MAX_PIXELS")
    # A tiny file whose header claims 60000 x 60000 pixels (a decompression bomb).
    sof = offset(baseline, 0xC0)
    bomb = bytearray(baseline)
    bomb[sof + 5 : sof + 9] = (60000).to_bytes(2, "big") * 2
    with pytest.raises(ImageTooLargeError, match="3,600,000,000 pixels"):
        read_jpeg(bytes(bomb))


def test_invalid_max_pixels_values_raise_value_error(baseline, monkeypatch):
    assert resolve_max_pixels() == 100_000_000
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ValueError, match="Received: max_pixels="):
            read_jpeg(baseline, max_pixels=bad)
    monkeypatch.setenv("TFJPEG_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="TFJPEG_MAX_PIXELS='lots'"):
        read_jpeg(baseline)
    monkeypatch.setenv("TFJPEG_MAX_PIXELS", "2_000")
    assert resolve_max_pixels() == 2000 and resolve_max_pixels(7) == 7
