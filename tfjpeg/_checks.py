"""Argument checks shared by every module of tfjpeg.

Each check returns the normalized value or raises :class:`tfjpeg.errors.InvalidArgumentError`
(a ``ValueError``) whose message names the argument and what was received, in the Keras style
``"quality must be an integer in [1, 100]. Received: quality=0"``. Pure Python and numpy: no
TensorFlow (and numpy only where arrays are checked), so every layer (``jpeg/`` included) and
the command line may import it at no cost.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tfjpeg.errors import InvalidArgumentError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MAX_QUALITY",
    "MIN_QUALITY",
    "check_bool",
    "check_choice",
    "check_non_negative_int",
    "check_positive_int",
    "check_quality",
    "check_quality_values",
    "check_seed",
    "is_int",
]

#: The IJG quality factor range (libjpeg ``jpeg_set_quality``).
MIN_QUALITY, MAX_QUALITY = 1, 100


def is_int(value: Any) -> bool:
    """True for Python and numpy integers, False for bools (``True`` is not a quality of 1)."""
    # numpy registers its integer types as numbers.Integral; numpy.bool_ is not Integral.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_quality(value: Any, name: str = "quality", *, integer: bool = True) -> int | float:
    """An IJG quality factor in [1, 100].

    Args:
        value: the argument.
        name: the argument's name, for the message.
        integer: require an integer (the default, as libjpeg); with False any real number in
            [1, 100] is accepted and returned as float (editors condition on a float quality).

    Returns:
        ``int(value)``, or ``float(value)`` when ``integer`` is False.

    Raises:
        InvalidArgumentError: a bool, a non-integer (when ``integer``), or a value outside [1, 100].

    Example:
        >>> check_quality(75)
        75
    """
    if integer:
        if not is_int(value) or not MIN_QUALITY <= value <= MAX_QUALITY:
            raise InvalidArgumentError(
                f"{name} must be an integer in [1, 100]. Received: {name}={value!r}"
            )
        return int(value)
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise InvalidArgumentError(f"{name} must be in [1, 100]. Received: {name}={value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"{name} must be in [1, 100]. Received: {name}={value!r}"
        ) from None
    if not MIN_QUALITY <= number <= MAX_QUALITY:  # NaN fails too
        raise InvalidArgumentError(f"{name} must be in [1, 100]. Received: {name}={value}")
    return number


def check_quality_values(values: Any, n: int | None = None, name: str = "quality") -> np.ndarray:
    """Known quality values (a scalar or one per image) as float64, all finite and in [1, 100].

    The array form of :func:`check_quality` used by the codec for qualities given as arrays or
    constant tensors (non-integer values are allowed there: they are rounded to libjpeg's table).

    Args:
        values: a number or array-like of numbers.
        n: the batch size, if known: the values must then be one scalar or ``n`` values.
        name: the argument's name, for the message.

    Returns:
        The values as a float64 array.

    Raises:
        InvalidArgumentError: not numeric, of the wrong size, or outside [1, 100].
    """
    import numpy as np

    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be numeric. Received: {name}={values!r}") from None
    if arr.size == 0 or (n is not None and arr.size not in (1, n)):
        raise InvalidArgumentError(
            f"{name} must be a scalar or hold one value per image"
            f"{f' ({n})' if n is not None else ''}. Received: {name}.shape={arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < MIN_QUALITY) or np.any(arr > MAX_QUALITY):
        raise InvalidArgumentError(f"{name} must be in [1, 100]. Received: {name}={arr.tolist()}")
    return arr


def check_positive_int(value: Any, name: str) -> int:
    """An integer ≥ 1 (bools refused)."""
    if not is_int(value) or value < 1:
        raise InvalidArgumentError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return int(value)


def check_non_negative_int(value: Any, name: str) -> int:
    """An integer ≥ 0 (bools refused)."""
    if not is_int(value) or value < 0:
        raise InvalidArgumentError(
            f"{name} must be a non-negative integer. Received: {name}={value!r}"
        )
    return int(value)


def check_seed(value: Any, name: str = "seed", *, allow_none: bool = False) -> int | None:
    """A random seed: an integer in [0, 2**63) (it becomes a tf.int64), or None if allowed."""
    if value is None and allow_none:
        return None
    if not is_int(value) or not 0 <= value < 2**63:
        extra = " or None" if allow_none else ""
        raise InvalidArgumentError(
            f"{name} must be a non-negative integer below 2**63{extra}. Received: {name}={value!r}"
        )
    return int(value)


def check_bool(value: Any, name: str) -> bool:
    """A flag: ``True`` or ``False`` (or a numpy bool); not a string, a number or None.

    ``"no"`` or ``0.0`` for a flag is almost always a mistake, so it is refused rather than
    converted with ``bool()``.
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise InvalidArgumentError(f"{name} must be True or False. Received: {name}={value!r}")


def check_choice(value: Any, choices: Iterable[Any], name: str) -> Any:
    """One of ``choices`` (compared with ``in``; e.g. a layout name or a rounding mode)."""
    choices = tuple(choices)
    try:
        ok = value in choices
    except (TypeError, ValueError):  # e.g. an array, whose truth value is ambiguous
        ok = False
    if not ok:
        raise InvalidArgumentError(f"{name} must be one of {choices}. Received: {name}={value!r}")
    return value
