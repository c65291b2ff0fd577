"""A loopback Polar API that answers every operation with a recorded answer of that operation.

For README examples of the whole API: customer-session requests go to a `FakePolar` (which
checks them like the real server), every other request gets the first recorded 2xx answer of
its operation from ../shared/polar-fixtures/api (matched by method and path template), or an
answer given in `extra` for operations the recording server could not complete (the OAuth2
token exchange needs a browser login).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from polar_sdk.testing import FakePolar
from tests.spec_support import api

Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


class RecordedAPI:
    """ASGI app: see the module docstring. `seen` lists (operation id, status) served."""

    def __init__(
        self, fixtures: Path, fake: FakePolar, extra: Mapping[str, tuple[int, Any]] | None = None
    ) -> None:
        self.fake = fake
        self.seen: list[tuple[str, int]] = []
        ops = sorted(api().operations, key=lambda o: (o.path.count("{"), -len(o.path)))
        self.routes = [(o.method, _pattern(o.path), o.operation_id) for o in ops]
        self.answers: dict[str, tuple[int, dict[str, str], bytes]] = {}
        for path in sorted((fixtures / "api").rglob("*.json")):
            case = json.loads(path.read_text(encoding="utf-8"))
            request, response = case["request"], case["response"]
            status = response["status"]
            op_id = self.match(request["method"], request["path"].split("?", 1)[0])
            if op_id is None or not 200 <= status < 300 or op_id in self.answers:
                continue
            body = response["body"]
            kind = response["headers"].get("content-type", "application/json")
            raw = (
                body.encode()
                if isinstance(body, str) and not kind.startswith("application/json")
                else (b"" if body is None and status == 204 else json.dumps(body).encode())
            )
            self.answers[op_id] = (status, {"content-type": kind}, raw)
        for op_id, (status, body) in (extra or {}).items():
            self.answers[op_id] = (
                status,
                {"content-type": "application/json"},
                json.dumps(body).encode(),
            )

    def match(self, method: str, path: str) -> str | None:
        for route_method, pattern, op_id in self.routes:
            if route_method == method and pattern.match(path):
                return op_id
        return None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/customer-sessions"):
            await self.fake(scope, receive, send)  # type: ignore[arg-type]
            return
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        while (await receive()).get("more_body"):
            pass
        op_id = self.match(scope["method"], scope["path"])
        answer = self.answers.get(op_id or "")
        if answer is None:
            status, headers, body = 599, {"content-type": "text/plain"}, b"nothing recorded"
        else:
            status, headers, body = answer
        self.seen.append((op_id or scope["path"], status))
        raw_headers = [(k.encode(), v.encode()) for k, v in headers.items()]
        raw_headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})


@contextmanager
def serve(app: RecordedAPI) -> Iterator[str]:
    """Run `app` on a free loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("recorded API did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
