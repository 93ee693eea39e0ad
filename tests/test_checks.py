"""tfjpeg._checks: the argument checks every module shares, and the errors they raise."""

from __future__ import annotations

import numpy as np
import pytest

from tfjpeg._checks import (
    check_choice,
    check_non_negative_int,
    check_positive_int,
    check_quality,
    check_quality_values,
    check_seed,
    is_int,
)
from tfjpeg.errors import InvalidArgumentError, TfjpegError


def test_quality_accepts_integers_in_1_to_100_and_returns_python_ints():
    assert check_quality(1) == 1 and check_quality(100) == 100
    value = check_quality(np.int64(75))
    assert value == 75 and type(value) is int


@pytest.mark.parametrize("bad", [0, 101, -5, 50.0, 50.5, True, False, "50", None])
def test_quality_refuses_out_of_range_floats_bools_and_strings_naming_the_argument(bad):
    with pytest.raises(InvalidArgumentError, match=r"^q_max must be an integer in \[1, 100\]\."):
        check_quality(bad, "q_max")
    with pytest.raises(ValueError, match=f"Received: quality={bad!r}"):  # still a ValueError
        check_quality(bad)


def test_float_quality_is_allowed_when_asked_for_but_bools_and_nan_are_not():
    assert check_quality(12.5, integer=False) == 12.5
    assert isinstance(check_quality(40, integer=False), float)
    for bad in (True, 0.5, 100.5, float("nan"), "x"):
        with pytest.raises(InvalidArgumentError, match="quality must be in"):
            check_quality(bad, integer=False)


def test_quality_values_check_size_range_and_finiteness():
    np.testing.assert_array_equal(check_quality_values([10, 90.5], n=2), [10.0, 90.5])
    assert check_quality_values(50, n=4).shape == ()
    with pytest.raises(InvalidArgumentError, match=r"one value per image \(3\)"):
        check_quality_values([10, 20], n=3)
    with pytest.raises(InvalidArgumentError, match=r"in \[1, 100\]"):
        check_quality_values([10, float("inf")])
    with pytest.raises(InvalidArgumentError, match="must be numeric"):
        check_quality_values("high")


def test_positive_and_non_negative_ints_refuse_bools_and_name_the_argument():
    assert check_positive_int(3, "crop_size") == 3
    assert check_non_negative_int(0, "start_step") == 0
    for bad in (0, -1, 2.0, True):
        with pytest.raises(InvalidArgumentError, match=f"crop_size=.*{bad!r}"):
            check_positive_int(bad, "crop_size")
    for bad in (-1, 1.5, False):
        with pytest.raises(InvalidArgumentError, match=r"^start_step must be a non-negative"):
            check_non_negative_int(bad, "start_step")


def test_seed_is_a_non_negative_int64_and_none_only_when_allowed():
    assert check_seed(0) == 0 and check_seed(2**63 - 1) == 2**63 - 1
    assert check_seed(None, allow_none=True) is None
    for bad in (-1, 2**63, 1.0, True, None):
        with pytest.raises(InvalidArgumentError, match=r"^z_seed must be .* below 2\*\*63"):
            check_seed(bad, "z_seed")
    with pytest.raises(InvalidArgumentError, match="or None"):
        check_seed(-3, allow_none=True)


def test_choice_lists_the_choices_and_the_received_value():
    assert check_choice("420", ("444", "420"), "subsampling") == "420"
    with pytest.raises(InvalidArgumentError) as info:
        check_choice("411", ("444", "420"), "subsampling")
    assert (
        str(info.value) == "subsampling must be one of ('444', '420'). Received: subsampling='411'"
    )
    with pytest.raises(
        InvalidArgumentError
    ):  # unhashable or array values are refused, not crashed on
        check_choice(np.array([1, 2]), (1, 2), "mode")


def test_is_int_accepts_python_and_numpy_integers_only():
    assert is_int(3) and is_int(np.int32(3)) and is_int(np.uint8(3))
    assert not any(is_int(v) for v in (True, np.bool_(True), 3.0, "3", None))


def test_argument_errors_are_tfjpeg_errors():
    assert issubclass(InvalidArgumentError, TfjpegError)
    assert issubclass(InvalidArgumentError, ValueError)
