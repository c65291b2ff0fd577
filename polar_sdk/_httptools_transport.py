"""The SDK's own HTTP/1.1 transport: a keep-alive pool on asyncio protocols, parsed by httptools.

`AsyncioTransport` (polar_sdk/_transport.py) runs httpcore's pool and h11 over asyncio
protocols. Measured against the floor of a round trip in CPython (the floor benchmark), h11's
pure-Python state machine and httpcore's pool, locks and per-request objects were most of a
call's client-side work. `HttptoolsTransport` keeps what that stack does for the SDK -- HTTP/1.1
keep-alive, httpx's pool limits and timeouts, the same httpx exceptions -- with less in between:

- responses are parsed by httptools (llhttp, the parser uvicorn and Node.js use): framing by
  Content-Length, chunked transfer coding and read-until-close, 1xx interim answers, HEAD, 204
  and 304 without a body, and `Connection: close` are llhttp's work or follow from its
  results. Nothing here parses HTTP by hand; response heads are capped at 64 kB;
- each connection is an `asyncio.Protocol` that feeds the parser from `data_received` and wakes
  at most one waiting request; a connection carries one request at a time and is reused only
  when its answer ended cleanly, was read to the end and nothing else arrived;
- the pool is a dict of idle connections per origin plus a count of open ones and a queue of
  waiters that are handed a connection (or a free slot) directly, so nothing is polled.

It is only used for clients the SDK builds for itself on asyncio or uvloop, without proxies
(`polar_sdk._client`), and only where httptools is importable; elsewhere `AsyncioTransport`
remains. Through `handle_async_request` requests and responses are httpx's objects, so httpx's
client works on it unchanged. The SDK's own send path uses `exchange` instead: it hands over a
request head it made with `check_request_line` and `header_lines` (byte for byte the head
`handle_async_request` writes for the same request) and gets the answer back read in full,
without an `httpx.Request` or a streamed `httpx.Response` in between.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable, Iterator
from typing import Any, cast

import httptools
import httpx

__all__ = ["HttptoolsTransport", "check_request_line", "header_lines"]

MAX_HEAD = 64 * 1024
"""Largest response head (status line and headers) accepted, in bytes."""

DEADLINE = "polar_sdk.deadline"
"""Request extension: a `time.monotonic()` instant by which the whole exchange must be over.

Every wait of the request (for a pool slot, the connection, the socket buffer, the answer and
each piece of its body) ends by then, and the builtin `TimeoutError` is raised when it passes,
so the SDK needs no timer of its own around the call.
"""

_HIGH_WATER = 256 * 1024
"""Stop reading from the socket while this many body bytes wait to be consumed."""

_SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)
_Origin = tuple[bytes, bytes, int]

# RFC 9110 tokens for methods and header names; field values may not hold CR, LF or NUL.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_LINES = re.compile(rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+: [^\x00\r\n]*\r\n)*")
_BAD_TARGET = re.compile(rb"[\x00-\x20\x7f]")
_METHODS_SEEN: set[str] = set()  # methods already checked (a handful in practice)
# Header lines already checked and joined, by the headers: the SDK sends the same few sets
# (they differ in Content-Length at most), so most requests skip the work.
_LINES_SEEN: dict[tuple[tuple[bytes, bytes], ...], tuple[bytes, bool]] = {}

_IDLE, _ACTIVE, _CLOSED = 0, 1, 2


class _Unexpected(Exception):
    """Raised inside a parser callback to stop parsing bytes no request asked for."""


class _TooLarge(Exception):
    """Raised inside a parser callback when the response head passes `MAX_HEAD`."""


def _too_large() -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(f"the response head is larger than {MAX_HEAD} bytes")


def _expire(waiter: asyncio.Future[Any], error: type[Exception], message: str) -> None:
    if not waiter.done():
        waiter.set_exception(error(message))


def _bounded(
    timeout: float | None, error: type[Exception], deadline: float | None
) -> tuple[float | None, type[Exception]]:
    """The wait `timeout` allows, shortened to what is left before `deadline` if that is less."""
    if deadline is not None:
        remaining = deadline - time.monotonic()
        if timeout is None or remaining < timeout:
            return max(remaining, 0.0), TimeoutError
    return timeout, error


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: parser callbacks in, one response at a time out."""

    __slots__ = (
        "chunks",
        "complete",
        "drain_waiter",
        "eof",
        "error",
        "head_done",
        "head_request",
        "head_size",
        "header_bytes",
        "headers",
        "idle_since",
        "interim",
        "loop",
        "lost",
        "origin",
        "parser",
        "reading_paused",
        "reason",
        "registry",
        "reusable",
        "state",
        "status",
        "timer",
        "timer_at",
        "transport",
        "wait_error",
        "wait_until",
        "waiter",
        "writing_paused",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, origin: _Origin, registry: set[_Connection]
    ) -> None:
        self.loop = loop
        self.origin = origin
        self.registry = registry  # the pool's open connections; left on connection_lost
        self.transport: asyncio.Transport | None = None
        self.state = _IDLE
        self.idle_since = 0.0
        self.eof = False  # nothing more will arrive
        self.lost: BaseException | None = None  # why the connection broke, if it did
        self.waiter: asyncio.Future[None] | None = None
        # One timer per connection, moved only when a wait must end sooner than it fires.
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.wait_until = 0.0  # loop time the current wait ends (0: no limit)
        self.wait_error: type[Exception] = httpx.ReadTimeout
        self.drain_waiter: asyncio.Future[None] | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.parser = httptools.HttpResponseParser(self)
        self.reusable = True
        self.error: httpx.TransportError | None = None
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.head_size = 0  # bytes received before the head was complete
        self.header_bytes = 0  # size of the header lines parsed so far
        self.head_done = False
        self.complete = False
        self.interim = False
        self.head_request = False

    # asyncio callbacks -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.state != _ACTIVE or self.complete:
            # Bytes nobody asked for (on an idle connection, or after a complete answer):
            # the connection's framing can no longer be trusted.
            self.reusable = False
            if self.state == _IDLE and self.transport is not None:
                self.transport.abort()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols; not supported"))
            return
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _TooLarge):
                self._fail(_too_large())
            elif self.complete:  # garbage or a second answer after this one: never reuse
                self.reusable = False
            elif self.error is None:
                detail = str(exc.__context__ or exc) or type(exc).__name__
                self._fail(httpx.RemoteProtocolError(f"malformed HTTP response: {detail}"))
            return
        if not self.head_done:
            self.head_size += len(data)
            if self.head_size > MAX_HEAD:
                self._fail(_too_large())
        elif (
            not self.reading_paused
            and len(self.chunks) > 1
            and sum(map(len, self.chunks)) > _HIGH_WATER
            and self.transport is not None
        ):
            self.reading_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended(exc)
        self.state = _CLOSED
        self.registry.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # parser callbacks --------------------------------------------------------------------
    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value) + 4
        if self.header_bytes > MAX_HEAD:
            raise _TooLarge
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.complete:
            raise _Unexpected  # a second answer to one request
        status = self.parser.get_status_code()
        if status < 200:
            if status == 101:
                raise _Unexpected  # reported as malformed: the SDK never asks to upgrade
            self.interim = True  # 1xx: skipped, the real answer follows
            return
        self.status = status
        self.head_done = True
        if self.head_request:
            # The answer to HEAD never has a body, whatever its headers say; llhttp cannot be
            # told so, and this parser is dropped (begin() makes a new one for the next
            # request), so it never reaches on_message_complete: settle keep-alive here.
            self.complete = True
            if not self.parser.should_keep_alive():
                self.reusable = False
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.head_request:
            raise _Unexpected
        self.chunks.append(body)
        if len(self.chunks) == 1:
            self._wake()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            self.reason = b""
            self.headers = []
            return
        self.complete = True
        if not self.parser.should_keep_alive():  # also false for a body framed by the close
            self.reusable = False
        self._wake()

    # helpers -----------------------------------------------------------------------------
    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: httpx.TransportError) -> None:
        self.error = error
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()
        self._wake()

    def _ended(self, exc: BaseException | None) -> None:
        if exc is not None and self.lost is None:
            self.lost = exc
        self.eof = True
        self.reusable = False
        if self.head_done and not self.complete and exc is None and self._framed_by_close():
            self.complete = True  # a read-until-close body ends here
        self._wake()

    def _framed_by_close(self) -> bool:
        """Whether the answer's body runs until the server closes (no length, not chunked)."""
        return (
            self.status != 204
            and self.status != 304
            and not any(
                name.lower() in (b"content-length", b"transfer-encoding")
                for name, _ in self.headers
            )
        )

    def begin(self, head_request: bool) -> None:
        """Prepare for the next request (a fresh parser for each answer)."""
        self.state = _ACTIVE
        if self.status:
            self.parser = httptools.HttpResponseParser(self)
            self.status = 0
            self.reason = b""
            self.headers = []
            self.head_done = self.complete = False
            self.head_size = self.header_bytes = 0
            self.chunks.clear()
        self.head_request = head_request

    def usable(self, now: float, expiry: float | None) -> bool:
        """Whether this idle connection may carry another request."""
        return (
            self.reusable
            and not self.eof
            and self.transport is not None
            and not self.transport.is_closing()
            and (expiry is None or now - self.idle_since < expiry)
        )

    def close(self) -> None:
        """Drop the connection now (no await: closing cannot be interrupted)."""
        self.reusable = False
        self.state = _CLOSED
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        transport = self.transport
        if transport is not None:
            if self.origin[0] == b"https":
                transport.abort()  # no close_notify exchange, as httpx's streams do
            else:
                transport.close()

    async def wait(self, timeout: float | None, deadline: float | None) -> None:
        """Wait for the next parser event; ReadTimeout after `timeout` seconds of silence.

        Waits share the connection's timer: it is set again only when this wait must end
        before it fires, and when it fires for a wait that ends later it is set for that.
        """
        waiter = self.waiter = self.loop.create_future()
        timeout, self.wait_error = _bounded(timeout, httpx.ReadTimeout, deadline)
        if timeout is not None:
            until = self.wait_until = self.loop.time() + timeout
            if self.timer is None or self.timer_at > until:
                if self.timer is not None:
                    self.timer.cancel()
                self.timer = self.loop.call_at(until, self._on_timer)
                self.timer_at = until
        try:
            await waiter
        finally:
            self.waiter = None
            self.wait_until = 0.0

    def _on_timer(self) -> None:
        self.timer = None
        waiter = self.waiter
        if waiter is None or waiter.done() or not self.wait_until:
            return  # nothing waits now; the next wait sets the timer again
        if self.loop.time() + 0.001 >= self.wait_until:  # uvloop's clock moves in ms
            waiter.set_exception(self.wait_error("timed out waiting for the server"))
        else:
            self.timer = self.loop.call_at(self.wait_until, self._on_timer)
            self.timer_at = self.wait_until

    def broken(self, started: bool) -> httpx.TransportError:
        """The error for a connection that ended before its answer did."""
        if self.error is not None:
            return self.error
        if self.lost is not None:
            return httpx.ReadError(str(self.lost) or type(self.lost).__name__)
        if not started:
            return httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )

    async def write(self, data: bytes, timeout: float | None, deadline: float | None) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            raise httpx.WriteError(
                f"connection closed ({self.lost})" if self.lost else "connection closed"
            )
        try:
            transport.write(data)
        except (OSError, RuntimeError) as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__) from exc
        if self.writing_paused:
            waiter = self.drain_waiter = self.loop.create_future()
            timeout, error = _bounded(timeout, httpx.WriteTimeout, deadline)
            timer = (
                None
                if timeout is None
                else self.loop.call_later(timeout, _expire, waiter, error, "write timed out")
            )
            try:
                await waiter
            finally:
                self.drain_waiter = None
                if timer is not None:
                    timer.cancel()
            if self.lost is not None:
                raise httpx.WriteError(str(self.lost) or type(self.lost).__name__)


class _Body(httpx.AsyncByteStream, httpx.SyncByteStream):
    """A response body as it arrives; the connection goes back to the pool at its end.

    Once the whole body has arrived (`ready`, the usual case for API answers), it can also be
    read without awaiting (`httpx.Response.read()`), which spares httpx's async iteration.
    """

    __slots__ = ("_conn", "_deadline", "_done", "_pool", "_timeout")

    def __init__(
        self,
        conn: _Connection,
        pool: HttptoolsTransport,
        timeout: float | None,
        deadline: float | None,
    ) -> None:
        self._conn = conn
        self._pool = pool
        self._timeout = timeout
        self._deadline = deadline
        self._done = False

    @property
    def ready(self) -> bool:
        """Whether the whole body is here (a sync read will not have to wait)."""
        return self._conn.complete and not self._done

    def __iter__(self) -> Iterator[bytes]:
        if not self.ready:
            raise RuntimeError("the body has not arrived in full: read it with await")
        conn = self._conn
        data = b"".join(conn.chunks)
        conn.chunks.clear()
        if conn.reading_paused and conn.transport is not None:
            conn.reading_paused = False
            conn.transport.resume_reading()
        self._finish(True)
        if data:
            yield data

    def close(self) -> None:
        self._finish(self._conn.complete and not self._conn.chunks)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        try:
            while True:
                chunks = conn.chunks
                if chunks:
                    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                    chunks.clear()
                    if conn.reading_paused and conn.transport is not None:
                        conn.reading_paused = False
                        conn.transport.resume_reading()
                    return data
                if conn.complete:
                    self._finish(True)
                    raise StopAsyncIteration
                if self._done:
                    raise StopAsyncIteration
                if conn.error is not None or conn.eof:
                    raise conn.broken(started=True)
                await conn.wait(self._timeout, self._deadline)
        except StopAsyncIteration:
            raise
        except BaseException:
            self._finish(False)
            raise

    def _finish(self, clean: bool) -> None:
        if not self._done:
            self._done = True
            self._pool.release(self._conn, clean)

    async def aclose(self) -> None:
        self._finish(self._conn.complete and not self._conn.chunks)


class HttptoolsTransport(httpx.AsyncBaseTransport):
    """An httpx transport for asyncio loops: an HTTP/1.1 pool parsed by httptools.

    Behaves like `httpx.AsyncHTTPTransport()` without proxies for what the SDK sends: HTTP/1.1
    with keep-alive, `httpx.Limits` (max_connections, max_keepalive_connections,
    keepalive_expiry), the request's connect/read/write/pool timeouts, and the httpx exception
    httpx's own transport raises for each failure. Use it only on an asyncio (or uvloop) event
    loop, and from that loop only.

    Args:
        ssl_context: the TLS context for https; by default `httpx.create_ssl_context()`.
        tls: `False` skips building that default context (for a pool that only talks plain
            http; an https request then builds one on first use).
        limits: connection-pool limits.
        local_address: a local IP address to connect from.
        socket_options: `setsockopt` arguments applied to each new socket.

    A request may also carry a deadline (the `DEADLINE` extension), which bounds all of it.
    """

    enforces_deadlines = True
    """Whether the `DEADLINE` request extension is honoured (read by the SDK's send path)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limits: httpx.Limits = httpx.Limits(),  # noqa: B008 - immutable in practice
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
        tls: bool = True,
    ) -> None:
        if ssl_context is None and tls:
            ssl_context = httpx.create_ssl_context()
        self._ssl_context = ssl_context
        self._max = limits.max_connections
        self._max_idle = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._local_address = local_address
        self._socket_options = list(socket_options or ())
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._idle_count = 0
        self._total = 0  # open connections plus slots reserved for ones being opened
        self._waiters: deque[tuple[_Origin, asyncio.Future[_Connection | None]]] = deque()
        self._open: set[_Connection] = set()

    @property
    def connection_count(self) -> int:
        """Connections open or being opened (for tests and diagnostics)."""
        return self._total

    @property
    def idle_count(self) -> int:
        """Idle connections kept for reuse (for tests and diagnostics)."""
        return self._idle_count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme == b"http":
            port = url.port or 80
        elif scheme == b"https":
            port = url.port or 443
        else:
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme.decode('ascii')}://'."
                if scheme
                else "Request URL is missing an 'http://' or 'https://' protocol."
            )
        head, body, close = _head(request)
        extensions = request.extensions
        timeouts: dict[str, float | None] = extensions.get("timeout") or {}
        deadline: float | None = extensions.get(DEADLINE)
        conn = await self._start(
            (scheme, url.raw_host, port),
            request.method == "HEAD",
            head,
            body,
            close,
            timeouts,
            deadline,
            request,
        )
        return httpx.Response(
            conn.status,
            headers=conn.headers,
            stream=_Body(conn, self, timeouts.get("read"), deadline),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": conn.reason},
        )

    async def exchange(
        self,
        origin: _Origin,
        head: bytes,
        body: bytes | None,
        close: bool,
        timeouts: dict[str, float | None],
        deadline: float | None,
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes]:
        """One whole exchange for a ready request head: status, reason, headers, body.

        The SDK's send path for its own clients: no `httpx.Request` to take apart and the
        body read here in full, so no `httpx.Response` stream to drain. Timeouts, the
        deadline, pool limits and errors are those of `handle_async_request`; a transport
        error carries no request (the caller attaches one). Not for HEAD requests.
        """
        conn = await self._start(origin, False, head, body, close, timeouts, deadline, None)
        read_timeout = timeouts.get("read")
        try:
            parts: list[bytes] = []
            while True:
                chunks = conn.chunks
                if chunks:
                    parts.extend(chunks)
                    chunks.clear()
                    if conn.reading_paused and conn.transport is not None:
                        conn.reading_paused = False
                        conn.transport.resume_reading()
                if conn.complete:
                    break
                if conn.error is not None or conn.eof:
                    raise conn.broken(started=True)
                await conn.wait(read_timeout, deadline)
        except BaseException:
            self.release(conn, False)
            raise
        answer = (
            conn.status,
            conn.reason,
            conn.headers,
            parts[0] if len(parts) == 1 else b"".join(parts),
        )
        self.release(conn, True)
        return answer

    async def _start(
        self,
        origin: _Origin,
        head_request: bool,
        head: bytes,
        body: bytes | AsyncIterable[bytes] | None,
        close: bool,
        timeouts: dict[str, float | None],
        deadline: float | None,
        request: httpx.Request | None,
    ) -> _Connection:
        """Send a request on a pooled connection and wait for its answer's head."""
        conn = await self._acquire(origin, timeouts, deadline, request)
        read_timeout = timeouts.get("read")
        try:
            conn.begin(head_request)
            if close:
                conn.reusable = False
            write_timeout = timeouts.get("write")
            if body is None:
                await conn.write(head, write_timeout, deadline)
            elif isinstance(body, bytes):
                if len(body) < 65536:
                    await conn.write(head + body, write_timeout, deadline)
                else:
                    await conn.write(head, write_timeout, deadline)
                    await conn.write(body, write_timeout, deadline)
            else:
                assert request is not None  # streamed bodies come with their request
                await conn.write(head, write_timeout, deadline)
                await _write_stream(conn, body, request, write_timeout, deadline)
            while not conn.head_done:
                if conn.error is not None or conn.eof:
                    raise conn.broken(started=conn.head_size > 0)
                await conn.wait(read_timeout, deadline)
        except BaseException:
            self.release(conn, False)
            raise
        return conn

    # pool ----------------------------------------------------------------------------------
    async def _acquire(
        self,
        origin: _Origin,
        timeouts: dict[str, float | None],
        deadline: float | None,
        request: httpx.Request | None,
    ) -> _Connection:
        idle = self._idle.get(origin)
        spare = 0  # slots freed by dead idle connections found on the way
        if idle:
            now = asyncio.get_running_loop().time()
            while idle:
                conn = idle.pop()
                self._idle_count -= 1
                if conn.usable(now, self._expiry):
                    for _ in range(spare):
                        self._free_slot()
                    return conn
                conn.close()
                spare += 1
        if spare:
            for _ in range(spare - 1):
                self._free_slot()
        elif self._max is None or self._total < self._max:
            self._total += 1
        elif self._idle_count:
            # Full, but an idle connection to another origin can make room.
            for other in self._idle.values():
                if other:
                    other.pop(0).close()
                    self._idle_count -= 1
                    break
        else:
            waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
            entry = (origin, waiter)
            self._waiters.append(entry)
            pool_timeout, error = _bounded(timeouts.get("pool"), httpx.PoolTimeout, deadline)
            timer = (
                None
                if pool_timeout is None
                else asyncio.get_running_loop().call_later(
                    max(pool_timeout, 0.0),
                    _expire,
                    waiter,
                    error,
                    "no connection became free within the pool timeout",
                )
            )
            try:
                given = await waiter
            except BaseException:
                try:
                    self._waiters.remove(entry)
                except ValueError:  # already handed something: pass it on
                    if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                        handed = waiter.result()
                        if handed is None:
                            self._free_slot()
                        else:
                            self.release(handed, True)
                raise
            finally:
                if timer is not None:
                    timer.cancel()
            if given is not None:
                if given.usable(given.loop.time(), None):
                    return given
                given.close()  # the server closed it meanwhile: its slot is ours
        # A slot is ours: open a connection in it.
        try:
            return await self._connect(origin, timeouts.get("connect"), deadline, request)
        except BaseException:
            self._free_slot()
            raise

    def _free_slot(self) -> None:
        """A connection slot was given up: hand it to the first waiter, else count it free."""
        waiters = self._waiters
        while waiters:
            _, waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._total -= 1

    def release(self, conn: _Connection, clean: bool) -> None:
        """Take back a connection whose request ended (`clean`: its answer was read fully)."""
        if conn.state == _IDLE:  # pragma: no cover - released twice
            return
        if not (clean and conn.reusable and conn.complete and not conn.eof):
            conn.close()
            self._free_slot()
            return
        conn.state = _IDLE
        waiters = self._waiters
        while waiters:
            origin, waiter = waiters.popleft()
            if waiter.done():
                continue
            if origin == conn.origin:
                conn.state = _ACTIVE
                waiter.set_result(conn)
            else:  # make room for a request to another origin
                conn.close()
                waiter.set_result(None)
            return
        if self._max_idle is not None and self._idle_count >= self._max_idle:
            conn.close()
            self._total -= 1
            return
        conn.idle_since = conn.loop.time()
        idle = self._idle.get(conn.origin)
        if idle is None:
            idle = self._idle[conn.origin] = []
        idle.append(conn)
        self._idle_count += 1

    async def _connect(
        self,
        origin: _Origin,
        timeout: float | None,
        deadline: float | None,
        request: httpx.Request | None,
    ) -> _Connection:
        scheme, raw_host, port = origin
        loop = asyncio.get_running_loop()
        host = raw_host.decode("ascii")
        options: dict[str, Any] = {}
        if scheme == b"https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()
            sni = None if request is None else request.extensions.get("sni_hostname")
            options["ssl"] = self._ssl_context
            options["server_hostname"] = (
                sni.decode("ascii") if isinstance(sni, bytes) else (sni or host)
            )
        if self._local_address is not None:
            options["local_addr"] = (self._local_address, 0)
        timeout, error = _bounded(timeout, httpx.ConnectTimeout, deadline)
        transport, conn = await _within(
            loop.create_connection(
                lambda: _Connection(loop, origin, self._open), host, port, **options
            ),
            timeout,
            f"connecting to {host}:{port}",
            error,
        )
        if self._socket_options:
            sock: socket.socket | None = transport.get_extra_info("socket")
            if sock is not None:
                setsockopt: Any = sock.setsockopt  # typeshed cannot match the 4-argument form
                for option in self._socket_options:
                    setsockopt(*option)
        conn.state = _ACTIVE
        self._open.add(conn)
        return conn

    async def aclose(self) -> None:
        closing = list(self._open)
        for conn in closing:
            conn.close()
        self._open.clear()
        self._idle.clear()
        self._total -= self._idle_count
        self._idle_count = 0
        if closing:
            # The loop closes sockets in a callback it has just scheduled: let it run now, so
            # they are closed when this returns even if the loop is not run again soon.
            await asyncio.sleep(0)


def _head(request: httpx.Request) -> tuple[bytes, bytes | AsyncIterable[bytes] | None, bool]:
    """The request head as bytes, the body (bytes, a stream, or None) and `Connection: close`."""
    method = request.method
    target = request.url.raw_path
    check_request_line(method, target)
    lines, close = _seen_header_lines(tuple(request.headers.raw))
    body: bytes | AsyncIterable[bytes] | None
    try:
        body = request.content or None
    except httpx.RequestNotRead:
        body = cast(AsyncIterable[bytes], request.stream)
    return b"%s %s HTTP/1.1\r\n%s\r\n" % (method.encode("ascii"), target, lines), body, close


def check_request_line(method: str, target: bytes) -> None:
    """Refuse a method that is not a token, and a target with a space or control character."""
    if method not in _METHODS_SEEN:
        if not _TOKEN.fullmatch(method.encode("ascii", "replace")):
            raise httpx.LocalProtocolError(f"illegal request method {method!r}")
        if len(_METHODS_SEEN) < 64:
            _METHODS_SEEN.add(method)
    if _BAD_TARGET.search(target):
        raise httpx.LocalProtocolError("illegal character in the request target")


def header_lines(raw: tuple[tuple[bytes, bytes], ...]) -> tuple[bytes, bool]:
    """The header lines of a head, checked, and whether they ask for `Connection: close`.

    The lines are joined first and checked as a whole: every line a token, a colon and a
    value without CR, LF or NUL, and exactly one CRLF per header (so a value cannot smuggle
    in a line of its own). Not cached: callers keep what they reuse.
    """
    lines = b"".join([b"%s: %s\r\n" % pair for pair in raw])
    if not _HEADER_LINES.fullmatch(lines) or lines.count(b"\r\n") != len(raw):
        raise httpx.LocalProtocolError("illegal character in a header name or value")
    close = b"close" in lines.lower() and any(
        name.lower() == b"connection" and b"close" in value.lower() for name, value in raw
    )
    return lines, close


def _seen_header_lines(raw: tuple[tuple[bytes, bytes], ...]) -> tuple[bytes, bool]:
    """`header_lines`, remembered for the few header sets a client sends again and again."""
    checked = _LINES_SEEN.get(raw)
    if checked is None:
        if len(_LINES_SEEN) >= 256:  # bodies of many sizes: keep it small
            _LINES_SEEN.clear()
        checked = _LINES_SEEN[raw] = header_lines(raw)
    return checked


async def _write_stream(
    conn: _Connection,
    stream: AsyncIterable[bytes],
    request: httpx.Request,
    timeout: float | None,
    deadline: float | None,
) -> None:
    chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
    async for chunk in stream:
        if not chunk:
            continue
        if chunked:
            chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        await conn.write(chunk, timeout, deadline)
    if chunked:
        await conn.write(b"0\r\n\r\n", timeout, deadline)


def _close_made(task: asyncio.Future[tuple[asyncio.BaseTransport, Any]]) -> None:
    # A connection completed after its caller gave up: nobody will use it.
    if not task.cancelled() and task.exception() is None:
        task.result()[0].abort()  # type: ignore[attr-defined]


async def _within(
    work: Awaitable[tuple[asyncio.BaseTransport, Any]],
    timeout: float | None,
    what: str,
    error: type[Exception],
) -> tuple[asyncio.Transport, _Connection]:
    """Open a connection within `timeout`, mapping failures to httpx's connect errors.

    The attempt runs as a task of its own so that a timeout or a cancellation of the caller
    abandons it without racing its completion: a connection made anyway is closed, not leaked.
    """
    task = asyncio.ensure_future(work)
    try:
        try:
            done, _ = await asyncio.wait(
                (task,), timeout=None if timeout is None else max(timeout, 0.0)
            )
        except BaseException:
            task.cancel()
            task.add_done_callback(_close_made)
            raise
        if not done:
            task.cancel()
            task.add_done_callback(_close_made)
            raise error(f"{what} timed out")
        transport, conn = task.result()
    except (OSError, ssl.SSLError) as exc:  # SSLError is an OSError; named for clarity
        raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
    except asyncio.TimeoutError as exc:  # an asyncio-level handshake timeout on 3.10
        raise httpx.ConnectTimeout(f"{what} timed out") from exc
    return cast(asyncio.Transport, transport), cast(_Connection, conn)
