"""Type-checked only (mypy --strict, pyright strict): the generated operations as a user sees them.

Touches more than twenty operations: pages, union bodies, the customer portal with a session
token, form bodies, CSV exports, 202-or-model answers, raw responses, both clients. Lines
marked `type: ignore[...]` must be errors (both checkers flag an unused ignore).
"""

from __future__ import annotations

from datetime import datetime, timezone

from typing_extensions import assert_type

from polar_sdk import AsyncPolar, Polar
from polar_sdk._results import AsyncPage, AsyncPager, Page, RawResponse
from polar_sdk.errors import NotFoundError, PaymentRequiredError
from polar_sdk.models import (
    Benefit,
    Checkout,
    Customer,
    CustomerIndividual,
    CustomerIndividualCreate,
    CustomerOrderReceipt,
    CustomerPortalCustomer,
    CustomerState,
    CustomerSubscription,
    Discount,
    Event,
    EventsIngestResponse,
    IntrospectTokenResponse,
    Order,
    OrderReceipt,
    Product,
    Subscription,
    TokenResponse,
)

ID = "0a7c50f0-8e36-4d5d-8d0e-2b0c0c9f0a01"


async def organization(polar: AsyncPolar) -> None:
    pager = polar.customers.list(limit=100, sorting=["-created_at"], metadata={"plan": "pro"})
    assert_type(pager, AsyncPager[Customer])
    page = await pager
    assert_type(page, AsyncPage[Customer])
    assert_type(page.items, list[Customer])
    if page.has_next_page():
        assert_type(await page.next_page(), AsyncPage[Customer])
    async for customer in polar.customers.list(email="a@example.com"):
        assert_type(customer, Customer)
        if isinstance(customer, CustomerIndividual):
            assert_type(customer.email, str)

    assert_type(await polar.customers.get(ID), Customer)
    assert_type(await polar.customers.create(email="a@example.com"), Customer)
    assert_type(await polar.customers.create(type="team", name="Acme"), Customer)
    assert_type(
        await polar.customers.create(request=CustomerIndividualCreate(email="a@example.com")),
        Customer,
    )
    assert_type(await polar.customers.get_state_external("usr_1"), CustomerState)
    assert_type(await polar.customers.delete(ID), None)
    assert_type(await polar.customers.export(organization_id=ID), str)

    async for subscription in polar.subscriptions.list(active=True, customer_id=[ID, ID]):
        assert_type(subscription, Subscription)
    assert_type(await polar.subscriptions.update(ID, cancel_at_period_end=True), Subscription)
    assert_type(await polar.subscriptions.revoke(ID), Subscription)

    assert_type(await polar.checkouts.create(products=[ID]), Checkout)
    assert_type(await polar.products.get(ID), Product)
    assert_type(await polar.discounts.get(ID), Discount)
    assert_type(await polar.benefits.get(ID), Benefit)
    assert_type(await polar.orders.get(ID), Order)
    assert_type(await polar.orders.receipt(ID), OrderReceipt | None)  # 202: not ready yet
    assert_type(
        await polar.events.ingest(events=[]),
        EventsIngestResponse,
    )
    async for order in polar.orders.list(product_id=ID):
        assert_type(order, Order)

    raw = await polar.customers.with_raw_response.get(ID)
    assert_type(raw, RawResponse[Customer])
    assert_type(raw.status_code, int)
    raw_page = await polar.customers.with_raw_response.list(limit=1)
    assert_type(raw_page, RawResponse[AsyncPage[Customer]])

    try:
        await polar.customers.get(ID, timeout=2.0, retry=None)
    except NotFoundError as exc:
        assert_type(exc.error, str | None)


async def portal(polar: AsyncPolar, session_token: str) -> None:
    customer = polar.with_options(access_token=session_token)
    async for subscription in customer.customer_portal.subscriptions.list():
        assert_type(subscription, CustomerSubscription)
    try:
        await customer.customer_portal.subscriptions.update(ID, product_id=ID)
    except PaymentRequiredError as exc:  # moving to a paid product whose payment failed
        assert_type(exc.status_code, int)
    assert_type(await customer.customer_portal.subscriptions.cancel(ID), CustomerSubscription)
    assert_type(await customer.customer_portal.orders.receipt(ID), CustomerOrderReceipt | None)


async def oauth(polar: AsyncPolar) -> None:
    public = polar.with_options(access_token=None)
    token = await public.oauth2.request_token(
        grant_type="authorization_code",
        client_id="polar_ci_1",
        client_secret="polar_cs_1",
        code="code",
        redirect_uri="https://example.com/callback",
    )
    assert_type(token, TokenResponse)
    answer = await public.oauth2.introspect_token(
        token="polar_at_1", client_id="polar_ci_1", client_secret="polar_cs_1"
    )
    assert_type(answer, IntrospectTokenResponse)


async def misuse(polar: AsyncPolar) -> None:
    await polar.customers.get()  # type: ignore[call-arg]
    await polar.customers.list(limit="ten")  # type: ignore[arg-type]
    await polar.customers.create(  # type: ignore[call-overload]
        email="a@example.com", request=CustomerIndividualCreate(email="b@example.com")
    )
    await polar.subscriptions.create(  # type: ignore[call-overload]
        product_id=ID, customer_id=ID, external_customer_id="usr_1"
    )
    await polar.events.list(start_timestamp="yesterday")  # type: ignore[arg-type]


def blocking(polar: Polar) -> None:
    page = polar.customers.list(limit=100)
    assert_type(page, Page[Customer])
    for customer in page:
        assert_type(customer, Customer)
    assert_type(polar.customers.get(ID), Customer)
    assert_type(polar.subscriptions.update(ID, revoke=True), Subscription)
    assert_type(polar.customers.export(), str)
    assert_type(polar.orders.receipt(ID), OrderReceipt | None)
    raw = polar.customers.with_raw_response.delete(ID)
    assert_type(raw, RawResponse[None])
    assert_type(polar.customers.with_raw_response.list(), RawResponse[Page[Customer]])
    portal = polar.with_options(access_token="polar_mst_x", timeout=5.0)
    assert_type(portal.customer_portal.customers.get(), CustomerPortalCustomer)
    assert_type(
        polar.events.list(start_timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc)).items,
        list[Event],
    )
    portal.close()  # a view: closes nothing
