"""close() racing with running calls, the in-flight limit, and input validation of settings."""

from __future__ import annotations

import asyncio
import copy
import math
import sys
import threading
import time

import anyio
import pytest
from cattrs import BaseValidationError

from polar_sdk import AsyncPolar, RetryPolicy
from polar_sdk._converter import make_converter
from polar_sdk.errors import (
    APITimeoutError,
    ClientClosedError,
    ConfigurationError,
    InvalidRequestError,
)
from polar_sdk.models import CustomerSession, UnknownCustomer
from tests.faultserver import FaultServer, respond
from tests.test_request_shaping import CUSTOMER, SESSION_BODY, TOKEN


async def _outcome(polar: AsyncPolar) -> object:
    try:
        return await polar.customer_sessions.create(customer_id=CUSTOMER)
    except Exception as exc:  # the outcome is what the test inspects
        return exc


@pytest.mark.anyio
@pytest.mark.integration
async def test_close_while_calls_run_and_wait(faults: FaultServer) -> None:
    faults.default = respond(201, SESSION_BODY, delay=0.4)
    polar = AsyncPolar(TOKEN, base_url=faults.url, max_in_flight=1)
    outcomes: list[object] = []

    async def run() -> None:
        outcomes.append(await _outcome(polar))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        tg.start_soon(run)  # waits for the only slot
        await anyio.sleep(0.1)
        await polar.aclose()
    assert [type(o) for o in outcomes] == [ClientClosedError, ClientClosedError]
    assert len(faults.requests) <= 1  # the queued call never went out
    assert polar._http._shared.states == []


@pytest.mark.anyio
@pytest.mark.integration
async def test_close_during_a_retry_wait(faults: FaultServer) -> None:
    faults.script([respond(503, headers={"retry-after": "0.3"}), respond(201, SESSION_BODY)])
    polar = AsyncPolar(TOKEN, base_url=faults.url)
    outcomes: list[object] = []

    async def run() -> None:
        outcomes.append(await _outcome(polar))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await anyio.sleep(0.1)
        await polar.aclose()
    assert [type(o) for o in outcomes] == [ClientClosedError]
    assert len(faults.requests) == 1


@pytest.mark.anyio
@pytest.mark.integration
async def test_deadline_counts_the_wait_for_a_slot(faults: FaultServer) -> None:
    faults.default = respond(201, SESSION_BODY, delay=0.5)
    outcomes: list[object] = []
    async with AsyncPolar(
        TOKEN, base_url=faults.url, max_in_flight=1, retry=RetryPolicy(deadline=0.7)
    ) as polar:

        async def run() -> None:
            outcomes.append(await _outcome(polar))

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(run)
        elapsed = time.monotonic() - started
    assert sum(isinstance(o, CustomerSession) for o in outcomes) == 1
    timeouts = [o for o in outcomes if isinstance(o, APITimeoutError)]
    assert len(timeouts) == 2
    assert all("deadline of 0.7 s ran out" in str(t) for t in timeouts)
    assert elapsed < 1.3  # three calls of 0.5 s in a row would need 1.5 s


@pytest.mark.anyio
@pytest.mark.integration
async def test_slot_wait_is_bounded_by_the_pool_timeout(faults: FaultServer) -> None:
    faults.default = respond(201, SESSION_BODY, delay=0.6)
    import httpx

    async with AsyncPolar(
        TOKEN,
        base_url=faults.url,
        max_in_flight=1,
        timeout=httpx.Timeout(5.0, pool=0.2),
        retry=None,
    ) as polar:
        outcomes: list[object] = []

        async def run() -> None:
            outcomes.append(await _outcome(polar))

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            tg.start_soon(run)
    kinds = sorted(type(o).__name__ for o in outcomes)
    assert kinds == ["APITimeoutError", "CustomerSession"]
    assert any("max_in_flight" in str(o) for o in outcomes)
    assert len(faults.requests) == 1


@pytest.mark.integration
def test_many_threads_bind_one_state_per_loop(faults: FaultServer) -> None:
    faults.default = respond(201, SESSION_BODY, delay=0.01)
    polar = AsyncPolar(TOKEN, base_url=faults.url, max_in_flight=2)
    made: list[object] = []
    original = polar._http._shared.make_client

    def counting() -> object:
        made.append(None)
        return original()

    polar._http._shared.make_client = counting  # type: ignore[assignment]
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            asyncio.run(_run_creates(polar, 6))
        except BaseException as exc:
            failures.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # make thread switches, and so races, frequent
    try:
        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    assert len(made) == 16  # one client per loop, none lost to a race
    assert len(faults.requests) == 16 * 6
    assert faults.connections <= 16 * 2  # each loop kept to its two slots


async def _run_creates(polar: AsyncPolar, count: int) -> None:
    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(_create, polar)


async def _create(polar: AsyncPolar) -> None:
    await polar.customer_sessions.create(customer_id=CUSTOMER)


@pytest.mark.parametrize("deadline", [0, -1, math.nan, math.inf])
def test_retry_policy_rejects_bad_deadlines(deadline: float) -> None:
    with pytest.raises(ValueError, match="deadline must be a positive number"):
        RetryPolicy(deadline=deadline)


@pytest.mark.parametrize("timeout", [math.nan, -1.0])
def test_bad_client_timeouts_are_configuration_errors(timeout: float) -> None:
    with pytest.raises(ConfigurationError, match="timeouts must be"):
        AsyncPolar(TOKEN, timeout=timeout)


@pytest.mark.anyio
async def test_bad_call_timeouts_are_refused_before_sending() -> None:
    async with AsyncPolar(TOKEN, base_url="http://127.0.0.1:9") as polar:
        with pytest.raises(InvalidRequestError, match="timeouts must be"):
            await polar.customer_sessions.create(customer_id=CUSTOMER, timeout=math.nan)


def test_customer_without_a_type_keeps_its_data() -> None:
    body = copy.deepcopy(SESSION_BODY)
    del body["customer"]["type"]
    session = make_converter().structure(body, CustomerSession)
    assert isinstance(session.customer, UnknownCustomer)
    assert session.customer.type is None
    assert session.customer.raw == body["customer"]


@pytest.mark.parametrize("value", ["false", "no", 0, None])
def test_booleans_must_be_booleans(value: object) -> None:
    body = copy.deepcopy(SESSION_BODY)
    body["customer"]["email_verified"] = value
    with pytest.raises(BaseValidationError):
        make_converter().structure(body, CustomerSession)


# the asyncio in-flight limiter ---------------------------------------------------------------


def test_slots_serve_waiters_in_order_and_time_out_without_taking_a_slot() -> None:
    import asyncio
    import math

    from polar_sdk._http import _Slots

    async def main() -> None:
        slots = _Slots(2, asyncio.get_running_loop())
        assert slots.acquire_nowait() and slots.acquire_nowait()
        assert not slots.acquire_nowait()
        served: list[int] = []

        async def wait(n: int, limit: float = math.inf) -> bool:
            got = await slots.acquire(limit)
            if got:
                served.append(n)
            return got

        tasks = [asyncio.ensure_future(wait(n)) for n in range(3)]
        late = asyncio.ensure_future(wait(99, 0.05))
        await asyncio.sleep(0.1)
        assert late.done() and late.result() is False  # timed out, took nothing
        assert not slots.acquire_nowait()  # the queue goes first
        for _ in range(2):  # the two slots taken above go to the first two in line
            slots.release()
            await asyncio.sleep(0)
        assert served == [0, 1]
        slots.release()  # the first one's call ends: the third gets its slot
        await asyncio.gather(*tasks)
        assert served == [0, 1, 2]
        for _ in range(2):  # the other two end
            slots.release()
        assert slots.free == 2  # every slot back, none made up
        assert slots.acquire_nowait()

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_slot_handed_to_a_cancelled_waiter_passes_on() -> None:
    import asyncio
    import math

    from polar_sdk._http import _Slots

    async def main() -> None:
        slots = _Slots(1, asyncio.get_running_loop())
        assert slots.acquire_nowait()
        first = asyncio.ensure_future(slots.acquire(math.inf))
        second = asyncio.ensure_future(slots.acquire(math.inf))
        await asyncio.sleep(0)
        slots.release()  # hands the slot to `first` ...
        first.cancel()  # ... which is cancelled before it runs again
        assert await second is True  # the slot went on to the next waiter
        with pytest.raises(asyncio.CancelledError):
            await first
        slots.release()
        assert slots.free == 1

        # A waiter cancelled while still queued leaves no trace.
        assert slots.acquire_nowait()
        gone = asyncio.ensure_future(slots.acquire(math.inf))
        await asyncio.sleep(0)
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        slots.release()
        assert slots.free == 1 and slots.acquire_nowait()

    asyncio.run(asyncio.wait_for(main(), 10))


@pytest.mark.integration
def test_asyncio_loops_use_the_asyncio_limiter_and_trio_anyio_s(faults: FaultServer) -> None:
    import anyio as anyio_module

    from polar_sdk._http import _Slots

    faults.default = respond(201, SESSION_BODY)
    polar = AsyncPolar(TOKEN, base_url=faults.url, max_in_flight=3)

    async def one() -> object:
        await polar.customer_sessions.create(customer_id=CUSTOMER)
        state = polar._http._shared.current
        assert state is not None
        return state.limiter

    assert isinstance(anyio_module.run(one), _Slots)
    limiter = anyio_module.run(one, backend="trio")
    assert isinstance(limiter, anyio_module.CapacityLimiter)
    assert limiter.total_tokens == 3
