"""Meter usage for Polar's usage-based billing: a FastAPI endpoint and a background worker.

Every call to `/v1/complete` records one `api_call` event for the signed-in customer, with the
tokens an LLM used (`_llm`) and what they cost us (`_cost`), so Polar meters can bill them.
`track()` only queues the event: the request never waits for Polar, and a Polar outage or
slowdown never fails a request. The ingester sends batches in the background, retries what
may not have arrived (each event has an id, so Polar never counts one twice), and sends what
is left when the app stops (the lifespan closes it).

`run_worker()` is the same for a job worker: a blocking `Polar` and its thread-safe ingester.

Needs, beyond the SDK: `pip install fastapi uvicorn`. Run it (token from POLAR_ACCESS_TOKEN,
POLAR_SERVER or POLAR_BASE_URL pick the API):

    uvicorn examples.usage_metering:app
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Annotated

from fastapi import FastAPI, Header, Request

from polar_sdk import AsyncPolar, Polar
from polar_sdk.ingest import AsyncIngester, Cost, IngestFailure, LLMUsage

logger = logging.getLogger("examples.usage_metering")

CENTS_PER_1K_TOKENS = Decimal("0.06")


def report(failure: IngestFailure) -> None:
    """What the operator sees when events are refused or cannot be delivered (never tokens)."""
    logger.warning(
        "usage events %s: %d events (%s)", failure.reason, len(failure.events), failure.error
    )


def polar_from_environment() -> AsyncPolar:
    """The app's client (AsyncPolar reads POLAR_ACCESS_TOKEN, POLAR_SERVER, POLAR_BASE_URL)."""
    return AsyncPolar()


def fake_llm(prompt: str) -> tuple[str, int, int]:
    """Stands in for your model call: the answer and its input/output token counts."""
    return prompt.upper(), len(prompt.split()), 2 * len(prompt.split())


def create_app(polar_factory: Callable[[], AsyncPolar] = polar_from_environment) -> FastAPI:
    """Build the app; `polar_factory` makes its one client (tests point it at a local server)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with polar_factory() as polar, polar.events.ingester(on_failure=report) as ingester:
            app.state.ingester = ingester
            yield
        # Leaving both blocks flushed the queue, then closed the connections.

    app = FastAPI(title="Polar usage metering example", lifespan=lifespan)

    @app.post("/v1/complete")
    async def complete(
        request: Request, body: dict[str, str], x_user_id: Annotated[str, Header()]
    ) -> dict[str, str]:
        answer, tokens_in, tokens_out = fake_llm(body["prompt"])
        ingester: AsyncIngester = request.app.state.ingester
        ingester.track(
            name="api_call",
            external_customer_id=x_user_id,
            metadata={
                "route": "/v1/complete",
                "_llm": LLMUsage(
                    vendor="example",
                    model="echo-1",
                    input_tokens=tokens_in,
                    output_tokens=tokens_out,
                ),
                "_cost": Cost(amount=CENTS_PER_1K_TOKENS * (tokens_in + tokens_out) / 1000),
            },
        )
        return {"answer": answer}

    return app


def run_worker(jobs: list[tuple[str, int]], polar: Polar | None = None) -> None:
    """A job worker: one `job_done` event per (customer, seconds) job, from a blocking client."""
    owned = polar is None
    client = polar or Polar()
    try:
        with client.events.ingester(on_failure=report) as ingester:
            for customer, seconds in jobs:
                ingester.track(
                    name="job_done", external_customer_id=customer, metadata={"seconds": seconds}
                )
            # Leaving the block sends what is queued and waits for Polar's answers.
    finally:
        if owned:
            client.close()


app = create_app()

if __name__ == "__main__":  # python examples/usage_metering.py CUSTOMER SECONDS ...
    logging.basicConfig(level=logging.INFO)
    pairs = sys.argv[1:]
    run_worker([(pairs[i], int(pairs[i + 1])) for i in range(0, len(pairs) - 1, 2)])
