"""The benchmark's loopback server: a bare ASGI app that answers like Polar's customer sessions.

POST /v1/customer-sessions/ gets 201 with the recorded body; anything else gets 404. It reads
the request body fully (as a real server does) and logs nothing. Run:

    python bench/server.py PORT
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from _common import PATH, response_body

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

BODY = response_body()
CREATED_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
    (b"cache-control", b"private, no-store"),
    (b"polar-version", b"2026-10"),
]
NOT_FOUND = b'{"detail":"Not Found"}'
NOT_FOUND_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(NOT_FOUND)).encode()),
]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one HTTP request (lifespan events are acknowledged)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if scope["method"] == "POST" and scope["path"] == PATH:
        status, headers, body = 201, CREATED_HEADERS, BODY
    else:
        status, headers, body = 404, NOT_FOUND_HEADERS, NOT_FOUND
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    """Serve on 127.0.0.1:PORT until terminated."""
    port = int(sys.argv[1])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        backlog=2048,
    )


if __name__ == "__main__":
    main()
