"""tfjpeg.jpeg.layout: the one table of chroma layouts, and every module reads it."""

from __future__ import annotations

import numpy as np
import pytest

from tfjpeg.errors import InvalidArgumentError, UnsupportedJpegError
from tfjpeg.io import read_jpeg
from tfjpeg.jpeg.layout import (
    CODEC_SUBSAMPLINGS,
    LAYOUTS,
    READ_ONLY_LAYOUTS,
    chroma_factors,
    component_factors,
    get_layout,
    layout_from_sampling,
)


def test_table_holds_exactly_the_layouts_libjpeg_writes_with_their_factors():
    assert {name: lay.chroma for name, lay in LAYOUTS.items()} == {
        "gray": (1, 1),
        "444": (1, 1),
        "422": (2, 1),
        "440": (1, 2),
        "420": (2, 2),
    }
    assert {name: lay.label for name, lay in LAYOUTS.items()} == {
        "gray": "gray",
        "444": "4:4:4",
        "422": "4:2:2",
        "440": "4:4:0",
        "420": "4:2:0",
    }
    assert LAYOUTS["gray"].num_components == 1
    assert all(lay.num_components == 3 for name, lay in LAYOUTS.items() if name != "gray")
    assert {n: lay.chroma for n, lay in READ_ONLY_LAYOUTS.items()} == {"411": (4, 1), "410": (4, 2)}
    assert set(CODEC_SUBSAMPLINGS) <= set(LAYOUTS)


@pytest.mark.parametrize("name", ["444", "422", "440", "420"])
def test_sampling_factors_of_a_layout_name_it_back(name):
    lay = LAYOUTS[name]
    assert lay.sampling[1:] == ((1, 1), (1, 1))
    assert layout_from_sampling(lay.sampling) == name
    assert lay.factors == ((1, 1), lay.chroma, lay.chroma)


def test_layout_from_sampling_names_gray_read_only_and_odd_layouts():
    assert layout_from_sampling([(1, 1)]) == "gray"
    assert layout_from_sampling(((4, 1), (1, 1), (1, 1))) == "411"
    assert layout_from_sampling(((2, 2), (2, 1), (1, 1))) == "2x2,2x1,1x1"
    assert layout_from_sampling(((2, 2), (2, 2), (2, 2))) == "444"  # factors are relative


def test_component_factors_of_the_codec():
    assert component_factors(3, "420") == [(1, 1), (2, 2), (2, 2)]
    assert component_factors(1, "anything") == [(1, 1)]  # gray ignores the name
    with pytest.raises(InvalidArgumentError, match=r"Received: subsampling='440'"):
        component_factors(3, "440")  # a layout, but not one the codec writes
    with pytest.raises(ValueError, match="subsampling must be one of"):
        get_layout("411")


def test_chroma_factors_and_every_reader_of_the_table_agree():
    from tfjpeg.decoders.geometry import DECODABLE_SUBSAMPLINGS
    from tfjpeg.decoders.geometry import chroma_factors as decodable_factors

    for name in DECODABLE_SUBSAMPLINGS:
        assert decodable_factors(name) == chroma_factors(name) == LAYOUTS[name].chroma
    with pytest.raises(UnsupportedJpegError):
        decodable_factors("411")  # 4:4:0 is decodable since the shared decoding core


@pytest.mark.parametrize("name", CODEC_SUBSAMPLINGS)
def test_files_written_for_each_codec_layout_read_back_as_that_layout(name):
    from tfjpeg.io import encode_pixels

    image = np.full((16, 16, 3), 128, np.uint8)
    for encoder in ("libjpeg", "mozjpeg"):
        coeffs = read_jpeg(encode_pixels(image, 80, subsampling=name, encoder=encoder))
        assert coeffs.subsampling == name
        assert coeffs.sampling == LAYOUTS[name].sampling
