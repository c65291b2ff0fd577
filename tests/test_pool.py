"""The connection pool behind AsyncioTransport: one assignment pass per request event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import httpcore
import httpx
import pytest

from polar_sdk import _transport
from polar_sdk._transport import AsyncioTransport
from tests.faultserver import FaultServer, respond

pytestmark = pytest.mark.integration


def _count_passes(pool: httpcore.AsyncConnectionPool) -> list[int]:
    calls = [0]
    original: Callable[[], Any] = pool._assign_requests_to_connections

    def counting() -> Any:
        calls[0] += 1
        return original()

    pool._assign_requests_to_connections = counting  # type: ignore[method-assign]
    return calls


def test_the_override_is_active_on_this_httpcore() -> None:
    assert httpcore.__version__.startswith("1.0.")
    assert _transport._USE_POOL_OVERRIDE
    assert type(AsyncioTransport().pool) is _transport._Pool


def test_unknown_httpcore_internals_fall_back_to_the_plain_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_transport, "_USE_POOL_OVERRIDE", False)
    assert type(AsyncioTransport().pool) is httpcore.AsyncConnectionPool


def test_a_burst_is_assigned_without_churn(faults: FaultServer) -> None:
    faults.default = respond(200, {"ok": True}, delay=0.02)
    transport = AsyncioTransport(limits=httpx.Limits(max_connections=4))
    passes = _count_passes(transport.pool)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(transport=transport, base_url=faults.url) as http:
            answers = await asyncio.gather(*(http.get("/x") for _ in range(48)))
            return [a.status_code for a in answers]

    assert asyncio.run(burst()) == [200] * 48
    assert len(faults.requests) == 48
    assert faults.connections <= 4
    # One pass when a request arrives and one when its response is closed, nothing more:
    # no request was handed a connection that another request had already been given.
    assert passes[0] <= 2 * 48


def test_idle_connections_beyond_keepalive_are_closed(faults: FaultServer) -> None:
    faults.default = respond(200, {"ok": True}, delay=0.05)
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=2)
    transport = AsyncioTransport(limits=limits)

    async def burst() -> int:
        async with httpx.AsyncClient(transport=transport, base_url=faults.url) as http:
            await asyncio.gather(*(http.get("/x") for _ in range(8)))
            return len(transport.pool.connections)

    assert asyncio.run(burst()) <= 2
    assert faults.connections == 8


def test_a_full_pool_replaces_an_idle_connection_for_a_new_origin(faults: FaultServer) -> None:
    other = FaultServer(host="127.0.0.2")
    other.start()
    try:
        faults.default = respond(200, {"at": "first"})
        other.default = respond(200, {"at": "second"})
        transport = AsyncioTransport(limits=httpx.Limits(max_connections=1))

        async def both() -> list[Any]:
            async with httpx.AsyncClient(transport=transport) as http:
                first = await http.get(f"{faults.url}/x")
                second = await http.get(f"{other.url}/x")
                return [first.json(), second.json(), len(transport.pool.connections)]

        assert asyncio.run(both()) == [{"at": "first"}, {"at": "second"}, 1]
    finally:
        other.stop()


def test_a_connection_given_to_a_cancelled_request_does_not_hold_its_slot(
    faults: FaultServer,
) -> None:
    # httpcore#1093: B queues behind A on the only connection; when A's answer is read, the
    # pool hands B a new connection, and B is cancelled before it runs. That connection never
    # opens, and with httpcore's pool it kept the slot forever (every later request: PoolTimeout).
    faults.default = respond(200, b"ok", {"connection": "close"})
    faults.script([respond(200, b"a", {"connection": "close"}, delay=0.3)])
    transport = AsyncioTransport(limits=httpx.Limits(max_connections=1))

    async def scenario() -> tuple[int, int]:
        timeout = httpx.Timeout(5.0, pool=2.0)
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as http:
            waiting: asyncio.Task[httpx.Response] | None = None

            async def first() -> httpx.Response:
                answer = await http.get(f"{faults.url}/a")
                assert waiting is not None
                waiting.cancel()  # B has just been handed a connection but has not run
                return answer

            holder = asyncio.ensure_future(first())
            await asyncio.sleep(0.1)
            waiting = asyncio.ensure_future(http.get(f"{faults.url}/b"))
            await asyncio.sleep(0.05)
            await holder
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
            after = await http.get(f"{faults.url}/c")
            return after.status_code, len(transport.pool.connections)

    assert asyncio.run(scenario()) == (200, 0)


def test_waves_of_cancelled_calls_keep_the_client_usable(faults: FaultServer) -> None:
    from polar_sdk import AsyncPolar
    from tests.test_request_shaping import CUSTOMER, SESSION_BODY, TOKEN

    faults.default = respond(201, SESSION_BODY, {"connection": "close"})

    async def waves() -> dict[str, int]:
        seen: dict[str, int] = {}
        async with AsyncPolar(
            TOKEN,
            base_url=faults.url,
            limits=httpx.Limits(max_connections=2),
            timeout=httpx.Timeout(5.0, pool=1.0),
            retry=None,
        ) as polar:
            for _ in range(40):
                calls = [
                    asyncio.ensure_future(polar.customer_sessions.create(customer_id=CUSTOMER))
                    for _ in range(4)
                ]
                _, pending = await asyncio.wait(calls, return_when=asyncio.FIRST_COMPLETED)
                for call in pending:
                    call.cancel()
                for call in calls:
                    try:
                        outcome = type(await call).__name__
                    except asyncio.CancelledError:
                        outcome = "cancelled"
                    except Exception as exc:  # counted and asserted below
                        outcome = type(exc).__name__
                    seen[outcome] = seen.get(outcome, 0) + 1
        return seen

    seen = asyncio.run(waves())
    assert "APITimeoutError" not in seen
    assert seen.get("CustomerSession", 0) >= 40
