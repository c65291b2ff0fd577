"""Credentials never reach an exception message or repr, whatever the server echoes (issue 13).

A loopback uvicorn server answers every request with an error whose body repeats the request's
Authorization header (and a customer-session token), as JSON fields, as a validation list, as
plain text and in a redirect; the SDK's messages must name the problem without the secrets,
while `exc.body` keeps the raw text for whoever needs it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from polar_sdk import AsyncPolar, Polar
from polar_sdk.errors import APIException

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

ORG_TOKEN = "polar_oat_Zx81sEcReTtOkEn4ReDaCtIoNtEsT0000000000000"
PERSONAL_TOKEN = "personalTokenWithoutAnyPolarPrefix0123456789"
SESSION_TOKEN = "polar_cst_NhnMII8km7zs8oRXQN4jQ1AeB7OIlSBJLQ8DT4VDjjz"
MEMBER_TOKEN = "polar_mst_xJ5iyqKB3HpHTcGsOLHtVXm58CseRCTH5qutb1fg2tU"
SECRETS = (ORG_TOKEN, PERSONAL_TOKEN, SESSION_TOKEN, MEMBER_TOKEN)


def _bodies(auth: str) -> dict[str, tuple[str, bytes]]:
    """Answer shapes keyed by the test's path, each repeating `auth` and the session tokens."""
    tokens = f"{SESSION_TOKEN} / {MEMBER_TOKEN}"
    return {
        "json": (
            "application/json",
            json.dumps({"error": f"bad header {auth}", "detail": f"{auth} rejected; {tokens}"}),
        ),
        "oauth": (
            "application/json",
            json.dumps({"error": "invalid_token", "error_description": f"got '{auth}' {tokens}"}),
        ),
        "validation": (
            "application/json",
            json.dumps(
                {"detail": [{"loc": ["header", auth], "msg": f"{auth} {tokens}", "type": "x"}]}
            ),
        ),
        "text": ("text/plain", f"upstream said: Authorization: {auth} {tokens}"),
        "html": ("text/html", f"<html><body><pre>{auth}\n{tokens}</pre></body></html>"),
    }


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer `/<status>/<shape>/...` with that status and a body echoing the credentials."""
    assert scope["type"] == "http"
    while (await receive()).get("more_body"):
        pass
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    _, status, shape, *_ = scope["path"].split("/")
    auth = headers.get("authorization", "")
    extra: list[tuple[bytes, bytes]] = []
    if shape == "redirect":
        location = f"https://polar.sh/portal?customer_session_token={SESSION_TOKEN}&a={auth}"
        extra = [(b"location", location.replace(" ", "%20").encode())]
        content_type, body = "text/plain", ""
    else:
        content_type, body = _bodies(auth)[shape]
    await send(
        {
            "type": "http.response.start",
            "status": int(status),
            "headers": [(b"content-type", content_type.encode()), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(echo_app, log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "echo server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _shown(exc: BaseException) -> str:
    """Everything a log or a console would show of the error."""
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "\n".join([str(exc), repr(exc), *map(str, exc.args), *lines])


def _assert_clean(exc: APIException, token: str) -> None:
    shown = _shown(exc)
    for secret in SECRETS:
        assert secret not in shown
    assert "[REDACTED]" in shown
    # The raw answer is still there, unchanged, for whoever needs it.
    assert token in exc.body or token in exc.headers.get("location", "")
    assert SESSION_TOKEN in exc.body + exc.headers.get("location", "")


CASES = [
    pytest.param(status, shape, id=f"{status}-{shape}")
    for status in (400, 401, 500)
    for shape in ("json", "oauth", "validation", "text", "html")
] + [pytest.param(422, "validation", id="422-validation"), pytest.param(307, "redirect", id="307")]


@pytest.mark.parametrize(("status", "shape"), CASES)
@pytest.mark.parametrize("token", [ORG_TOKEN, PERSONAL_TOKEN])
async def test_async_errors_never_show_credentials(
    echo_url: str, status: int, shape: str, token: str
) -> None:
    async with AsyncPolar(token, base_url=f"{echo_url}/{status}/{shape}", retry=None) as polar:
        with pytest.raises(APIException) as info:
            await polar.customer_sessions.create(external_customer_id="usr_1")
    assert info.value.status_code == status
    _assert_clean(info.value, token)


@pytest.mark.parametrize(("status", "shape"), [(401, "oauth"), (500, "text"), (400, "json")])
def test_blocking_errors_never_show_credentials(echo_url: str, status: int, shape: str) -> None:
    with (
        Polar(ORG_TOKEN, base_url=f"{echo_url}/{status}/{shape}", retry=None) as polar,
        pytest.raises(APIException) as info,
    ):
        polar.customer_sessions.create(external_customer_id="usr_1")
    _assert_clean(info.value, ORG_TOKEN)


async def test_message_still_explains_the_error(echo_url: str) -> None:
    async with AsyncPolar(ORG_TOKEN, base_url=f"{echo_url}/401/oauth", retry=None) as polar:
        with pytest.raises(APIException) as info:
            await polar.customer_sessions.create(external_customer_id="usr_1")
    assert str(info.value) == (
        "401 Unauthorized (POST /401/oauth/v1/customer-sessions/): invalid_token: got "
        "'Bearer [REDACTED]' polar_cst_[REDACTED] / polar_mst_[REDACTED]"
    )
