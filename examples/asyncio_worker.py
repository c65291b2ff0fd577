"""Create portal sessions for a batch of customers with bounded concurrency (asyncio).

A fixed number of worker tasks drain one queue of customer ids through one shared
`AsyncPolar`, so at most `concurrency` requests are in flight and all of them reuse the
client's connection pool. A failure for one customer (it does not exist, bad input, a
timeout) is recorded and the batch goes on; a failure that dooms every item (Polar rejects our
token) stops taking new items. A report is printed at the end.

    POLAR_ACCESS_TOKEN=... python examples/asyncio_worker.py ID [ID ...] [--concurrency 8]
    cat ids.txt | python examples/asyncio_worker.py -          # one id per line

Ids are Polar customer ids; pass `--external` for your own (external) ids. What the worker
does with each session is up to `deliver` (the default only reports the expiry time: portal
URLs are credentials and do not belong in logs).

Needs nothing beyond the SDK.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from polar_sdk import AsyncPolar
from polar_sdk.errors import (
    APIException,
    AuthenticationError,
    ConfigurationError,
    HTTPValidationError,
    PermissionDeniedError,
    PolarError,
)
from polar_sdk.models import CustomerSession

Deliver = Callable[[str, CustomerSession], Awaitable[None]]


@dataclass
class Report:
    """What happened to each item of a batch."""

    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    not_attempted: list[str] = field(default_factory=list)
    aborted: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        """A short human-readable report."""
        total = len(self.succeeded) + len(self.failed) + len(self.not_attempted)
        lines = [
            f"processed {len(self.succeeded) + len(self.failed)} of {total} customers "
            f"in {self.seconds:.2f} s: {len(self.succeeded)} ok, {len(self.failed)} failed, "
            f"{len(self.not_attempted)} not attempted"
        ]
        for reason, count in Counter(self.failed.values()).most_common():
            lines.append(f"  {count} x {reason}")
        if self.aborted:
            lines.append(f"stopped early: {self.aborted}")
        return "\n".join(lines)


def describe(exc: PolarError) -> str:
    """One line for the report: the server's own words when it sent some."""
    if isinstance(exc, HTTPValidationError) and exc.detail:
        return "; ".join(item.msg for item in exc.detail)
    if isinstance(exc, APIException):
        return f"HTTP {exc.status_code}"
    return type(exc).__name__


async def _report_expiry(customer_id: str, session: CustomerSession) -> None:
    print(f"{customer_id}: session ready, expires {session.expires_at:%H:%M:%S} UTC")


async def run_batch(
    polar: AsyncPolar,
    customer_ids: Iterable[str],
    *,
    concurrency: int = 8,
    external: bool = False,
    deliver: Deliver = _report_expiry,
) -> Report:
    """Create one customer session per id with at most `concurrency` calls in flight."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    queue: asyncio.Queue[str] = asyncio.Queue()
    for customer_id in customer_ids:
        queue.put_nowait(customer_id)
    report = Report()
    started = time.perf_counter()

    async def create(customer_id: str) -> CustomerSession:
        if external:
            return await polar.customer_sessions.create(external_customer_id=customer_id)
        return await polar.customer_sessions.create(customer_id=customer_id)

    async def worker() -> None:
        while report.aborted is None:
            try:
                customer_id = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                session = await create(customer_id)
                await deliver(customer_id, session)
            except (AuthenticationError, PermissionDeniedError) as exc:
                # Every other item would fail the same way: stop taking new ones.
                report.failed[customer_id] = describe(exc)
                report.aborted = f"Polar refused the access token ({describe(exc)})"
            except PolarError as exc:
                report.failed[customer_id] = describe(exc)
            else:
                report.succeeded.append(customer_id)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    while not queue.empty():
        report.not_attempted.append(queue.get_nowait())
    report.seconds = time.perf_counter() - started
    return report


def read_ids(args: list[str]) -> list[str]:
    """Ids from the command line, or from stdin (one per line) when the only id is `-`."""
    if args == ["-"]:
        return [line.strip() for line in sys.stdin if line.strip()]
    return args


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="+", help="customer ids, or - to read them from stdin")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight (default 8)")
    parser.add_argument("--external", action="store_true", help="the ids are external ids")
    parser.add_argument("--server", choices=["sandbox", "production"], default="sandbox")
    parser.add_argument("--base-url", help="another API root (e.g. a local fake)")
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    try:
        polar = (
            AsyncPolar(base_url=args.base_url) if args.base_url else AsyncPolar(server=args.server)
        )
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not polar.has_access_token:  # a client without one can only call public operations
        print("error: set POLAR_ACCESS_TOKEN to an organization access token", file=sys.stderr)
        return 2
    async with polar:
        report = await run_batch(
            polar, read_ids(args.ids), concurrency=args.concurrency, external=args.external
        )
    print(report.summary())
    if report.aborted:
        return 4
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
