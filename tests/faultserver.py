"""A raw-socket HTTP/1.1 server on loopback that misbehaves on request, for resilience tests.

uvicorn cannot reset a connection halfway or send a body that ends early, so this server speaks
just enough HTTP/1.1 itself. Each request takes the next scripted `Action` (or the default
answer); the server counts requests, connections, and the most connections open at once.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Action:
    """What to do with one request.

    kind: "respond" (status/headers/body), "reset_before_body" (RST once the headers are read),
    "reset_after_body" (RST once the body is read), "truncate" (declare `body` longer than it
    is, send it, close). `delay` waits before answering; `drip` sends the body in `drip`
    pieces, `interval` seconds apart.
    """

    kind: str = "respond"
    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    drip: int = 0
    interval: float = 0.0


def respond(
    status: int, body: Any = b"", headers: dict[str, str] | None = None, **kw: Any
) -> Action:
    """An answer; a non-bytes `body` is JSON-encoded with a JSON content type."""
    hdrs = dict(headers or {})
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
        hdrs.setdefault("content-type", "application/json")
    return Action(status=status, headers=hdrs, body=body, **kw)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FaultServer:
    """See the module docstring. Use `start()` / `stop()` or the pytest fixture."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._lock = threading.Lock()
        self._script: deque[Action] = deque()
        self.default: Action = respond(599, b"fault server: nothing scripted")
        self.requests: list[Seen] = []
        self.heads = 0  # requests whose head arrived (including ones reset before the body)
        self.connections = 0
        self.open_connections = 0
        self.max_open_connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script(self, actions: Iterable[Action]) -> None:
        with self._lock:
            self._script.extend(actions)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.heads = self.connections = self.max_open_connections = 0
        self.default = respond(599, b"fault server: nothing scripted")

    def _next(self) -> Action:
        with self._lock:
            self.heads += 1
            return self._script.popleft() if self._script else self.default

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        with self._lock:
            self.connections += 1
            self.open_connections += 1
            self.max_open_connections = max(self.max_open_connections, self.open_connections)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            with self._lock:
                self.open_connections -= 1
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        action = self._next()
        if action.kind == "reset_before_body":
            self._rst(writer)
            return False
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        with self._lock:
            self.requests.append(Seen(method, path, headers, body))
        if action.kind == "reset_after_body":
            self._rst(writer)
            return False
        if action.delay:
            await asyncio.sleep(action.delay)
        declared = len(action.body) * 2 + 10 if action.kind == "truncate" else len(action.body)
        out = [f"HTTP/1.1 {action.status} X"]
        out += [f"{k}: {v}" for k, v in action.headers.items()]
        out.append(f"content-length: {declared}")
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode())
        if action.drip:
            size = max(1, len(action.body) // action.drip)
            for start in range(0, len(action.body), size):
                await writer.drain()
                await asyncio.sleep(action.interval)
                writer.write(action.body[start : start + size])
        else:
            writer.write(action.body)
        await writer.drain()
        if action.kind == "truncate":
            writer.close()
            return False
        return True

    @staticmethod
    def _rst(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    def start(self) -> None:
        ready: Future[None] = Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop

            async def serve() -> None:
                self._server = await asyncio.start_server(self._handle, self.host, 0)
                self.port = self._server.sockets[0].getsockname()[1]
                ready.set_result(None)

            loop.run_until_complete(serve())
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.result(timeout=10)

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def shutdown() -> None:
            server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await asyncio.sleep(0)
            await server.wait_closed()
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        if self._thread is not None:
            self._thread.join(timeout=10)
