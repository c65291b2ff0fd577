"""Status errors: class per status, attributes, and messages that read well."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import pytest

from polar_sdk._exceptions import make_status_error, parse_retry_after
from polar_sdk._http import validation_detail
from polar_sdk.errors import (
    APIException,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GoneError,
    HTTPValidationError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitError,
    ServerError,
)
from polar_sdk.models import ValidationError

URL = "https://api.polar.sh/v1/customer-sessions/"


def _error(status: int, body: Any = None, headers: dict[str, str] | None = None, text: str = ""):
    request = httpx.Request("POST", URL, headers={"Authorization": "Bearer polar_oat_secret"})
    if body is not None:
        response = httpx.Response(status, json=body, headers=headers, request=request)
    else:
        response = httpx.Response(status, text=text, headers=headers, request=request)
    return make_status_error(response, polar_version="2026-10", validation_detail=validation_detail)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, PaymentRequiredError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, APIException),
        (409, ConflictError),
        (410, GoneError),
        (411, APIException),
        (412, PreconditionFailedError),
        (422, HTTPValidationError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (418, APIException),
    ],
)
def test_status_to_class(status: int, cls: type[APIException]) -> None:
    exc = _error(status, {"error": "E", "detail": "d"}, headers={"polar-version": "2026-10"})
    assert type(exc) is cls
    assert exc.status_code == status
    assert exc.data == {"error": "E", "detail": "d"}
    assert exc.error == "E"
    assert exc.detail == ("d" if status != 422 else [])
    assert exc.request.url == URL
    assert "polar_oat_secret" not in str(exc)
    assert "polar_oat_secret" not in repr(exc)


def test_401_plain_shape_reads_well() -> None:
    exc = _error(401, {"error": "Unauthorized", "detail": "Unauthorized"})
    assert str(exc) == "401 Unauthorized (POST /v1/customer-sessions/): Unauthorized"


def test_401_oauth_shape_reads_well() -> None:
    exc = _error(
        401,
        {"error": "invalid_token", "error_description": "The access token is expired."},
        headers={"www-authenticate": 'Bearer realm="polar", error="invalid_token"'},
    )
    assert str(exc) == (
        "401 Unauthorized (POST /v1/customer-sessions/): "
        "invalid_token: The access token is expired."
    )
    assert exc.error == "invalid_token"
    assert exc.detail == "The access token is expired."
    assert exc.headers["www-authenticate"].startswith("Bearer")


def test_422_detail_is_typed_and_summarised() -> None:
    body = {
        "error": "PolarRequestValidationError",
        "detail": [
            {
                "type": "value_error",
                "loc": ["body", "customer_id"],
                "msg": "Customer does not exist.",
                "input": "b9a3",
            },
            {"type": "missing", "loc": ["body", "X", 0], "msg": "Field required", "ctx": {"a": 1}},
        ],
    }
    exc = _error(422, body)
    assert isinstance(exc, HTTPValidationError)
    assert exc.detail == [
        ValidationError(
            loc=["body", "customer_id"],
            msg="Customer does not exist.",
            type="value_error",
            input="b9a3",
        ),
        ValidationError(loc=["body", "X", 0], msg="Field required", type="missing", ctx={"a": 1}),
    ]
    assert str(exc) == (
        "422 Unprocessable Entity (POST /v1/customer-sessions/): PolarRequestValidationError: "
        "body.customer_id: Customer does not exist.; body.X.0: Field required"
    )


def test_422_with_unexpected_body_still_raises_validation_error() -> None:
    exc = _error(422, {"detail": "weird"})
    assert isinstance(exc, HTTPValidationError)
    assert exc.detail == []
    assert "weird" in str(exc)


def test_404_unsupported_version_says_so() -> None:
    version_404 = _error(404, {"detail": "Not Found"})
    assert "Polar-Version '2026-10'" in str(version_404)
    route_404 = _error(404, {"detail": "Not Found"}, headers={"polar-version": "2026-10"})
    assert "Polar-Version" not in str(route_404)
    missing = _error(404, {"error": "ResourceNotFound", "detail": "Not found"})
    assert "Polar-Version" not in str(missing)


def test_429_retry_after_seconds_and_date() -> None:
    exc = _error(429, headers={"retry-after": "2"})
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after == 2.0
    assert exc.data is None
    assert str(exc).endswith("retry after 2 s")
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    dated = _error(429, headers={"retry-after": future})
    assert isinstance(dated, RateLimitError)
    assert dated.retry_after is not None
    assert 25 <= dated.retry_after <= 31
    assert _error(429).retry_after is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        (" 2 ", 2.0),
        ("1.5", 1.5),
        ("-3", None),
        ("soon", None),
        (None, None),
        ("nan", None),
        ("inf", None),
        ("Infinity", None),
        ("1e400", None),
        ("1_0", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: retry now
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_plain_text_500_keeps_the_text() -> None:
    exc = _error(500, text="Internal Server Error", headers={"content-type": "text/plain"})
    assert isinstance(exc, ServerError)
    assert exc.body == "Internal Server Error"
    assert exc.data is None
    assert str(exc) == (
        "500 Internal Server Error (POST /v1/customer-sessions/): Internal Server Error"
    )


def test_html_502_is_shortened() -> None:
    html = "<html><body>" + "bad gateway " * 50 + "</body></html>"
    exc = _error(502, text=html)
    assert len(str(exc)) < 300
    assert exc.body == html


def test_redirect_names_the_location() -> None:
    exc = _error(307, text="", headers={"location": "http://127.0.0.1:8000/v1/customer-sessions/"})
    assert type(exc) is APIException
    assert "unexpected redirect to http://127.0.0.1:8000/v1/customer-sessions/" in str(exc)
