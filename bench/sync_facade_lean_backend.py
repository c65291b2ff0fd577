"""PROTOTYPE, not shipped: an httpcore network backend straight on asyncio transports.

bench/bench_sync_facade.py measures it as the `polar-lean-backend` variant to show what the
async core would gain from replacing httpcore's anyio stream layer (see BENCHMARKS.md, "Sync
facade"). Two costs disappear: anyio's per-read/write bookkeeping, and the `is_readable`
check that httpcore's pool makes on every idle connection at every request start and end,
which the anyio backend answers by building a dict of socket attributes and polling the
socket; here it is a look at the protocol's buffer.

`lean_client()` swaps the pool of an `httpx.AsyncHTTPTransport` (a private attribute), which
is acceptable for a measurement only. Adopting the idea means an `httpx.AsyncBaseTransport`
or a pool built in `polar_sdk._http`, plus the fault-injection suite run against it.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import httpcore


class _Proto(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False
        self.drain: asyncio.Future[None] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        d = self.drain
        if d is not None and not d.done():
            d.set_result(None)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        d = self.drain
        if d is not None and not d.done():
            d.set_result(None)

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)


def _expire(fut: asyncio.Future[None], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


class LeanStream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, proto: _Proto) -> None:
        self._t = transport
        self._p = proto
        self._loop = asyncio.get_running_loop()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        p = self._p
        if not p.buffer and not p.eof:
            fut = self._loop.create_future()
            p.waiter = fut
            timer = (
                None
                if timeout is None
                else self._loop.call_later(timeout, _expire, fut, httpcore.ReadTimeout("timed out"))
            )
            try:
                await fut
            finally:
                p.waiter = None
                if timer is not None:
                    timer.cancel()
        if p.buffer:
            if len(p.buffer) <= max_bytes:
                data = bytes(p.buffer)
                p.buffer.clear()
            else:
                data = bytes(p.buffer[:max_bytes])
                del p.buffer[:max_bytes]
            return data
        if p.error is not None:
            raise httpcore.ReadError(str(p.error)) from p.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._t.is_closing():
            raise httpcore.WriteError("connection closed")
        self._t.write(buffer)
        p = self._p
        if p.paused:
            fut = self._loop.create_future()
            p.drain = fut
            timer = (
                None
                if timeout is None
                else self._loop.call_later(
                    timeout, _expire, fut, httpcore.WriteTimeout("timed out")
                )
            )
            try:
                await fut
            finally:
                p.drain = None
                if timer is not None:
                    timer.cancel()
            if p.error is not None:
                raise httpcore.WriteError(str(p.error))

    async def aclose(self) -> None:
        self._t.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            new = await asyncio.wait_for(
                self._loop.start_tls(
                    self._t, self._p, ssl_context, server_hostname=server_hostname
                ),
                timeout,
            )
        except asyncio.TimeoutError as exc:
            self._t.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            self._t.close()
            raise httpcore.ConnectError(str(exc)) from exc
        assert new is not None
        return LeanStream(new, self._p)  # type: ignore[arg-type]

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return self._p.eof or bool(self._p.buffer)
        if info == "ssl_object":
            return self._t.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._t.get_extra_info("sockname")
        if info == "server_addr":
            return self._t.get_extra_info("peername")
        if info == "socket":
            return self._t.get_extra_info("socket")
        return None


class LeanBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            t, p = await asyncio.wait_for(
                loop.create_connection(
                    _Proto,
                    host,
                    port,
                    local_addr=None if local_address is None else (local_address, 0),
                ),
                timeout,
            )
        except asyncio.TimeoutError as exc:
            raise httpcore.ConnectTimeout("connect timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = t.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return LeanStream(t, p)  # type: ignore[arg-type]

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            t, p = await asyncio.wait_for(loop.create_unix_connection(_Proto, path), timeout)
        except asyncio.TimeoutError as exc:
            raise httpcore.ConnectTimeout("connect timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return LeanStream(t, p)  # type: ignore[arg-type]

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def lean_client(**kw: Any):
    import httpx

    transport = httpx.AsyncHTTPTransport()
    old = transport._pool
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=old._ssl_context,
        max_connections=old._max_connections,
        max_keepalive_connections=old._max_keepalive_connections,
        keepalive_expiry=old._keepalive_expiry,
        http1=True,
        http2=False,
        network_backend=LeanBackend(),
    )
    return httpx.AsyncClient(transport=transport, **kw)
