"""polar_sdk._transport.AsyncioTransport against loopback servers run in the test's own loop.

Each test runs on a fresh asyncio loop, and again on uvloop when it is installed. The server is a
few lines of asyncio that misbehave on request (by path), so each failure httpx can report is
produced for real and checked against the exception httpx's own transport raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import ssl
import struct
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpcore
import httpx
import pytest

from polar_sdk._transport import _ERROR_MAP, AsyncioTransport, _Backend, _httpx_error

pytestmark = pytest.mark.integration

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def _loop_factories() -> list[Any]:
    params: list[Any] = [pytest.param(asyncio.new_event_loop, id="asyncio")]
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional
        pass
    else:
        params.append(pytest.param(uvloop.new_event_loop, id="uvloop"))
    return params


@pytest.fixture(params=_loop_factories())
def run(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    factory: LoopFactory = request.param

    def runner(main: Coroutine[Any, Any, Any]) -> Any:
        loop = factory()
        try:
            return loop.run_until_complete(asyncio.wait_for(main, 30))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    return runner


class Server:
    """A loopback HTTP/1.1 server whose answer depends on the request path."""

    def __init__(self) -> None:
        self.connections = 0
        self.open = 0
        self.peak = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, path: str, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # handlers waiting on their reader see the end and return
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        self._writers.add(writer)
        self.connections += 1
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            self._tasks.discard(task)  # type: ignore[arg-type]
            self._writers.discard(writer)
            writer.transport.abort()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        if path == "/noread":
            await _until_closed(writer)
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        if length:
            await reader.readexactly(length)
        if path == "/silent":
            await reader.read()  # only the end of the connection
            return False
        if path == "/drop":
            return False
        if path == "/truncated":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789")
            await writer.drain()
            return False
        if path == "/reset":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789")
            await writer.drain()
            await asyncio.sleep(0.05)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if path.startswith("/big/"):
            size = int(path.rsplit("/", 1)[1])
            writer.write(f"HTTP/1.1 200 OK\r\ncontent-length: {size}\r\n\r\n".encode())
            chunk = b"x" * 65536
            sent = 0
            while sent < size:
                piece = chunk[: size - sent]
                writer.write(piece)
                sent += len(piece)
                await writer.drain()
            return True
        if path == "/sni":
            ssl_object = writer.get_extra_info("ssl_object")
            body = (ssl_object.server_hostname or "") if ssl_object is not None else ""
            self._reply(writer, body.encode())
            return True
        self._reply(writer, path.encode())
        await writer.drain()
        return path != "/close-after"

    @staticmethod
    def _reply(writer: asyncio.StreamWriter, body: bytes) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))


async def _until_closed(writer: asyncio.StreamWriter) -> None:
    # Never read: wait for the connection to be aborted (at the test's end or by the client).
    while not writer.transport.is_closing():
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def serving(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server()
    await server.start(ssl_context)
    try:
        yield server
    finally:
        await server.stop()


def client(transport: AsyncioTransport, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, follow_redirects=False, **kwargs)


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# exception mapping ------------------------------------------------------------------------


def test_error_map_lists_subclasses_before_their_bases() -> None:
    sources = [source for source, _ in _ERROR_MAP]
    for i, earlier in enumerate(sources):
        for later in sources[i + 1 :]:
            assert not issubclass(later, earlier), (later, earlier)


@pytest.mark.parametrize("source", [source for source, _ in _ERROR_MAP])
def test_error_map_matches_httpx(source: type[Exception]) -> None:
    from httpx._transports.default import map_httpcore_exceptions

    with pytest.raises(httpx.TransportError) as theirs, map_httpcore_exceptions():
        raise source("boom")
    ours = _httpx_error(source("boom"))
    assert type(ours) is type(theirs.value)
    assert str(ours) == "boom"


def test_unrelated_errors_pass_through() -> None:
    assert _httpx_error(ValueError("x")) is None


# failures, produced for real --------------------------------------------------------------


def test_connect_error_on_refused_port(run: Any) -> None:
    async def main() -> None:
        async with client(AsyncioTransport()) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://127.0.0.1:{_refused_port()}/")

    run(main())


def test_connect_timeout(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(AsyncioTransport()) as http:
            with pytest.raises(httpx.ConnectTimeout):
                await http.get(server.url("/"), timeout=httpx.Timeout(5, connect=0))

    run(main())


def test_read_timeout_and_the_pool_recovers(run: Any) -> None:
    async def main() -> None:
        transport = AsyncioTransport(limits=httpx.Limits(max_connections=1))
        async with serving() as server, client(transport) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(server.url("/silent"), timeout=httpx.Timeout(5, read=0.2))
            response = await http.get(server.url("/after"), timeout=2)
            assert response.text == "/after"

    run(main())


def test_write_timeout(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(AsyncioTransport()) as http:
            with pytest.raises(httpx.WriteTimeout):
                await http.post(
                    server.url("/noread"),
                    content=b"x" * (64 * 1024 * 1024),
                    timeout=httpx.Timeout(5, write=0.3),
                )

    run(main())


def test_pool_timeout_and_limits(run: Any) -> None:
    async def main() -> None:
        transport = AsyncioTransport(limits=httpx.Limits(max_connections=1))
        async with serving() as server, client(transport) as http:
            async with http.stream("GET", server.url("/held")):
                with pytest.raises(httpx.PoolTimeout):
                    await http.get(server.url("/waits"), timeout=httpx.Timeout(5, pool=0.1))
            assert (await http.get(server.url("/free"))).text == "/free"

    run(main())


def test_remote_protocol_error_when_the_server_hangs_up(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(AsyncioTransport()) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url("/drop"))
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url("/truncated"))

    run(main())


def test_read_error_on_reset_mid_body(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(AsyncioTransport()) as http:
            with pytest.raises(httpx.ReadError):
                await http.get(server.url("/reset"))

    run(main())


def test_write_error_after_the_connection_is_lost(run: Any) -> None:
    async def main() -> None:
        async with serving() as server:
            stream = await _Backend().connect_tcp("127.0.0.1", server.port)
            await stream.write(b"GET /drop HTTP/1.1\r\nhost: x\r\n\r\n")
            assert await stream.read(1024, timeout=5) == b""
            await asyncio.sleep(0.01)
            with pytest.raises(httpcore.WriteError):
                await stream.write(b"more")
            await stream.aclose()

    run(main())


def test_local_protocol_error(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(AsyncioTransport()) as http:
            with pytest.raises(httpx.LocalProtocolError):
                await http.get(server.url("/"), headers={"x-bad": "a\r\nb"})

    run(main())


def test_unsupported_protocol(run: Any) -> None:
    async def main() -> None:
        async with AsyncioTransport() as transport:
            with pytest.raises(httpx.UnsupportedProtocol):
                await transport.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/"))

    run(main())


# normal operation ---------------------------------------------------------------------------


def test_keepalive_reuses_one_connection(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(AsyncioTransport()) as http:
            for i in range(5):
                response = await http.post(server.url(f"/n{i}"), content=b"body")
                assert response.status_code == 200
                assert response.text == f"/n{i}"
            assert server.connections == 1

    run(main())


def test_streaming_a_large_body(run: Any) -> None:
    size = 3 * 1024 * 1024 + 17  # beyond the protocol's high-water mark

    async def main() -> None:
        async with serving() as server, client(AsyncioTransport()) as http:
            async with http.stream("GET", server.url(f"/big/{size}")) as response:
                chunks = 0
                total = 0
                async for chunk in response.aiter_raw():
                    chunks += 1
                    total += len(chunk)
                    if chunks == 1:
                        await asyncio.sleep(0.1)  # let the buffer fill and reading pause
            assert total == size
            assert chunks > 1
            assert (await http.get(server.url("/next"))).text == "/next"
            assert server.connections == 1

    run(main())


def test_pool_limits_bound_connections(run: Any) -> None:
    async def main() -> None:
        limits = httpx.Limits(max_connections=3, max_keepalive_connections=2)
        async with serving() as server, client(AsyncioTransport(limits=limits)) as http:
            answers = await asyncio.gather(*(http.get(server.url(f"/{i}")) for i in range(30)))
            assert [a.text for a in answers] == [f"/{i}" for i in range(30)]
            assert server.peak <= 3
            assert len(http._transport.pool.connections) <= 2  # type: ignore[attr-defined]

    run(main())


def test_idle_connection_closed_by_the_server_is_not_reused(run: Any) -> None:
    async def main() -> None:
        async with serving() as server:
            stream = await _Backend().connect_tcp("127.0.0.1", server.port)
            assert stream.get_extra_info("is_readable") is False
            await stream.write(b"GET /close-after HTTP/1.1\r\nhost: x\r\n\r\n")
            assert (await stream.read(1024, timeout=5)).startswith(b"HTTP/1.1 200")
            for _ in range(100):
                if stream.get_extra_info("is_readable"):
                    break
                await asyncio.sleep(0.01)
            assert stream.get_extra_info("is_readable") is True
            await stream.aclose()

            async with client(AsyncioTransport()) as http:
                assert (await http.get(server.url("/close-after"))).status_code == 200
                await asyncio.sleep(0.05)
                assert (await http.get(server.url("/again"))).text == "/again"
                assert server.connections == 3

    run(main())


def test_extra_info(run: Any) -> None:
    async def main() -> None:
        async with serving() as server:
            stream = await _Backend().connect_tcp(
                "127.0.0.1",
                server.port,
                socket_options=[(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)],
            )
            sock = stream.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            assert stream.get_extra_info("server_addr") == ("127.0.0.1", server.port)
            assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
            assert stream.get_extra_info("ssl_object") is None
            assert stream.get_extra_info("unknown") is None
            await stream.aclose()

    run(main())


def test_aclose_closes_every_connection(run: Any) -> None:
    async def main() -> None:
        async with serving() as server:
            http = client(AsyncioTransport())
            await asyncio.gather(*(http.get(server.url(f"/{i}")) for i in range(4)))
            assert server.open >= 1
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                await http.aclose()
                for _ in range(100):
                    if server.open == 0:
                        break
                    await asyncio.sleep(0.01)
                gc.collect()
            assert server.open == 0
            assert not [w for w in caught if issubclass(w.category, ResourceWarning)]

    run(main())


def test_cancellation_never_leaks_a_pool_slot(run: Any) -> None:
    async def main() -> None:
        transport = AsyncioTransport(limits=httpx.Limits(max_connections=2))
        async with serving() as server, client(transport) as http:
            for i in range(40):
                path = "/silent" if i % 2 else f"/big/{256 * 1024}"
                task = asyncio.ensure_future(http.get(server.url(path)))
                await asyncio.sleep(0.002 * (i % 5))
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                    await task
            answers = await asyncio.gather(
                *(http.get(server.url(f"/{i}"), timeout=httpx.Timeout(5, pool=2)) for i in range(4))
            )
            assert [a.text for a in answers] == [f"/{i}" for i in range(4)]
            assert len(transport.pool.connections) <= 2

    run(main())


# TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    client_context = httpx.create_ssl_context()
    authority.configure_trust(client_context)
    return server_context, client_context


def test_https_with_sni(run: Any, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, client_context = tls
    seen: list[str | None] = []

    def remember(_sock: Any, name: str | None, _ctx: Any) -> None:
        seen.append(name)

    async def main() -> None:
        server_context.sni_callback = remember
        try:
            async with serving(server_context) as server:
                transport = AsyncioTransport(ssl_context=client_context)
                async with client(transport) as http:
                    for i in range(3):
                        response = await http.post(
                            server.url(f"/tls{i}", "https", "localhost"), content=b"x"
                        )
                        assert response.text == f"/tls{i}"
                    assert server.connections == 1
                    size = 1024 * 1024
                    big = await http.get(server.url(f"/big/{size}", "https", "localhost"))
                    assert len(big.content) == size
        finally:
            server_context.sni_callback = None
        assert seen == ["localhost"]

    run(main())


def test_https_rejects_an_untrusted_certificate(
    run: Any, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server_context, _ = tls

    async def main() -> None:
        async with serving(server_context) as server, client(AsyncioTransport()) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(server.url("/", "https", "localhost"))

    run(main())


def test_tls_handshake_timeout(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(AsyncioTransport()) as http:
            # A plain-http server never answers the ClientHello.
            with pytest.raises(httpx.ConnectTimeout):
                await http.get(
                    server.url("/", "https", "localhost"), timeout=httpx.Timeout(5, connect=0.3)
                )

    run(main())


# wiring in AsyncPolar -----------------------------------------------------------------------


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every transport of its own (h11 or httptools) AsyncPolar builds during the test."""
    import polar_sdk._httptools_transport
    import polar_sdk._transport
    from polar_sdk._httptools_transport import HttptoolsTransport

    made: list[Any] = []

    class Recording(AsyncioTransport):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            made.append(self)

    class RecordingFast(HttptoolsTransport):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            made.append(self)

    # AsyncPolar imports the transport when it first builds a client.
    monkeypatch.setattr(polar_sdk._transport, "AsyncioTransport", Recording)
    monkeypatch.setattr(polar_sdk._httptools_transport, "HttptoolsTransport", RecordingFast)
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(variable.lower(), raising=False)
    monkeypatch.delenv("POLAR_SDK_DEFAULT_TRANSPORT", raising=False)
    monkeypatch.delenv("POLAR_SDK_H11_TRANSPORT", raising=False)
    return made


async def _one_call(**kwargs: Any) -> None:
    from polar_sdk import AsyncPolar
    from polar_sdk.errors import APIConnectionError

    base_url = f"http://127.0.0.1:{_refused_port()}"
    async with AsyncPolar("polar_oat_wiring", base_url=base_url, retry=None, **kwargs) as polar:
        with pytest.raises(APIConnectionError):
            await polar.customer_sessions.create(customer_id="32f1da23-861d-4749-b8e3-08a3664580a8")


def test_asyncio_clients_use_the_asyncio_transport(
    run: Any, built: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The h11 path, as where httptools is not installed (tests/test_fast_transport.py checks
    # that it is chosen then, and the httptools transport otherwise).
    monkeypatch.setenv("POLAR_SDK_H11_TRANSPORT", "1")
    run(_one_call(limits=httpx.Limits(max_connections=7)))
    assert len(built) == 1
    assert isinstance(built[0], AsyncioTransport)
    assert built[0].pool._max_connections == 7


def test_asyncio_clients_use_the_httptools_transport(run: Any, built: list[Any]) -> None:
    from polar_sdk._httptools_transport import HttptoolsTransport

    run(_one_call(limits=httpx.Limits(max_connections=7)))
    assert len(built) == 1
    assert isinstance(built[0], HttptoolsTransport)
    assert built[0]._max == 7


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("POLAR_SDK_DEFAULT_TRANSPORT", "1"),
        ("HTTPS_PROXY", "http://127.0.0.1:3128"),
        ("http_proxy", "http://127.0.0.1:3128"),
        ("ALL_PROXY", "socks5://127.0.0.1:1080"),
    ],
)
def test_httpx_transport_when_asked_or_behind_a_proxy(
    monkeypatch: pytest.MonkeyPatch, built: list[Any], name: str, value: str
) -> None:
    from polar_sdk._client import _lean_transport_usable

    async def usable() -> bool:
        return _lean_transport_usable()

    assert asyncio.run(usable()) is True
    monkeypatch.setenv(name, value)
    assert asyncio.run(usable()) is False
    if name == "POLAR_SDK_DEFAULT_TRANSPORT":
        asyncio.run(_one_call())
        assert built == []


def test_trio_keeps_the_httpx_transport(built: list[Any]) -> None:
    trio = pytest.importorskip("trio")
    trio.run(_one_call)
    assert built == []


def test_a_caller_client_is_never_replaced(built: list[Any]) -> None:
    async def main() -> None:
        async with httpx.AsyncClient() as mine:
            await _one_call(http_client=mine)

    asyncio.run(main())
    assert built == []


# the SDK's direct path through DirectClient -------------------------------------------------


def test_direct_requests_match_build_request(run: Any) -> None:
    from polar_sdk._http import HTTPCore, _LoopState
    from polar_sdk._transport import DirectClient

    async def main() -> None:
        client = DirectClient(
            transport=AsyncioTransport(),
            timeout=httpx.Timeout(7, connect=3),
            follow_redirects=False,
        )
        core = HTTPCore(
            token="polar_oat_direct",
            base_url="http://127.0.0.1:9",
            hooks=None,
            timeout=None,
            http_client=None,
            make_client=lambda: client,
            retry=None,
        )
        state = _LoopState(asyncio.get_running_loop(), client, True, None)
        assert state.direct is client
        url = "http://127.0.0.1:9/v1/customer-sessions/?x=1"
        headers = {"Authorization": "Bearer t", "Content-Type": "application/json"}
        cases = [
            (method, timeout, content)
            for method in ("POST", "GET", "PATCH", "DELETE")
            for timeout in (httpx.USE_CLIENT_DEFAULT, httpx.Timeout(1.5))
            for content in (None, b"", b'{"a":1}')
        ]
        for method, timeout, content in cases * 2:  # the second round from the caches
            ours = core._build(state, client, method, url, content, headers, timeout)
            theirs = client.build_request(
                method, url, content=content, headers=headers, timeout=timeout
            )
            assert ours.method == theirs.method
            assert ours.url == theirs.url
            assert str(ours.url) == str(theirs.url)
            assert ours.headers.raw == theirs.headers.raw
            assert ours.extensions == theirs.extensions
            assert ours.read() == theirs.read()
        await client.aclose()

    run(main())


class _CookieServer(Server):
    """Answers /cookie with a Set-Cookie and /redirect with a 302; echoes request headers."""

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        extra = b""
        status = b"200 OK"
        if path == "/cookie":
            extra = b"set-cookie: session=abc; Path=/\r\n"
        elif path == "/redirect":
            status = b"302 Found"
            extra = b"location: /elsewhere\r\n"
        body = "\n".join(lines[1:]).lower().encode()
        writer.write(
            b"HTTP/1.1 %s\r\n%scontent-length: %d\r\n\r\n%s" % (status, extra, len(body), body)
        )
        await writer.drain()
        return True


def test_direct_path_keeps_what_httpx_send_gives(run: Any) -> None:
    from polar_sdk._http import _send_direct
    from polar_sdk._transport import DirectClient

    async def main() -> None:
        server = _CookieServer()
        await server.start()
        try:
            async with DirectClient(transport=AsyncioTransport(), follow_redirects=False) as c:
                request = c.build_request("GET", server.url("/redirect"))
                response = await _send_direct(c, request)
                assert response.status_code == 302
                assert response.request is request
                assert response.elapsed.total_seconds() > 0
                assert response.next_request is not None
                assert str(response.next_request.url) == server.url("/elsewhere")

                response = await _send_direct(c, c.build_request("GET", server.url("/cookie")))
                assert c.cookies.get("session") == "abc"
                # With a cookie stored the SDK goes through send(), which sends it back.
                echoed = await c.get(server.url("/echo"))
                assert b"cookie: session=abc" in echoed.content

                with pytest.raises(httpx.ConnectError) as info:
                    await _send_direct(
                        c, c.build_request("GET", f"http://127.0.0.1:{_refused_port()}/")
                    )
                assert info.value.request.url.port is not None

            with pytest.raises(RuntimeError):
                await _send_direct(c, c.build_request("GET", server.url("/")))
        finally:
            await server.stop()

    run(main())
