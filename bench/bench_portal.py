"""Benchmark: how the blocking facade wakes its caller -- a lock, or the thread's channel.

    PYTHONPATH=. python bench/bench_portal.py [--unpinned] [--blocks N] [--calls N]

The blocking `Polar` hands each call to its event-loop thread and sleeps until the call is
done. Two ways to wake the caller, side by side in one process against the floor benchmark's
server (bench/bench_floor.py, pinned to core 0):

- lock (the baseline): the loop releases a `threading.Lock` the caller sleeps on, with the
  GIL held;
- channel (shipped for lone calls): the loop writes the caller's eventfd (a pipe off Linux),
  releasing the GIL while the caller wakes.

Rows: a bare round trip (a coroutine that returns at once), one thread calling
`customer_sessions.create` (median of block medians, µs per call; blocks alternate), and 16
threads sharing one `Polar` (req/s, median of blocks; the shipped code gives callers with
other calls in flight the lock either way). The client is pinned to core 1 as in the floor
benchmark, unless `--unpinned`. The baseline is selected by making the channel lookup give
no channel, which is what a thread over the channel bound gets.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # measure the checkout

import bench_floor as bf  # noqa: E402

from polar_sdk import Polar, _portal  # noqa: E402

MODES = ("lock", "channel")


async def _nothing() -> None:
    return None


def _use(mode: str, channel: Callable[[], Any]) -> None:
    _portal._my_channel = channel if mode == "channel" else (lambda: None)  # pyright: ignore[reportPrivateUsage]


def _latency(call: Callable[[], object], blocks: int, calls: int, channel: Any) -> dict[str, float]:
    medians: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(blocks):
        for mode in MODES:
            _use(mode, channel)
            for _ in range(50):
                call()
            samples = []
            for _ in range(calls):
                started = time.perf_counter()
                call()
                samples.append(time.perf_counter() - started)
            medians[mode].append(statistics.median(samples) * 1e6)
    return {mode: statistics.median(values) for mode, values in medians.items()}


def _threads(
    call: Callable[[], object], blocks: int, per_thread: int, channel: Any
) -> dict[str, float]:
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}

    def work() -> None:
        for _ in range(per_thread):
            call()

    for _ in range(blocks):
        for mode in MODES:
            _use(mode, channel)  # new threads: each picks its way of waiting on its first call
            threads = [threading.Thread(target=work) for _ in range(16)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            rates[mode].append(16 * per_thread / (time.perf_counter() - started))
    return {mode: statistics.median(values) for mode, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--unpinned", action="store_true")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    if not args.unpinned and (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1})  # before the loop thread starts: it inherits this
    port = bf._free_port()
    server = bf._start_server(port)
    channel = _portal._my_channel  # pyright: ignore[reportPrivateUsage]
    polar = Polar(access_token=bf.TOKEN, base_url=f"http://127.0.0.1:{port}")
    try:

        def create() -> object:
            return polar.customer_sessions.create(customer_id=bf.CUSTOMER_ID)

        def bare() -> object:
            return polar._core.call(_nothing)  # pyright: ignore[reportPrivateUsage]

        for _ in range(2000):
            create()
        rows = {
            "bare round trip (µs)": _latency(bare, args.blocks, args.calls, channel),
            "create, one thread (µs)": _latency(create, args.blocks, args.calls, channel),
            "create, 16 threads (req/s)": _threads(
                create, max(args.blocks // 3, 3), max(args.calls // 8, 50), channel
            ),
        }
    finally:
        _portal._my_channel = channel  # pyright: ignore[reportPrivateUsage]
        polar.close()
        server.kill()
    pinning = "unpinned" if args.unpinned else "client pinned to core 1"
    lines = [f"| {pinning} | lock (baseline) | channel | channel / lock |", "|---|---|---|---|"]
    for name, values in rows.items():
        ratio = values["channel"] / values["lock"]
        lines.append(f"| {name} | {values['lock']:.1f} | {values['channel']:.1f} | {ratio:.2f} |")
    print("\n".join(lines))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = HERE / "results" / f"{stamp}-portal-{'unpinned' if args.unpinned else 'pinned'}.json"
    out.write_text(
        json.dumps({"pinning": pinning, "rows": rows}, indent=1) + "\n", encoding="utf-8"
    )
    print(f"written: {out}")


if __name__ == "__main__":
    main()
