"""Unit tests of request shaping and client configuration (httpx.MockTransport, no network)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from polar_sdk import AsyncPolar, __version__
from polar_sdk.errors import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    ConfigurationError,
    InvalidRequestError,
    ResponseDecodeError,
)
from polar_sdk.models import (
    CustomerSessionCustomerExternalIDCreate,
    CustomerSessionCustomerIDCreate,
)

pytestmark = pytest.mark.anyio

TOKEN = "polar_oat_unitTestToken000000000000000000000000000000"
CUSTOMER = "32f1da23-861d-4749-b8e3-08a3664580a8"
MEMBER = "a1cfb88e-1f21-47be-a26d-524ea421f585"

SESSION_BODY: dict[str, Any] = {
    "created_at": "2026-11-26T12:04:25.711997Z",
    "modified_at": None,
    "id": "130d5e40-fc5d-4a34-b6c4-13c1dddecf40",
    "token": "polar_cst_secretSessionToken",
    "expires_at": "2026-11-26T13:04:25.711985Z",
    "return_url": None,
    "customer_portal_url": "https://polar.sh/o/portal?customer_session_token=polar_cst_secretSessionToken",
    "customer_id": CUSTOMER,
    "customer": {
        "id": CUSTOMER,
        "created_at": "2026-11-26T12:01:10.354898Z",
        "modified_at": None,
        "metadata": {},
        "external_id": "usr_jane_001",
        "email": "jane@example.com",
        "email_verified": True,
        "type": "individual",
        "name": "Jane",
        "billing_name": None,
        "billing_address": None,
        "tax_id": None,
        "locale": None,
        "organization_id": "859a38a9-a610-400f-a1a1-c59e48396247",
        "default_payment_method_id": None,
        "deleted_at": None,
        "first_user_event_at": None,
        "avatar_url": None,
    },
}


class Recorder:
    """A MockTransport handler that records requests and answers with a fixed response."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self._respond = respond or (lambda _r: httpx.Response(201, json=SESSION_BODY))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._respond(request)

    def client(self, **kwargs: Any) -> AsyncPolar:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self), **kwargs)
        return AsyncPolar(TOKEN, http_client=http)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


async def test_headers_path_and_minimal_body() -> None:
    rec = Recorder()
    async with rec.client() as polar:
        await polar.customer_sessions.create(customer_id=CUSTOMER)
    (request,) = rec.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.polar.sh/v1/customer-sessions/"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["polar-version"] == "2026-10"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith(f"polar_sdk/{__version__} ")
    assert request.content == f'{{"customer_id":"{CUSTOMER}"}}'.encode()


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"customer_id": CUSTOMER}, {"customer_id": CUSTOMER}),
        ({"external_customer_id": "usr_1"}, {"external_customer_id": "usr_1"}),
        (
            {"customer_id": CUSTOMER, "member_id": MEMBER, "return_url": "https://e.com/a"},
            {"customer_id": CUSTOMER, "member_id": MEMBER, "return_url": "https://e.com/a"},
        ),
        (
            {"external_customer_id": "usr_1", "external_member_id": "m_1"},
            {"external_customer_id": "usr_1", "external_member_id": "m_1"},
        ),
        # An explicit None is sent as null; a left-out argument is not sent at all.
        (
            {"customer_id": CUSTOMER, "return_url": None},
            {"customer_id": CUSTOMER, "return_url": None},
        ),
        (
            {"external_customer_id": "kunde-zürich-ø-001"},
            {"external_customer_id": "kunde-zürich-ø-001"},
        ),
    ],
)
async def test_keyword_bodies(kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    rec = Recorder()
    async with rec.client() as polar:
        await polar.customer_sessions.create(**kwargs)
    assert rec.body() == expected


async def test_non_ascii_is_sent_as_utf8() -> None:
    rec = Recorder()
    async with rec.client() as polar:
        await polar.customer_sessions.create(external_customer_id="kunde-zürich")
    assert "kunde-zürich".encode() in rec.requests[0].content


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (CustomerSessionCustomerIDCreate(customer_id=CUSTOMER), {"customer_id": CUSTOMER}),
        (
            CustomerSessionCustomerExternalIDCreate(
                external_customer_id="usr_1", return_url="https://e.com"
            ),
            {"external_customer_id": "usr_1", "return_url": "https://e.com"},
        ),
    ],
)
async def test_request_model_bodies(model: Any, expected: dict[str, Any]) -> None:
    rec = Recorder()
    async with rec.client() as polar:
        await polar.customer_sessions.create(request=model)
    assert rec.body() == expected


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"customer_id": CUSTOMER, "external_customer_id": "usr_1"}, "not both"),
        ({}, "pass one of customer_id=[.]+ or external_customer_id"),
        ({"return_url": "https://e.com"}, "pass one of customer_id=[.]+ or external_customer_id"),
        (
            {"request": CustomerSessionCustomerIDCreate(customer_id=CUSTOMER), "member_id": MEMBER},
            "not both",
        ),
        ({"request": {"customer_id": CUSTOMER}}, "request must be"),
        ({"customer_id": "not-a-uuid"}, "must be a UUID"),
        ({"customer_id": 12345}, "must be a UUID string"),
        ({"customer_id": None}, "must be a UUID string"),
        ({"customer_id": "01936b2a-7c4e-7d3a-9f1e-2b3c4d5e6f70"}, "version-4"),
        ({"customer_id": CUSTOMER, "member_id": "owner"}, "member_id must be a UUID"),
        (
            {"customer_id": CUSTOMER, "member_id": MEMBER, "external_member_id": "usr_m"},
            "pass member_id or external_member_id, not both",
        ),
        (
            {"external_customer_id": "usr_1", "member_id": MEMBER, "external_member_id": "m"},
            "not both",
        ),
        ({"external_customer_id": ""}, "must not be empty"),
        ({"external_customer_id": 5}, "must be a string"),
        ({"customer_id": CUSTOMER, "return_url": ""}, "must not be empty"),
        ({"customer_id": CUSTOMER, "return_url": "not a url"}, "absolute URL"),
        ({"customer_id": CUSTOMER, "return_url": "https://e.com/" + "a" * 2070}, "at most 2083"),
    ],
)
async def test_certain_failures_are_refused_before_sending(
    kwargs: dict[str, Any], fragment: str
) -> None:
    rec = Recorder()
    async with rec.client() as polar:
        with pytest.raises(InvalidRequestError, match=fragment):
            await polar.customer_sessions.create(**kwargs)
    assert rec.requests == []


def test_request_models_validate_on_construction() -> None:
    with pytest.raises(InvalidRequestError, match="customer_id"):
        CustomerSessionCustomerIDCreate(customer_id="nope")
    with pytest.raises(InvalidRequestError, match="return_url"):
        CustomerSessionCustomerExternalIDCreate(external_customer_id="x", return_url="/relative")
    # A 2083-character URL is the longest the API accepts.
    url = "https://e.com/" + "a" * (2083 - len("https://e.com/"))
    assert CustomerSessionCustomerIDCreate(customer_id=CUSTOMER, return_url=url).return_url == url


# -- configuration ------------------------------------------------------------------------


def test_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLAR_ACCESS_TOKEN", TOKEN)
    polar = AsyncPolar()
    assert polar._http._headers((True, None))["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("env", ["", "   "])
def test_empty_token_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("POLAR_ACCESS_TOKEN", env)
    with pytest.raises(ConfigurationError, match="POLAR_ACCESS_TOKEN"):
        AsyncPolar()


async def test_missing_token_fails_before_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a token the client exists, but an operation that needs one is refused."""
    monkeypatch.delenv("POLAR_ACCESS_TOKEN", raising=False)
    rec = Recorder()
    async with AsyncPolar(http_client=httpx.AsyncClient(transport=httpx.MockTransport(rec))) as p:
        with pytest.raises(ConfigurationError, match="POLAR_ACCESS_TOKEN") as info:
            await p.customer_sessions.create(customer_id=CUSTOMER)
        assert "customer-sessions:create" in str(info.value)
    assert rec.requests == []


def test_bad_token_characters_do_not_leak() -> None:
    bad = "polar_oat_with space"
    with pytest.raises(ConfigurationError) as info:
        AsyncPolar(bad)
    assert bad not in str(info.value)
    assert "with space" not in repr(info.value)


def test_surrounding_whitespace_is_stripped() -> None:
    polar = AsyncPolar(f"  {TOKEN}\n")
    assert polar._http._headers((True, "json"))["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("kwargs", "base"),
    [
        ({}, "https://api.polar.sh"),
        ({"server": "production"}, "https://api.polar.sh"),
        ({"server": "sandbox"}, "https://sandbox-api.polar.sh"),
        ({"base_url": "http://127.0.0.1:8000/"}, "http://127.0.0.1:8000"),
        ({"base_url": "http://localhost:9"}, "http://localhost:9"),
        ({"base_url": "http://[::1]:9"}, "http://[::1]:9"),
        (
            {"base_url": "http://polar.internal", "allow_insecure_http": True},
            "http://polar.internal",
        ),
    ],
)
async def test_servers(kwargs: dict[str, Any], base: str) -> None:
    rec = Recorder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(rec))
    async with AsyncPolar(TOKEN, http_client=http, **kwargs) as polar:
        assert polar.base_url == base
        await polar.customer_sessions.create(customer_id=CUSTOMER)
    assert str(rec.requests[0].url) == f"{base}/v1/customer-sessions/"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"server": "staging"}, "unknown server 'staging'"),
        ({"server": "sandbox", "base_url": "https://x.example"}, "not both"),
        ({"base_url": "http://api.example.com"}, "plain http"),
        ({"base_url": "ftp://x"}, "absolute http"),
        ({"base_url": "api.polar.sh"}, "absolute http"),
    ],
)
def test_bad_server_configuration(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        AsyncPolar(TOKEN, **kwargs)


# -- timeouts ---------------------------------------------------------------------------


async def test_default_timeout_is_finite() -> None:
    async with AsyncPolar(TOKEN) as polar:
        timeout = (await polar._http._state()).client.timeout
    assert timeout.read == 60.0
    assert timeout.connect == 10.0


async def test_callers_client_timeout_respected_and_overridable() -> None:
    rec = Recorder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(rec), timeout=3.0)
    async with AsyncPolar(TOKEN, http_client=http) as polar:
        await polar.customer_sessions.create(customer_id=CUSTOMER)
        await polar.customer_sessions.create(customer_id=CUSTOMER, timeout=1.5)
        await polar.customer_sessions.create(
            customer_id=CUSTOMER, timeout=httpx.Timeout(2.0, connect=0.5)
        )
        await polar.customer_sessions.create(customer_id=CUSTOMER, timeout=None)
        await polar.customer_sessions.create(customer_id=CUSTOMER, timeout=None, deadline=None)
    seen = [r.extensions["timeout"] for r in rec.requests]
    assert seen[0]["read"] == 3.0
    assert seen[1]["read"] == 1.5
    assert (seen[2]["read"], seen[2]["connect"]) == (2.0, 0.5)
    assert 299 < seen[3]["read"] <= 300  # no timeout, but the 300 s deadline still bounds it
    assert seen[4]["read"] is None
    assert not http.is_closed  # the caller's client is theirs to close
    await http.aclose()


async def test_client_level_timeout_applies_to_callers_client() -> None:
    rec = Recorder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(rec), timeout=3.0)
    async with AsyncPolar(TOKEN, http_client=http, timeout=7.0) as polar:
        await polar.customer_sessions.create(customer_id=CUSTOMER)
    assert rec.requests[0].extensions["timeout"]["read"] == 7.0
    await http.aclose()


# -- transport failures and decoding --------------------------------------------------------


def _raiser(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def respond(_request: httpx.Request) -> httpx.Response:
        raise exc

    return respond


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ConnectError("refused"), APIConnectionError),
        (httpx.ReadError("reset"), APIConnectionError),
        (httpx.RemoteProtocolError("bad"), APIConnectionError),
        (httpx.ConnectTimeout("slow"), APITimeoutError),
        (httpx.ReadTimeout("slow"), APITimeoutError),
        (httpx.PoolTimeout("busy"), APITimeoutError),
    ],
)
async def test_transport_errors_are_mapped(exc: Exception, cls: type[Exception]) -> None:
    rec = Recorder(_raiser(exc))
    async with rec.client() as polar:
        with pytest.raises(cls) as info:
            await polar.customer_sessions.create(customer_id=CUSTOMER)
    assert type(info.value) is cls
    assert info.value.__cause__ is exc
    assert "/v1/customer-sessions/" in str(info.value)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"id": "truncated', "not valid JSON"),
        (b"<html>oops</html>", "not valid JSON"),
        (b"[]", "does not match CustomerSession"),
    ],
)
async def test_undecodable_success_bodies(content: bytes, fragment: str) -> None:
    rec = Recorder(lambda _r: httpx.Response(201, content=content))
    async with rec.client() as polar:
        with pytest.raises(ResponseDecodeError, match=fragment) as info:
            await polar.customer_sessions.create(customer_id=CUSTOMER)
    assert info.value.body == content.decode()
    assert info.value.status_code == 201


async def test_missing_required_field_names_it_without_leaking_secrets() -> None:
    body = {k: v for k, v in SESSION_BODY.items() if k != "expires_at"}
    rec = Recorder(lambda _r: httpx.Response(201, json=body))
    async with rec.client() as polar:
        with pytest.raises(ResponseDecodeError) as info:
            await polar.customer_sessions.create(customer_id=CUSTOMER)
    message = str(info.value)
    assert "expires_at" in message
    assert SESSION_BODY["token"] not in message
    assert SESSION_BODY["token"] not in repr(info.value)
    assert json.loads(info.value.body) == body


async def test_closed_client_refuses_calls() -> None:
    rec = Recorder()
    polar = rec.client()
    await polar.aclose()
    assert polar.closed
    with pytest.raises(ClientClosedError):
        await polar.customer_sessions.create(customer_id=CUSTOMER)
    assert rec.requests == []


async def test_owned_client_is_closed_with_the_sdk() -> None:
    polar = AsyncPolar(TOKEN)
    async with polar:
        inner = (await polar._http._state()).client
    assert inner.is_closed


# -- secrets --------------------------------------------------------------------------------


async def test_secrets_stay_out_of_reprs_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    caplog.set_level(logging.DEBUG)
    async with rec.client() as polar:
        session = await polar.customer_sessions.create(customer_id=CUSTOMER)
        texts = [repr(polar), repr(polar._http), repr(session), str(session), caplog.text]
    assert any("/v1/customer-sessions/ -> 201" in r.getMessage() for r in caplog.records)
    for text in texts:
        assert TOKEN not in text
        assert SESSION_BODY["token"] not in text
        assert "customer_session_token" not in text
    assert session.token == SESSION_BODY["token"]
    assert session.customer_portal_url == SESSION_BODY["customer_portal_url"]


def test_uuid_checks_agree_with_the_uuid_module() -> None:
    """The canonical-form shortcut accepts exactly what `uuid.UUID` + the version rule do."""
    import random
    import uuid

    from polar_sdk.errors import InvalidRequestError
    from polar_sdk.models._checks import check

    rng = random.Random(4)
    values = [str(uuid.uuid4()) for _ in range(200)]
    values += [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(400)]  # any version
    values += [v.upper() for v in values[:50]] + ["{" + v + "}" for v in values[:20]]
    values += [v.replace("-", "") for v in values[:20]] + ["urn:uuid:" + v for v in values[:20]]
    values += ["", "x", values[0][:-1], values[0] + "0", values[0].replace("-", "_")]

    class Named:
        name = "id"

    for fmt in ("uuid4", "uuid"):
        validate = check(kind="str", fmt=fmt)
        for value in values:
            try:
                parsed: uuid.UUID | None = uuid.UUID(value)
            except ValueError:
                parsed = None
            expected = parsed is not None and (fmt == "uuid" or parsed.version == 4)
            try:
                validate(None, Named(), value)
                accepted = True
            except InvalidRequestError:
                accepted = False
            assert accepted is expected, (fmt, value)


def test_path_values_are_quoted_as_quote_would() -> None:
    from urllib.parse import quote

    from polar_sdk._operation import _path_value

    for value in ["abc", "a-b_c.d~e", "a b", "a/b", "é", "%41", "a?b#c", "x" * 300, ".a", "a."]:
        assert _path_value("id", value, None) == quote(value, safe="")
    assert _path_value("id", "..", None) == "%2E%2E"


async def test_refusals_hold_after_the_same_keywords_were_accepted() -> None:
    """The member a keyword set names is remembered; the values are still checked each call."""
    rec = Recorder()
    async with rec.client() as polar:
        for _ in range(2):
            await polar.customer_sessions.create(customer_id=CUSTOMER)
            await polar.customer_sessions.create(customer_id=CUSTOMER, member_id=MEMBER)
            bad: list[dict[str, Any]] = [
                {"customer_id": "not-a-uuid"},
                {"customer_id": 12345},
                {"customer_id": None},
                {"customer_id": CUSTOMER, "member_id": "owner"},
                {"customer_id": CUSTOMER, "external_customer_id": "usr_1"},
                {"customer_id": CUSTOMER, "member_id": MEMBER, "external_member_id": "m"},
            ]
            for kwargs in bad:
                with pytest.raises(InvalidRequestError):
                    await polar.customer_sessions.create(**kwargs)
    assert len(rec.requests) == 4  # only the good calls were sent
    assert [json.loads(r.content) for r in rec.requests[:2]] == [
        {"customer_id": CUSTOMER},
        {"customer_id": CUSTOMER, "member_id": MEMBER},
    ]


def test_a_tagged_body_union_picks_its_member_by_value_on_every_call() -> None:
    from polar_sdk._operation import _BodyInfo  # pyright: ignore[reportPrivateUsage]
    from polar_sdk.models import CustomFieldCreateNumber, CustomFieldCreateText
    from polar_sdk.resources.custom_fields import OP_CREATE

    info = _BodyInfo(OP_CREATE.body_type)
    assert not info.by_keys  # the tag's value decides: nothing to remember by keywords

    def fields(kind: str) -> dict[str, object]:
        return {"type": kind, "slug": "size", "name": "Size", "properties": {}}

    for _ in range(2):
        assert type(info.build(fields("text"))) is CustomFieldCreateText
        assert type(info.build(fields("number"))) is CustomFieldCreateNumber
    assert info.shapes == {}


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"": "x"}, "metadata[''] key must not be empty"),
        ({"k" * 41: "x"}, "key is 41 characters long; the API accepts at most 40"),
        ({"plan": ""}, "metadata['plan'] must not be empty"),
        (
            {"plan": "x" * 501},
            "metadata['plan'] is 501 characters long; the API accepts at most 500",
        ),
        ({5: "x"}, "metadata keys must be strings, got 5"),
        ({f"k{i}": i for i in range(51)}, "metadata has 51 keys; the API accepts at most 50"),
    ],
)
def test_metadata_entries_are_checked_and_named(metadata: dict[Any, Any], message: str) -> None:
    from polar_sdk.models import CustomerUpdate

    assert CustomerUpdate(metadata={"plan": "pro", "seats": 5, "k" * 40: "v" * 500}).metadata
    with pytest.raises(InvalidRequestError) as info:
        CustomerUpdate(metadata=metadata)
    assert message in str(info.value)
