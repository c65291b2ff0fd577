"""One benchmark process: measures a set of clients against the loopback server, side by side.

The runner (`bench/run.py`) starts this script, pinned to its own core, in one of two
environments: the bench venv, where polar_sdk (from the checkout) and polar-sdk 1.0.2 (imports as
`polar`) share the process with raw httpx; or a venv holding polar-sdk 0.32.0, which also imports
as `polar_sdk` and so is measured in its own process against raw httpx there. Each mode prints
one `BENCH-RESULT {json}` line.

Modes: latency (sequential create, sync or async), throughput (N concurrent tasks), decode,
memory (RSS growth over many calls, idle client size), allocations (tracemalloc per call),
firstcall (import + first request in a fresh process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from _common import CUSTOMER_ID, PATH, TOKEN, emit, response_body, rss_bytes, summary

AsyncCall = Callable[[], Awaitable[Any]]
SyncCall = Callable[[], Any]

REQUEST_BODY = json.dumps({"customer_id": CUSTOMER_ID}).encode()
RAW_HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Polar-Version": "2026-10",
    "Content-Type": "application/json",
    "Accept": "application/json",
}


IMPORTS = {
    "polar_sdk": "polar_sdk",
    "polar-sdk 1.0.2": "polar.v2026_10",
    "polar-sdk 0.32.0": "polar_sdk",
    "raw-httpx": "httpx",
}
"""The module a user imports to get each client."""


class SkipImpl(Exception):
    """This client cannot be measured in this environment (the reason is reported)."""


# --- clients ------------------------------------------------------------------------------------
# Each factory returns (call, close). Every call sends POST /v1/customer-sessions/ and returns
# the decoded answer, so raw httpx pays json.loads like the SDKs pay their decoding.


HTTPX_TRANSPORT = "polar_sdk[httpx-transport]"
"""Our client on httpx's default transport instead of polar_sdk._transport.AsyncioTransport."""


@contextlib.contextmanager
def httpx_transport() -> Iterator[None]:
    """Clients polar_sdk builds inside this block use httpx's default transport."""
    os.environ["POLAR_SDK_DEFAULT_TRANSPORT"] = "1"
    try:
        yield
    finally:
        del os.environ["POLAR_SDK_DEFAULT_TRANSPORT"]


async def make_async(name: str, base: str) -> tuple[AsyncCall, Callable[[], Awaitable[None]]]:
    """An async client by name, ready to call."""
    if name == "raw-httpx":
        import httpx

        raw = httpx.AsyncClient()
        url = base + PATH

        async def raw_call() -> Any:
            response = await raw.post(url, content=REQUEST_BODY, headers=RAW_HEADERS)
            if response.status_code != 201:
                raise RuntimeError(f"unexpected status {response.status_code}")
            return json.loads(response.content)

        return raw_call, raw.aclose
    if name.startswith("polar_sdk"):
        import polar_sdk

        kwargs: dict[str, Any] = {}
        if name.startswith("polar_sdk[max_in_flight="):
            kwargs["max_in_flight"] = int(name.split("=")[1].rstrip("]"))
        ours = polar_sdk.AsyncPolar(TOKEN, base_url=base, **kwargs)

        async def ours_call() -> Any:
            return await ours.customer_sessions.create(customer_id=CUSTOMER_ID)

        if name == HTTPX_TRANSPORT:
            with httpx_transport():
                await ours_call()  # builds this loop's client with httpx's own transport

        return ours_call, ours.aclose
    if name == "polar-sdk 1.0.2":
        from polar.v2026_10 import PolarAsync

        peer = PolarAsync(TOKEN, base_url=base)
        await peer.__aenter__()

        async def peer_call() -> Any:
            return await peer.customer_sessions.create(customer_id=CUSTOMER_ID)

        async def peer_close() -> None:
            await peer.__aexit__(None, None, None)

        return peer_call, peer_close
    if name == "polar-sdk 0.32.0":
        import polar_sdk as old

        legacy = old.Polar(access_token=TOKEN, server_url=base)
        request = {"customer_id": CUSTOMER_ID}

        async def legacy_call() -> Any:
            return await legacy.customer_sessions.create_async(request=request)

        async def legacy_close() -> None:
            if hasattr(legacy, "__aexit__"):
                await legacy.__aexit__(None, None, None)

        return legacy_call, legacy_close
    raise SystemExit(f"unknown async client {name!r}")


def make_sync(name: str, base: str) -> tuple[SyncCall, Callable[[], None]]:
    """A blocking client by name, ready to call."""
    if name == "raw-httpx":
        import httpx

        raw = httpx.Client()
        url = base + PATH

        def raw_call() -> Any:
            response = raw.post(url, content=REQUEST_BODY, headers=RAW_HEADERS)
            if response.status_code != 201:
                raise RuntimeError(f"unexpected status {response.status_code}")
            return json.loads(response.content)

        return raw_call, raw.close
    if name in ("polar_sdk", HTTPX_TRANSPORT):
        try:
            from polar_sdk import Polar  # type: ignore[attr-defined]
        except ImportError as exc:
            raise SkipImpl(
                f"polar_sdk.Polar (the sync facade) is not available yet: {exc}"
            ) from exc
        ours = Polar(TOKEN, base_url=base)

        def ours_call() -> Any:
            return ours.customer_sessions.create(customer_id=CUSTOMER_ID)

        if name == HTTPX_TRANSPORT:
            with httpx_transport():
                ours_call()  # builds the portal loop's client with httpx's own transport
        return ours_call, ours.close
    if name == "polar-sdk 1.0.2":
        from polar.v2026_10 import Polar as PeerPolar

        peer = PeerPolar(TOKEN, base_url=base)

        def peer_call() -> Any:
            return peer.customer_sessions.create(customer_id=CUSTOMER_ID)

        return peer_call, lambda: peer.__exit__(None, None, None)
    if name == "polar-sdk 0.32.0":
        import polar_sdk as old

        legacy = old.Polar(access_token=TOKEN, server_url=base)
        request = {"customer_id": CUSTOMER_ID}

        def legacy_call() -> Any:
            return legacy.customer_sessions.create(request=request)

        return legacy_call, lambda: None
    raise SystemExit(f"unknown sync client {name!r}")


def check_identity(names: list[str]) -> dict[str, str]:
    """Which files the measured packages come from (guards against the two `polar_sdk`s)."""
    found: dict[str, str] = {}
    if any(n.startswith("polar_sdk") for n in names) or "polar-sdk 0.32.0" in names:
        import polar_sdk

        version = str(getattr(polar_sdk, "__version__", "?"))
        found["polar_sdk"] = f"{version} at {polar_sdk.__file__}"
        legacy = "polar-sdk 0.32.0" in names
        if legacy != version.startswith("0.32"):
            raise SystemExit(f"wrong polar_sdk in this process: {found['polar_sdk']}")
    if "polar-sdk 1.0.2" in names:
        import polar

        found["polar"] = f"{polar.__version__} at {polar.__file__}"
    return found


# --- sequential latency -------------------------------------------------------------------------


def interleaved_order(names: list[str], round_index: int) -> list[str]:
    """A B C, then B C A, ...: rotate who goes first so no client always runs warm or cold."""
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


async def latency_async(args: argparse.Namespace) -> dict[str, Any]:
    clients = {name: await make_async(name, args.base) for name in args.impls}
    for call, _ in clients.values():
        for _ in range(args.warmup):
            await call()
    per_repeat: dict[str, list[float]] = {n: [] for n in args.impls}
    samples: dict[str, list[float]] = {n: [] for n in args.impls}
    clock = time.perf_counter_ns
    for repeat in range(args.repeats):
        this_repeat: dict[str, list[float]] = {n: [] for n in args.impls}
        for round_index in range(args.rounds):
            for name in interleaved_order(args.impls, round_index + repeat):
                call = clients[name][0]
                bucket = this_repeat[name]
                for _ in range(args.block):
                    started = clock()
                    await call()
                    bucket.append((clock() - started) / 1000)
        for name, values in this_repeat.items():
            per_repeat[name].append(summary(values)["median"])
            samples[name].extend(values)
    for _, close in clients.values():
        await close()
    return {"samples": {n: summary(v) for n, v in samples.items()}, "repeat_medians": per_repeat}


def latency_sync(args: argparse.Namespace) -> dict[str, Any]:
    clients: dict[str, tuple[SyncCall, Callable[[], None]]] = {}
    skipped: dict[str, str] = {}
    for name in args.impls:
        try:
            clients[name] = make_sync(name, args.base)
        except SkipImpl as exc:
            skipped[name] = str(exc)
    names = [n for n in args.impls if n in clients]
    for call, _ in clients.values():
        for _ in range(args.warmup):
            call()
    per_repeat: dict[str, list[float]] = {n: [] for n in names}
    samples: dict[str, list[float]] = {n: [] for n in names}
    clock = time.perf_counter_ns
    for repeat in range(args.repeats):
        this_repeat: dict[str, list[float]] = {n: [] for n in names}
        for round_index in range(args.rounds):
            for name in interleaved_order(names, round_index + repeat):
                call = clients[name][0]
                bucket = this_repeat[name]
                for _ in range(args.block):
                    started = clock()
                    call()
                    bucket.append((clock() - started) / 1000)
        for name, values in this_repeat.items():
            per_repeat[name].append(summary(values)["median"])
            samples[name].extend(values)
    for _, close in clients.values():
        close()
    return {
        "samples": {n: summary(v) for n, v in samples.items()},
        "repeat_medians": per_repeat,
        "skipped": skipped,
    }


# --- throughput ---------------------------------------------------------------------------------


async def one_burst(call: AsyncCall, tasks: int, total: int) -> tuple[float, list[float], int]:
    """`total` calls over `tasks` concurrent workers: (successes per second, latencies, errors).

    A failed call (a client's own timeout under load, say) is counted, not fatal.
    """
    remaining = total
    latencies: list[float] = []
    errors = 0
    clock = time.perf_counter_ns

    async def worker() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            started = clock()
            try:
                await call()
            except Exception:
                errors += 1
                continue
            latencies.append((clock() - started) / 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return (total - errors) / (time.perf_counter() - started), latencies, errors


async def throughput(args: argparse.Namespace) -> dict[str, Any]:
    clients = {name: await make_async(name, args.base) for name in args.impls}
    for call, _ in clients.values():
        await one_burst(call, args.tasks, min(args.total, 4 * args.tasks))
    rates: dict[str, list[float]] = {n: [] for n in args.impls}
    latencies: dict[str, list[float]] = {n: [] for n in args.impls}
    errors: dict[str, int] = dict.fromkeys(args.impls, 0)
    for repeat in range(args.repeats):
        for name in interleaved_order(args.impls, repeat):
            rate, lat, failed = await one_burst(clients[name][0], args.tasks, args.total)
            rates[name].append(rate)
            latencies[name].extend(lat)
            errors[name] += failed
    for _, close in clients.values():
        await close()
    return {
        "tasks": args.tasks,
        "rates": rates,
        "errors": errors,
        "latency": {n: summary(v) for n, v in latencies.items()},
    }


# --- decode -------------------------------------------------------------------------------------


def decoders(names: list[str]) -> dict[str, Callable[[], Any]]:
    """Decode functions over the recorded body, each doing what that SDK does with an answer."""
    body = response_body()
    text = body.decode()
    data = json.loads(body)
    found: dict[str, Callable[[], Any]] = {"json.loads": lambda: json.loads(body)}
    if "polar_sdk" in names:
        from polar_sdk._converter import make_converter
        from polar_sdk.models import CustomerSession

        structure = make_converter().structure
        found["polar_sdk: structure only"] = lambda: structure(data, CustomerSession)
        found["polar_sdk"] = lambda: structure(json.loads(body), CustomerSession)
    if "polar-sdk 1.0.2" in names:
        from polar import deserialize
        from polar.v2026_10.outputs import CustomerSession as PeerSession

        found["polar-sdk 1.0.2: structure only"] = lambda: deserialize(data, PeerSession)
        found["polar-sdk 1.0.2"] = lambda: deserialize(json.loads(body), PeerSession)
    if "polar-sdk 0.32.0" in names:
        from polar_sdk.utils.serializers import unmarshal, unmarshal_json

        from polar_sdk import models as old_models

        legacy_type = old_models.CustomerSession
        found["polar-sdk 0.32.0: structure only"] = lambda: unmarshal(data, legacy_type)
        found["polar-sdk 0.32.0"] = lambda: unmarshal_json(text, legacy_type)
    return found


def decode(args: argparse.Namespace) -> dict[str, Any]:
    funcs = decoders(args.impls)
    clock = time.perf_counter_ns
    per_call: dict[str, list[float]] = {n: [] for n in funcs}
    batch = args.block
    for fn in funcs.values():
        for _ in range(args.warmup):
            fn()
    names = list(funcs)
    for round_index in range(args.rounds):
        for name in interleaved_order(names, round_index):
            fn = funcs[name]
            started = clock()
            for _ in range(batch):
                fn()
            per_call[name].append((clock() - started) / batch / 1000)
    return {"samples": {n: summary(v) for n, v in per_call.items()}}


# --- memory -------------------------------------------------------------------------------------


def memory_growth(args: argparse.Namespace) -> dict[str, Any]:
    """RSS after the first `early` calls and after `calls` calls, one client per process."""
    name = args.impls[0]
    early = min(500, args.calls)
    marks: dict[str, int] = {}
    if args.flavour == "async":

        async def run() -> None:
            call, close = await make_async(name, args.base)
            for i in range(1, args.calls + 1):
                await call()
                if i == early:
                    gc.collect()
                    marks["early"] = rss_bytes()
            gc.collect()
            marks["late"] = rss_bytes()
            await close()

        asyncio.run(run())
    else:
        try:
            call, close = make_sync(name, args.base)
        except SkipImpl as exc:
            return {"skipped": str(exc)}
        for i in range(1, args.calls + 1):
            call()
            if i == early:
                gc.collect()
                marks["early"] = rss_bytes()
        gc.collect()
        marks["late"] = rss_bytes()
        close()
    return {"calls": args.calls, "early_calls": early, **marks}


def idle_memory(args: argparse.Namespace) -> dict[str, Any]:
    """What one idle client costs, imports excluded: RSS and traced Python memory.

    Measured twice: just built, and after one call (a connection is open and anything started
    lazily is running -- for our sync client the portal thread and its event loop).
    """
    name = args.impls[0]
    check_identity([name])
    holder: list[Any] = []
    marks: dict[str, tuple[int, int]] = {}

    def mark(label: str) -> None:
        gc.collect()
        marks[label] = (rss_bytes(), tracemalloc.get_traced_memory()[0])

    if args.flavour == "async":

        async def run() -> None:
            # A first client, called once and closed, loads every lazily imported module.
            await _touch_async(name, args.base, call=True)
            tracemalloc.start()
            mark("before")
            call, close = await make_async(name, args.base)
            holder.append((call, close))
            mark("built")
            await call()
            mark("called")

        asyncio.run(run())
    else:
        try:
            call, close = make_sync(name, args.base)
        except SkipImpl as exc:
            return {"skipped": str(exc)}
        call()
        close()
        tracemalloc.start()
        mark("before")
        call, close = make_sync(name, args.base)
        holder.append((call, close))
        mark("built")
        call()
        mark("called")
    tracemalloc.stop()
    rss0, traced0 = marks["before"]
    return {
        "built_rss_bytes": marks["built"][0] - rss0,
        "built_traced_bytes": marks["built"][1] - traced0,
        "rss_bytes": marks["called"][0] - rss0,
        "traced_bytes": marks["called"][1] - traced0,
    }


async def _touch_async(name: str, base: str, *, call: bool) -> None:
    fn, close = await make_async(name, base)
    if call:
        await fn()
    await close()


def allocations(args: argparse.Namespace) -> dict[str, Any]:
    """Top tracemalloc lines per async call: what is allocated and still alive, and the peak."""
    name = args.impls[0]

    async def run() -> dict[str, Any]:
        call, close = await make_async(name, args.base)
        for _ in range(args.warmup):
            await call()
        gc.collect()
        tracemalloc.start(8)
        before = tracemalloc.take_snapshot()
        tracemalloc.reset_peak()
        base_current = tracemalloc.get_traced_memory()[0]
        for _ in range(args.calls):
            await call()
        peak = tracemalloc.get_traced_memory()[1] - base_current
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        await close()
        noise = (tracemalloc.Filter(False, tracemalloc.__file__),)
        stats = after.filter_traces(noise).compare_to(before.filter_traces(noise), "lineno")
        top = [
            {
                "where": f"{s.traceback[0].filename}:{s.traceback[0].lineno}",
                "bytes_per_call": s.size_diff / args.calls,
                "blocks_per_call": s.count_diff / args.calls,
            }
            for s in stats[:8]
        ]
        return {"calls": args.calls, "peak_bytes_over_run": peak, "top_retained": top}

    return asyncio.run(run())


def first_call(args: argparse.Namespace) -> dict[str, Any]:
    """Fresh process: import, build the client, first create; then the steady-state cost."""
    name = args.impls[0]
    t0 = time.perf_counter()
    module = IMPORTS.get(name, "httpx")
    __import__(module)
    t1 = time.perf_counter()

    async def run() -> tuple[float, float, float]:
        t2 = time.perf_counter()
        call, close = await make_async(name, args.base)
        await call()
        t3 = time.perf_counter()
        steady: list[float] = []
        for _ in range(50):
            started = time.perf_counter()
            await call()
            steady.append(time.perf_counter() - started)
        await close()
        steady.sort()
        return t2, t3, steady[len(steady) // 2]

    t2, t3, steady = asyncio.run(run())
    return {
        "import_s": t1 - t0,
        "build_and_first_call_s": t3 - t2,
        "steady_call_s": steady,
        "first_call_extra_s": (t3 - t2) - steady,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "mode",
        choices=[
            "latency-async",
            "latency-sync",
            "throughput",
            "decode",
            "memory",
            "idle",
            "allocations",
            "firstcall",
        ],
    )
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--impls", required=True, type=lambda s: s.split(","))
    parser.add_argument("--flavour", choices=["sync", "async"], default="async")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--block", type=int, default=250)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--total", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    # A fresh-process measurement must not have the SDK imported before it starts.
    identity = {} if args.mode == "firstcall" else check_identity(args.impls)
    runners: dict[str, Callable[[argparse.Namespace], Any]] = {
        "latency-async": lambda a: asyncio.run(latency_async(a)),
        "latency-sync": latency_sync,
        "throughput": lambda a: asyncio.run(throughput(a)),
        "decode": decode,
        "memory": memory_growth,
        "idle": idle_memory,
        "allocations": allocations,
        "firstcall": first_call,
    }
    result = runners[args.mode](args)
    result["identity"] = identity or check_identity(args.impls)
    result["python"] = sys.version.split()[0]
    emit(result)


if __name__ == "__main__":
    main()
