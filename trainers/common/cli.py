"""Command-line options every trainer shares (``main(argv)`` of ``trainers/<family>/train.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trainers.common.strategy import STRATEGIES

__all__ = ["COMMON_OPTIONS", "add_common_arguments", "apply_common_arguments"]

# Option dest -> config key it overrides.
COMMON_OPTIONS = {
    "steps": "steps",
    "checkpoint_every": "checkpoint_every",
    "log_every": "log_every",
    "seed": "seed",
}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def add_common_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--config --run-dir --steps --strategy --checkpoint-every --log-every --seed``.

    Every option defaults to ``None`` ("not given"), so a trainer takes the value from its
    config unless the command line overrides it (see :func:`apply_common_arguments`);
    ``--strategy`` defaults to ``"default"``. Returns ``parser``.
    """
    group = parser.add_argument_group("training run")
    group.add_argument("--config", type=Path, help="JSON (or YAML) config; copied to the run dir")
    group.add_argument(
        "--run-dir", type=Path, help="checkpoints (resumed automatically), logs, config"
    )
    group.add_argument("--steps", type=_positive_int, help="total training steps")
    group.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="default",
        help="tf.distribute strategy; multiworker reads TF_CONFIG",
    )
    group.add_argument("--checkpoint-every", type=_positive_int, help="steps between checkpoints")
    group.add_argument("--log-every", type=_positive_int, help="steps between TensorBoard scalars")
    group.add_argument("--seed", type=_non_negative_int, help="seed of data and initialisation")
    return parser


def apply_common_arguments(config: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """A copy of ``config`` with the common options given on the command line put in."""
    merged = dict(config)
    for dest, key in COMMON_OPTIONS.items():
        value = getattr(args, dest, None)
        if value is not None:
            merged[key] = value
    return merged
