"""Benchmark: polar_sdk against the floor of an HTTP/1.1 round trip in CPython (issue 15).

    python bench/bench_floor.py [--quick] [--label NAME] [--only latency,throughput,threads,memory]

The server is this script with `--serve PORT`: a plain `asyncio.Protocol` (on uvloop when it is
installed) pinned to core 0, answering with recorded Polar bodies, Content-Length and keep-alive:
POST /v1/customer-sessions/ -> 201 (bench/customer_session_201.json, 1.3 kB), GET
/v1/customers/ -> 200 (bench/customers_list_200.json, a 9-customer page, 6 kB) and PATCH
/v1/customers/{id} -> 200 (bench/customer_update_200.json, 0.7 kB); anything else 404.

Everything measured runs in this one process, pinned to core 1, in interleaved blocks whose
order rotates each round, after a warm-up:

- floor (async): an `asyncio.Protocol` client with a minimal Content-Length parser and
  `json.loads`, on asyncio and on uvloop -- a baseline, not SDK code: it trusts the server;
- floor (blocking): a raw socket client doing the same;
- polar_sdk: `AsyncPolar` `customer_sessions.create`, `customers.list` (first page) and
  `customers.update`, and the same three through the blocking `Polar` facade;
- polar_sdk[h11]: the same async calls with the SDK's httpcore/h11 transport (the fallback
  where httptools is not installed), when the checkout has one;
- raw httpx: `httpx.AsyncClient` / `httpx.Client` `post` + `json.loads`.

Per row (each block starts with a few untimed calls): median and p99 of per-call wall time,
the ratio of medians to the floor of the same request on the same loop, and client CPU per
call (`time.process_time()` over each block, so the blocking facade's loop thread counts).
Throughput: 20 and 200 concurrent tasks (a fixed number of calls, req/s) and 16 threads sharing
one client. Memory: RSS and live objects before and after many calls on one client. Results:
bench/results/<UTC>-floor-<label>.json and bench/results/floor-latest.md. The machine may be
shared: compare rows of one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import gc
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # measure the checkout

from _common import CUSTOMER_ID, TOKEN, percentile, response_body, rss_bytes  # noqa: E402

UPDATE_ID = "ce77e321-b744-407a-8c79-a7f29ece4c06"
UPDATE_FIELDS: dict[str, Any] = {
    "name": "Alpha Fixture Renamed",
    "metadata": {"plan": "enterprise", "seats": 10},
}
SESSION_PATH = "/v1/customer-sessions/"
LIST_PATH = "/v1/customers/"
UPDATE_PATH = f"/v1/customers/{UPDATE_ID}"
THREADS = 16


def _compact(name: str) -> bytes:
    data = json.loads((HERE / name).read_text(encoding="utf-8"))
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


# --------------------------------------------------------------------------------------
# server
# --------------------------------------------------------------------------------------


def _answer(status: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\ncache-control: private, no-store\r\n"
        b"polar-version: 2026-10\r\n\r\n" % len(body)
    ) + body


class _ServerProtocol(asyncio.Protocol):
    """One client connection: requests in, recorded answers out (keep-alive)."""

    answers: ClassVar[dict[tuple[bytes, bytes], bytes]] = {}
    not_found = _answer(b"404 Not Found", b'{"detail":"Not Found"}')

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        out: list[bytes] = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(buffer[:end])
            length = 0
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = lower.find(b"\r\n", at + 2)
                length = int(lower[at + 17 : stop if stop >= 0 else None])
            if len(buffer) < end + 4 + length:
                break
            del buffer[: end + 4 + length]
            method, target = head.split(b" ", 2)[:2]
            path = target.split(b"?", 1)[0]
            if path.startswith(b"/v1/customers/") and path != b"/v1/customers/":
                path = b"/v1/customers/{id}"
            out.append(self.answers.get((method, path), self.not_found))
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


def serve(port: int) -> None:
    """Answer like Polar until terminated."""
    _ServerProtocol.answers = {
        (b"POST", SESSION_PATH.encode()): _answer(b"201 Created", response_body()),
        (b"GET", LIST_PATH.encode()): _answer(b"200 OK", _compact("customers_list_200.json")),
        (b"PATCH", b"/v1/customers/{id}"): _answer(b"200 OK", _compact("customer_update_200.json")),
    }

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_ServerProtocol, "127.0.0.1", port, backlog=2048)
        async with server:
            await server.serve_forever()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


# --------------------------------------------------------------------------------------
# floors
# --------------------------------------------------------------------------------------


def _request_bytes(method: str, path: str, host: str, body: bytes | None) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"host: {host}",
        "accept: application/json",
        f"authorization: Bearer {TOKEN}",
        "polar-version: 2026-10",
    ]
    if body is not None:
        lines += ["content-type: application/json", f"content-length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def _split(buffer: bytearray) -> int:
    """The end of the first complete response in `buffer` (-1: not complete yet)."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return -1
    at = buffer.find(b"content-length:", 0, end)
    stop = buffer.find(b"\r\n", at)
    need = end + 4 + int(buffer[at + 15 : stop])
    return need if len(buffer) >= need else -1


class FloorProtocol(asyncio.Protocol):
    """The async floor: one keep-alive connection, a Content-Length parser, json.loads."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        need = _split(self.buffer)
        if need >= 0 and self.waiter is not None:
            body = bytes(self.buffer[self.buffer.find(b"\r\n\r\n") + 4 : need])
            del self.buffer[:need]
            self.waiter.set_result(body)
            self.waiter = None

    async def call(self, request: bytes) -> Any:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return json.loads(await self.waiter)


async def _floor_connect(port: int) -> FloorProtocol:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(FloorProtocol, "127.0.0.1", port)
    return protocol


class FloorSocket:
    """The blocking floor: a raw socket, the same parser, json.loads."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()

    def call(self, request: bytes) -> Any:
        self.sock.sendall(request)
        buffer = self.buffer
        while True:
            need = _split(buffer)
            if need >= 0:
                break
            buffer += self.sock.recv(262144)
        body = bytes(buffer[buffer.find(b"\r\n\r\n") + 4 : need])
        del buffer[:need]
        return json.loads(body)

    def close(self) -> None:
        self.sock.close()


# --------------------------------------------------------------------------------------
# clients
# --------------------------------------------------------------------------------------

AsyncCall = Callable[[], Awaitable[Any]]
SyncCall = Callable[[], Any]
OPS = ("create", "list", "update")


def _op_request(op: str, port: int) -> bytes:
    host = f"127.0.0.1:{port}"
    if op == "create":
        body = json.dumps({"customer_id": CUSTOMER_ID}).encode()
        return _request_bytes("POST", SESSION_PATH, host, body)
    if op == "list":
        return _request_bytes("GET", LIST_PATH, host, None)
    return _request_bytes("PATCH", UPDATE_PATH, host, json.dumps(UPDATE_FIELDS).encode())


@contextlib.contextmanager
def _env(name: str | None) -> Iterator[None]:
    if name is None:
        yield
        return
    os.environ[name] = "1"
    try:
        yield
    finally:
        del os.environ[name]


def _has_h11_switch() -> bool:
    from polar_sdk import _client

    return hasattr(_client, "H11_SWITCH")


async def _sdk_calls(base: str, env: str | None) -> tuple[dict[str, AsyncCall], Any]:
    import polar_sdk

    polar = polar_sdk.AsyncPolar(TOKEN, base_url=base)

    async def create() -> Any:
        return await polar.customer_sessions.create(customer_id=CUSTOMER_ID)

    async def list_page() -> Any:
        return await polar.customers.list()

    async def update() -> Any:
        return await polar.customers.update(UPDATE_ID, **UPDATE_FIELDS)

    with _env(env):
        await create()  # builds this loop's client now, under the switch
    return {"create": create, "list": list_page, "update": update}, polar


def _sync_sdk_calls(base: str) -> tuple[dict[str, SyncCall], Any]:
    import polar_sdk

    polar = polar_sdk.Polar(TOKEN, base_url=base)

    def create() -> Any:
        return polar.customer_sessions.create(customer_id=CUSTOMER_ID)

    def list_page() -> Any:
        return polar.customers.list()

    def update() -> Any:
        return polar.customers.update(UPDATE_ID, **UPDATE_FIELDS)

    return {"create": create, "list": list_page, "update": update}, polar


_RAW_HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Polar-Version": "2026-10",
    "Content-Type": "application/json",
    "Accept": "application/json",
}


def _new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _loops() -> list[str]:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return ["asyncio"]
    return ["asyncio", "uvloop"]


class Row:
    """One measured variant: its samples, its CPU per call, and what it is compared with."""

    def __init__(self, name: str, floor: str | None) -> None:
        self.name = name
        self.floor = floor
        self.samples: list[float] = []
        self.cpu: list[float] = []


WARM = 5
"""Untimed calls at the start of every block: the first call after another client's block (or
another event loop's) pays for cold caches, which is the switching, not the client."""


def _time_async(
    loop: asyncio.AbstractEventLoop, call: AsyncCall, n: int
) -> tuple[list[float], float]:
    async def block() -> tuple[list[float], float]:
        for _ in range(WARM):
            await call()
        out: list[float] = []
        clock = time.perf_counter
        c0 = time.process_time()
        for _ in range(n):
            t0 = clock()
            await call()
            out.append(clock() - t0)
        return out, (time.process_time() - c0) / n

    return loop.run_until_complete(block())


def _time_sync(call: SyncCall, n: int) -> tuple[list[float], float]:
    for _ in range(WARM):
        call()
    out: list[float] = []
    clock = time.perf_counter
    c0 = time.process_time()
    for _ in range(n):
        t0 = clock()
        call()
        out.append(clock() - t0)
    return out, (time.process_time() - c0) / n


# --------------------------------------------------------------------------------------
# latency
# --------------------------------------------------------------------------------------


def latency(
    port: int, block: int, rounds: int, repeats: int, rows: list[str] | None = None
) -> dict[str, Any]:
    import httpx

    base = f"http://127.0.0.1:{port}"
    loops = {kind: _new_loop(kind) for kind in _loops()}
    runners: list[tuple[Row, Callable[[int], tuple[list[float], float]]]] = []
    closers: list[Callable[[], None]] = []
    h11 = _has_h11_switch()
    for kind, loop in loops.items():
        floor = loop.run_until_complete(_floor_connect(port))
        for op in OPS:
            request = _op_request(op, port)
            row = Row(f"floor/{kind}/{op}", None)
            runners.append(
                (row, lambda n, lp=loop, f=floor, r=request: _time_async(lp, lambda: f.call(r), n))
            )
        variants = [("polar_sdk", None)]
        if h11:
            variants.append(("polar_sdk[h11]", "POLAR_SDK_H11_TRANSPORT"))
        for label, env in variants:
            calls, client = loop.run_until_complete(_sdk_calls(base, env))
            for op in OPS:
                row = Row(f"{label}/{kind}/{op}", f"floor/{kind}/{op}")
                runners.append((row, lambda n, lp=loop, c=calls[op]: _time_async(lp, c, n)))
            closers.append(lambda lp=loop, c=client: lp.run_until_complete(c.aclose()))
        raw = httpx.AsyncClient()
        url = base + SESSION_PATH
        content = json.dumps({"customer_id": CUSTOMER_ID}).encode()

        async def raw_call(
            raw: httpx.AsyncClient = raw, url: str = url, content: bytes = content
        ) -> Any:
            response = await raw.post(url, content=content, headers=_RAW_HEADERS)
            return json.loads(response.content)

        row = Row(f"httpx/{kind}/create", f"floor/{kind}/create")
        runners.append((row, lambda n, lp=loop, c=raw_call: _time_async(lp, c, n)))
        closers.append(lambda lp=loop, c=raw: lp.run_until_complete(c.aclose()))

    sock = FloorSocket(port)
    closers.append(sock.close)
    for op in OPS:
        request = _op_request(op, port)
        row = Row(f"floor/blocking/{op}", None)
        runners.append((row, lambda n, r=request: _time_sync(lambda: sock.call(r), n)))
    sync_calls, polar = _sync_sdk_calls(base)
    closers.append(polar.close)
    for op in OPS:
        row = Row(f"polar_sdk/blocking/{op}", f"floor/blocking/{op}")
        runners.append((row, lambda n, c=sync_calls[op]: _time_sync(c, n)))
    sync_raw = httpx.Client()
    closers.append(sync_raw.close)
    content = json.dumps({"customer_id": CUSTOMER_ID}).encode()

    def sync_raw_call() -> Any:
        return json.loads(
            sync_raw.post(base + SESSION_PATH, content=content, headers=_RAW_HEADERS).content
        )

    runners.append(
        (
            Row("httpx/blocking/create", "floor/blocking/create"),
            lambda n: _time_sync(sync_raw_call, n),
        )
    )

    if rows:  # a subset, for quick looks while working; floors of kept rows stay
        keep = {row.name for row, _ in runners if any(r in row.name for r in rows)}
        keep |= {row.floor for row, _ in runners if row.name in keep and row.floor}
        runners = [(row, run) for row, run in runners if row.name in keep]
    for _, run in runners:  # warm-up
        run(max(block // 2, 50))
    per_repeat: list[dict[str, float]] = []
    for repeat in range(repeats):
        medians: dict[str, list[float]] = {}
        for r in range(rounds):
            shift = (r + repeat * rounds) % len(runners)
            for row, run in runners[shift:] + runners[:shift]:
                samples, cpu = run(block)
                row.samples += samples
                row.cpu.append(cpu)
                medians.setdefault(row.name, []).extend(samples)
        per_repeat.append({name: statistics.median(v) for name, v in medians.items()})
    for close in closers:
        with contextlib.suppress(Exception):
            close()
    for loop in loops.values():
        loop.close()

    rows: dict[str, Any] = {}
    by_name = {row.name: row for row, _ in runners}
    for row, _ in runners:
        median = statistics.median(row.samples)
        entry: dict[str, Any] = {
            "median_us": median * 1e6,
            "p99_us": percentile(row.samples, 99) * 1e6,
            "cpu_us": statistics.median(row.cpu) * 1e6,
            "n": len(row.samples),
        }
        if row.floor is not None:
            floor = by_name[row.floor]
            entry["ratio"] = median / statistics.median(floor.samples)
            entry["cpu_ratio"] = statistics.median(row.cpu) / statistics.median(floor.cpu)
            ratios = [rep[row.name] / rep[row.floor] for rep in per_repeat]
            entry["spread"] = [min(ratios), max(ratios)]
        rows[row.name] = entry
    return rows


# --------------------------------------------------------------------------------------
# throughput
# --------------------------------------------------------------------------------------


async def _burst(call: AsyncCall, tasks: int, total: int) -> float:
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return total / (time.perf_counter() - t0)


async def _floor_pool(port: int, size: int) -> AsyncCall:
    queue: asyncio.Queue[FloorProtocol] = asyncio.Queue()
    for _ in range(size):
        queue.put_nowait(await _floor_connect(port))
    request = _op_request("create", port)

    async def call() -> Any:
        protocol = await queue.get()
        try:
            return await protocol.call(request)
        finally:
            queue.put_nowait(protocol)

    return call


def throughput(port: int, total: int, repeats: int) -> dict[str, Any]:
    import httpx

    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {}
    for kind in _loops():
        loop = _new_loop(kind)
        for tasks in (20, 200):
            variants: list[tuple[str, AsyncCall]] = []
            # The floor gets one connection per task, up to httpx's default pool size (100).
            variants.append(("floor", loop.run_until_complete(_floor_pool(port, min(tasks, 100)))))
            sdk, client = loop.run_until_complete(_sdk_calls(base, None))
            variants.append(("polar_sdk", sdk["create"]))
            closers = [client]
            if _has_h11_switch():
                sdk_h11, client_h11 = loop.run_until_complete(
                    _sdk_calls(base, "POLAR_SDK_H11_TRANSPORT")
                )
                variants.append(("polar_sdk[h11]", sdk_h11["create"]))
                closers.append(client_h11)
            raw = httpx.AsyncClient()
            content = json.dumps({"customer_id": CUSTOMER_ID}).encode()

            async def raw_call(raw: httpx.AsyncClient = raw, content: bytes = content) -> Any:
                response = await raw.post(
                    base + SESSION_PATH, content=content, headers=_RAW_HEADERS
                )
                return json.loads(response.content)

            variants.append(("httpx", raw_call))
            for _, call in variants:  # warm-up: open the connections
                loop.run_until_complete(_burst(call, tasks, tasks * 2))
            rates: dict[str, list[float]] = {name: [] for name, _ in variants}
            cpus: dict[str, list[float]] = {name: [] for name, _ in variants}
            for repeat in range(repeats):
                shift = repeat % len(variants)
                for name, call in variants[shift:] + variants[:shift]:
                    c0 = time.process_time()
                    rates[name].append(loop.run_until_complete(_burst(call, tasks, total)))
                    cpus[name].append((time.process_time() - c0) / total)
            for name in rates:
                results[f"{name}/{kind}/{tasks} tasks"] = {
                    "rps": statistics.median(rates[name]),
                    "cpu_us": statistics.median(cpus[name]) * 1e6,
                }
            for c in closers:
                loop.run_until_complete(c.aclose())
            loop.run_until_complete(raw.aclose())
        loop.close()
    return results


def threads(port: int, total: int, repeats: int) -> dict[str, Any]:
    import httpx

    base = f"http://127.0.0.1:{port}"
    sync_calls, polar = _sync_sdk_calls(base)
    raw = httpx.Client(limits=httpx.Limits(max_connections=THREADS))
    content = json.dumps({"customer_id": CUSTOMER_ID}).encode()
    request = _op_request("create", port)
    sockets = [FloorSocket(port) for _ in range(THREADS)]

    def run(make: Callable[[int], SyncCall]) -> float:
        per = total // THREADS
        barrier = threading.Barrier(THREADS + 1)

        def worker(i: int) -> None:
            call = make(i)
            barrier.wait()
            for _ in range(per):
                call()

        workers = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        for w in workers:
            w.start()
        barrier.wait()
        t0 = time.perf_counter()
        for w in workers:
            w.join()
        return per * THREADS / (time.perf_counter() - t0)

    variants: list[tuple[str, Callable[[int], SyncCall]]] = [
        ("floor", lambda i: lambda: sockets[i].call(request)),
        ("polar_sdk", lambda i: sync_calls["create"]),
        (
            "httpx",
            lambda i: (
                lambda: json.loads(
                    raw.post(base + SESSION_PATH, content=content, headers=_RAW_HEADERS).content
                )
            ),
        ),
    ]
    for _, make in variants:
        run(make)
    rates: dict[str, list[float]] = {name: [] for name, _ in variants}
    for repeat in range(repeats):
        shift = repeat % len(variants)
        for name, make in variants[shift:] + variants[:shift]:
            rates[name].append(run(make))
    polar.close()
    raw.close()
    for s in sockets:
        s.close()
    return {f"{name}/{THREADS} threads": {"rps": statistics.median(v)} for name, v in rates.items()}


# --------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------


def memory(port: int, calls: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {}
    for kind in _loops():
        loop = _new_loop(kind)
        sdk, client = loop.run_until_complete(_sdk_calls(base, None))

        async def many(n: int, call: AsyncCall = sdk["create"]) -> None:
            for _ in range(n):
                await call()

        loop.run_until_complete(many(5000))
        gc.collect()
        rss0, objects0 = rss_bytes(), len(gc.get_objects())
        loop.run_until_complete(many(calls))
        gc.collect()
        out[f"polar_sdk/{kind}"] = {
            "calls": calls,
            "rss_growth_kb": (rss_bytes() - rss0) / 1024,
            "object_growth": len(gc.get_objects()) - objects0,
        }
        loop.run_until_complete(client.aclose())
        loop.close()
    sync_calls, polar = _sync_sdk_calls(base)
    for _ in range(5000):
        sync_calls["create"]()
    gc.collect()
    rss0, objects0 = rss_bytes(), len(gc.get_objects())
    for _ in range(calls):
        sync_calls["create"]()
    gc.collect()
    out["polar_sdk/blocking"] = {
        "calls": calls,
        "rss_growth_kb": (rss_bytes() - rss0) / 1024,
        "object_growth": len(gc.get_objects()) - objects0,
    }
    polar.close()
    return out


# --------------------------------------------------------------------------------------
# parsers
# --------------------------------------------------------------------------------------


def parsers(repeats: int = 5, n: int = 20000) -> dict[str, Any]:
    """Parse cost per response (status, headers, body; no I/O): h11 against httptools."""
    import h11
    import httptools

    bodies = {
        "create 201 (1.3 kB)": _answer(b"201 Created", response_body()),
        "list 200 (6 kB)": _answer(b"200 OK", _compact("customers_list_200.json")),
    }
    out: dict[str, Any] = {}
    for label, wire in bodies.items():

        def with_h11(wire: bytes = wire) -> None:
            conn = h11.Connection(h11.CLIENT)
            for _ in range(n):
                conn.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
                conn.send(h11.EndOfMessage())
                conn.receive_data(wire)
                body = []
                while True:
                    event = conn.next_event()
                    if isinstance(event, h11.Data):
                        body.append(event.data)
                    elif isinstance(event, h11.EndOfMessage):
                        break
                conn.start_next_cycle()

        class Sink:
            def __init__(self) -> None:
                self.headers: list[tuple[bytes, bytes]] = []
                self.body: list[bytes] = []
                self.done = False

            def on_header(self, name: bytes, value: bytes) -> None:
                self.headers.append((name, value))

            def on_body(self, body: bytes) -> None:
                self.body.append(body)

            def on_message_complete(self) -> None:
                self.done = True

        def with_httptools(wire: bytes = wire) -> None:
            for _ in range(n):
                sink = Sink()
                parser = httptools.HttpResponseParser(sink)
                parser.feed_data(wire)
                parser.get_status_code()
                assert sink.done

        for name, fn in (
            ("h11 (request events + parse, as httpcore drives it)", with_h11),
            ("httptools (parse)", with_httptools),
        ):
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) / n * 1e6)
            out[f"{name}/{label}"] = {"us": statistics.median(times)}
    return out


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------


def table(result: dict[str, Any]) -> str:
    lines: list[str] = []
    rows = result.get("latency")
    if rows:
        lines += [
            "| row | median µs | p99 µs | p99/median | ratio to floor (spread) "
            "| CPU µs/call | CPU ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, e in rows.items():
            ratio = (
                f"{e['ratio']:.2f}x ({e['spread'][0]:.2f}-{e['spread'][1]:.2f})"
                if "ratio" in e
                else "1.00 (floor)"
            )
            cpu_ratio = f"{e['cpu_ratio']:.2f}x" if "cpu_ratio" in e else ""
            lines.append(
                f"| {name} | {e['median_us']:.0f} | {e['p99_us']:.0f} | "
                f"{e['p99_us'] / e['median_us']:.2f} | {ratio} | {e['cpu_us']:.0f} | {cpu_ratio} |"
            )
    for key in ("throughput", "threads"):
        part = result.get(key)
        if part:
            lines += ["", "| throughput | req/s | CPU µs/call |", "|---|---|---|"]
            for name, e in part.items():
                cpu = f"{e['cpu_us']:.0f}" if "cpu_us" in e else ""
                lines.append(f"| {name} | {e['rps']:.0f} | {cpu} |")
    part = result.get("parsers")
    if part:
        lines += ["", "| parse one response | µs |", "|---|---|"]
        for name, e in part.items():
            lines.append(f"| {name} | {e['us']:.1f} |")
    part = result.get("memory")
    if part:
        lines += [
            "",
            "| memory | calls | RSS growth kB | live objects growth |",
            "|---|---|---|---|",
        ]
        for name, e in part.items():
            lines.append(
                f"| {name} | {e['calls']} | {e['rss_growth_kb']:.0f} | {e['object_growth']} |"
            )
    return "\n".join(lines)


def compare(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Two runs side by side: each row's median, p99, ratio to its floor and CPU per call."""
    lines = [
        "| row | before: median / p99 µs | ratio | CPU µs (ratio) "
        "| after: median / p99 µs | ratio | CPU µs (ratio) |",
        "|---|---|---|---|---|---|---|",
    ]

    def cells(entry: dict[str, Any] | None) -> str:
        if entry is None:
            return " | | "
        ratio = f"{entry['ratio']:.2f}x" if "ratio" in entry else "1.00"
        cpu = f"{entry['cpu_us']:.0f}"
        if "cpu_ratio" in entry:
            cpu += f" ({entry['cpu_ratio']:.2f}x)"
        return f"{entry['median_us']:.0f} / {entry['p99_us']:.0f} | {ratio} | {cpu}"

    old_rows = before.get("latency", {})
    new_rows = after.get("latency", {})
    for name in list(new_rows) + [n for n in old_rows if n not in new_rows]:
        lines.append(f"| {name} | {cells(old_rows.get(name))} | {cells(new_rows.get(name))} |")
    for key in ("throughput", "threads"):
        old_part, new_part = before.get(key, {}), after.get(key, {})
        if not (old_part or new_part):
            continue
        lines += [
            "",
            "| throughput | before req/s | after req/s | after/before |",
            "|---|---|---|---|",
        ]
        for name in new_part:
            old_rps = old_part.get(name, {}).get("rps")
            new_rps = new_part[name]["rps"]
            gain = f"{new_rps / old_rps:.2f}x" if old_rps else ""
            old_text = f"{old_rps:.0f}" if old_rps else ""
            lines.append(f"| {name} | {old_text} | {new_rps:.0f} | {gain} |")
    return "\n".join(lines)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _start_server(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(port)]
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        command = ["taskset", "-c", "0", *command]
    server = subprocess.Popen(command)
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
            return server
        time.sleep(0.05)
    server.kill()
    raise SystemExit("the floor server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--serve", type=int)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--label", default="run")
    parser.add_argument("--only", default="latency,throughput,threads,parsers,memory")
    parser.add_argument("--memory-calls", type=int)
    parser.add_argument("--rows", help="latency rows containing any of these (comma-separated)")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        runs = [json.loads(Path(name).read_text(encoding="utf-8")) for name in args.compare]
        print(compare(*runs))
        return
    if args.serve:
        serve(args.serve)
        return
    if (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1})
    only = set(args.only.split(","))
    port = _free_port()
    server = _start_server(port)
    result: dict[str, Any] = {
        "label": args.label,
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
        ).stdout.strip(),
        "quick": args.quick,
    }
    try:
        if "latency" in only:
            block, rounds = (100, 3) if args.quick else (200, 5)
            rows = args.rows.split(",") if args.rows else None
            result["latency"] = latency(port, block, rounds, 3, rows)
        if "throughput" in only:
            result["throughput"] = throughput(port, 1000 if args.quick else 4000, 3)
        if "threads" in only:
            result["threads"] = threads(port, 1600 if args.quick else 6400, 3)
        if "parsers" in only:
            result["parsers"] = parsers()
        if "memory" in only:
            calls = args.memory_calls or (10_000 if args.quick else 100_000)
            result["memory"] = memory(port, calls)
    finally:
        server.terminate()
        server.wait(timeout=10)
    out = HERE / "results" / f"{result['when']}-floor-{args.label}.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    text = table(result)
    (HERE / "results" / "floor-latest.md").write_text(
        f"{result['when']} {args.label} (commit {result['commit']})\n\n{text}\n", encoding="utf-8"
    )
    print(text)
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
