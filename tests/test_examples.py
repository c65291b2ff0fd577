"""The examples in examples/ run and behave as documented (servers on loopback, bounded time)."""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import uvicorn

from polar_sdk import AsyncPolar, Polar
from polar_sdk.testing import FakePolar

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TIMEOUT = 60


def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def run_example(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run an example as a subprocess with a clean POLAR_* environment plus `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("POLAR_")}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def seeded_fake(**kwargs: Any) -> FakePolar:
    fake = FakePolar(**kwargs)
    fake.add_individual(external_id="usr_jane", email="jane@example.com", name="Jane")
    fake.add_individual(external_id="usr_john", email="john@example.com", name="John")
    return fake


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, process: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited early with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


# ---- FastAPI ------------------------------------------------------------------------------------


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Run an ASGI app under a real uvicorn on 127.0.0.1 (lifespan on) in a thread."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def test_fastapi_shares_one_client_and_redirects_to_the_portal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fastapi_app = load_example("fastapi_app")
    fake = seeded_fake()
    made: list[AsyncPolar] = []

    def factory() -> AsyncPolar:
        made.append(fake.async_client(retry=None))
        return made[-1]

    caplog.set_level(logging.INFO, logger="examples.fastapi_app")
    app = fastapi_app.create_app(polar_factory=factory)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        jane = http.get("/billing/portal", headers={"x-user-id": "usr_jane"})
        john = http.get("/billing/portal", headers={"x-user-id": "usr_john"})
        anonymous = http.get("/billing/portal")
        unknown = http.get("/billing/portal", headers={"x-user-id": "usr_nobody"})
        fake.fail_next(429, headers={"retry-after": "12"})
        limited = http.get("/billing/portal", headers={"x-user-id": "usr_jane"})
        fake.scopes = frozenset()
        forbidden = http.get("/billing/portal", headers={"x-user-id": "usr_jane"})
        fake.token = "polar_oat_rotatedAway"
        unauthorized = http.get("/billing/portal", headers={"x-user-id": "usr_jane"})
        assert not made[0].closed
    # One client for the whole app, closed at shutdown.
    assert len(made) == 1
    assert made[0].closed
    # Success: a 303 to the session's portal URL, with the app's account page as return URL.
    assert jane.status_code == john.status_code == 303
    assert jane.headers["location"] == fake.sessions[0].customer_portal_url
    assert john.headers["location"] == fake.sessions[1].customer_portal_url
    assert fake.sessions[0].customer.external_id == "usr_jane"
    assert fake.requests[0].json == {
        "external_customer_id": "usr_jane",
        "return_url": f"{url}/account",
    }
    assert anonymous.status_code == 401
    # Polar's 422 becomes a 400 that carries the detail.
    assert unknown.status_code == 400
    assert unknown.json() == {
        "detail": [{"loc": ["body", "external_customer_id"], "msg": "Customer does not exist."}]
    }
    assert (limited.status_code, limited.headers["retry-after"]) == (503, "12")
    # Our credentials were refused: 502 for the user, a log line for the operator.
    assert forbidden.status_code == unauthorized.status_code == 502
    assert forbidden.json() == {"detail": "billing is unavailable"}
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2
    assert "HTTP 403, error=insufficient_scope" in errors[0]
    assert "HTTP 401, error=invalid_token" in errors[1]
    assert all(FakePolar().token not in message for message in errors)
    assert [r.status for r in fake.requests] == [201, 201, 422, 429, 403, 401]


def test_fastapi_under_the_uvicorn_command_logs_no_token() -> None:
    """`uvicorn fastapi_app:app` as users run it, configured by environment variables."""
    fake = seeded_fake()
    port = free_port()
    with fake.serve() as polar_api:
        command = [sys.executable, "-m", "uvicorn", "fastapi_app:app", "--app-dir", str(EXAMPLES)]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("POLAR_")},
                "POLAR_ACCESS_TOKEN": fake.token,
                "POLAR_BASE_URL": polar_api.url,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(f"{url}/account", process)
            with httpx.Client(base_url=url, timeout=10) as http:
                ok = http.get("/billing/portal", headers={"x-user-id": "usr_jane"})
                fake.token = "polar_oat_someOtherToken"
                refused = http.get("/billing/portal", headers={"x-user-id": "usr_jane"})
        finally:
            process.terminate()
            stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert ok.status_code == 303
    assert ok.headers["location"] == fake.sessions[0].customer_portal_url
    assert refused.status_code == 502
    assert "Polar refused our credentials: HTTP 401, error=invalid_token" in stderr
    output = stdout + stderr
    assert FakePolar().token not in output
    assert fake.sessions[0].token not in output


# ---- workers ------------------------------------------------------------------------------------


def _batch_ids(fake: FakePolar) -> tuple[list[str], list[str]]:
    good = [fake.add_individual(email=f"c{i}@example.com").id for i in range(10)]
    unknown = "b9a367d8-09e7-45ff-b92c-2ea18e3008df"
    return [*good[:5], unknown, "not-a-uuid", *good[5:]], good


def _check_batch(report: Any, fake: FakePolar, good: list[str], delivered: list[str]) -> None:
    assert sorted(report.succeeded) == sorted(good) == sorted(delivered)
    assert report.failed == {
        "b9a367d8-09e7-45ff-b92c-2ea18e3008df": "Customer does not exist.",
        "not-a-uuid": "InvalidRequestError",
    }
    assert report.not_attempted == []
    assert report.aborted is None
    assert fake.max_in_flight == 3  # bounded, and the bound is used
    assert "12 of 12 customers" in report.summary()


def test_asyncio_worker_bounded_concurrency_and_per_item_errors() -> None:
    import asyncio

    worker = load_example("asyncio_worker")
    fake = FakePolar(latency=0.02)
    ids, good = _batch_ids(fake)
    delivered: list[str] = []

    async def deliver(customer_id: str, session: Any) -> None:
        assert session.customer_id == customer_id
        delivered.append(customer_id)

    async def main() -> Any:
        async with fake.async_client() as polar:
            return await worker.run_batch(polar, ids, concurrency=3, deliver=deliver)

    _check_batch(asyncio.run(main()), fake, good, delivered)
    # The invalid id never reached the server.
    assert len(fake.requests) == 11


def test_trio_worker_bounded_concurrency_and_per_item_errors() -> None:
    import trio

    worker = load_example("trio_worker")
    fake = FakePolar(latency=0.02)
    ids, good = _batch_ids(fake)
    delivered: list[str] = []

    async def deliver(customer_id: str, session: Any) -> None:
        delivered.append(customer_id)

    async def main() -> Any:
        async with fake.async_client() as polar:
            return await worker.run_batch(polar, ids, concurrency=3, deliver=deliver)

    _check_batch(trio.run(main), fake, good, delivered)


@pytest.mark.parametrize("name", ["asyncio_worker", "trio_worker"])
def test_worker_stops_taking_items_when_the_token_is_refused(name: str) -> None:
    worker = load_example(name)
    fake = FakePolar(latency=0.01)
    ids = [fake.add_individual(email=f"c{i}@example.com").id for i in range(20)]
    fake.token = "polar_oat_notTheOneTheClientHas"

    async def main() -> Any:
        async with AsyncPolar(
            "polar_oat_x",
            base_url="http://x.localhost",
            http_client=httpx.AsyncClient(transport=fake.transport()),
        ) as polar:
            return await worker.run_batch(polar, ids, concurrency=2)

    if name == "trio_worker":
        import trio

        report = trio.run(main)
    else:
        import asyncio

        report = asyncio.run(main())
    assert report.aborted is not None and "HTTP 401" in report.aborted
    assert report.succeeded == []
    assert 1 <= len(report.failed) <= 2  # only what was already in flight
    assert len(report.failed) + len(report.not_attempted) == 20
    assert len(fake.requests) == len(report.failed)


@pytest.mark.parametrize("name", ["asyncio_worker", "trio_worker"])
def test_worker_command_line(name: str) -> None:
    fake = seeded_fake()
    with fake.serve() as server:
        result = run_example(
            f"examples/{name}.py",
            "--base-url",
            server.url,
            "--external",
            "--concurrency",
            "2",
            "-",
            env={"POLAR_ACCESS_TOKEN": fake.token},
            stdin="usr_jane\nusr_nobody\nusr_john\n",
        )
        no_token = run_example(f"examples/{name}.py", "--base-url", server.url, "x")
    assert result.returncode == 1, result.stderr
    assert "processed 3 of 3 customers" in result.stdout
    assert "2 ok, 1 failed" in result.stdout
    assert "1 x Customer does not exist." in result.stdout
    assert "usr_jane: session ready" in result.stdout
    for session in fake.sessions:
        assert session.token not in result.stdout + result.stderr
    assert len(fake.sessions) == 2
    assert no_token.returncode == 2
    assert "POLAR_ACCESS_TOKEN" in no_token.stderr


# ---- quickstart ---------------------------------------------------------------------------------


def test_quickstart_without_a_token_uses_the_fake_and_says_so() -> None:
    result = run_example("examples/quickstart.py")
    assert result.returncode == 0, result.stderr
    assert "FAKE Polar API" in result.stdout
    assert "POLAR_ACCESS_TOKEN is not set" in result.stdout
    assert (
        "portal:   https://polar.invalid/fake-org/portal?customer_session_token=" in result.stdout
    )
    assert "(CustomerIndividual)" in result.stdout


def test_quickstart_with_a_token_calls_the_configured_api() -> None:
    fake = FakePolar(token="polar_oat_quickstartToken")
    fake.add_individual(external_id="usr_123", email="u@example.com")
    with fake.serve() as server:
        env = {"POLAR_ACCESS_TOKEN": fake.token, "POLAR_BASE_URL": server.url}
        result = run_example("examples/quickstart.py", "usr_123", env=env)
        missing_id = run_example("examples/quickstart.py", env=env)
        unknown = run_example("examples/quickstart.py", "usr_nobody", env=env)
    assert result.returncode == 0, result.stderr
    assert "FAKE" not in result.stdout
    assert f"Using the Polar API at {server.url}" in result.stdout
    assert fake.sessions[0].customer_portal_url in result.stdout
    assert fake.requests[0].headers["authorization"] == "Bearer polar_oat_quickstartToken"
    assert missing_id.returncode == 2
    assert "usage:" in missing_id.stderr
    assert unknown.returncode == 1
    assert "Customer does not exist." in unknown.stderr
    assert len(fake.requests) == 2


# ---- synchronous script -------------------------------------------------------------------------


def test_sync_script_exit_codes_and_messages() -> None:
    fake = seeded_fake()
    jane = fake.find_customer(external_id="usr_jane")
    assert jane is not None
    fake.add_team(name="Acme", external_id="team_acme", owner_email="o@acme.example")
    token = {"POLAR_ACCESS_TOKEN": fake.token}
    wrong = {"POLAR_ACCESS_TOKEN": "polar_oat_wrongTokenDoNotPrint"}
    script = "examples/script_sync.py"
    with fake.serve() as server:
        at = ["--base-url", server.url]
        by_external = run_example(script, *at, "--external-id", "usr_jane", env=token)
        by_id = run_example(
            script, *at, "--customer-id", jane.id, "--return-url", "https://e.com/a", env=token
        )
        sent = [r.json for r in fake.requests]
        unknown = run_example(script, *at, "--external-id", "usr_nobody", env=token)
        team = run_example(script, *at, "--external-id", "team_acme", env=token)
        not_uuid = run_example(script, *at, "--customer-id", "not-a-uuid", env=token)
        refused = run_example(script, *at, "--external-id", "usr_jane", env=wrong)
        fake.fail_next(500, body={"detail": "boom"})
        server_error = run_example(script, *at, "--external-id", "usr_jane", env=token)
        no_token = run_example(script, *at, "--external-id", "usr_jane")
        no_customer = run_example(script, *at, env=token)
        both = run_example(script, *at, "--customer-id", jane.id, "--external-id", "x", env=token)
        statuses = [r.status for r in fake.requests]
    # Nothing listens on a port the fake server no longer holds.
    unreachable = run_example(
        script, "--base-url", server.url, "--external-id", "usr_jane", "--timeout", "2", env=token
    )

    assert (by_external.returncode, by_external.stdout) == (
        0,
        fake.sessions[0].customer_portal_url + "\n",
    )
    assert (by_id.returncode, by_id.stdout) == (0, fake.sessions[1].customer_portal_url + "\n")
    assert sent == [
        {"external_customer_id": "usr_jane"},
        {"customer_id": jane.id, "return_url": "https://e.com/a"},
    ]
    assert unknown.returncode == 3
    assert unknown.stderr == "error: Polar refused the request: Customer does not exist.\n"
    assert team.returncode == 3
    assert "member_id is required for team customers." in team.stderr
    assert not_uuid.returncode == 2
    assert "customer_id must be a UUID" in not_uuid.stderr
    assert refused.returncode == 4
    assert "Polar refused the access token (401 invalid_token)" in refused.stderr
    assert "wrongTokenDoNotPrint" not in refused.stdout + refused.stderr
    assert server_error.returncode == 5
    assert "500" in server_error.stderr
    assert no_token.returncode == 2
    assert "POLAR_ACCESS_TOKEN" in no_token.stderr
    assert no_customer.returncode == 2
    assert "one of the arguments --customer-id --external-id is required" in no_customer.stderr
    assert both.returncode == 2
    assert "not allowed with" in both.stderr
    assert unreachable.returncode == 5
    assert unreachable.stdout == ""
    # Invalid input and usage errors never reached the server.
    assert statuses == [201, 201, 422, 422, 401, 500]
    for result in (unknown, team, refused, server_error, unreachable):
        assert "polar_mst_" not in result.stdout + result.stderr


# ---- FastAPI webhooks ---------------------------------------------------------------------------

WEBHOOK_SECRET = "whsec_exampleReceiverSecret000000000000000000"


def _order_paid_event() -> dict[str, Any]:
    """A realistic order.paid payload: an order the recorded spec shapes describe."""
    from tests.contract.operation_calls import ValueBuilder
    from tests.spec_support import wire_spec

    order = ValueBuilder(wire_spec()).value({"$ref": "#/components/schemas/Order"}, full=True)
    return {"type": "order.paid", "timestamp": "2026-12-01T10:00:00Z", "data": order}


def test_fastapi_webhooks_verify_acknowledge_fast_and_process_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from polar_sdk.testing import FakePolar, sign_webhook

    example = load_example("fastapi_webhooks")
    processed: list[str] = []
    handlers = example.Handlers()

    @handlers.on(example.WebhookOrderPaidPayload)
    async def paid(event: Any) -> None:
        processed.append(event.data.id)

    caplog.set_level(logging.INFO, logger="examples.fastapi_webhooks")
    app = example.create_app(WEBHOOK_SECRET, handlers)
    fake = FakePolar()
    event = _order_paid_event()
    with serve_in_thread(app) as url:
        endpoint = f"{url}/webhooks/polar"
        first = fake.deliver_webhook(endpoint, event, WEBHOOK_SECRET, webhook_id="msg_1")
        again = fake.deliver_webhook(endpoint, event, WEBHOOK_SECRET, webhook_id="msg_1")
        wrong = fake.deliver_webhook(endpoint, event, "whsec_notTheEndpointsSecret0000000000")
        stale = fake.deliver_webhook(
            endpoint, event, WEBHOOK_SECRET, timestamp=int(time.time()) - 3600
        )
        unknown = fake.deliver_webhook(
            endpoint, {"type": "invoice.drafted", "data": {}}, WEBHOOK_SECRET
        )
        body, headers = sign_webhook(b'{"type": "order.paid", "data": 1}', WEBHOOK_SECRET)
        broken = httpx.post(endpoint, content=body, headers=headers, timeout=5)
        deadline = time.monotonic() + 5
        while app.state.queue.qsize() or app.state.queue._unfinished_tasks:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    assert [r.status_code for r in (first, again, wrong, stale, unknown, broken)] == [
        202, 202, 403, 403, 202, 202,
    ]  # fmt: skip
    assert processed == [event["data"]["id"]]  # once, although delivered twice
    assert app.state.dead_letters[0][1] == body  # kept, not lost
    assert "invoice.drafted" in caplog.text
    assert WEBHOOK_SECRET not in caplog.text


# ---- usage metering --------------------------------------------------------------------------


def test_usage_metering_meters_each_request_and_flushes_at_shutdown() -> None:
    """Under real uvicorn: each request is answered at once and metered exactly once."""
    from tests.ingestserver import Fault, IngestServer

    example = load_example("usage_metering")
    server = IngestServer()
    server.start()
    # Polar misbehaves for a while: requests must not notice, events must not be lost.
    server.queue_faults([Fault("503"), Fault("reset_after_store"), Fault("429")])
    token = "polar_oat_usageMeteringExampleToken000000000000000000"
    try:
        app = example.create_app(polar_factory=lambda: AsyncPolar(token, base_url=server.url))
        with serve_in_thread(app) as url:
            for i in range(30):
                answer = httpx.post(
                    f"{url}/v1/complete",
                    json={"prompt": "count these four words"},
                    headers={"x-user-id": f"usr_{i % 3}"},
                    timeout=10,
                )
                assert answer.status_code == 200
                assert answer.json() == {"answer": "COUNT THESE FOUR WORDS"}
        # uvicorn has stopped: the lifespan flushed what was still queued.
        events = list(server.store.by_id.values())
        assert len(events) == 30
        assert {e["external_customer_id"] for e in events} == {"usr_0", "usr_1", "usr_2"}
        first = events[0]["metadata"]
        assert first["_llm"] == {
            "vendor": "example",
            "model": "echo-1",
            "input_tokens": 4,
            "output_tokens": 8,
            "total_tokens": 12,
        }
        assert first["_cost"] == {"amount": "0.00072", "currency": "usd"}

        with Polar(token, base_url=server.url) as polar:
            example.run_worker([("usr_9", 3), ("usr_9", 5)], polar)
        worker = [e for e in server.store.by_id.values() if e["name"] == "job_done"]
        assert sorted(e["metadata"]["seconds"] for e in worker) == [3, 5]
        assert server.store.count == 32
    finally:
        server.stop()
