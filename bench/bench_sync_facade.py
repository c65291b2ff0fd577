"""Benchmark: the blocking `Polar` facade against raw `httpx.Client`, side by side in one run.

    python bench/bench_sync_facade.py [--quick] [--out FILE] [--profile]

A minimal uvicorn server (this script with `--serve PORT`, in its own process, pinned to CPU 0
when there are two) answers POST /v1/customer-sessions/ with a recorded 201 body
(bench/sync_facade_201.json). The client side runs in this process, pinned to CPU 1.

Sequential latency, one call at a time, in interleaved blocks (A B C D, then rotated) after a
warm-up, three repeats; each variant's median and p99 per call, and its ratio to raw:

- raw:         `httpx.Client.post` + `json.loads` (the baseline, 1.00);
- polar:       `Polar.customer_sessions.create` (the facade as shipped);
- anyio-call:  the same `AsyncPolar` call through `anyio.from_thread.BlockingPortal.call`
               on a uvloop portal (what the facade would cost with anyio's own hand-off);
- async-only:  the same `AsyncPolar` call awaited directly on a uvloop loop in this thread
               (the async core alone, no thread hand-off);
- polar-httpx-transport: `Polar` with httpx's default transport (POLAR_SDK_DEFAULT_TRANSPORT=1
               while its client is built) instead of polar_sdk._transport.AsyncioTransport;
- async-only-httpx-tr: async-only with httpx's default transport.

Throughput: 16 threads sharing one `Polar` (and the httpx-transport variant) against 16 threads
sharing one raw `httpx.Client`, interleaved and repeated the same way; requests per second.

Results go to a JSON file (default bench/sync_facade_result.json) and a short table is
printed. The machine may be shared: rerun before recording numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import json
import os
import platform
import pstats
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

BODY_FILE = HERE / "sync_facade_201.json"
PATH = "/v1/customer-sessions/"
CUSTOMER_ID = "32f1da23-861d-4749-b8e3-08a3664580a8"
TOKEN = "polar_oat_benchmark_not_a_secret"
THREADS = 16


# --------------------------------------------------------------------------------------
# server
# --------------------------------------------------------------------------------------


def serve(port: int) -> None:
    """Answer like Polar's customer-session endpoint until terminated."""
    import uvicorn

    body = json.dumps(
        json.loads(BODY_FILE.read_text(encoding="utf-8")), separators=(",", ":")
    ).encode()
    created = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"polar-version", b"2026-10"),
    ]
    missing = [(b"content-type", b"application/json"), (b"content-length", b"22")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        if scope["method"] == "POST" and scope["path"] == PATH:
            await send({"type": "http.response.start", "status": 201, "headers": created})
            await send({"type": "http.response.body", "body": body})
        else:
            await send({"type": "http.response.start", "status": 404, "headers": missing})
            await send({"type": "http.response.body", "body": b'{"detail":"Not Found"}'})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        date_header=False,
        backlog=2048,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def server_process() -> Iterator[str]:
    port = _free_port()
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(port)]
    pinned = bool(shutil.which("taskset")) and (os.cpu_count() or 1) >= 2
    if pinned:
        command = ["taskset", "-c", "0", *command]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("benchmark server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------------------
# variants: each is a callable doing one call, plus a close
# --------------------------------------------------------------------------------------

Call = Callable[[], object]


def make_raw(url: str) -> tuple[Call, Callable[[], None]]:
    import httpx

    client = httpx.Client(
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Polar-Version": "2026-10",
            "Content-Type": "application/json",
        }
    )
    endpoint = url + PATH
    payload = json.dumps({"customer_id": CUSTOMER_ID}).encode()

    def call() -> object:
        response = client.post(endpoint, content=payload)
        assert response.status_code == 201
        return json.loads(response.content)

    return call, client.close


def make_polar(url: str) -> tuple[Call, Callable[[], None]]:
    from polar_sdk import Polar

    polar = Polar(TOKEN, base_url=url)
    polar.__enter__()
    create = polar.customer_sessions.create

    def call() -> object:
        return create(customer_id=CUSTOMER_ID)

    return call, polar.close


@contextlib.contextmanager
def httpx_transport() -> Iterator[None]:
    """Owned clients built inside this block use httpx's default transport."""
    os.environ["POLAR_SDK_DEFAULT_TRANSPORT"] = "1"
    try:
        yield
    finally:
        del os.environ["POLAR_SDK_DEFAULT_TRANSPORT"]


def make_polar_httpx_transport(url: str) -> tuple[Call, Callable[[], None]]:
    from polar_sdk import Polar

    polar = Polar(TOKEN, base_url=url)
    polar.__enter__()
    create = polar.customer_sessions.create
    with httpx_transport():
        create(customer_id=CUSTOMER_ID)  # builds the client for the portal's loop

    def call() -> object:
        return create(customer_id=CUSTOMER_ID)

    return call, polar.close


def make_anyio_call(url: str) -> tuple[Call, Callable[[], None]]:
    from anyio.from_thread import start_blocking_portal

    from polar_sdk import AsyncPolar

    stack = contextlib.ExitStack()
    portal = stack.enter_context(
        start_blocking_portal("asyncio", backend_options={"use_uvloop": _has_uvloop()})
    )
    apolar = AsyncPolar(TOKEN, base_url=url)
    create = functools.partial(apolar.customer_sessions.create, customer_id=CUSTOMER_ID)

    def call() -> object:
        return portal.call(create)

    def close() -> None:
        portal.call(apolar.aclose)
        stack.close()

    return call, close


class AsyncOnly:
    """Awaits the async client directly on a uvloop (or asyncio) loop in this thread."""

    def __init__(self, url: str, *, default_transport: bool = False) -> None:
        from polar_sdk import AsyncPolar

        self.loop = _new_loop()
        self.apolar = AsyncPolar(TOKEN, base_url=url)
        if default_transport:
            with httpx_transport():
                self.block(1)

    def block(self, n: int) -> list[float]:
        create = self.apolar.customer_sessions.create

        async def run() -> list[float]:
            samples = []
            clock = time.perf_counter
            for _ in range(n):
                start = clock()
                await create(customer_id=CUSTOMER_ID)
                samples.append(clock() - start)
            return samples

        return self.loop.run_until_complete(run())

    def close(self) -> None:
        self.loop.run_until_complete(self.apolar.aclose())
        self.loop.close()


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def _new_loop() -> asyncio.AbstractEventLoop:
    if _has_uvloop():
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def timed_block(call: Call, n: int) -> list[float]:
    samples = []
    clock = time.perf_counter
    for _ in range(n):
        start = clock()
        call()
        samples.append(clock() - start)
    return samples


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]


# --------------------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------------------


def sequential(url: str, *, blocks: int, per_block: int, warmup: int) -> dict[str, Any]:
    raw_call, raw_close = make_raw(url)
    polar_call, polar_close = make_polar(url)
    httpx_call, httpx_close = make_polar_httpx_transport(url)
    anyio_call, anyio_close = make_anyio_call(url)
    async_only = AsyncOnly(url)
    async_only_httpx = AsyncOnly(url, default_transport=True)
    runners: dict[str, Callable[[int], list[float]]] = {
        "raw": functools.partial(timed_block, raw_call),
        "polar": functools.partial(timed_block, polar_call),
        "anyio-call": functools.partial(timed_block, anyio_call),
        "async-only": async_only.block,
        "polar-httpx-transport": functools.partial(timed_block, httpx_call),
        "async-only-httpx-tr": async_only_httpx.block,
    }
    names = list(runners)
    repeats: list[dict[str, list[float]]] = []
    try:
        for name in names:
            runners[name](warmup)
        for repeat in range(3):
            samples: dict[str, list[float]] = {name: [] for name in names}
            for block in range(blocks):
                shift = (repeat + block) % len(names)
                for name in names[shift:] + names[:shift]:
                    samples[name] += runners[name](per_block)
            repeats.append(samples)
    finally:
        raw_close()
        polar_close()
        httpx_close()
        anyio_close()
        async_only.close()
        async_only_httpx.close()
    result: dict[str, Any] = {}
    for name in names:
        medians = [statistics.median(r[name]) for r in repeats]
        ratios = [statistics.median(r[name]) / statistics.median(r["raw"]) for r in repeats]
        every = [x for r in repeats for x in r[name]]
        result[name] = {
            "median_us": statistics.median(every) * 1e6,
            "p99_us": p99(every) * 1e6,
            "median_us_per_repeat": [m * 1e6 for m in medians],
            "ratio_per_repeat": ratios,
            "ratio": statistics.median(ratios),
            "calls": len(every),
        }
    return result


def _threads_rate(call: Call, threads: int, per_thread: int) -> float:
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            for _ in range(per_thread):
                call()
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return threads * per_thread / elapsed


def throughput(url: str, *, per_thread: int, warmup: int) -> dict[str, Any]:
    raw_call, raw_close = make_raw(url)
    polar_call, polar_close = make_polar(url)
    httpx_call, httpx_close = make_polar_httpx_transport(url)
    variants = {"raw": raw_call, "polar": polar_call, "polar-httpx-transport": httpx_call}
    names = list(variants)
    rates: dict[str, list[float]] = {name: [] for name in names}
    try:
        for name in names:
            _threads_rate(variants[name], THREADS, warmup)
        for repeat in range(3):
            for block in range(2):
                shift = (repeat + block) % len(names)
                for name in names[shift:] + names[:shift]:
                    rates[name].append(_threads_rate(variants[name], THREADS, per_thread))
    finally:
        raw_close()
        polar_close()
        httpx_close()
    raw = statistics.median(rates["raw"])
    return {
        name: {
            "threads": THREADS,
            "requests_per_s_median": statistics.median(values),
            "requests_per_s_runs": values,
            "ratio_to_raw": statistics.median(values) / raw,
        }
        for name, values in rates.items()
    }


def profile_polar(url: str, calls: int) -> str:
    """cProfile of the portal thread's side of sequential `Polar` calls (top functions)."""
    call, close = make_polar(url)
    for _ in range(50):
        call()
    profiler = cProfile.Profile()
    from polar_sdk import _portal

    # Profile the loop thread: install the profiler from inside it.
    running = _portal._LIVE
    core = next(iter(running))
    run = core._run
    assert run is not None
    run.loop.call_soon_threadsafe(profiler.enable)
    time.sleep(0.05)
    start = time.perf_counter()
    for _ in range(calls):
        call()
    elapsed = time.perf_counter() - start
    done = threading.Event()

    def stop() -> None:
        profiler.disable()
        done.set()

    run.loop.call_soon_threadsafe(stop)
    done.wait(10)
    close()
    lines = [f"{calls} calls, {elapsed / calls * 1e6:.0f} us/call while profiling (loop thread)"]
    lines.append("own time by package (share of the loop thread's profiled time):")
    groups: dict[str, float] = {}
    raw_stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in raw_stats.items():
        groups[_package_of(filename)] = groups.get(_package_of(filename), 0.0) + tottime
    total = sum(groups.values()) or 1.0
    for name, spent in sorted(groups.items(), key=lambda item: -item[1]):
        lines.append(f"  {name:<14} {spent / total:6.1%}")
    stream = _Capture()
    stats = pstats.Stats(profiler, stream=stream)  # type: ignore[arg-type]
    stats.sort_stats("tottime").print_stats(25)
    lines.append(stream.text)
    return "\n".join(lines)


def _package_of(filename: str) -> str:
    parts = Path(filename).parts
    for marker in ("site-packages", "polar_sdk"):
        if marker in parts:
            index = parts.index(marker)
            return "polar_sdk" if marker == "polar_sdk" else parts[index + 1].split(".")[0]
    if filename.startswith("<") or filename == "~":
        return "builtins"
    return "stdlib:" + Path(filename).stem if "python3" in filename else Path(filename).stem


class _Capture:
    def __init__(self) -> None:
        self.text = ""

    def write(self, chunk: str) -> int:
        self.text += chunk
        return len(chunk)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (a smoke run)")
    parser.add_argument("--out", type=Path, default=HERE / "sync_facade_result.json")
    parser.add_argument("--profile", action="store_true", help="print a loop-thread profile")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return 0
    if (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1})  # threads started from now on inherit it
    if args.quick:
        seq = {"blocks": 4, "per_block": 50, "warmup": 100}
        thr = {"per_thread": 40, "warmup": 10}
    else:
        seq = {"blocks": 10, "per_block": 200, "warmup": 500}
        thr = {"per_thread": 200, "warmup": 20}
    import anyio
    import httpx

    started = time.time()
    with server_process() as url:
        if args.profile:
            print(profile_polar(url, 2000 if not args.quick else 300))
            return 0
        sequential_result = sequential(url, **seq)
        throughput_result = throughput(url, **thr)
    result = {
        "benchmark": "sync_facade",
        "quick": args.quick,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "python": platform.python_version(),
        "httpx": httpx.__version__,
        "anyio": anyio.__version__ if hasattr(anyio, "__version__") else "?",
        "uvloop": _has_uvloop(),
        "pinned": (os.cpu_count() or 1) >= 2 and bool(shutil.which("taskset")),
        "settings": {"sequential": seq, "throughput": thr},
        "sequential": sequential_result,
        "throughput_16_threads": throughput_result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"sequential create (median / p99 per call, ratio to raw httpx.Client), {args.out}")
    for name, row in sequential_result.items():
        ratios = ", ".join(f"{r:.2f}" for r in row["ratio_per_repeat"])
        print(
            f"  {name:<21} {row['median_us']:8.0f} us {row['p99_us']:8.0f} us"
            f"  {row['ratio']:.2f}x  (repeats: {ratios})"
        )
    print(f"{THREADS} threads sharing one client (requests/s)")
    for name, row in throughput_result.items():
        print(f"  {name:<21} {row['requests_per_s_median']:8.0f}  {row['ratio_to_raw']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
