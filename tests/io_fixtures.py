"""Fixtures shared by the tfjpeg.io tests (a pytest plugin of conftest.py): an odd-sized natural
image and its baseline JPEG."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import natural_image

from tfjpeg.io import encode_pixels


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return natural_image(37, 53, seed=3)  # odd size: partial blocks and partial MCUs


@pytest.fixture(scope="module")
def baseline(image) -> bytes:
    return encode_pixels(image, 75)
