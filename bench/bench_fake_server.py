"""Requests per second through `FakePolar.serve()` (the loopback fake users test against).

    python bench/bench_fake_server.py            # 3 rounds of 200 sequential calls
    python bench/bench_fake_server.py --calls 500 --rounds 5

Sequential calls, one at a time, so the figure is the round trip a user's test suite pays per
call: raw `httpx.Client` POSTs and the blocking `Polar` client, both against the same served
fake, interleaved round by round after a warm-up. Prints the median requests/s of each.
Needs uvicorn (the `testing` extra); run it from a checkout with the project installed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import httpx

from polar_sdk import POLAR_VERSION, Polar
from polar_sdk.testing import FakePolar

PATH = "/v1/customer-sessions/"


def _rate(call: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return calls / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    fake = FakePolar()
    fake.add_individual(external_id="usr_bench", email="bench@example.com")
    headers = {"Authorization": f"Bearer {fake.token}", "Polar-Version": POLAR_VERSION}
    results: dict[str, list[float]] = {"raw httpx.Client": [], "polar_sdk.Polar": []}
    with (
        fake.serve() as server,
        httpx.Client(base_url=server.url, headers=headers) as raw,
        Polar(fake.token, base_url=server.url, retry=None) as polar,
    ):

        def raw_call() -> object:
            answer = raw.post(PATH, json={"external_customer_id": "usr_bench"})
            answer.raise_for_status()
            return answer.json()

        def sdk_call() -> object:
            return polar.customer_sessions.create(external_customer_id="usr_bench")

        calls = {"raw httpx.Client": raw_call, "polar_sdk.Polar": sdk_call}
        for call in calls.values():
            _rate(call, 10)  # warm up
        for round_ in range(args.rounds):
            order = list(calls)[round_ % 2 :] + list(calls)[: round_ % 2]
            for name in order:
                results[name].append(_rate(calls[name], args.calls))
    for name, rates in results.items():
        print(f"{name:18} {statistics.median(rates):8.0f} req/s (median of {args.rounds})")


if __name__ == "__main__":
    main()
