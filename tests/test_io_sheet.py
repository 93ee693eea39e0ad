"""tfjpeg/io/sheet.py: contact sheets of several decodings, PNG bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tfjpeg.errors import InvalidArgumentError
from tfjpeg.io import contact_sheet, png_bytes


def test_contact_sheet_lays_images_out_row_by_row():
    images = [np.full((3, 4, 3), 10 * i, np.uint8) for i in range(5)]
    sheet = contact_sheet(images, gap=1)  # 3 columns (⌈√5⌉), 2 rows
    assert sheet.shape == (2 * 4 + 1, 3 * 5 + 1, 3)
    np.testing.assert_array_equal(sheet[1:4, 1:5], images[0])
    np.testing.assert_array_equal(sheet[5:8, 1:5], images[3])  # second row, first column
    np.testing.assert_array_equal(sheet[5:8, 6:10], images[4])
    assert np.all(sheet[5:8, 11:15] == 255) and np.all(sheet[0] == 255)  # gaps and empty cell
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(sheet))))
    np.testing.assert_array_equal(decoded, sheet)
    gray = np.asarray(Image.open(io.BytesIO(png_bytes(np.zeros((2, 2, 1), np.uint8)))))
    assert gray.shape == (2, 2)
    with pytest.raises(InvalidArgumentError, match="images"):
        contact_sheet([])
    with pytest.raises(InvalidArgumentError, match="one shape"):
        contact_sheet([images[0], np.zeros((2, 2, 3), np.uint8)])
