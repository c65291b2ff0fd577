"""`rate_limit=`: a client that never exceeds a server's limit, across tasks, loops and threads.

A loopback server enforces a sliding-window limit (429 with `Retry-After` beyond it) and
records when each request arrived; the client, limited a little below it (loopback jitter),
sends a 1,000-call batch from two threads with their own event loops and many tasks each.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from polar_sdk import AsyncPolar, RateLimit
from polar_sdk._ratelimit import RateLimiter
from polar_sdk.errors import ConfigurationError
from tests.test_request_shaping import SESSION_BODY, TOKEN

CUSTOMER = "992fae2a-2a17-4b7a-8d9e-e287cf90131b"


class LimitedAPI:
    """Answers 201 within `requests` per `per` seconds (sliding window), else 429."""

    def __init__(self, requests: int, per: float, retry_after: str | None = "1") -> None:
        self.requests = requests
        self.per = per
        self.retry_after = retry_after
        self.window: deque[float] = deque()
        self.arrivals: list[float] = []
        self.refused = 0
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
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
        now = time.monotonic()
        with self.lock:
            while self.window and self.window[0] <= now - self.per:
                self.window.popleft()
            allowed = len(self.window) < self.requests
            if allowed:
                self.window.append(now)
                self.arrivals.append(now)
            else:
                self.refused += 1
        if allowed:
            status, body = 201, json.dumps(SESSION_BODY).encode()
            headers = [(b"content-type", b"application/json")]
        else:
            status, body, headers = 429, b"", []
            if self.retry_after is not None:
                headers.append((b"retry-after", self.retry_after.encode()))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@contextmanager
def serve(app: LimitedAPI) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def max_in_any_window(arrivals: list[float], per: float) -> int:
    times = sorted(arrivals)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - per:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.heavy
@pytest.mark.integration
def test_a_thousand_calls_from_two_threads_never_exceed_the_limit() -> None:
    app = LimitedAPI(requests=100, per=0.45)
    with serve(app) as url:
        polar = AsyncPolar(TOKEN, base_url=url, rate_limit=RateLimit(100, per=0.5))
        failures: list[BaseException] = []

        def worker(count: int) -> None:
            async def main() -> None:
                semaphore = asyncio.Semaphore(25)

                async def one() -> None:
                    async with semaphore:
                        await polar.customer_sessions.create(customer_id=CUSTOMER, retry=None)

                await asyncio.gather(*(one() for _ in range(count)))

            try:
                asyncio.run(main())
            except BaseException as exc:  # reported below
                failures.append(exc)

        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(500,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        elapsed = time.monotonic() - started
    assert failures == []  # no RateLimitError surfaced (and retries were off)
    assert app.refused == 0  # the server never had to say 429
    assert len(app.arrivals) == 1000
    assert max_in_any_window(app.arrivals, 0.45) <= 100
    assert 4.0 <= elapsed < 20  # spaced out: 1,000 at 100 per 0.5 s is about 5 s


@pytest.mark.integration
def test_a_429_pauses_every_caller_for_its_retry_after() -> None:
    app = LimitedAPI(requests=3, per=60.0, retry_after="1")
    with serve(app) as url:
        polar = AsyncPolar(TOKEN, base_url=url, rate_limit=1000)

        async def scenario() -> float:
            for _ in range(3):
                await polar.customer_sessions.create(customer_id=CUSTOMER)
            # The fourth call gets a 429 (Retry-After: 1) and waits to retry ...
            task = asyncio.ensure_future(polar.customer_sessions.create(customer_id=CUSTOMER))
            await asyncio.sleep(0.2)
            app.requests = 1000  # ... the server would now accept anything ...
            started = time.monotonic()
            # ... yet another call of the client waits out the same pause first.
            await polar.customer_sessions.create(customer_id=CUSTOMER, retry=None)
            waited = time.monotonic() - started
            await task
            return waited

        waited = asyncio.run(scenario())
    assert app.refused == 1
    assert waited >= 0.7


def test_rate_limit_values_are_checked() -> None:
    assert RateLimit(500) == RateLimit(500, per=60.0)
    for bad in (0, -1, 1.5, True, "500"):
        with pytest.raises(ConfigurationError, match="rate_limit"):
            AsyncPolar(TOKEN, rate_limit=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="per"):
        RateLimit(10, per=0)


def test_reservations_form_a_sliding_window() -> None:
    limiter = RateLimiter(RateLimit(3, per=10.0))
    waits = [limiter.reserve() for _ in range(7)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert all(9.9 < w <= 10.0 for w in waits[3:6])  # the next three wait a window
    assert 19.9 < waits[6] <= 20.0
