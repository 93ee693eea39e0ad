"""The browser GUI of ``tfjpeg explore`` (Bahat & Michaeli 2021, §5 and Appendix B).

A local web page over :class:`tfjpeg.explore.Explorer`: mark a rectangle, pick a tool, and the
decoder moves to another decoding consistent with the file; undo/redo, the standard decode side
by side, a consistency badge after every edit, PNGs saved into one folder. Modules:
:mod:`~.session` (the shared state, serialized edits), :mod:`~.forms` (checking what the page
sends), :mod:`~.app` (the Starlette routes), :mod:`~.server` (uvicorn on a local socket), and
``static/`` (the page: HTML, JavaScript, CSS; nothing fetched from elsewhere).

It lives in the CLI layer, not in ``tfjpeg.explore``: it is a front end like the commands, and
its web stack (Starlette, uvicorn: ``pip install "tfjpeg[explore]"``) is optional, imported only
when the command runs (:func:`require_web_stack`).
"""

from __future__ import annotations

import importlib.util

from tfjpeg.errors import TfjpegError

__all__ = ["WEB_STACK", "require_web_stack"]

#: The optional modules the page needs (the ``explore`` extra).
WEB_STACK = ("starlette", "uvicorn")


def require_web_stack() -> None:
    """Raises a :class:`TfjpegError` naming the install command when the web stack is missing."""
    missing = [name for name in WEB_STACK if importlib.util.find_spec(name) is None]
    if missing:
        raise TfjpegError(
            f"tfjpeg explore needs {' and '.join(missing)}, which are not installed; install "
            'them with: pip install "tfjpeg[explore]"'
        )
