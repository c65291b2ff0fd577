"""The JSON layer: orjson when installed, stdlib otherwise, with identical results."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import httpx
import pytest

from polar_sdk import AsyncPolar, _json
from polar_sdk.errors import ResponseDecodeError
from tests.test_request_shaping import CUSTOMER, SESSION_BODY, TOKEN

BODIES: list[Any] = [
    {"customer_id": CUSTOMER},
    {"external_customer_id": "kunde-zürich-ø-001", "return_url": None},
    SESSION_BODY,
]


def test_backend_matches_what_is_installed() -> None:
    has_orjson = importlib.util.find_spec("orjson") is not None
    expected = "orjson" if has_orjson else "json"
    assert expected == _json.BACKEND


@pytest.mark.parametrize("value", BODIES)
def test_dumps_is_compact_utf8_like_the_stdlib(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert _json.dumps(value) == expected
    assert _json._stdlib_dumps(value) == expected  # pyright: ignore[reportPrivateUsage]
    assert _json.loads(expected) == value


@pytest.mark.parametrize("text", [b'{"id": "trunc', b"<html>", b""])
def test_bad_json_raises_a_value_error_with_a_message(text: bytes) -> None:
    with pytest.raises(json.JSONDecodeError) as info:
        _json.loads(text)
    assert isinstance(info.value, ValueError)
    assert info.value.msg


@pytest.mark.anyio
@pytest.mark.parametrize("backend", ["active", "stdlib"])
async def test_sdk_round_trip_on_each_backend(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "stdlib":
        monkeypatch.setattr(_json, "loads", json.loads)
        monkeypatch.setattr(_json, "dumps", _json._stdlib_dumps)
    sent: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        if len(sent) == 1:
            return httpx.Response(201, json=SESSION_BODY)
        return httpx.Response(201, content=b'{"broken')

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    async with AsyncPolar(TOKEN, http_client=http) as polar:
        session = await polar.customer_sessions.create(external_customer_id="kunde-zürich")
        with pytest.raises(ResponseDecodeError, match="not valid JSON"):
            await polar.customer_sessions.create(external_customer_id="x")
    assert session.token == SESSION_BODY["token"]
    assert sent[0] == '{"external_customer_id":"kunde-zürich"}'.encode()
    await http.aclose()
