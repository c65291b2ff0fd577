"""Profile sequential creates with pyinstrument, to see where a client spends its time.

    PYTHONPATH=. python bench/profile_calls.py [async|sync] [CALLS] [CLIENT]

CLIENT is a worker client name (default polar_sdk; raw-httpx for the baseline). The server is
bench/server.py on a free loopback port, pinned like in bench/run.py. The report (wall-clock,
all threads for sync) is printed to stdout.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from pyinstrument import Profiler
from run import free_port, start_server
from worker import make_async, make_sync

BENCH = Path(__file__).resolve().parent


def main() -> None:
    flavour = sys.argv[1] if len(sys.argv) > 1 else "async"
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    name = sys.argv[3] if len(sys.argv) > 3 else "polar_sdk"
    port = free_port()
    server = start_server(port)
    base = f"http://127.0.0.1:{port}"
    profiler = Profiler(interval=0.0002, async_mode="enabled")
    try:
        if flavour == "async":

            async def run() -> None:
                call, close = await make_async(name, base)
                for _ in range(300):
                    await call()
                profiler.start()
                for _ in range(calls):
                    await call()
                profiler.stop()
                await close()

            asyncio.run(run())
        else:
            call, close = make_sync(name, base)
            for _ in range(300):
                call()
            profiler.start()
            for _ in range(calls):
                call()
            profiler.stop()
            close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
