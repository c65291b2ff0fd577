"""Type-checked only (mypy --strict, pyright strict): how the public API reads to a checker.

Lines marked `type: ignore[...]` must be errors: both checkers flag an unused ignore.
"""

from __future__ import annotations

from datetime import datetime

from typing_extensions import assert_type

from polar_sdk import AsyncPolar, Polar, RetryEvent, RetryPolicy
from polar_sdk.errors import APIException, BlockingUsageError, HTTPValidationError, PolarError
from polar_sdk.models import (
    CustomerSession,
    CustomerSessionCustomerExternalIDCreate,
    CustomerSessionCustomerIDCreate,
    ValidationError,
)


async def usage() -> None:
    async with AsyncPolar("polar_oat_x", server="sandbox", timeout=5.0) as polar:
        s = await polar.customer_sessions.create(customer_id="x", return_url="https://e.com")
        assert_type(s, CustomerSession)
        assert_type(s.expires_at, datetime)
        assert_type(s.customer_portal_url, str)
        await polar.customer_sessions.create(external_customer_id="usr_1", member_id=None)
        await polar.customer_sessions.create(
            request=CustomerSessionCustomerExternalIDCreate(external_customer_id="usr_1")
        )
        await polar.customer_sessions.create(
            request=CustomerSessionCustomerIDCreate(customer_id="x"), timeout=None
        )
        await polar.customer_sessions.create(
            external_customer_id="usr_1", retry=RetryPolicy(max_attempts=5), timeout=2.5
        )
        await polar.customer_sessions.create(external_customer_id="usr_1", retry=None)

        try:
            await polar.customer_sessions.create(customer_id="x")
        except HTTPValidationError as exc:
            assert_type(exc.detail, list[ValidationError])
            assert_type(exc.status_code, int)
        except APIException as exc:
            assert_type(exc.body, str)
        except PolarError:
            pass


async def misuse(polar: AsyncPolar) -> None:
    await polar.customer_sessions.create(  # type: ignore[call-overload]
        customer_id="x", external_customer_id="y"
    )
    await polar.customer_sessions.create()  # type: ignore[call-overload]
    await polar.customer_sessions.create(  # type: ignore[call-overload]
        request=CustomerSessionCustomerIDCreate(customer_id="x"), return_url="https://e.com"
    )
    AsyncPolar(server="staging")  # type: ignore[arg-type]
    await polar.customer_sessions.create(  # type: ignore[call-overload]
        customer_id="x", member_id="m", external_member_id="usr_m"
    )


def on_retry(event: RetryEvent) -> None:
    assert_type(event.delay, float)
    assert_type(event.status_code, int | None)


def configured() -> AsyncPolar:
    return AsyncPolar(retry=RetryPolicy(deadline=10.0, on_retry=on_retry), max_in_flight=8)


def blocking_usage() -> None:
    with Polar("polar_oat_x", server="sandbox", timeout=5.0) as polar:
        s = polar.customer_sessions.create(customer_id="x", return_url="https://e.com")
        assert_type(s, CustomerSession)
        assert_type(s.expires_at, datetime)
        assert_type(
            polar.customer_sessions.create(external_customer_id="usr_1", retry=None),
            CustomerSession,
        )
        polar.customer_sessions.create(
            request=CustomerSessionCustomerIDCreate(customer_id="x"), timeout=None
        )
        assert_type(polar.closed, bool)
        assert_type(polar.base_url, str)
        try:
            polar.customer_sessions.create(external_customer_id="usr_1")
        except BlockingUsageError as exc:
            assert_type(exc, BlockingUsageError)
    polar.close()


def blocking_misuse(polar: Polar) -> None:
    polar.customer_sessions.create(  # type: ignore[call-overload]
        customer_id="x", external_customer_id="y"
    )
    polar.customer_sessions.create()  # type: ignore[call-overload]
    polar.customer_sessions.create(  # type: ignore[call-overload]
        request=CustomerSessionCustomerIDCreate(customer_id="x"), return_url="https://e.com"
    )
    Polar(server="staging")  # type: ignore[arg-type]
