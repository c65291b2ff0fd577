"""The exchange lane: the SDK's own clients send through `HttptoolsTransport.exchange`.

On that lane the SDK writes the request head itself and gets the answer back read in full, so
no `httpx.Request` is made unless something asks for one. These tests hold it to what the
other send paths do: the same bytes on the wire (heads, targets, for every recorded request
path), an answer that behaves like a read `httpx.Response` (request, cookies, gzip, pickling,
`raise_for_status`), and errors that carry their request. Each integration test runs on
asyncio and uvloop.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import pickle
import random
import string
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from polar_sdk import AsyncPolar
from polar_sdk._client import core_of
from polar_sdk._http import HTTPCore, _lane_base, _lane_target, _LaneResponse, _LoopState
from polar_sdk._httptools_transport import HttptoolsTransport, _head
from polar_sdk._transport import DirectClient
from polar_sdk._types import NOT_GIVEN
from polar_sdk.errors import APIConnectionError, APITimeoutError, NotFoundError
from tests import test_fast_transport
from tests.conftest import fixtures_dir, load_case
from tests.test_converter_hooks import _SESSION
from tests.test_transport import _refused_port

TOKEN = "polar_oat_laneTestToken000000000000000000000000000000"
_MISSING = "00000000-0000-4000-8000-000000000404"  # an id the server does not know
SESSION = _SESSION  # a customer session the converter accepts
run = test_fast_transport.run  # the fixture running each test on asyncio and on uvloop


# what goes on the wire ---------------------------------------------------------------------

_BASES = [
    "http://127.0.0.1:9",
    "https://api.polar.sh",
    "https://api.polar.sh:443",
    "http://localhost:8000/prefix",
    "http://localhost:8000/a%20b/",
    "http://[::1]:8080/api",
]


def _target(base_url: str, path: str) -> bytes:
    base = _lane_base(base_url)
    assert base is not None
    return _lane_target(base[1], base_url, path)


@pytest.mark.parametrize("base_url", _BASES)
def test_lane_targets_are_the_targets_httpx_sends(base_url: str) -> None:
    rng = random.Random(15)
    alphabet = string.printable.replace("\r", "").replace("\n", "") + "é€ü%%%"
    paths = [
        "/v1/customers/",
        "/v1/customers/?page=1&limit=10",
        "/v1/customers/external/a%2Fb%20c",
        "/v1/x/./y",
        "/v1/x/../y",
        "/v1/.well-known",
        "/v1/x?q=a/b?c",
        "/v1/x?q=%zz",
        "/v1/é",
        "/v1/a b",
        "/v1/a#b",
        "/v1/a%2e%2E/b",
        "/v1/[x]",
    ]
    for _ in range(3000):
        paths.append("/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))))
    for path in paths:
        ours = _outcome(lambda p=path: _target(base_url, p))
        assert ours == _outcome(lambda p=path: httpx.URL(base_url + p).raw_path), path


def _outcome(make: Callable[[], bytes]) -> bytes | str:
    """A target, or the kind of error making it raised (the same error both ways)."""
    try:
        return make()
    except httpx.InvalidURL as exc:
        return f"InvalidURL: {exc}"


def test_lane_targets_for_every_recorded_request_path() -> None:
    root = fixtures_dir()
    if root is None:
        pytest.skip("POLAR_FIXTURES_DIR is not set; it points at ../shared/polar-fixtures")
    paths = {load_case(p)["request"]["path"] for p in root.glob("api/*/*.json")}
    assert len(paths) > 100
    for base_url in _BASES:
        for path in sorted(paths):
            assert _target(base_url, path) == httpx.URL(base_url + path).raw_path, path


def test_bases_the_lane_does_not_take() -> None:
    for base_url in ("ftp://example.com", "http://example.com?x=1", "http://example.com#f"):
        assert _lane_base(base_url) is None
    assert _lane_base("https://api.polar.sh") == (
        (b"https", b"api.polar.sh", 443),
        "",
        b"api.polar.sh",
    )
    assert _lane_base("http://h:81/p") == ((b"http", b"h", 81), "/p", b"h:81")


def test_lane_heads_are_the_heads_httpx_requests_make(run: Any) -> None:
    """Byte for byte what `_build()` + the transport's `_head()` (and httpx) send."""

    async def main() -> None:
        for base_url in _BASES:
            client = DirectClient(
                transport=HttptoolsTransport(), timeout=httpx.Timeout(7), follow_redirects=False
            )
            core = HTTPCore(
                token=TOKEN,
                base_url=base_url,
                hooks=None,
                timeout=None,
                http_client=None,
                make_client=lambda: client,  # noqa: B023 - used right here
                retry=None,
            )
            state = _LoopState(asyncio.get_running_loop(), client, True, None)
            assert state.lane is not None
            base = _lane_base(base_url)
            assert base is not None
            header_sets = [
                {"Authorization": "Bearer t", "Content-Type": "application/json"},
                {"Accept": "text/csv, application/json", "Polar-Version": "2026-10"},
                {},
            ]
            for method in ("POST", "GET", "PATCH", "DELETE", "PUT"):
                for content in (None, b"", b'{"a":1}', b"x" * 70000):
                    for headers in header_sets * 2:  # the second round from the cache
                        for path in ("/v1/customers/?x=1", "/v1/a b/é", "/v1/x/../y"):
                            url = base_url + path
                            ours, close = core._lane_head(
                                state, client, base, method, path, content, headers
                            )
                            built = core._build(
                                state,
                                client,
                                method,
                                url,
                                content,
                                headers,
                                httpx.USE_CLIENT_DEFAULT,
                            )
                            theirs = client.build_request(
                                method, url, content=content, headers=headers
                            )
                            assert ours == _head(built)[0] == _head(theirs)[0]
                            assert close is False
                            assert base[0] == (
                                theirs.url.raw_scheme,
                                theirs.url.raw_host,
                                theirs.url.port or (443 if theirs.url.scheme == "https" else 80),
                            )
            ours, close = core._lane_head(
                state, client, base, "GET", "/", None, {"Connection": "close"}
            )
            assert close is True
            assert b"\r\nConnection: close\r\n" in ours
            with pytest.raises(httpx.LocalProtocolError):
                core._lane_head(state, client, base, "GET", "/", None, {"X-Evil": "a\r\nb: c"})
            with pytest.raises(httpx.LocalProtocolError):
                core._lane_head(state, client, base, "G T", "/", None, {})
            await client.aclose()

    run(main())


# a loopback server with the answers the tests need ---------------------------------------


class _Server:
    """Records each request (head and body) and answers by path."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, bytes]] = []
        self.connections = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def __aenter__(self) -> _Server:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # handlers waiting on their reader see the end
        for task in list(self._tasks):
            task.cancel()  # and those asleep in /slow wake up
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def base(self, prefix: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{prefix}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append((head, body))
                path = head.split(b" ")[1].decode()
                if not await self._answer(path, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.transport.abort()

    async def _answer(self, path: str, writer: asyncio.StreamWriter) -> bool:
        data = json.dumps(SESSION).encode()
        extra = b""
        status = b"201 Created"
        if path.endswith("/gzip"):
            data = gzip.compress(data)
            extra = b"content-encoding: gzip\r\n"
        elif path.endswith("/cookie"):
            extra = b"set-cookie: lane=1; Path=/\r\n"
        elif path.endswith(("/missing", _MISSING)):
            status = b"404 Not Found"
            data = b'{"error": "ResourceNotFound", "detail": "Not found"}'
        elif path.endswith("/big"):
            data = b'"' + b"x" * (3 * 1024 * 1024) + b'"'
        elif path.endswith("/slow"):
            await asyncio.sleep(5)
        elif path.endswith("/chunked"):
            writer.write(
                b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
                + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (data[:10], data[10:]))
                + b"0\r\n\r\n"
            )
            await writer.drain()
            return True
        writer.write(
            b"HTTP/1.1 %s\r\ncontent-type: application/json\r\n%scontent-length: %d\r\n\r\n%s"
            % (status, extra, len(data), data)
        )
        await writer.drain()
        return True


async def _raw(polar: AsyncPolar, path: str) -> httpx.Response:
    """A request through the SDK's send path (the lane for its own clients)."""
    core = core_of(polar)
    return await core._round_trip(  # pyright: ignore[reportPrivateUsage]
        "POST", path, b"{}", core._headers((True, "json")), NOT_GIVEN, NOT_GIVEN, path
    )


def test_a_lane_answer_is_a_read_httpx_response(run: Any) -> None:
    async def main() -> None:
        async with (
            _Server() as server,
            AsyncPolar(access_token=TOKEN, base_url=server.base()) as polar,
        ):
            session = await polar.customer_sessions.create(external_customer_id="u1")
            assert session.token == SESSION["token"]
            assert str(session.id) == SESSION["id"]
            response = await _raw(polar, "/v1/customer-sessions/")
            assert isinstance(response, _LaneResponse)  # it came by the lane
            assert response._made is None  # no request made yet
            assert response._headers is None  # nor headers
            assert response.status_code == 201
            assert response.headers.multi_items() == [
                ("content-type", "application/json"),
                ("content-length", str(len(json.dumps(SESSION)))),
            ]
            assert response.headers.raw == [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(json.dumps(SESSION))).encode()),
            ]
            assert response.reason_phrase == "Created"
            assert response.http_version == "HTTP/1.1"
            assert response.json() == SESSION
            assert response.text == json.dumps(SESSION)
            assert response.is_closed and response.is_stream_consumed
            assert response.num_bytes_downloaded == len(response.content)
            assert await response.aread() == response.content
            assert b"".join([c async for c in response.aiter_bytes()]) == response.content
            assert response.elapsed.total_seconds() > 0
            # The request, made when asked for, is the one httpx would have sent.
            request = response.request
            assert request.method == "POST"
            assert str(request.url) == server.base("/v1/customer-sessions/")
            assert request.headers["authorization"] == f"Bearer {TOKEN}"
            assert request.read() == b"{}"
            head, _ = server.requests[-1]
            assert _head(request)[0] == head
            assert response.url == request.url
            response.raise_for_status()
            copy = pickle.loads(pickle.dumps(response))
            assert copy.content == response.content
            assert copy.request.url == request.url
            assert copy.headers == response.headers
            unread = await _raw(polar, "/v1/customer-sessions/")
            assert unread._headers is None
            assert pickle.loads(pickle.dumps(unread)).headers == response.headers
            unread.headers = httpx.Headers({"x-set": "1"})  # as on any httpx.Response
            assert unread.headers == {"x-set": "1"}
            # A chunked answer too.
            chunked = await _raw(polar, "/v1/chunked")
            assert chunked.json() == SESSION
            # Everything went over one kept-alive connection.
            assert server.connections == 1

    run(main())


def test_a_prefixed_base_url_on_the_lane(run: Any) -> None:
    async def main() -> None:
        async with (
            _Server() as server,
            AsyncPolar(access_token=TOKEN, base_url=server.base("/polar")) as polar,
        ):
            await polar.customer_sessions.create(external_customer_id="u1")
            head, body = server.requests[-1]
            assert head.startswith(b"POST /polar/v1/customer-sessions/ HTTP/1.1\r\n")
            assert json.loads(body) == {"external_customer_id": "u1"}

    run(main())


def test_gzip_answers_are_decoded(run: Any) -> None:
    async def main() -> None:
        async with (
            _Server() as server,
            AsyncPolar(access_token=TOKEN, base_url=server.base()) as polar,
        ):
            response = await _raw(polar, "/v1/gzip")
            assert response.headers["content-encoding"] == "gzip"
            assert response.json() == SESSION
            assert response.num_bytes_downloaded < len(response.content)

    run(main())


def test_cookies_set_on_the_lane_are_kept_and_sent_back(run: Any) -> None:
    async def main() -> None:
        async with (
            _Server() as server,
            AsyncPolar(access_token=TOKEN, base_url=server.base()) as polar,
        ):
            await _raw(polar, "/v1/cookie")
            await _raw(polar, "/v1/customer-sessions/")
            head, _ = server.requests[-1]
            assert b"\r\ncookie: lane=1\r\n" in head.lower()

    run(main())


def test_error_answers_name_their_request(run: Any) -> None:
    async def main() -> None:
        async with (
            _Server() as server,
            AsyncPolar(access_token=TOKEN, base_url=server.base()) as polar,
        ):
            response = await _raw(polar, "/v1/missing")
            with pytest.raises(httpx.HTTPStatusError) as raised:
                response.raise_for_status()
            assert raised.value.request.url.path == "/v1/missing"
            with pytest.raises(NotFoundError) as info:
                await polar.customers.get(_MISSING)
            assert info.value.request is not None
            assert info.value.request.method == "GET"

    run(main())


def test_transport_errors_on_the_lane_carry_their_request(run: Any) -> None:
    async def main() -> None:
        base = f"http://127.0.0.1:{_refused_port()}"
        async with AsyncPolar(access_token=TOKEN, base_url=base, retry=None) as polar:
            with pytest.raises(APIConnectionError) as info:
                await polar.customer_sessions.create(external_customer_id="u1")
            assert info.value.request is not None
            assert str(info.value.request.url) == base + "/v1/customer-sessions/"
            cause = info.value.__cause__
            assert isinstance(cause, httpx.ConnectError)
            assert cause.request is info.value.request
            assert TOKEN not in str(info.value)

    run(main())


def test_the_deadline_on_the_lane(run: Any) -> None:
    async def main() -> None:
        async with (
            _Server() as server,
            AsyncPolar(
                access_token=TOKEN, base_url=server.base(), retry=None, deadline=0.3
            ) as polar,
        ):
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(APITimeoutError) as info:
                await _raw(polar, "/v1/slow")
            assert loop.time() - started < 2
            assert info.value.request is not None
            assert info.value.request.url.path == "/v1/slow"
            # The connection was dropped, not handed to the next call half-read.
            response = await _raw(polar, "/v1/customer-sessions/")
            assert response.json() == SESSION

    run(main())


def test_a_large_answer_through_the_lane_with_reading_paused(run: Any) -> None:
    async def main() -> None:
        async with (
            _Server() as server,
            AsyncPolar(access_token=TOKEN, base_url=server.base()) as polar,
        ):
            for _ in range(2):
                response = await _raw(polar, "/v1/big")
                assert len(response.content) == 3 * 1024 * 1024 + 2
            response = await _raw(polar, "/v1/customer-sessions/")
            assert response.json() == SESSION
            assert server.connections == 1  # the big answers left the connection reusable

    run(main())


def test_a_cancelled_lane_call_leaves_the_pool_usable(run: Any) -> None:
    async def main() -> None:
        async with (
            _Server() as server,
            AsyncPolar(access_token=TOKEN, base_url=server.base(), retry=None) as polar,
        ):
            for _ in range(3):
                task = asyncio.ensure_future(_raw(polar, "/v1/slow"))
                await asyncio.sleep(0.05)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            response = await _raw(polar, "/v1/customer-sessions/")
            assert response.json() == SESSION

    run(main())


def test_what_the_lane_leaves_to_httpx(run: Any) -> None:
    """Requests the lane does not take go the way httpx sends them (found in review)."""

    async def main() -> None:
        async with (
            _Server() as server,
            _Server() as other,
            AsyncPolar(access_token=TOKEN, base_url=server.base(), retry=None) as polar,
        ):
            core = core_of(polar)
            headers = core._headers((True, None))

            async def send(method: str, path: str) -> httpx.Response:
                return await core._round_trip(
                    method, path, None, headers, NOT_GIVEN, NOT_GIVEN, path
                )

            # A URL too long for httpx is refused before anything is sent.
            with pytest.raises(httpx.InvalidURL):
                await polar.customers.list(query="a" * 70_000)
            assert server.requests == []
            # Methods go out upper-cased, as httpx.Request writes them; HEAD has no body.
            await send("get", "/v1/customer-sessions/")
            assert server.requests[-1][0].startswith(b"GET /v1/customer-sessions/ HTTP/1.1")
            head = await send("head", "/v1/customer-sessions/")
            assert head.status_code == 201
            assert head.content == b""
            # A path that does not start with "/" is read with the base URL as one URL.
            await send("GET", f"@127.0.0.1:{other.port}/v1/customer-sessions/")
            assert len(other.requests) == 1

    run(main())
