"""A scriptable fake Polar API served by uvicorn on 127.0.0.1 for integration tests.

Each test queues the answers it wants (`reply`, `reply_case`) and then inspects what the SDK
actually sent (`requests`). Unscripted requests get a 599 so a missing script fails loudly.
The server runs in a background thread with its own event loop, like a real remote server.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn

Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class SeenRequest:
    """One request as the fake server received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """A scripted answer: status, headers and raw body bytes."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def case_reply(case: Mapping[str, Any]) -> Reply:
    """The recorded response of a fixture case as a `Reply` (body re-encoded as JSON)."""
    response = case["response"]
    body = response["body"]
    if body is None or body == "":
        raw = b""
    elif isinstance(body, str) and not response["headers"].get("content-type", "").startswith(
        "application/json"
    ):
        raw = body.encode()
    else:
        raw = json.dumps(body, ensure_ascii=False).encode()
    skip = {"content-length", "date", "server", "transfer-encoding"}
    headers = [(k, v) for k, v in response["headers"].items() if k.lower() not in skip]
    return Reply(status=response["status"], headers=headers, body=raw)


class FakePolarAPI:
    """ASGI app plus the uvicorn server that runs it; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._replies: deque[Reply] = deque()
        self._default: Reply | None = None
        self.requests: list[SeenRequest] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # scripting -------------------------------------------------------------------------
    def reply(
        self,
        status: int,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        """Queue one answer; `body` is JSON-encoded, `raw` is sent as-is."""
        hdrs = list((headers or {}).items())
        if raw is None and body is not None:
            raw = json.dumps(body).encode()
            if not any(k.lower() == "content-type" for k, _ in hdrs):
                hdrs.append(("content-type", "application/json"))
        with self._lock:
            self._replies.append(Reply(status, hdrs, raw or b""))

    def reply_case(self, case: Mapping[str, Any]) -> None:
        """Queue the recorded response of a fixture case."""
        with self._lock:
            self._replies.append(case_reply(case))

    def always(self, status: int, body: Any) -> None:
        """Answer every unscripted request with this JSON body (for load-style tests)."""
        raw = json.dumps(body).encode()
        self._default = Reply(status, [("content-type", "application/json")], raw)

    def reset(self) -> None:
        with self._lock:
            self._replies.clear()
            self.requests.clear()
            self._default = None

    # ASGI ------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        seen = SeenRequest(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode(),
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=b"".join(chunks),
        )
        with self._lock:
            self.requests.append(seen)
            reply = self._replies.popleft() if self._replies else self._default
        if reply is None:
            reply = Reply(599, [("content-type", "text/plain")], b"fake API: nothing scripted")
        headers = [(k.encode(), v.encode()) for k, v in reply.headers]
        headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})

    # lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        # IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted connections (no Nagle delay).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self, log_level="warning", lifespan="on", access_log=False, loop="asyncio"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake Polar API did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
