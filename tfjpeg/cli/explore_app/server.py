"""Serving the explore app on a local socket with uvicorn: binding, the loopback rule, threads.

The socket is bound here rather than by uvicorn, so port 0 (a free port) gives a URL to print
and open before the first request, and a port in use is one clear error.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from typing import Any

from tfjpeg.errors import TfjpegError

__all__ = ["LOOPBACK_NAMES", "LocalServer", "allowed_hosts", "is_loopback"]

#: Host names that always mean this machine.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address (only this machine)."""
    name = host.strip().strip("[]")
    if name.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos
    )


def allowed_hosts(host: str) -> list[str] | None:
    """``Host`` headers the app accepts: this machine's names when bound to loopback, else any."""
    if not is_loopback(host):
        return None
    name = host.strip().strip("[]")
    names = {"localhost", "127.0.0.1", "[::1]", f"[{name}]" if ":" in name else name}
    return sorted(names)


def _bind(host: str, port: int) -> socket.socket:
    name = host.strip().strip("[]")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            name, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError as err:
        raise TfjpegError(f"cannot resolve --host {host!r}: {err.strerror or err}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        raise TfjpegError(f"cannot listen on {host} port {port}: {err.strerror or err}") from None
    return sock


class LocalServer:
    """A uvicorn server for ``app`` on ``host:port`` (port 0: a free one), bound at creation.

    ``run()`` serves in the calling thread until Ctrl+C; ``start()``/``stop()`` serve in a
    background thread (tests, scripts). Clients that disconnect never stop the server.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.host = host
        self.socket = _bind(host, port)
        self.port = int(self.socket.getsockname()[1])
        # log_config=None: uvicorn's own logging setup would keep handlers on the sys.stderr of
        # the moment; Python's default handling writes its warnings to the current one.
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        name = self.host.strip().strip("[]")
        shown = f"[{name}]" if ":" in name else name
        if name in ("0.0.0.0", "::"):  # every interface: this machine reaches it as localhost
            shown = "127.0.0.1" if name == "0.0.0.0" else "[::1]"
        return f"http://{shown}:{self.port}/"

    def run(self) -> None:
        """Serves until interrupted (Ctrl+C), then closes the socket."""
        self._serve()

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self.socket.close()

    def start(self, timeout: float = 30.0) -> LocalServer:
        """Serves in a daemon thread; returns once the server accepts requests."""
        self._thread = threading.Thread(target=self._serve, name="tfjpeg-explore", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise TfjpegError("the explore server did not start.")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stops a server started with :meth:`start`."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
