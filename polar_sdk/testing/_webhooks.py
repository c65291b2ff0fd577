"""Signed webhook deliveries for testing receivers (and `FakePolar.deliver_webhook`)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, cast

from .._exceptions import InvalidRequestError
from ..webhooks import signature

__all__ = ["sign_webhook"]


def sign_webhook(
    payload: Any,
    secret: str,
    *,
    timestamp: int | None = None,
    webhook_id: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A delivery as Polar would send it: the body bytes and the headers that sign them.

    Args:
        payload: an event model (`WebhookOrderPaidPayload(...)`, or one `verify_event`
            returned), a dict in Polar's JSON shape, or the body bytes themselves.
        secret: the endpoint secret, as Polar shows it (`whsec_...`).
        timestamp: Unix seconds to sign with (default: now; pass an old one to test that
            stale deliveries are refused).
        webhook_id: the delivery id (default: a fresh `msg_...`).

    Returns:
        `(body, headers)`: post `body` with `headers` (plus `content-type`) to your receiver.
    """
    if isinstance(payload, (bytes, bytearray)):
        body = bytes(payload)
    else:
        data = payload
        if not isinstance(payload, Mapping):
            from ..models import unstructure

            data = unstructure(payload)
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if not isinstance(cast(object, secret), str) or not secret:
        raise InvalidRequestError("secret must be the endpoint's secret string (whsec_...)")
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    delivery = webhook_id if webhook_id is not None else f"msg_{uuid.uuid4().hex}"
    headers = {
        "webhook-id": delivery,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature(secret, delivery, stamp, body),
        "content-type": "application/json",
        "user-agent": "polar.sh webhooks",
    }
    return body, headers
