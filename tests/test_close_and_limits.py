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
