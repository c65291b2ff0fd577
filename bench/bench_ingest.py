"""Benchmark of the usage-event ingester (`polar.events.ingester()`, issue 14).

Run from the repository root with the project venv:

    .venv/bin/python bench/bench_ingest.py [--repeats 5] [--quick]

`tests/ingestserver.py` (the Polar-like ingest server: dedupes by `external_id`, answers
`{"inserted", "duplicates"}`) runs as a separate process pinned to core 0; this process pins
itself to core 1 before any thread starts. Measured side by side in the same run, async
(`AsyncPolar`) and blocking (`Polar`), each repeat alternating between the two:

1. `track()` on the caller's path: a tight loop of N calls (per-event mean), and N2 calls
   each timed alone with `perf_counter_ns` (median, p99), `flush_interval` one hour.
2. Sustained throughput: M events tracked until `flush()` returns (`batch_size=100`, default
   concurrency), events/s.
3. The baseline: one `events.ingest(events=[event])` call per event through the same kind
   of client, sequentially and from 20 concurrent tasks; the ingester's ratio to it.

Prints a markdown table and writes bench/results/<UTC time>-ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import polar_sdk  # noqa: E402
from polar_sdk import models  # noqa: E402

TOKEN = "polar_oat_bench0000000000000000000000000000000"
METADATA = {"route": "/v1/x", "tokens": 12}
CUSTOMER = "user_42"
TARGET_TRACK_US = 5.0
TARGET_RATE = 20_000.0
TARGET_RATIO = 20.0


# the server -------------------------------------------------------------------------------
def start_server() -> tuple[subprocess.Popen[bytes], int]:
    command = [sys.executable, str(ROOT / "tests" / "ingestserver.py"), "0"]
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        command = ["taskset", "-c", "0", *command]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT)
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.strip():
        server.kill()
        raise SystemExit("tests/ingestserver.py did not print its port")
    return server, int(line)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to show how busy the server was."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


# 1. track() on the caller's path ----------------------------------------------------------
def loop_track(track: Callable[..., None], n: int) -> float:
    """Seconds for n track() calls in a tight loop."""
    start = time.perf_counter()
    for _ in range(n):
        track(name="api_call", external_customer_id=CUSTOMER, metadata=METADATA)
    return time.perf_counter() - start


def timed_calls(track: Callable[..., None], n: int) -> list[int]:
    """Nanoseconds of each of n track() calls, timed one by one."""
    clock = time.perf_counter_ns
    out = [0] * n
    for i in range(n):
        start = clock()
        track(name="api_call", external_customer_id=CUSTOMER, metadata=METADATA)
        out[i] = clock() - start
    return out


def timer_overhead_ns(n: int = 20_000) -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        start = clock()
        samples.append(clock() - start)
    return statistics.median(samples)


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))])


def track_summary(
    loop_s: float, n: int, calls: list[int], batches_during: int, pending: int
) -> dict[str, Any]:
    return {
        "loop_mean_us": loop_s / n * 1e6,
        "call_median_us": statistics.median(calls) / 1e3,
        "call_p99_us": percentile(calls, 99) / 1e3,
        "batches_sent_during_loops": batches_during,
        "pending_after_loops": pending,
    }


async def async_track_cost(url: str, n: int, n_calls: int) -> dict[str, Any]:
    async with polar_sdk.AsyncPolar(TOKEN, base_url=url) as polar:
        ingester = polar.events.ingester(flush_interval=3600.0, max_pending=n + n_calls + 1)
        gc.collect()
        loop_s = loop_track(ingester.track, n)  # no await: the workers cannot run
        calls = timed_calls(ingester.track, n_calls)
        stats = ingester.stats
        ingester.take_pending()  # not sent: this part measures the caller's path only
        await ingester.aclose()
    return track_summary(loop_s, n, calls, stats.batches, stats.pending)


def blocking_track_cost(url: str, n: int, n_calls: int) -> dict[str, Any]:
    with polar_sdk.Polar(TOKEN, base_url=url) as polar:
        ingester = polar.events.ingester(flush_interval=3600.0, max_pending=n + n_calls + 1)
        gc.collect()
        # The worker thread may wake (every full batch of 100) and send meanwhile: its CPU
        # time on this core and the GIL are part of what the loop measures.
        loop_s = loop_track(ingester.track, n)
        calls = timed_calls(ingester.track, n_calls)
        stats = ingester.stats
        ingester.take_pending()
        ingester.close()
    return track_summary(loop_s, n, calls, stats.batches, stats.pending)


# 2. sustained throughput ------------------------------------------------------------------
def check_stats(stats: Any, n: int) -> None:
    if stats.sent != n or stats.failed or stats.pending or stats.duplicates:
        raise SystemExit(f"ingester did not deliver exactly once: {stats}")


async def async_throughput(url: str, n: int, server_pid: int) -> dict[str, Any]:
    async with polar_sdk.AsyncPolar(TOKEN, base_url=url) as polar:
        ingester = polar.events.ingester(batch_size=100)
        gc.collect()
        cpu0 = cpu_seconds(server_pid)
        start = time.perf_counter()
        track = ingester.track
        for _ in range(n):
            track(name="api_call", external_customer_id=CUSTOMER, metadata=METADATA)
        tracked = time.perf_counter()
        await ingester.flush()
        end = time.perf_counter()
        cpu1 = cpu_seconds(server_pid)
        stats = ingester.stats
        await ingester.aclose()
    check_stats(stats, n)
    return {
        "events_per_s": n / (end - start),
        "track_s": tracked - start,
        "total_s": end - start,
        "batches": stats.batches,
        "retries": stats.retries,
        "server_cpu_share": (cpu1 - cpu0) / (end - start),
    }


def blocking_throughput(url: str, n: int, server_pid: int) -> dict[str, Any]:
    with polar_sdk.Polar(TOKEN, base_url=url) as polar:
        ingester = polar.events.ingester(batch_size=100)
        gc.collect()
        cpu0 = cpu_seconds(server_pid)
        start = time.perf_counter()
        track = ingester.track
        for _ in range(n):
            track(name="api_call", external_customer_id=CUSTOMER, metadata=METADATA)
        tracked = time.perf_counter()
        ingester.flush()
        end = time.perf_counter()
        cpu1 = cpu_seconds(server_pid)
        stats = ingester.stats
        ingester.close()
    check_stats(stats, n)
    return {
        "events_per_s": n / (end - start),
        "track_s": tracked - start,
        "total_s": end - start,
        "batches": stats.batches,
        "retries": stats.retries,
        "server_cpu_share": (cpu1 - cpu0) / (end - start),
    }


# 3. the baseline: one events.ingest call per event ----------------------------------------
def one_event() -> list[models.EventCreate]:
    return [
        models.EventCreateExternalCustomer(
            name="api_call",
            external_customer_id=CUSTOMER,
            external_id=str(uuid4()),
            metadata=models.EventMetadataInput(extra=dict(METADATA)),
        )
    ]


async def async_baseline(url: str, n: int, tasks: int) -> dict[str, Any]:
    async with polar_sdk.AsyncPolar(TOKEN, base_url=url) as polar:
        await polar.events.ingest(events=one_event())  # connection open
        inserted = 0

        async def run(count: int) -> None:
            nonlocal inserted
            for _ in range(count):
                answer = await polar.events.ingest(events=one_event())
                inserted += answer.inserted

        gc.collect()
        start = time.perf_counter()
        if tasks == 1:
            await run(n)
        else:
            share = [n // tasks + (i < n % tasks) for i in range(tasks)]
            await asyncio.gather(*(run(count) for count in share))
        elapsed = time.perf_counter() - start
    if inserted != n:
        raise SystemExit(f"baseline inserted {inserted} of {n}")
    return {"events_per_s": n / elapsed, "total_s": elapsed}


def blocking_baseline(url: str, n: int) -> dict[str, Any]:
    with polar_sdk.Polar(TOKEN, base_url=url) as polar:
        polar.events.ingest(events=one_event())
        inserted = 0
        gc.collect()
        start = time.perf_counter()
        for _ in range(n):
            inserted += polar.events.ingest(events=one_event()).inserted
        elapsed = time.perf_counter() - start
    if inserted != n:
        raise SystemExit(f"blocking baseline inserted {inserted} of {n}")
    return {"events_per_s": n / elapsed, "total_s": elapsed}


# the run ----------------------------------------------------------------------------------
def median_of(samples: list[dict[str, Any]]) -> dict[str, float]:
    keys = [k for k, v in samples[0].items() if isinstance(v, (int, float))]
    return {k: statistics.median(s[k] for s in samples) for k in keys}


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
    }
    try:
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        info["dirty"] = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "polar_sdk"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        pass
    return info


SPREAD = (
    ("async track", "loop_mean_us"),
    ("blocking track", "loop_mean_us"),
    ("async throughput", "events_per_s"),
    ("blocking throughput", "events_per_s"),
    ("async baseline, sequential", "events_per_s"),
    ("async baseline, 20 tasks", "events_per_s"),
    ("blocking baseline, sequential", "events_per_s"),
)


def mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def table(m: dict[str, dict[str, float]], sizes: dict[str, int]) -> str:
    a_tr, b_tr = m["async track"], m["blocking track"]
    a_th, b_th = m["async throughput"], m["blocking throughput"]
    seq, par, bseq = (
        m["async baseline, sequential"],
        m["async baseline, 20 tasks"],
        m["blocking baseline, sequential"],
    )
    n, n_calls, n_rate, n_base = sizes["track"], sizes["calls"], sizes["rate"], sizes["base"]
    rows = [
        "| measurement | async (`AsyncPolar`) | blocking (`Polar`) | target |",
        "|---|---:|---:|---|",
        f"| `track()` tight loop of {n:,}, mean per event | {a_tr['loop_mean_us']:.2f} µs | "
        f"{b_tr['loop_mean_us']:.2f} µs | ≤ 5 µs: async {mark(a_tr['loop_mean_us'] <= 5)}, "
        f"blocking {mark(b_tr['loop_mean_us'] <= 5)} |",
        f"| `track()` timed one by one ({n_calls:,}), median / p99 | "
        f"{a_tr['call_median_us']:.2f} / {a_tr['call_p99_us']:.1f} µs | "
        f"{b_tr['call_median_us']:.2f} / {b_tr['call_p99_us']:.1f} µs | ≤ 5 µs: async "
        f"{mark(a_tr['call_median_us'] <= 5)}, blocking {mark(b_tr['call_median_us'] <= 5)} |",
        f"| batches sent during those loops | {a_tr['batches_sent_during_loops']:.0f} | "
        f"{b_tr['batches_sent_during_loops']:.0f} | (async: none can be) |",
        f"| throughput, {n_rate:,} events track → `flush()` returned | "
        f"{a_th['events_per_s']:,.0f} ev/s | {b_th['events_per_s']:,.0f} ev/s | ≥ 20,000: async "
        f"{mark(a_th['events_per_s'] >= TARGET_RATE)}, blocking "
        f"{mark(b_th['events_per_s'] >= TARGET_RATE)} |",
        f"| of which the track loop | {a_th['track_s'] * 1e3:.0f} ms | "
        f"{b_th['track_s'] * 1e3:.0f} ms | |",
        f"| server (core 0) CPU share during throughput | {a_th['server_cpu_share']:.0%} | "
        f"{b_th['server_cpu_share']:.0%} | |",
        f"| baseline: `events.ingest` one event per call, sequential ({n_base:,}) | "
        f"{seq['events_per_s']:,.0f} ev/s | {bseq['events_per_s']:,.0f} ev/s | |",
        f"| baseline: one event per call, 20 concurrent tasks ({n_base:,}) | "
        f"{par['events_per_s']:,.0f} ev/s | n/a | |",
    ]
    r_seq = a_th["events_per_s"] / seq["events_per_s"]
    r_par = a_th["events_per_s"] / par["events_per_s"]
    r_bseq = b_th["events_per_s"] / bseq["events_per_s"]
    rows += [
        f"| ratio ingester / sequential baseline | {r_seq:.1f}x | {r_bseq:.1f}x | ≥ 20x: async "
        f"{mark(r_seq >= TARGET_RATIO)}, blocking {mark(r_bseq >= TARGET_RATIO)} |",
        f"| ratio ingester / 20-task baseline | {r_par:.1f}x | n/a | ≥ 20x: "
        f"{mark(r_par >= TARGET_RATIO)} |",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller samples, 3 repeats")
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats
    scale = 5 if args.quick else 1
    sizes = {
        "track": 50_000 // scale,
        "calls": 20_000 // scale,
        "rate": 100_000 // scale,
        "base": 2_000 // scale,
    }

    if (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1})  # before any thread starts: they inherit it
    info = machine()
    server, port = start_server()
    url = f"http://127.0.0.1:{port}"
    info["timer_overhead_ns"] = timer_overhead_ns()
    samples: dict[str, list[dict[str, Any]]] = {}

    def add(name: str, value: dict[str, Any]) -> None:
        samples.setdefault(name, []).append(value)

    async def async_round(warm: bool) -> None:
        if warm:
            await async_track_cost(url, 5_000, 1_000)
            await async_throughput(url, 5_000, server.pid)
            await async_baseline(url, 200, 1)
            return
        add("async track", await async_track_cost(url, sizes["track"], sizes["calls"]))
        add("async throughput", await async_throughput(url, sizes["rate"], server.pid))
        add("async baseline, sequential", await async_baseline(url, sizes["base"], 1))
        add("async baseline, 20 tasks", await async_baseline(url, sizes["base"], 20))

    def blocking_round(warm: bool) -> None:
        if warm:
            blocking_track_cost(url, 5_000, 1_000)
            blocking_throughput(url, 5_000, server.pid)
            blocking_baseline(url, 200)
            return
        add("blocking track", blocking_track_cost(url, sizes["track"], sizes["calls"]))
        add("blocking throughput", blocking_throughput(url, sizes["rate"], server.pid))
        add("blocking baseline, sequential", blocking_baseline(url, sizes["base"]))

    started = time.perf_counter()
    try:
        asyncio.run(async_round(True))
        blocking_round(True)
        for i in range(repeats):
            # alternate which flavour goes first, so drift on the shared machine hits both
            if i % 2 == 0:
                asyncio.run(async_round(False))
                blocking_round(False)
            else:
                blocking_round(False)
                asyncio.run(async_round(False))
            print(f"repeat {i + 1}/{repeats} done ({time.perf_counter() - started:.0f} s)")
    finally:
        server.terminate()
        server.wait(timeout=10)

    medians = {name: median_of(values) for name, values in samples.items()}
    markdown = table(medians, sizes)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    info["loadavg_end"] = os.getloadavg()
    result = {
        "when": when,
        "repeats": repeats,
        "sizes": sizes,
        "seconds": time.perf_counter() - started,
        "machine": info,
        "medians": medians,
        "samples": samples,
        "table": markdown,
    }
    out = HERE / "results" / f"{when}-ingest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print()
    print(markdown)
    print("\nspread over the repeats (lowest - highest):")
    for name, key in SPREAD:
        values = [sample[key] for sample in samples[name]]
        print(f"- {name}, {key}: {min(values):,.2f} - {max(values):,.2f}")
    print(f"\nmedians of {repeats} repeats; timer overhead {info['timer_overhead_ns']:.0f} ns")
    print(f"wrote {out.relative_to(ROOT)} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
