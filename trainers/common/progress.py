"""A dependency-free progress bar with rate and ETA for training loops (stderr)."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TextIO

__all__ = ["ProgressBar", "format_duration"]


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` (or ``MM:SS`` under an hour); ``?`` when unknown."""
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "?"
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressBar:
    """``label  45%|#####     | 450/1000 [02:13<02:43, 3.38 step/s] loss=0.0123``.

    On a terminal the line is redrawn in place (at most every ``min_interval`` seconds); when
    the stream is not a terminal (``nohup`` logs) a full line is written at most every
    ``line_interval`` seconds, so logs stay short. The rate and ETA count only the steps done
    since this bar started, so a resumed run does not report an absurd speed.

    Args:
        total: Last step.
        initial: First step (the resumed step).
        description: Label in front of the bar.
        stream: Where to write (default ``sys.stderr``).
        enabled: ``False`` writes nothing (non-chief workers).
        width: Bar width in characters.
    """

    def __init__(
        self,
        total: int,
        *,
        initial: int = 0,
        description: str = "",
        stream: TextIO | None = None,
        enabled: bool = True,
        width: int = 24,
        min_interval: float = 0.2,
        line_interval: float = 30.0,
    ) -> None:
        self.total = int(total)
        self.initial = self.step = int(initial)
        self.description = description
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.width = width
        self.min_interval = min_interval
        self.line_interval = line_interval
        self._start = time.monotonic()
        self._last_draw = -float("inf")
        isatty = getattr(self.stream, "isatty", None)
        self._tty = bool(isatty and isatty())
        self._postfix = ""
        self._drawn_step: int | None = None

    def render(self, now: float | None = None) -> str:
        """The bar as one line of text."""
        now = time.monotonic() if now is None else now
        elapsed = now - self._start
        done = self.step - self.initial
        rate = done / elapsed if elapsed > 0 and done > 0 else 0.0
        eta = (self.total - self.step) / rate if rate > 0 else float("nan")
        frac = min(max(self.step / self.total, 0.0), 1.0) if self.total > 0 else 1.0
        filled = int(frac * self.width)
        bar = "#" * filled + " " * (self.width - filled)
        rate_text = f"{rate:.2f} step/s" if rate >= 1 or rate == 0 else f"{1 / rate:.2f} s/step"
        text = (
            f"{self.description + '  ' if self.description else ''}{frac * 100:3.0f}%|{bar}| "
            f"{self.step}/{self.total} [{format_duration(elapsed)}<{format_duration(eta)}, "
            f"{rate_text}]"
        )
        return f"{text} {self._postfix}".rstrip()

    def update(self, step: int, values: Mapping[str, float] | None = None) -> None:
        """Move to ``step``; ``values`` (e.g. losses) are shown after the bar."""
        self.step = int(step)
        if values is not None:
            self._postfix = " ".join(f"{k}={v:.4g}" for k, v in values.items())
        if not self.enabled:
            return
        now = time.monotonic()
        interval = self.min_interval if self._tty else self.line_interval
        if now - self._last_draw >= interval or self.step >= self.total:
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._last_draw = now
        self._drawn_step = self.step
        line = self.render(now)
        if self._tty:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line."""
        if not self.enabled:
            return
        if self._tty or self._drawn_step != self.step:
            self._draw(time.monotonic())
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
