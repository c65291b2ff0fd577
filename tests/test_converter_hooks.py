"""The converter's specialised hooks (optional fields, date-times) keep cattrs' behaviour.

These hooks exist for speed (see BENCHMARKS.md); each test pins a behaviour they must keep.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cattrs import BaseValidationError

from polar_sdk._converter import make_converter
from polar_sdk.models import Address, CustomerIndividual, CustomerSession

_CUSTOMER: dict[str, Any] = {
    "id": "32f1da23-861d-4749-b8e3-08a3664580a8",
    "created_at": "2026-11-26T11:59:24.781076Z",
    "modified_at": None,
    "metadata": {"plan": "pro", "seats": 5},
    "external_id": None,
    "email": "jane@example.com",
    "email_verified": False,
    "type": "individual",
    "name": "Jane",
    "billing_address": {"country": "US", "state": "US-CA", "line1": None},
    "tax_id": ["123456789", "us_ein"],
    "organization_id": "859a38a9-a610-400f-a1a1-c59e48396247",
}
_SESSION: dict[str, Any] = {
    "id": "a39a535f-3886-4942-ab13-a59a870bad4f",
    "created_at": "2026-11-26T12:04:25.468330Z",
    "token": "polar_mst_x",
    "expires_at": "2026-11-26T13:04:25+02:00",
    "customer_portal_url": "https://example.com/portal",
    "customer_id": "32f1da23-861d-4749-b8e3-08a3664580a8",
    "customer": _CUSTOMER,
}


def test_optional_fields_accept_null_absent_and_values() -> None:
    converter = make_converter()
    data = copy.deepcopy(_CUSTOMER)
    data.pop("external_id")
    customer = converter.structure(data, CustomerIndividual)
    assert customer.modified_at is None
    assert customer.external_id is None
    assert customer.name == "Jane"
    assert customer.billing_address == Address(country="US", state="US-CA")
    assert customer.tax_id == ("123456789", "us_ein")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 5),
        ("name", ["Jane"]),
        ("modified_at", 1700000000),
        ("modified_at", "yesterday"),
        ("billing_address", "Main Street"),
        ("tax_id", ["123", 7]),
    ],
)
def test_optional_fields_reject_wrong_types(field: str, value: object) -> None:
    data = copy.deepcopy(_CUSTOMER)
    data[field] = value
    with pytest.raises((BaseValidationError, TypeError, ValueError)):
        make_converter().structure(data, CustomerIndividual)


def test_datetimes_are_aware_whatever_the_wire_spelling() -> None:
    data = copy.deepcopy(_SESSION)
    data["modified_at"] = "2026-11-26T12:04:25"  # no offset: read as UTC
    session = make_converter().structure(data, CustomerSession)
    assert session.created_at == datetime(2026, 11, 26, 12, 4, 25, 468330, tzinfo=timezone.utc)
    assert session.expires_at.utcoffset() == timedelta(hours=2)
    assert session.modified_at == datetime(2026, 11, 26, 12, 4, 25, tzinfo=timezone.utc)
    assert session.customer.created_at.tzinfo is not None


def test_unknown_enum_values_survive_in_optional_fields() -> None:
    data = copy.deepcopy(_CUSTOMER)
    data["billing_address"] = {"country": "XQ"}
    data["tax_id"] = ["42", "zz_new_format"]
    customer = make_converter().structure(data, CustomerIndividual)
    assert customer.billing_address is not None
    assert customer.billing_address.country == "XQ"
    assert customer.tax_id == ("42", "zz_new_format")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["customer"].update(email=5), "$.customer.email"),
        (lambda d: d.pop("token"), "$.token"),
        (
            lambda d: d["customer"]["billing_address"].update(city=["x"]),
            "$.customer.billing_address",
        ),
    ],
)
def test_bad_answers_still_get_cattrs_detailed_errors(change: Any, expected: str) -> None:
    """The lean decoding path falls back to cattrs, whose errors name the offending path."""
    from cattrs import transform_error

    data = copy.deepcopy(_SESSION)
    change(data)
    with pytest.raises(BaseValidationError) as caught:
        make_converter().structure(data, CustomerSession)
    assert any(expected in line for line in transform_error(caught.value)), transform_error(
        caught.value
    )


def _reference_converter() -> Any:
    """The same wire conventions, but every model decoded by cattrs' own generated hooks."""
    return make_converter(lean=False)


def _recorded_bodies() -> list[dict[str, Any]]:
    from tests.conftest import load_case, session_case_paths

    bodies = [load_case(p)["response"]["body"] for p in session_case_paths()]
    return [b for b in bodies if isinstance(b, dict) and "customer_portal_url" in b]


def test_fast_path_decodes_exactly_like_cattrs() -> None:
    import json

    from tests.test_request_shaping import SESSION_BODY

    fast = make_converter()
    reference = _reference_converter()
    bodies = [SESSION_BODY, *_recorded_bodies()]
    variants: list[dict[str, Any]] = []
    for body in bodies:
        variants.append(body)
        sparse = copy.deepcopy(body)
        for name in ("modified_at", "return_url"):
            sparse.pop(name, None)
        sparse["customer"].pop("avatar_url", None)
        sparse["extra"] = {"x": 1}
        variants.append(sparse)
        odd = copy.deepcopy(body)
        odd["customer"]["type"] = "household"
        variants.append(odd)
    for variant in variants:
        got = fast.structure(variant, CustomerSession)
        want = reference.structure(variant, CustomerSession)
        assert got == want
        # The lean path also remembers which optional fields the answer left out, so it
        # gives back exactly the JSON it read (minus the undeclared key).
        declared = {k: v for k, v in variant.items() if k != "extra"}
        assert json.dumps(fast.unstructure(got), sort_keys=True) == json.dumps(
            declared, sort_keys=True
        )
    assert len(variants) >= 3


def test_places_holding_a_model_hook_get_its_compiled_function() -> None:
    """Once a model is compiled, unions, lists and fields call the compiled code directly."""
    import json

    from polar_sdk._converter import _COMPILE_AFTER, Hooks
    from polar_sdk.models import Customer, ListResource

    team = {**_CUSTOMER, "type": "team", "billing_address": None, "tax_id": None}
    page = {
        "items": [_CUSTOMER, team],
        "pagination": {"total_count": 2, "max_page": 1},
    }
    hooks = Hooks()
    page_type = ListResource[Customer]
    decode = hooks.get(page_type)
    first = decode(json.loads(json.dumps(page)))
    for _ in range(_COMPILE_AFTER + 2):
        again = decode(json.loads(json.dumps(page)))
    assert again == first

    def held(function: Any) -> dict[str, Any]:
        values = [c.cell_contents for c in function.__closure__ or ()]
        return dict(zip(function.__code__.co_freevars, values, strict=True))

    compiled = hooks.get(page_type)
    assert compiled.__code__.co_filename.startswith("<polar_sdk structure")
    items = next(v for k, v in compiled.__globals__.items() if k.startswith("h") and callable(v))
    union = held(items)["item_box"][0]
    table = held(union)["table"]
    assert set(table) == {"individual", "team"}
    for hook in table.values():  # the members' compiled functions, no forwarder between
        assert hook.__code__.co_filename.startswith("<polar_sdk structure")
    assert hooks.holders == {}  # nothing left waiting for a compiled form


@pytest.mark.parametrize("tax_id", [["123456789", 5], ["123456789"], "123456789"])
def test_a_tax_id_pair_of_open_enum_strings_is_still_checked(tax_id: object) -> None:
    converter = make_converter()
    good = converter.structure({**_CUSTOMER}, CustomerIndividual)
    assert good.tax_id == ("123456789", "us_ein")
    with pytest.raises(BaseValidationError):
        converter.structure({**_CUSTOMER, "tax_id": tax_id}, CustomerIndividual)
