"""tfjpeg.io.coefficients: the JpegCoefficients container and its validation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import jpeglib_coefficients, natural_image

from tfjpeg.io import (
    encode_pixels,
    read_jpeg,
)


def test_components_hold_real_blocks_without_mcu_padding(tmp_path):
    data = encode_pixels(natural_image(100, 100), 75, subsampling="420")
    coeffs = read_jpeg(data)
    # 100 px = 12.5 blocks: 13 real Y blocks per side, but MCUs of 16 px pad Y to 14.
    assert coeffs.components[0].shape == (13, 13, 8, 8)
    assert coeffs.components[1].shape == coeffs.components[2].shape == (7, 7, 8, 8)
    assert coeffs.real_block_shape(0) == (13, 13) and coeffs.padded_block_shape(0) == (14, 14)
    assert coeffs.real_block_shape(1) == coeffs.padded_block_shape(1) == (7, 7)
    assert [c.shape for c in jpeglib_coefficients(data, tmp_path)] == [
        c.shape for c in coeffs.components
    ]


def test_coefficients_dataclass_validates_its_fields_and_is_frozen(baseline):
    coeffs = read_jpeg(baseline)
    with pytest.raises(dataclasses.FrozenInstanceError):
        coeffs.height = 10
    with pytest.raises(ValueError, match="must have"):
        dataclasses.replace(coeffs, height=64)  # blocks no longer match the size
    with pytest.raises(ValueError, match="1 \\(grayscale\\) or 3"):
        dataclasses.replace(coeffs, components=coeffs.components[:2])
    with pytest.raises(ValueError, match="at most 10 blocks"):
        dataclasses.replace(coeffs, sampling=((4, 4), (1, 1), (1, 1)))
    with pytest.raises(ValueError, match="table_index"):
        dataclasses.replace(coeffs, table_index=(0, 1, 2))
    with pytest.raises(ValueError, match="int16"):
        dataclasses.replace(
            coeffs, components=tuple(c.astype(np.float32) for c in coeffs.components)
        )
    widened = dataclasses.replace(
        coeffs, components=tuple(c.astype(np.int32) for c in coeffs.components)
    )
    assert widened.components[0].dtype == np.int16
