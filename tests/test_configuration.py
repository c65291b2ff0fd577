"""Client configuration: argument checks, the environment, base URLs, error classes (issue 13)."""

from __future__ import annotations

import pickle
import traceback
from typing import Any

import httpx
import pytest

from polar_sdk import AsyncPolar, Polar, RetryPolicy
from polar_sdk.errors import ClientClosedError, ConfigurationError, PolarError
from tests.conftest import TOKEN

pytestmark = pytest.mark.anyio

CUSTOMER = "992fae2a-2a17-4b7a-8d9e-e287cf90131b"


# -- every mistake is a PolarError naming the argument -------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"access_token": 123}, "access_token"),
        ({"access_token": b"polar_oat_bytes"}, "access_token"),
        ({"timeout": "5"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"retry": 3}, "retry"),
        ({"limits": 10}, "limits"),
        ({"max_in_flight": "20"}, "max_in_flight"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"allow_insecure_http": "yes"}, "allow_insecure_http"),
        ({"server": 1}, "server"),
        ({"base_url": 1}, "base_url"),
        ({"http_client": object()}, "http_client"),
    ],
)
@pytest.mark.parametrize("cls", [AsyncPolar, Polar])
def test_bad_arguments_raise_configuration_error(
    cls: type[Any], kwargs: dict[str, Any], named: str
) -> None:
    kwargs = {"access_token": TOKEN, **kwargs}
    with pytest.raises(ConfigurationError, match=named) as info:
        cls(**kwargs)
    assert isinstance(info.value, PolarError)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": "3"}, "max_attempts"),
        ({"initial_backoff": -1}, "initial_backoff"),
        ({"max_backoff": float("nan")}, "max_backoff"),
        ({"max_retry_after": "60"}, "max_retry_after"),
        ({"deadline": 0}, "deadline"),
        ({"retry_statuses": [429]}, "retry_statuses"),
        ({"retry_idempotent_statuses": frozenset({1000})}, "retry_idempotent_statuses"),
        ({"on_retry": "print"}, "on_retry"),
    ],
)
def test_bad_retry_policy_raises_configuration_error(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        RetryPolicy(**kwargs)


def test_configuration_error_is_also_a_type_and_value_error() -> None:
    # Code that caught the builtin errors before keeps working.
    with pytest.raises(TypeError):
        AsyncPolar(TOKEN, timeout="5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_in_flight"):
        AsyncPolar(TOKEN, max_in_flight=0)


# -- a blocking httpx.Client is refused before anything is sent -----------------------------------


@pytest.mark.parametrize("cls", [AsyncPolar, Polar])
def test_sync_http_client_is_refused_at_construction(cls: type[Any]) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json={})

    with (
        httpx.Client(transport=httpx.MockTransport(record)) as http,
        pytest.raises(ConfigurationError, match=r"httpx\.AsyncClient") as info,
    ):
        cls(TOKEN, http_client=http)
    assert "httpx.Client" in str(info.value)
    assert not sent


# -- POLAR_SERVER and POLAR_BASE_URL -------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "kwargs", "expected"),
    [
        ({}, {}, "https://api.polar.sh"),
        ({"POLAR_SERVER": "sandbox"}, {}, "https://sandbox-api.polar.sh"),
        ({"POLAR_SERVER": " Production "}, {}, "https://api.polar.sh"),
        ({"POLAR_SERVER": ""}, {}, "https://api.polar.sh"),
        ({"POLAR_BASE_URL": "http://127.0.0.1:8000/"}, {}, "http://127.0.0.1:8000"),
        # Arguments win over the environment.
        ({"POLAR_SERVER": "sandbox"}, {"server": "production"}, "https://api.polar.sh"),
        (
            {"POLAR_BASE_URL": "http://127.0.0.1:1"},
            {"server": "sandbox"},
            "https://sandbox-api.polar.sh",
        ),
        ({"POLAR_SERVER": "sandbox"}, {"base_url": "http://localhost:2"}, "http://localhost:2"),
        (
            {"POLAR_SERVER": "nonsense", "POLAR_BASE_URL": "nonsense"},
            {"base_url": "http://localhost:2"},
            "http://localhost:2",
        ),
    ],
)
@pytest.mark.parametrize("cls", [AsyncPolar, Polar])
def test_server_from_environment(
    monkeypatch: pytest.MonkeyPatch,
    cls: type[Any],
    env: dict[str, str],
    kwargs: dict[str, Any],
    expected: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = cls(TOKEN, **kwargs)
    try:
        assert client.base_url == expected
    finally:
        if isinstance(client, Polar):
            client.close()


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"POLAR_SERVER": "staging"}, "unknown POLAR_SERVER 'staging'"),
        ({"POLAR_SERVER": "sandbox", "POLAR_BASE_URL": "http://127.0.0.1:1"}, "both"),
        ({"POLAR_BASE_URL": "api.polar.sh"}, "POLAR_BASE_URL must be an absolute"),
        ({"POLAR_BASE_URL": "http://api.example.com"}, "plain http"),
    ],
)
def test_bad_server_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], fragment: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=fragment):
        AsyncPolar(TOKEN)


async def test_environment_base_url_is_where_requests_go(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(422, json={"detail": []})

    monkeypatch.setenv("POLAR_BASE_URL", "https://polar.internal.example/api/v1")
    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as http:
        polar = AsyncPolar(TOKEN, http_client=http)
        with pytest.raises(PolarError):
            await polar.customer_sessions.create(customer_id=CUSTOMER, retry=None)
    assert str(seen[0].url) == "https://polar.internal.example/api/v1/customer-sessions/"


# -- base URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api.polar.sh/v1", "https://api.polar.sh"),
        ("https://api.polar.sh/v1/", "https://api.polar.sh"),
        ("https://proxy.example/polar/v1", "https://proxy.example/polar"),
        ("https://proxy.example/v10", "https://proxy.example/v10"),
    ],
)
def test_trailing_v1_is_dropped(base_url: str, expected: str) -> None:
    assert AsyncPolar(TOKEN, base_url=base_url).base_url == expected


@pytest.mark.parametrize(
    ("base_url", "fragment"),
    [
        ("https://api.polar.sh/?token=polar_oat_secretsecret", "query string"),
        ("https://api.polar.sh/#polar_oat_secretsecret", "fragment"),
        ("https://user:polar_oat_secretsecret@api.polar.sh", "credentials"),
        ("https://polar_oat_secretsecret@api.polar.sh", "credentials"),
        ("ftp://user:polar_oat_secretsecret@api.polar.sh", "absolute http"),
        ("http://user:polar_oat_secretsecret@api.example.com", "credentials"),
    ],
)
@pytest.mark.parametrize("source", ["argument", "environment"])
def test_base_url_with_query_or_credentials_is_refused_without_echo(
    monkeypatch: pytest.MonkeyPatch, base_url: str, fragment: str, source: str
) -> None:
    if source == "environment":
        monkeypatch.setenv("POLAR_BASE_URL", base_url)
        kwargs: dict[str, Any] = {}
    else:
        kwargs = {"base_url": base_url}
    with pytest.raises(ConfigurationError, match=fragment) as info:
        AsyncPolar(TOKEN, **kwargs)
    shown = (
        str(info.value)
        + repr(info.value)
        + "".join(
            traceback.format_exception(type(info.value), info.value, info.value.__traceback__)
        )
    )
    assert "secretsecret" not in shown
    assert ("POLAR_BASE_URL" in shown) == (source == "environment")


# -- public error classes ------------------------------------------------------------------------


def test_errors_name_their_public_module() -> None:
    import polar_sdk.errors

    for name in polar_sdk.errors.__all__:
        cls = getattr(polar_sdk.errors, name)
        assert cls.__module__ == "polar_sdk.errors", name
    try:
        AsyncPolar(123)  # type: ignore[arg-type]
    except ConfigurationError as exc:
        text = "".join(traceback.format_exception_only(type(exc), exc))
    assert text.startswith("polar_sdk.errors.ConfigurationError: access_token")


def test_status_errors_pickle() -> None:
    from polar_sdk._exceptions import make_status_error
    from polar_sdk.errors import AuthenticationError, HTTPValidationError, ServerError

    request = httpx.Request("POST", "https://api.polar.sh/v1/customer-sessions/")
    for status, body, cls in [
        (401, {"error": "invalid_token", "error_description": "expired"}, AuthenticationError),
        (422, {"detail": [{"loc": ["body", "x"], "msg": "bad", "type": "t"}]}, HTTPValidationError),
        (503, None, ServerError),
    ]:
        response = httpx.Response(status, json=body, request=request)
        exc = make_status_error(response, polar_version="2026-10")
        copy = pickle.loads(pickle.dumps(exc))
        assert type(copy) is cls
        assert (str(copy), copy.status_code, copy.body, copy.data) == (
            str(exc),
            exc.status_code,
            exc.body,
            exc.data,
        )
    config = pickle.loads(pickle.dumps(ConfigurationError("timeout: bad")))
    assert type(config) is ConfigurationError and str(config) == "timeout: bad"


# -- a closed client refuses a new `async with` ---------------------------------------------------


async def test_second_async_with_on_a_closed_client_raises() -> None:
    polar = AsyncPolar(TOKEN)
    async with polar:
        pass
    assert polar.closed
    entered = False
    with pytest.raises(ClientClosedError, match="closed"):
        async with polar:
            entered = True
    assert not entered


def test_second_with_on_a_closed_blocking_client_raises() -> None:
    polar = Polar(TOKEN)
    with polar:
        pass
    with pytest.raises(ClientClosedError), polar:
        pass
