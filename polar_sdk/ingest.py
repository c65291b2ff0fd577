"""Usage-event ingestion: batch `events.ingest` calls in the background, exactly once.

```python
ingester = polar.events.ingester()
ingester.track(name="api_call", external_customer_id="user_42", metadata={"route": "/v1/x"})
```

`AsyncIngester` is what `AsyncPolar.events.ingester()` gives, `Ingester` the blocking
client's. `LLMUsage` and `Cost` fill the `_llm` and `_cost` metadata Polar reads for AI
products; `IngestStats` is a snapshot of the counters, `IngestFailure` what `on_failure`
receives.
"""

from ._ingest import (
    AsyncIngester,
    Cost,
    Ingester,
    IngestFailure,
    IngestStats,
    LLMUsage,
    MetadataValue,
)

__all__ = [
    "AsyncIngester",
    "Cost",
    "IngestFailure",
    "IngestStats",
    "Ingester",
    "LLMUsage",
    "MetadataValue",
]
