"""Integration: the SDK against a real loopback server replaying recorded Polar exchanges.

Two checks per recorded case of POST /v1/customer-sessions/:

- shaping: when the SDK can express the recorded request, it sends exactly that body (with the
  standard headers) -- or, when it refuses the arguments up front, nothing was sent and the
  real server had rejected that request too (or silently misread it: both ids given);
- answers: the recorded response, served to an SDK call, becomes the right model or error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from polar_sdk import POLAR_VERSION, AsyncPolar
from polar_sdk._converter import make_converter
from polar_sdk.errors import (
    APIException,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HTTPValidationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from polar_sdk.models import CustomerSession
from tests.checks import assert_matches
from tests.conftest import TOKEN, load_case, session_case_paths
from tests.fakeapi import FakePolarAPI, case_reply

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

_SDK_FIELDS = {
    "customer_id",
    "external_customer_id",
    "member_id",
    "external_member_id",
    "return_url",
}
_NO_FIXTURES = pytest.param(
    None, marks=pytest.mark.skip(reason="POLAR_FIXTURES_DIR is not set (see README, Testing)")
)


def _sdk_arguments(request: dict[str, Any]) -> dict[str, Any] | None:
    """Keyword arguments reproducing a recorded request, or None if the SDK cannot send it."""
    headers = {k.lower(): v for k, v in request["headers"].items()}
    body = request["body"]
    if (
        request["method"] != "POST"
        or request["path"] != "/v1/customer-sessions/"
        or headers.get("polar-version") != POLAR_VERSION
        or headers.get("authorization") != "Bearer <redacted>"
        or not isinstance(body, dict)
        or not set(body) <= _SDK_FIELDS
    ):
        return None
    return dict(body)


_ALL = session_case_paths()
_EXPRESSIBLE = [p for p in _ALL if _sdk_arguments(load_case(p)["request"]) is not None]


def _ids(path: Path | None) -> str:
    return "none" if path is None else f"{path.parent.name}/{path.stem}"


def test_fixture_inventory() -> None:
    if not _ALL:
        pytest.skip("POLAR_FIXTURES_DIR is not set (see README, Testing)")
    statuses = {load_case(p)["response"]["status"] for p in _ALL}
    # The recording covers success and every family of failure the tests below rely on.
    assert {201, 401, 403, 404, 422} <= statuses
    assert len(_EXPRESSIBLE) >= 20


@pytest.mark.parametrize("path", _EXPRESSIBLE or [_NO_FIXTURES], ids=_ids)
async def test_sdk_sends_the_recorded_request(path: Path, fake_api: FakePolarAPI) -> None:
    case = load_case(path)
    arguments = _sdk_arguments(case["request"])
    assert arguments is not None
    fake_api.reply_case(case)
    async with AsyncPolar(TOKEN, base_url=fake_api.url, retry=None) as polar:
        try:
            outcome: object = await polar.customer_sessions.create(**arguments)
        except InvalidRequestError as exc:
            # Refused before sending: the real server did not honour this request either.
            assert fake_api.requests == []
            both_ids = {"customer_id", "external_customer_id"} <= set(arguments)
            assert case["response"]["status"] == 422 or both_ids, str(exc)
            return
        except APIException as exc:
            outcome = exc
    assert len(fake_api.requests) == 1
    seen = fake_api.requests[0]
    assert (seen.method, seen.path, seen.query) == ("POST", "/v1/customer-sessions/", "")
    assert seen.json() == case["request"]["body"]
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["polar-version"] == "2026-10"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["user-agent"].startswith("polar_sdk/")
    assert int(seen.headers["content-length"]) == len(seen.body)
    if case["response"]["status"] == 201:
        assert isinstance(outcome, CustomerSession)
    else:
        assert isinstance(outcome, APIException)
        assert outcome.status_code == case["response"]["status"]


def _expected_class(status: int) -> type[APIException]:
    return {
        400: BadRequestError,
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        409: ConflictError,
        422: HTTPValidationError,
        429: RateLimitError,
    }.get(status, ServerError if status >= 500 else APIException)


@pytest.mark.parametrize("path", _ALL or [_NO_FIXTURES], ids=_ids)
async def test_recorded_answer_decodes(path: Path, fake_api: FakePolarAPI) -> None:
    case = load_case(path)
    response = case["response"]
    status = response["status"]
    fake_api.reply_case(case)
    async with AsyncPolar(TOKEN, base_url=fake_api.url, retry=None) as polar:
        call = polar.customer_sessions.create(customer_id="32f1da23-861d-4749-b8e3-08a3664580a8")
        if status == 201:
            session = await call
            body = response["body"]
            assert assert_matches(session, body) >= 20
            assert json.loads(json.dumps(make_converter().unstructure(session))) == body
            assert session.expires_at.tzinfo is not None
            for secret in (body["token"], body["customer_portal_url"]):
                assert secret not in repr(session)
            return
        with pytest.raises(APIException) as info:
            await call
    exc = info.value
    assert type(exc) is _expected_class(status)
    assert exc.status_code == status
    assert exc.request.method == "POST"
    sent = case_reply(case).body
    try:
        expected_data = json.loads(sent) if sent else None
    except ValueError:  # a plain-text answer, such as the server's bare 500
        expected_data = None
    assert exc.data == expected_data
    assert exc.body == sent.decode()
    message = str(exc)
    assert message.startswith(str(status))
    assert TOKEN not in message and TOKEN not in repr(exc)
    body = response["body"]
    if isinstance(body, dict):
        described = body.get("error_description", body.get("detail"))
        if isinstance(described, str):
            assert described in message
        if status == 422:
            assert isinstance(exc, HTTPValidationError)
            assert [(d.loc, d.msg, d.type) for d in exc.detail] == [
                (d["loc"], d["msg"], d["type"]) for d in body["detail"]
            ]
            for item in body["detail"]:
                assert item["msg"] in message
    if status == 404 and "polar-version" not in response["headers"]:
        assert "Polar-Version '2026-10'" in message
    if "location" in response["headers"]:
        assert response["headers"]["location"] in message
