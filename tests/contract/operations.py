"""The operations under contract test, and every way of calling each one.

To cover another operation, append an `Operation` to `OPERATIONS`; the tests in this folder
pick it up.
"""

from __future__ import annotations

import itertools
from typing import Any

from polar_sdk import AsyncPolar
from polar_sdk.models import (
    CustomerSession,
    CustomerSessionCustomerExternalIDCreate,
    CustomerSessionCustomerIDCreate,
)
from tests.contract.harness import Call, Invoke, Operation

__all__ = ["OPERATIONS"]

# Version-4 UUIDs (the SDK and the patched spec both insist on version 4).
CUSTOMER_ID = "5f1b4e0c-9a3d-4c8e-b2a7-0d6e8f1c3b95"
MEMBER_ID = "a3c2e1d0-7b6f-4e5d-8c9b-1a2b3c4d5e6f"
EXTERNAL_CUSTOMER_ID = "usr_contract_42"
EXTERNAL_MEMBER_ID = "member_contract_7"
RETURN_URL = "https://example.com/account?tab=billing"

_OPTIONAL_VALUES: dict[str, str] = {
    "member_id": MEMBER_ID,
    "external_member_id": EXTERNAL_MEMBER_ID,
    "return_url": RETURN_URL,
}
_ID_VALUES: dict[str, str] = {
    "customer_id": CUSTOMER_ID,
    "external_customer_id": EXTERNAL_CUSTOMER_ID,
}
# absent: not passed (must not be sent); null: passed as None (sent as JSON null).
_STATES = ("absent", "value", "null")


def _session_call(id_field: str, form: str, states: dict[str, str]) -> Call:
    fields: dict[str, Any] = {id_field: _ID_VALUES[id_field]}
    for name, state in states.items():
        if state == "value":
            fields[name] = _OPTIONAL_VALUES[name]
        elif state == "null":
            fields[name] = None

    if form == "keywords":

        async def invoke(polar: AsyncPolar) -> object:
            return await polar.customer_sessions.create(**fields)

    else:
        model = (
            CustomerSessionCustomerIDCreate
            if id_field == "customer_id"
            else CustomerSessionCustomerExternalIDCreate
        )
        request = model(**fields)

        async def invoke(polar: AsyncPolar) -> object:
            return await polar.customer_sessions.create(request=request)

    label = "-".join(f"{name}={state}" for name, state in states.items())
    return Call(id=f"{id_field}-{form}-{label}", invoke=invoke, body=dict(fields))


def _session_calls() -> list[Call]:
    """Both ids x keywords / request model x every optional field absent, set or null.

    Both member ids with values is not a valid call (the API would silently use one of
    them): it is among the refused calls below.
    """
    names = list(_OPTIONAL_VALUES)
    combos = [
        states
        for combo in itertools.product(_STATES, repeat=len(names))
        if not ((states := dict(zip(names, combo, strict=True)))["member_id"] == "value"
                and states["external_member_id"] == "value")
    ]  # fmt: skip
    return [
        _session_call(id_field, form, states)
        for id_field in _ID_VALUES
        for form in ("keywords", "model")
        for states in combos
    ]


async def _create_session_sample(polar: AsyncPolar) -> object:
    return await polar.customer_sessions.create(
        customer_id=CUSTOMER_ID, return_url=RETURN_URL, member_id=MEMBER_ID
    )


async def _both_ids(polar: AsyncPolar) -> object:
    kwargs: dict[str, Any] = {
        "customer_id": CUSTOMER_ID,
        "external_customer_id": EXTERNAL_CUSTOMER_ID,
    }
    return await polar.customer_sessions.create(**kwargs)


async def _both_ids_with_member(polar: AsyncPolar) -> object:
    kwargs: dict[str, Any] = {
        "customer_id": CUSTOMER_ID,
        "external_customer_id": EXTERNAL_CUSTOMER_ID,
        "member_id": MEMBER_ID,
        "return_url": RETURN_URL,
    }
    return await polar.customer_sessions.create(**kwargs)


async def _both_member_ids(polar: AsyncPolar) -> object:
    kwargs: dict[str, Any] = {
        "customer_id": CUSTOMER_ID,
        "member_id": MEMBER_ID,
        "external_member_id": EXTERNAL_MEMBER_ID,
    }
    return await polar.customer_sessions.create(**kwargs)


async def _no_id(polar: AsyncPolar) -> object:
    kwargs: dict[str, Any] = {"return_url": RETURN_URL}
    return await polar.customer_sessions.create(**kwargs)


async def _request_and_keywords(polar: AsyncPolar) -> object:
    request = CustomerSessionCustomerIDCreate(customer_id=CUSTOMER_ID)
    kwargs: dict[str, Any] = {"request": request, "return_url": RETURN_URL}
    return await polar.customer_sessions.create(**kwargs)


def _refused(id: str, invoke: Invoke) -> Call:
    return Call(id=id, invoke=invoke)


CUSTOMER_SESSIONS_CREATE = Operation(
    operation_id="customer-sessions:create",
    method="POST",
    path="/v1/customer-sessions/",
    success_status=201,
    response_type=CustomerSession,
    calls=_session_calls(),
    sample=_create_session_sample,
    refused=[
        _refused("both-ids", _both_ids),
        _refused("both-ids-with-optionals", _both_ids_with_member),
        _refused("both-member-ids", _both_member_ids),
        _refused("no-id", _no_id),
        _refused("request-and-keywords", _request_and_keywords),
    ],
    invalid_body={"customer_id": "not-a-uuid", "return_url": "relative/path"},
    variant_paths={
        "$<CustomerSession>.customer": frozenset({"CustomerIndividual", "CustomerTeam"})
    },
    ungenerated={
        # json-schema-faker (Prism 5.16) never emits this optional, non-required property:
        # 0 of several hundred generated team customers had it. Team emails are covered by
        # the recorded fixtures instead (tests/test_recorded_sessions.py).
        "$<CustomerSession>.customer<CustomerTeam>.email never present": "Prism never emits it",
    },
)

OPERATIONS: list[Operation] = [CUSTOMER_SESSIONS_CREATE]
