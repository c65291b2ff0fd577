"""Integration: the blocking `Polar` facade against a real uvicorn server on loopback.

Covers the portal lifecycle (lazy start, `with`, `close()`, use after close), many threads on
one client, calls from code with a running event loop, calls from the portal's own thread,
`os.fork()`, interpreter exit without `close()`, and exceptions crossing the facade unchanged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from polar_sdk import AsyncPolar, Polar
from polar_sdk._portal import PortalCore
from polar_sdk.errors import (
    APIConnectionError,
    BlockingUsageError,
    ClientClosedError,
    ConfigurationError,
    HTTPValidationError,
    InvalidRequestError,
    NotFoundError,
)
from polar_sdk.models import CustomerSession
from tests.conftest import TOKEN
from tests.fakeapi import FakePolarAPI

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
CUSTOMER_ID = "32f1da23-861d-4749-b8e3-08a3664580a8"
SESSION_TOKEN = "polar_mst_sessionTokenThatMustStaySecret000000000000"
SESSION_BODY: dict[str, Any] = {
    "created_at": "2026-11-26T12:04:25.468330Z",
    "modified_at": None,
    "id": "a39a535f-3886-4942-ab13-a59a870bad4f",
    "token": SESSION_TOKEN,
    "expires_at": "2026-11-26T13:04:25.468314Z",
    "return_url": None,
    "customer_portal_url": f"https://polar.sh/org/portal?customer_session_token={SESSION_TOKEN}",
    "customer_id": CUSTOMER_ID,
    "customer": {
        "id": CUSTOMER_ID,
        "created_at": "2026-11-26T11:59:24.781076Z",
        "modified_at": None,
        "metadata": {},
        "external_id": "usr_123",
        "email": "jane.doe@example.com",
        "email_verified": False,
        "type": "individual",
        "name": "Jane Doe",
        "billing_name": None,
        "billing_address": None,
        "tax_id": None,
        "locale": None,
        "organization_id": "7a1cbd47-5b0a-4bc2-8d7c-34d6a6c4f8a1",
        "deleted_at": None,
        "avatar_url": None,
    },
}
VALIDATION_422 = {
    "detail": [
        {
            "type": "customer_not_found",
            "loc": ["body", "customer_id"],
            "msg": "Customer does not exist.",
            "input": CUSTOMER_ID,
        }
    ]
}


def portal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "polar-sdk-portal"]


def client_for(api: FakePolarAPI, **kwargs: Any) -> Polar:
    return Polar(TOKEN, base_url=api.url, **kwargs)


class PeerRecordingAPI(FakePolarAPI):
    """The fake API, also noting the client address of every request (one per connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[tuple[str, int]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            host, port = scope["client"]
            self.peers.append((host, port))
        await super().__call__(scope, receive, send)


@pytest.fixture(scope="module")
def peer_api_server() -> Iterator[PeerRecordingAPI]:
    server = PeerRecordingAPI()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def peer_api(peer_api_server: PeerRecordingAPI) -> Iterator[PeerRecordingAPI]:
    peer_api_server.reset()
    peer_api_server.peers.clear()
    yield peer_api_server
    peer_api_server.reset()


# lifecycle ------------------------------------------------------------------------------


def test_create_sends_the_same_request_and_decodes_like_async(fake_api: FakePolarAPI) -> None:
    fake_api.reply(201, SESSION_BODY)
    fake_api.reply(201, SESSION_BODY)
    with client_for(fake_api) as polar:
        sync_session = polar.customer_sessions.create(
            customer_id=CUSTOMER_ID, return_url="https://example.com/account"
        )

    async def via_async() -> CustomerSession:
        async with AsyncPolar(TOKEN, base_url=fake_api.url) as apolar:
            return await apolar.customer_sessions.create(
                customer_id=CUSTOMER_ID, return_url="https://example.com/account"
            )

    async_session = asyncio.run(via_async())
    assert isinstance(sync_session, CustomerSession)
    assert sync_session == async_session
    assert sync_session.expires_at.tzinfo is not None
    sync_sent, async_sent = fake_api.requests
    assert sync_sent.method == async_sent.method == "POST"
    assert sync_sent.path == async_sent.path == "/v1/customer-sessions/"
    assert sync_sent.json() == async_sent.json()
    assert sync_sent.json() == {
        "customer_id": CUSTOMER_ID,
        "return_url": "https://example.com/account",
    }
    for header in ("authorization", "polar-version", "user-agent", "content-type"):
        assert sync_sent.headers[header] == async_sent.headers[header]


def test_portal_starts_lazily_and_close_stops_it(fake_api: FakePolarAPI) -> None:
    before = set(portal_threads())
    polar = client_for(fake_api)
    assert set(portal_threads()) == before  # constructing starts nothing
    fake_api.reply(201, SESSION_BODY)
    polar.customer_sessions.create(external_customer_id="usr_123")
    started = set(portal_threads()) - before
    assert len(started) == 1
    (thread,) = started
    assert thread.daemon
    assert not polar.closed
    polar.close()
    assert polar.closed
    assert not thread.is_alive()
    polar.close()  # idempotent
    with pytest.raises(ClientClosedError, match="closed"):
        polar.customer_sessions.create(external_customer_id="usr_123")
    assert len(fake_api.requests) == 1  # nothing sent after close
    assert set(portal_threads()) == before  # and no portal was restarted


def test_with_block_starts_the_portal_and_closes_on_exit(fake_api: FakePolarAPI) -> None:
    before = set(portal_threads())
    with client_for(fake_api) as polar:
        started = set(portal_threads()) - before
        assert len(started) == 1
    assert polar.closed
    assert not any(t.is_alive() for t in started)
    with pytest.raises(ClientClosedError):
        polar.customer_sessions.create(customer_id=CUSTOMER_ID)


def test_configuration_errors_surface_in_the_constructor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLAR_ACCESS_TOKEN", "  ")
    before = set(portal_threads())
    with pytest.raises(ConfigurationError, match="POLAR_ACCESS_TOKEN"):
        Polar()
    with pytest.raises(ConfigurationError, match="base_url"):
        Polar(TOKEN, base_url="ftp://example.com")
    assert set(portal_threads()) == before


def test_token_from_environment_and_repr_without_secrets(
    fake_api: FakePolarAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLAR_ACCESS_TOKEN", TOKEN)
    fake_api.reply(201, SESSION_BODY)
    with Polar(base_url=fake_api.url) as polar:
        session = polar.customer_sessions.create(external_customer_id="usr_123")
        assert fake_api.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
        shown = repr(polar) + repr(polar.customer_sessions) + repr(session)
        assert polar.base_url == fake_api.url
    assert TOKEN not in shown
    assert SESSION_TOKEN not in shown


# threads ---------------------------------------------------------------------------------


def test_fifty_threads_share_one_client_and_one_pool(peer_api: PeerRecordingAPI) -> None:
    peer_api.always(201, SESSION_BODY)
    threads = 50
    before = set(portal_threads())
    barrier = threading.Barrier(threads)
    polar = client_for(peer_api, limits=httpx.Limits(max_connections=4))

    def one(index: int) -> tuple[str, str]:
        barrier.wait(timeout=30)
        session = polar.customer_sessions.create(external_customer_id=f"usr_{index}")
        return session.id, threading.current_thread().name

    try:
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(one, range(threads), timeout=120))
        portals = set(portal_threads()) - before
    finally:
        polar.close()
    assert len(results) == threads
    assert {r[0] for r in results} == {SESSION_BODY["id"]}
    assert len({r[1] for r in results}) == threads  # really 50 different calling threads
    sent = sorted(r.json()["external_customer_id"] for r in peer_api.requests)
    assert sent == sorted(f"usr_{i}" for i in range(threads))
    # One event-loop thread, one pool: its 4-connection limit bounds the whole program.
    assert len(portals) == 1
    assert 1 <= len(set(peer_api.peers)) <= 4


def test_works_from_code_with_a_running_event_loop(fake_api: FakePolarAPI) -> None:
    fake_api.always(201, SESSION_BODY)

    async def notebook_cell(polar: Polar) -> list[str]:
        asyncio.get_running_loop()  # we are inside a running loop, as in Jupyter
        first = polar.customer_sessions.create(customer_id=CUSTOMER_ID)
        second = polar.customer_sessions.create(external_customer_id="usr_123")
        return [first.id, second.id]

    with client_for(fake_api) as polar:
        assert asyncio.run(notebook_cell(polar)) == [SESSION_BODY["id"]] * 2
        # the client keeps working after that loop is gone
        assert polar.customer_sessions.create(customer_id=CUSTOMER_ID).id == SESSION_BODY["id"]
    assert len(fake_api.requests) == 3


def test_call_from_the_portal_thread_raises_instead_of_deadlocking(
    fake_api: FakePolarAPI,
) -> None:
    fake_api.always(201, SESSION_BODY)
    polar_box: list[Polar] = []
    seen: list[BaseException] = []

    async def hook(request: httpx.Request) -> None:
        try:
            polar_box[0].close()
        except BlockingUsageError as exc:
            seen.append(exc)
        try:
            polar_box[0].customer_sessions.create(customer_id=CUSTOMER_ID)
        except BlockingUsageError as exc:
            seen.append(exc)
            raise

    http_client = httpx.AsyncClient(event_hooks={"request": [hook]})
    polar = client_for(fake_api, http_client=http_client)
    polar_box.append(polar)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            polar.customer_sessions.create(customer_id=CUSTOMER_ID, retry=None)
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(timeout=30)
    assert not caller.is_alive(), "the call deadlocked"
    assert len(seen) == 2  # close() and the nested call were both refused
    assert all("own event-loop thread" in str(exc) for exc in seen)
    assert len(outcome) == 1
    assert isinstance(outcome[0], BlockingUsageError)
    assert fake_api.requests == []  # the hook refused before anything was sent
    assert not polar.closed
    polar.close()
    assert polar.closed


def test_close_while_other_threads_wait_fails_their_calls_instead_of_hanging() -> None:
    from polar_sdk.testing import FakePolar

    fake = FakePolar(latency=0.5)
    fake.add_individual(id=CUSTOMER_ID, external_id="usr_123", email="u@example.com")
    outcomes: list[object] = []
    with fake.serve() as server:
        polar = Polar(fake.token, base_url=server.url)
        polar.customer_sessions.create(external_customer_id="usr_123")  # portal running

        def call() -> None:
            try:
                outcomes.append(polar.customer_sessions.create(external_customer_id="usr_123"))
            except Exception as exc:
                outcomes.append(exc)

        callers = [threading.Thread(target=call, daemon=True) for _ in range(8)]
        for t in callers:
            t.start()
        deadline = time.monotonic() + 10
        while len(fake.requests) < 1 + len(callers) and time.monotonic() < deadline:
            time.sleep(0.01)  # wait until every call is in flight on the server
        polar.close()
        for t in callers:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in callers), "a caller hung after close()"
    assert len(outcomes) == len(callers)
    # Each call either finished or failed as closed; none was left waiting.
    allowed = (CustomerSession, ClientClosedError, APIConnectionError)
    assert all(isinstance(o, allowed) for o in outcomes), outcomes
    with pytest.raises(ClientClosedError):
        polar.customer_sessions.create(external_customer_id="usr_123")


def test_a_call_handed_to_a_stopped_portal_fails_as_closed() -> None:
    numbers = _Numbers()
    core = PortalCore(lambda: numbers)
    core.start()
    run = core._run  # the hand-off a racing caller may still hold after close()
    assert run is not None
    core.close()
    assert not run.thread.is_alive()

    async def never_runs() -> int:
        return 1

    with pytest.raises(ClientClosedError, match="closed"):
        run.submit(never_runs)
    assert run.pending == set()


# fork --------------------------------------------------------------------------------------


def _run_in_child(body: Any) -> dict[str, Any]:
    """Fork; run `body()` in the child and return what it reported (JSON over a pipe)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            os.close(read_fd)
            report = body()
        except BaseException as exc:
            report = {"error": f"{type(exc).__name__}: {exc}"}
            code = 3
        try:
            os.write(write_fd, json.dumps(report).encode())
        finally:
            os._exit(code)
    os.close(write_fd)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.02)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    assert os.waitstatus_to_exitcode(status) == 0, data
    report: dict[str, Any] = json.loads(data)
    return report


needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only")
fork_warning = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")


@needs_fork
@fork_warning
def test_forked_child_gets_a_fresh_portal_and_pool(peer_api: PeerRecordingAPI) -> None:
    peer_api.always(201, SESSION_BODY)
    with client_for(peer_api) as polar:
        polar.customer_sessions.create(external_customer_id="parent-1")
        parent_portals = {t.ident for t in portal_threads()}

        def child() -> dict[str, Any]:
            from polar_sdk import _portal

            # The parent's wake-up channel is shared with the parent: the child drops it.
            inherited = _portal._threads.channel  # pyright: ignore[reportPrivateUsage]
            session = polar.customer_sessions.create(external_customer_id="child-1")
            again = polar.customer_sessions.create(external_customer_id="child-2")
            idents = [t.ident for t in portal_threads()]
            own = _portal._threads.channel  # pyright: ignore[reportPrivateUsage]
            polar.close()
            return {
                "ids": [session.id, again.id],
                "portals": idents,
                "closed": polar.closed,
                "channels": [inherited is None, own is not None],
            }

        report = _run_in_child(child)
        polar.customer_sessions.create(external_customer_id="parent-2")
        assert not polar.closed
    assert report["ids"] == [SESSION_BODY["id"]] * 2
    assert report["closed"] is True
    assert report["channels"] == [True, True] or os.name != "posix"
    assert len(report["portals"]) == 1
    by_customer: dict[str, tuple[str, int]] = {}
    for seen, peer in zip(peer_api.requests, peer_api.peers, strict=True):
        by_customer[seen.json()["external_customer_id"]] = peer
    # The child opened its own connection; the parent kept using its own pool.
    assert by_customer["child-1"] not in (by_customer["parent-1"], by_customer["parent-2"])
    assert by_customer["child-1"] == by_customer["child-2"]
    assert by_customer["parent-1"] == by_customer["parent-2"]
    assert parent_portals  # the parent's portal existed when forking


@needs_fork
@fork_warning
def test_forked_child_refuses_a_caller_supplied_http_client(fake_api: FakePolarAPI) -> None:
    fake_api.always(201, SESSION_BODY)
    with client_for(fake_api, http_client=httpx.AsyncClient()) as polar:
        polar.customer_sessions.create(external_customer_id="parent-1")

        def child() -> dict[str, Any]:
            try:
                polar.customer_sessions.create(external_customer_id="child-1")
            except BlockingUsageError as exc:
                return {"error": type(exc).__name__, "message": str(exc)}
            return {"error": None}

        report = _run_in_child(child)
        polar.customer_sessions.create(external_customer_id="parent-2")
    assert report["error"] == "BlockingUsageError"
    assert "child process" in report["message"]
    sent = [r.json()["external_customer_id"] for r in fake_api.requests]
    assert sent == ["parent-1", "parent-2"]


# process exit ------------------------------------------------------------------------------


@pytest.mark.parametrize("entered", [False, True], ids=["plain", "with-block-left-open"])
def test_script_that_never_closes_exits_promptly(fake_api: FakePolarAPI, entered: bool) -> None:
    fake_api.always(201, SESSION_BODY)
    script = textwrap.dedent(
        f"""
        from polar_sdk import Polar

        polar = Polar({TOKEN!r}, base_url={fake_api.url!r})
        if {entered!r}:
            polar.__enter__()
        session = polar.customer_sessions.create(customer_id={CUSTOMER_ID!r})
        print("created", session.id)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,  # a hang detector, not a speed claim
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"created {SESSION_BODY['id']}"
    assert "Traceback" not in done.stderr
    assert len(fake_api.requests) == 1


# exceptions ----------------------------------------------------------------------------------


def _async_error(url: str, **kwargs: Any) -> BaseException:
    async def run() -> BaseException:
        async with AsyncPolar(TOKEN, base_url=url) as apolar:
            try:
                await apolar.customer_sessions.create(**kwargs)
            except Exception as exc:
                return exc
        raise AssertionError("no error")

    return asyncio.run(run())


def _sync_error(url: str, **kwargs: Any) -> BaseException:
    with Polar(TOKEN, base_url=url) as polar:
        try:
            polar.customer_sessions.create(**kwargs)
        except Exception as exc:
            return exc
    raise AssertionError("no error")


def _same_error(sync_exc: BaseException, async_exc: BaseException) -> None:
    assert type(sync_exc) is type(async_exc)
    assert str(sync_exc) == str(async_exc)
    for name in ("status_code", "body", "data", "error", "detail", "retry_after"):
        assert getattr(sync_exc, name, None) == getattr(async_exc, name, None), name


def test_status_errors_cross_the_facade_unchanged(fake_api: FakePolarAPI) -> None:
    fake_api.reply(422, VALIDATION_422)
    async_exc = _async_error(fake_api.url, customer_id=CUSTOMER_ID)
    fake_api.reply(422, VALIDATION_422)
    sync_exc = _sync_error(fake_api.url, customer_id=CUSTOMER_ID)
    assert isinstance(sync_exc, HTTPValidationError)
    _same_error(sync_exc, async_exc)
    assert sync_exc.detail[0].msg == "Customer does not exist."
    assert sync_exc.request.url.path == "/v1/customer-sessions/"

    fake_api.reply(404, {"detail": "Not Found"}, headers={"polar-version": "2026-10"})
    async_exc = _async_error(fake_api.url, customer_id=CUSTOMER_ID)
    fake_api.reply(404, {"detail": "Not Found"}, headers={"polar-version": "2026-10"})
    sync_exc = _sync_error(fake_api.url, customer_id=CUSTOMER_ID)
    assert isinstance(sync_exc, NotFoundError)
    _same_error(sync_exc, async_exc)


def test_argument_and_connection_errors_cross_the_facade_unchanged(
    fake_api: FakePolarAPI,
) -> None:
    both = {"customer_id": CUSTOMER_ID, "external_customer_id": "usr_1"}
    sync_exc = _sync_error(fake_api.url, **both)
    assert isinstance(sync_exc, InvalidRequestError)
    _same_error(sync_exc, _async_error(fake_api.url, **both))
    assert fake_api.requests == []

    with socket_bound_and_closed() as dead_url:
        sync_exc = _sync_error(dead_url, customer_id=CUSTOMER_ID, retry=None)
        async_exc = _async_error(dead_url, customer_id=CUSTOMER_ID, retry=None)
    assert isinstance(sync_exc, APIConnectionError)
    assert type(sync_exc) is type(async_exc)
    assert isinstance(sync_exc.__cause__, httpx.ConnectError)


class socket_bound_and_closed:
    """A loopback URL on which nothing listens (the port was bound once, then released)."""

    def __enter__(self) -> str:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        return None


# mirror ----------------------------------------------------------------------------------------


def _groups(client: object, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], object]:
    """Every resource object reachable from `client` (nested groups included), by path."""
    found: dict[tuple[str, ...], object] = {}
    owner = type(client)
    for name in dir(owner):
        if name.startswith("_") or name == "with_raw_response":
            continue
        if isinstance(inspect.getattr_static(owner, name), functools.cached_property):
            group = getattr(client, name)
            found[(*path, name)] = group
            found.update(_groups(group, (*path, name)))
    return found


def _methods(group: object) -> dict[str, Any]:
    return {
        n: m
        for n, m in vars(type(group)).items()
        if callable(m) and not n.startswith("_") and not isinstance(m, functools.cached_property)
    }


def test_polar_mirrors_async_polar_signatures_and_docstrings() -> None:
    assert inspect.signature(Polar.__init__) == inspect.signature(AsyncPolar.__init__)
    assert inspect.signature(Polar.with_options).parameters.keys() == (
        inspect.signature(AsyncPolar.with_options).parameters.keys()
    )
    polar = Polar(TOKEN)
    apolar = AsyncPolar(TOKEN)
    sync_groups = _groups(polar)
    async_groups = _groups(apolar)
    assert set(sync_groups) == set(async_groups)
    assert len(async_groups) >= 40  # 27 top-level groups and their nested ones
    operations = 0
    for path, async_group in async_groups.items():
        sync_group = sync_groups[path]
        async_methods, sync_methods = _methods(async_group), _methods(sync_group)
        assert set(sync_methods) == set(async_methods), path
        for name, a in async_methods.items():
            s = sync_methods[name]
            operations += 1
            assert not inspect.iscoroutinefunction(s), (path, name)
            a_params = inspect.signature(a).parameters
            s_params = inspect.signature(s).parameters
            assert list(a_params) == list(s_params), (path, name)
            for param in a_params:
                assert a_params[param].default == s_params[param].default, (path, name, param)
                assert a_params[param].kind == s_params[param].kind, (path, name, param)
            # Docstrings are written for each world: no await, aclose or async for here.
            doc = s.__doc__ or ""
            assert doc.splitlines()[0] == (a.__doc__ or "").splitlines()[0]
            for word in ("await", "aclose", "async for"):
                assert word not in doc, (path, name, word)
        raw_async, raw_sync = async_group.with_raw_response, sync_group.with_raw_response  # type: ignore[attr-defined]
        assert set(vars(raw_async)) == set(vars(raw_sync)) == set(async_methods)
    assert operations == 186
    # The client's own docstrings are rendered for the blocking world too.
    texts = [Polar.__doc__ or ""] + [
        getattr(Polar, name).__doc__ or ""
        for name in dir(Polar)
        if not name.startswith("_") and callable(getattr(Polar, name))
    ]
    for text in texts:
        for word in ("aclose", "await ", "async for", "async with"):
            assert word not in text, (word, text[:80])
    polar.close()


# the portal's iterator support (used by generated methods for async generators) ----------------


class _Numbers:
    def __init__(self) -> None:
        self.closed_generators = 0
        self.closed = False

    async def count(self, up_to: int) -> AsyncIterator[int]:
        try:
            for i in range(up_to):
                await asyncio.sleep(0)
                yield i
        finally:
            self.closed_generators += 1

    async def aclose(self) -> None:
        self.closed = True


def test_portal_iterates_async_generators_and_closes_them_on_break() -> None:
    numbers = _Numbers()
    core = PortalCore(lambda: numbers)
    try:
        assert list(core.iterate(lambda: numbers.count(4))) == [0, 1, 2, 3]
        assert numbers.closed_generators == 1
        for item in core.iterate(lambda: numbers.count(100)):
            if item == 2:
                break
        assert numbers.closed_generators == 2  # the early break closed it on the loop
    finally:
        core.close()
    assert numbers.closed


# wake-up channels ----------------------------------------------------------------------------


async def _after(delay: float, value: int) -> int:
    await asyncio.sleep(delay)
    return value


needs_channels = pytest.mark.skipif(os.name != "posix", reason="wake-up channels are POSIX only")


@needs_channels
def test_a_stray_wake_up_does_not_end_the_next_call_early() -> None:
    from polar_sdk import _portal

    core = PortalCore(_Numbers)
    try:
        assert core.call(_after, 0, 1) == 1  # this thread has its channel now
        channel = _portal._threads.channel  # pyright: ignore[reportPrivateUsage]
        assert channel is not None
        channel.signal()  # left over, as from a call its caller stopped waiting for
        channel.signal()
        started = time.monotonic()
        assert core.call(_after, 0.05, 42) == 42
        assert time.monotonic() - started >= 0.04
    finally:
        core.close()


@needs_channels
def test_a_call_its_caller_stopped_waiting_for_leaves_the_next_call_intact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from polar_sdk import _portal

    core = PortalCore(_Numbers)
    try:
        assert core.call(_after, 0, 1) == 1
        real_wait = _portal._Channel.wait  # pyright: ignore[reportPrivateUsage]

        def interrupted(self: Any) -> None:
            monkeypatch.setattr(_portal._Channel, "wait", real_wait)  # pyright: ignore[reportPrivateUsage]
            raise KeyboardInterrupt

        monkeypatch.setattr(_portal._Channel, "wait", interrupted)  # pyright: ignore[reportPrivateUsage]
        with pytest.raises(KeyboardInterrupt):
            core.call(_after, 0.05, 2)
        # The abandoned call is cancelled on the loop and its wake-up comes later, while the
        # next call waits: that call still returns its own result.
        assert core.call(_after, 0.1, 3) == 3
        run = core._run  # pyright: ignore[reportPrivateUsage]
        assert run is not None
        assert run.pending == set()
    finally:
        core.close()


@needs_channels
def test_wake_up_channels_are_bounded_and_closed_with_their_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from polar_sdk import _portal

    core = PortalCore(_Numbers)
    before = _portal._channels_live  # pyright: ignore[reportPrivateUsage]
    monkeypatch.setattr(_portal, "_CHANNELS_MAX", before + 2)
    one_at_a_time = threading.Lock()  # lone calls: each caller asks for a channel
    all_called = threading.Barrier(5)
    results: list[int] = []
    live: list[int] = []

    def caller(value: int) -> None:
        with one_at_a_time:
            results.append(core.call(_after, 0, value))
        all_called.wait(timeout=10)  # every thread alive: its channel (if any) still held
        all_called.wait(timeout=10)

    try:
        threads = [threading.Thread(target=caller, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        all_called.wait(timeout=10)
        live.append(_portal._channels_live)  # pyright: ignore[reportPrivateUsage]
        all_called.wait(timeout=10)
        for t in threads:
            t.join(timeout=10)
        del threads, t
        gc.collect()
        live.append(_portal._channels_live)  # pyright: ignore[reportPrivateUsage]
    finally:
        core.close()
    assert sorted(results) == [0, 1, 2, 3]  # threads over the bound used locks
    assert live == [before + 2, before]  # at most two held; closed when the threads ended


def _run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=60,  # a hang detector, not a speed claim
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        check=False,
    )


_SIGNAL_SCRIPT = """
    import asyncio, os, signal, sys, threading, time
    if sys.argv[1] == "pipe":
        del os.eventfd  # the channel other POSIX systems get
    from polar_sdk._portal import PortalCore

    class C:
        async def aclose(self):
            pass

    async def after(delay, value):
        await asyncio.sleep(delay)
        return value

    core, other = PortalCore(C), PortalCore(C)
    nested = []

    def handler(signum, frame):
        if sys.argv[2] == "nested":  # a blocking call inside the handler, on either client
            time.sleep(0.3)  # the outer call is done (and its wake-up sent) meanwhile
            nested.append(core.call(after, 0, "nested"))
            nested.append(other.call(after, 0.05, "other"))

    signal.signal(signal.SIGUSR1, handler)
    threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1)).start()
    print(core.call(after, 0.2, "outer"), *nested)
    core.close()
    other.close()
"""


@needs_channels
@pytest.mark.parametrize("channel", ["eventfd", "pipe"])
@pytest.mark.parametrize("handler", ["returns", "nested"])
def test_a_signal_handler_while_a_call_waits(channel: str, handler: str) -> None:
    """A handler that returns, or makes blocking calls itself, leaves the waiting call intact."""
    if channel == "eventfd" and not hasattr(os, "eventfd"):
        pytest.skip("os.eventfd is Linux only")
    done = _run_script(_SIGNAL_SCRIPT, channel, handler)
    assert done.returncode == 0, done.stderr
    expected = "outer nested other" if handler == "nested" else "outer"
    assert done.stdout.strip() == expected


@needs_channels
def test_a_client_closed_by_an_atexit_hook_registered_first() -> None:
    done = _run_script(
        """
        import asyncio, atexit
        from polar_sdk._portal import PortalCore

        class C:
            async def aclose(self):
                await asyncio.sleep(0.05)
                print("aclose ran", flush=True)

        async def after():
            await asyncio.sleep(0.05)
            return "ok"

        core = PortalCore(C)
        atexit.register(core.close)  # before the thread's channel exists
        print(core.call(after), flush=True)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "aclose", "ran"]
    assert "Error" not in done.stderr


@needs_channels
def test_threads_whose_call_failed_give_their_channel_back_without_a_gc() -> None:
    import gc

    from polar_sdk import _portal

    async def boom() -> None:
        raise ValueError("no")

    def caller() -> None:
        with pytest.raises(ValueError, match="no"):
            core.call(boom)

    core = PortalCore(_Numbers)
    before = _portal._channels_live  # pyright: ignore[reportPrivateUsage]
    gc.disable()
    try:
        for _ in range(20):
            thread = threading.Thread(target=caller)
            thread.start()
            thread.join(timeout=10)
        live = _portal._channels_live  # pyright: ignore[reportPrivateUsage]
    finally:
        gc.enable()
        core.close()
    assert live == before  # freed with their threads, not left in cycles for the collector
