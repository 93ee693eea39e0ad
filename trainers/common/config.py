"""Trainer configs: JSON (or YAML when PyYAML is installed) files mapped 1:1 to arguments."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from tfjpeg.errors import TfjpegError
from tfjpeg.io import save_bytes_atomic

__all__ = ["CONFIG_NAME", "load_config", "save_config"]

CONFIG_NAME = "config.json"


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a config file: ``.json``, or ``.yaml``/``.yml`` if PyYAML is importable.

    Raises:
        TfjpegError: the file is missing, unreadable, not a mapping at the top level, or YAML
            without PyYAML.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TfjpegError(f"cannot read config {path}: {err}") from err
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as err:
            raise TfjpegError(
                f"{path} is YAML but PyYAML is not installed: pip install pyyaml, or use JSON."
            ) from err
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise TfjpegError(f"{path} is not valid YAML: {err}") from err
    elif suffix == ".json":
        try:
            config = json.loads(text)
        except json.JSONDecodeError as err:
            raise TfjpegError(f"{path} is not valid JSON: {err}") from err
    else:
        raise TfjpegError(f"config must be .json, .yaml or .yml. Received: path={str(path)!r}")
    if not isinstance(config, dict):
        raise TfjpegError(
            f"{path}: a config is a mapping of argument names to values, got "
            f"{type(config).__name__}."
        )
    return config


def save_config(config: dict[str, Any], run_dir: str | os.PathLike) -> Path:
    """Write ``config`` as ``run_dir/config.json`` (atomically) and return that path.

    A resumed run that changes the config warns and records the new one.

    Raises:
        TfjpegError: ``config`` is not JSON-serialisable.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        data = (json.dumps(config, indent=2, sort_keys=True) + "\n").encode("utf-8")
    except (TypeError, ValueError) as err:
        raise TfjpegError(f"config is not JSON-serialisable: {err}") from err
    target = run_dir / CONFIG_NAME
    if target.exists():
        try:
            same = json.loads(target.read_text(encoding="utf-8")) == json.loads(data)
        except (OSError, ValueError):
            same = False
        if same:  # also keeps a user's own file untouched when it is given as --config
            return target
        warnings.warn(
            f"{target} differs from this run's config; replacing it (the checkpoints were "
            "made with the old one).",
            stacklevel=2,
        )
    return save_bytes_atomic(target, data, overwrite=True)
