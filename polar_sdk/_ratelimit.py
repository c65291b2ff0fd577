"""An opt-in client-side rate limit: `AsyncPolar(rate_limit=...)`.

Polar limits requests per organization (published: 500 requests a minute in production, 100 in
sandbox, a few a second for unauthenticated license-key validation) and answers 429 beyond
that. A worker pool backfilling thousands of objects meets 429 storms; retrying them wastes
the budget further. With `rate_limit=` the client spaces its own requests instead:

- a sliding window: at most `requests` requests start in any `per` seconds (the server's rule
  of thumb), counted for every attempt, retries included, across every event loop and thread
  that uses the client (and its `with_options()` views);
- a 429's `Retry-After`, and a `RateLimit-Remaining: 0` / `X-RateLimit-Remaining: 0` answer
  with its reset time, pause every caller of the client until then.

Requests are reserved in order under a lock: a caller learns when its turn comes and sleeps
until then on its own loop, so waiting costs no thread and no polling.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, cast

from attrs import frozen

from ._exceptions import ConfigurationError

if TYPE_CHECKING:
    import httpx

__all__ = ["RateLimit", "RateLimiter"]


@frozen
class RateLimit:
    """At most `requests` requests in any `per` seconds (default: a minute).

    `AsyncPolar(rate_limit=500)` is `RateLimit(500)`: Polar's production limit per
    organization; `RateLimit(100)` suits the sandbox.
    """

    requests: int
    per: float = 60.0

    def __attrs_post_init__(self) -> None:
        requests = cast(object, self.requests)  # callers without a type checker pass anything
        per = cast(object, self.per)
        if isinstance(requests, bool) or not isinstance(requests, int):
            raise ConfigurationError(
                f"rate_limit requests must be an int, got {type(requests).__name__}"
            )
        if requests < 1:
            raise ConfigurationError(f"rate_limit requests must be >= 1, got {requests}")
        if isinstance(per, bool) or not isinstance(per, (int, float)):
            raise ConfigurationError(f"rate_limit per must be seconds, got {type(per).__name__}")
        if not 0 < per < float("inf"):
            raise ConfigurationError(f"rate_limit per must be > 0 seconds, got {self.per!r}")


_REMAINING = ("ratelimit-remaining", "x-ratelimit-remaining")
_RESET = ("ratelimit-reset", "x-ratelimit-reset")


class RateLimiter:
    """The shared state behind a `RateLimit` (thread-safe; one per client)."""

    __slots__ = ("_lock", "_paused_until", "_starts", "limit")

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._starts: deque[float] = deque()  # start times given out, oldest first
        self._paused_until = 0.0

    def reserve(self) -> float:
        """Reserve the next start; the seconds to wait before it (0.0: go now)."""
        with self._lock:
            now = time.monotonic()
            starts = self._starts
            window = self.limit.per
            while starts and starts[0] <= now - window:
                starts.popleft()
            at = max(now, self._paused_until)
            if len(starts) >= self.limit.requests:
                # The request `requests` places earlier must have left the window.
                at = max(at, starts[len(starts) - self.limit.requests] + window)
            starts.append(at)
            return at - now

    def observe(self, response: httpx.Response, retry_after: float | None) -> None:
        """Pause every caller after a 429 (`Retry-After`) or an exhausted-budget header."""
        pause: float | None = None
        if response.status_code == 429:
            pause = retry_after if retry_after is not None else 1.0
        else:
            headers = response.headers
            remaining = next((headers[h] for h in _REMAINING if h in headers), None)
            if remaining is not None and remaining.strip() == "0":
                reset = next((headers[h] for h in _RESET if h in headers), None)
                try:
                    pause = float(reset) if reset is not None else None
                except ValueError:
                    pause = None
                if pause is not None and pause > 3600:  # an epoch time, not seconds
                    pause = max(0.0, pause - time.time())
        if pause is None or not pause > 0:
            return
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + min(pause, 3600.0))
