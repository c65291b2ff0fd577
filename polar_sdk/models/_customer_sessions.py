"""Customer-session models: the request shapes and the created session."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeAlias

from attrs import Attribute, field, frozen

from .._exceptions import InvalidRequestError
from .._types import NOT_GIVEN, NotGiven
from ._base import redacted
from ._customers import Customer

__all__ = [
    "CustomerSession",
    "CustomerSessionCreate",
    "CustomerSessionCustomerExternalIDCreate",
    "CustomerSessionCustomerIDCreate",
]

_MAX_URL_LENGTH = 2083


def _check_uuid4(instance: Any, attribute: Attribute[Any], value: object) -> None:
    if value is NOT_GIVEN or value is None:
        return
    _check_required_uuid4(instance, attribute, value)


def _check_required_uuid4(_instance: Any, attribute: Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise InvalidRequestError(
            f"{attribute.name} must be a UUID string, got {type(value).__name__}"
        )
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise InvalidRequestError(f"{attribute.name} must be a UUID, got {value!r}") from None
    if parsed.version != 4:
        raise InvalidRequestError(
            f"{attribute.name} must be a version-4 UUID (the API rejects others), got {value!r}"
        )


def _check_text(_instance: Any, attribute: Attribute[Any], value: object) -> None:
    if value is NOT_GIVEN or value is None:
        return
    if not isinstance(value, str):
        raise InvalidRequestError(f"{attribute.name} must be a string, got {type(value).__name__}")


def _check_external_id(_instance: Any, attribute: Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise InvalidRequestError(f"{attribute.name} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidRequestError(f"{attribute.name} must not be empty")


def _check_return_url(_instance: Any, attribute: Attribute[Any], value: object) -> None:
    if value is NOT_GIVEN or value is None:
        return
    if not isinstance(value, str):
        raise InvalidRequestError(f"return_url must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidRequestError("return_url must not be empty")
    if len(value) > _MAX_URL_LENGTH:
        raise InvalidRequestError(
            f"return_url is {len(value)} characters long; the API accepts at most {_MAX_URL_LENGTH}"
        )
    scheme, sep, rest = value.partition(":")
    if not sep or not scheme or not rest or not scheme[0].isalpha():
        raise InvalidRequestError(
            "return_url must be an absolute URL such as 'https://example.com/account', "
            f"got {value!r}"
        )


@frozen(kw_only=True)
class CustomerSessionCustomerIDCreate:
    """Ask for a customer session by Polar customer id.

    Optional fields left out are not sent. For team customers, name the member with
    `member_id` or `external_member_id`.
    """

    customer_id: str = field(validator=_check_required_uuid4)
    member_id: str | NotGiven | None = field(default=NOT_GIVEN, validator=_check_uuid4)
    external_member_id: str | NotGiven | None = field(default=NOT_GIVEN, validator=_check_text)
    return_url: str | NotGiven | None = field(default=NOT_GIVEN, validator=_check_return_url)


@frozen(kw_only=True)
class CustomerSessionCustomerExternalIDCreate:
    """Ask for a customer session by your own id for the customer (its `external_id`)."""

    external_customer_id: str = field(validator=_check_external_id)
    member_id: str | NotGiven | None = field(default=NOT_GIVEN, validator=_check_uuid4)
    external_member_id: str | NotGiven | None = field(default=NOT_GIVEN, validator=_check_text)
    return_url: str | NotGiven | None = field(default=NOT_GIVEN, validator=_check_return_url)


CustomerSessionCreate: TypeAlias = (
    CustomerSessionCustomerIDCreate | CustomerSessionCustomerExternalIDCreate
)
"""Either request shape accepted by `customer_sessions.create`."""


@frozen(kw_only=True)
class CustomerSession:
    """A short-lived session that lets a customer into the customer portal.

    `token` and `customer_portal_url` are credentials (the URL embeds the token): hand them to
    the customer, never log them. Both are hidden from `repr()`.
    """

    id: str
    created_at: datetime
    modified_at: datetime | None = None
    token: str = field(repr=redacted)
    expires_at: datetime
    return_url: str | None = None
    customer_portal_url: str = field(repr=redacted)
    customer_id: str
    customer: Customer
