"""Customer models: a customer is an individual or a team, told apart by `type`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeAlias

from attrs import field, frozen

from ._common import Address, MetadataValue, TaxIDFormat

__all__ = ["Customer", "CustomerIndividual", "CustomerTeam", "UnknownCustomer"]


@frozen(kw_only=True)
class CustomerIndividual:
    """A customer that is one person.

    `tax_id` is a `(value, format)` pair such as `("911144442", "us_ein")`.
    """

    id: str
    created_at: datetime
    modified_at: datetime | None = None
    metadata: dict[str, MetadataValue]
    external_id: str | None = None
    email: str
    email_verified: bool
    type: Literal["individual"] = "individual"
    name: str | None = None
    billing_name: str | None = None
    billing_address: Address | None = None
    tax_id: tuple[str, TaxIDFormat | str] | None = None
    locale: str | None = None
    organization_id: str
    default_payment_method_id: str | None = None
    deleted_at: datetime | None = None
    first_user_event_at: datetime | None = None
    avatar_url: str | None = None


@frozen(kw_only=True)
class CustomerTeam:
    """A customer that is an organisation whose members share its purchases.

    Unlike an individual, a team may have no email address of its own.
    """

    id: str
    created_at: datetime
    modified_at: datetime | None = None
    metadata: dict[str, MetadataValue]
    external_id: str | None = None
    email: str | None = None
    email_verified: bool
    type: Literal["team"] = "team"
    name: str | None = None
    billing_name: str | None = None
    billing_address: Address | None = None
    tax_id: tuple[str, TaxIDFormat | str] | None = None
    locale: str | None = None
    organization_id: str
    default_payment_method_id: str | None = None
    deleted_at: datetime | None = None
    first_user_event_at: datetime | None = None
    avatar_url: str | None = None


@frozen(kw_only=True)
class UnknownCustomer:
    """A customer of a `type` this SDK version does not know yet.

    Nothing is dropped: `raw` holds the object exactly as the server sent it; `type` and `id`
    are lifted out of it when they are strings (`type` is `None` when the tag is missing).
    """

    type: str | None
    id: str | None = None
    raw: dict[str, Any] = field(repr=False)


Customer: TypeAlias = CustomerIndividual | CustomerTeam | UnknownCustomer
"""Any customer. Check the class (or `type`) to tell the variants apart."""
