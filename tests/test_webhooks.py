"""Webhooks: real signed deliveries verify and decode; every event type; every bad input.

The recorded deliveries (../shared/polar-fixtures/webhooks) prove how Polar derives its key
from the `whsec_...` secret: the whole string's UTF-8 bytes, not the generic Standard
Webhooks rule. Standard Webhooks' published test vector checks the HMAC scheme itself, and
the `standardwebhooks` package (a test dependency only) serves as an independent signer.
"""

from __future__ import annotations

import base64
import json
import pickle
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from polar_sdk import PolarError
from polar_sdk.errors import WebhookPayloadError, WebhookVerificationError
from polar_sdk.models import WebhookOrderPaidPayload, unstructure
from polar_sdk.testing import sign_webhook
from polar_sdk.webhooks import (
    MAX_BODY_BYTES,
    UnknownWebhookEvent,
    decode_event,
    signature,
    verify_event,
    verify_signature,
)
from tests.conftest import fixtures_dir, require_fixtures

SECRET = "whsec_testSecretForTheWebhookSuite0000000000000"


def deliveries() -> list[Path]:
    root = fixtures_dir()
    return sorted((root / "webhooks").glob("*.json")) if root is not None else []


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def at(delivery: dict[str, Any]) -> int:
    return int(delivery["headers"]["webhook-timestamp"])


# -- real deliveries --------------------------------------------------------------------------


@pytest.mark.parametrize("path", deliveries() or [None], ids=lambda p: p.name if p else "none")
def test_recorded_deliveries_verify_and_decode(path: Path | None) -> None:
    if path is None:
        require_fixtures()
        pytest.fail("no recorded webhook deliveries")
    delivery = load(path)
    body = delivery["body"].encode("utf-8")
    event = verify_event(body, delivery["headers"], delivery["secret"], now=at(delivery))
    payload = json.loads(body)
    assert event.type == payload["type"]
    assert type(event).__name__ != "UnknownWebhookPayload"
    assert type(event).__name__.lower() == (
        "webhook" + payload["type"].replace(".", "").replace("_", "") + "payload"
    )
    assert unstructure(event)["data"]["id"] == payload["data"]["id"]
    assert "api_version" not in payload  # what the real server sends: no api_version field


@pytest.mark.parametrize("path", deliveries() or [None], ids=lambda p: p.name if p else "none")
def test_any_one_byte_change_fails(path: Path | None) -> None:
    if path is None:
        require_fixtures()
        pytest.fail("no recorded webhook deliveries")
    delivery = load(path)
    body = delivery["body"].encode("utf-8")
    headers = delivery["headers"]
    secret = delivery["secret"]
    for index in (0, len(body) // 3, len(body) // 2, len(body) - 1):
        changed = bytearray(body)
        changed[index] ^= 0x01
        with pytest.raises(WebhookVerificationError, match="no signature matches"):
            verify_event(bytes(changed), headers, secret, now=at(delivery))
    for name in ("webhook-id", "webhook-timestamp"):
        tampered = {
            **headers,
            name: headers[name][:-1] + ("1" if headers[name][-1] != "1" else "2"),
        }
        with pytest.raises(WebhookVerificationError):
            verify_event(body, tampered, secret, now=at(delivery))
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify_event(body, headers, secret[:-1] + "x", now=at(delivery))


def test_polar_signs_with_the_secret_string_not_the_generic_whsec_rule() -> None:
    """The proof the docstrings cite: only the whole secret's bytes reproduce real signatures."""
    paths = deliveries()
    if not paths:
        require_fixtures()
        pytest.fail("no recorded webhook deliveries")
    for path in paths:
        delivery = load(path)
        headers = delivery["headers"]
        body = delivery["body"].encode()
        offered = headers["webhook-signature"].split()
        ours = signature(
            delivery["secret"], headers["webhook-id"], headers["webhook-timestamp"], body
        )
        assert ours in offered
        # The generic rule: base64-decode what follows `whsec_`. Polar's secrets are not even
        # valid base64 that way, and padded they give another key.
        from standardwebhooks import Webhook

        encoded = delivery["secret"].removeprefix("whsec_")
        try:
            generic = Webhook(encoded + "=" * (-len(encoded) % 4))
            theirs = generic.sign(
                headers["webhook-id"], datetime.fromtimestamp(at(delivery), timezone.utc), body
            )
        except Exception:
            theirs = None
        assert theirs not in offered


# -- the scheme itself --------------------------------------------------------------------------


def test_standard_webhooks_published_vector() -> None:
    from polar_sdk.webhooks import _sign  # pyright: ignore[reportPrivateUsage]

    key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signed = _sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}')
    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_an_independent_signer_agrees() -> None:
    from standardwebhooks import Webhook

    body, headers = sign_webhook(
        {"type": "x.y", "timestamp": "2026-12-01T00:00:00Z", "data": {}}, SECRET
    )
    # Standard Webhooks with the key given as base64 of Polar's key bytes.
    other = Webhook(base64.b64encode(SECRET.encode()).decode())
    other.verify(body, headers)  # raises on mismatch
    stamp = datetime.fromtimestamp(int(headers["webhook-timestamp"]), timezone.utc)
    assert other.sign(headers["webhook-id"], stamp, body) == headers["webhook-signature"]


# -- every event type -----------------------------------------------------------------------------


def _samples() -> dict[str, Any]:
    """One real recorded object per data type the events carry, else one built from the spec."""
    from codegen.openapi import ir
    from tests.contract.operation_calls import ValueBuilder
    from tests.spec_support import api, recorded_success_bodies, wire_spec

    found: dict[str, Any] = {}
    for recorded in recorded_success_bodies():
        tp = recorded.type
        if isinstance(tp, ir.Named) and not tp.args:
            found.setdefault(tp.name, recorded.body)
        elif isinstance(tp, ir.Named) and isinstance(recorded.body, dict):
            items = recorded.body.get("items") or []
            arg = tp.args[0] if tp.args else None
            if items and isinstance(arg, ir.Named):
                found.setdefault(arg.name, items[0])
    for path in deliveries():
        payload = json.loads(load(path)["body"])
        found.setdefault(f"event:{payload['type']}", payload["data"])
    builder = ValueBuilder(wire_spec())
    samples: dict[str, Any] = {}
    union = api().unions["WebhookPayload"]
    for member in union.members:
        model = api().models[member.name]
        kind = next(f for f in model.fields if f.wire_name == "type").type
        data = next(f for f in model.fields if f.wire_name == "data").type
        assert isinstance(kind, ir.Const) and isinstance(data, ir.Named)
        value = found.get(data.name, found.get(f"event:{kind.value}"))
        if value is None:  # no payment provider where the exchanges were recorded
            value = builder.value({"$ref": f"#/components/schemas/{data.name}"}, full=True)
        samples[str(kind.value)] = (member.name, value)
    return samples


def test_all_41_event_types_verify_and_decode_to_their_class() -> None:
    require_fixtures()
    import polar_sdk.models as models

    samples = _samples()
    assert len(samples) == 41
    for event_type, (class_name, data) in samples.items():
        payload = {"type": event_type, "timestamp": "2026-12-01T10:00:00Z", "data": data}
        body, headers = sign_webhook(payload, SECRET)
        event = verify_event(body, headers, SECRET)
        assert type(event) is getattr(models, class_name), event_type
        assert event.type == event_type
        # ... and with an `api_version` field, as polar-sdk 1.0.2 expects one: ignored.
        body, headers = sign_webhook({**payload, "api_version": "2026-10"}, SECRET)
        assert type(verify_event(body, headers, SECRET)) is getattr(models, class_name)


# -- bad input ------------------------------------------------------------------------------------


def _without(headers: dict[str, str], prefix: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if not k.startswith(prefix)}


def _order_paid() -> dict[str, Any]:
    return {"type": "order.paid", "timestamp": "2026-12-01T10:00:00Z", "data": {"id": "x"}}


def _signed(payload: Any = None, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    return sign_webhook(payload if payload is not None else {"type": "x"}, SECRET, **kwargs)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (
            lambda b, h: (b, {k: v for k, v in h.items() if k != "webhook-id"}),
            "missing header webhook-id",
        ),
        (
            lambda b, h: (b, {k: v for k, v in h.items() if not k.startswith("webhook")}),
            "missing headers",
        ),
        (lambda b, h: (b, {**h, "webhook-signature": "v1a,c2lnbmF0dXJl"}), "no v1 signature"),
        (lambda b, h: (b, {**h, "webhook-signature": "v1,bm90LWl0"}), "no signature matches"),
        (lambda b, h: (b, {**h, "webhook-signature": "v1,***"}), "no signature matches"),
        (lambda b, h: (b, {**h, "webhook-timestamp": "soon"}), "not a number"),
        (lambda b, h: (b.decode(), h), "not a str"),
        (lambda b, h: (json.loads(b), h), "not a dict"),
    ],
)
def test_bad_deliveries_say_what_is_wrong(change: Any, fragment: str) -> None:
    body, headers = change(*_signed())
    with pytest.raises(WebhookVerificationError, match=fragment) as info:
        verify_event(body, headers, SECRET)
    assert isinstance(info.value, PolarError)
    shown = str(info.value) + repr(info.value)
    assert SECRET not in shown
    assert _signed()[1]["webhook-signature"].split(",")[1] not in shown


def test_several_signatures_one_valid_is_accepted() -> None:
    body, headers = _signed()
    others = "v1a,aGVsbG8= v1,d3Jvbmc= " + headers["webhook-signature"] + " v2,eHg="
    verify_signature(body, {**headers, "webhook-signature": others}, SECRET)


def test_header_names_in_any_case() -> None:
    body, headers = _signed()
    verify_signature(body, {k.upper(): v for k, v in headers.items()}, SECRET)
    verify_signature(body, {k.title(): v for k, v in headers.items()}, SECRET)


def test_timestamps_outside_the_tolerance_either_way() -> None:
    now = int(time.time())
    old_body, old = _signed(timestamp=now - 301)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_event(old_body, old, SECRET)
    verify_signature(old_body, old, SECRET, tolerance=600)  # widened on purpose
    new_body, new = _signed(timestamp=now + 301)
    with pytest.raises(WebhookVerificationError, match="in the future"):
        verify_event(new_body, new, SECRET)
    edge_body, edge = _signed(timestamp=now - 290)
    verify_signature(edge_body, edge, SECRET)


def test_wrong_secret_and_empty_secret() -> None:
    body, headers = _signed()
    with pytest.raises(WebhookVerificationError, match="no signature matches") as info:
        verify_event(body, headers, "whsec_anotherEndpointsSecret000000000000000")
    assert "anotherEndpoint" not in str(info.value)
    with pytest.raises(WebhookVerificationError, match="secret"):
        verify_event(body, headers, "")


def test_signed_but_not_an_event_keeps_the_body() -> None:
    for raw in (b"", b"\xff\xfe not utf-8", b"[1, 2]", b'{"type": "order.paid", "data": 5}'):
        body, headers = _signed(raw)
        with pytest.raises(WebhookPayloadError) as info:
            verify_event(body, headers, SECRET)
        assert info.value.body == raw
        assert SECRET not in str(info.value)
        again = pickle.loads(pickle.dumps(info.value))
        assert again.body == raw


def test_wrong_type_for_the_data_is_a_payload_error() -> None:
    body, headers = _signed(_order_paid())  # an order without any order fields
    with pytest.raises(WebhookPayloadError, match=r"'order\.paid' event"):
        verify_event(body, headers, SECRET)


def test_unknown_event_type_decodes_to_the_fallback() -> None:
    payload = {"type": "invoice.drafted", "timestamp": "2026-12-01T10:00:00Z", "data": {"a": 1}}
    body, headers = _signed(payload)
    event = verify_event(body, headers, SECRET)
    assert isinstance(event, UnknownWebhookEvent)
    assert event.type == "invoice.drafted"
    assert event.raw == payload
    assert unstructure(event) == payload


def test_a_10_mb_body_is_verified_in_linear_time_and_bigger_ones_are_refused() -> None:
    big = b'{"type": "x", "pad": "' + b"a" * (10_000_000 - 30) + b'"}'
    body, headers = _signed(big)
    started = time.perf_counter()
    verify_signature(body, headers, SECRET)
    assert time.perf_counter() - started < 2.0  # one HMAC pass over 10 MB
    huge, huge_headers = _signed(b"a" * (MAX_BODY_BYTES + 1))
    with pytest.raises(WebhookVerificationError, match="bytes; deliveries above"):
        verify_signature(huge, huge_headers, SECRET)


def test_decode_without_verifying_and_model_round_trip() -> None:
    payload = {"type": "invoice.drafted", "timestamp": "2026-12-01T10:00:00Z", "data": {}}
    event = decode_event(json.dumps(payload).encode())
    assert isinstance(event, UnknownWebhookEvent)
    assert WebhookOrderPaidPayload.__name__ == "WebhookOrderPaidPayload"
