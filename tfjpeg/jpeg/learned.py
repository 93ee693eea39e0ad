"""A learned family of quantization tables: quality → [luma, chroma] tables.

Item 4 of the pre-editing issue (Talebi et al. 2020 §3–4 optimize the editor through DiffJPEG and
a rate model; the same objective, ``dist + μ·B_q``, optimizes the tables themselves). A family
is a set of integer tables learned at *anchor* qualities (``trainers/tables/train.py``); a
quality between two anchors gets the geometric interpolation of its neighbours' tables, with the
weight linear in the log of libjpeg's scale factor ``s(q)`` (the IJG formula, so a family of
scaled Annex K tables interpolates to exactly libjpeg's scaling). Qualities outside the anchors'
range are refused: the tables were not learned there. The shipped family is the registry's
"tables" model: ``tfjpeg.models.presets.load("learned_tables")`` (``jpeg/`` imports nothing
above it, so the class has no ``from_preset``).

Example:
    >>> family = TableFamily((10, 50), np.stack([quality_to_tables(10), quality_to_tables(50)]))
    >>> family.tables(30).shape
    (2, 8, 8)
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from tfjpeg._checks import check_quality, is_int
from tfjpeg.errors import InvalidArgumentError, TfjpegError
from tfjpeg.jpeg.tables import _ijg_scale, check_baseline_tables

__all__ = ["TABLES_FILE", "TableFamily"]

#: The file of a shipped family in its model folder (``saved_models/<name>/<version>/``).
TABLES_FILE = "tables.json"
_FORMAT = "tfjpeg-learned-tables"


@dataclasses.dataclass(frozen=True, eq=False)
class TableFamily:
    """Integer tables at increasing anchor qualities, interpolated in between.

    Args:
        qualities: the anchor qualities, increasing integers in 1..100 (at least one).
        tables: int (A, 2, 8, 8) [luma, chroma] tables per anchor, natural order, 1..255.
        info: free-form description kept in the JSON (objective, data, encoder, ...).
    """

    qualities: tuple[int, ...]
    tables_at: np.ndarray
    info: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __init__(self, qualities: Any, tables: Any, info: dict[str, Any] | None = None):
        qs = tuple(qualities)
        if not qs or not all(is_int(q) and 1 <= q <= 100 for q in qs):
            raise InvalidArgumentError(
                f"qualities must be integers in [1, 100]. Received: qualities={qs!r}"
            )
        if any(b <= a for a, b in itertools.pairwise(qs)):
            raise InvalidArgumentError(f"qualities must increase. Received: qualities={qs!r}")
        arr = np.asarray(tables)
        if arr.ndim != 4 or arr.shape[0] != len(qs):
            raise InvalidArgumentError(
                f"tables must have shape ({len(qs)}, 2, 8, 8), one set per quality. "
                f"Received: tables.shape={arr.shape}"
            )
        checked = np.stack([check_baseline_tables(t, "tables") for t in arr])
        object.__setattr__(self, "qualities", tuple(int(q) for q in qs))
        object.__setattr__(self, "tables_at", checked)
        object.__setattr__(self, "info", dict(info or {}))

    @property
    def quality_range(self) -> tuple[int, int]:
        """The lowest and highest quality the family covers."""
        return self.qualities[0], self.qualities[-1]

    def tables(self, quality: int) -> np.ndarray:
        """int32 (K, 8, 8) tables for an integer ``quality`` inside :attr:`quality_range`.

        Raises:
            InvalidArgumentError: ``quality`` not an integer in 1..100, or outside the range the
                tables were learned for.
        """
        q = check_quality(quality)
        lo, hi = self.quality_range
        if not lo <= q <= hi:
            raise InvalidArgumentError(
                f"quality must be in [{lo}, {hi}] for these learned tables (the range they were "
                f"learned for); use the standard tables outside it. Received: quality={q}"
            )
        i = int(np.searchsorted(self.qualities, q))
        if self.qualities[i] == q:
            return self.tables_at[i].copy()
        q0, q1 = self.qualities[i - 1], self.qualities[i]
        s = [math.log(_ijg_scale(float(v))) for v in (q0, q, q1)]
        w = (s[1] - s[0]) / (s[2] - s[0])
        logs = (1 - w) * np.log(self.tables_at[i - 1]) + w * np.log(self.tables_at[i])
        return np.clip(np.round(np.exp(logs)), 1, 255).astype(np.int32)

    # -- files ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "version": 1,
            "order": "natural (row-major), [luma, chroma] per quality",
            "qualities": list(self.qualities),
            "tables": self.tables_at.tolist(),
            "info": self.info,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableFamily:
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise TfjpegError(f"not a learned-tables file (format {_FORMAT!r} expected).")
        return cls(data["qualities"], data["tables"], data.get("info"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> TableFamily:
        """Read a family from its JSON file, or from a folder holding :data:`TABLES_FILE`."""
        p = Path(path)
        if p.is_dir():
            p = p / TABLES_FILE
        if not p.is_file():
            raise TfjpegError(f"learned tables not found at {p}.")
        with open(p, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise TfjpegError(f"{p}: not valid JSON ({e}).") from None
        return cls.from_json(data)
