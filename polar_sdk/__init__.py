"""polar_sdk: an async-first client for the Polar billing API.

    from polar_sdk import AsyncPolar

    async with AsyncPolar(server="sandbox") as polar:
        session = await polar.customer_sessions.create(external_customer_id="usr_123")

Models live in `polar_sdk.models`, errors in `polar_sdk.errors`.
"""

from ._client import AsyncPolar
from ._config import POLAR_VERSION
from ._exceptions import APIException, PolarError
from ._ratelimit import RateLimit
from ._retry import RetryEvent, RetryPolicy
from ._sync import Polar
from ._types import NOT_GIVEN, NotGiven
from ._version import __version__

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
