"""Retry policy: which failures are retried, how long to wait, and when to give up.

Polar has no idempotency keys, so a POST that may have reached the server is not repeated unless
the caller opts in. What is always safe to repeat: a connection that never got the request out
(refused, connect timeout, no free pool slot) and the two statuses that mean "not processed"
(429 and 503). Idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS) are also retried after 500,
502, 504, read timeouts and broken connections.

This is hand-written rather than built on tenacity or stamina: the decision needs HTTP facts
(was the request sent, the method, the status, `Retry-After`) and a deadline shared with the
request timeouts, and the SDK keeps its runtime dependencies to httpx, attrs, cattrs and anyio.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any, Final

import httpx
from attrs import Attribute, field, frozen, validators

from ._exceptions import ConfigurationError

__all__ = ["IDEMPOTENT_METHODS", "RetryEvent", "RetryPolicy"]

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures that happen before a single byte of the request left this process."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive_finite(_instance: object, attribute: Attribute[float], value: float) -> None:
    if not _is_number(value) or not 0 < value < math.inf:  # also false for NaN
        raise ConfigurationError(
            f"RetryPolicy {attribute.name} must be a positive number of seconds, got {value!r}"
        )


def _at_least(minimum: int) -> Callable[[object, Attribute[Any], Any], None]:
    def check(_instance: object, attribute: Attribute[Any], value: Any) -> None:
        if attribute.name == "max_attempts" and not isinstance(value, int):
            raise ConfigurationError(f"RetryPolicy max_attempts must be an int, got {value!r}")
        if not _is_number(value) or not value >= minimum:  # also false for NaN
            raise ConfigurationError(
                f"RetryPolicy {attribute.name} must be a number >= {minimum}, got {value!r}"
            )

    return check


def _statuses(_instance: object, attribute: Attribute[frozenset[int]], value: object) -> None:
    items: object = value
    if not isinstance(items, frozenset) or not all(
        isinstance(code, int) and 100 <= code <= 599
        for code in items  # pyright: ignore[reportUnknownVariableType]
    ):
        raise ConfigurationError(
            f"RetryPolicy {attribute.name} must be a frozenset of HTTP status codes, got {value!r}"
        )


def _optional_callable(_instance: object, attribute: Attribute[Any], value: Any) -> None:
    if value is not None and not callable(value):
        raise ConfigurationError(f"RetryPolicy {attribute.name} must be callable or None")


@frozen(kw_only=True)
class RetryEvent:
    """What the `on_retry` hook receives before each wait-and-retry.

    `attempt` is the attempt that just failed (1 for the first), `delay` the seconds the SDK is
    about to wait, `reason` a short description such as `"status 503"` or `"ConnectError"`.
    Nothing in it contains the access token.
    """

    attempt: int
    delay: float
    reason: str
    method: str
    path: str
    status_code: int | None = None


@frozen(kw_only=True)
class RetryPolicy:
    """How a client retries failed requests; pass one to `AsyncPolar(retry=...)` or per call.

    Out-of-range or mistyped values raise `ConfigurationError` naming the field.

    Args:
        max_attempts: total attempts including the first (1 disables retries).
        initial_backoff: upper bound of the first wait, in seconds.
        max_backoff: cap of any computed wait. Waits use exponential backoff with full jitter:
            a random time between 0 and `min(max_backoff, initial_backoff * 2 ** (attempt - 1))`.
        max_retry_after: cap applied to a server's `Retry-After` (seconds or HTTP-date).
        deadline: seconds for the whole call, attempts and waits included; `None` for no limit
            beyond the per-request timeouts. A wait that would end past it is not started.
        retry_statuses: statuses retried for every method (the request was not processed).
        retry_idempotent_statuses: statuses retried only for idempotent methods, or for every
            method when `retry_unsafe` is set.
        retry_unsafe: also retry POST and PATCH after ambiguous failures (500/502/504, read
            timeouts, dropped connections). Only enable this when a duplicate is harmless.
        on_retry: called with a `RetryEvent` before each wait.
    """

    max_attempts: int = field(default=3, validator=_at_least(1))
    initial_backoff: float = field(default=0.5, validator=_at_least(0))
    max_backoff: float = field(default=8.0, validator=_at_least(0))
    max_retry_after: float = field(default=60.0, validator=_at_least(0))
    deadline: float | None = field(default=None, validator=validators.optional(_positive_finite))
    retry_statuses: frozenset[int] = field(default=frozenset({429, 503}), validator=_statuses)
    retry_idempotent_statuses: frozenset[int] = field(
        default=frozenset({500, 502, 504}), validator=_statuses
    )
    retry_unsafe: bool = False
    on_retry: Callable[[RetryEvent], object] | None = field(
        default=None, repr=False, validator=_optional_callable
    )

    def backoff(self, attempt: int) -> float:
        """A jittered wait before retrying after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.max_backoff, self.initial_backoff * (2 ** (attempt - 1)))
        return random.uniform(0.0, ceiling)  # jitter, not cryptography

    def _may_repeat(self, method: str) -> bool:
        return self.retry_unsafe or method in IDEMPOTENT_METHODS

    def retries_status(self, method: str, status: int) -> bool:
        """Whether an answer with `status` to `method` should be retried."""
        if status in self.retry_statuses:
            return True
        return status in self.retry_idempotent_statuses and self._may_repeat(method)

    def retries_exception(self, method: str, exc: Exception) -> bool:
        """Whether a transport failure of `method` should be retried."""
        if isinstance(exc, _NOT_SENT):
            return True
        return isinstance(exc, httpx.TransportError) and self._may_repeat(method)


NO_RETRY: Final = RetryPolicy(max_attempts=1)
