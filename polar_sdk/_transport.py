"""An httpx transport whose connections sit directly on asyncio's Protocol/Transport objects.

httpx's own `AsyncHTTPTransport` drives httpcore's connection pool through anyio streams. On
asyncio that layer costs more than the rest of a call's client-side work: every read and write
goes through anyio's stream wrappers, and before every request starts and after every request
ends the pool asks each idle connection whether its socket became readable (a sign the server
closed it), which the anyio backend answers by building a dictionary of socket attributes and
polling the socket. Here the pool is httpcore's `AsyncConnectionPool` (with one method
replaced, see `_Pool`), given a network backend written on `loop.create_connection()`: bytes
arrive through a protocol's callbacks into a buffer, so "readable" is a look at that buffer and
an end-of-file flag.

Where httptools is installed (CPython), the SDK's own clients use
`polar_sdk._httptools_transport.HttptoolsTransport` instead, which replaces httpcore's pool and
h11 as well; this transport remains the path where it is not (and behind the private
`POLAR_SDK_H11_TRANSPORT=1` switch).

`AsyncioTransport` is only valid on an asyncio event loop (uvloop included); under trio the SDK
keeps httpx's default transport. It never handles proxies: `polar_sdk._client` falls back to
httpx's transport when the environment names one. httpcore failures are raised as the same httpx
exceptions httpx's transport would raise.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Iterable
from types import TracebackType
from typing import Any, TypeVar, cast

import httpcore
import httpx

__all__ = ["AsyncioTransport", "DirectClient"]

_T = TypeVar("_T")

_HIGH_WATER = 256 * 1024
"""Stop reading from the socket while this many received bytes wait to be consumed."""

_SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)

# Most specific first: a subclass must come before its base (checked in the tests).
_ERROR_MAP: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _httpx_error(exc: Exception) -> httpx.TransportError | None:
    """The httpx exception httpx's own transport raises for an httpcore one (None: not ours)."""
    for source, target in _ERROR_MAP:
        if isinstance(exc, source):
            return target(str(exc))
    return None


class _Protocol(asyncio.Protocol):
    """Receives one connection's bytes into a buffer and wakes whoever waits for them."""

    __slots__ = (
        "buffer",
        "drain_waiter",
        "eof",
        "error",
        "read_paused",
        "read_waiter",
        "transport",
        "write_paused",
    )

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False  # no more bytes will arrive (peer finished, or connection lost)
        self.error: BaseException | None = None  # why the connection was lost, if abnormally
        self.read_waiter: asyncio.Future[None] | None = None
        self.drain_waiter: asyncio.Future[None] | None = None
        self.read_paused = False
        self.write_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # loop.start_tls() does not call this again: _Stream.start_tls() swaps in the TLS
        # transport itself, so flow control acts on the TLS layer, not the raw socket.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()
        _wake(self.read_waiter)

    def eof_received(self) -> bool:
        self.eof = True
        _wake(self.read_waiter)
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None:
            self.error = exc
        _wake(self.read_waiter)
        _wake(self.drain_waiter)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        _wake(self.drain_waiter)

    def take(self, max_bytes: int) -> bytes:
        buffer = self.buffer
        if len(buffer) <= max_bytes:
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:max_bytes])
            del buffer[:max_bytes]
        if self.read_paused and len(buffer) <= _HIGH_WATER // 4 and self.transport is not None:
            self.read_paused = False
            self.transport.resume_reading()
        return data


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _expire(waiter: asyncio.Future[None], error: Exception) -> None:
    if not waiter.done():
        waiter.set_exception(error)


async def _wait(
    loop: asyncio.AbstractEventLoop,
    waiter: asyncio.Future[None],
    timeout: float | None,
    error: Exception,
) -> None:
    """Wait for `waiter`; after `timeout` seconds fail it with `error` instead."""
    if timeout is None:
        await waiter
        return
    timer = loop.call_later(max(timeout, 0.0), _expire, waiter, error)
    try:
        await waiter
    finally:
        timer.cancel()


def _close_result(task: asyncio.Future[tuple[Any, Any]]) -> None:
    # A connection that completed after its caller gave up: nobody will use it.
    if not task.cancelled() and task.exception() is None:
        transport: asyncio.Transport = task.result()[0]
        transport.abort()


async def _connect_within(
    work: Awaitable[tuple[_T, Any]], timeout: float | None, what: str
) -> tuple[_T, Any]:
    """Run a connect/handshake step under `timeout`, mapping failures to httpcore errors.

    The step runs as its own task so a timeout or a cancellation of the caller can abandon it
    without racing its completion: a connection that is made anyway is closed, not leaked.
    """
    try:
        if timeout is None:
            return await work
        task = asyncio.ensure_future(work)
        try:
            done, _ = await asyncio.wait((task,), timeout=max(timeout, 0.0))
        except BaseException:
            task.cancel()
            task.add_done_callback(_close_result)
            raise
        if not done:
            task.cancel()
            task.add_done_callback(_close_result)
            raise httpcore.ConnectTimeout(f"{what} timed out")
        return task.result()
    except (OSError, ssl.SSLError) as exc:  # SSLError is an OSError; named for clarity
        raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
    except asyncio.TimeoutError as exc:  # an asyncio-level handshake timeout on 3.10
        raise httpcore.ConnectTimeout(f"{what} timed out") from exc


class _Stream(httpcore.AsyncNetworkStream):
    """One connection (plain or TLS) as httpcore sees it."""

    __slots__ = ("_loop", "_protocol", "_tls", "_transport")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        transport: asyncio.Transport,
        protocol: _Protocol,
        *,
        tls: bool = False,
    ) -> None:
        self._loop = loop
        self._transport = transport
        self._protocol = protocol
        self._tls = tls

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            waiter = self._loop.create_future()
            protocol.read_waiter = waiter
            try:
                await _wait(self._loop, waiter, timeout, httpcore.ReadTimeout("read timed out"))
            finally:
                protocol.read_waiter = None
        if protocol.buffer:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if self._transport.is_closing():
            error = protocol.error
            raise httpcore.WriteError(
                f"connection closed ({error})" if error is not None else "connection closed"
            )
        try:
            self._transport.write(buffer)
        except (OSError, RuntimeError) as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc
        if protocol.write_paused:
            waiter = self._loop.create_future()
            protocol.drain_waiter = waiter
            try:
                await _wait(self._loop, waiter, timeout, httpcore.WriteTimeout("write timed out"))
            finally:
                protocol.drain_waiter = None
            if protocol.error is not None:
                raise httpcore.WriteError(str(protocol.error) or type(protocol.error).__name__)

    async def aclose(self) -> None:
        # No await here: closing must not be interruptible by a cancellation. TLS connections
        # are dropped without the close_notify exchange, as httpx's anyio streams do.
        if self._tls:
            self._transport.abort()
        else:
            self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            tls_transport, _ = await _connect_within(
                self._start_tls(ssl_context, server_hostname), timeout, "TLS handshake"
            )
        except BaseException:
            self._transport.abort()
            raise
        self._protocol.transport = tls_transport
        return _Stream(self._loop, tls_transport, self._protocol, tls=True)

    async def _start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None
    ) -> tuple[asyncio.Transport, None]:
        transport = await self._loop.start_tls(
            self._transport, self._protocol, ssl_context, server_hostname=server_hostname
        )
        if transport is None:  # pragma: no cover - only when the connection is already closing
            raise httpcore.ConnectError("connection closed during the TLS handshake")
        return transport, None

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle HTTP/1.1 connection has nothing to read unless the server closed it.
            return self._protocol.eof or bool(self._protocol.buffer)
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class _Backend(httpcore.AsyncNetworkBackend):
    """Opens connections with the running asyncio loop."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        transport, protocol = await _connect_within(
            loop.create_connection(
                _Protocol,
                host,
                port,
                local_addr=None if local_address is None else (local_address, 0),
            ),
            timeout,
            f"connecting to {host}:{port}",
        )
        stream = _Stream(loop, transport, cast(_Protocol, protocol))
        _apply_options(stream, socket_options)
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        transport, protocol = await _connect_within(
            loop.create_unix_connection(_Protocol, path), timeout, f"connecting to {path}"
        )
        stream = _Stream(loop, transport, cast(_Protocol, protocol))
        _apply_options(stream, socket_options)
        return stream

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _apply_options(stream: _Stream, options: Iterable[_SocketOption] | None) -> None:
    if not options:
        return
    sock: socket.socket | None = stream.get_extra_info("socket")
    if sock is None:  # pragma: no cover - every socket transport exposes it
        return
    setsockopt: Any = sock.setsockopt  # typeshed cannot match the 4-argument form
    for option in options:
        setsockopt(*option)


class _ResponseStream(httpx.AsyncByteStream):
    """A response body read from httpcore, with its failures raised as httpx exceptions."""

    __slots__ = ("_stream",)

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except Exception as exc:
            mapped = _httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            await aclose()


def _pool_internals_known() -> bool:
    """Whether httpcore's pool has the internals `_Pool` relies on (checked for 1.0.x)."""
    version = getattr(httpcore, "__version__", "")
    probe = httpcore.AsyncConnectionPool(max_connections=1)
    return (
        version.startswith("1.0.")
        and all(hasattr(probe, name) for name in _POOL_INTERNALS)
        and callable(getattr(httpcore.AsyncConnectionPool, "_assign_requests_to_connections", None))
    )


_POOL_INTERNALS = (
    "_connections",
    "_requests",
    "_max_connections",
    "_max_keepalive_connections",
    "create_connection",
)


class _Pool(httpcore.AsyncConnectionPool):
    """httpcore's pool with a one-pass assignment of queued requests to connections.

    httpcore 1.0.x hands the same idle HTTP/1.1 connection to every request queued in one
    pass (the connection stays "idle" until the first of them starts), so all but one fail
    with ConnectionNotAvailable and go round again; and its check for surplus idle
    connections counts every connection once per idle connection. With bursts of concurrent
    calls, as from many threads sharing one blocking `Polar`, that churn was most of the
    event loop's work (the sync-facade benchmark, 16 threads: 0.65x raw httpx before, 1.05x
    after). This override keeps the pool's rules -- drop closed connections, close expired
    ones and idle ones beyond the keep-alive limit, reuse before creating, never exceed the
    connection limit, replace an idle connection when full -- and reserves each connection it
    hands out for that one request. It is used only with HTTP/1.1 and only when the installed
    httpcore has the internals it reads (`_pool_internals_known()`); otherwise the plain pool
    is used.
    """

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        closing: list[httpcore.AsyncConnectionInterface] = []
        connections = self._connections
        # Connections handed to requests still in the pool; worked out before the clean-up so
        # that a connection whose request was cancelled before using it can be recognised.
        reserved = {id(r.connection) for r in self._requests if r.connection is not None}
        alive: list[httpcore.AsyncConnectionInterface] = []
        for connection in connections:
            if connection.is_closed():
                continue
            if connection.has_expired() or (
                id(connection) not in reserved and _never_opened(connection)
            ):
                # The second case is httpcore#1093: a new connection given to a request that
                # was cancelled before it ran stays "connecting" forever and holds a slot.
                closing.append(connection)
            else:
                alive.append(connection)
        idle = sum(1 for connection in alive if connection.is_idle())
        kept: list[httpcore.AsyncConnectionInterface] = []
        for connection in alive:
            if idle > self._max_keepalive_connections and connection.is_idle():
                closing.append(connection)
                idle -= 1
            else:
                kept.append(connection)
        connections[:] = kept

        for pool_request in self._requests:
            if not pool_request.is_queued():
                continue
            origin = pool_request.request.url.origin
            chosen = None
            for connection in connections:
                if (
                    id(connection) not in reserved
                    and connection.can_handle_request(origin)
                    and connection.is_available()
                ):
                    chosen = connection
                    break
            if chosen is None:
                if len(connections) >= self._max_connections:
                    spare = next(
                        (c for c in connections if c.is_idle() and id(c) not in reserved), None
                    )
                    if spare is None:
                        continue  # stays queued until a connection frees up
                    connections.remove(spare)
                    closing.append(spare)
                chosen = self.create_connection(origin)
                connections.append(chosen)
            pool_request.assign_to_connection(chosen)
            reserved.add(id(chosen))
        return closing


def _never_opened(connection: httpcore.AsyncConnectionInterface) -> bool:
    """A pool connection that has not started connecting (no network connection yet)."""
    return (
        isinstance(connection, httpcore.AsyncHTTPConnection)
        and getattr(connection, "_connection", False) is None
        and not connection.is_closed()
    )


_USE_POOL_OVERRIDE = _pool_internals_known()


class AsyncioTransport(httpx.AsyncBaseTransport):
    """An httpx transport for asyncio loops: httpcore's pool over asyncio protocols.

    Behaves like `httpx.AsyncHTTPTransport()` without proxies (HTTP/1.1, the same pool limits,
    keep-alive, request timeouts from the request's extensions, the same exceptions), with a
    cheaper network layer. Use it only on an asyncio (or uvloop) event loop.

    Args:
        ssl_context: the TLS context for https; by default `httpx.create_ssl_context()`, the
            certifi-based context httpx's own transport would build.
        tls: `False` skips building that default context (for a pool that only ever talks
            plain http; an https connection would then get httpcore's default).
        limits: connection-pool limits.
        local_address: a local IP address to connect from.
        socket_options: `setsockopt` arguments applied to each new socket.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limits: httpx.Limits = httpx.Limits(),  # noqa: B008 - immutable in practice
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
        tls: bool = True,
    ) -> None:
        pool_class = _Pool if _USE_POOL_OVERRIDE else httpcore.AsyncConnectionPool
        if ssl_context is None and tls:
            ssl_context = httpx.create_ssl_context()
        self._pool = pool_class(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            local_address=local_address,
            socket_options=socket_options,
            network_backend=_Backend(),
        )

    @property
    def pool(self) -> httpcore.AsyncConnectionPool:
        """The underlying httpcore pool (for inspection in tests and diagnostics)."""
        return self._pool

    async def __aenter__(self) -> AsyncioTransport:
        await self._pool.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        try:
            await self._pool.__aexit__(exc_type, exc_value, traceback)
        except Exception as exc:
            mapped = _httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=cast(AsyncIterator[bytes], request.stream),
            extensions=request.extensions,
        )
        try:
            response = await self._pool.handle_async_request(core_request)
        except Exception as exc:
            mapped = _httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        extensions: Any = getattr(response, "extensions")  # noqa: B009 - typed loosely by httpcore
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(cast(AsyncIterator[bytes], response.stream)),
            extensions=extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class DirectClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` over the SDK's own transport, built by the SDK for its own use.

    The transport is `polar_sdk._httptools_transport.HttptoolsTransport`, or `AsyncioTransport`
    where httptools is not installed. `polar_sdk._http` hands this client's requests straight
    to `transport` when nothing the client would add applies (no cookies stored, httpx's
    request logging off), and through `send()` otherwise. It has no auth, event hooks or base
    URL.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self.transport = transport
        # The transport bounds a whole request by the "polar_sdk.deadline" extension itself.
        self.deadlines: bool = getattr(transport, "enforces_deadlines", False)
