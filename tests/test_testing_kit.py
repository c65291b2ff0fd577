"""polar_sdk.testing: the fake answers like the recorded server and records what it receives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from polar_sdk import POLAR_VERSION, AsyncPolar
from polar_sdk.errors import (
    AuthenticationError,
    HTTPValidationError,
    PermissionDeniedError,
    RateLimitError,
)
from polar_sdk.models import CustomerIndividual, CustomerTeam
from polar_sdk.testing import DEFAULT_TOKEN, FakePolar
from tests.conftest import load_case, require_fixtures

pytestmark = pytest.mark.anyio

PATH = "/v1/customer-sessions/"


def _headers(token: str | None = DEFAULT_TOKEN, **extra: str) -> dict[str, str]:
    headers = {"polar-version": POLAR_VERSION, "content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    headers.update(extra)
    return headers


def _seeded() -> FakePolar:
    fake = FakePolar()
    fake.add_individual(
        external_id="usr_jane",
        email="jane.doe@example.com",
        name="Jane Doe",
        billing_address={"line1": "123 Market Street", "state": "US-CA", "country": "US"},
        tax_id=("123456789", "us_ein"),
        locale="en-US",
        metadata={"plan": "pro", "seats": 5, "beta_tester": True, "discount_rate": 0.15},
    )
    team = fake.add_team(
        name="Acme GmbH",
        email="billing@acme.example.org",
        external_id="team_acme",
        owner_email="olivia.owner@acme.example.org",
        owner_external_id="acme-owner-1",
    )
    fake.add_member(team, email="mark.member@acme.example.org", external_id="acme-member-2")
    return fake


def _shape(value: Any) -> Any:
    """The JSON structure of a value: keys and value kinds, not the values themselves."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return ["list", len(value)]  # pyright: ignore[reportUnknownArgumentType]
    if value is None:
        return None
    return type(value).__name__


# ---- behaviour, independent of the recorded fixtures -------------------------------------------


async def test_async_client_creates_a_session_with_the_customer_embedded() -> None:
    fake = _seeded()
    async with fake.async_client() as polar:
        session = await polar.customer_sessions.create(
            external_customer_id="usr_jane", return_url="https://bücher.example/zurück"
        )
    jane = fake.find_customer(external_id="usr_jane")
    assert jane is not None
    assert isinstance(session.customer, CustomerIndividual)
    assert session.customer_id == jane.id == session.customer.id
    assert session.customer.tax_id == ("123456789", "us_ein")
    assert session.customer.metadata["seats"] == 5
    assert session.expires_at > session.created_at
    # The return URL comes back normalised, as the real server does it.
    assert session.return_url == "https://xn--bcher-kva.example/zur%C3%BCck"
    # The portal URL carries the session token and the customer's email.
    query = parse_qs(urlsplit(session.customer_portal_url).query)
    assert query["customer_session_token"] == [session.token]
    assert query["email"] == ["jane.doe@example.com"]
    assert session.token.startswith("polar_mst_")
    # What was received and what was created are recorded.
    [request] = fake.requests
    assert (request.method, request.path, request.status) == ("POST", PATH, 201)
    assert request.json == {
        "external_customer_id": "usr_jane",
        "return_url": "https://bücher.example/zurück",
    }
    assert request.headers["authorization"] == f"Bearer {DEFAULT_TOKEN}"
    assert request.headers["polar-version"] == POLAR_VERSION
    assert fake.sessions[0].token == session.token
    assert fake.sessions[0].customer is jane


async def test_unknown_or_deleted_customer_is_the_servers_422() -> None:
    fake = _seeded()
    jane = fake.find_customer(external_id="usr_jane")
    assert jane is not None
    async with fake.async_client() as polar:
        with pytest.raises(HTTPValidationError) as unknown:
            await polar.customer_sessions.create(external_customer_id="usr_nobody")
        fake.delete_customer(jane)
        with pytest.raises(HTTPValidationError) as deleted:
            await polar.customer_sessions.create(customer_id=jane.id)
    assert unknown.value.data == {
        "error": "PolarRequestValidationError",
        "detail": [
            {
                "type": "value_error",
                "loc": ["body", "external_customer_id"],
                "msg": "Customer does not exist.",
                "input": "usr_nobody",
            }
        ],
    }
    assert [(d.loc, d.msg) for d in deleted.value.detail] == [
        (["body", "customer_id"], "Customer does not exist.")
    ]
    assert [r.status for r in fake.requests] == [422, 422]
    assert fake.sessions == []


async def test_team_customers_need_a_member() -> None:
    fake = _seeded()
    team = fake.find_customer(external_id="team_acme")
    assert team is not None
    mark = team.members[1]
    async with fake.async_client() as polar:
        with pytest.raises(HTTPValidationError) as missing:
            await polar.customer_sessions.create(external_customer_id="team_acme")
        with pytest.raises(HTTPValidationError) as unknown:
            await polar.customer_sessions.create(
                customer_id=team.id, external_member_id="no-such-member"
            )
        by_id = await polar.customer_sessions.create(customer_id=team.id, member_id=mark.id)
        by_external = await polar.customer_sessions.create(
            external_customer_id="team_acme", external_member_id="acme-owner-1"
        )
    assert [(d.loc, d.msg, d.input) for d in missing.value.detail] == [
        (["body", "member_id"], "member_id is required for team customers.", None)
    ]
    assert [d.msg for d in unknown.value.detail] == ["Member does not exist for this customer."]
    assert isinstance(by_id.customer, CustomerTeam)
    assert "email=mark.member%40acme.example.org" in by_id.customer_portal_url
    assert "email=olivia.owner%40acme.example.org" in by_external.customer_portal_url
    assert [s.member for s in fake.sessions] == [mark, team.members[0]]


async def test_without_members_member_fields_are_ignored() -> None:
    fake = FakePolar(members_enabled=False)
    legacy = fake.add_individual(external_id="ext-legacy-001", email="legacy@example.com")
    async with fake.async_client() as polar:
        session = await polar.customer_sessions.create(
            customer_id=legacy.id, member_id="74c989ce-9788-48a4-83db-bd323c93d886"
        )
    assert session.token.startswith("polar_cst_")
    assert fake.sessions[0].member is None


async def test_wrong_token_and_missing_scope() -> None:
    fake = _seeded()
    async with fake.async_client(access_token="polar_oat_wrong") as polar:
        with pytest.raises(AuthenticationError) as wrong:
            await polar.customer_sessions.create(external_customer_id="usr_jane")
    assert wrong.value.error == "invalid_token"
    assert 'error="invalid_token"' in wrong.value.headers["www-authenticate"]
    no_scope = FakePolar(scopes=["customers:read"])
    no_scope.add_individual(external_id="usr_jane", email="jane@example.com")
    async with no_scope.async_client() as polar:
        with pytest.raises(PermissionDeniedError) as denied:
            await polar.customer_sessions.create(external_customer_id="usr_jane")
    assert denied.value.error == "insufficient_scope"
    assert fake.sessions == [] and no_scope.sessions == []


async def test_fail_next_injects_answers_then_resumes() -> None:
    fake = _seeded()
    fake.fail_next(429, headers={"retry-after": "7"})
    async with fake.async_client(retry=None) as polar:
        with pytest.raises(RateLimitError) as limited:
            await polar.customer_sessions.create(external_customer_id="usr_jane")
        await polar.customer_sessions.create(external_customer_id="usr_jane")
    assert limited.value.retry_after == 7
    assert limited.value.body == ""
    assert [r.status for r in fake.requests] == [429, 201]


async def test_latency_makes_concurrency_visible() -> None:
    import anyio

    fake = FakePolar(latency=0.05)
    fake.add_individual(external_id="u", email="u@example.com")
    async with fake.async_client() as polar, anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(lambda: polar.customer_sessions.create(external_customer_id="u"))
    assert fake.max_in_flight == 5
    assert len(fake.sessions) == 5


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_in_process_client_works_under_trio() -> None:
    fake = _seeded()
    async with fake.async_client() as polar:
        session = await polar.customer_sessions.create(external_customer_id="usr_jane")
    assert session.id == fake.sessions[0].id


def test_wire_rules_over_loopback_http() -> None:
    fake = _seeded()
    jane = fake.find_customer(external_id="usr_jane")
    assert jane is not None
    body = {"customer_id": jane.id}
    with fake.serve() as server, httpx.Client(base_url=server.url, timeout=5) as http:
        assert server.url.startswith("http://127.0.0.1:")
        no_slash = http.post(PATH.rstrip("/"), json=body, headers=_headers())
        old_version = http.post(PATH, json=body, headers=_headers(**{"polar-version": "1999-01"}))
        get = http.get(PATH, headers=_headers())
        other = http.post("/v1/customers/", json={}, headers=_headers())
        no_auth = http.post(PATH, json=body, headers=_headers(token=None))
        session_token = http.post(PATH, json=body, headers=_headers(token="polar_mst_abc"))
        no_length = http.post(PATH, headers=_headers())
        ok = http.post(PATH, json=body, headers=_headers())
    assert not server.running
    assert no_slash.status_code == 307
    assert no_slash.headers["location"] == f"{server.url}{PATH}"
    assert (old_version.status_code, old_version.json()) == (404, {"detail": "Not Found"})
    assert "polar-version" not in old_version.headers
    assert (get.status_code, get.headers["allow"]) == (405, "POST")
    assert other.status_code == 404
    for unauthorized in (no_auth, session_token):
        assert unauthorized.status_code == 401
        assert unauthorized.json() == {"error": "Unauthorized", "detail": "Unauthorized"}
        assert unauthorized.headers["www-authenticate"] == 'Bearer realm="polar"'
    # httpx sends "content-length: 0" for an empty POST, so this reaches body validation.
    assert no_length.status_code == 422
    assert ok.status_code == 201
    assert ok.json()["customer"]["id"] == jane.id
    assert ok.headers["polar-version"] == POLAR_VERSION
    assert [r.status for r in fake.requests] == [307, 404, 405, 404, 401, 401, 422, 201]


async def test_async_polar_over_loopback() -> None:
    fake = _seeded()
    with fake.serve() as server:
        async with AsyncPolar(fake.token, base_url=server.url) as polar:
            session = await polar.customer_sessions.create(external_customer_id="usr_jane")
    assert session.customer_portal_url == fake.sessions[0].customer_portal_url


def test_reprs_hide_secrets() -> None:
    fake = _seeded()
    with fake.serve() as server, httpx.Client(base_url=server.url, timeout=5) as http:
        http.post(PATH, json={"external_customer_id": "usr_jane"}, headers=_headers())
    session = fake.sessions[0]
    text = repr(session) + repr(fake.requests) + repr(fake) + repr(server)
    assert session.token not in text
    assert fake.token not in text
    assert "portal" not in text


def test_seeding_rejects_duplicates() -> None:
    fake = _seeded()
    with pytest.raises(ValueError, match="usr_jane"):
        fake.add_individual(external_id="usr_jane", email="other@example.com")


# ---- conformance with the recorded exchanges ----------------------------------------------------


def _recorded(name: str) -> dict[str, Any]:
    return load_case(require_fixtures() / "customer-sessions" / f"{name}.json")


def _replay(fake: FakePolar, case: dict[str, Any], http: httpx.Client) -> httpx.Response:
    request = case["request"]
    # h11 refuses header values with trailing spaces ("Bearer "): send them stripped.
    headers = {k: v.strip() for k, v in request["headers"].items() if k.lower() != "host"}
    if headers.get("Authorization") == "Bearer <redacted>":
        headers["Authorization"] = f"Bearer {fake.token}"
    body = request["body"]
    if body is None:
        content = b""
    elif isinstance(body, str):
        content = body.encode()
    else:
        content = json.dumps(body).encode()
    headers.pop("Content-Length", None)
    return http.request(request["method"], request["path"], content=content, headers=headers)


def _schema_cases() -> list[Path]:
    root = require_fixtures()
    cases: list[Path] = []
    for path in sorted((root / "customer-sessions").glob("session_*.json")):
        case = load_case(path)
        body = case["response"]["body"]
        schema_422 = isinstance(body, dict) and body.get("error") == "RequestValidationError"
        auth = case["response"]["status"] == 401 and "member_session" not in path.name
        if schema_422 or auth or case["response"]["status"] in (307, 404, 405):
            cases.append(path)
    return cases


def test_answers_match_recorded_statuses_and_bodies() -> None:
    """Every data-independent recorded case gets the same status and (for 4xx) the same body."""
    cases = _schema_cases()
    assert len(cases) >= 15
    fake = FakePolar()
    with fake.serve() as server, httpx.Client(base_url=server.url, timeout=5) as http:
        for path in cases:
            case = load_case(path)
            answer = _replay(fake, case, http)
            expected = case["response"]
            assert answer.status_code == expected["status"], path.name
            if expected["status"] >= 400:
                got, want = answer.json(), expected["body"]
                if isinstance(want, dict) and want.get("error") == "RequestValidationError":
                    # pydantic's wording varies with the input; what the fake must match is
                    # which checks failed, and where.
                    assert got["error"] == want["error"], path.name
                    assert [(d["type"], d["loc"]) for d in got["detail"]] == [
                        (d["type"], d["loc"]) for d in want["detail"]
                    ], path.name
                else:
                    assert got == want, path.name
                for header in ("www-authenticate", "allow"):
                    assert answer.headers.get(header) == expected["headers"].get(header), path.name


@pytest.mark.parametrize(
    "name",
    [
        "session_201_individual_by_external_id",
        "session_201_individual_by_customer_id_return_url",
        "session_201_team_by_customer_id_member_id_member_return_url",
    ],
)
def test_created_session_has_the_recorded_shape(name: str) -> None:
    case = _recorded(name)
    recorded = case["response"]
    customer = recorded["body"]["customer"]
    fake = FakePolar()
    # Seed the recorded customer (same ids), so the recorded request can be replayed as-is.
    details: dict[str, Any] = {
        key: customer[key]
        for key in ("id", "email", "external_id", "name", "billing_name", "locale", "metadata")
    }
    details["billing_address"] = customer["billing_address"]
    details["tax_id"] = tuple(customer["tax_id"]) if customer["tax_id"] else None
    if customer["type"] == "team":
        team = fake.add_team(owner_email="owner@example.com", **details)
        fake.add_member(team, id=case["request"]["body"]["member_id"], email="m@example.com")
    else:
        fake.add_individual(**details)
    with fake.serve() as server, httpx.Client(base_url=server.url, timeout=5) as http:
        answer = _replay(fake, case, http)
    assert answer.status_code == 201
    body, expected = answer.json(), recorded["body"]
    assert list(body) == list(expected)
    assert list(body["customer"]) == list(expected["customer"])
    assert body["customer_id"] == expected["customer_id"]
    assert body["return_url"] == expected["return_url"]
    # Value kinds agree wherever both sides have a value (nulls differ per customer).
    ours, theirs = _shape(body), _shape(expected)
    for key, kind in theirs.items():
        if key != "customer" and kind is not None and ours[key] is not None:
            assert ours[key] == kind, key
    for key, kind in theirs["customer"].items():
        if kind is not None and ours["customer"][key] is not None:
            assert ours["customer"][key] == kind, key
    portal, recorded_portal = (
        urlsplit(body["customer_portal_url"]),
        urlsplit(expected["customer_portal_url"]),
    )
    assert parse_qs(portal.query).keys() == parse_qs(recorded_portal.query).keys()
    assert portal.path.endswith("/portal")
    assert body["token"][:10] == expected["token"][:10]
    assert len(body["token"]) == len(expected["token"])
    for header in ("cache-control", "content-type", "polar-version"):
        assert answer.headers[header] == recorded["headers"][header], header


def test_sync_client_serves_the_fake_on_loopback() -> None:
    fake = _seeded()
    with fake.sync_client() as polar:
        assert polar.base_url.startswith("http://127.0.0.1:")
        session = polar.customer_sessions.create(external_customer_id="usr_jane")
        with pytest.raises(HTTPValidationError):
            polar.customer_sessions.create(external_customer_id="usr_nobody")
    assert polar.closed
    assert session.customer_portal_url == fake.sessions[0].customer_portal_url
    assert [r.status for r in fake.requests] == [201, 422]
    # The server is gone once the block ends.
    with pytest.raises(httpx.ConnectError):
        httpx.post(polar.base_url + PATH, json={}, timeout=2)


def test_served_fake_answers_without_nagle_delay() -> None:
    # The listening socket must be a TCP socket as asyncio sees it (proto IPPROTO_TCP), so that
    # accepted connections get TCP_NODELAY; without it every answer waited ~40 ms for the
    # client's delayed ACK (about 23 sequential requests per second).
    import time

    from polar_sdk import Polar

    fake = _seeded()
    with fake.serve() as server, Polar(fake.token, base_url=server.url) as polar:
        polar.customer_sessions.create(external_customer_id="usr_jane")  # warm up
        start = time.perf_counter()
        for _ in range(50):
            polar.customer_sessions.create(external_customer_id="usr_jane")
        elapsed = time.perf_counter() - start
    assert elapsed < 1.5, f"50 sequential calls through FakePolar.serve() took {elapsed:.2f} s"
