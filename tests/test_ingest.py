"""The usage-event ingester: checks at track(), batching, exactly-once under faults, reporting.

Network tests run against `tests/ingestserver.py`, a loopback server that stores events the
way Polar does (deduplicated by `external_id`, whole-batch 422s naming bad events) and
misbehaves on request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from polar_sdk import AsyncPolar, Polar, models
from polar_sdk.errors import (
    ClientClosedError,
    ConfigurationError,
    IngestError,
    IngestQueueFullError,
    InvalidRequestError,
)
from polar_sdk.ingest import AsyncIngester, Cost, IngestFailure, LLMUsage
from tests.ingestserver import CUSTOMERS, Fault, IngestServer

TOKEN = "polar_oat_ingestTestToken000000000000000000000000000000"
CUSTOMER = sorted(CUSTOMERS)[0]
ROOT = Path(__file__).resolve().parent.parent
FAST = {"backoff": 0.01, "max_backoff": 0.05, "timeout": 0.3}


@pytest.fixture
def server() -> Iterator[IngestServer]:
    srv = IngestServer()
    srv.start()
    yield srv
    srv.stop()


def _wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def _ingester(polar: AsyncPolar, **options: Any) -> AsyncIngester:
    return polar.events.ingester(**{**FAST, **options})


def _consistent(ingester: Any) -> None:
    stats = ingester.stats
    assert stats.tracked == stats.sent + stats.failed + stats.pending, stats


# track(): checks before anything is queued ---------------------------------------------------
BAD_EVENTS: list[tuple[dict[str, Any], str]] = [
    ({"name": "x" * 129, "external_customer_id": "u"}, "at most 128"),
    ({"name": 3, "external_customer_id": "u"}, "name must be a string"),
    ({"name": "a"}, "customer_id=... or external_customer_id"),
    ({"name": "a", "customer_id": CUSTOMER, "external_customer_id": "u"}, "not both"),
    ({"name": "a", "customer_id": "not-a-uuid"}, "must be a UUID"),
    (
        {"name": "a", "customer_id": "5e95a770-688f-136f-8328-b9c881ba0fe3"},
        "version-4 UUID",
    ),
    ({"name": "a", "customer_id": CUSTOMER, "external_member_id": "m"}, "member_id"),
    ({"name": "a", "external_customer_id": "u", "member_id": CUSTOMER}, "external_member_id"),
    ({"name": "a", "external_customer_id": "u", "timestamp": datetime(2026, 1, 1)}, "aware"),
    (
        {
            "name": "a",
            "external_customer_id": "u",
            "timestamp": datetime.now(timezone.utc) + timedelta(minutes=5),
        },
        "in the past",
    ),
    ({"name": "a", "external_customer_id": "u", "timestamp": "2026-01-01"}, "datetime"),
    (
        {"name": "a", "external_customer_id": "u", "metadata": {str(i): i for i in range(51)}},
        "at most 50",
    ),
    ({"name": "a", "external_customer_id": "u", "metadata": {"k" * 41: 1}}, "40 characters"),
    ({"name": "a", "external_customer_id": "u", "metadata": {"k": ""}}, "1 to 500"),
    ({"name": "a", "external_customer_id": "u", "metadata": {"k": "v" * 501}}, "1 to 500"),
    ({"name": "a", "external_customer_id": "u", "metadata": {"k": math.nan}}, "finite"),
    ({"name": "a", "external_customer_id": "u", "metadata": {"k": 2**70}}, "64-bit"),
    ({"name": "a", "external_customer_id": "u", "metadata": {"k": [1, 2]}}, "got list"),
    ({"name": "a", "external_customer_id": "u", "metadata": {"k": {"a": 1}}}, "got dict"),
    ({"name": "a", "external_customer_id": "u", "metadata": {"_llm": {"vendor": "v"}}}, "'model'"),
    (
        {"name": "a", "external_customer_id": "u", "metadata": {"_cost": {"amount": 1}}},
        "'usd'",
    ),
    (
        {
            "name": "a",
            "external_customer_id": "u",
            "metadata": {"_cost": {"amount": 100_000, "currency": "usd"}},
        },
        "below 100000",
    ),
    ({"name": "a", "external_customer_id": "u", "metadata": ["k"]}, "mapping"),
    ({"name": "a", "external_customer_id": 7}, "external_customer_id must be a string"),
]


@pytest.mark.parametrize(("event", "words"), BAD_EVENTS, ids=[w for _, w in BAD_EVENTS])
def test_track_refuses_what_the_api_would_refuse(event: dict[str, Any], words: str) -> None:
    polar = AsyncPolar(TOKEN, base_url="http://127.0.0.1:9")
    ingester = polar.events.ingester()
    with pytest.raises(InvalidRequestError) as caught:
        ingester.track(**event)
    assert words in str(caught.value)
    assert ingester.stats.tracked == 0 and ingester.stats.pending == 0


def test_helpers_check_their_fields() -> None:
    with pytest.raises(InvalidRequestError, match="input_tokens"):
        LLMUsage(vendor="openai", model="m", input_tokens=-1, output_tokens=1)
    with pytest.raises(InvalidRequestError, match="output_tokens"):
        LLMUsage(vendor="openai", model="m", input_tokens=1, output_tokens=True)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="usd"):
        Cost(amount=1, currency="eur")
    with pytest.raises(InvalidRequestError, match="12 decimal places"):
        Cost(amount=Decimal("0.0000000000001"))
    with pytest.raises(InvalidRequestError, match="finite"):
        Cost(amount=math.inf)
    llm = LLMUsage(vendor="openai", model="gpt-4o", input_tokens=100, output_tokens=50)
    assert llm.to_wire() == {
        "vendor": "openai",
        "model": "gpt-4o",
        "input_tokens": 100,
        "output_tokens": 50,
        "total_tokens": 150,
    }
    cached = LLMUsage(
        vendor="a",
        model="b",
        input_tokens=1,
        output_tokens=2,
        total_tokens=9,
        cached_input_tokens=1,
    )
    assert cached.to_wire()["total_tokens"] == 9 and cached.to_wire()["cached_input_tokens"] == 1
    assert Cost(amount=Decimal("0.25")).to_wire() == {"amount": "0.25", "currency": "usd"}
    assert Cost(amount=12).to_wire() == {"amount": 12, "currency": "usd"}


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("batch_size", 0),
        ("max_pending", -1),
        ("concurrency", 1.5),
        ("flush_interval", 0),
        ("timeout", math.inf),
        ("on_failure", "log"),
    ],
)
def test_bad_options_are_configuration_errors(option: str, value: Any) -> None:
    polar = AsyncPolar(TOKEN, base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match=option):
        polar.events.ingester(**{option: value})
    with (
        Polar(TOKEN, base_url="http://127.0.0.1:9") as blocking,
        pytest.raises(ConfigurationError, match=option),
    ):
        blocking.events.ingester(**{option: value})


def test_tracked_events_are_what_the_generated_models_accept(server: IngestServer) -> None:
    """The hand-written checks build bodies the spec's own models take as they are."""

    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar)
            ingester.track(name="a", customer_id=CUSTOMER, member_id=CUSTOMER)
            ingester.track(
                name="b",
                external_customer_id="u1",
                external_member_id="m1",
                external_id="mine-1",
                parent_id="p",
                timestamp=datetime.now(timezone.utc) - timedelta(hours=1),
                metadata={
                    "route": "/v1/x",
                    "n": 3,
                    "ratio": 0.5,
                    "cached": True,
                    "_llm": LLMUsage(vendor="openai", model="m", input_tokens=1, output_tokens=2),
                    "_cost": Cost(amount=Decimal("1.5")),
                },
            )
            ingester.track(
                name="c",
                external_customer_id="u1",
                metadata={"_cost": {"amount": 0.25, "currency": "usd"}},
            )
            await ingester.aclose()

    asyncio.run(main())
    events = list(server.store.by_id.values())
    assert sorted(e["name"] for e in events) == ["a", "b", "c"]
    body = models.structure({"events": events}, models.EventsIngest)
    kinds = [type(event).__name__ for event in body.events]
    assert kinds.count("EventCreateCustomer") == 1
    assert kinds.count("EventCreateExternalCustomer") == 2
    for event in events:
        assert isinstance(event["external_id"], str) and event["timestamp"]
        stamp = datetime.fromisoformat(event["timestamp"])
        assert stamp.tzinfo is not None and stamp <= datetime.now(timezone.utc)
    assert server.store.by_id["mine-1"]["metadata"]["_llm"]["total_tokens"] == 3
    assert server.store.by_id["mine-1"]["metadata"]["_cost"] == {"amount": "1.5", "currency": "usd"}


def test_the_timestamp_is_taken_at_track_time(server: IngestServer) -> None:
    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar, flush_interval=60)
            before = datetime.now(timezone.utc)
            ingester.track(name="a", external_customer_id="u")
            after = datetime.now(timezone.utc)
            await asyncio.sleep(0.3)  # the batch goes out later than the event happened
            await ingester.flush()
            (event,) = server.store.by_id.values()
            assert before <= datetime.fromisoformat(event["timestamp"]) <= after

    asyncio.run(main())


# batching ------------------------------------------------------------------------------------
def test_batches_of_batch_size_and_flush_waits_for_the_answers(server: IngestServer) -> None:
    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar, batch_size=100, flush_interval=60)
            for i in range(250):
                ingester.track(name="api_call", external_customer_id=f"u{i % 3}")
            await ingester.flush()
            assert server.store.count == 250
            assert server.store.batches == 3
            stats = ingester.stats
            assert (stats.tracked, stats.sent, stats.pending, stats.failed) == (250, 250, 0, 0)
            assert stats.batches == 3 and stats.duplicates == 0
            await ingester.aclose()

    asyncio.run(main())


def test_a_partial_batch_goes_out_after_the_interval(server: IngestServer) -> None:
    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar, flush_interval=0.1)
            for _ in range(5):
                ingester.track(name="api_call", external_customer_id="u")
            for _ in range(300):
                if ingester.stats.sent == 5:
                    break
                await asyncio.sleep(0.01)
            assert server.store.count == 5
            assert ingester.stats.pending == 0
            await ingester.aclose()

    asyncio.run(main())


def test_a_reused_external_id_is_skipped_by_the_server(server: IngestServer) -> None:
    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar)
            ingester.track(name="a", external_customer_id="u", external_id="order-1")
            ingester.track(name="a", external_customer_id="u", external_id="order-1")
            await ingester.flush()
            ingester.track(name="a", external_customer_id="u", external_id="order-1")
            await ingester.aclose()
            stats = ingester.stats
            assert server.store.count == 1
            assert (stats.sent, stats.duplicates, stats.pending) == (3, 2, 0)

    asyncio.run(main())


# faults: nothing lost, nothing counted twice ------------------------------------------------
@pytest.mark.parametrize(
    "kind",
    [
        "reset_before_store",
        "reset_after_store",
        "slow_after_store",
        "500_after_store",
        "502",
        "503",
        "429",
    ],
)
def test_every_unknown_outcome_is_resent_and_stored_once(server: IngestServer, kind: str) -> None:
    server.queue_faults([Fault(kind, slow=1.0), Fault(kind, slow=1.0)])

    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar, timeout=0.3, concurrency=1)
            for i in range(30):
                ingester.track(name="api_call", external_customer_id=f"u{i}")
            await ingester.aclose()
            stats = ingester.stats
            assert server.store.count == 30
            assert (stats.sent, stats.failed, stats.pending) == (30, 0, 0)
            stored_before = kind.endswith("after_store")
            assert stats.duplicates == (30 if stored_before else 0)
            assert stats.retries == 2

    asyncio.run(main())
    assert server.requests == 3


def test_retry_after_is_honoured(server: IngestServer) -> None:
    server.queue_faults([Fault("429", retry_after="0.5")])
    times: list[float] = []

    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar)
            ingester.track(name="a", external_customer_id="u")
            times.append(time.monotonic())
            await ingester.flush()
            times.append(time.monotonic())

    asyncio.run(main())
    assert server.store.count == 1
    assert times[1] - times[0] >= 0.5


def test_one_poisoned_event_in_a_hundred(server: IngestServer) -> None:
    failures: list[IngestFailure] = []
    unknown = "00000000-0000-4000-8000-000000000000"

    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar, on_failure=failures.append)
            for i in range(100):
                customer = unknown if i == 37 else CUSTOMER
                ingester.track(name="api_call", customer_id=customer, metadata={"i": i})
            await ingester.aclose()
            stats = ingester.stats
            assert (stats.sent, stats.failed, stats.pending) == (99, 1, 0)

    asyncio.run(main())
    assert server.store.count == 99
    assert 37 not in {e["metadata"]["i"] for e in server.store.by_id.values()}
    (failure,) = failures
    assert failure.reason == "rejected" and not failure.still_pending
    assert failure.events[0]["metadata"] == {"i": 37}
    assert failure.detail[0]["msg"] == "Customer not found."
    assert failure.detail[0]["loc"] == ["body", "events", 37, "customer_id"]
    assert "Customer not found" in str(failure.error)


def test_our_clock_ahead_of_the_servers_loses_nothing(server: IngestServer) -> None:
    """A stamp the server calls "in the future" (skewed clocks) is left for it to stamp."""
    original = server.ingest

    def skewed(body: bytes) -> tuple[int, dict[str, Any]]:
        import tests.ingestserver as module

        real = module.datetime

        class Behind(real):  # type: ignore[misc,valid-type]
            @classmethod
            def now(cls, tz: Any = None) -> Any:
                return real.now(tz) - timedelta(seconds=30)

        module.datetime = Behind  # type: ignore[misc]
        try:
            return original(body)
        finally:
            module.datetime = real  # type: ignore[misc]

    server.ingest = skewed  # type: ignore[method-assign]

    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar)
            for _ in range(3):
                ingester.track(name="a", external_customer_id="u")
            given = datetime.now(timezone.utc) - timedelta(seconds=10)
            ingester.track(name="given", external_customer_id="u", timestamp=given)
            await ingester.aclose()
            assert ingester.stats.sent == 3 and ingester.stats.failed == 1

    asyncio.run(main())
    assert server.store.count == 3
    assert all("timestamp" not in e for e in server.store.by_id.values())


def test_retries_exhausted_keeps_the_events_and_reports(server: IngestServer) -> None:
    failures: list[IngestFailure] = []
    server.queue_faults([Fault("503")] * 3)

    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar, max_attempts=3, on_failure=failures.append)
            for _ in range(10):
                ingester.track(name="a", external_customer_id="u")
            with pytest.raises(IngestError, match="10 events could not be delivered") as caught:
                await ingester.flush()
            assert caught.value.pending == 10
            assert ingester.stats.pending == 10
            assert [f.reason for f in failures] == ["retries_exhausted"]
            assert failures[0].still_pending and len(failures[0].events) == 10
            await ingester.flush()  # the server is back: delivered
            assert ingester.stats.pending == 0
            await ingester.aclose()

    asyncio.run(main())
    assert server.store.count == 10
    assert server.requests == 4


def test_a_403_stops_sending_keeps_the_events_and_reports(
    server: IngestServer, caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[IngestFailure] = []
    server.refuse_auth = True
    kept: list[dict[str, Any]] = []

    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar, on_failure=failures.append)
            for i in range(20):
                ingester.track(name="a", external_customer_id="u", metadata={"i": i})
            with pytest.raises(IngestError, match="PermissionDeniedError"):
                await ingester.flush()
            await asyncio.sleep(0.3)
            assert server.requests == 1  # no spinning
            with pytest.raises(IngestError, match="20 events could not be delivered"):
                await ingester.aclose()
            kept.extend(ingester.take_pending())
            assert ingester.stats.pending == 0

    with caplog.at_level(logging.DEBUG, logger="polar_sdk"):
        asyncio.run(main())
    assert [f.reason for f in failures] == ["halted", "undelivered"]
    assert len(failures[1].events) == 20
    assert sorted(e["metadata"]["i"] for e in kept) == list(range(20))
    assert TOKEN not in caplog.text and TOKEN not in repr(failures)
    # Sent later (another token, say), each event is still stored once.
    server.refuse_auth = False

    async def resend() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            await polar.events.ingest(
                events=[models.structure(e, models.EventCreate) for e in kept]
            )
            await polar.events.ingest(
                events=[models.structure(e, models.EventCreate) for e in kept]
            )

    asyncio.run(resend())
    assert server.store.count == 20


# backpressure ---------------------------------------------------------------------------------
def test_track_raises_when_full_and_atrack_waits(server: IngestServer) -> None:
    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar, max_pending=10, batch_size=5)
            for _ in range(10):
                ingester.track(name="a", external_customer_id="u")
            with pytest.raises(IngestQueueFullError, match="max_pending") as caught:
                ingester.track(name="a", external_customer_id="u")
            assert caught.value.pending == 10
            for _ in range(40):  # each waits for room, none is refused
                await ingester.atrack(name="a", external_customer_id="u")
            await ingester.aclose()
            assert ingester.stats.tracked == 50

    asyncio.run(main())
    assert server.store.count == 50


def test_blocking_track_can_wait_for_room(server: IngestServer) -> None:
    server.queue_faults([Fault("slow_after_store", slow=0.2)] * 3)
    with Polar(TOKEN, base_url=server.url) as polar:
        ingester = polar.events.ingester(
            max_pending=5, batch_size=5, when_full="block", **{**FAST, "timeout": 2.0}
        )
        for _ in range(40):
            ingester.track(name="a", external_customer_id="u")
        assert ingester.stats.pending <= 5
        ingester.flush()
        assert ingester.stats.sent == 40
        with pytest.raises(ConfigurationError, match="when_full"):
            polar.events.ingester(when_full="drop")  # type: ignore[arg-type]
    assert server.store.count == 40


# lifecycle -----------------------------------------------------------------------------------
def test_closing_the_client_flushes_its_ingesters(server: IngestServer) -> None:
    async def main() -> AsyncIngester:
        polar = AsyncPolar(TOKEN, base_url=server.url)
        ingester = _ingester(polar, flush_interval=60)
        for _ in range(7):
            ingester.track(name="a", external_customer_id="u")
        await polar.aclose()
        return ingester

    ingester = asyncio.run(main())
    assert server.store.count == 7
    assert ingester.closed
    with pytest.raises(ClientClosedError):
        ingester.track(name="a", external_customer_id="u")

    with Polar(TOKEN, base_url=server.url) as polar:
        blocking = polar.events.ingester(flush_interval=60)
        blocking.track(name="a", external_customer_id="u")
    assert server.store.count == 8


def test_cancelled_mid_batch_the_batch_stays_pending_and_goes_out_at_close(
    server: IngestServer,
) -> None:
    server.queue_faults([Fault("slow_after_store", slow=1.0)])
    polar = AsyncPolar(TOKEN, base_url=server.url)
    holder: list[AsyncIngester] = []

    async def first_loop() -> None:
        ingester = polar.events.ingester(**{**FAST, "timeout": 5.0})
        holder.append(ingester)
        for _ in range(100):
            ingester.track(name="a", external_customer_id="u")
        for _ in range(500):  # until the server stored the batch (its answer is slow)
            if server.store.count:
                break
            await asyncio.sleep(0.01)
        # returning ends the loop: asyncio.run cancels the ingester's workers mid-request

    asyncio.run(first_loop())
    ingester = holder[0]
    assert server.store.count == 100
    assert ingester.stats.pending == 100  # no answer came: not confirmed, not lost

    async def second_loop() -> None:
        await ingester.aclose()
        await polar.aclose()

    asyncio.run(second_loop())
    stats = ingester.stats
    assert (stats.sent, stats.duplicates, stats.pending) == (100, 100, 0)
    assert server.store.count == 100


def test_cancelling_a_flush_loses_nothing(server: IngestServer) -> None:
    server.queue_faults([Fault("slow_after_store", slow=0.5)])

    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar, timeout=3.0)
            for _ in range(10):
                ingester.track(name="a", external_customer_id="u")
            with anyio.move_on_after(0.1):
                await ingester.flush()
            assert ingester.stats.pending == 10
            await ingester.aclose()
            assert ingester.stats.sent == 10

    asyncio.run(main())
    assert server.store.count == 10


def test_under_trio(server: IngestServer) -> None:
    pytest.importorskip("trio")

    async def main() -> None:
        async with (
            AsyncPolar(TOKEN, base_url=server.url) as polar,
            _ingester(polar, flush_interval=0.05) as ingester,
        ):
            for _ in range(120):
                ingester.track(name="a", external_customer_id="u")
            await anyio.sleep(0.3)
            assert ingester.stats.sent == 120  # the interval worked under trio too

    anyio.run(main, backend="trio")
    assert server.store.count == 120


def test_track_from_threads_of_an_async_app(server: IngestServer) -> None:
    """FastAPI runs plain `def` endpoints in threads: track() works there too."""

    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar, flush_interval=0.05)

            def work(n: int) -> None:
                for i in range(200):
                    ingester.track(name="a", external_customer_id=f"u{n}", metadata={"i": i})

            await asyncio.gather(*(asyncio.to_thread(work, n) for n in range(5)))
            await ingester.aclose()

    asyncio.run(main())
    assert server.store.count == 1000


_EXIT_SCRIPT = """
import asyncio, sys
sys.path.insert(0, {root!r})
from polar_sdk import AsyncPolar, Polar
mode, url = sys.argv[1], sys.argv[2]
def report(failure):
    print("REPORTED", failure.reason, len(failure.events), flush=True)
if mode == "blocking":
    polar = Polar({token!r}, base_url=url)
    ingester = polar.events.ingester(flush_interval=60, on_failure=report, timeout=0.5,
                                     max_attempts=2, backoff=0.01, max_backoff=0.05)
    for i in range(1000):
        ingester.track(name="exit", external_customer_id="u", metadata={{"i": i}})
else:
    async def main():
        polar = AsyncPolar({token!r}, base_url=url)
        ingester = polar.events.ingester(flush_interval=60, on_failure=report, timeout=0.5,
                                         max_attempts=2, backoff=0.01, max_backoff=0.05)
        for i in range(1000):
            ingester.track(name="exit", external_customer_id="u", metadata={{"i": i}})
    asyncio.run(main())
print("EXITING", flush=True)
"""


@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_process_exit_delivers_pending_events(server: IngestServer, mode: str) -> None:
    script = _EXIT_SCRIPT.format(root=str(ROOT), token=TOKEN)
    done = subprocess.run(
        [sys.executable, "-c", script, mode, server.url],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert "EXITING" in done.stdout
    assert server.store.count == 1000
    assert "REPORTED" not in done.stdout


@pytest.mark.parametrize("mode", ["blocking", "async"])
def test_process_exit_reports_what_it_cannot_deliver(mode: str) -> None:
    script = _EXIT_SCRIPT.format(root=str(ROOT), token=TOKEN)
    done = subprocess.run(
        [sys.executable, "-c", script, mode, "http://127.0.0.1:9"],  # nothing listens there
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert "REPORTED undelivered 1000" in done.stdout
    assert "1000 undelivered events" in done.stderr  # the warning, via logging's last resort
    assert TOKEN not in done.stdout + done.stderr


# the proof -----------------------------------------------------------------------------------
@pytest.mark.heavy
def test_100k_events_from_50_tasks_through_every_fault() -> None:
    server = IngestServer(fault_rate=0.08, seed=14)
    server.start()
    try:

        async def main() -> AsyncIngester:
            async with AsyncPolar(TOKEN, base_url=server.url) as polar:
                ingester = polar.events.ingester(backoff=0.01, max_backoff=0.1, timeout=0.4)

                async def task(n: int) -> None:
                    for i in range(2000):
                        await ingester.atrack(
                            name="api_call", external_customer_id=f"u{n}", metadata={"i": i}
                        )
                        if i % 100 == 0:
                            await asyncio.sleep(0)

                await asyncio.gather(*(task(n) for n in range(50)))
                await ingester.aclose()
                return ingester

        ingester = asyncio.run(main())
    finally:
        server.stop()
    stats = ingester.stats
    assert server.store.count == 100_000
    assert (
        len({(e["external_customer_id"], e["metadata"]["i"]) for e in server.store.by_id.values()})
        == 100_000
    )
    assert (stats.tracked, stats.sent, stats.failed, stats.pending) == (100_000, 100_000, 0, 0)
    # Every fault happened, and each batch stored before its answer was lost came back as
    # duplicates, exactly.
    assert set(server.store.faults) == {
        "reset_before_store",
        "reset_after_store",
        "slow_after_store",
        "500_after_store",
        "502",
        "503",
        "429",
    }
    assert stats.duplicates > 0 and stats.retries > 0


@pytest.mark.heavy
def test_20k_events_from_20_threads_on_the_blocking_client() -> None:
    server = IngestServer(fault_rate=0.08, seed=15)
    server.start()
    try:
        with Polar(TOKEN, base_url=server.url) as polar:
            ingester = polar.events.ingester(backoff=0.01, max_backoff=0.1, timeout=0.4)

            def work(n: int) -> None:
                for i in range(1000):
                    ingester.track(name="api_call", external_customer_id=f"t{n}", metadata={"i": i})

            threads = [threading.Thread(target=work, args=(n,)) for n in range(20)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            ingester.close()
            stats = ingester.stats
    finally:
        server.stop()
    assert server.store.count == 20_000
    assert (stats.tracked, stats.sent, stats.failed, stats.pending) == (20_000, 20_000, 0, 0)
    assert sum(server.store.faults.values()) > 0


def test_stats_and_repr(server: IngestServer) -> None:
    async def main() -> None:
        async with AsyncPolar(TOKEN, base_url=server.url) as polar:
            ingester = _ingester(polar)
            ingester.track(name="a", external_customer_id="u")
            assert "pending=1" in repr(ingester)
            _consistent(ingester)
            await ingester.aclose()
            _consistent(ingester)
            assert "sent=1" in repr(ingester) and TOKEN not in repr(ingester)

    asyncio.run(main())


def test_event_text_and_wire_shape_match_the_recorded_batch() -> None:
    """The recorded `_llm`/`_cost` shapes (fixtures) are what the helpers produce."""
    recorded = {
        "_llm": {
            "vendor": "openai",
            "model": "gpt-4o",
            "input_tokens": 100,
            "output_tokens": 50,
            "total_tokens": 150,
        },
        "_cost": {"amount": 0.25, "currency": "usd"},
    }
    made = {
        "_llm": LLMUsage(
            vendor="openai", model="gpt-4o", input_tokens=100, output_tokens=50
        ).to_wire(),
        "_cost": Cost(amount=0.25).to_wire(),
    }
    assert made == recorded


def test_generated_ids_and_stamps_are_what_the_stdlib_would_make() -> None:
    """The batch-time helpers (cheaper than uuid4()/isoformat()) give the same kinds of text."""
    import random
    import uuid

    from polar_sdk._ingest import _stamp, _uuid4s  # pyright: ignore[reportPrivateUsage]

    ids = _uuid4s(500)
    assert len(set(ids)) == 500
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and str(parsed) == text
    rng = random.Random(7)
    for seconds in [0.0, 0.9999999, 1_764_000_000.5, *(rng.uniform(0, 4e9) for _ in range(2000))]:
        made = datetime.fromisoformat(_stamp(seconds))
        exact = datetime.fromtimestamp(seconds, timezone.utc)
        assert made.tzinfo is not None
        assert abs((made - exact).total_seconds()) <= 1e-6, seconds
