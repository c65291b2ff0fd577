"""Models and the converter: aware datetimes, forward compatibility, round trips."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from polar_sdk import AsyncPolar
from polar_sdk._converter import make_converter
from polar_sdk.errors import ResponseDecodeError
from polar_sdk.models import (
    Address,
    CustomerIndividual,
    CustomerSession,
    CustomerTeam,
    UnknownCustomer,
)
from tests.checks import assert_matches
from tests.conftest import TOKEN
from tests.fakeapi import FakePolarAPI
from tests.test_request_shaping import CUSTOMER, SESSION_BODY

converter = make_converter()


def _body(**customer_changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(SESSION_BODY)
    body["customer"].update(customer_changes)
    return body


def test_models_are_frozen_slotted_keyword_only() -> None:
    for cls in (CustomerSession, CustomerIndividual, CustomerTeam, Address, UnknownCustomer):
        assert attrs.has(cls)
        assert "__slots__" in cls.__dict__
        assert all(f.kw_only for f in attrs.fields(cls))
    session = converter.structure(SESSION_BODY, CustomerSession)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        session.token = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T12:04:25.711997Z", datetime(2026, 11, 26, 12, 4, 25, 711997, timezone.utc)),
        ("2026-11-26T12:04:25Z", datetime(2026, 11, 26, 12, 4, 25, tzinfo=timezone.utc)),
        ("2026-11-26T12:04:25.7Z", datetime(2026, 11, 26, 12, 4, 25, 700000, timezone.utc)),
        (
            "2026-11-26T14:04:25.123+02:00",
            datetime(2026, 11, 26, 12, 4, 25, 123000, timezone.utc),
        ),
        # A server that forgot the offset means UTC; the SDK never hands out naive datetimes.
        ("2026-11-26T12:04:25", datetime(2026, 11, 26, 12, 4, 25, tzinfo=timezone.utc)),
    ],
)
def test_datetimes_are_aware(text: str, expected: datetime) -> None:
    session = converter.structure({**SESSION_BODY, "expires_at": text}, CustomerSession)
    assert session.expires_at == expected
    assert session.expires_at.utcoffset() is not None


def test_datetime_round_trip_keeps_offsets() -> None:
    value = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    assert converter.unstructure(value) == "2026-01-02T03:04:05.000006+02:00"
    assert converter.unstructure(value.astimezone(timezone.utc)).endswith("Z")


def test_unknown_country_and_tax_format_survive_as_strings() -> None:
    body = _body(
        billing_address={"country": "XK", "line1": "Rruga 1", "state": None},
        tax_id=["XK123", "xk_vat"],
    )
    session = converter.structure(body, CustomerSession)
    customer = session.customer
    assert isinstance(customer, CustomerIndividual)
    assert customer.billing_address == Address(country="XK", line1="Rruga 1")
    assert customer.tax_id == ("XK123", "xk_vat")


def test_unknown_customer_type_keeps_raw_data() -> None:
    raw = {"id": "c1", "type": "household", "members": [1, 2], "email": "h@example.com"}
    session = converter.structure({**SESSION_BODY, "customer": raw}, CustomerSession)
    assert session.customer == UnknownCustomer(type="household", id="c1", raw=raw)
    assert converter.unstructure(session)["customer"] == raw


def test_customer_type_picks_the_variant_by_tag() -> None:
    team = converter.structure(_body(type="team", email=None), CustomerSession).customer
    assert isinstance(team, CustomerTeam)
    assert team.email is None
    individual = converter.structure(SESSION_BODY, CustomerSession).customer
    assert isinstance(individual, CustomerIndividual)


def test_extra_fields_are_ignored_everywhere() -> None:
    body = _body(shiny_new_field={"a": 1}, billing_address={"country": "US", "geo": [1, 2]})
    body["session_kind"] = "portal"
    session = converter.structure(body, CustomerSession)
    assert isinstance(session.customer, CustomerIndividual)
    assert session.customer.billing_address == Address(country="US")


def test_omitted_nullable_fields_default_to_none() -> None:
    body = copy.deepcopy(SESSION_BODY)
    for name in ("modified_at", "return_url"):
        del body[name]
    for name in ("avatar_url", "locale", "first_user_event_at", "deleted_at"):
        del body["customer"][name]
    session = converter.structure(body, CustomerSession)
    assert session.modified_at is None
    assert session.return_url is None
    assert isinstance(session.customer, CustomerIndividual)
    assert session.customer.avatar_url is None


def test_metadata_keeps_value_types() -> None:
    metadata = {"s": "x", "i": 3, "f": 2.5, "b": True}
    customer = converter.structure(_body(metadata=metadata), CustomerSession).customer
    assert isinstance(customer, CustomerIndividual)
    assert customer.metadata == metadata
    assert [type(v) for v in customer.metadata.values()] == [str, int, float, bool]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"token": 5}, "$.token"),
        ({"expires_at": "tomorrow"}, "$.expires_at"),
        ({"customer": "c1"}, "$.customer"),
    ],
)
def test_wrong_types_are_rejected(change: dict[str, Any], fragment: str) -> None:
    from cattrs import BaseValidationError, transform_error

    with pytest.raises(BaseValidationError) as info:
        converter.structure({**SESSION_BODY, **change}, CustomerSession)
    assert any(fragment in line for line in transform_error(info.value))


def test_round_trip_equals_wire_json() -> None:
    session = converter.structure(SESSION_BODY, CustomerSession)
    assert json.loads(json.dumps(converter.unstructure(session))) == SESSION_BODY
    assert assert_matches(session, SESSION_BODY) >= 20


def test_converter_is_private_to_the_sdk() -> None:
    import cattrs

    assert cattrs.global_converter is not converter
    # Our hooks must not leak into the global converter.
    with pytest.raises(Exception):  # noqa: B017, PT011 - cattrs raises its own types
        cattrs.structure(SESSION_BODY, CustomerSession)


# -- the same, end to end over a real loopback server ------------------------------------------


@pytest.mark.anyio
@pytest.mark.integration
async def test_forward_compatible_body_over_http(fake_api: FakePolarAPI) -> None:
    body = copy.deepcopy(SESSION_BODY)
    body["brand_new"] = {"x": [1]}
    body["customer"].update(
        billing_address={
            "country": "XK",
            "line1": None,
            "line2": None,
            "postal_code": None,
            "city": None,
            "state": None,
        },
        tax_id=["1", "zz_new"],
    )
    team = copy.deepcopy(body)
    team["customer"]["type"] = "household"
    fake_api.reply(201, body)
    fake_api.reply(201, team)
    async with AsyncPolar(TOKEN, base_url=fake_api.url) as polar:
        known = await polar.customer_sessions.create(customer_id=CUSTOMER)
        unknown = await polar.customer_sessions.create(customer_id=CUSTOMER)
    assert isinstance(known.customer, CustomerIndividual)
    assert known.customer.billing_address == Address(country="XK")
    assert known.customer.tax_id == ("1", "zz_new")
    del body["brand_new"]
    assert json.loads(json.dumps(converter.unstructure(known))) == body
    assert isinstance(unknown.customer, UnknownCustomer)
    assert unknown.customer.raw == team["customer"]


@pytest.mark.anyio
@pytest.mark.integration
async def test_undecodable_body_over_http(fake_api: FakePolarAPI) -> None:
    fake_api.reply(
        201,
        raw=b'{"id": "x", "token": "polar_cst_abc',
        headers={"content-type": "application/json"},
    )
    async with AsyncPolar(TOKEN, base_url=fake_api.url) as polar:
        with pytest.raises(ResponseDecodeError) as info:
            await polar.customer_sessions.create(customer_id=CUSTOMER)
    assert info.value.body == '{"id": "x", "token": "polar_cst_abc'
    assert "polar_cst_abc" not in str(info.value)
