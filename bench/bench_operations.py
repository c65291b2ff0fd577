"""Benchmarks of the generated operations (issue 11, "Speed"): construction, first call, per-call
overhead of a POST, a GET list page and a PATCH, and pagination, as ratios measured in one run.

    nox -s bench_operations                 # full run, under 10 minutes
    nox -s bench_operations -- --quick      # smaller samples, under 2 minutes

or, in a venv holding the project's dependencies, uvicorn, httptools, uvloop and polar-sdk 1.0.2
(not the project itself: it is imported from the checkout through PYTHONPATH):

    PYTHONPATH=. python bench/bench_operations.py [--quick] [--sdk-ref HEAD]
        [--only construct,firstcall,latency,pages]

The pre-operations package ("today", commit 7d89857 by default, `--base-ref`) is exported with
`git archive` into a temporary folder and imported from there (it is also `polar_sdk`: in
processes of its own, or under another name next to ours); `--base-sdk DIR` uses a folder that
already holds it. polar-sdk 1.0.2 imports as `polar` and shares the process with ours. Ours is
the checkout's working tree, or with `--sdk-ref REF` a commit exported the same way (a fixed
snapshot while others edit the tree).

Method (../shared/GUIDE.md section 4):

- **Server**: a bare ASGI app on uvicorn (httptools, no logging) started by this script
  (`serve PORT`), pinned to core 0 with `taskset`; every measuring process is pinned to core 1.
  It answers `POST /v1/customer-sessions/` 201 with bench/customer_session_201.json,
  `GET /v1/customers/{id}` 200 and `PATCH /v1/customers/{id}` 200 with recorded customers
  (customers/get_200_after_update.json, customers/update_200_name_metadata.json), and
  `GET /v1/customers/?page=P&limit=L` with page P of 1,000 customers: the 14 distinct
  customers of the recorded customers/list_200_*.json answers, in order, repeated with new ids
  (so `limit=10` is a page of 10 real customers; `total_count` 1000, `max_page` 1000/L).
- **Construction**: fresh processes (interleaved, rotated): after the import, the first
  `AsyncPolar(...)`/`Polar(...)` and the median of the following constructions; today's
  package (7d89857) in the same rotation; polar-sdk 1.0.2 for context.
- **First call**: fresh processes: import, construct, time `polar.customers` (first attribute
  access, which imports the resource module) and the first `await polar.customers.get(id)`,
  then 30 more gets; "call part" = first get - median later get (the round trip). Also with
  the client already warmed by one `customer_sessions.create` (connection and HTTP client
  exist; what is left is the resource's own first use), and the first create on a cold client
  for today's package and ours.
- **Per call**: one process per flavour and repeat (5 repeats, 3 in `--quick`) holds raw httpx,
  polar_sdk, today's package (imported from its folder as `polar_sdk_base`, see `import_base`)
  and polar-sdk 1.0.2; blocks of calls for each (operation, client) pair are interleaved and the
  order of operations and of clients rotates each round, after a warm-up. Raw httpx does the
  request and `json.loads`, the SDKs return their models (the list returns a page). Today's
  package has `customer_sessions.create` only. Ratio = median of all calls / median of raw's
  calls; spread = lowest and highest per-process ratio.
- **Pagination**: 1,000 customers, 10 pages of 100: `async for c in polar.customers.list(...)`
  against 1.0.2's `iter_list(...)` and a raw httpx loop (get + json.loads per page), the same
  query on the wire (`page`, `limit=100`, `sorting=-created_at`, which 1.0.2 always sends);
  one sample is a whole walk; blocks interleaved and rotated, 3 repeats.

Writes bench/results/<UTC time>-operations-<quick|full>.json (every summary, the machine, the
commit, the load average and the busiest other processes before and after) and prints the
markdown table with the verdicts.
`profile --op list|create|update|get --calls N` prints a cProfile of N sequential async calls.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _common import CUSTOMER_ID, TOKEN, emit, percentile, response_body, summary

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
FIXTURES = Path(os.environ.get("POLAR_FIXTURES_DIR", ROOT.parent / "shared" / "polar-fixtures"))
CUSTOMERS = FIXTURES / "api" / "customers"

SESSIONS_PATH = "/v1/customer-sessions/"
LIST_PATH = "/v1/customers/"
ITEM_ID = "ce77e321-b744-407a-8c79-a7f29ece4c06"  # the customer of the recorded get and update
ITEM_PATH = f"/v1/customers/{ITEM_ID}"
NEW_NAME = "Alpha Fixture Renamed"  # as in customers/update_200_name_metadata.json
TOTAL_CUSTOMERS = 1000
PAGE_LIMIT = 100

RAW = "raw-httpx"
OURS = "polar_sdk"
PEER = "polar-sdk 1.0.2"
BASE = "polar_sdk@base"  # renamed to polar_sdk@<ref> in the report
BASE_MODULE = "polar_sdk_base"  # today's package, imported under this name next to ours


def import_base(root: str) -> Any:
    """Today's `polar_sdk` (in `root`) imported as `polar_sdk_base`, next to ours in one process.

    Its modules import each other relatively (and the models' lazy loader by `__name__`), so
    the copy is self-contained; neither package patches httpx or httpcore globals.
    """
    import importlib.util

    if BASE_MODULE in sys.modules:
        return sys.modules[BASE_MODULE]
    package = Path(root) / "polar_sdk"
    spec = importlib.util.spec_from_file_location(
        BASE_MODULE, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[BASE_MODULE] = module
    spec.loader.exec_module(module)
    return module


TARGETS = {
    "async create": 0.72 * 1.10,  # today's 0.72x raw httpx.AsyncClient, within 10%
    "sync create": 1.23 * 1.10,  # today's 1.23x raw httpx.Client, within 10%
    "first_call_ms": 5.0,
    "pages": 0.7,  # wall time to 1.0.2's iter_list, at most
}

CREATE_BODY = json.dumps({"customer_id": CUSTOMER_ID}).encode()
UPDATE_BODY = json.dumps({"name": NEW_NAME}).encode()
RAW_HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Polar-Version": "2026-10",
    "Accept": "application/json",
}
RAW_JSON_HEADERS = {**RAW_HEADERS, "Content-Type": "application/json"}
SORTING = "-created_at"

# --- the server ---------------------------------------------------------------------------------


def _compact(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _recorded(name: str) -> Any:
    return json.loads((CUSTOMERS / name).read_text(encoding="utf-8"))["response"]["body"]


def customer_pool() -> list[dict[str, Any]]:
    """1,000 customers: the distinct ones of the recorded list answers, repeated with new ids."""
    distinct: dict[str, dict[str, Any]] = {}
    for path in sorted(CUSTOMERS.glob("list_200_*.json")):
        for item in json.loads(path.read_text(encoding="utf-8"))["response"]["body"]["items"]:
            distinct.setdefault(item["id"], item)
    real = sorted(distinct.values(), key=lambda c: c["created_at"], reverse=True)
    if len(real) < 10:
        raise SystemExit(f"need at least 10 distinct recorded customers, found {len(real)}")
    pool = []
    for index in range(TOTAL_CUSTOMERS):
        item = dict(real[index % len(real)])
        if index >= len(real):
            item["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-customer-{index}"))
        pool.append(item)
    return pool


def make_app() -> Callable[..., Awaitable[None]]:
    pool = customer_pool()
    session = response_body()
    got = _compact(_recorded("get_200_after_update.json"))
    updated = _compact(_recorded("update_200_name_metadata.json"))
    pages: dict[tuple[int, int], bytes] = {}

    def page_body(page: int, limit: int) -> bytes:
        body = pages.get((page, limit))
        if body is None:
            items = pool[(page - 1) * limit : page * limit]
            pagination = {
                "total_count": len(pool),
                "max_page": math.ceil(len(pool) / limit),
            }
            body = pages[(page, limit)] = _compact({"items": items, "pagination": pagination})
        return body

    def headers(body: bytes) -> list[tuple[bytes, bytes]]:
        return [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"private, no-store"),
            (b"polar-version", b"2026-10"),
        ]

    not_found = b'{"detail":"Not Found"}'

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        method, path = scope["method"], scope["path"]
        status, body = 404, not_found
        if method == "POST" and path == SESSIONS_PATH:
            status, body = 201, session
        elif method == "GET" and path == LIST_PATH:
            page, limit = 1, 10
            for pair in scope["query_string"].decode().split("&"):
                key, _, value = pair.partition("=")
                if key == "page":
                    page = int(value)
                elif key == "limit":
                    limit = int(value)
            status, body = 200, page_body(page, limit)
        elif path.startswith(LIST_PATH) and method in ("GET", "PATCH"):
            status, body = 200, (got if method == "GET" else updated)
        await send({"type": "http.response.start", "status": status, "headers": headers(body)})
        await send({"type": "http.response.body", "body": body})

    return app


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(
        make_app(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        backlog=2048,
    )


# --- clients ------------------------------------------------------------------------------------
# make_async / make_sync give {operation: call} for one client; every call returns the decoded
# answer (raw httpx pays json.loads as the SDKs pay their decoding).

OPS = ("create", "list", "update")


def _expect(response: Any, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"unexpected status {response.status_code}")
    return json.loads(response.content)


async def make_async(name: str, base: str) -> tuple[dict[str, Callable[[], Any]], Any]:
    """(calls by operation, close) for an async client."""
    if name == RAW:
        import httpx

        raw = httpx.AsyncClient()
        create_url, list_url = base + SESSIONS_PATH, base + LIST_PATH + "?limit=10"
        item_url = base + ITEM_PATH

        async def create() -> Any:
            return _expect(
                await raw.post(create_url, content=CREATE_BODY, headers=RAW_JSON_HEADERS), 201
            )

        async def list_() -> Any:
            return _expect(await raw.get(list_url, headers=RAW_HEADERS), 200)

        async def update() -> Any:
            return _expect(
                await raw.patch(item_url, content=UPDATE_BODY, headers=RAW_JSON_HEADERS), 200
            )

        return {"create": create, "list": list_, "update": update}, raw.aclose
    if name in (OURS, BASE):
        import polar_sdk

        package = import_base(BASE_DIR[0]) if name == BASE else polar_sdk
        ours = package.AsyncPolar(TOKEN, base_url=base)
        calls: dict[str, Callable[[], Any]] = {
            "create": lambda: ours.customer_sessions.create(customer_id=CUSTOMER_ID)
        }
        if name == OURS:

            async def ours_list() -> Any:
                return await ours.customers.list(limit=10)

            calls["list"] = ours_list
            calls["update"] = lambda: ours.customers.update(ITEM_ID, name=NEW_NAME)
        return calls, ours.aclose
    if name == PEER:
        from polar.v2026_10 import PolarAsync

        peer = PolarAsync(TOKEN, base_url=base)
        await peer.__aenter__()

        async def peer_close() -> None:
            await peer.__aexit__(None, None, None)

        return {
            "create": lambda: peer.customer_sessions.create(customer_id=CUSTOMER_ID),
            "list": lambda: peer.customers.list(limit=10),
            "update": lambda: peer.customers.update(ITEM_ID, name=NEW_NAME),
        }, peer_close
    raise SystemExit(f"unknown client {name!r}")


def make_sync(name: str, base: str) -> tuple[dict[str, Callable[[], Any]], Callable[[], Any]]:
    """(calls by operation, close) for a blocking client."""
    if name == RAW:
        import httpx

        raw = httpx.Client()
        create_url, list_url = base + SESSIONS_PATH, base + LIST_PATH + "?limit=10"
        item_url = base + ITEM_PATH
        return {
            "create": lambda: _expect(
                raw.post(create_url, content=CREATE_BODY, headers=RAW_JSON_HEADERS), 201
            ),
            "list": lambda: _expect(raw.get(list_url, headers=RAW_HEADERS), 200),
            "update": lambda: _expect(
                raw.patch(item_url, content=UPDATE_BODY, headers=RAW_JSON_HEADERS), 200
            ),
        }, raw.close
    if name in (OURS, BASE):
        import polar_sdk

        package = import_base(BASE_DIR[0]) if name == BASE else polar_sdk
        ours = package.Polar(TOKEN, base_url=base)
        calls: dict[str, Callable[[], Any]] = {
            "create": lambda: ours.customer_sessions.create(customer_id=CUSTOMER_ID)
        }
        if name == OURS:
            calls["list"] = lambda: ours.customers.list(limit=10)
            calls["update"] = lambda: ours.customers.update(ITEM_ID, name=NEW_NAME)
        return calls, ours.close
    if name == PEER:
        from polar.v2026_10 import Polar as PeerPolar

        peer = PeerPolar(TOKEN, base_url=base)
        return {
            "create": lambda: peer.customer_sessions.create(customer_id=CUSTOMER_ID),
            "list": lambda: peer.customers.list(limit=10),
            "update": lambda: peer.customers.update(ITEM_ID, name=NEW_NAME),
        }, lambda: peer.__exit__(None, None, None)
    raise SystemExit(f"unknown client {name!r}")


def check_result(op: str, value: Any) -> None:
    """The answer each call must give (guards against measuring an error path)."""
    if op == "list":
        items = value["items"] if isinstance(value, dict) else value.items
        if len(items) != 10:
            raise SystemExit(f"list gave {len(items)} items, expected 10")
    elif op == "update":
        name = value["name"] if isinstance(value, dict) else value.name
        if not name:
            raise SystemExit("update gave no name")
    elif op == "create":
        token = value["token"] if isinstance(value, dict) else value.token
        if not token:
            raise SystemExit("create gave no token")


BASE_DIR: list[str] = []
"""Where today's package is, for a process that holds it next to ours (`--base-dir`)."""


def identity(names: list[str], expect_dir: str | None) -> dict[str, str]:
    """Which files the measured packages come from (guards against the two `polar_sdk`s)."""
    found: dict[str, str] = {}
    if BASE_MODULE in sys.modules:
        found[BASE] = sys.modules[BASE_MODULE].__file__ or "?"
        if not found[BASE].startswith(BASE_DIR[0]):
            raise SystemExit(f"wrong {BASE}: {found[BASE]}")
    if OURS in names or BASE in names:
        import polar_sdk

        found["polar_sdk"] = polar_sdk.__file__ or "?"
        if expect_dir and not found["polar_sdk"].startswith(expect_dir):
            raise SystemExit(f"wrong polar_sdk: {found['polar_sdk']} (expected under {expect_dir})")
    if PEER in names:
        import polar

        found["polar"] = f"{polar.__version__} at {polar.__file__}"
    return found


def rotate(names: list[str], shift: int) -> list[str]:
    """A B C, then B C A, ...: no client always runs first or last."""
    shift %= len(names)
    return names[shift:] + names[:shift]


# --- per-call latency ---------------------------------------------------------------------------


def latency(args: argparse.Namespace) -> dict[str, Any]:
    """Interleaved blocks of (operation, client) pairs; per-repeat medians and all samples."""
    ops = [op for op in args.ops if op]
    impls = args.impls
    pairs: dict[str, list[str]] = {}  # op -> clients that have it
    clock = time.perf_counter_ns
    samples: dict[str, dict[str, list[float]]] = {}
    per_repeat: dict[str, dict[str, list[float]]] = {}

    def record(op: str, name: str, values: list[float], repeat_values: dict[str, Any]) -> None:
        samples.setdefault(op, {}).setdefault(name, []).extend(values)
        repeat_values.setdefault(op, {}).setdefault(name, []).extend(values)

    def finish_repeat(repeat_values: dict[str, dict[str, list[float]]]) -> None:
        for op, by_name in repeat_values.items():
            for name, values in by_name.items():
                per_repeat.setdefault(op, {}).setdefault(name, []).append(statistics.median(values))

    if args.flavour == "async":

        async def run() -> None:
            clients = {n: await make_async(n, args.base) for n in impls}
            for op in ops:
                pairs[op] = [n for n in impls if op in clients[n][0]]
            for op in ops:
                for name in pairs[op]:
                    call = clients[name][0][op]
                    check_result(op, await call())
                    for _ in range(args.warmup):
                        await call()
            for repeat in range(args.repeats):
                this: dict[str, dict[str, list[float]]] = {}
                for round_index in range(args.rounds):
                    for op in rotate(ops, round_index + repeat):
                        for name in rotate(pairs[op], round_index + repeat):
                            call = clients[name][0][op]
                            bucket = []
                            for _ in range(args.block):
                                started = clock()
                                await call()
                                bucket.append((clock() - started) / 1000)
                            record(op, name, bucket, this)
                finish_repeat(this)
            for _, close in clients.values():
                await close()

        asyncio.run(run())
    else:
        clients = {n: make_sync(n, args.base) for n in impls}
        for op in ops:
            pairs[op] = [n for n in impls if op in clients[n][0]]
        for op in ops:
            for name in pairs[op]:
                call = clients[name][0][op]
                check_result(op, call())
                for _ in range(args.warmup):
                    call()
        for repeat in range(args.repeats):
            this = {}
            for round_index in range(args.rounds):
                for op in rotate(ops, round_index + repeat):
                    for name in rotate(pairs[op], round_index + repeat):
                        call = clients[name][0][op]
                        bucket = []
                        for _ in range(args.block):
                            started = clock()
                            call()
                            bucket.append((clock() - started) / 1000)
                        record(op, name, bucket, this)
            finish_repeat(this)
        for _, close in clients.values():
            close()
    return {
        "samples": {op: {n: summary(v) for n, v in d.items()} for op, d in samples.items()},
        "raw_us": {op: dict(d) for op, d in samples.items()},
        "repeat_medians": per_repeat,
    }


# --- pagination ---------------------------------------------------------------------------------


def pages(args: argparse.Namespace) -> dict[str, Any]:
    """Whole walks over the 1,000 customers, interleaved blocks per client, in ms per walk."""
    impls = args.impls
    clock = time.perf_counter_ns
    walks: dict[str, list[float]] = {n: [] for n in impls}
    per_repeat: dict[str, list[float]] = {n: [] for n in impls}

    def query(page: int) -> str:
        return f"?page={page}&limit={PAGE_LIMIT}&sorting={SORTING}"

    if args.flavour == "async":

        async def run() -> None:
            import httpx

            walkers: dict[str, Callable[[], Awaitable[int]]] = {}
            closers = []
            if RAW in impls:
                raw = httpx.AsyncClient()
                url = args.base + LIST_PATH
                closers.append(raw.aclose)

                async def raw_walk() -> int:
                    count, page = 0, 1
                    while True:
                        data = _expect(await raw.get(url + query(page), headers=RAW_HEADERS), 200)
                        for _ in data["items"]:
                            count += 1
                        if page >= data["pagination"]["max_page"]:
                            return count
                        page += 1

                walkers[RAW] = raw_walk
            if OURS in impls:
                import polar_sdk

                ours = polar_sdk.AsyncPolar(TOKEN, base_url=args.base)
                closers.append(ours.aclose)

                async def ours_walk() -> int:
                    count = 0
                    async for _ in ours.customers.list(limit=PAGE_LIMIT, sorting=[SORTING]):
                        count += 1
                    return count

                walkers[OURS] = ours_walk
            if PEER in impls:
                from polar.v2026_10 import PolarAsync

                peer = PolarAsync(TOKEN, base_url=args.base)
                await peer.__aenter__()
                closers.append(lambda: peer.__aexit__(None, None, None))

                async def peer_walk() -> int:
                    count = 0
                    async for _ in peer.customers.iter_list(limit=PAGE_LIMIT):
                        count += 1
                    return count

                walkers[PEER] = peer_walk
            for name, walk in walkers.items():
                for _ in range(args.warmup):
                    if (got := await walk()) != TOTAL_CUSTOMERS:
                        raise SystemExit(f"{name} walked {got} customers")
            for repeat in range(args.repeats):
                this: dict[str, list[float]] = {n: [] for n in impls}
                for round_index in range(args.rounds):
                    for name in rotate(impls, round_index + repeat):
                        walk = walkers[name]
                        for _ in range(args.block):
                            started = clock()
                            await walk()
                            this[name].append((clock() - started) / 1e6)
                for name, values in this.items():
                    walks[name].extend(values)
                    per_repeat[name].append(statistics.median(values))
            for close in closers:
                await close()

        asyncio.run(run())
    else:
        import httpx

        walkers_sync: dict[str, Callable[[], int]] = {}
        closers_sync = []
        if RAW in impls:
            raw_s = httpx.Client()
            url = args.base + LIST_PATH
            closers_sync.append(raw_s.close)

            def raw_walk_s() -> int:
                count, page = 0, 1
                while True:
                    data = _expect(raw_s.get(url + query(page), headers=RAW_HEADERS), 200)
                    for _ in data["items"]:
                        count += 1
                    if page >= data["pagination"]["max_page"]:
                        return count
                    page += 1

            walkers_sync[RAW] = raw_walk_s
        if OURS in impls:
            from polar_sdk import Polar

            ours_s = Polar(TOKEN, base_url=args.base)
            closers_sync.append(ours_s.close)
            walkers_sync[OURS] = lambda: sum(
                1 for _ in ours_s.customers.list(limit=PAGE_LIMIT, sorting=[SORTING])
            )
        if PEER in impls:
            from polar.v2026_10 import Polar as PeerPolar

            peer_s = PeerPolar(TOKEN, base_url=args.base)
            closers_sync.append(lambda: peer_s.__exit__(None, None, None))
            walkers_sync[PEER] = lambda: sum(
                1 for _ in peer_s.customers.iter_list(limit=PAGE_LIMIT)
            )
        for name, walk_s in walkers_sync.items():
            for _ in range(args.warmup):
                if (got := walk_s()) != TOTAL_CUSTOMERS:
                    raise SystemExit(f"{name} walked {got} customers")
        for repeat in range(args.repeats):
            this_s: dict[str, list[float]] = {n: [] for n in impls}
            for round_index in range(args.rounds):
                for name in rotate(impls, round_index + repeat):
                    walk_s = walkers_sync[name]
                    for _ in range(args.block):
                        started = clock()
                        walk_s()
                        this_s[name].append((clock() - started) / 1e6)
            for name, values in this_s.items():
                walks[name].extend(values)
                per_repeat[name].append(statistics.median(values))
        for close_s in closers_sync:
            close_s()
    return {"samples": {n: summary(v) for n, v in walks.items()}, "repeat_medians": per_repeat}


# --- construction and first call (fresh processes) ----------------------------------------------


def construct(args: argparse.Namespace) -> dict[str, Any]:
    """Import, then the first construction and the median of `count` more (in us)."""
    name, flavour = args.impls[0], args.flavour
    clock = time.perf_counter_ns
    t0 = clock()
    if name == PEER:
        from polar.v2026_10 import Polar as PeerPolar
        from polar.v2026_10 import PolarAsync

        make: Callable[[], Any] = lambda: (PolarAsync if flavour == "async" else PeerPolar)(  # noqa: E731
            TOKEN, base_url=args.base
        )
    else:
        import polar_sdk

        cls = polar_sdk.AsyncPolar if flavour == "async" else polar_sdk.Polar
        make = lambda: cls(TOKEN, base_url=args.base)  # noqa: E731
    t1 = clock()
    make()
    t2 = clock()
    times = []
    keep = []  # keep them alive: construction, not garbage collection, is measured
    for _ in range(args.count):
        started = clock()
        client = make()
        times.append((clock() - started) / 1000)
        keep.append(client)
    attr = []
    if name == OURS:  # first access of a resource on a new client (module already imported)
        for client in keep[: min(200, len(keep))]:
            started = clock()
            client.customers  # noqa: B018
            attr.append((clock() - started) / 1000)
    return {
        "import_ms": (t1 - t0) / 1e6,
        "first_us": (t2 - t1) / 1000,
        "steady_us": statistics.median(times),
        "steady_p99_us": percentile(times, 99),
        "attr_new_client_us": statistics.median(attr) if attr else None,
    }


def first_call(args: argparse.Namespace) -> dict[str, Any]:
    """Fresh process: import, construct, [warm-up create], first use of a resource, steady."""
    flavour, op, warm = args.flavour, args.op, args.warm
    clock = time.perf_counter
    t0 = clock()
    import polar_sdk

    t1 = clock()
    out: dict[str, Any] = {"import_ms": (t1 - t0) * 1000}

    def target(client: Any) -> Callable[[], Any]:
        if op == "get":
            return lambda: client.customers.get(ITEM_ID)
        return lambda: client.customer_sessions.create(customer_id=CUSTOMER_ID)

    if flavour == "async":

        async def run() -> None:
            t2 = clock()
            client = polar_sdk.AsyncPolar(TOKEN, base_url=args.base)
            t3 = clock()
            out["construct_ms"] = (t3 - t2) * 1000
            if warm:
                await client.customer_sessions.create(customer_id=CUSTOMER_ID)
            t4 = clock()
            resource = client.customers if op == "get" else client.customer_sessions
            t5 = clock()
            if op == "get":
                await resource.get(ITEM_ID)
            else:
                await resource.create(customer_id=CUSTOMER_ID)
            t6 = clock()
            call = target(client)
            steady = []
            for _ in range(30):
                started = clock()
                await call()
                steady.append(clock() - started)
            await client.aclose()
            out.update(attr_ms=(t5 - t4) * 1000, first_ms=(t6 - t5) * 1000)
            out["steady_ms"] = statistics.median(steady) * 1000

        asyncio.run(run())
    else:
        t2 = clock()
        client = polar_sdk.Polar(TOKEN, base_url=args.base)
        t3 = clock()
        out["construct_ms"] = (t3 - t2) * 1000
        if warm:
            client.customer_sessions.create(customer_id=CUSTOMER_ID)
        t4 = clock()
        resource = client.customers if op == "get" else client.customer_sessions
        t5 = clock()
        if op == "get":
            resource.get(ITEM_ID)
        else:
            resource.create(customer_id=CUSTOMER_ID)
        t6 = clock()
        call = target(client)
        steady = []
        for _ in range(30):
            started = clock()
            call()
            steady.append(clock() - started)
        client.close()
        out.update(attr_ms=(t5 - t4) * 1000, first_ms=(t6 - t5) * 1000)
        out["steady_ms"] = statistics.median(steady) * 1000
    out["call_part_ms"] = out["first_ms"] - out["steady_ms"]
    out["attr_plus_call_part_ms"] = out["attr_ms"] + out["call_part_ms"]
    out["identity"] = polar_sdk.__file__
    return out


# --- profile ------------------------------------------------------------------------------------


def profile(args: argparse.Namespace) -> None:
    """cProfile of `calls` sequential async calls of one operation through AsyncPolar."""
    import cProfile
    import pstats

    async def run() -> None:
        calls, close = await make_async(OURS, args.base)
        if args.op == "get":
            import polar_sdk

            client = polar_sdk.AsyncPolar(TOKEN, base_url=args.base)
            calls["get"] = lambda: client.customers.get(ITEM_ID)
        call = calls[args.op]
        for _ in range(200):
            await call()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.calls):
            await call()
        prof.disable()
        await close()
        stats = pstats.Stats(prof)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(30)

    asyncio.run(run())


# --- the runner ---------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Runner:
    """Starts the server and the measuring processes (pinned, with the right package)."""

    def __init__(self, args: argparse.Namespace, base_sdk: Path, sdk: Path) -> None:
        self.args = args
        self.pin = ["taskset", "-c", "1"] if shutil.which("taskset") else []
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "POLAR_ACCESS_TOKEN")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.envs = {
            "ours": {**env, "PYTHONPATH": str(sdk)},
            "base": {**env, "PYTHONPATH": str(base_sdk)},
        }
        self.dirs = {"ours": str(sdk / "polar_sdk"), "base": str(base_sdk / "polar_sdk")}
        self.base_sdk = base_sdk
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen[bytes] | None = None

    def start_server(self) -> None:
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        self.server = subprocess.Popen(
            [*pin, sys.executable, str(Path(__file__).resolve()), "serve", str(self.port)],
            cwd=BENCH,
            env=self.envs["ours"],
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.server.poll() is not None:
                    raise RuntimeError("the benchmark server exited at start") from None
                time.sleep(0.1)
        raise RuntimeError("the benchmark server did not start within 15 s")

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(10)
            except subprocess.TimeoutExpired:
                self.server.kill()

    def worker(self, mode: str, impls: list[str], *, package: str = "ours", **opts: Any) -> Any:
        cmd = [*self.pin, sys.executable, str(Path(__file__).resolve()), mode]
        cmd += ["--base", self.base, "--impls", ",".join(impls), "--expect-dir", self.dirs[package]]
        for key, value in opts.items():
            cmd += [f"--{key.replace('_', '-')}", str(value)]
        proc = subprocess.run(
            cmd,
            env=self.envs[package],
            cwd=BENCH,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        for line in reversed(proc.stdout.splitlines()):
            if line.startswith("BENCH-RESULT "):
                return json.loads(line[len("BENCH-RESULT ") :])
        raise RuntimeError(
            f"worker {mode} {impls} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )


def export_base(ref: str, into: Path) -> Path:
    """polar_sdk as of `ref`, exported from git into `into` (no work tree, no git state)."""
    archive = subprocess.run(
        ["git", "archive", ref, "polar_sdk"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(into)], check=True)
    return into


def machine(base_ref: str, sdk_ref: str) -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def git(*cmd: str) -> str:
        return subprocess.run(
            ["git", *cmd], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()

    versions = {}
    for dist in (
        "httpx",
        "httpcore",
        "h11",
        "anyio",
        "attrs",
        "cattrs",
        "uvicorn",
        "uvloop",
        "polar-sdk",
    ):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:
            versions[dist] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "commit": git("rev-parse", "--short", sdk_ref)
        if sdk_ref
        else git("rev-parse", "--short", "HEAD")
        + ("+dirty" if git("status", "--porcelain", "--", "polar_sdk") else ""),
        "measured": f"commit {sdk_ref}" if sdk_ref else "working tree",
        "base_ref": base_ref,
        "base_commit": git("rev-parse", "--short", base_ref),
        "pinned": bool(shutil.which("taskset")),
        "versions": versions,
    }


def busy_processes() -> list[str]:
    """Other processes using CPU now (what else ran next to the benchmark)."""
    ps = subprocess.run(
        ["ps", "-eo", "pcpu=,args=", "--sort=-pcpu"], capture_output=True, text=True, check=False
    ).stdout
    busy = []
    for line in ps.splitlines():
        cpu, _, command = line.strip().partition(" ")
        try:
            if float(cpu) >= 5.0 and "bench_operations.py" not in command:
                busy.append(f"{cpu}% {command[:120]}")
        except ValueError:
            continue
    return busy[:10]


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    sections = (
        set(args.only.split(",")) if args.only else {"construct", "firstcall", "latency", "pages"}
    )
    base_label = f"polar_sdk@{args.base_ref}"
    tmp = None
    if args.base_sdk:
        base_sdk = Path(args.base_sdk).resolve()
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(base_sdk)], check=False)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench-ops-base-")
        base_sdk = export_base(args.base_ref, Path(tmp.name))
    if args.sdk_ref:
        tmp_sdk = tempfile.TemporaryDirectory(prefix="bench-ops-sdk-")
        sdk = export_base(args.sdk_ref, Path(tmp_sdk.name))
    else:
        tmp_sdk = None
        sdk = ROOT
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(ROOT / "polar_sdk")], check=False
        )
    runner = Runner(args, base_sdk, sdk)
    result: dict[str, Any] = {
        "kind": "quick" if quick else "full",
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(args.base_ref, args.sdk_ref),
        "loadavg_before": os.getloadavg(),
        "busy_before": busy_processes(),
        "base_label": base_label,
    }
    runner.start_server()
    try:
        if "construct" in sections:
            n = 5 if quick else 15
            count = 300 if quick else 2000
            variants = [
                (OURS, "async", "ours"),
                (BASE, "async", "base"),
                (OURS, "sync", "ours"),
                (BASE, "sync", "base"),
                (PEER, "async", "ours"),
                (PEER, "sync", "ours"),
            ]
            log(f"construction: {n} fresh processes per variant")
            got: dict[str, list[Any]] = {}
            for i in range(n):
                for name, flavour, package in rotate(variants, i):  # type: ignore[arg-type]
                    key = f"{flavour} {base_label if name == BASE else name}"
                    c = count if name != PEER else min(count, 50)  # 1.0.2: ~17 ms each
                    got.setdefault(key, []).append(
                        runner.worker(
                            "construct", [name], package=package, flavour=flavour, count=c
                        )
                    )
            result["construct"] = got
        if "firstcall" in sections:
            n = 5 if quick else 15
            variants_fc = [
                ("async get cold", "async", "get", 0, "ours"),
                ("async get warm client", "async", "get", 1, "ours"),
                ("async create cold", "async", "create", 0, "ours"),
                (f"async create cold [{base_label}]", "async", "create", 0, "base"),
                ("sync get cold", "sync", "get", 0, "ours"),
                ("sync get warm client", "sync", "get", 1, "ours"),
                ("sync create cold", "sync", "create", 0, "ours"),
                (f"sync create cold [{base_label}]", "sync", "create", 0, "base"),
            ]
            log(f"first call: {n} fresh processes per variant")
            fc: dict[str, list[Any]] = {}
            for i in range(n):
                for label, flavour, op, warm, package in rotate(variants_fc, i):  # type: ignore[arg-type]
                    name = BASE if package == "base" else OURS
                    fc.setdefault(label, []).append(
                        runner.worker(
                            "firstcall", [name], package=package, flavour=flavour, op=op, warm=warm
                        )
                    )
            result["firstcall"] = fc
        if "latency" in sections:
            seq = (
                {"warmup": 100, "repeats": 1, "rounds": 2, "block": 100}
                if quick
                else {"warmup": 300, "repeats": 1, "rounds": 5, "block": 250}
            )
            processes = 3 if quick else 5
            lat: dict[str, list[Any]] = {}
            for flavour in ("async", "sync"):
                log(f"per-call latency, {flavour}: {processes} processes")
                for _ in range(processes):
                    res = runner.worker(
                        "latency",
                        [RAW, OURS, BASE, PEER],
                        flavour=flavour,
                        ops="create,list,update",
                        base_dir=runner.base_sdk,
                        **seq,
                    )
                    lat.setdefault(f"{flavour} ours", []).append(res)
            result["latency"] = lat
        if "pages" in sections:
            pg = (
                {"warmup": 2, "repeats": 3, "rounds": 2, "block": 3}
                if quick
                else {"warmup": 3, "repeats": 3, "rounds": 6, "block": 8}
            )
            pres: dict[str, Any] = {}
            for flavour in ("async", "sync"):
                log(f"pagination, {flavour}: 1,000 customers in pages of {PAGE_LIMIT}")
                pres[flavour] = runner.worker("pages", [RAW, OURS, PEER], flavour=flavour, **pg)
            result["pages"] = pres
    finally:
        runner.stop_server()
        for folder in (tmp, tmp_sdk):
            if folder is not None:
                folder.cleanup()
    result["loadavg_after"] = os.getloadavg()
    result["busy_after"] = busy_processes()
    result["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return result


# --- report -------------------------------------------------------------------------------------


def _med(values: list[float]) -> float:
    return statistics.median(values)


def fmt_us(value: float) -> str:
    return f"{value:.0f} us" if value >= 100 else f"{value:.1f} us"


def report(result: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The markdown tables and the verdict rows."""
    base_label = result["base_label"]
    lines: list[str] = []
    verdicts: list[dict[str, Any]] = []

    if "construct" in result:
        lines += [
            "| construction (fresh processes) | first after import | then, median | p99 | "
            "`.customers` on a new client | import |",
            "|---|---|---|---|---|---|",
        ]
        cons = result["construct"]
        for key, runs in cons.items():
            attr = [r["attr_new_client_us"] for r in runs if r["attr_new_client_us"] is not None]
            lines.append(
                f"| {key} | {fmt_us(_med([r['first_us'] for r in runs]))} | "
                f"{fmt_us(_med([r['steady_us'] for r in runs]))} | "
                f"{fmt_us(_med([r['steady_p99_us'] for r in runs]))} | "
                f"{fmt_us(_med(attr)) if attr else '-'} | "
                f"{_med([r['import_ms'] for r in runs]):.0f} ms |"
            )
        lines.append("")
        for flavour in ("async", "sync"):
            ours = cons.get(f"{flavour} {OURS}")
            base = cons.get(f"{flavour} {base_label}")
            if ours and base:
                steady = ratio(
                    _med([r["steady_us"] for r in ours]), _med([r["steady_us"] for r in base])
                )
                first = ratio(
                    _med([r["first_us"] for r in ours]), _med([r["first_us"] for r in base])
                )
                verdicts.append(
                    {
                        "target": f"`{'AsyncPolar' if flavour == 'async' else 'Polar'}(...)` "
                        f"construction no slower than {base_label}",
                        "value": f"{steady:.2f}x today's (median construction), first after "
                        f"import {first:.2f}x",
                        "met": steady <= 1.05,
                    }
                )

    if "firstcall" in result:
        lines += [
            "| first call (fresh processes, medians) | import | construct | attribute | first call "
            "| later call (round trip) | call part (first - later) | attribute + call part |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for label, runs in result["firstcall"].items():

            def m(key: str, runs: list[Any] = runs) -> float:
                return _med([r[key] for r in runs])

            lines.append(
                f"| {label} | {m('import_ms'):.1f} ms | {m('construct_ms'):.2f} ms | "
                f"{m('attr_ms'):.2f} ms | {m('first_ms'):.2f} ms | {m('steady_ms'):.2f} ms | "
                f"{m('call_part_ms'):.2f} ms | {m('attr_plus_call_part_ms'):.2f} ms |"
            )
        lines.append("")
        for flavour in ("async", "sync"):
            cold = result["firstcall"].get(f"{flavour} get cold")
            warm = result["firstcall"].get(f"{flavour} get warm client")
            today = result["firstcall"].get(f"{flavour} create cold [{base_label}]")
            if cold and warm:
                c = _med([r["attr_plus_call_part_ms"] for r in cold])
                w = _med([r["attr_plus_call_part_ms"] for r in warm])
                t = _med([r["attr_plus_call_part_ms"] for r in today]) if today else float("nan")
                verdicts.append(
                    {
                        "target": f"first `customers.get` in a fresh process ({flavour}) <= 5 ms, "
                        "excluding the round trip",
                        "value": f"{w:.2f} ms with the client warmed by another resource; "
                        f"{c:.2f} ms on a cold client (its HTTP client and connection set up too; "
                        f"{base_label}'s first create on a cold client: {t:.2f} ms)",
                        "met": w <= TARGETS["first_call_ms"],
                        "met_cold": c <= TARGETS["first_call_ms"],
                    }
                )

    if "latency" in result:
        lines += [
            "| per call | client | median | p99 | ratio to raw httpx (median) "
            "| spread over processes |",
            "|---|---|---|---|---|---|",
        ]
        for flavour in ("async", "sync"):
            runs = result["latency"].get(f"{flavour} ours", [])
            for op in OPS:
                rows = []
                pooled: dict[str, list[float]] = {}
                spreads: dict[str, list[float]] = {}
                for group, label_of in ((runs, {BASE: base_label}),):
                    raw_pool: list[float] = []
                    for run in group:
                        if op not in run["raw_us"]:
                            continue
                        raw_pool.extend(run["raw_us"][op][RAW])
                        raw_meds = run["repeat_medians"][op][RAW]
                        for name, values in run["raw_us"][op].items():
                            if name == RAW:
                                continue
                            label = label_of.get(name, name)
                            pooled.setdefault(label, []).extend(values)
                            meds = run["repeat_medians"][op][name]
                            spreads.setdefault(label, []).extend(
                                a / b for a, b in zip(meds, raw_meds, strict=True)
                            )
                    if raw_pool:
                        pooled[RAW] = raw_pool
                raw_main = pooled.get(RAW)
                for label, values in pooled.items():
                    s = summary(values)
                    baseline = raw_main
                    r = (
                        ratio(s["median"], statistics.median(baseline))
                        if baseline
                        else float("nan")
                    )
                    sp = spreads.get(label)
                    rows.append((label, s, r, sp))
                    result.setdefault("latency_rows", []).append(
                        {"flavour": flavour, "op": op, "client": label, **s, "ratio": r}
                        | ({"spread": [min(sp), max(sp)]} if sp else {})
                    )
                    if label == OURS:
                        result.setdefault("ratios", {})[f"{flavour} {op}"] = r
                    if label == base_label:
                        result.setdefault("ratios", {})[f"{flavour} {op} base"] = r
                for label, s, r, sp in rows:
                    spread = f"{min(sp):.2f}-{max(sp):.2f}" if sp else ""
                    lines.append(
                        f"| {flavour} {op} | {label} | {fmt_us(s['median'])} | "
                        f"{fmt_us(s['p99'])} | {r:.2f}x | {spread} |"
                    )
        lines.append("")
        ratios = result.get("ratios", {})
        for flavour, today in (("async", 0.72), ("sync", 1.23)):
            ours = ratios.get(f"{flavour} create")
            base = ratios.get(f"{flavour} create base")
            if ours is None:
                continue
            others = ", ".join(
                f"{op} {ratios[f'{flavour} {op}']:.2f}x"
                for op in ("list", "update")
                if f"{flavour} {op}" in ratios
            )
            verdicts.append(
                {
                    "target": f"{flavour} `customer_sessions.create` within 10% of today "
                    f"(BENCHMARKS.md {today:.2f}x; {base_label} in this run)",
                    "value": f"{ours:.2f}x raw; {base_label} {base:.2f}x in the same run "
                    f"({ours / base:.2f}x of it); {others}",
                    # Today's ratio is measured again in this run (same machine, same load);
                    # the figure BENCHMARKS.md recorded on another day is shown beside it.
                    "met": ours <= base * 1.10 if base is not None else ours <= today * 1.10,
                    "vs_recorded": f"{ours:.2f}x vs {today:.2f}x recorded: "
                    + ("within" if ours <= today * 1.10 else "outside")
                    + " 10%",
                }
            )

    if "pages" in result:
        lines += [
            "| 1,000 customers, 10 pages of 100 | client | median walk | p99 | ratio to raw | "
            "ratio to 1.0.2 | spread (to 1.0.2, per repeat) |",
            "|---|---|---|---|---|---|---|",
        ]
        for flavour, res in result["pages"].items():
            s = res["samples"]
            meds = res["repeat_medians"]
            for name in (RAW, OURS, PEER):
                sp = [a / b for a, b in zip(meds[name], meds[PEER], strict=True)]
                lines.append(
                    f"| {flavour} | {name} | {s[name]['median']:.1f} ms | "
                    f"{s[name]['p99']:.1f} ms | "
                    f"{ratio(s[name]['median'], s[RAW]['median']):.2f}x | "
                    f"{ratio(s[name]['median'], s[PEER]['median']):.2f}x | "
                    f"{min(sp):.2f}-{max(sp):.2f} |"
                )
            r = ratio(s[OURS]["median"], s[PEER]["median"])
            verdicts.append(
                {
                    "target": f"{flavour} pagination <= 0.7x polar-sdk 1.0.2's `iter_list`",
                    "value": f"{r:.2f}x ({s[OURS]['median']:.1f} vs {s[PEER]['median']:.1f} ms; "
                    f"raw httpx {s[RAW]['median']:.1f} ms)",
                    "met": r <= TARGETS["pages"],
                }
            )
        lines.append("")

    lines += ["| target | this run | verdict |", "|---|---|---|"]
    for v in verdicts:
        verdict = "met" if v["met"] else "**missed**"
        if "met_cold" in v and v["met"] != v["met_cold"]:
            verdict += " (cold client: " + ("met" if v["met_cold"] else "missed") + ")"
        if "vs_recorded" in v:
            verdict += f" ({v['vs_recorded']})"
        lines.append(f"| {v['target']} | {v['value']} | {verdict} |")
    return "\n".join(lines) + "\n", verdicts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "mode",
        nargs="?",
        default="run",
        choices=["run", "serve", "latency", "pages", "construct", "firstcall", "profile"],
    )
    parser.add_argument("port", nargs="?", type=int)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="")
    parser.add_argument("--base-ref", default="7d89857")
    parser.add_argument("--base-sdk", default="")
    parser.add_argument("--sdk-ref", default="")
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--impls", type=lambda s: s.split(","), default=[OURS])
    parser.add_argument("--expect-dir", default="")
    parser.add_argument("--base-dir", default="")
    parser.add_argument("--flavour", choices=["async", "sync"], default="async")
    parser.add_argument("--ops", type=lambda s: s.split(","), default=list(OPS))
    parser.add_argument("--op", default="get")
    parser.add_argument("--warm", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--block", type=int, default=200)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    if args.base_dir:
        BASE_DIR.append(str(Path(args.base_dir).resolve()))
    if args.mode == "serve":
        serve(args.port)
        return
    if args.mode == "profile":
        profile(args)
        return
    if args.mode != "run":
        runners = {
            "latency": latency,
            "pages": pages,
            "construct": construct,
            "firstcall": first_call,
        }
        out = runners[args.mode](args)
        if args.mode != "firstcall":  # a first-call process must not import anything early
            out["identity"] = identity(args.impls, args.expect_dir)
        elif args.expect_dir and not out["identity"].startswith(args.expect_dir):
            raise SystemExit(f"wrong polar_sdk: {out['identity']}")
        emit(out)
        return
    started = time.monotonic()
    result = run_all(args)
    table, verdicts = report(result)
    result["verdicts"] = verdicts
    result["table_md"] = table
    result["elapsed_s"] = time.monotonic() - started
    # Per-call samples are large; the summaries and per-repeat medians stay.
    for runs in result.get("latency", {}).values():
        for run in runs:
            run.pop("raw_us", None)
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-operations-{result['kind']}.json"
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(table)
    log(f"wrote {path.relative_to(ROOT)} in {result['elapsed_s']:.0f} s")


if __name__ == "__main__":
    main()
