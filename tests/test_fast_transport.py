"""polar_sdk._httptools_transport.HttptoolsTransport against real loopback servers.

The first part runs the checks tests/test_transport.py makes of `AsyncioTransport` (the
httpcore/h11 path, now the fallback) against the httptools transport, with the same misbehaving
server. The second part scripts raw answers byte for byte for what a new parser must get right:
chunked bodies, `Connection: close`, a close mid-body, 1xx, oversized heads, bytes after an
answer, bodiless answers, framing by end of connection. Each test runs on asyncio and uvloop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import socket
import ssl
import sys
import time
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest

from polar_sdk._httptools_transport import DEADLINE, MAX_HEAD, HttptoolsTransport
from tests.faultserver import FaultServer, respond
from tests.test_transport import _loop_factories, _refused_port, serving

pytestmark = pytest.mark.integration


@pytest.fixture(params=_loop_factories())
def run(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    factory: Callable[[], asyncio.AbstractEventLoop] = request.param

    def runner(main: Coroutine[Any, Any, Any]) -> Any:
        loop = factory()
        try:
            return loop.run_until_complete(asyncio.wait_for(main, 30))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    return runner


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    client_context = httpx.create_ssl_context()
    authority.configure_trust(client_context)
    return server_context, client_context


def client(transport: HttptoolsTransport, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, follow_redirects=False, **kwargs)


# the checks tests/test_transport.py makes of the h11 path ------------------------------------


def test_connect_error_on_refused_port(run: Any) -> None:
    async def main() -> None:
        async with client(HttptoolsTransport()) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://127.0.0.1:{_refused_port()}/")

    run(main())


def test_connect_timeout(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(HttptoolsTransport()) as http:
            with pytest.raises(httpx.ConnectTimeout):
                await http.get(server.url("/"), timeout=httpx.Timeout(5, connect=0))

    run(main())


def test_read_timeout_and_the_pool_recovers(run: Any) -> None:
    async def main() -> None:
        transport = HttptoolsTransport(limits=httpx.Limits(max_connections=1))
        async with serving() as server, client(transport) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(server.url("/silent"), timeout=httpx.Timeout(5, read=0.2))
            response = await http.get(server.url("/after"), timeout=2)
            assert response.text == "/after"
            assert transport.connection_count == 1

    run(main())


def test_write_timeout(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(HttptoolsTransport()) as http:
            with pytest.raises(httpx.WriteTimeout):
                await http.post(
                    server.url("/noread"),
                    content=b"x" * (64 * 1024 * 1024),
                    timeout=httpx.Timeout(5, write=0.3),
                )

    run(main())


def test_pool_timeout_and_limits(run: Any) -> None:
    async def main() -> None:
        transport = HttptoolsTransport(limits=httpx.Limits(max_connections=1))
        async with serving() as server, client(transport) as http:
            async with http.stream("GET", server.url("/held")):
                with pytest.raises(httpx.PoolTimeout):
                    await http.get(server.url("/waits"), timeout=httpx.Timeout(5, pool=0.1))
            assert (await http.get(server.url("/free"))).text == "/free"

    run(main())


def test_remote_protocol_error_when_the_server_hangs_up(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(HttptoolsTransport()) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url("/drop"))
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url("/truncated"))

    run(main())


def test_read_error_on_reset_mid_body(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(HttptoolsTransport()) as http:
            with pytest.raises(httpx.ReadError):
                await http.get(server.url("/reset"))

    run(main())


def test_local_protocol_error(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(HttptoolsTransport()) as http:
            with pytest.raises(httpx.LocalProtocolError):
                await http.get(server.url("/"), headers={"x-bad": "a\r\nb"})
            for name, value in [
                ("x bad", "a"),
                ("x-smuggle", "a\r\nx-evil: 1"),
                ("x-lf", "a\nb"),
                ("x-cr", "a\rb"),
                ("x-nul", "a\x00b"),
                ("", "a"),
            ]:
                with pytest.raises(httpx.LocalProtocolError):
                    await http.get(server.url("/"), headers={name: value})
            with pytest.raises(httpx.LocalProtocolError):
                await http.request("GET /x", server.url("/"))
            assert server.connections == 0  # refused before anything was sent
            assert (await http.get(server.url("/ok"), headers={"x-fine": "a: b\tc"})).text == "/ok"

    run(main())


def test_unsupported_protocol(run: Any) -> None:
    async def main() -> None:
        transport = HttptoolsTransport()
        with pytest.raises(httpx.UnsupportedProtocol):
            await transport.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/"))
        await transport.aclose()

    run(main())


def test_keepalive_reuses_one_connection(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(HttptoolsTransport()) as http:
            for i in range(5):
                response = await http.post(server.url(f"/n{i}"), content=b"body")
                assert response.status_code == 200
                assert response.text == f"/n{i}"
                assert response.http_version == "HTTP/1.1"
                assert response.reason_phrase == "OK"
            assert server.connections == 1

    run(main())


def test_streaming_a_large_body(run: Any) -> None:
    size = 3 * 1024 * 1024 + 17  # beyond the connection's high-water mark

    async def main() -> None:
        async with serving() as server, client(HttptoolsTransport()) as http:
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


def test_a_body_closed_early_does_not_return_its_connection(run: Any) -> None:
    async def main() -> None:
        transport = HttptoolsTransport()
        async with serving() as server, client(transport) as http:
            async with http.stream("GET", server.url(f"/big/{1024 * 1024}")) as response:
                async for _ in response.aiter_raw():
                    break
            assert transport.connection_count == 0
            assert (await http.get(server.url("/next"))).text == "/next"
            assert server.connections == 2

    run(main())


def test_pool_limits_bound_connections(run: Any) -> None:
    async def main() -> None:
        limits = httpx.Limits(max_connections=3, max_keepalive_connections=2)
        transport = HttptoolsTransport(limits=limits)
        async with serving() as server, client(transport) as http:
            answers = await asyncio.gather(*(http.get(server.url(f"/{i}")) for i in range(30)))
            assert [a.text for a in answers] == [f"/{i}" for i in range(30)]
            assert server.peak <= 3
            assert transport.idle_count <= 2
            assert transport.connection_count <= 2

    run(main())


def test_keepalive_expiry(run: Any) -> None:
    async def main() -> None:
        transport = HttptoolsTransport(limits=httpx.Limits(keepalive_expiry=0.1))
        async with serving() as server, client(transport) as http:
            await http.get(server.url("/a"))
            await http.get(server.url("/b"))
            assert server.connections == 1
            await asyncio.sleep(0.2)
            assert (await http.get(server.url("/c"))).text == "/c"
            assert server.connections == 2
            assert transport.connection_count == 1

    run(main())


def test_requests_to_another_origin_make_room_in_a_full_pool(run: Any) -> None:
    async def main() -> None:
        transport = HttptoolsTransport(limits=httpx.Limits(max_connections=1))
        async with serving() as one, serving() as two, client(transport) as http:
            assert (await http.get(one.url("/1"))).text == "/1"
            assert (await http.get(two.url("/2"))).text == "/2"
            both = await asyncio.gather(http.get(one.url("/3")), http.get(two.url("/4")))
            assert [r.text for r in both] == ["/3", "/4"]
            assert transport.connection_count == 1

    run(main())


def test_idle_connection_closed_by_the_server_is_not_reused(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(HttptoolsTransport()) as http:
            assert (await http.get(server.url("/close-after"))).status_code == 200
            await asyncio.sleep(0.05)
            assert (await http.get(server.url("/again"))).text == "/again"
            assert server.connections == 2

    run(main())


def test_aclose_closes_every_connection(run: Any) -> None:
    async def main() -> None:
        async with serving() as server:
            transport = HttptoolsTransport()
            http = client(transport)
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
            assert transport.connection_count == 0
            assert not [w for w in caught if issubclass(w.category, ResourceWarning)]

    run(main())


def test_cancellation_never_leaks_a_pool_slot(run: Any) -> None:
    async def main() -> None:
        transport = HttptoolsTransport(limits=httpx.Limits(max_connections=2))
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
            assert transport.connection_count <= 2

    run(main())


def test_many_cancelled_waiters_leave_the_pool_usable(run: Any) -> None:
    async def main() -> None:
        transport = HttptoolsTransport(limits=httpx.Limits(max_connections=2))
        async with serving() as server, client(transport) as http:
            tasks = [asyncio.ensure_future(http.get(server.url(f"/{i}"))) for i in range(300)]
            await asyncio.sleep(0)
            for task in tasks[::2]:
                task.cancel()
            done = await asyncio.gather(*tasks, return_exceptions=True)
            texts = [r.text for r in done if isinstance(r, httpx.Response)]
            assert texts == [f"/{i}" for i in range(1, 300, 2)]
            assert server.peak <= 2
            again = await asyncio.gather(*(http.get(server.url(f"/x{i}")) for i in range(4)))
            assert [r.text for r in again] == [f"/x{i}" for i in range(4)]
            assert transport.connection_count <= 2

    run(main())


def test_https_with_sni(run: Any, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_context, client_context = tls
    seen: list[str | None] = []

    def remember(_sock: Any, name: str | None, _ctx: Any) -> None:
        seen.append(name)

    async def main() -> None:
        server_context.sni_callback = remember
        try:
            async with serving(server_context) as server:
                transport = HttptoolsTransport(ssl_context=client_context)
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
        async with serving(server_context) as server, client(HttptoolsTransport()) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(server.url("/", "https", "localhost"))

    run(main())


def test_tls_handshake_timeout(run: Any) -> None:
    async def main() -> None:
        async with serving() as server, client(HttptoolsTransport()) as http:
            with pytest.raises(httpx.ConnectTimeout):
                await http.get(
                    server.url("/", "https", "localhost"), timeout=httpx.Timeout(5, connect=0.3)
                )

    run(main())


# scripted raw answers ---------------------------------------------------------------------


class Scripted:
    """A loopback server that answers each request with the next scripted bytes.

    An answer ending in `CLOSE` closes the connection after it is sent; `IDLE_PUSH` bytes are
    sent a moment after the answer, unasked, while the connection is idle.
    """

    def __init__(self, answers: list[bytes | tuple[bytes, str]]) -> None:
        self.answers = list(answers)
        self.connections = 0
        self.requests: list[bytes] = []
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> Scripted:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                answer = self.answers.pop(0)
                mode = ""
                if isinstance(answer, tuple):
                    answer, mode = answer
                writer.write(answer)
                await writer.drain()
                if mode == "close":
                    writer.close()
                    return
                if mode == "idle-push":
                    await asyncio.sleep(0.05)
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()


def ok(body: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\n%scontent-length: %d\r\n\r\n%s" % (extra, len(body), body)


@contextlib.asynccontextmanager
async def scripted(
    *answers: bytes | tuple[bytes, str], limits: httpx.Limits | None = None
) -> AsyncIterator[tuple[Scripted, httpx.AsyncClient, HttptoolsTransport]]:
    transport = HttptoolsTransport(limits=limits or httpx.Limits())
    async with Scripted(list(answers)) as server, client(transport, timeout=5) as http:
        yield server, http, transport


def test_chunked_body(run: Any) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nx-trailer: t\r\n\r\n"
    )

    async def main() -> None:
        async with scripted(chunked, ok(b"next")) as (server, http, _):
            response = await http.get(server.url())
            assert response.content == b"hello world"
            assert response.headers["transfer-encoding"] == "chunked"
            assert (await http.get(server.url())).content == b"next"
            assert server.connections == 1

    run(main())


def test_malformed_chunked_body(run: Any) -> None:
    bad = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"

    async def main() -> None:
        async with scripted(bad) as (server, http, transport):
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url())
            assert transport.connection_count == 0

    run(main())


def test_connection_close_is_honoured(run: Any) -> None:
    async def main() -> None:
        answers = (ok(b"a", b"connection: close\r\n"), ok(b"b"))
        async with scripted(*answers) as (server, http, transport):
            assert (await http.get(server.url())).content == b"a"
            assert transport.idle_count == 0
            assert (await http.get(server.url())).content == b"b"
            assert server.connections == 2

    run(main())


def test_an_http_10_answer_is_not_kept_alive(run: Any) -> None:
    answer = b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"

    async def main() -> None:
        async with scripted(answer, ok(b"b")) as (server, http, _):
            response = await http.get(server.url())
            assert response.content == b"ok"
            assert (await http.get(server.url())).content == b"b"
            assert server.connections == 2

    run(main())


def test_a_request_asking_to_close_is_not_reused(run: Any) -> None:
    async def main() -> None:
        async with scripted(ok(b"a"), ok(b"b")) as (server, http, _):
            await http.get(server.url(), headers={"connection": "close"})
            await http.get(server.url())
            assert server.connections == 2

    run(main())


def test_close_mid_body(run: Any) -> None:
    async def main() -> None:
        truncated = (b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part", "close")
        async with scripted(truncated) as (server, http, transport):
            with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
                await http.get(server.url())
            assert transport.connection_count == 0

    run(main())


def test_close_mid_body_is_an_api_connection_error(run: Any) -> None:
    from polar_sdk import AsyncPolar
    from polar_sdk.errors import APIConnectionError

    async def main() -> None:
        truncated = (b"HTTP/1.1 201 Created\r\ncontent-length: 100\r\n\r\n{", "close")
        async with (
            Scripted([truncated]) as server,
            AsyncPolar("polar_oat_secret", base_url=server.url(""), retry=None) as p,
        ):
            with pytest.raises(APIConnectionError) as info:
                await p.customer_sessions.create(customer_id="32f1da23-861d-4749-b8e3-08a3664580a8")
        assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)
        assert "polar_oat_secret" not in str(info.value)

    run(main())


def test_interim_answers_are_skipped(run: Any) -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n" + ok(b"final")
    )

    async def main() -> None:
        async with scripted(answer, ok(b"b")) as (server, http, _):
            response = await http.get(server.url())
            assert response.status_code == 200
            assert response.content == b"final"
            assert "link" not in response.headers
            assert (await http.get(server.url())).content == b"b"
            assert server.connections == 1

    run(main())


def test_switching_protocols_is_refused(run: Any) -> None:
    answer = (
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"
    )

    async def main() -> None:
        async with scripted(answer) as (server, http, transport):
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url())
            assert transport.connection_count == 0

    run(main())


def test_huge_headers_are_refused(run: Any) -> None:
    huge = b"HTTP/1.1 200 OK\r\n" + b"x-filler: " + b"a" * (MAX_HEAD + 10) + b"\r\n\r\n"

    async def main() -> None:
        async with scripted(huge) as (server, http, transport):
            with pytest.raises(httpx.RemoteProtocolError, match="larger than"):
                await http.get(server.url())
            assert transport.connection_count == 0

    run(main())


def test_many_headers_within_the_cap_are_accepted(run: Any) -> None:
    many = b"".join(b"x-h%d: %s\r\n" % (i, b"v" * 100) for i in range(300))

    async def main() -> None:
        async with scripted(ok(b"fine", many)) as (server, http, _):
            response = await http.get(server.url())
            assert response.content == b"fine"
            assert response.headers["x-h299"] == "v" * 100

    run(main())


def test_garbage_after_an_answer_discards_the_connection(run: Any) -> None:
    async def main() -> None:
        async with scripted(ok(b"a") + b"\x00garbage", ok(b"b")) as (server, http, transport):
            assert (await http.get(server.url())).content == b"a"
            assert transport.idle_count == 0
            assert (await http.get(server.url())).content == b"b"
            assert server.connections == 2

    run(main())


def test_a_pipelined_second_answer_discards_the_connection(run: Any) -> None:
    async def main() -> None:
        async with scripted(ok(b"a") + ok(b"sneaky"), ok(b"b")) as (server, http, _):
            assert (await http.get(server.url())).content == b"a"
            assert (await http.get(server.url())).content == b"b"
            assert server.connections == 2

    run(main())


def test_unsolicited_bytes_on_an_idle_connection_discard_it(run: Any) -> None:
    async def main() -> None:
        async with scripted((ok(b"a"), "idle-push"), ok(b"b")) as (server, http, transport):
            assert (await http.get(server.url())).content == b"a"
            await asyncio.sleep(0.2)
            assert (await http.get(server.url())).content == b"b"
            assert server.connections == 2
            assert transport.connection_count == 1

    run(main())


def test_malformed_status_line(run: Any) -> None:
    async def main() -> None:
        async with scripted(b"HTTP/1.1 2xx Nope\r\n\r\n") as (server, http, _):
            with pytest.raises(httpx.RemoteProtocolError, match="malformed"):
                await http.get(server.url())

    run(main())


@pytest.mark.parametrize(
    ("method", "answer"),
    [
        ("HEAD", b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n"),
        ("GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
        ("GET", b"HTTP/1.1 304 Not Modified\r\ncontent-length: 99\r\n\r\n"),
    ],
)
def test_answers_without_a_body(run: Any, method: str, answer: bytes) -> None:
    async def main() -> None:
        async with scripted(answer, ok(b"b")) as (server, http, _):
            response = await http.request(method, server.url())
            assert response.content == b""
            assert (await http.get(server.url())).content == b"b"
            assert server.connections == 1

    run(main())


def test_a_head_answer_asking_to_close_is_not_reused(run: Any) -> None:
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\n"

    async def main() -> None:
        async with scripted((answer, "close"), ok(b"b")) as (server, http, transport):
            assert (await http.head(server.url())).status_code == 200
            assert transport.idle_count == 0
            assert (await http.get(server.url())).content == b"b"
            assert server.connections == 2

    run(main())


def test_a_body_framed_by_the_end_of_the_connection(run: Any) -> None:
    async def main() -> None:
        answer = (b"HTTP/1.1 200 OK\r\n\r\nuntil the end", "close")
        async with scripted(answer, ok(b"b")) as (server, http, transport):
            assert (await http.get(server.url())).content == b"until the end"
            assert transport.connection_count == 0
            assert (await http.get(server.url())).content == b"b"

    run(main())


def test_a_streamed_request_body_is_sent_chunked(run: Any) -> None:
    async def main() -> None:
        async def parts() -> AsyncIterator[bytes]:
            yield b"abc"
            yield b""
            yield b"defg"

        async with scripted(ok(b"a"), ok(b"b")) as (server, http, _):
            await http.post(server.url(), content=parts())
            # The scripted server reads heads only: the chunked body arrives as the next "head".
            assert b"transfer-encoding: chunked" in server.requests[0].lower()
            assert server.requests[1] == b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"

    run(main())


def test_cancelled_while_waiting_for_the_answer(run: Any) -> None:
    async def main() -> None:
        transport = HttptoolsTransport(limits=httpx.Limits(max_connections=1))
        async with serving() as server, client(transport) as http:
            task = asyncio.ensure_future(http.get(server.url("/silent")))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert transport.connection_count == 0
            assert (await http.get(server.url("/next"), timeout=2)).text == "/next"

    run(main())


# wiring in AsyncPolar ----------------------------------------------------------------------


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(variable.lower(), raising=False)
    monkeypatch.delenv("POLAR_SDK_DEFAULT_TRANSPORT", raising=False)
    monkeypatch.delenv("POLAR_SDK_H11_TRANSPORT", raising=False)


async def _transport_of_a_call() -> httpx.AsyncBaseTransport:
    from polar_sdk import AsyncPolar
    from polar_sdk._client import core_of
    from polar_sdk._http import HTTPCore

    async with Scripted([ok(b'{"items": [], "pagination": {}}')]) as server:
        polar = AsyncPolar("polar_oat_wiring", base_url=server.url(""), retry=None)
        with contextlib.suppress(Exception):
            await polar.customer_sessions.create(customer_id="32f1da23-861d-4749-b8e3-08a3664580a8")
        core: HTTPCore = core_of(polar)
        state = core._shared.current  # pyright: ignore[reportPrivateUsage]
        assert state is not None
        transport = state.client._transport  # pyright: ignore[reportPrivateUsage]
        await polar.aclose()
    return transport


def test_owned_clients_use_the_httptools_transport(no_proxy: None) -> None:
    assert type(asyncio.run(_transport_of_a_call())) is HttptoolsTransport


def test_the_h11_switch_selects_the_fallback(
    no_proxy: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polar_sdk._transport import AsyncioTransport

    monkeypatch.setenv("POLAR_SDK_H11_TRANSPORT", "1")
    assert type(asyncio.run(_transport_of_a_call())) is AsyncioTransport


def test_without_httptools_the_h11_path_is_used(
    no_proxy: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polar_sdk._transport import AsyncioTransport

    # As on an interpreter without httptools: its import fails, and so does this module's.
    monkeypatch.setitem(sys.modules, "httptools", None)
    monkeypatch.delitem(sys.modules, "polar_sdk._httptools_transport")
    assert type(asyncio.run(_transport_of_a_call())) is AsyncioTransport


def test_the_h11_fallback_answers_calls(no_proxy: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from polar_sdk import AsyncPolar

    monkeypatch.setitem(sys.modules, "httptools", None)
    monkeypatch.delitem(sys.modules, "polar_sdk._httptools_transport")
    from tests.test_request_shaping import SESSION_BODY

    body = json.dumps(SESSION_BODY).encode()

    async def main() -> tuple[int, int]:
        async with Scripted([ok(body), ok(body)]) as server:
            async with AsyncPolar("polar_oat_fb", base_url=server.url(""), retry=None) as polar:
                for _ in range(2):
                    raw = await polar.customer_sessions.with_raw_response.create(
                        customer_id="32f1da23-861d-4749-b8e3-08a3664580a8"
                    )
                    assert raw.status_code == 200
            return server.connections, len(server.requests)

    assert asyncio.run(main()) == (1, 2)


def test_socket_options_and_local_address(run: Any) -> None:
    async def main() -> None:
        transport = HttptoolsTransport(
            local_address="127.0.0.1",
            socket_options=[(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)],
        )
        async with serving() as server, client(transport) as http:
            assert (await http.get(server.url("/o"))).text == "/o"
            (conn,) = transport._open  # pyright: ignore[reportPrivateUsage]
            assert conn.transport is not None
            sock = conn.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)

    run(main())


def test_the_deadline_extension_bounds_the_whole_request(run: Any) -> None:
    async def main() -> None:
        transport = HttptoolsTransport(limits=httpx.Limits(max_connections=1))
        async with serving() as server, client(transport) as http:
            request = http.build_request("GET", server.url("/silent"), timeout=5)
            request.extensions[DEADLINE] = time.monotonic() + 0.2
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await transport.handle_async_request(request)
            assert time.monotonic() - started < 4
            assert transport.connection_count == 0
            assert (await http.get(server.url("/after"))).text == "/after"

    run(main())


def test_the_send_path_names_the_same_deadline_extension() -> None:
    from polar_sdk import _http

    assert _http._DEADLINE == DEADLINE  # pyright: ignore[reportPrivateUsage]


def test_a_shorter_read_timeout_after_a_longer_one_still_fires(run: Any) -> None:
    async def main() -> None:
        transport = HttptoolsTransport(limits=httpx.Limits(max_connections=1))
        async with serving() as server, client(transport) as http:
            assert (await http.get(server.url("/a"), timeout=30)).text == "/a"
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                await http.get(server.url("/silent"), timeout=httpx.Timeout(30, read=0.2))
            assert time.monotonic() - started < 5

    run(main())


def test_a_longer_read_timeout_after_a_shorter_one_does_not_fire_early(
    faults: FaultServer,
) -> None:
    faults.script([respond(200, b"quick"), respond(200, b"slow", delay=0.5)])

    async def main() -> list[bytes]:
        transport = HttptoolsTransport(limits=httpx.Limits(max_connections=1))
        async with client(transport) as http:
            first = await http.get(f"{faults.url}/q", timeout=httpx.Timeout(5, read=0.2))
            second = await http.get(f"{faults.url}/s", timeout=httpx.Timeout(5, read=3))
            return [first.content, second.content]

    assert asyncio.run(main()) == [b"quick", b"slow"]
    assert faults.connections == 1


def test_the_direct_send_path_reads_whole_and_partial_bodies(run: Any) -> None:
    from polar_sdk._http import _send_direct  # pyright: ignore[reportPrivateUsage]
    from polar_sdk._transport import DirectClient

    async def main() -> None:
        transport = HttptoolsTransport()
        async with serving() as server, DirectClient(transport=transport) as direct:
            assert direct.deadlines
            small = await _send_direct(direct, direct.build_request("GET", server.url("/s")))
            assert small.content == b"/s"
            size = 2 * 1024 * 1024
            big = await _send_direct(
                direct, direct.build_request("GET", server.url(f"/big/{size}"))
            )
            assert len(big.content) == size
            assert transport.idle_count == 1
            assert server.connections == 1

    run(main())


def test_a_sync_read_before_the_body_arrived_is_refused(run: Any) -> None:
    async def main() -> None:
        transport = HttptoolsTransport()
        async with serving() as server, client(transport) as http:
            request = http.build_request("GET", server.url(f"/big/{4 * 1024 * 1024}"))
            response = await transport.handle_async_request(request)
            stream: Any = response.stream
            assert not stream.ready
            with pytest.raises(RuntimeError, match="await"):
                list(stream)
            await response.aread()
            assert len(response.content) == 4 * 1024 * 1024

    run(main())


def test_a_body_read_at_once_after_reading_paused_leaves_the_connection_reading(
    run: Any,
) -> None:
    async def main() -> None:
        transport = HttptoolsTransport()
        async with serving() as server, client(transport) as http:
            for size in (300 * 1024, 600 * 1024):
                request = http.build_request("GET", server.url(f"/big/{size}"))
                response = await transport.handle_async_request(request)
                await asyncio.sleep(0.2)  # all of it arrives (or reading pauses)
                stream: Any = response.stream
                if stream.ready:
                    response.read()
                else:
                    await response.aread()
                assert len(response.content) == size
                answer = await http.get(server.url("/next"), timeout=2)
                assert answer.text == "/next"
            assert server.connections == 1

    run(main())
