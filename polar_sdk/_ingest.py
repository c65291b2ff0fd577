"""The usage-event ingester behind `polar.events.ingester()`.

`track()` checks an event against the rules the API applies, stamps its time, and queues it;
it never touches the network and never awaits, so it costs a few microseconds on the caller's
path. Worker tasks on the client's event loop send the queue in batches to
`POST /v1/events/ingest`.

Exactly once: Polar skips an event whose `external_id` it already stored for the
organization. Every event gets one (a uuid4) before its first attempt unless the caller gave
one, and keeps it on every later attempt, so a batch whose outcome is unknown (a timeout, a
reset connection, a 5xx) is simply sent again: the server stores what it missed and counts
the rest as duplicates. An event leaves the ingester only when the server confirmed it
(`sent`) or refused it by name (`failed`, reported to `on_failure`). Everything else stays
pending: after exhausted retries, a 401/403, a cancelled worker, or at close.

The queue is guarded by a lock, so the blocking client's `track()` works from any thread;
workers are woken across threads with the loop's thread-safe scheduling.
"""

from __future__ import annotations

import atexit
import bisect
import contextlib
import logging
import math
import os
import random
import re
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, cast

from attrs import field, frozen

from . import _json
from ._exceptions import (
    APIConnectionError,
    ClientClosedError,
    IngestError,
    IngestQueueFullError,
    InvalidRequestError,
    PolarError,
    parse_retry_after,
)

if TYPE_CHECKING:
    import anyio

    from ._http import HTTPCore
    from ._portal import PortalCore
    from ._resource import BlockingCaller

__all__ = [
    "AsyncIngestMixin",
    "AsyncIngester",
    "Cost",
    "IngestFailure",
    "IngestMixin",
    "IngestStats",
    "Ingester",
    "LLMUsage",
    "MetadataValue",
]

logger = logging.getLogger("polar_sdk.ingest")

MetadataValue: TypeAlias = "str | int | float | bool | LLMUsage | Cost | Mapping[str, Any]"
"""A metadata value: text (1-500 characters), a number or a boolean; `LLMUsage`/`Cost` (or
the equivalent dict) under the `_llm`/`_cost` keys."""

_MAX_NAME = 128
_MAX_KEYS = 50
_MAX_KEY = 40
_MAX_TEXT = 500
_INT64 = 2**63
_CANONICAL_UUID4 = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.IGNORECASE
).fullmatch
# What the API accepts for `_cost.amount` (cents): at most 5 digits before the point, 12 after.
_MAX_CENTS = Decimal(100_000)
_HALT_STATUSES = frozenset({401, 403, 404, 405})
"""The request itself is wrong (token, scope, URL): sending again cannot help."""


# metadata helpers -------------------------------------------------------------------------
def _non_negative_int(_instance: object, attribute: Any, value: Any) -> None:
    if value is None and attribute.name in ("total_tokens", "cached_input_tokens"):
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidRequestError(
            f"LLMUsage.{attribute.name} must be a whole number of tokens (0 or more), got {value!r}"
        )


def _text(_instance: object, attribute: Any, value: Any) -> None:
    if value is None and attribute.name in ("prompt", "response"):
        return
    if not isinstance(value, str):
        raise InvalidRequestError(f"LLMUsage.{attribute.name} must be a string, got {value!r}")


@frozen(kw_only=True)
class LLMUsage:
    """Token usage of one LLM call, stored by Polar under the `_llm` metadata key.

    Use it as `metadata={"_llm": LLMUsage(...)}`; meters can then sum the token counts.
    `total_tokens` defaults to input plus output tokens.
    """

    vendor: str = field(validator=_text)
    model: str = field(validator=_text)
    input_tokens: int = field(validator=_non_negative_int)
    output_tokens: int = field(validator=_non_negative_int)
    total_tokens: int | None = field(default=None, validator=_non_negative_int)
    cached_input_tokens: int | None = field(default=None, validator=_non_negative_int)
    prompt: str | None = field(default=None, validator=_text, repr=False)
    response: str | None = field(default=None, validator=_text, repr=False)

    def to_wire(self) -> dict[str, Any]:
        """The `_llm` object as the API takes it."""
        total = self.total_tokens
        wire: dict[str, Any] = {
            "vendor": self.vendor,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens if total is None else total,
        }
        if self.cached_input_tokens is not None:
            wire["cached_input_tokens"] = self.cached_input_tokens
        if self.prompt is not None:
            wire["prompt"] = self.prompt
        if self.response is not None:
            wire["response"] = self.response
        return wire


def _cents(_instance: object, _attribute: Any, value: Any) -> None:
    _check_cents(value)


def _check_cents(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise InvalidRequestError(
            f"Cost.amount must be a number of cents (int, float or Decimal), got {value!r}"
        )
    number = value if isinstance(value, Decimal) else Decimal(repr(value))
    if not number.is_finite() or abs(number) >= _MAX_CENTS:
        raise InvalidRequestError(
            f"Cost.amount must be a finite number of cents below 100000 (the API keeps 5 digits "
            f"before the point), got {value!r}"
        )
    exponent = number.normalize().as_tuple().exponent
    if isinstance(value, Decimal) and isinstance(exponent, int) and exponent < -12:
        raise InvalidRequestError(
            f"Cost.amount has more than 12 decimal places (the API keeps 12), got {value!r}"
        )


def _usd(_instance: object, _attribute: Any, value: Any) -> None:
    if value != "usd":
        raise InvalidRequestError(
            f"Cost.currency must be 'usd' (the only one Polar takes), got {value!r}"
        )


@frozen(kw_only=True)
class Cost:
    """What an event cost you, stored by Polar under the `_cost` metadata key.

    `amount` is in **cents** (a `Decimal` keeps fractions of a cent exact): `Cost(amount=
    Decimal("0.25"))` is a quarter of a cent.
    """

    amount: int | float | Decimal = field(validator=_cents)
    currency: str = field(default="usd", validator=_usd)

    def to_wire(self) -> dict[str, Any]:
        """The `_cost` object as the API takes it (a `Decimal` travels as exact text)."""
        amount = self.amount
        return {
            "amount": format(amount, "f") if isinstance(amount, Decimal) else amount,
            "currency": self.currency,
        }


# results ----------------------------------------------------------------------------------
@frozen(kw_only=True)
class IngestStats:
    """A snapshot of an ingester's counters.

    `tracked` = `sent` + `failed` + `pending` at any moment. `sent` counts events the server
    confirmed (stored now or earlier), `duplicates` those of them it had already stored
    (a resent batch, or an `external_id` you reused), `failed` events it refused by name.
    """

    tracked: int
    sent: int
    duplicates: int
    failed: int
    pending: int
    batches: int
    retries: int


FailureReason: TypeAlias = Literal["rejected", "retries_exhausted", "halted", "undelivered"]


@frozen(kw_only=True)
class IngestFailure:
    """What `on_failure` receives.

    - `rejected`: the server refused these events by name (422); they are dropped and
      counted as `failed`; `detail` holds the server's entries about them.
    - `retries_exhausted`: a batch kept failing; its events stay pending and are tried again
      after a pause.
    - `halted`: the server refused the credentials or the URL (401/403/404); sending stops,
      the events stay pending.
    - `undelivered`: events still pending when the ingester closed; take them with
      `take_pending()`.

    `still_pending` says whether the events are still held by the ingester.
    """

    reason: FailureReason
    events: tuple[dict[str, Any], ...] = field(repr=lambda events: f"<{len(events)} events>")
    error: BaseException | None = None
    detail: tuple[Any, ...] = ()
    still_pending: bool = False


# event checks -----------------------------------------------------------------------------
def _bad(message: str) -> InvalidRequestError:
    return InvalidRequestError(message)


def _check_uuid4(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise _bad(f"{name} must be a UUID string, got {type(value).__name__}")
    if _CANONICAL_UUID4(value):
        return
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise _bad(f"{name} must be a UUID, got {value!r}") from None
    if parsed.version != 4:
        raise _bad(f"{name} must be a version-4 UUID (the API rejects others), got {value!r}")


def _check_llm(value: Mapping[str, Any]) -> dict[str, Any]:
    wire = dict(value)
    for key in ("vendor", "model"):
        if not isinstance(wire.get(key), str):
            raise _bad(f"metadata['_llm'] needs {key!r} (a string)")
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        count = wire.get(key)
        if not isinstance(count, int) or isinstance(count, bool):
            raise _bad(f"metadata['_llm'] needs {key!r} (an integer)")
    cached = wire.get("cached_input_tokens")
    if cached is not None and (not isinstance(cached, int) or isinstance(cached, bool)):
        raise _bad("metadata['_llm']['cached_input_tokens'] must be an integer")
    return wire


def _check_cost(value: Mapping[str, Any]) -> dict[str, Any]:
    if "amount" not in value:
        raise _bad("metadata['_cost'] needs 'amount' (in cents)")
    amount = value["amount"]
    _check_cents(amount)
    if value.get("currency") != "usd":
        raise _bad(f"metadata['_cost']['currency'] must be 'usd', got {value.get('currency')!r}")
    wire = dict(value)
    if isinstance(amount, Decimal):
        wire["amount"] = format(amount, "f")
    return wire


def _metadata(given: object) -> dict[str, Any]:
    if not isinstance(given, Mapping):
        raise _bad(f"metadata must be a mapping, got {type(given).__name__}")
    metadata: Mapping[Any, Any] = given  # pyright: ignore[reportUnknownVariableType]
    if len(metadata) > _MAX_KEYS:
        raise _bad(f"metadata has {len(metadata)} keys; the API takes at most {_MAX_KEYS}")
    wire: dict[str, Any] = {}
    key: Any
    value: Any
    for key, value in metadata.items():
        if not isinstance(key, str) or len(key) > _MAX_KEY:
            raise _bad(
                f"metadata keys must be strings of at most {_MAX_KEY} characters, got {key!r}"
            )
        kind: type[Any] = type(value)  # pyright: ignore[reportUnknownVariableType]
        if kind is str:
            if not 0 < len(value) <= _MAX_TEXT:
                raise _bad(
                    f"metadata[{key!r}] is {len(value)} characters long; the API takes "
                    f"1 to {_MAX_TEXT}"
                )
        elif kind is int:
            if not -_INT64 <= value < _INT64:
                raise _bad(f"metadata[{key!r}] does not fit a 64-bit integer")
        elif kind is float:
            if not math.isfinite(value):
                raise _bad(f"metadata[{key!r}] must be a finite number, got {value!r}")
        elif kind is bool:
            pass
        elif key == "_llm":
            value = (
                value.to_wire() if isinstance(value, LLMUsage) else _mapping(key, value, _check_llm)
            )
        elif key == "_cost":
            value = (
                value.to_wire() if isinstance(value, Cost) else _mapping(key, value, _check_cost)
            )
        else:
            value = _loose_scalar(key, value)
        wire[key] = value
    return wire


def _mapping(
    key: str, value: object, check: Callable[[Mapping[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(f"metadata[{key!r}] must be a mapping, got {type(value).__name__}")
    return check(cast("Mapping[str, Any]", value))


def _loose_scalar(key: str, value: object) -> str | int | float | bool:
    """A subclass of str/int/float (an enum member, say), checked like its base."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        text = str(value)
        if not 0 < len(text) <= _MAX_TEXT:
            raise _bad(
                f"metadata[{key!r}] is {len(text)} characters long; the API takes 1 to {_MAX_TEXT}"
            )
        return text
    if isinstance(value, int):
        number = int(value)
        if not -_INT64 <= number < _INT64:
            raise _bad(f"metadata[{key!r}] does not fit a 64-bit integer")
        return number
    if isinstance(value, float):
        real = float(value)
        if not math.isfinite(real):
            raise _bad(f"metadata[{key!r}] must be a finite number, got {value!r}")
        return real
    raise _bad(
        f"metadata[{key!r}] must be a string, an integer, a float or a boolean, "
        f"got {type(value).__name__}"
    )


def _timestamp(value: object) -> str:
    if not isinstance(value, datetime):
        raise _bad(f"timestamp must be a datetime, got {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise _bad("timestamp must be timezone-aware (for example datetime.now(timezone.utc))")
    if value > datetime.now(timezone.utc):
        raise _bad(f"timestamp must be in the past, got {value.isoformat()}")
    return value.isoformat()


def _optional_text(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise _bad(f"{name} must be a string, got {type(value).__name__}")


_SECOND: list[Any] = [None, ""]  # the last whole second formatted, and its text


def _stamp(seconds: float) -> str:
    """`seconds` since the epoch as ISO 8601 in UTC, to the microsecond.

    Events of one batch mostly share their second: its text is reused (a third of the cost
    of `datetime.fromtimestamp(...).isoformat()`).
    """
    whole = int(seconds)
    micro = round((seconds - whole) * 1_000_000)
    if micro == 1_000_000:
        whole, micro = whole + 1, 0
    cached = _SECOND
    if cached[0] != whole:
        cached[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        cached[0] = whole
    return f"{cached[1]}.{micro:06d}+00:00"


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _uuid4s(count: int) -> list[str]:
    """`count` random version-4 UUIDs as text, from one read of the OS's random source."""
    raw = os.urandom(16 * count).hex()
    ids: list[str] = []
    for start in range(0, 32 * count, 32):
        h = raw[start : start + 32]
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}")
    return ids


# the ingester -----------------------------------------------------------------------------
_Entry: TypeAlias = "tuple[int, float, dict[str, Any], bool]"
"""(sequence number, time tracked, wire event, time stamped by us)."""


class AsyncIngester:
    """Batches usage events to `POST /v1/events/ingest` in the background; from `AsyncPolar`.

    Made by `polar.events.ingester()`. `track()` queues an event (no await, no network);
    workers on the event loop send batches of up to `batch_size` events, a partial batch
    after `flush_interval` seconds. `await flush()` sends everything tracked so far and
    waits for the answers; `aclose()` (or leaving `async with`, or closing the client)
    flushes and stops. Use one ingester per client and keep it for the life of the process.

    Every event without an `external_id` gets a uuid4 one, so any batch is safe to send
    again: a timeout, a reset connection, 408, 500, 502, 503 and 504 are retried with
    exponential backoff and jitter, 429 after its `Retry-After`, whatever the client's retry
    policy. If you pass your own `external_id`, the server skips an event whose id it has
    already stored (counted in `duplicates`).
    """

    def __init__(
        self,
        core: HTTPCore,
        *,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        max_pending: int = 100_000,
        concurrency: int = 4,
        max_attempts: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 30.0,
        close_timeout: float = 10.0,
        on_failure: Callable[[IngestFailure], object] | None = None,
    ) -> None:
        _positive_int("batch_size", batch_size)
        _positive_int("max_pending", max_pending)
        _positive_int("concurrency", concurrency)
        _positive_int("max_attempts", max_attempts)
        for name, value in (
            ("flush_interval", flush_interval),
            ("backoff", backoff),
            ("max_backoff", max_backoff),
            ("timeout", timeout),
            ("close_timeout", close_timeout),
        ):
            _positive_number(name, value)
        if on_failure is not None and not callable(on_failure):
            raise _config(f"on_failure must be callable, got {type(on_failure).__name__}")
        self._core = core
        self._batch_size = batch_size
        self._interval = flush_interval
        self._max_pending = max_pending
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._timeout = timeout
        self._close_timeout = close_timeout
        self._on_failure = on_failure

        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._queue: deque[_Entry] = deque()
        self._retry: list[list[_Entry]] = []  # batches sent before, oldest first
        self._inflight: dict[int, list[_Entry]] = {}
        self._seq = 0
        self._pending = 0
        self._tracked = 0
        self._sent = 0
        self._duplicates = 0
        self._failed = 0
        self._batches = 0
        self._retries = 0
        self._stalls = 0  # batches that ran out of attempts, and halts
        self._last_error: BaseException | None = None
        self._halted: BaseException | None = None
        self._paused_until = 0.0
        self._flush_upto = 0
        self._room_waiters = 0
        self._closing = False
        self._closed = False

        # Set while workers run on a loop: how to reach it from other threads.
        self._running = False
        self._loop_thread: int | None = None
        self._call_soon: Callable[[Callable[[], object]], object] | None = None
        self._idle = 0
        self._wake_event: anyio.Event | None = None
        self._progress: anyio.Event | None = None
        self._scope: anyio.CancelScope | None = None
        self._stopped: anyio.Event | None = None
        self._task: object = None  # keeps an asyncio task referenced
        self._blocking = False  # run by a blocking client, which closes it at exit
        _LIVE.add(self)
        core.register_ingester(self)
        self._find_loop()

    # tracking ----------------------------------------------------------------------------
    def track(
        self,
        *,
        name: str,
        customer_id: str | None = None,
        external_customer_id: str | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        timestamp: datetime | None = None,
        external_id: str | None = None,
        parent_id: str | None = None,
        member_id: str | None = None,
        external_member_id: str | None = None,
        organization_id: str | None = None,
    ) -> None:
        """Check one event and queue it; no network, no await.

        Give exactly one of `customer_id` (Polar's id) and `external_customer_id` (yours).
        `timestamp` (timezone-aware, in the past) defaults to now, taken here rather than when
        the batch goes out. `external_id` is your id for the event: the server skips an event
        whose id it has already stored.

        Raises:
            InvalidRequestError: the API would refuse this event (nothing was queued).
            IngestQueueFullError: `max_pending` events are already waiting.
            ClientClosedError: the ingester was closed.
        """
        event, auto = _event(
            name,
            customer_id,
            external_customer_id,
            metadata,
            timestamp,
            external_id,
            parent_id,
            member_id,
            external_member_id,
            organization_id,
        )
        self._put(event, auto, block=False)

    async def atrack(
        self,
        *,
        name: str,
        customer_id: str | None = None,
        external_customer_id: str | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        timestamp: datetime | None = None,
        external_id: str | None = None,
        parent_id: str | None = None,
        member_id: str | None = None,
        external_member_id: str | None = None,
        organization_id: str | None = None,
    ) -> None:
        """`track()`, waiting for room when `max_pending` events are queued instead of raising."""
        import anyio

        event, auto = _event(
            name,
            customer_id,
            external_customer_id,
            metadata,
            timestamp,
            external_id,
            parent_id,
            member_id,
            external_member_id,
            organization_id,
        )
        while True:
            try:
                self._put(event, auto, block=False)
                return
            except IngestQueueFullError:
                self._start_here()
                progress = self._progress
                if progress is None:
                    raise
                with anyio.move_on_after(1.0):  # also re-checks when room was made elsewhere
                    await progress.wait()

    def _put(self, event: dict[str, Any], auto: bool, *, block: bool) -> None:
        now = time.time()
        with self._lock:
            if self._closing:
                raise ClientClosedError(
                    "this ingester is closed; its client's ingester() makes a new one"
                )
            if self._pending >= self._max_pending:
                if not block:
                    raise IngestQueueFullError(
                        f"the ingester holds {self._pending} events (max_pending); this one was "
                        f"not queued",
                        pending=self._pending,
                    )
                self._room_waiters += 1
                try:
                    while self._pending >= self._max_pending and not self._closing:
                        self._room.wait(1.0)
                finally:
                    self._room_waiters -= 1
                if self._closing:
                    raise ClientClosedError(
                        "this ingester was closed while track() waited for room"
                    )
            self._seq += 1
            self._queue.append((self._seq, now, event, auto))
            self._pending += 1
            self._tracked += 1
            queued = len(self._queue)
            wake = self._idle and (queued == 1 or queued % self._batch_size == 0)
        if not self._running:
            self._start_soon()
        elif wake:
            self._wake()

    # flushing and closing ------------------------------------------------------------------
    async def flush(self) -> None:
        """Send every event tracked so far and wait for the server's answers.

        Raises:
            IngestError: some of them could not be delivered (retries exhausted, or the server
                refused the credentials); they stay pending and are tried again later.
        """
        import anyio

        self._start_here()
        with self._lock:
            target = self._seq
            self._flush_upto = max(self._flush_upto, target)
            stalls = self._stalls
            self._paused_until = 0.0  # an explicit flush retries a paused batch now
        self._wake_here()
        while True:
            with self._lock:
                oldest = self._oldest_pending()
                if oldest is None or oldest > target:
                    return
                halted = self._halted
                stalled = self._stalls != stalls
                error = self._last_error
                pending = self._pending
            if halted is not None or stalled:
                raise IngestError(
                    f"{pending} events could not be delivered yet ({_describe(halted or error)}); "
                    "they are still pending",
                    pending=pending,
                    cause=halted or error,
                ) from (halted or error)
            progress = self._progress
            if progress is None:  # the workers are gone (their loop ended): start them here
                self._start_here()
                continue
            with anyio.move_on_after(1.0):
                await progress.wait()

    async def aclose(self) -> None:
        """Flush (for at most `close_timeout` seconds), then stop the workers.

        Raises:
            IngestError: events that could not be delivered; they were reported to
                `on_failure` and can be taken with `take_pending()`.
        """
        left = await self._close()
        if left:
            raise IngestError(
                f"{left} events could not be delivered before close "
                f"({_describe(self._last_error)}); take them with take_pending()",
                pending=left,
                cause=self._last_error,
            )

    async def _close(self) -> int:
        """Close without raising; give how many events are left."""
        import anyio

        with self._lock:
            if self._closing:
                return self._pending
            self._closing = True
            self._room.notify_all()
        try:
            if self._pending and self._halted is None:
                with anyio.move_on_after(self._close_timeout):
                    with contextlib.suppress(IngestError):
                        await self.flush()
        finally:
            await self._stop()
            self._closed = True
            _LIVE.discard(self)
            left = self._report_left()
        return left

    def _report_left(self) -> int:
        with self._lock:
            left = self._pending
            events = tuple(entry[2] for entry in self._all_pending())
        if left:
            logger.warning(
                "event ingester closed with %d undelivered events (%s)",
                left,
                _describe(self._last_error),
            )
            self._report(
                IngestFailure(
                    reason="undelivered", events=events, error=self._last_error, still_pending=True
                )
            )
        return left

    def take_pending(self) -> list[dict[str, Any]]:
        """Remove and return the events not yet delivered (wire form), for you to keep.

        Meant for after `aclose()` reported undelivered events: store them and send them
        later with `events.ingest(...)` or another ingester; their `external_id` makes that
        safe. Events in a batch on its way are not included.
        """
        with self._lock:
            entries = self._all_pending(inflight=False)
            self._queue.clear()
            self._retry.clear()
            self._pending -= len(entries)
            self._tracked -= len(entries)  # they left without being sent or failed
        return [_finish(entry) for entry in entries]

    async def __aenter__(self) -> AsyncIngester:
        self._start_here()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def stats(self) -> IngestStats:
        """The counters now (see `IngestStats`)."""
        with self._lock:
            return IngestStats(
                tracked=self._tracked,
                sent=self._sent,
                duplicates=self._duplicates,
                failed=self._failed,
                pending=self._pending,
                batches=self._batches,
                retries=self._retries,
            )

    @property
    def closed(self) -> bool:
        """Whether `aclose()` was called."""
        return self._closing

    def __repr__(self) -> str:
        stats = self.stats
        return (
            f"<{type(self).__name__} tracked={stats.tracked} sent={stats.sent} "
            f"failed={stats.failed} pending={stats.pending}>"
        )

    # workers -----------------------------------------------------------------------------
    def _find_loop(self) -> None:
        """Remember the event loop we were made on, so another thread's track() can start us."""
        try:
            import sniffio

            library = sniffio.current_async_library()
        except Exception:  # no loop in this thread
            return
        self._remember_loop(library)

    def _remember_loop(self, library: str) -> None:
        if library == "asyncio":
            import asyncio

            self._call_soon = asyncio.get_running_loop().call_soon_threadsafe
        elif library == "trio":
            import trio

            token = trio.lowlevel.current_trio_token()
            self._call_soon = token.run_sync_soon
        self._loop_thread = threading.get_ident()

    def _start_soon(self) -> None:
        """Start the workers from track(): here if this thread runs a loop, else on ours."""
        if self._running or self._closed:
            return
        try:
            import sniffio

            library: str | None = sniffio.current_async_library()
        except Exception:
            library = None
        if library is not None:
            self._start_here()
        elif self._call_soon is not None:
            with contextlib.suppress(RuntimeError):  # that loop is closed: flush() restarts us
                self._call_soon(self._start_here)

    def _start_here(self) -> None:
        """Start the workers on the running event loop (nothing when they run already)."""
        if self._running or self._closed:
            return
        import anyio
        import sniffio

        library = sniffio.current_async_library()
        self._remember_loop(library)
        self._running = True
        self._wake_event = anyio.Event()
        self._progress = anyio.Event()
        self._stopped = anyio.Event()
        if library == "asyncio":
            import asyncio

            self._task = asyncio.get_running_loop().create_task(self._run())
        elif library == "trio":
            import trio

            trio.lowlevel.spawn_system_task(self._run)
        else:  # pragma: no cover - anyio supports asyncio and trio only
            self._running = False
            raise RuntimeError(f"the event ingester cannot run on {library}")

    async def _run(self) -> None:
        import anyio

        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                async with anyio.create_task_group() as group:
                    for _ in range(self._concurrency):
                        group.start_soon(self._worker)
        finally:
            self._running = False
            self._scope = None
            self._progress_made()
            self._progress = None
            stopped = self._stopped
            if stopped is not None:
                stopped.set()

    async def _stop(self) -> None:
        import anyio

        scope = self._scope
        stopped = self._stopped
        if scope is None or stopped is None:
            return
        if self._loop_thread != threading.get_ident():  # pragma: no cover - defensive
            return
        scope.cancel()
        with anyio.CancelScope(shield=True), anyio.move_on_after(5.0):
            await stopped.wait()

    async def _worker(self) -> None:
        import anyio

        while True:
            event: anyio.Event | None = None
            with self._lock:
                batch, wait = self._next_batch()
                if batch is None:
                    if wait is None:
                        return
                    self._idle += 1
                    event = self._wake_event
            if batch is None:
                try:
                    if event is not None:
                        with anyio.move_on_after(wait):
                            await event.wait()
                finally:
                    with self._lock:
                        self._idle -= 1
                continue
            await self._deliver(batch)

    def _next_batch(self) -> tuple[list[_Entry] | None, float | None]:
        """Under the lock: the next batch to send, or how long to sleep (None: stop)."""
        now = time.time()
        if self._halted is not None:
            return None, math.inf
        if self._paused_until > now:
            return None, self._paused_until - now
        if self._retry:
            batch = self._retry.pop(0)
        else:
            queue = self._queue
            if not queue:
                return None, math.inf
            due = queue[0][1] + self._interval
            if (
                len(queue) < self._batch_size
                and due > now
                and queue[0][0] > self._flush_upto
                and not self._closing
            ):
                return None, due - now
            count = min(len(queue), self._batch_size)
            batch = [queue.popleft() for _ in range(count)]
        self._inflight[id(batch)] = batch
        return batch, None

    def _oldest_pending(self) -> int | None:
        firsts = [batch[0][0] for batch in self._inflight.values() if batch]
        firsts += [batch[0][0] for batch in self._retry if batch]
        if self._queue:
            firsts.append(self._queue[0][0])
        return min(firsts) if firsts else None

    def _all_pending(self, *, inflight: bool = True) -> list[_Entry]:
        entries: list[_Entry] = []
        batches = [*self._retry, *self._inflight.values()] if inflight else list(self._retry)
        for batch in batches:
            entries.extend(batch)
        entries.extend(self._queue)
        entries.sort(key=lambda entry: entry[0])
        return entries

    async def _deliver(self, batch: list[_Entry]) -> None:
        """Send one batch until the server answered for every event in it (or give it back)."""
        import anyio

        from .resources.events import OP_INGEST

        key = id(batch)
        done = False
        attempt = 0
        try:
            _prepared(batch)
            while batch:
                attempt += 1
                body = _json.dumps({"events": [entry[2] for entry in batch]})
                delay: float | None = None
                try:
                    response = await self._core.send_json(
                        OP_INGEST, body, self._timeout, None, self._timeout * 2
                    )
                except APIConnectionError as exc:  # no answer: maybe stored, maybe not
                    self._last_error = exc
                except Exception as exc:  # the client is closed or unusable: no spinning
                    self._last_error = exc
                    self._halt(batch, exc)
                    done = True
                    return
                else:
                    status = response.status_code
                    if 200 <= status < 300:
                        self._confirm(batch, response)
                        done = True
                        return
                    error = _status_error(response)
                    self._last_error = error
                    if status == 422:
                        kept = self._reject(batch, response, error)
                        if kept is not None:
                            batch = kept
                            with self._lock:
                                self._inflight[key] = batch
                            attempt = 0
                            continue
                    if status in _HALT_STATUSES:
                        self._halt(batch, error)
                        done = True  # handed back to the queue
                        return
                    if status == 429:
                        hinted = parse_retry_after(response.headers.get("retry-after"))
                        delay = None if hinted is None else min(hinted, 300.0)
                    elif status < 500 and status != 408:
                        # Refused without naming events: halve the batch until the culprit
                        # is alone, then drop it.
                        batch = self._split(batch, error)
                        with self._lock:
                            self._inflight[key] = batch
                        attempt = 0
                        continue
                if attempt >= self._max_attempts:
                    self._exhausted(batch)
                    done = True
                    return
                if delay is None:
                    ceiling = min(self._max_backoff, self._backoff * 2 ** (attempt - 1))
                    delay = random.uniform(ceiling / 2, ceiling)
                with self._lock:
                    self._retries += 1
                await anyio.sleep(delay)
            done = True
        finally:
            with self._lock:
                self._inflight.pop(key, None)
                if not done and batch:
                    # Cancelled before an answer (close, the loop's end): never lost, and
                    # safe to send again since every event has its id.
                    self._requeue(batch)
            self._progress_made()

    def _confirm(self, batch: list[_Entry], response: Any) -> None:
        try:
            answer = _json.loads(response.content)
            duplicates = int(answer.get("duplicates", 0))
        except Exception:  # the batch is stored either way; the count is only a statistic
            duplicates = 0
        with self._lock:
            self._sent += len(batch)
            self._duplicates += duplicates
            self._pending -= len(batch)
            self._batches += 1
            self._made_room()

    def _reject(self, batch: list[_Entry], response: Any, error: PolarError) -> list[_Entry] | None:
        """Drop the events a 422 names; give the rest to resend (None: it named none)."""
        try:
            detail = _json.loads(response.content).get("detail")
        except Exception:
            detail = None
        named: dict[int, list[Any]] = {}
        if isinstance(detail, list):
            item: Any
            entries: list[Any] = detail  # pyright: ignore[reportUnknownVariableType]
            for item in entries:
                loc: Any = _loc(item)
                if (
                    isinstance(loc, list)
                    and len(loc) > 2  # pyright: ignore[reportUnknownArgumentType]
                    and loc[:2] == ["body", "events"]
                    and isinstance(loc[2], int)
                    and not isinstance(loc[2], bool)
                    and 0 <= loc[2] < len(batch)
                ):
                    named.setdefault(loc[2], []).append(item)
        if not named:
            return None
        kept: list[_Entry] = []
        dropped: list[tuple[_Entry, list[Any]]] = []
        for index, entry in enumerate(batch):
            items = named.get(index)
            if items is None:
                kept.append(entry)
            elif entry[3] and _only_future_timestamp(items):
                # Our own stamp is ahead of the server's clock: let the server stamp it.
                entry[2].pop("timestamp", None)
                kept.append((entry[0], entry[1], entry[2], False))
            else:
                dropped.append((entry, items))
        self._drop(dropped, error)
        return kept

    def _split(self, batch: list[_Entry], error: PolarError) -> list[_Entry]:
        if len(batch) == 1:
            self._drop([(batch[0], [])], error)
            return []
        half = len(batch) // 2
        with self._lock:
            self._requeue(batch[half:])
        return batch[:half]

    def _drop(self, dropped: list[tuple[_Entry, list[Any]]], error: PolarError) -> None:
        if not dropped:
            return
        with self._lock:
            self._failed += len(dropped)
            self._pending -= len(dropped)
            self._made_room()
        for entry, items in dropped:
            logger.warning(
                "event %r (%s) refused by the server: %s",
                entry[2].get("name"),
                entry[2].get("external_id"),
                _describe(error),
            )
            self._report(
                IngestFailure(
                    reason="rejected", events=(entry[2],), error=error, detail=tuple(items)
                )
            )

    def _halt(self, batch: list[_Entry], error: BaseException) -> None:
        with self._lock:
            self._requeue(batch)
            self._halted = error
            self._stalls += 1
        logger.error(
            "event ingester stopped sending: %s; %d events kept", _describe(error), self._pending
        )
        self._report(
            IngestFailure(
                reason="halted", events=tuple(e[2] for e in batch), error=error, still_pending=True
            )
        )

    def _exhausted(self, batch: list[_Entry]) -> None:
        with self._lock:
            self._requeue(batch)
            self._stalls += 1
            self._paused_until = time.time() + self._max_backoff
        logger.warning(
            "event ingester: a batch of %d events failed %d times (%s); kept, retrying in %g s",
            len(batch),
            self._max_attempts,
            _describe(self._last_error),
            self._max_backoff,
        )
        self._report(
            IngestFailure(
                reason="retries_exhausted",
                events=tuple(e[2] for e in batch),
                error=self._last_error,
                still_pending=True,
            )
        )

    def _requeue(self, batch: list[_Entry]) -> None:
        """Under the lock: put a batch back, ahead of newer events."""
        if batch:
            bisect.insort(self._retry, batch, key=lambda b: b[0][0])

    def _made_room(self) -> None:
        """Under the lock: wake track() calls waiting for room."""
        if self._room_waiters:
            self._room.notify_all()

    def _progress_made(self) -> None:
        """On the loop: wake flush() and atrack() waiters."""
        import anyio

        progress = self._progress
        if progress is not None:
            if self._running:
                self._progress = anyio.Event()
            progress.set()

    def _report(self, failure: IngestFailure) -> None:
        callback = self._on_failure
        if callback is None:
            return
        try:
            callback(failure)
        except Exception:
            logger.exception("the event ingester's on_failure callback raised")

    def _wake(self) -> None:
        """Wake idle workers (from any thread)."""
        if threading.get_ident() == self._loop_thread:
            self._wake_here()
        elif self._call_soon is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: flush() restarts us
                self._call_soon(self._wake_here)

    def _wake_here(self) -> None:
        import anyio

        event = self._wake_event
        if event is not None and self._running:
            self._wake_event = anyio.Event()
            event.set()


class Ingester:
    """The blocking client's event ingester (`Polar.events.ingester()`); safe across threads.

    `track()` queues from any thread in a few microseconds; the workers run on the client's
    event-loop thread. `flush()`, `close()` and leaving `with` send what is queued; the client's
    `close()` and the end of the process do too. `when_full="block"` makes `track()` wait for
    room instead of raising `IngestQueueFullError`.
    """

    def __init__(
        self,
        ingester: AsyncIngester,
        portal: PortalCore[Any],
        when_full: Literal["raise", "block"] = "raise",
    ) -> None:
        if when_full not in ("raise", "block"):
            raise _config(f"when_full must be 'raise' or 'block', got {when_full!r}")
        self._async = ingester
        ingester._blocking = True  # pyright: ignore[reportPrivateUsage]
        self._portal = portal
        self._block = when_full == "block"
        portal.call(_start, ingester)

    def track(
        self,
        *,
        name: str,
        customer_id: str | None = None,
        external_customer_id: str | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        timestamp: datetime | None = None,
        external_id: str | None = None,
        parent_id: str | None = None,
        member_id: str | None = None,
        external_member_id: str | None = None,
        organization_id: str | None = None,
    ) -> None:
        """Check one event and queue it (see `AsyncIngester.track`); no network.

        Raises:
            InvalidRequestError: the API would refuse this event (nothing was queued).
            IngestQueueFullError: `max_pending` events wait and `when_full` is "raise".
            ClientClosedError: the ingester was closed.
        """
        event, auto = _event(
            name,
            customer_id,
            external_customer_id,
            metadata,
            timestamp,
            external_id,
            parent_id,
            member_id,
            external_member_id,
            organization_id,
        )
        self._async._put(event, auto, block=self._block)  # pyright: ignore[reportPrivateUsage]

    def flush(self) -> None:
        """Send every event tracked so far and wait for the answers (see `AsyncIngester.flush`)."""
        self._portal.call(self._async.flush)

    def close(self) -> None:
        """Flush, then stop (see `AsyncIngester.aclose`)."""
        if self._portal.closed:
            return
        self._portal.call(self._async.aclose)

    def take_pending(self) -> list[dict[str, Any]]:
        """Remove and return the undelivered events (see `AsyncIngester.take_pending`)."""
        return self._async.take_pending()

    @property
    def stats(self) -> IngestStats:
        """The counters now (see `IngestStats`)."""
        return self._async.stats

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._async.closed

    def __enter__(self) -> Ingester:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncIngester", "Ingester", 1)


async def _start(ingester: AsyncIngester) -> None:
    ingester._start_here()  # pyright: ignore[reportPrivateUsage]


# helpers ----------------------------------------------------------------------------------
def _event(
    name: object,
    customer_id: object,
    external_customer_id: object,
    metadata: Any,
    timestamp: object,
    external_id: object,
    parent_id: object,
    member_id: object,
    external_member_id: object,
    organization_id: object,
) -> tuple[dict[str, Any], bool]:
    """The wire event for track()'s arguments, and whether we stamp its time."""
    if type(name) is not str:
        if not isinstance(name, str):
            raise _bad(f"name must be a string, got {type(name).__name__}")
        name = str(name)
    if len(name) > _MAX_NAME:
        raise _bad(f"name is {len(name)} characters long; the API takes at most {_MAX_NAME}")
    event: dict[str, Any] = {"name": name}
    if customer_id is not None:
        if external_customer_id is not None:
            raise _bad("give customer_id or external_customer_id, not both")
        _check_uuid4("customer_id", customer_id)
        event["customer_id"] = customer_id
        if member_id is not None:
            _check_uuid4("member_id", member_id)
            event["member_id"] = member_id
        if external_member_id is not None:
            raise _bad("external_member_id goes with external_customer_id; use member_id")
    elif external_customer_id is not None:
        if type(external_customer_id) is not str:
            _optional_text("external_customer_id", external_customer_id)
        event["external_customer_id"] = external_customer_id
        if external_member_id is not None:
            _optional_text("external_member_id", external_member_id)
            event["external_member_id"] = external_member_id
        if member_id is not None:
            raise _bad("member_id goes with customer_id; use external_member_id")
    else:
        raise _bad("give the event's customer: customer_id=... or external_customer_id=...")
    if external_id is not None:
        _optional_text("external_id", external_id)
        event["external_id"] = external_id
    if parent_id is not None:
        _optional_text("parent_id", parent_id)
        event["parent_id"] = parent_id
    if organization_id is not None:
        _check_uuid4("organization_id", organization_id)
        event["organization_id"] = organization_id
    if metadata:
        event["metadata"] = _metadata(metadata)
    elif metadata is not None and not isinstance(metadata, Mapping):
        raise _bad(f"metadata must be a mapping, got {type(metadata).__name__}")
    if timestamp is None:
        return event, True  # stamped by _put, under the queue's lock
    event["timestamp"] = _timestamp(timestamp)
    return event, False


def _prepared(batch: list[_Entry]) -> None:
    """Give every event its id and time before its first attempt (kept for every retry)."""
    missing = [entry[2] for entry in batch if "external_id" not in entry[2]]
    if missing:
        for event, new_id in zip(missing, _uuid4s(len(missing)), strict=True):
            event["external_id"] = new_id
    for entry in batch:
        if entry[3] and "timestamp" not in entry[2]:
            entry[2]["timestamp"] = _stamp(entry[1])


def _finish(entry: _Entry) -> dict[str, Any]:
    _prepared([entry])
    return entry[2]


def _loc(item: object) -> Any:
    """The `loc` of a 422 detail entry (None when it has none)."""
    return cast("dict[str, Any]", item).get("loc") if isinstance(item, dict) else None


def _only_future_timestamp(items: list[Any]) -> bool:
    """Whether a 422's entries about one event only say its timestamp is in the future."""
    seen = False
    for item in items:
        loc = _loc(item)
        if not isinstance(loc, list) or not loc:
            return False
        if loc[-1] == "timestamp" and "past" in str(item.get("msg", "")):
            seen = True
        elif (
            loc[-1] not in ("customer_id", "external_customer_id") or item.get("type") != "missing"
        ):
            return False  # union noise aside, something else is wrong with it
    return seen


def _status_error(response: Any) -> PolarError:
    from ._config import POLAR_VERSION
    from ._exceptions import make_status_error

    return make_status_error(response, polar_version=POLAR_VERSION)


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "no answer yet"
    return f"{type(error).__name__}: {error}"


def _positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _config(f"{name} must be a positive integer, got {value!r}")


def _positive_number(name: str, value: object) -> None:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise _config(f"{name} must be a positive number of seconds, got {value!r}")


def _config(message: str) -> PolarError:
    from ._exceptions import ConfigurationError

    return ConfigurationError(message)


# the `events` resources' ingester() -------------------------------------------------------
class AsyncIngestMixin:
    """Adds `ingester()` to `AsyncPolar.events` (a base of the generated class)."""

    _core: HTTPCore

    def ingester(
        self,
        *,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        max_pending: int = 100_000,
        concurrency: int = 4,
        max_attempts: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 30.0,
        close_timeout: float = 10.0,
        on_failure: Callable[[IngestFailure], object] | None = None,
    ) -> AsyncIngester:
        """A background batcher for usage events (see `AsyncIngester`); one per process.

        Args:
            batch_size: events per request, at most.
            flush_interval: seconds a partial batch waits for more events.
            max_pending: events held at most (queued, in flight, waiting for a retry);
                `track()` raises `IngestQueueFullError` beyond it, `atrack()` waits.
            concurrency: batches in flight at once.
            max_attempts: attempts per batch before it is reported (and kept, and retried
                after `max_backoff` seconds).
            backoff: first retry delay in seconds, doubled each attempt (with jitter) up to
                `max_backoff`.
            timeout: seconds per network step of one attempt (the attempt: twice that).
            close_timeout: seconds `aclose()` spends flushing.
            on_failure: called with an `IngestFailure` when events are refused, keep failing,
                cannot be sent, or are left at close (on the event loop: keep it quick).
        """
        return AsyncIngester(
            self._core,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_pending=max_pending,
            concurrency=concurrency,
            max_attempts=max_attempts,
            backoff=backoff,
            max_backoff=max_backoff,
            timeout=timeout,
            close_timeout=close_timeout,
            on_failure=on_failure,
        )


class IngestMixin:
    """Adds `ingester()` to `Polar.events` (a base of the generated class)."""

    _core: BlockingCaller

    def ingester(
        self,
        *,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        max_pending: int = 100_000,
        when_full: Literal["raise", "block"] = "raise",
        concurrency: int = 4,
        max_attempts: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 30.0,
        close_timeout: float = 10.0,
        on_failure: Callable[[IngestFailure], object] | None = None,
    ) -> Ingester:
        """A background batcher for usage events, safe across threads (see `Ingester`).

        The options are `AsyncPolar.events.ingester()`'s, plus `when_full`: "raise" (the
        default) makes `track()` raise `IngestQueueFullError` when `max_pending` events are
        held, "block" makes it wait for room. `on_failure` runs on the client's event-loop
        thread.
        """
        caller = self._core
        ingester = AsyncIngester(
            caller.http(),
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_pending=max_pending,
            concurrency=concurrency,
            max_attempts=max_attempts,
            backoff=backoff,
            max_backoff=max_backoff,
            timeout=timeout,
            close_timeout=close_timeout,
            on_failure=on_failure,
        )
        return Ingester(ingester, caller.portal, when_full)


# the end of the process -------------------------------------------------------------------
_LIVE: weakref.WeakSet[AsyncIngester] = weakref.WeakSet()


def _flush_at_exit() -> None:
    """Deliver what un-closed async ingesters still hold, on a loop of our own; else report.

    (Blocking clients' ingesters are closed before this, by their client's own exit hook.)
    """
    left = [
        ingester
        for ingester in list(_LIVE)
        if not ingester.closed and not ingester._blocking and ingester.stats.pending  # pyright: ignore[reportPrivateUsage]
    ]
    if not left:
        return
    import anyio

    async def close_all() -> None:
        for ingester in left:
            ingester._running = False  # pyright: ignore[reportPrivateUsage] - its loop is gone
            ingester._progress = None  # pyright: ignore[reportPrivateUsage]
            await ingester._close()  # pyright: ignore[reportPrivateUsage]

    with contextlib.suppress(Exception):
        anyio.run(close_all)


atexit.register(_flush_at_exit)
