"""The explore page's web app (Starlette): the page, its static files and a small JSON API.

Routes (all answers JSON unless said; errors are ``{"error": message}``):

- ``GET /``: the page; ``GET /static/...``: its script and style (package data, no CDN).
- ``GET /api/state``: :meth:`ExploreSession.state` (the page polls it while an edit runs).
- ``GET /api/image/current`` and ``/api/image/standard``: PNGs (the explored image, the standard
  libjpeg decode), uncached; the page adds the state's version to the URL.
- ``POST /api/open``: the body is a JPEG file (``X-Filename`` names it): 413 over the byte or
  pixel limit, 400 with the reader's message for a bad file; the open file stays open.
- ``POST /api/apply`` ``{"tool", "region", "params"}``: 202, the edit runs in a worker thread.
- ``GET /api/image/alternative<i>``: the other decodings the last edit offered (``diverse``);
  ``POST /api/choose`` ``{"index": i}`` makes one current.
- ``POST /api/undo``, ``/api/redo``; ``POST /api/save`` ``{"name", "overwrite"}``.

Every ``POST`` must carry the header ``X-Tfjpeg: 1`` (the page's requests do): a web page of
another origin cannot send it without a CORS preflight, which this app never grants, so other
sites the user visits cannot edit or save through the local server. With ``allowed_hosts`` the
``Host`` header is checked too (DNS rebinding). A changing request while an edit runs gets 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tfjpeg.cli.explore_app.session import ExploreSession, SessionBusyError, too_large
from tfjpeg.errors import (
    ImageTooLargeError,
    InvalidArgumentError,
    OutputExistsError,
    TfjpegError,
)

__all__ = ["CLIENT_HEADER", "create_app"]

#: The header every changing request must carry (see the module docstring).
CLIENT_HEADER = "X-Tfjpeg"
_NO_STORE = {"Cache-Control": "no-store"}


def _static_dir() -> str:
    return str(resources.files("tfjpeg.cli.explore_app") / "static")


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_NO_STORE)


def _status_of(err: Exception) -> int:
    if isinstance(err, (SessionBusyError, OutputExistsError)):
        return 409
    if isinstance(err, ImageTooLargeError):
        return 413
    if isinstance(err, (TfjpegError, ValueError)):
        return 400
    return 500


def _message(err: Exception) -> str:
    if isinstance(err, OutputExistsError):
        return f"{err.filename} exists; tick 'overwrite' to replace it."
    if isinstance(err, TfjpegError):
        return str(err)
    return f"{type(err).__name__}: {err}"


def create_app(session: ExploreSession, *, allowed_hosts: Sequence[str] | None = None) -> Starlette:
    """The Starlette app serving ``session`` (see the module docstring for the routes).

    Args:
        session: the exploration session the page shows and edits.
        allowed_hosts: host names the ``Host`` header may carry (None: any).
    """

    async def call(function, *args: Any) -> Any:
        """Runs a session call off the event loop; the session's errors become statuses."""
        return await run_in_threadpool(function, *args)

    async def guarded(request: Request, handler) -> Response:
        if request.headers.get(CLIENT_HEADER) != "1":
            return _error(f"missing the {CLIENT_HEADER} header; use the explore page.", 403)
        try:
            return await handler()
        except Exception as err:  # every failure is a message in the page, the server goes on
            status = _status_of(err)
            if status == 500:
                import traceback

                traceback.print_exc()
            return _error(_message(err), status)

    async def json_body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise InvalidArgumentError("the request body must be JSON.") from None

    async def index(request: Request) -> Response:
        return FileResponse(f"{_static_dir()}/index.html", headers=_NO_STORE)

    async def state(request: Request) -> Response:
        return JSONResponse(await call(session.state), headers=_NO_STORE)

    async def image(request: Request) -> Response:
        which = request.path_params["which"]
        try:
            version, data = await call(session.png, which)
        except TfjpegError as err:
            return _error(str(err), 404)
        return Response(
            data, media_type="image/png", headers={**_NO_STORE, "X-Version": str(version)}
        )

    async def open_file(request: Request) -> Response:
        async def handler() -> Response:
            declared = request.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > session.max_bytes:
                raise too_large("the file", int(declared), session.max_bytes)
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > session.max_bytes:
                    raise too_large("the file", None, session.max_bytes)
                chunks.append(chunk)
            if not size:
                raise InvalidArgumentError("no file was sent; choose a JPEG file.")
            name = unquote(request.headers.get("x-filename", "")) or None
            await call(session.open, b"".join(chunks), name)
            return JSONResponse(await call(session.state), headers=_NO_STORE)

        return await guarded(request, handler)

    async def apply(request: Request) -> Response:
        async def handler() -> Response:
            await call(session.start_apply, await json_body(request))
            return JSONResponse(await call(session.state), status_code=202, headers=_NO_STORE)

        return await guarded(request, handler)

    def history(step: str):
        async def endpoint(request: Request) -> Response:
            async def handler() -> Response:
                await call(getattr(session, step))
                return JSONResponse(await call(session.state), headers=_NO_STORE)

            return await guarded(request, handler)

        return endpoint

    async def choose(request: Request) -> Response:
        async def handler() -> Response:
            body = await json_body(request)
            index = body.get("index") if isinstance(body, dict) else None
            await call(session.choose, index)
            return JSONResponse(await call(session.state), headers=_NO_STORE)

        return await guarded(request, handler)

    async def save(request: Request) -> Response:
        async def handler() -> Response:
            body = await json_body(request)
            if not isinstance(body, dict):
                raise InvalidArgumentError("the request must be a JSON object.")
            overwrite = body.get("overwrite", False)
            if not isinstance(overwrite, bool):
                raise InvalidArgumentError(f"overwrite must be true or false. Got {overwrite!r}")
            path = await call(session.save, body.get("name"), overwrite)
            return JSONResponse({"saved": str(path), "name": path.name}, headers=_NO_STORE)

        return await guarded(request, handler)

    routes = [
        Route("/", index),
        Route("/api/state", state),
        Route("/api/image/{which}", image),
        Route("/api/open", open_file, methods=["POST"]),
        Route("/api/apply", apply, methods=["POST"]),
        Route("/api/undo", history("undo"), methods=["POST"]),
        Route("/api/redo", history("redo"), methods=["POST"]),
        Route("/api/choose", choose, methods=["POST"]),
        Route("/api/save", save, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=_static_dir()), name="static"),
    ]
    middleware = []
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(routes=routes, middleware=middleware)
