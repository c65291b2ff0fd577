"""Helpers shared by the benchmark scripts (standard library only: every bench venv imports it)."""

from __future__ import annotations

import json
import math
import os
import statistics
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
BODY_PATH = BENCH_DIR / "customer_session_201.json"
PATH = "/v1/customer-sessions/"
CUSTOMER_ID = "32f1da23-861d-4749-b8e3-08a3664580a8"
TOKEN = "polar_oat_benchmark_not_a_secret"


def response_body() -> bytes:
    """The recorded 201 answer, compact as a server sends it."""
    data = json.loads(BODY_PATH.read_text(encoding="utf-8"))
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, float]:
    """Median, p99 and count of a list of samples."""
    return {
        "median": statistics.median(values),
        "p99": percentile(values, 99),
        "n": float(len(values)),
    }


def rss_bytes() -> int:
    """This process's resident set size now (Linux: /proc/self/statm)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            resident_pages = int(fh.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def emit(result: Any) -> None:
    """Print a worker's result as the last line of its output, for the runner to parse."""
    print("BENCH-RESULT " + json.dumps(result), flush=True)
