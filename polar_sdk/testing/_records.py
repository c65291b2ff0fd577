"""The objects a `FakePolar` keeps: seeded customers and members, sessions, received requests."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from attrs import define, field, frozen

__all__ = [
    "FakeCustomer",
    "FakeMember",
    "FakeSession",
    "RecordedRequest",
]

MemberRole = Literal["owner", "billing_manager", "member"]


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


@define(kw_only=True)
class FakeMember:
    """A member of a customer: the person a team customer's portal session is opened for.

    Every customer gets an owner member when it is added (as on the real server); add more to
    a team with `FakePolar.add_member()`.
    """

    id: str
    customer_id: str
    email: str
    name: str | None = None
    external_id: str | None = None
    role: MemberRole = "member"
    created_at: datetime


def _empty_metadata() -> dict[str, str | int | float | bool]:
    return {}


def _no_members() -> list[FakeMember]:
    return []


@define(kw_only=True)
class FakeCustomer:
    """A customer seeded into a `FakePolar`; answers embed it exactly as the real API would.

    Attributes are plain and mutable, so a test can change a customer between calls (set
    `deleted_at` to make the fake treat it as deleted, for example).
    """

    id: str
    type: Literal["individual", "team"]
    email: str | None
    organization_id: str
    created_at: datetime
    modified_at: datetime | None = None
    external_id: str | None = None
    name: str | None = None
    billing_name: str | None = None
    billing_address: dict[str, str | None] | None = None
    tax_id: tuple[str, str] | None = None
    locale: str | None = None
    metadata: dict[str, str | int | float | bool] = field(factory=_empty_metadata)
    email_verified: bool = False
    deleted_at: datetime | None = None
    members: list[FakeMember] = field(factory=_no_members)

    def to_json(self) -> dict[str, Any]:
        """The customer as the API's JSON object (field order as recorded from the server)."""
        return {
            "id": self.id,
            "created_at": _iso(self.created_at),
            "modified_at": _iso(self.modified_at),
            "metadata": dict(self.metadata),
            "external_id": self.external_id,
            "email": self.email,
            "email_verified": self.email_verified,
            "type": self.type,
            "name": self.name,
            "billing_name": self.billing_name,
            "billing_address": None if self.billing_address is None else _address(self),
            "tax_id": None if self.tax_id is None else list(self.tax_id),
            "locale": self.locale,
            "organization_id": self.organization_id,
            "default_payment_method_id": None,
            "deleted_at": _iso(self.deleted_at),
            "first_user_event_at": None,
            "avatar_url": None,
        }


def _address(customer: FakeCustomer) -> dict[str, str | None]:
    address = customer.billing_address or {}
    keys = ("line1", "line2", "postal_code", "city", "state", "country")
    return {key: address.get(key) for key in keys}


@frozen(kw_only=True)
class FakeSession:
    """A customer session the fake created (secret fields hidden from `repr`)."""

    id: str
    token: str = field(repr=False)
    customer_portal_url: str = field(repr=False)
    customer: FakeCustomer = field(repr=False)
    member: FakeMember | None = field(repr=False)
    return_url: str | None
    created_at: datetime
    expires_at: datetime

    @property
    def customer_id(self) -> str:
        """The id of the customer the session belongs to."""
        return self.customer.id


@frozen(kw_only=True)
class RecordedRequest:
    """One HTTP request the fake received, with the status it answered.

    `headers` has lower-case names; the `authorization` value is kept so a test can check it,
    but it is left out of `repr()`.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    status: int

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or `None` when it is empty or not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None
