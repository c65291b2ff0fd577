"""Customer sessions: short-lived credentials that open the customer portal for one customer."""

from __future__ import annotations

from typing import overload

from .._exceptions import InvalidRequestError
from .._http import HTTPCore
from .._retry import RetryPolicy
from .._types import NOT_GIVEN, NotGiven, NotGivenOr, TimeoutTypes
from ..models import (
    CustomerSession,
    CustomerSessionCreate,
    CustomerSessionCustomerExternalIDCreate,
    CustomerSessionCustomerIDCreate,
)

__all__ = ["AsyncCustomerSessions"]


class AsyncCustomerSessions:
    """Operations on customer sessions (`polar.customer_sessions`)."""

    __slots__ = ("_http",)

    def __init__(self, http: HTTPCore) -> None:
        self._http = http

    @overload
    async def create(
        self,
        *,
        customer_id: str,
        member_id: str | NotGiven | None = NOT_GIVEN,
        external_member_id: str | NotGiven | None = NOT_GIVEN,
        return_url: str | NotGiven | None = NOT_GIVEN,
        timeout: NotGivenOr[TimeoutTypes] = NOT_GIVEN,
        retry: NotGivenOr[RetryPolicy | None] = NOT_GIVEN,
    ) -> CustomerSession: ...

    @overload
    async def create(
        self,
        *,
        external_customer_id: str,
        member_id: str | NotGiven | None = NOT_GIVEN,
        external_member_id: str | NotGiven | None = NOT_GIVEN,
        return_url: str | NotGiven | None = NOT_GIVEN,
        timeout: NotGivenOr[TimeoutTypes] = NOT_GIVEN,
        retry: NotGivenOr[RetryPolicy | None] = NOT_GIVEN,
    ) -> CustomerSession: ...

    @overload
    async def create(
        self,
        *,
        request: CustomerSessionCreate,
        timeout: NotGivenOr[TimeoutTypes] = NOT_GIVEN,
        retry: NotGivenOr[RetryPolicy | None] = NOT_GIVEN,
    ) -> CustomerSession: ...

    async def create(
        self,
        *,
        request: CustomerSessionCreate | None = None,
        customer_id: str | NotGiven = NOT_GIVEN,
        external_customer_id: str | NotGiven = NOT_GIVEN,
        member_id: str | NotGiven | None = NOT_GIVEN,
        external_member_id: str | NotGiven | None = NOT_GIVEN,
        return_url: str | NotGiven | None = NOT_GIVEN,
        timeout: NotGivenOr[TimeoutTypes] = NOT_GIVEN,
        retry: NotGivenOr[RetryPolicy | None] = NOT_GIVEN,
    ) -> CustomerSession:
        """Create a customer session and return it with its portal URL.

        Name the customer with exactly one of `customer_id` (Polar's id) or
        `external_customer_id` (yours), or pass a ready `request` model instead of keywords.
        For a team customer, also name the member (`member_id` or `external_member_id`).
        `return_url` adds a back link in the portal. Arguments left out are not sent.

        Needs a token with the `customer_sessions:write` scope. `timeout` and `retry`
        override the client's settings for this call only. By default a failed create is
        retried only when the server cannot have acted on it (no connection, 429, 503).

        Raises:
            InvalidRequestError: the arguments cannot succeed (both ids, no id, a malformed
                UUID, an empty or relative `return_url`); nothing was sent.
            HTTPValidationError: the server rejected the request, for example with
                "Customer does not exist.".
            APIException: any other error status (see `polar_sdk.errors`).
        """
        body = _create_body(
            request=request,
            customer_id=customer_id,
            external_customer_id=external_customer_id,
            member_id=member_id,
            external_member_id=external_member_id,
            return_url=return_url,
        )
        return await self._http.request(
            "POST",
            "/v1/customer-sessions/",
            body=body,
            response_type=CustomerSession,
            expected_status=201,
            timeout=timeout,
            retry=retry,
        )


def _create_body(
    *,
    request: CustomerSessionCreate | None,
    customer_id: str | NotGiven,
    external_customer_id: str | NotGiven,
    member_id: str | NotGiven | None,
    external_member_id: str | NotGiven | None,
    return_url: str | NotGiven | None,
) -> CustomerSessionCreate:
    fields_given = [
        name
        for name, value in (
            ("customer_id", customer_id),
            ("external_customer_id", external_customer_id),
            ("member_id", member_id),
            ("external_member_id", external_member_id),
            ("return_url", return_url),
        )
        if value is not NOT_GIVEN
    ]
    if request is not None:
        if not isinstance(  # untyped callers
            request, (CustomerSessionCustomerIDCreate, CustomerSessionCustomerExternalIDCreate)
        ):
            raise InvalidRequestError(
                "request must be a CustomerSessionCustomerIDCreate or "
                f"CustomerSessionCustomerExternalIDCreate, got {type(request).__name__}"
            )
        if fields_given:
            raise InvalidRequestError(
                "pass either request= or keyword fields, not both (also got "
                + ", ".join(fields_given)
                + ")"
            )
        return request
    if not isinstance(customer_id, NotGiven) and not isinstance(external_customer_id, NotGiven):
        raise InvalidRequestError(
            "pass customer_id or external_customer_id, not both: the API would silently use "
            "external_customer_id and ignore customer_id"
        )
    if not isinstance(customer_id, NotGiven):
        return CustomerSessionCustomerIDCreate(
            customer_id=customer_id,
            member_id=member_id,
            external_member_id=external_member_id,
            return_url=return_url,
        )
    if not isinstance(external_customer_id, NotGiven):
        return CustomerSessionCustomerExternalIDCreate(
            external_customer_id=external_customer_id,
            member_id=member_id,
            external_member_id=external_member_id,
            return_url=return_url,
        )
    raise InvalidRequestError(
        "name the customer: pass customer_id=... or external_customer_id=... (or request=...)"
    )
