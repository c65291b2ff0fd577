"""The only module that talks to httpx: build a request, send it, retry, map failures, decode.

Resource methods call `HTTPCore.request()` with a method, a path, an optional attrs body and
the model the success answer decodes to. Everything that can go wrong on the way comes back
as a `PolarError` subclass with the original exception chained.

Event loops: connections belong to the event loop that opened them, so a client the SDK owns is
kept per running loop. When a loop ends (the end of `asyncio.run()`, a test's loop, `trio.run`),
the loop finalises a small async generator the SDK parked on it, and that closes the loop's
connections while the loop can still run them. One `AsyncPolar` therefore works across any
number of loops, one after another or side by side in threads.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import re
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlencode

import httpx

from . import _json
from ._config import POLAR_VERSION, USER_AGENT
from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    InvalidRequestError,
    ResponseDecodeError,
    make_status_error,
    parse_retry_after,
)
from ._operation import Operation
from ._results import AsyncPager, RawResponse
from ._retry import NO_RETRY, RetryEvent, RetryPolicy
from ._types import NOT_GIVEN, NotGivenOr, TimeoutTypes

if TYPE_CHECKING:
    import asyncio

    import anyio

    from ._converter import Hooks
    from ._ingest import AsyncIngester
    from ._ratelimit import RateLimit, RateLimiter
    from ._transport import DirectClient
    from .models import ValidationError

__all__ = ["HTTPCore", "as_timeout", "check_deadline"]

_CSV_ACCEPT = "text/csv, application/json"
# Request targets that httpx.URL() would leave exactly as they are: unreserved characters,
# sub-delimiters, ":@/" (and "?" in the query), valid percent-escapes. Dot segments, which
# httpx removes, are ruled out separately.
_PLAIN_TARGET = re.compile(
    r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*"
    r"(?:\?(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?"
)
_MAX_PLAIN = 32 * 1024  # longer targets go through httpx.URL, which caps whole URLs at 64 kB
_Exchange = Callable[
    [
        "tuple[bytes, bytes, int]",
        bytes,
        "bytes | None",
        bool,
        "dict[str, float | None]",
        "float | None",
    ],
    Awaitable["tuple[int, bytes, list[tuple[bytes, bytes]], bytes]"],
]
_Base = tuple[tuple[bytes, bytes, int], str, bytes]  # origin, path prefix, Host
_CONTENT_TYPES: dict[str | None, str | None] = {
    None: None,
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
}


def _form(data: Mapping[str, Any]) -> bytes:
    """A form body from a dumped model: lists repeat their key, nulls are left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        values: list[Any] = value if isinstance(value, list) else [value]  # pyright: ignore[reportUnknownVariableType]
        for item in values:
            if item is None:
                continue
            if isinstance(item, bool):
                pairs.append((key, "true" if item else "false"))
            else:
                pairs.append((key, str(item)))
    return urlencode(pairs).encode("ascii")


_T = TypeVar("_T")

_DEADLINE = "polar_sdk.deadline"  # request extension; _httptools_transport.DEADLINE
# Methods the exchange lane sends (as written: httpx would upper-case others; HEAD answers
# have no body to read).
_LANE_METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE"))
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))  # httpx sends Content-Length: 0 without a body

logger = logging.getLogger("polar_sdk")
_httpx_logger = logging.getLogger("httpx")


def as_timeout(value: TimeoutTypes) -> httpx.Timeout:
    """`value` as an `httpx.Timeout`; `InvalidRequestError` for negative or NaN seconds."""
    timeout = value if isinstance(value, httpx.Timeout) else httpx.Timeout(value)
    for seconds in (timeout.connect, timeout.read, timeout.write, timeout.pool):
        if seconds is not None and not seconds >= 0:  # also catches NaN
            raise InvalidRequestError(
                f"timeouts must be None or a number of seconds >= 0, got {value!r}"
            )
    return timeout


def check_deadline(value: object) -> float | None:
    """`value` as a deadline in seconds (`None`: none); `InvalidRequestError` when unusable."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError(
            f"deadline must be a number of seconds or None, got {type(value).__name__}"
        )
    if not (0 < value < math.inf):  # also catches NaN
        raise InvalidRequestError(f"deadline must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def _cap_timeout(timeout: httpx.Timeout, remaining: float) -> httpx.Timeout:
    def cap(value: float | None) -> float:
        return remaining if value is None else min(value, remaining)

    return httpx.Timeout(
        connect=cap(timeout.connect),
        read=cap(timeout.read),
        write=cap(timeout.write),
        pool=cap(timeout.pool),
    )


def _current_loop() -> object:
    """The running event loop (asyncio) or run (trio), used as the key of its connections."""
    import asyncio  # imported by the running loop already; not at SDK import

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        import trio  # only reached under trio, so it is importable

        return trio.lowlevel.current_trio_token()


class _LoopState:
    """What one event loop uses: its httpx client, its in-flight limiter, and a guard.

    The guard is an async generator parked on the loop; the loop finalises it when it shuts
    down, which marks the state dead and closes the client if the SDK owns it.
    """

    __slots__ = (
        "client",
        "closed",
        "direct",
        "guard",
        "headers",
        "heads",
        "lane",
        "limiter",
        "loop",
        "owned",
        "timeouts",
        "wire",
    )

    def __init__(
        self,
        loop: object,
        client: httpx.AsyncClient,
        owned: bool,
        limiter: anyio.CapacityLimiter | _Slots | None,
    ) -> None:
        self.loop = loop
        self.client = client
        self.owned = owned
        self.limiter = limiter
        self.closed = False
        self.guard: AsyncGenerator[None, None] | None = None
        from ._transport import DirectClient

        # An owned DirectClient: requests may skip httpx's client layer (see _send_direct).
        self.direct = client if owned and isinstance(client, DirectClient) else None
        # ours merged over the client's, keyed by our header items
        self.headers: dict[tuple[tuple[str, str], ...], httpx.Headers] = {}
        # The transport's whole-exchange lane (HttptoolsTransport.exchange), if it has one,
        # with the header lines it is given (checked and joined) and the client's timeouts.
        self.lane: _Exchange | None = None
        self.wire: Any = None  # the lane's module: its request-line and header-line checks
        if self.direct is not None and self.direct.deadlines:
            self.lane = getattr(self.direct.transport, "exchange", None)
            if self.lane is not None:
                from . import _httptools_transport

                self.wire = _httptools_transport
        self.heads: dict[tuple[tuple[str, str], ...], tuple[bytes, bool]] = {}
        self.timeouts: dict[str, float | None] = client.timeout.as_dict()

    def dead(self) -> bool:
        if self.closed:
            return True
        is_closed = getattr(self.loop, "is_closed", None)
        return bool(is_closed is not None and is_closed())

    async def aclose(self) -> None:
        self.closed = True
        if self.owned:
            await self.client.aclose()


class _Slots:
    """`max_in_flight` on one asyncio loop: a count of free slots and a queue of waiters.

    What `anyio.CapacityLimiter` under `anyio.fail_after` does for the SDK, without borrower
    bookkeeping or a cancel scope per wait (a timer settles a waiter instead): with 200 tasks
    queueing for 20 slots those cost about a fifth of the throughput. Waiters are served in
    arrival order; a slot handed to a waiter that is cancelled at that moment passes on to the
    next. Trio keeps anyio's limiter.
    """

    __slots__ = ("free", "loop", "total_tokens", "waiters")

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        self.free = limit
        self.total_tokens = limit
        self.loop = loop
        self.waiters: deque[asyncio.Future[bool]] = deque()

    def acquire_nowait(self) -> bool:
        """Take a free slot if nobody waits for one."""
        waiters = self.waiters
        while waiters and waiters[0].done():  # timed out or cancelled waiters
            waiters.popleft()
        if self.free > 0 and not waiters:
            self.free -= 1
            return True
        return False

    async def acquire(self, wait: float) -> bool:
        """Wait in turn for a slot; False when `wait` seconds pass first (`math.inf`: none)."""
        waiter: asyncio.Future[bool] = self.loop.create_future()
        self.waiters.append(waiter)
        timer = None if wait == math.inf else self.loop.call_later(max(wait, 0.0), _no_slot, waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self.release()  # handed a slot as the wait was cancelled: pass it on
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def release(self) -> None:
        """Give a slot back: to the first waiter still waiting, else to the free count."""
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self.free += 1


def _no_slot(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


async def _close_at_loop_end(state: _LoopState) -> AsyncGenerator[None, None]:
    # Parked on its loop; the loop calls aclose() on it when it shuts down.
    try:
        yield
    finally:
        await state.aclose()


class _Shared:
    """What every view of one client shares: loop states, the client factory, closing."""

    __slots__ = (
        "bases",
        "closed",
        "current",
        "hooks",
        "ingesters",
        "limiter",
        "lock",
        "make_client",
        "max_in_flight",
        "states",
        "urls",
        "user_client",
    )

    def __init__(
        self,
        hooks: Hooks | None,
        http_client: httpx.AsyncClient | None,
        make_client: Callable[[], httpx.AsyncClient],
        max_in_flight: int | None,
    ) -> None:
        self.hooks = hooks
        self.user_client = http_client
        self.make_client = make_client
        self.max_in_flight = max_in_flight
        self.closed = False
        self.states: list[_LoopState] = []
        self.current: _LoopState | None = None
        self.lock = threading.Lock()
        self.urls: dict[str, httpx.URL] = {}  # parsed request URLs, for DirectClient requests
        self.bases: dict[str, _Base | None] = {}  # base URLs taken apart for the exchange lane
        self.limiter: RateLimiter | None = None  # the client's rate limit, shared by views
        self.ingesters: list[AsyncIngester] = []  # closed (flushed) before the connections


class HTTPCore:
    """Sends Polar requests with retries and turns answers into models or errors.

    One `HTTPCore` is one view of a client: its token, timeout and retry policy. Views made
    by `derive()` share the first one's connections and event-loop states (`_Shared`), so a
    client per credential costs a few small objects and no pool.

    Args:
        token: the bearer token, or `None` for a client that only calls public operations;
            kept only inside prepared header dicts, never logged.
        base_url: scheme and host, without a trailing slash.
        hooks: the converter's hooks for bodies and answers (`None`: the SDK's shared ones,
            loaded on first use).
        timeout: the default timeout, or `NOT_GIVEN` to use the client's own.
        http_client: a caller-owned client (left open on close), or `None` to own them.
        make_client: builds an owned client (one per event loop).
        retry: the default retry policy (`None` disables retries).
        max_in_flight: at most this many requests at once per event loop (`None`: no limit).
        deadline: seconds a whole call may take, attempts, waits and body reads included
            (`None`: no limit).
    """

    __slots__ = (
        "_base_url",
        "_deadline",
        "_header_sets",
        "_owner",
        "_raw",
        "_retry",
        "_shared",
        "_timeout",
        "_token",
    )

    def __init__(
        self,
        *,
        token: str | None,
        base_url: str,
        hooks: Hooks | None,
        timeout: NotGivenOr[TimeoutTypes],
        http_client: httpx.AsyncClient | None,
        make_client: Callable[[], httpx.AsyncClient],
        retry: RetryPolicy | None,
        max_in_flight: int | None = None,
        deadline: float | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self._shared = _Shared(hooks, http_client, make_client, max_in_flight)
        if rate_limit is not None:
            from ._ratelimit import RateLimiter

            self._shared.limiter = RateLimiter(rate_limit)
        self._deadline = check_deadline(deadline)
        self._base_url = base_url
        self._owner = True
        self._raw = False
        self._set_token(token)
        # Owned clients keep their timeout inside; a caller's client gets ours per request.
        self._timeout = (
            as_timeout(timeout) if http_client is not None and timeout is not NOT_GIVEN else None
        )
        self._retry = retry or NO_RETRY

    def _set_token(self, token: str | None) -> None:
        self._token = token
        # (operation needs a token, body kind or "csv") -> the headers to send; made on
        # first use (a view made per request may send one kind only), then fixed.
        self._header_sets: dict[tuple[bool, str | None], dict[str, str]] = {}

    def _headers(self, key: tuple[bool, str | None]) -> dict[str, str]:
        authorized, kind = key
        headers = {
            "Polar-Version": POLAR_VERSION,
            "User-Agent": USER_AGENT,
            "Accept": _CSV_ACCEPT if kind == "csv" else "application/json",
        }
        if authorized and self._token is not None:
            headers = {"Authorization": f"Bearer {self._token}", **headers}
        content_type = _CONTENT_TYPES.get(kind)
        if content_type is not None:
            headers["Content-Type"] = content_type
        self._header_sets[key] = headers
        return headers

    def derive(
        self,
        *,
        token: NotGivenOr[str | None] = NOT_GIVEN,
        timeout: NotGivenOr[TimeoutTypes] = NOT_GIVEN,
        retry: NotGivenOr[RetryPolicy | None] = NOT_GIVEN,
        raw: bool | None = None,
        deadline: NotGivenOr[float | None] = NOT_GIVEN,
    ) -> HTTPCore:
        """A view with other settings on the same connections (closing it closes nothing)."""
        view = object.__new__(HTTPCore)
        view._shared = self._shared
        view._base_url = self._base_url
        view._owner = False
        view._raw = self._raw if raw is None else raw
        if token is NOT_GIVEN:
            view._token = self._token
            view._header_sets = self._header_sets
        else:
            view._set_token(token)
        view._timeout = self._timeout if timeout is NOT_GIVEN else as_timeout(timeout)
        view._retry = self._retry if retry is NOT_GIVEN else (retry or NO_RETRY)
        view._deadline = self._deadline if deadline is NOT_GIVEN else check_deadline(deadline)
        return view

    def __repr__(self) -> str:
        return f"<HTTPCore base_url={self._base_url!r}>"

    @property
    def base_url(self) -> str:
        """Scheme and host requests go to."""
        return self._base_url

    @property
    def closed(self) -> bool:
        """Whether `aclose()` was called on the client that owns the connections."""
        return self._shared.closed

    @property
    def retry(self) -> RetryPolicy:
        """The default retry policy."""
        return self._retry

    @property
    def has_token(self) -> bool:
        """Whether calls that need a token can be made."""
        return self._token is not None

    @property
    def raw(self) -> bool:
        """Whether calls give `RawResponse`s instead of parsed results."""
        return self._raw

    # state per event loop ----------------------------------------------------------------
    async def _state(self) -> _LoopState:
        shared = self._shared
        loop = _current_loop()
        current = shared.current
        if current is not None and current.loop is loop and not current.closed:
            return current
        with shared.lock:  # loops in several threads may bind at once
            if shared.closed:
                raise ClientClosedError("this Polar client is closed; create a new one")
            shared.states = [s for s in shared.states if not s.dead()]
            for state in shared.states:
                if state.loop is loop:
                    shared.current = state
                    return state
            import anyio  # imported with the first request, not with the SDK

            limit = shared.max_in_flight
            limiter: anyio.CapacityLimiter | _Slots | None = None
            if limit is not None:
                import asyncio  # imported by the running loop already

                if isinstance(loop, asyncio.AbstractEventLoop):
                    limiter = _Slots(limit, loop)
                else:  # trio
                    limiter = anyio.CapacityLimiter(limit)
            if shared.user_client is None:
                state = _LoopState(loop, shared.make_client(), True, limiter)
            else:
                state = _LoopState(loop, shared.user_client, False, limiter)
            shared.states.append(state)
            shared.current = state
        guard = _close_at_loop_end(state)
        await guard.asend(None)  # runs to its `yield`: the loop now tracks it
        state.guard = guard
        return state

    async def aclose(self) -> None:
        """Close owned connections (of the running loop; ended loops closed theirs).

        Only the client that made the connections closes them: on a view from `derive()`
        this does nothing.
        """
        if not self._owner:
            return
        shared = self._shared
        for ingester in list(shared.ingesters):  # their events go out before the pool closes
            await ingester._close()  # pyright: ignore[reportPrivateUsage] - reports, never raises
        with shared.lock:
            if shared.closed:
                return
            shared.closed = True
            try:
                loop: object | None = _current_loop()
            except Exception:  # not inside an event loop
                loop = None
            mine = [s for s in shared.states if s.loop is loop and not s.closed]
            shared.states = [s for s in shared.states if s.loop is not loop and not s.dead()]
            shared.current = None
        for state in mine:
            if state.guard is not None:
                await state.guard.aclose()  # its finally closes the client
            else:
                await state.aclose()

    def _closed_error(self) -> ClientClosedError:
        return ClientClosedError("this Polar client was closed while the call was running")

    def register_ingester(self, ingester: AsyncIngester) -> None:
        """Close `ingester` (flushing it) when the client closes."""
        ingesters = self._shared.ingesters
        ingesters[:] = [i for i in ingesters if not i.closed]
        ingesters.append(ingester)

    # calls ----------------------------------------------------------------------------------
    async def call(
        self,
        op: Operation[_T],
        path: Sequence[object],
        query: Sequence[object],
        request: object,
        fields: Mapping[str, object] | None,
        timeout: NotGivenOr[TimeoutTypes],
        retry: NotGivenOr[RetryPolicy | None],
        deadline: NotGivenOr[float | None] = NOT_GIVEN,
    ) -> _T:
        """Send one operation (with retries) and give its result (see `Operation`).

        `path` holds the path parameters in order, `query` the query parameters in the
        operation's order (`NOT_GIVEN` or `None`: not sent), `request`/`fields` the body as
        a model or as keyword fields.
        """
        response = await self.send(op, path, query, request, fields, timeout, retry, deadline)
        result: _T = self.result(op, response)
        return result

    def pager(
        self,
        op: Operation[Any],
        path: Sequence[object],
        query: Sequence[object],
        timeout: NotGivenOr[TimeoutTypes],
        retry: NotGivenOr[RetryPolicy | None],
        deadline: NotGivenOr[float | None] = NOT_GIVEN,
    ) -> AsyncPager[Any]:
        """A list call's pager (on a raw view: an awaitable of the first page, raw).

        The deadline bounds each page's request, not the whole iteration.
        """
        if self._raw:
            pager: AsyncPager[Any] = AsyncPager(
                self.derive(raw=False), op, path, query, timeout, retry, deadline
            )
            return cast("AsyncPager[Any]", pager.raw())
        return AsyncPager(self, op, path, query, timeout, retry, deadline)

    def raw_view(self) -> HTTPCore:
        """A view whose calls give `RawResponse`s (for `with_raw_response`)."""
        return self.derive(raw=True)

    async def send(
        self,
        op: Operation[Any],
        path: Sequence[object],
        query: Sequence[object],
        request: object,
        fields: Mapping[str, object] | None,
        timeout: NotGivenOr[TimeoutTypes],
        retry: NotGivenOr[RetryPolicy | None],
        deadline: NotGivenOr[float | None] = NOT_GIVEN,
    ) -> httpx.Response:
        """Send one operation (with retries) and give its final answer, whatever the status."""
        if self._shared.closed:
            raise ClientClosedError("this Polar client is closed; create a new one")
        auth = op.auth
        authorized = auth == "token" or (auth == "optional" and self._token is not None)
        if authorized and self._token is None:
            from ._config import ENV_TOKEN
            from ._exceptions import ConfigurationError

            raise ConfigurationError(
                f"{op.id} ({op.method} {op.path}) needs an access token: pass access_token=... "
                f"or set the {ENV_TOKEN} environment variable"
            )
        target = op.build_path(path)
        if query:
            text = op.build_query(query)
            if text:
                target = f"{target}?{text}"
        content: bytes | None = None
        kind: str | None = None
        if op.body is not None:
            body = op.build_body(request, fields)
            if body is not None:
                data = self._get_hooks().dump(body)
                if op.body == "json":
                    content = _json.dumps(data)
                    kind = "json"
                else:
                    content = _form(data)
                    kind = "form"
        key = (authorized, op.accept if kind is None else kind)
        headers = self._header_sets.get(key) or self._headers(key)
        # Logs and messages name the path, never the query string (filters can hold emails
        # or tokens), and only the template when a path parameter is a secret.
        label = op.path if op.secret_path else target.partition("?")[0]
        return await self._round_trip(
            op.method, target, content, headers, timeout, retry, label, deadline
        )

    async def send_json(
        self,
        op: Operation[Any],
        content: bytes,
        timeout: NotGivenOr[TimeoutTypes],
        retry: NotGivenOr[RetryPolicy | None],
        deadline: NotGivenOr[float | None] = NOT_GIVEN,
    ) -> httpx.Response:
        """Send a body-only operation whose JSON body is already encoded (the event ingester).

        Gives the final answer, whatever the status, like `send`.
        """
        if self._shared.closed:
            raise ClientClosedError("this Polar client is closed; create a new one")
        if self._token is None:
            from ._config import ENV_TOKEN
            from ._exceptions import ConfigurationError

            raise ConfigurationError(
                f"{op.id} ({op.method} {op.path}) needs an access token: pass access_token=... "
                f"or set the {ENV_TOKEN} environment variable"
            )
        key = (True, "json")
        headers = self._header_sets.get(key) or self._headers(key)
        return await self._round_trip(
            op.method, op.path, content, headers, timeout, retry, op.path, deadline
        )

    def result(self, op: Operation[Any], response: httpx.Response) -> Any:
        """The call's result for `response`, or its error (raised)."""
        status = response.status_code
        if op.secret_path:  # error messages name the template, not the secret
            response.request.extensions["polar_sdk.path"] = op.path
        if not 200 <= status < 300:
            raise make_status_error(
                response, polar_version=POLAR_VERSION, validation_detail=self._validation_detail
            )
        result = op.result_for(status)
        value: Any = None
        if result is not None:
            if result.kind == "json":
                if response.content or status in op.results:
                    value = self._decode(response, result.type)
            elif result.kind == "text":
                value = response.text
        if self._raw:
            return RawResponse(response, value)
        return value

    async def request(
        self,
        method: str,
        path: str,
        *,
        response_type: type[_T],
        expected_status: int,
        body: object = None,
        timeout: NotGivenOr[TimeoutTypes] = NOT_GIVEN,
        retry: NotGivenOr[RetryPolicy | None] = NOT_GIVEN,
    ) -> _T:
        """Send a request outside the generated operations (tests and diagnostics)."""
        content = None if body is None else _json.dumps(self._get_hooks().dump(body))
        headers = self._headers((self._token is not None, None if body is None else "json"))
        response = await self._round_trip(method, path, content, headers, timeout, retry, path)
        if response.status_code != expected_status:
            raise make_status_error(
                response, polar_version=POLAR_VERSION, validation_detail=self._validation_detail
            )
        return self._decode(response, response_type)

    async def _round_trip(
        self,
        method: str,
        path: str,
        content: bytes | None,
        headers: dict[str, str],
        timeout: NotGivenOr[TimeoutTypes],
        retry: NotGivenOr[RetryPolicy | None],
        label: str,
        deadline: NotGivenOr[float | None] = NOT_GIVEN,
    ) -> httpx.Response:
        """Send with retries; `label` names the request in logs and messages (no query).

        The call ends by its deadline (the call's, else the client's; a retry policy's own
        deadline can only shorten it), whatever each attempt's timeouts allow.
        """
        policy = self._retry if retry is NOT_GIVEN else (retry or NO_RETRY)
        if timeout is not NOT_GIVEN:
            request_timeout: httpx.Timeout | None = as_timeout(timeout)
        else:
            request_timeout = self._timeout
        limit = self._deadline if deadline is NOT_GIVEN else check_deadline(deadline)
        if policy.deadline is not None and (limit is None or policy.deadline < limit):
            limit = policy.deadline
        started = time.monotonic()
        ends = None if limit is None else started + limit
        state = await self._state()
        limiter = state.limiter
        if limiter is None:
            return await self._send(
                state, method, path, content, headers, request_timeout, policy, ends, limit, label
            )
        await self._acquire(limiter, state, request_timeout, ends, limit, method, label)
        try:
            return await self._send(
                state, method, path, content, headers, request_timeout, policy, ends, limit, label
            )
        finally:
            limiter.release()

    async def _acquire(
        self,
        limiter: anyio.CapacityLimiter | _Slots,
        state: _LoopState,
        timeout: httpx.Timeout | None,
        deadline: float | None,
        limit: float | None,
        method: str,
        path: str,
    ) -> None:
        """Wait for an in-flight slot, no longer than the pool timeout or the deadline."""
        if isinstance(limiter, _Slots):
            if limiter.acquire_nowait():  # a free slot and nobody queued: no timer, no yield
                return
            wait = self._slot_wait(state, timeout, deadline)
            if await limiter.acquire(wait):
                return
        else:
            import anyio

            try:
                limiter.acquire_nowait()
                return
            except anyio.WouldBlock:
                pass
            wait = self._slot_wait(state, timeout, deadline)
            if wait == math.inf:
                await limiter.acquire()
                return
            try:
                with anyio.fail_after(max(wait, 0.0)):
                    await limiter.acquire()
                return
            except TimeoutError:
                pass
        if deadline is not None and time.monotonic() >= deadline:
            raise self._deadline_error(method, path, limit, 0, None) from None
        raise APITimeoutError(
            f"no free slot for {method} {path} within the pool timeout ({wait:g} s): "
            f"{limiter.total_tokens:g} requests were already in flight (max_in_flight)"
        ) from None

    @staticmethod
    def _slot_wait(
        state: _LoopState, timeout: httpx.Timeout | None, deadline: float | None
    ) -> float:
        """How long a call may wait for a slot: the pool timeout, cut by the deadline."""
        pool = (timeout or state.client.timeout).pool
        wait = math.inf if pool is None else pool
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
        return wait

    async def _send(
        self,
        state: _LoopState,
        method: str,
        path: str,
        content: bytes | None,
        headers: dict[str, str],
        timeout: httpx.Timeout | None,
        policy: RetryPolicy,
        deadline: float | None,
        limit: float | None,
        label: str,
    ) -> httpx.Response:
        """Send until a final answer: the expected one, or one not worth retrying."""
        client = state.client
        url = self._base_url + path
        target = path
        path = label  # from here on `path` only names the request
        attempt = 0
        while True:
            if self._shared.closed or state.closed:
                raise self._closed_error()
            attempt += 1
            rate = self._shared.limiter
            if rate is not None:
                wait = rate.reserve()
                if wait > 0:
                    if deadline is not None and time.monotonic() + wait >= deadline:
                        raise self._deadline_error(method, path, limit, attempt - 1, None)
                    import anyio

                    await anyio.sleep(wait)
            started = time.monotonic()  # of this attempt, for the debug log
            direct = state.direct
            if direct is not None and (
                direct.cookies.jar or _httpx_logger.isEnabledFor(logging.INFO)
            ):
                direct = None  # httpx's client layer has something to add: go through it
            attempt_timeout: Any = timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT
            remaining = math.inf
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._deadline_error(method, path, limit, attempt - 1, None)
                if direct is None or not direct.deadlines:  # else the transport bounds waits
                    attempt_timeout = _cap_timeout(timeout or client.timeout, remaining)
            lane = (
                state.lane
                if direct is not None and method in _LANE_METHODS and target[:1] == "/"
                else None
            )
            request: httpx.Request | None = None
            if direct is None:
                request = client.build_request(
                    method, url, content=content, headers=headers, timeout=attempt_timeout
                )
            elif lane is None:
                request = self._build(state, direct, method, url, content, headers, attempt_timeout)
            try:
                if lane is not None:
                    assert direct is not None
                    response = await self._exchange(
                        state,
                        direct,
                        lane,
                        method,
                        target,
                        content,
                        headers,
                        attempt_timeout,
                        deadline,
                    )
                else:
                    assert request is not None
                    response = await _dispatch(client, direct, request, deadline, remaining)
            except TimeoutError as exc:
                if request is None:  # the exchange lane's request, made only when needed
                    assert direct is not None
                    request = self._lane_request(
                        state, direct, method, url, content, headers, attempt_timeout, deadline
                    )
                raise self._deadline_error(method, path, limit, attempt, request) from exc
            except RuntimeError as exc:
                if client.is_closed:  # closed under us by aclose() or the loop's end
                    raise self._closed_error() from exc
                raise
            except httpx.TransportError as exc:
                if self._shared.closed or state.closed:
                    raise self._closed_error() from exc
                if attempt < policy.max_attempts and policy.retries_exception(method, exc):
                    delay = policy.backoff(attempt)
                    if self._fits(deadline, delay):
                        await self._wait(policy, attempt, delay, type(exc).__name__, method, path)
                        continue
                raise _transport_error(
                    exc, method, path, self._base_url, request or exc.request, attempt
                ) from exc
            status = response.status_code
            if rate is not None:
                rate.observe(response, parse_retry_after(response.headers.get("retry-after")))
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s %s -> %d in %.1f ms (attempt %d)",
                    method,
                    path,
                    status,
                    (time.monotonic() - started) * 1000,
                    attempt,
                )
            if (
                status >= 400
                and attempt < policy.max_attempts
                and policy.retries_status(method, status)
            ):
                hinted = parse_retry_after(response.headers.get("retry-after"))
                delay = (
                    min(hinted, policy.max_retry_after)
                    if hinted is not None
                    else policy.backoff(attempt)
                )
                if self._fits(deadline, delay):
                    await self._wait(
                        policy, attempt, delay, f"status {status}", method, path, status
                    )
                    continue
            if attempt > 1:  # error messages say how many attempts the answer took
                response.extensions["polar_sdk.attempts"] = attempt
            return response

    def _build(
        self,
        state: _LoopState,
        client: DirectClient,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str],
        timeout: httpx.Timeout | Any,
    ) -> httpx.Request:
        """The request `client.build_request()` would build, without redoing fixed work.

        The URL is parsed once per path, and the head (Host, the client's headers, ours, and
        `Content-Length: 0` for a bodiless POST/PUT/PATCH) is put together once per header
        set; each call copies it and adds its Content-Length. The request is given its body as
        a ready stream, which skips httpx's content encoding and header auto-fill -- the
        work done here instead, in the same order (`test_direct_requests_match_build_request`).
        """
        urls = self._shared.urls
        parsed = urls.get(url)
        if parsed is None:
            if len(urls) >= 256:  # paths with ids in them: keep the cache small
                urls.clear()
            parsed = urls[url] = httpx.URL(url)
        zero = not content and method in _BODY_METHODS
        key = self._head_key(headers, zero)
        merged = self._merged(state, client, key, headers, parsed.netloc, zero)
        effective = timeout if isinstance(timeout, httpx.Timeout) else client.timeout
        request = httpx.Request(
            method,
            parsed,
            headers=merged,
            stream=httpx.ByteStream(content or b""),
            extensions={"timeout": effective.as_dict()},
        )
        if content:
            request.headers["Content-Length"] = str(len(content))
        request.read()
        return request

    def _head_key(self, headers: dict[str, str], zero: bool) -> tuple[tuple[str, str], ...]:
        """The key of the cached head for `headers` on this view.

        Keyed by the headers themselves, never by id(): views come and go (one per request in
        some apps), and a reused id must not hand a call another view's Authorization. The
        pseudo-headers stand for what else the head depends on.
        """
        return (*headers.items(), (":base", self._base_url), (":zero", "1" if zero else ""))

    @staticmethod
    def _merged(
        state: _LoopState,
        client: DirectClient,
        key: tuple[tuple[str, str], ...],
        headers: dict[str, str],
        netloc: bytes,
        zero: bool,
    ) -> httpx.Headers:
        """Host, `Content-Length: 0` if `zero`, the client's headers with ours over them.

        What httpx's `build_request` puts in a head before the body's Content-Length, made
        once per header set (cached by `key`, at most 64 sets).
        """
        merged = state.headers.get(key)
        if merged is None:
            if len(state.headers) >= 64:  # many credentials: keep the cache small
                state.headers.clear()
            ours = httpx.Headers(client.headers)
            ours.update(headers)
            auto = [(b"Host", netloc)]
            if zero:
                auto.append((b"Content-Length", b"0"))
            merged = state.headers[key] = httpx.Headers(auto + ours.raw)
        return merged

    async def _exchange(
        self,
        state: _LoopState,
        client: DirectClient,
        lane: _Exchange,
        method: str,
        path: str,
        content: bytes | None,
        headers: dict[str, str],
        timeout: httpx.Timeout | Any,
        deadline: float | None,
    ) -> httpx.Response:
        """Send through the transport's exchange lane: the head made here, no httpx.Request.

        Sends the bytes `_build()` and the transport would have sent for the same request
        (`test_exchange_lane_sends_what_build_request_sends`) and gives the answer read in
        full, its request made on first use. Falls back to `_send_direct` for a base URL the
        lane does not take (another scheme, a query in it).
        """
        shared = self._shared
        base_url = self._base_url
        base = shared.bases.get(base_url, _NO_BASE)
        if base is _NO_BASE:
            if len(shared.bases) >= 16:
                shared.bases.clear()
            base = shared.bases[base_url] = _lane_base(base_url)
        url = base_url + path
        if base is None:
            request = self._lane_request(
                state, client, method, url, content, headers, timeout, deadline
            )
            return await _send_direct(client, request)
        make = partial(
            self._lane_request, state, client, method, url, content, headers, timeout, deadline
        )
        if client.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        started = time.perf_counter()
        try:
            head, close = self._lane_head(state, client, base, method, path, content, headers)
            timeouts = timeout.as_dict() if isinstance(timeout, httpx.Timeout) else state.timeouts
            status, reason, raw, data = await lane(
                base[0], head, content or None, close, timeouts, deadline
            )
        except httpx.RequestError as exc:
            exc.request = make()
            raise
        response = _LaneResponse(
            status,
            stream=httpx.ByteStream(data),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )
        response._fields = raw  # pyright: ignore[reportPrivateUsage]
        response._headers = None  # pyright: ignore[reportPrivateUsage]
        response._make = make  # pyright: ignore[reportPrivateUsage]
        encoded = cookies = False
        for name, value in raw:  # one pass for what needs a look (usually nothing)
            if len(name) == 10 or len(name) == 16:
                lowered = name.lower()
                if lowered == b"set-cookie":
                    cookies = True
                elif lowered == b"content-encoding" and value.lower() != b"identity":
                    encoded = True
        if not encoded:
            # What Response.read() ends with, without its decoder and stream iteration.
            response._content = data  # pyright: ignore[reportPrivateUsage]
            response._num_bytes_downloaded = len(data)  # pyright: ignore[reportPrivateUsage]
            response.is_stream_consumed = True
            response.is_closed = True
        else:
            response.read()  # gzip and friends: httpx decodes
        response.elapsed = datetime.timedelta(seconds=time.perf_counter() - started)
        if cookies:
            client.cookies.extract_cookies(response)
        if 300 <= status < 400 and response.has_redirect_location:
            build_redirect = getattr(client, "_build_redirect_request", None)
            if build_redirect is not None:
                response.next_request = build_redirect(response.request, response)
        return response

    def _lane_head(
        self,
        state: _LoopState,
        client: DirectClient,
        base: _Base,
        method: str,
        path: str,
        content: bytes | None,
        headers: dict[str, str],
    ) -> tuple[bytes, bool]:
        """The request head the lane sends, and whether it asks for `Connection: close`.

        The bytes `_build()` and the transport's `_head()` make for the same request
        (`test_lane_heads_are_the_heads_httpx_requests_make`): Host, `Content-Length: 0` for a
        bodiless POST/PUT/PATCH, the client's headers with ours over them, the body's
        Content-Length; the header lines are checked and joined once per header set.
        """
        target = _lane_target(base[1], self._base_url, path)
        wire = state.wire
        wire.check_request_line(method, target)
        zero = not content and method in _BODY_METHODS
        key = self._head_key(headers, zero)
        lines = state.heads.get(key)
        if lines is None:
            if len(state.heads) >= 64:  # many credentials: keep the cache small
                state.heads.clear()
            merged = self._merged(state, client, key, headers, base[2], zero)
            lines = state.heads[key] = wire.header_lines(tuple(merged.raw))
        if content:
            head = b"%s %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n" % (
                method.encode("ascii"),
                target,
                lines[0],
                len(content),
            )
        else:
            head = b"%s %s HTTP/1.1\r\n%s\r\n" % (method.encode("ascii"), target, lines[0])
        return head, lines[1]

    def _lane_request(
        self,
        state: _LoopState,
        client: DirectClient,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str],
        timeout: httpx.Timeout | Any,
        deadline: float | None,
    ) -> httpx.Request:
        """The `httpx.Request` of an exchange-lane call, as the other send paths make it."""
        request = self._build(state, client, method, url, content, headers, timeout)
        if deadline is not None:
            request.extensions[_DEADLINE] = deadline
        return request

    @staticmethod
    def _fits(deadline: float | None, delay: float) -> bool:
        return deadline is None or time.monotonic() + delay < deadline

    @staticmethod
    async def _wait(
        policy: RetryPolicy,
        attempt: int,
        delay: float,
        reason: str,
        method: str,
        path: str,
        status: int | None = None,
    ) -> None:
        logger.info(
            "%s %s failed (%s, attempt %d); retrying in %.2f s",
            method,
            path,
            reason,
            attempt,
            delay,
        )
        if policy.on_retry is not None:
            policy.on_retry(
                RetryEvent(
                    attempt=attempt,
                    delay=delay,
                    reason=reason,
                    method=method,
                    path=path,
                    status_code=status,
                )
            )
        import anyio

        await anyio.sleep(delay)

    def _deadline_error(
        self,
        method: str,
        path: str,
        limit: float | None,
        attempts: int,
        request: httpx.Request | None,
    ) -> APITimeoutError:
        return APITimeoutError(
            f"deadline of {limit or 0:g} s ran out for {method} {path} on {self._base_url}"
            f" after {attempts} attempt{'s' if attempts != 1 else ''}",
            request=request,
        )

    def _decode(self, response: httpx.Response, response_type: type[_T]) -> _T:
        try:
            data = _json.loads(response.content)
        except ValueError as exc:
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise ResponseDecodeError(
                f"the {_answer(response)} is not valid JSON ({detail}; "
                f"{len(response.content)} bytes)",
                response=response,
            ) from exc
        try:
            result: _T = self._get_hooks().get(response_type)(data, None)
        except Exception as exc:
            from .models._convert import decode_error, type_name

            raise decode_error(
                exc,
                f"the {_answer(response)} does not match {type_name(response_type)}",
                response=response,
            ) from exc
        return result

    def _get_hooks(self) -> Hooks:
        hooks = self._shared.hooks
        if hooks is None:
            from ._converter import hooks as shared

            hooks = self._shared.hooks = shared()
        return hooks

    def _validation_detail(self, items: list[Any]) -> list[ValidationError]:
        return validation_detail(items, self._get_hooks())


def _answer(response: httpx.Response) -> str:
    """Names an answer in error messages: its status, method and path (no query)."""
    request = response.request
    return f"{response.status_code} answer to {request.method} {request.url.path}"


_NO_BASE: Any = object()  # a base URL not looked at yet


def _lane_base(base_url: str) -> _Base | None:
    """A base URL as the exchange lane needs it, or None when the lane does not take it.

    Gives the connection origin, the path prefix request paths are appended to (as httpx
    would write it) and the Host header value.
    """
    try:
        url = httpx.URL(base_url + "/")
    except httpx.InvalidURL:
        return None
    scheme = url.raw_scheme
    if scheme not in (b"http", b"https") or not url.raw_host or url.query or url.fragment:
        return None
    port = url.port or (443 if scheme == b"https" else 80)
    prefix = url.raw_path[:-1].decode("ascii")
    return (scheme, url.raw_host, port), prefix, url.netloc


def _lane_target(prefix: str, base_url: str, path: str) -> bytes:
    """The request target httpx would send for `base_url + path` (`prefix`: the base's path).

    For paths starting with "/" (others may change the URL's authority: the lane does not
    take them). Targets made only of characters httpx leaves alone, without dot segments and
    not too long, are taken as they are; anything else goes through `httpx.URL` (its quoting,
    its dot-segment removal, its length limit).
    """
    whole = prefix + path
    if (
        len(whole) < _MAX_PLAIN
        and _PLAIN_TARGET.fullmatch(whole)
        and "/." not in whole.partition("?")[0]
    ):
        return whole.encode("ascii")
    return httpx.URL(base_url + path).raw_path  # also refuses URLs too long for httpx


class _LaneResponse(httpx.Response):
    """An answer from the exchange lane: read in full, its request and headers made on first use.

    Most calls never look at their request (it is for errors, logs, cookies and raw
    responses) nor at the headers of a successful answer, so the `httpx.Request` is built
    only when something reads it, through `request` or httpx's own `_request`, and the
    `httpx.Headers` only when something reads `headers` (`_fields` holds the raw header
    fields until then).
    """

    _make: Callable[[], httpx.Request] | None = None
    _made: httpx.Request | None = None
    _fields: list[tuple[bytes, bytes]] | None = None
    _headers: httpx.Headers | None = None

    @property
    def headers(self) -> httpx.Headers:
        headers = self._headers
        if headers is None:  # (`_fields` stays: two first readers build the same headers)
            headers = self._headers = httpx.Headers(self._fields)
        return headers

    @headers.setter
    def headers(self, value: httpx.Headers) -> None:
        self._headers = value
        self._fields = None

    @property
    def _request(self) -> httpx.Request | None:
        request = self._made
        if request is None and self._make is not None:
            request = self._made = self._make()
            self._make = None
        return request

    @_request.setter
    def _request(self, value: httpx.Request | None) -> None:  # pyright: ignore[reportIncompatibleVariableOverride]
        self._made = value
        self._make = None

    def __getstate__(self) -> dict[str, Any]:
        request = self._request
        state = {
            name: value
            for name, value in super().__getstate__().items()
            if name not in ("_make", "_made", "_fields", "_headers")
        }
        state["_request"] = request
        state["headers"] = self.headers
        return state


def validation_detail(items: list[Any], hooks: Hooks | None = None) -> list[ValidationError]:
    """The items of a 422 answer's `detail` as `ValidationError` models (malformed ones skipped)."""
    from .models import ValidationError

    if hooks is None:
        from ._converter import hooks as shared

        hooks = shared()
    hook = hooks.get(ValidationError)
    result: list[ValidationError] = []
    for item in items:
        try:
            result.append(hook(item, None))
        except Exception:  # a malformed item must not hide the 422 itself
            continue
    return result


async def _dispatch(
    client: httpx.AsyncClient,
    direct: DirectClient | None,
    request: httpx.Request,
    deadline: float | None,
    remaining: float,
) -> httpx.Response:
    """Send one attempt through httpx's client, or straight to the SDK's transport (`direct`).

    With a deadline, the SDK's httptools transport bounds every wait by it (the `DEADLINE`
    extension); any other transport gets a timer around the attempt.
    """
    if deadline is None:
        if direct is None:
            return await client.send(request)
        return await _send_direct(direct, request)
    if direct is not None and direct.deadlines:
        # The transport raises TimeoutError when the deadline passes: no timer needed.
        request.extensions[_DEADLINE] = deadline
        return await _send_direct(direct, request)
    if direct is not None and sys.version_info >= (3, 11):
        # Backstop for answers that trickle in: no single read times out, but the whole call
        # must still end by the deadline. The SDK's own client runs on asyncio: its timeout
        # costs a third of a portable cancel scope.
        import asyncio

        async with asyncio.timeout(remaining):
            return await _send_direct(direct, request)
    import anyio

    with anyio.fail_after(remaining):
        if direct is None:
            return await client.send(request)
        return await _send_direct(direct, request)


async def _send_direct(client: DirectClient, request: httpx.Request) -> httpx.Response:
    """Send through `client`'s transport as `client.send()` would, minus layers with no effect.

    Only used when the client has no cookies and httpx's request logging is off (the caller
    checks); the client has no auth or event hooks and does not follow redirects. What send()
    gives a response is given here too: its request, its body read, `elapsed`, cookies it sets
    stored on the client, `next_request` for a redirect, the request on a transport error.
    """
    if client.is_closed:
        raise RuntimeError("Cannot send a request, as the client has been closed.")
    started = time.perf_counter()
    try:
        response = await client.transport.handle_async_request(request)
    except httpx.RequestError as exc:
        exc.request = request
        raise
    response.request = request
    try:
        if getattr(response.stream, "ready", False):
            response.read()  # the SDK's transport has the whole body already: nothing to await
        else:
            await response.aread()
    except BaseException:
        await response.aclose()
        raise
    response.elapsed = datetime.timedelta(seconds=time.perf_counter() - started)
    if "set-cookie" in response.headers:
        client.cookies.extract_cookies(response)
    if response.has_redirect_location:
        build_redirect = getattr(client, "_build_redirect_request", None)
        if build_redirect is not None:
            response.next_request = build_redirect(request, response)
    return response


def _transport_error(
    exc: httpx.TransportError,
    method: str,
    path: str,
    base_url: str,
    request: httpx.Request,
    attempts: int,
) -> APIConnectionError:
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if isinstance(exc, httpx.TimeoutException):
        error: APIConnectionError = APITimeoutError(
            f"{type(exc).__name__}: no complete answer in time for {method} {path}"
            f" on {base_url}{tries}",
            request=request,
        )
    else:
        reason = str(exc) or type(exc).__name__
        error = APIConnectionError(
            f"{type(exc).__name__} for {method} {path} on {base_url}{tries}: {reason}",
            request=request,
        )
    return error
