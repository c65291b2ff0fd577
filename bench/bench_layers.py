"""Where a call's client CPU goes: the SDK without I/O, and the transport against the floor.

    PYTHONPATH=. python bench/bench_layers.py [--calls N] [--uvloop]

Two measurements the floor benchmark (bench/bench_floor.py) cannot separate:

- **SDK without I/O**: the three calls of the floor benchmark (create, list, update) on an
  `AsyncPolar` whose exchange lane answers at once with the recorded answer, so what is left
  is the SDK's own work: arguments and body model, checks, dump, the head, the retry loop and
  bookkeeping, the response object, json.loads and the decode into models. Best of 5 blocks.
- **Transport against the floor**: `HttptoolsTransport.exchange` with a ready GET head against
  the floor's `asyncio.Protocol` client sending the same bytes, on one keep-alive connection to
  the floor benchmark's server (another process), alternating blocks; CPU per call from
  `time.process_time()`, median of the blocks.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_floor as bf  # the bench directory is on the path now


async def sdk_without_io(port: int, calls: int) -> dict[str, float]:
    """µs of CPU per call with the network answered at once (best of 5 blocks)."""
    answers = {
        "create": (201, bf._compact("customer_session_201.json")),
        "list": (200, bf._compact("customers_list_200.json")),
        "update": (200, bf._compact("customer_update_200.json")),
    }
    result: dict[str, float] = {}
    for op, (status, body) in answers.items():
        call_map, polar = await bf._sdk_calls(f"http://127.0.0.1:{port}", None)
        state = polar._http._shared.current
        fields = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]

        async def answer(
            *_: Any, status: int = status, body: bytes = body, fields: Any = fields
        ) -> Any:
            return status, b"OK", fields, body

        assert state.lane is not None, "the exchange lane is off (httptools not installed?)"
        state.lane = answer
        call = call_map[op]
        for _ in range(max(calls // 10, 100)):
            await call()
        best = float("inf")
        for _ in range(5):
            started = time.process_time()
            for _ in range(calls):
                await call()
            best = min(best, (time.process_time() - started) / calls * 1e6)
        result[op] = best
        await polar.aclose()
    return result


async def transport_vs_floor(port: int, calls: int) -> dict[str, float]:
    """µs of CPU per GET exchange: the SDK's transport and the floor protocol (median)."""
    import httpx

    from polar_sdk._httptools_transport import HttptoolsTransport

    head = bf._op_request("list", port)
    transport = HttptoolsTransport(tls=False)
    origin = (b"http", b"127.0.0.1", port)
    timeouts = httpx.Timeout(10).as_dict()
    floor = await bf._floor_connect(port)
    loop = asyncio.get_running_loop()

    async def ours() -> None:
        for _ in range(calls):
            await transport.exchange(origin, head, None, False, timeouts, None)

    async def theirs() -> None:
        assert floor.transport is not None
        for _ in range(calls):
            waiter = floor.waiter = loop.create_future()
            floor.transport.write(head)
            await waiter

    samples: dict[str, list[float]] = {"transport": [], "floor": []}
    for _ in range(6):
        for name, run in (("transport", ours), ("floor", theirs)):
            started = time.process_time()
            await run()
            samples[name].append((time.process_time() - started) / calls * 1e6)
    await transport.aclose()
    assert floor.transport is not None
    floor.transport.close()
    return {name: statistics.median(values[1:]) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    port = bf._free_port()
    server = bf._start_server(port)

    async def both() -> tuple[dict[str, float], dict[str, float]]:
        return await sdk_without_io(port, args.calls), await transport_vs_floor(port, args.calls)

    try:
        if args.uvloop:
            import uvloop

            sdk, wire = uvloop.run(both())
        else:
            sdk, wire = asyncio.run(both())
    finally:
        server.kill()
    loop = "uvloop" if args.uvloop else "asyncio"
    print(f"| layer ({loop}) | CPU µs per call |")
    print("|---|---|")
    for op, value in sdk.items():
        print(f"| SDK without I/O, {op} | {value:.1f} |")
    for name, value in wire.items():
        print(f"| {name} exchange (GET, one connection) | {value:.1f} |")


if __name__ == "__main__":
    main()
