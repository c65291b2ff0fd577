"""Type-checked only: the event ingester on both clients."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from typing_extensions import assert_type

from polar_sdk import AsyncPolar, Polar
from polar_sdk.ingest import AsyncIngester, Cost, Ingester, IngestFailure, IngestStats, LLMUsage


def on_failure(failure: IngestFailure) -> None:
    assert_type(failure.events, tuple[dict[str, Any], ...])


async def metered(polar: AsyncPolar) -> None:
    async with polar.events.ingester(batch_size=50, on_failure=print) as ingester:
        assert_type(ingester, AsyncIngester)
        ingester.track(
            name="api_call",
            external_customer_id="usr_1",
            metadata={
                "route": "/x",
                "n": 1,
                "ok": True,
                "_llm": LLMUsage(vendor="v", model="m", input_tokens=1, output_tokens=2),
                "_cost": Cost(amount=Decimal("0.5")),
            },
        )
        await ingester.atrack(name="api_call", customer_id="id")
        await ingester.flush()
        assert_type(ingester.stats, IngestStats)
        assert_type(ingester.take_pending(), list[dict[str, Any]])


def blocking(polar: Polar) -> None:
    with polar.events.ingester(when_full="block") as ingester:
        assert_type(ingester, Ingester)
        ingester.track(name="job", external_customer_id="usr_1")
        ingester.flush()
        assert_type(ingester.stats.pending, int)
    polar.events.ingester(when_full="drop")  # type: ignore[arg-type]
