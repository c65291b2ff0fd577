"""Serve a `FakePolar` over real HTTP on a loopback port, with uvicorn in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._fake import FakePolar

__all__ = ["FakePolarServer"]

_START_TIMEOUT = 10.0


class FakePolarServer:
    """A running loopback server for a `FakePolar` (create it with `FakePolar.serve()`).

    Use it as a context manager: the server starts on entry (on a free port unless one was
    given) and stops on exit. `url` is the base URL to hand to a client, e.g.
    `Polar(base_url=server.url)`.
    """

    def __init__(self, fake: FakePolar, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<FakePolarServer {self.url or self.host} {state}>"

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def url(self) -> str:
        """`http://host:port` once started, "" before."""
        if self._server is None:
            return ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Start serving; returns once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("this FakePolarServer was already started")
        try:
            import uvicorn
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "FakePolar.serve() needs uvicorn: pip install 'polar-async-sdk[testing]'"
            ) from exc
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY on accepted connections only
        # when the listening socket says it is TCP. Without it every answer waits ~40 ms for
        # the client's delayed ACK (Nagle's algorithm).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.fake, log_level="warning", access_log=False, lifespan="off", loop="asyncio"
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"FakePolarServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError("the fake Polar API server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop serving and wait for the thread (at most 10 s)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=_START_TIMEOUT)

    def __enter__(self) -> FakePolarServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
