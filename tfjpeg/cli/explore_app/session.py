"""One exploration session behind the explore page: the open file, the running edit, the saves.

The page is a view of one :class:`tfjpeg.explore.Explorer` (Bahat & Michaeli 2021, §5: mark a
region, pick a tool, the decoder searches its control signal z for an output that satisfies the
tool while staying consistent with the file). :class:`ExploreSession` owns it and makes it safe
to share between browser tabs and requests:

- **Edits are serialized.** Every change of state (apply, undo, redo, opening a file) holds one
  lock for its whole duration; a second request meanwhile is refused with
  :class:`SessionBusyError` (HTTP 409 in the page), never interleaved.
- **Edits outlive their request.** ``apply`` runs in a worker thread and the page polls
  :meth:`ExploreSession.state` for its progress, so a closed tab or an aborted request cannot
  leave a half-made edit: the edit finishes and becomes the new current image.
- **The page shows immutable snapshots.** Images are copied when an edit finishes and served
  as PNG by version, so a request never reads an image while it changes.
- **Files are checked before any decoding** (byte size here, pixel limit and validity in the
  explorer's reader), and a refused file leaves the open one untouched.
- **Saves go into the output folder only** (:func:`tfjpeg.cli.explore_app.forms.output_path`),
  written atomically by the explorer.
"""

from __future__ import annotations

import io
import os
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tfjpeg.cli.explore_app.forms import apply_arguments, output_path, tool_specs_json
from tfjpeg.errors import ImageTooLargeError, InvalidArgumentError, TfjpegError
from tfjpeg.io.limits import naming

__all__ = ["DEFAULT_MAX_JPEG_BYTES", "ExploreSession", "SessionBusyError", "size_text", "too_large"]

#: Largest JPEG file the page opens, in bytes (checked before any byte is parsed; the pixel limit
#: of :mod:`tfjpeg.io.limits` is checked from the header next).
DEFAULT_MAX_JPEG_BYTES = 64 * 2**20


def size_text(size: int) -> str:
    """A byte count for messages: ``"12.3 MiB"`` from 1 MiB on, ``"812 bytes"`` below."""
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size:,} bytes"


def too_large(label: str, size: int | None, limit: int) -> ImageTooLargeError:
    """The refusal of a file over the byte limit (``size`` None: its size is not known yet)."""
    what = "more" if size is None else f"{size_text(size)}, more"
    return ImageTooLargeError(f"{label} is {what} than the limit of {size_text(limit)}.")


class SessionBusyError(TfjpegError):
    """Another edit is running; the request was refused and nothing changed."""


def _default_explorer_factory(source: bytes, *, decoder: str | None, max_pixels: int | None):
    from tfjpeg.explore import Explorer

    return Explorer(source, decoder=decoder, max_pixels=max_pixels)


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _consistency_json(report: Any) -> dict[str, Any]:
    """The badge: consistent or not, and the share of the file's coefficients that the image
    reproduces when re-encoded as uint8 the way libjpeg-turbo does (``fraction_uint8``)."""
    return {"consistent": bool(report.consistent), "share": float(report.fraction_uint8)}


class ExploreSession:
    """The state behind the explore page (thread-safe; see the module docstring).

    Args:
        output_dir: the only folder saves are written to (must exist).
        decoder: the learned decoder name passed to the explorer (None: its default).
        max_pixels: pixel limit of opened files and image parameters (None: tfjpeg's default).
        max_bytes: byte limit of opened files.
        explorer_factory: ``(jpeg_bytes, decoder=, max_pixels=) -> Explorer``; the real
            :class:`tfjpeg.explore.Explorer` by default.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        *,
        decoder: str | None = None,
        max_pixels: int | None = None,
        max_bytes: int = DEFAULT_MAX_JPEG_BYTES,
        explorer_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.output_dir = Path(output_dir).resolve()
        if not self.output_dir.is_dir():
            raise InvalidArgumentError(
                f"output_dir must be an existing folder. Received: {os.fspath(output_dir)!r}"
            )
        self.decoder = decoder
        self.max_pixels = max_pixels
        self.max_bytes = int(max_bytes)
        self._factory = explorer_factory or _default_explorer_factory
        self._edit = threading.Lock()  # held for the whole of every state change
        self._state = threading.Lock()  # guards the fields below (held briefly)
        self._explorer: Any = None
        self._name: str | None = None
        self._images: dict[str, np.ndarray] = {}
        self._pngs: dict[str, tuple[int, bytes]] = {}
        self._version = 0  # of the current image; +1 on every change
        self._opened = 0  # of the standard image; +1 on every file opened
        self._consistency: dict[str, Any] | None = None
        self._tools_json: list[dict[str, Any]] = []
        self._history_flags = (False, False)  # (can_undo, can_redo) after the last change
        self._job: dict[str, Any] = {"running": False, "tool": None, "progress": 0.0}
        self._last_error: str | None = None
        self._saved: list[str] = []
        self._worker: threading.Thread | None = None

    # ------------------------------------------------------------------ state changes

    def _acquire(self, what: str) -> None:
        if not self._edit.acquire(blocking=False):
            with self._state:
                tool = self._job.get("tool")
            running = f"the {tool} edit" if tool else "another change"
            raise SessionBusyError(f"cannot {what}: {running} is still running; wait for it.")

    def open(self, data: bytes, name: str | None = None) -> None:
        """Opens a JPEG (its bytes); a refused file leaves the open one as it was.

        Raises:
            ImageTooLargeError: more bytes than ``max_bytes`` (or pixels than ``max_pixels``).
            TfjpegError: not a JPEG tfjpeg can read (the explorer's message).
            SessionBusyError: an edit is running.
        """
        label = name or "the file"
        if len(data) > self.max_bytes:
            raise too_large(label, len(data), self.max_bytes)
        self._acquire("open a file")
        try:
            with naming(name):
                explorer = self._factory(
                    bytes(data), decoder=self.decoder, max_pixels=self.max_pixels
                )
            standard = np.array(explorer.standard_image, dtype=np.uint8)
            current = np.array(explorer.image, dtype=np.uint8)
            consistency = _consistency_json(explorer.consistency())
            tools_json = tool_specs_json(explorer.tools)
            with self._state:
                self._explorer = explorer
                self._tools_json = tools_json
                self._history_flags = (bool(explorer.can_undo), bool(explorer.can_redo))
                self._name = name
                self._images = {"current": current, "standard": standard}
                self._consistency = consistency
                self._version += 1
                self._opened += 1
                self._job = {"running": False, "tool": None, "progress": 0.0}
                self._last_error = None
        finally:
            self._edit.release()

    def start_apply(self, request: Any) -> None:
        """Checks the page's edit request and starts it in a worker thread.

        Raises:
            InvalidArgumentError: an unknown tool, a bad region or parameter (nothing starts).
            SessionBusyError: another edit is running.
        """
        explorer = self._require_file()
        with self._state:
            shape = self._images["current"].shape
        tool, region, params = apply_arguments(request, explorer.tools, shape, self.max_pixels)
        self._acquire(f"start {tool}")
        with self._state:
            self._job = {"running": True, "tool": tool, "progress": 0.0}
            self._last_error = None
        worker = threading.Thread(
            target=self._run_apply,
            args=(explorer, tool, region, params),
            name=f"tfjpeg-explore-{tool}",
            daemon=True,
        )
        self._worker = worker
        try:
            worker.start()
        except BaseException:
            self._finish_job(f"cannot start the edit: {tool}")
            self._edit.release()
            raise

    def _run_apply(self, explorer, tool: str, region, params: dict[str, Any]) -> None:
        error = None
        try:
            explorer.apply(tool, region=region, progress=self._set_progress, **params)
            self._publish(explorer, alternatives=True)
        except TfjpegError as err:
            error = str(err)
        except Exception as err:  # keep serving; the page shows what went wrong
            traceback.print_exc()
            error = f"{tool} failed: {type(err).__name__}: {err}"
        finally:
            self._finish_job(error)
            self._edit.release()

    def _set_progress(self, fraction: float) -> None:
        with self._state:
            self._job["progress"] = min(max(float(fraction), 0.0), 1.0)

    def _finish_job(self, error: str | None) -> None:
        with self._state:
            self._job = {"running": False, "tool": None, "progress": 0.0}
            self._last_error = error

    def _publish(self, explorer, alternatives: bool = False) -> None:
        """Snapshots the explorer's current image and checks its consistency (edit lock held).

        With ``alternatives`` (after an edit) the other decodings it offers (the ``diverse``
        tool, §5's "optional reconstructions") are snapshot too; otherwise they are kept only
        when ``alternatives`` is None (choosing one of them)."""
        current = np.array(explorer.image, dtype=np.uint8)
        consistency = _consistency_json(explorer.consistency())
        images = {"current": current, "standard": self._images["standard"]}
        if alternatives:
            offered = getattr(explorer, "alternatives", ())
            images.update({f"alternative{i}": np.array(a, np.uint8) for i, a in enumerate(offered)})
        elif alternatives is None:
            images.update({k: v for k, v in self._images.items() if k.startswith("alternative")})
        with self._state:
            self._images = images
            self._consistency = consistency
            self._history_flags = (bool(explorer.can_undo), bool(explorer.can_redo))
            self._version += 1

    def _history(self, step: str) -> None:
        explorer = self._require_file()
        self._acquire(step)
        try:
            if not (explorer.can_undo if step == "undo" else explorer.can_redo):
                raise InvalidArgumentError(f"nothing to {step}.")
            explorer.undo() if step == "undo" else explorer.redo()
            self._publish(explorer)
            with self._state:
                self._last_error = None
        finally:
            self._edit.release()

    def choose(self, index: Any) -> None:
        """Makes alternative ``index`` of the last edit the current image (an undoable step)."""
        explorer = self._require_file()
        self._acquire("choose an alternative")
        try:
            with self._state:
                count = sum(k.startswith("alternative") for k in self._images)
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
                raise InvalidArgumentError(
                    f"index must be an alternative of the last edit, in [0, {count}). "
                    f"Received: index={index!r}"
                )
            explorer.choose_alternative(index)
            self._publish(explorer, alternatives=None)
        finally:
            self._edit.release()

    def undo(self) -> None:
        """Goes back one edit (refused while an edit runs or when there is none)."""
        self._history("undo")

    def redo(self) -> None:
        """Re-applies the edit undone last (refused while an edit runs or when there is none)."""
        self._history("redo")

    def save(self, name: Any, overwrite: bool = False) -> Path:
        """Saves the current image as ``output_dir/name`` (a plain ``.png`` name), atomically.

        Raises:
            InvalidArgumentError: a name that is not a plain PNG name inside the output folder.
            OutputExistsError: the file exists and ``overwrite`` is False.
            SessionBusyError: an edit is running (its result is not the current image yet).
        """
        explorer = self._require_file()
        path = output_path(self.output_dir, name)
        self._acquire("save")
        try:
            explorer.save_png(path, overwrite=bool(overwrite))
        finally:
            self._edit.release()
        with self._state:
            self._saved.append(path.name)
        return path

    # ------------------------------------------------------------------ views

    def _require_file(self):
        with self._state:
            explorer = self._explorer
        if explorer is None:
            raise InvalidArgumentError("no file is open; open a JPEG first.")
        return explorer

    def png(self, which: str) -> tuple[int, bytes]:
        """``(version, PNG bytes)`` of the ``"current"`` or ``"standard"`` image, or of
        ``"alternative<i>"``, an alternative the last edit offered."""
        self._require_file()
        with self._state:
            image = self._images.get(which)
            version = self._opened if which == "standard" else self._version
            cached = self._pngs.get(which)
        if image is None:
            raise InvalidArgumentError(
                f"which must be current, standard or an alternative of the last edit. "
                f"Received: {which!r}"
            )
        if cached is not None and cached[0] == version:
            return cached
        data = _png(image)
        with self._state:
            self._pngs[which] = (version, data)
        return version, data

    def state(self) -> dict[str, Any]:
        """Everything the page shows, as JSON: file, size, tools, history, consistency, job."""
        with self._state:
            out: dict[str, Any] = {
                "file": self._name,
                "version": self._version,
                "consistency": self._consistency,
                "job": dict(self._job),
                "error": self._last_error,
                "output_dir": os.fspath(self.output_dir),
                "saved": list(self._saved),
                "max_bytes": self.max_bytes,
            }
            height, width = self._images["current"].shape[:2] if self._images else (None, None)
            out["alternatives"] = sum(k.startswith("alternative") for k in self._images)
            idle = not self._job["running"]
            out.update(
                height=height,
                width=width,
                tools=self._tools_json,
                can_undo=self._history_flags[0] and idle,
                can_redo=self._history_flags[1] and idle,
            )
        return out

    def wait(self, timeout: float | None = None) -> bool:
        """Waits for the running edit (if any); True when none is running afterwards."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        with self._state:
            return not self._job["running"]
