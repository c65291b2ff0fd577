"""Type-checked only: receiving webhooks, narrowing the event on its `type`."""

from __future__ import annotations

from datetime import datetime

from typing_extensions import assert_type

from polar_sdk.models import (
    Order,
    Subscription,
    WebhookOrderPaidPayload,
    WebhookPayload,
    WebhookSubscriptionUpdatedPayload,
)
from polar_sdk.testing import sign_webhook
from polar_sdk.webhooks import UnknownWebhookEvent, WebhookEvent, verify_event


def receive(body: bytes, headers: dict[str, str], secret: str) -> None:
    event = verify_event(body, headers, secret)
    assert_type(event, WebhookPayload)
    if isinstance(event, UnknownWebhookEvent):  # a type this SDK version does not know
        assert_type(event.type, str | None)
        return
    if event.type == "order.paid":
        assert_type(event, WebhookOrderPaidPayload)
        assert_type(event.data, Order)
        assert_type(event.timestamp, datetime)
    elif event.type == "subscription.updated":
        assert_type(event, WebhookSubscriptionUpdatedPayload)
        assert_type(event.data, Subscription)
    match event:
        case WebhookOrderPaidPayload(data=order):
            assert_type(order, Order)
        case _:
            pass


def typed_alias(event: WebhookEvent) -> WebhookPayload:
    return event


def test_receiver(secret: str) -> None:
    body, headers = sign_webhook({"type": "order.paid"}, secret, timestamp=0)
    assert_type(body, bytes)
    assert_type(headers, dict[str, str])
    verify_event(body.decode(), headers, secret)  # type: ignore[arg-type]
