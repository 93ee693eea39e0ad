"""tfjpeg.jpeg.learned: a learned family of quantization tables (quality → tables), its file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tfjpeg.errors import InvalidArgumentError, TfjpegError
from tfjpeg.io import encode_pixels, read_jpeg
from tfjpeg.jpeg.learned import TABLES_FILE, TableFamily
from tfjpeg.jpeg.tables import check_baseline_tables, quality_to_tables


def _ijg_family(qualities=(20, 40, 80)) -> TableFamily:
    return TableFamily(qualities, np.stack([quality_to_tables(q) for q in qualities]))


def test_anchors_are_exact_and_ijg_tables_interpolate_to_libjpegs_scaling():
    """Between anchors the log-tables are interpolated linearly in log s(q) (the IJG scale), so
    a family of Annex K tables reproduces libjpeg's own tables in between (up to rounding), where
    no anchor clips an entry at 255."""
    family = _ijg_family()
    unclipped = (family.tables_at < 255).all(axis=0)
    for q in family.qualities:
        np.testing.assert_array_equal(family.tables(q), quality_to_tables(q))
    for q in (22, 30, 39, 50, 79):
        got, want = family.tables(q), quality_to_tables(q)
        assert got.dtype == np.int32 and got.shape == (2, 8, 8)
        assert np.abs(got - want)[unclipped].max() <= 1, q
        assert np.all(got[~unclipped] <= 255)
    assert family.quality_range == (20, 80)


@pytest.mark.parametrize("quality", [19, 81, 0, 101, 20.5, True])
def test_a_quality_outside_the_learned_range_is_refused(quality):
    with pytest.raises(InvalidArgumentError, match="quality"):
        _ijg_family().tables(quality)


def test_the_json_file_round_trips_and_bad_files_are_refused(tmp_path):
    family = _ijg_family()
    (tmp_path / TABLES_FILE).write_text(json.dumps(family.to_json()))
    again = TableFamily.load(tmp_path)
    assert again.qualities == family.qualities
    np.testing.assert_array_equal(again.tables_at, family.tables_at)
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(TfjpegError, match="learned-tables"):
        TableFamily.load(tmp_path / "other.json")
    with pytest.raises(TfjpegError, match="not found"):
        TableFamily.load(tmp_path / "missing")


@pytest.mark.parametrize(
    "qualities, tables, match",
    [
        ((10, 10), np.ones((2, 2, 8, 8)), "increase"),
        ((0,), np.ones((1, 2, 8, 8)), "qualities"),
        ((10, 20), np.ones((1, 2, 8, 8)), "one set per quality"),
        ((10,), np.full((1, 2, 8, 8), 300), "tables"),
    ],
)
def test_a_family_refuses_bad_anchors_or_tables(qualities, tables, match):
    with pytest.raises(InvalidArgumentError, match=match):
        TableFamily(qualities, tables)


def test_check_baseline_tables_accepts_integer_valued_floats_and_returns_int32():
    got = check_baseline_tables(quality_to_tables(50).astype(np.float32))
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, quality_to_tables(50))


def test_the_shipped_family_loads_from_the_registry_and_writes_its_tables():
    """The registry entry of family "tables" loads (cached) and its tables reach the file."""
    from tfjpeg.models import model_dir, names
    from tfjpeg.models.presets import load

    name = names("tables")[0]
    assert (model_dir(name) / TABLES_FILE).is_file()
    family = load(name, cls=TableFamily)
    assert family is load(name, cls=TableFamily)
    lo, hi = family.quality_range
    assert lo <= 20 <= hi
    image = np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    coeffs = read_jpeg(encode_pixels(image, None, tables=family.tables(20), optimize=True))
    np.testing.assert_array_equal(coeffs.tables, family.tables(20))
