"""Shared trainer machinery: strategies, configs, the training loop, progress bar, CLI options.

See trainers/README.md for how a trainer is built on these pieces.
"""

from trainers.common.cli import add_common_arguments, apply_common_arguments
from trainers.common.config import load_config, save_config
from trainers.common.loop import TrainingLoop, replica_seed
from trainers.common.progress import ProgressBar
from trainers.common.strategy import (
    STRATEGIES,
    is_chief,
    make_strategy,
    num_workers,
    worker_index,
)

__all__ = [
    "STRATEGIES",
    "ProgressBar",
    "TrainingLoop",
    "add_common_arguments",
    "apply_common_arguments",
    "is_chief",
    "load_config",
    "make_strategy",
    "num_workers",
    "replica_seed",
    "save_config",
    "worker_index",
]
