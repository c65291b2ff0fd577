"""Receive Polar webhooks in a FastAPI app: verified, acknowledged fast, processed once.

Needs, beyond the SDK: `pip install fastapi uvicorn`.

Run it with the endpoint's secret exactly as Polar shows it (`whsec_...`):

    POLAR_WEBHOOK_SECRET=whsec_... uvicorn examples.fastapi_webhooks:app

What the receiver does, and why:

- it verifies the raw body (`await request.body()`, never a re-encoded JSON) with
  `polar_sdk.webhooks.verify_event`; a delivery that fails gets 403 and is not processed;
- it answers 202 at once and processes the event off the request path (a queue drained by a
  background task started in the lifespan): Polar expects a quick 2xx and retries otherwise;
- it is idempotent on `webhook-id`: Polar delivers at least once, and a redelivery of an id
  already accepted is acknowledged without being processed again;
- events go to typed handlers registered per event model (`@handlers.on(WebhookOrderPaidPayload)`
  receives exactly that model); an event type this SDK version does not know is acknowledged
  and logged, and a correctly signed body that is not a valid event is kept (not lost) in
  `dead_letters` for a look later, and acknowledged so Polar does not retry it forever.

The seen-ids set and the dead letters live in memory here; a real app keeps them in its
database (a unique index on the webhook id makes the idempotence hold across processes).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

from fastapi import FastAPI, Request, Response

from polar_sdk.errors import WebhookPayloadError, WebhookVerificationError
from polar_sdk.models import (
    WebhookCustomerStateChangedPayload,
    WebhookOrderPaidPayload,
    WebhookSubscriptionUpdatedPayload,
)
from polar_sdk.webhooks import UnknownWebhookEvent, verify_event

logger = logging.getLogger("examples.fastapi_webhooks")

E = TypeVar("E")
Handler = Callable[[E], Awaitable[None]]


class Handlers:
    """Event model -> the coroutine that processes it (one per model)."""

    def __init__(self) -> None:
        self._by_type: dict[type[Any], Handler[Any]] = {}

    def on(self, event_type: type[E]) -> Callable[[Handler[E]], Handler[E]]:
        """Register the decorated coroutine for events of `event_type`."""

        def register(handler: Handler[E]) -> Handler[E]:
            self._by_type[event_type] = handler
            return handler

        return register

    async def dispatch(self, event: Any) -> bool:
        """Run the handler of `event`'s model; False when there is none."""
        handler = self._by_type.get(type(event))
        if handler is None:
            return False
        await handler(event)
        return True


def create_app(secret: str, handlers: Handlers) -> FastAPI:
    """The receiver app: POST /webhooks/polar (see the module docstring)."""
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    seen: set[str] = set()
    dead_letters: list[tuple[str, bytes, str]] = []

    async def worker() -> None:
        while True:
            webhook_id, event = await queue.get()
            try:
                if isinstance(event, UnknownWebhookEvent):
                    logger.warning("webhook %s: unknown event type %r", webhook_id, event.type)
                elif not await handlers.dispatch(event):
                    logger.info("webhook %s: no handler for %s", webhook_id, event.type)
            except Exception:  # a failing handler must not stop the worker
                logger.exception("webhook %s: handler failed", webhook_id)
            finally:
                queue.task_done()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(worker())
        try:
            yield
        finally:
            await queue.join()  # finish what was accepted before shutting down
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    app = FastAPI(lifespan=lifespan)
    app.state.seen = seen
    app.state.dead_letters = dead_letters
    app.state.queue = queue

    @app.post("/webhooks/polar", status_code=202)
    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            event = verify_event(body, request.headers, secret)
        except WebhookVerificationError as exc:
            logger.warning("refused a webhook delivery: %s", exc)  # never the secret
            return Response(status_code=403)
        except WebhookPayloadError as exc:
            webhook_id = request.headers.get("webhook-id", "?")
            dead_letters.append((webhook_id, exc.body, str(exc)))
            logger.error("webhook %s: signed but not a valid event: %s", webhook_id, exc)
            return Response(status_code=202)
        webhook_id = request.headers["webhook-id"]
        if webhook_id in seen:
            return Response(status_code=202)  # a redelivery: already accepted once
        seen.add(webhook_id)
        queue.put_nowait((webhook_id, event))
        return Response(status_code=202)

    return app


handlers = Handlers()
paid_orders: list[str] = []


@handlers.on(WebhookOrderPaidPayload)
async def order_paid(event: WebhookOrderPaidPayload) -> None:
    """Fulfil the order: here, remember its id."""
    paid_orders.append(event.data.id)


@handlers.on(WebhookSubscriptionUpdatedPayload)
async def subscription_updated(event: WebhookSubscriptionUpdatedPayload) -> None:
    logger.info("subscription %s is now %s", event.data.id, event.data.status)


@handlers.on(WebhookCustomerStateChangedPayload)
async def customer_state_changed(event: WebhookCustomerStateChangedPayload) -> None:
    benefits = [grant.benefit_id for grant in event.data.granted_benefits]
    logger.info("customer %s now has benefits %s", event.data.id, benefits)


def app_from_environment() -> FastAPI:
    secret = os.environ.get("POLAR_WEBHOOK_SECRET", "")
    if not secret:
        raise SystemExit("set POLAR_WEBHOOK_SECRET to the endpoint's secret (whsec_...)")
    return create_app(secret, handlers)


def __getattr__(name: str) -> Any:
    # `uvicorn examples.fastapi_webhooks:app` builds the app from the environment on demand,
    # so importing this module (tests, other apps) needs no secret.
    if name == "app":
        return app_from_environment()
    raise AttributeError(name)
