"""polar_sdk: an async-first client for the Polar billing API.

    from polar_sdk import AsyncPolar

    async with AsyncPolar(server="sandbox") as polar:
        session = await polar.customer_sessions.create(external_customer_id="usr_123")

Models live in `polar_sdk.models`, errors in `polar_sdk.errors`.
"""

from typing import TYPE_CHECKING, Any

from ._exceptions import APIException, PolarError
from ._types import NOT_GIVEN, NotGiven
from ._version import __version__

if TYPE_CHECKING:
    from ._client import AsyncPolar
    from ._config import POLAR_VERSION
    from ._ratelimit import RateLimit
    from ._retry import RetryEvent, RetryPolicy
    from ._sync import Polar

# The clients load on first use: a webhook receiver (polar_sdk.webhooks) never imports the
# HTTP stack, and `import polar_sdk` stays cheap.
_LAZY = {
    "AsyncPolar": "._client",
    "POLAR_VERSION": "._config",
    "Polar": "._sync",
    "RateLimit": "._ratelimit",
    "RetryEvent": "._retry",
    "RetryPolicy": "._retry",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "APIException",
    "AsyncPolar",
    "NOT_GIVEN",
    "NotGiven",
    "POLAR_VERSION",
    "Polar",
    "PolarError",
    "RateLimit",
    "RetryEvent",
    "RetryPolicy",
    "__version__",
]
