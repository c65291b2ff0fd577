"""Fault injection: one test per scenario, against a real loopback socket server.

Each test asserts the attempts the server saw, the exception class and attributes, and the
elapsed time. Waits are kept small (no test sleeps more than about 2 s).
"""

from __future__ import annotations

import email.utils
import socket
import time
from typing import Any

import httpx
import pytest

from polar_sdk import AsyncPolar, RetryEvent, RetryPolicy
from polar_sdk.errors import (
    APIConnectionError,
    APIException,
    APITimeoutError,
    ConfigurationError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
)
from polar_sdk.models import CustomerSession
from tests.faultserver import Action, FaultServer, respond
from tests.test_request_shaping import CUSTOMER, SESSION_BODY, TOKEN

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

FAST = RetryPolicy(initial_backoff=0.01, max_backoff=0.05)


class Hook:
    """Records retry events."""

    def __init__(self) -> None:
        self.events: list[RetryEvent] = []

    def __call__(self, event: RetryEvent) -> None:
        self.events.append(event)


def polar_for(server: FaultServer, **kwargs: Any) -> AsyncPolar:
    kwargs.setdefault("retry", FAST)
    return AsyncPolar(TOKEN, base_url=server.url, **kwargs)


async def create(polar: AsyncPolar, **kwargs: Any) -> CustomerSession:
    return await polar.customer_sessions.create(customer_id=CUSTOMER, **kwargs)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_is_retried_then_raised() -> None:
    hook = Hook()
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.01, on_retry=hook)
    started = time.monotonic()
    async with AsyncPolar(TOKEN, base_url=f"http://127.0.0.1:{_closed_port()}", retry=policy) as p:
        with pytest.raises(APIConnectionError) as info:
            await create(p)
    assert type(info.value) is APIConnectionError
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert "after 3 attempts" in str(info.value)
    assert [(e.attempt, e.reason) for e in hook.events] == [
        (1, "ConnectError"),
        (2, "ConnectError"),
    ]
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("kind", ["reset_before_body", "reset_after_body"])
async def test_reset_connection_on_post_is_not_retried(faults: FaultServer, kind: str) -> None:
    faults.script([Action(kind=kind), respond(201, SESSION_BODY)])
    hook = Hook()
    async with polar_for(faults, retry=RetryPolicy(initial_backoff=0.01, on_retry=hook)) as p:
        with pytest.raises(APIConnectionError) as info:
            await create(p)
    assert type(info.value) is APIConnectionError
    assert faults.heads == 1
    assert hook.events == []
    assert TOKEN not in str(info.value)


async def test_reset_connection_on_get_is_retried(faults: FaultServer) -> None:
    faults.script([Action(kind="reset_after_body"), respond(201, SESSION_BODY)])
    async with polar_for(faults) as p:
        session = await p._http.request(
            "GET", "/v1/customer-sessions/", response_type=CustomerSession, expected_status=201
        )
    assert session.id == SESSION_BODY["id"]
    assert faults.heads == 2


async def test_reset_connection_on_post_is_retried_when_opted_in(faults: FaultServer) -> None:
    faults.script([Action(kind="reset_before_body"), respond(201, SESSION_BODY)])
    async with polar_for(faults) as p:
        session = await create(p, retry=RetryPolicy(initial_backoff=0.01, retry_unsafe=True))
    assert session.token == SESSION_BODY["token"]
    assert faults.heads == 2


async def test_answer_slower_than_read_timeout(faults: FaultServer) -> None:
    faults.script([respond(201, SESSION_BODY, delay=1.0), respond(201, SESSION_BODY)])
    started = time.monotonic()
    async with polar_for(faults) as p:
        with pytest.raises(APITimeoutError) as info:
            await create(p, timeout=0.3)
    elapsed = time.monotonic() - started
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert len(faults.requests) == 1  # a POST that may have been processed is not repeated
    assert 0.3 <= elapsed < 0.9


async def test_dripping_body_is_cut_by_the_deadline(faults: FaultServer) -> None:
    faults.script([respond(201, SESSION_BODY, drip=10, interval=0.2)])
    started = time.monotonic()
    async with polar_for(faults) as p:
        with pytest.raises(APITimeoutError, match=r"deadline of 0\.8 s ran out") as info:
            await create(p, timeout=1.0, retry=RetryPolicy(deadline=0.8))
    elapsed = time.monotonic() - started
    assert info.value.request is not None
    assert 0.75 <= elapsed < 1.4
    assert len(faults.requests) == 1


async def test_every_call_has_a_deadline_without_any_retry_policy(faults: FaultServer) -> None:
    """`timeout` bounds each read; a body trickling in under it is stopped by the deadline."""
    faults.script([respond(201, SESSION_BODY, drip=20, interval=0.15)])  # ~3 s in all
    started = time.monotonic()
    async with polar_for(faults, retry=None, deadline=0.9) as p:
        with pytest.raises(APITimeoutError, match=r"deadline of 0\.9 s ran out") as info:
            await create(p, timeout=1.0)
    assert 0.85 <= time.monotonic() - started < 1.5
    assert info.value.request is not None


async def test_a_call_deadline_overrides_the_clients_and_none_lifts_it(
    faults: FaultServer,
) -> None:
    faults.script(
        [
            respond(201, SESSION_BODY, drip=10, interval=0.1),  # ~1 s
            respond(201, SESSION_BODY, drip=10, interval=0.1),
        ]
    )
    async with polar_for(faults, retry=None, deadline=30.0) as p:
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match=r"deadline of 0\.4 s"):
            await create(p, deadline=0.4)
        assert time.monotonic() - started < 0.9
        session = await create(p, deadline=None)  # lifted: the slow answer completes
    assert session.id == SESSION_BODY["id"]


def test_the_default_deadline_is_five_minutes() -> None:
    from polar_sdk._client import DEFAULT_DEADLINE

    assert DEFAULT_DEADLINE == 300.0
    with pytest.raises(ConfigurationError, match="deadline"):
        AsyncPolar(TOKEN, deadline=0)
    with pytest.raises(ConfigurationError, match="deadline"):
        AsyncPolar(TOKEN).with_options(deadline=float("nan"))


async def test_truncated_json_connection_closed_early(faults: FaultServer) -> None:
    faults.script([Action(kind="truncate", body=b'{"id": "130d5e40", "tok'), respond(201, {})])
    async with polar_for(faults) as p:
        with pytest.raises(APIConnectionError) as info:
            await create(p)
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)
    assert len(faults.requests) == 1


async def test_html_502_on_post_is_not_retried(faults: FaultServer) -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    faults.script([respond(502, html, {"content-type": "text/html"}), respond(201, SESSION_BODY)])
    async with polar_for(faults) as p:
        with pytest.raises(ServerError) as info:
            await create(p)
    assert info.value.status_code == 502
    assert info.value.body == html.decode()
    assert info.value.data is None
    assert len(faults.requests) == 1


async def test_429_retry_after_seconds(faults: FaultServer) -> None:
    faults.script([respond(429, headers={"retry-after": "2"}), respond(201, SESSION_BODY)])
    hook = Hook()
    started = time.monotonic()
    async with polar_for(faults, retry=RetryPolicy(on_retry=hook)) as p:
        session = await create(p)
    elapsed = time.monotonic() - started
    assert session.id == SESSION_BODY["id"]
    assert len(faults.requests) == 2
    assert [(e.delay, e.reason, e.status_code) for e in hook.events] == [(2.0, "status 429", 429)]
    assert 2.0 <= elapsed < 2.9


async def test_429_retry_after_http_date(faults: FaultServer) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    faults.script([respond(429, headers={"retry-after": when}), respond(201, SESSION_BODY)])
    hook = Hook()
    started = time.monotonic()
    async with polar_for(faults, retry=RetryPolicy(on_retry=hook)) as p:
        await create(p)
    elapsed = time.monotonic() - started
    assert len(hook.events) == 1
    assert 0.9 <= hook.events[0].delay <= 2.05  # HTTP dates have whole seconds
    assert 0.9 <= elapsed < 2.9


async def test_retry_after_is_capped(faults: FaultServer) -> None:
    faults.script([respond(429, headers={"retry-after": "3600"}), respond(201, SESSION_BODY)])
    started = time.monotonic()
    async with polar_for(faults, retry=RetryPolicy(max_retry_after=0.2)) as p:
        await create(p)
    assert 0.2 <= time.monotonic() - started < 1.0


async def test_wait_past_the_deadline_is_not_started(faults: FaultServer) -> None:
    faults.script([respond(429, headers={"retry-after": "2"}), respond(201, SESSION_BODY)])
    started = time.monotonic()
    async with polar_for(faults, retry=RetryPolicy(deadline=1.0)) as p:
        with pytest.raises(RateLimitError) as info:
            await create(p)
    assert time.monotonic() - started < 0.5
    assert info.value.retry_after == 2.0
    assert len(faults.requests) == 1


async def test_503_twice_then_created(faults: FaultServer) -> None:
    faults.script([respond(503, {"detail": "busy"})] * 2 + [respond(201, SESSION_BODY)])
    hook = Hook()
    async with polar_for(faults, retry=RetryPolicy(initial_backoff=0.01, on_retry=hook)) as p:
        session = await create(p)
    assert session.customer_id == CUSTOMER
    assert len(faults.requests) == 3
    assert [e.attempt for e in hook.events] == [1, 2]
    assert all(0 <= e.delay <= 0.02 for e in hook.events)


async def test_503_until_attempts_run_out(faults: FaultServer) -> None:
    faults.script([respond(503, {"detail": "busy"})] * 5)
    async with polar_for(faults, retry=RetryPolicy(max_attempts=4, initial_backoff=0.01)) as p:
        with pytest.raises(ServerError) as info:
            await create(p)
    assert info.value.status_code == 503
    assert len(faults.requests) == 4
    assert "after 4 attempts" in str(info.value)  # status errors say it too, not only drops


async def test_debug_log_times_each_attempt(
    faults: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    faults.script([respond(503, {"detail": "busy"}, delay=0.3), respond(201, SESSION_BODY)])
    caplog.set_level("DEBUG", logger="polar_sdk")
    async with polar_for(faults, retry=RetryPolicy(initial_backoff=0.2, max_backoff=0.2)) as p:
        await create(p)
    timings = [
        float(r.getMessage().split(" in ")[1].split(" ms")[0])
        for r in caplog.records
        if " -> " in r.getMessage()
    ]
    assert len(timings) == 2
    assert timings[0] >= 250  # the slow first attempt
    assert timings[1] < 200  # the second one, timed on its own (not from the first)


async def test_500_on_post_is_not_retried_by_default(faults: FaultServer) -> None:
    faults.script([respond(500, b"Internal Server Error"), respond(201, SESSION_BODY)])
    async with polar_for(faults) as p:
        with pytest.raises(ServerError) as info:
            await create(p)
    assert info.value.status_code == 500
    assert len(faults.requests) == 1


async def test_500_on_post_is_retried_when_opted_in(faults: FaultServer) -> None:
    faults.script([respond(500, b"Internal Server Error"), respond(201, SESSION_BODY)])
    async with polar_for(faults, retry=RetryPolicy(retry_unsafe=True, initial_backoff=0.01)) as p:
        session = await create(p)
    assert session.id == SESSION_BODY["id"]
    assert len(faults.requests) == 2


async def test_retry_disabled(faults: FaultServer) -> None:
    faults.script([respond(503, {"detail": "busy"}), respond(201, SESSION_BODY)])
    async with polar_for(faults, retry=None) as p:
        with pytest.raises(ServerError):
            await create(p)
    assert len(faults.requests) == 1


async def test_201_with_invalid_json(faults: FaultServer) -> None:
    faults.script([respond(201, b"{not json", {"content-type": "application/json"})])
    async with polar_for(faults) as p:
        with pytest.raises(ResponseDecodeError, match="not valid JSON") as info:
            await create(p)
    assert info.value.body == "{not json"
    assert len(faults.requests) == 1


async def test_201_missing_a_required_field(faults: FaultServer) -> None:
    body = {k: v for k, v in SESSION_BODY.items() if k != "customer_portal_url"}
    faults.script([respond(201, body)])
    async with polar_for(faults) as p:
        with pytest.raises(ResponseDecodeError, match="customer_portal_url"):
            await create(p)
    assert len(faults.requests) == 1


async def test_redirect_to_another_host_is_not_followed(faults: FaultServer) -> None:
    other = FaultServer(host="127.0.0.2")
    other.start()
    try:
        other.default = respond(201, SESSION_BODY)
        target = f"{other.url}/v1/customer-sessions/"
        faults.script([respond(307, headers={"location": target})])
        async with polar_for(faults) as p:
            with pytest.raises(APIException) as info:
                await create(p)
        assert info.value.status_code == 307
        assert target in str(info.value)
        assert other.requests == []

        # A caller's client that follows redirects still never carries the token elsewhere.
        faults.script([respond(307, headers={"location": target})])
        async with (
            httpx.AsyncClient(follow_redirects=True) as http,
            AsyncPolar(TOKEN, base_url=faults.url, http_client=http) as p,
        ):
            await create(p)
        assert len(other.requests) == 1
        assert "authorization" not in other.requests[0].headers
    finally:
        other.stop()


async def test_retry_logs_carry_no_secrets(
    faults: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="polar_sdk")
    faults.script([respond(503, {"detail": "busy"}), respond(201, SESSION_BODY)])
    async with polar_for(faults) as p:
        await create(p)
    assert "retrying in" in caplog.text
    assert TOKEN not in caplog.text
    assert SESSION_BODY["token"] not in caplog.text
