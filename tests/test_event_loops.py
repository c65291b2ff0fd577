"""One AsyncPolar across event loops, under cancellation, and under heavy concurrency."""

from __future__ import annotations

import asyncio
import threading
import time
from functools import partial

import anyio
import pytest

from polar_sdk import AsyncPolar, RetryPolicy
from tests.faultserver import FaultServer, respond
from tests.test_request_shaping import CUSTOMER, SESSION_BODY, TOKEN

pytestmark = pytest.mark.integration


def _wait_for(predicate: object, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_one_client_across_ten_asyncio_runs(faults: FaultServer) -> None:
    faults.default = respond(201, SESSION_BODY)
    polar = AsyncPolar(TOKEN, base_url=faults.url)

    async def call() -> str:
        session = await polar.customer_sessions.create(customer_id=CUSTOMER)
        return session.id

    ids = [asyncio.run(call()) for _ in range(10)]
    assert ids == [SESSION_BODY["id"]] * 10
    assert len(faults.requests) == 10
    # Each run's connection was closed when its loop ended: nothing stays open.
    assert _wait_for(lambda: faults.open_connections == 0)
    assert faults.connections == 10


def test_one_client_under_trio_then_asyncio(faults: FaultServer) -> None:
    faults.default = respond(201, SESSION_BODY)
    polar = AsyncPolar(TOKEN, base_url=faults.url)

    async def call() -> str:
        return (await polar.customer_sessions.create(customer_id=CUSTOMER)).id

    assert anyio.run(call, backend="trio") == SESSION_BODY["id"]
    assert anyio.run(call, backend="asyncio") == SESSION_BODY["id"]
    assert anyio.run(call, backend="trio") == SESSION_BODY["id"]
    assert len(faults.requests) == 3
    assert _wait_for(lambda: faults.open_connections == 0)


def test_loops_side_by_side_in_threads(faults: FaultServer) -> None:
    faults.default = respond(201, SESSION_BODY)
    polar = AsyncPolar(TOKEN, base_url=faults.url)
    results: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        async def calls() -> None:
            for _ in range(5):
                session = await polar.customer_sessions.create(customer_id=CUSTOMER)
                with lock:
                    results.append(session.id)

        asyncio.run(calls())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(results) == 20
    assert _wait_for(lambda: faults.open_connections == 0)


# pytest-asyncio gives every test its own loop; one module-level client serves them all.
SHARED: dict[str, AsyncPolar] = {}


def _shared(faults: FaultServer) -> AsyncPolar:
    if "polar" not in SHARED:
        SHARED["polar"] = AsyncPolar(TOKEN, base_url=faults.url)
    return SHARED["polar"]


@pytest.mark.asyncio
@pytest.mark.parametrize("round_", range(3))
async def test_pytest_asyncio_per_test_loops(faults: FaultServer, round_: int) -> None:
    faults.default = respond(201, SESSION_BODY)
    session = await _shared(faults).customer_sessions.create(customer_id=CUSTOMER)
    assert session.id == SESSION_BODY["id"]
    assert round_ in range(3)


@pytest.mark.anyio
async def test_cancelled_calls_do_not_leak_pool_slots(faults: FaultServer) -> None:
    faults.script([respond(201, SESSION_BODY, delay=0.5)] * 1000)
    import httpx

    polar = AsyncPolar(
        TOKEN, base_url=faults.url, limits=httpx.Limits(max_connections=5), retry=None
    )
    async with polar:
        with anyio.move_on_after(0.3) as scope:
            async with anyio.create_task_group() as tg:
                for _ in range(1000):
                    tg.start_soon(partial(polar.customer_sessions.create, customer_id=CUSTOMER))
        assert scope.cancelled_caught
        faults.reset()
        faults.default = respond(201, SESSION_BODY)
        started = time.monotonic()
        done = 0

        async def one() -> None:
            nonlocal done
            await polar.customer_sessions.create(customer_id=CUSTOMER, timeout=5.0)
            done += 1

        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(one)
        assert done == 100
        assert time.monotonic() - started < 5.0
        # Phase-one sockets the server has not noticed closing yet may still count as open,
        # so bound what phase two opened: never more connections than the pool allows.
        assert 1 <= faults.connections <= 5


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("limits", "in_flight", "bound"), [(10, None, 10), (100, 8, 8), (None, "default", 20)]
)
async def test_thousand_concurrent_creates(
    faults: FaultServer, limits: int | None, in_flight: int | str | None, bound: int
) -> None:
    import httpx

    faults.default = respond(201, SESSION_BODY)
    # Sockets of the previous test that the server has not seen close yet (its handlers may
    # still sleep on a delayed answer) would count as open here: let them go first.
    deadline = time.monotonic() + 3.0
    while faults.open_connections and time.monotonic() < deadline:
        await anyio.sleep(0.01)
    faults.max_open_connections = 0
    errors: list[BaseException] = []
    ok = 0

    async def one(polar: AsyncPolar) -> None:
        nonlocal ok
        try:
            await polar.customer_sessions.create(customer_id=CUSTOMER)
            ok += 1
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    options: dict[str, object] = {}
    if limits is not None:
        options["limits"] = httpx.Limits(max_connections=limits)
    if in_flight != "default":
        options["max_in_flight"] = in_flight
    async with (
        AsyncPolar(
            TOKEN, base_url=faults.url, retry=RetryPolicy(max_attempts=1), **options
        ) as polar,
        anyio.create_task_group() as tg,
    ):
        for _ in range(1000):
            tg.start_soon(one, polar)
    assert errors == []
    assert ok == 1000
    assert len(faults.requests) == 1000
    assert 1 <= faults.max_open_connections <= bound
