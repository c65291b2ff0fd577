"""Run the benchmark suite: polar_sdk against raw httpx and the official SDKs, as ratios.

    nox -s bench                 # full run (about 10 minutes)
    nox -s bench -- --quick      # smaller samples, under two minutes

or, in an environment prepared like the nox session:

    PYTHONPATH=. python bench/run.py --old-python PATH/TO/polar-sdk-0.32.0-venv/bin/python

A loopback uvicorn server (bench/server.py) answers POST /v1/customer-sessions/ with a recorded
201 body. It runs pinned to core 0 and every measuring process to core 1 when `taskset` exists.
Every client is compared with a baseline measured in the same process in interleaved blocks
(A B C, B C A, ...), after a warm-up, over several repeats. polar-sdk 0.32.0 imports as
`polar_sdk` like this project, so it runs in its own process and is compared through its ratio
to raw httpx measured there.

Results go to bench/results/<UTC time>-<quick|full>.json (compare runs with `--compare OLD.json`),
bench/results/latest.md (the table) and bench/results/ratios.png (the chart BENCHMARKS.md shows).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
OURS = "polar_sdk"
OURS_HTTPX = "polar_sdk[httpx-transport]"  # our client on httpx's default transport
RAW = "raw-httpx"
PEER = "polar-sdk 1.0.2"
OLD = "polar-sdk 0.32.0"

TARGETS = {
    "async": 1.05,  # latency ratio to raw httpx.AsyncClient, at most
    "sync": 1.5,  # latency ratio to raw httpx.Client, at most
    "tput200": 1.5,  # throughput ratio to raw httpx defaults with 200 tasks, at least
    "decode_us": 10.0,  # bytes -> model, at most
    "import_s": 0.15,  # import polar_sdk in a fresh process, at most
    "rss_growth_mb": 10.0,  # RSS after 10,000 calls minus after 500, at most
}

# Blocks the optional CLI extras httpx imports when they are installed (click, rich, pygments):
# the bench venv has click through uvicorn, a typical application venv has none of them.
LEAN_IMPORT = """
import sys, time
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('click', 'rich', 'pygments'):
            raise ImportError(name)
sys.meta_path.insert(0, _Block())
t = time.perf_counter()
import {module}
print(time.perf_counter() - t)
"""


class Runner:
    """Starts workers with the right interpreter, environment and CPU pinning."""

    def __init__(self, args: argparse.Namespace, base: str) -> None:
        self.args = args
        self.base = base
        self.pin = ["taskset", "-c", "1"] if shutil.which("taskset") else []
        self.env = {**os.environ, "PYTHONPATH": str(Path(args.sdk_path).resolve())}
        self.old_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def worker(self, mode: str, impls: list[str], *, old: bool = False, **opts: Any) -> Any:
        python = self.args.old_python if old else sys.executable
        cmd = [*self.pin, python, str(BENCH / "worker.py"), mode, "--base", self.base]
        cmd += ["--impls", ",".join(impls)]
        for key, value in opts.items():
            cmd += [f"--{key}", str(value)]
        proc = subprocess.run(
            cmd,
            env=self.old_env if old else self.env,
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

    def import_time(self, module: str, runs: int, *, old: bool = False) -> list[float]:
        python = self.args.old_python if old else sys.executable
        times = []
        for _ in range(runs):
            proc = subprocess.run(
                [*self.pin, python, "-c", LEAN_IMPORT.format(module=module)],
                env=self.old_env if old else self.env,
                cwd=BENCH,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            times.append(float(proc.stdout.strip().splitlines()[-1]))
        return times


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    proc = subprocess.Popen(
        [*pin, sys.executable, str(BENCH / "server.py"), str(port)], cwd=BENCH, env=os.environ
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the benchmark server exited at start") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the benchmark server did not start within 15 s")


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "polar_sdk"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "commit": commit + ("+dirty" if dirty else ""),
        "pinned": bool(shutil.which("taskset")),
    }


def ratio_row(
    group: str,
    name: str,
    stats: dict[str, float],
    base: dict[str, float],
    *,
    spread: list[float] | None = None,
    unit: str = "us",
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "group": group,
        "name": name,
        "median": stats["median"],
        "p99": stats["p99"],
        "unit": unit,
        "ratio": stats["median"] / base["median"],
        "p99_ratio": stats["p99"] / base["p99"],
    }
    if spread:
        row["ratio_spread"] = [min(spread), max(spread)]
    return row


def repeat_ratios(result: dict[str, Any], name: str, base: str) -> list[float]:
    meds = result["repeat_medians"]
    return [a / b for a, b in zip(meds[name], meds[base], strict=True)]


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    seq = (
        {"warmup": 100, "repeats": 3, "rounds": 2, "block": 100}
        if quick
        else {"warmup": 300, "repeats": 3, "rounds": 5, "block": 300}
    )
    tput = {"repeats": 2, "total": 400} if quick else {"repeats": 3, "total": 2000}
    dec = {"warmup": 500, "rounds": 60, "block": 200} if quick else {"warmup": 2000, "rounds": 300}
    calls = 1500 if quick else 10_000
    import_runs = 3 if quick else 15
    have_old = bool(args.old_python)
    skipped: dict[str, str] = {}
    if not have_old:
        skipped[OLD] = "no --old-python given (nox -s bench prepares one)"
    sections = set(args.only.split(",")) if args.only else None

    def want(section: str) -> bool:
        return sections is None or section in sections

    port = free_port()
    server = start_server(port)
    runner = Runner(args, f"http://127.0.0.1:{port}")
    rows: list[dict[str, Any]] = []
    memory: dict[str, Any] = {}
    raw_results: dict[str, Any] = {}
    try:
        if want("latency"):
            log("sequential async latency")
            res = runner.worker("latency-async", [RAW, OURS, PEER, OURS_HTTPX], **seq)
            raw_results["latency_async"] = res
            base = res["samples"][RAW]
            rows.append(ratio_row("async create", RAW, base, base))
            for name in (OURS, PEER, OURS_HTTPX):
                spread = repeat_ratios(res, name, RAW)
                rows.append(
                    ratio_row("async create", name, res["samples"][name], base, spread=spread)
                )
            if have_old:
                res = runner.worker("latency-async", [RAW, OLD], old=True, **seq)
                raw_results["latency_async_old"] = res
                spread = repeat_ratios(res, OLD, RAW)
                rows.append(
                    ratio_row(
                        "async create", OLD, res["samples"][OLD], res["samples"][RAW], spread=spread
                    )
                )
            log("sequential sync latency")
            res = runner.worker("latency-sync", [RAW, OURS, PEER, OURS_HTTPX], **seq)
            raw_results["latency_sync"] = res
            skipped.update({f"sync {k}": v for k, v in res.get("skipped", {}).items()})
            base = res["samples"][RAW]
            rows.append(ratio_row("sync create", RAW, base, base))
            for name in (OURS, PEER, OURS_HTTPX):
                if name in res["samples"]:
                    spread = repeat_ratios(res, name, RAW)
                    rows.append(
                        ratio_row("sync create", name, res["samples"][name], base, spread=spread)
                    )
            if have_old:
                res = runner.worker("latency-sync", [RAW, OLD], old=True, **seq)
                raw_results["latency_sync_old"] = res
                spread = repeat_ratios(res, OLD, RAW)
                rows.append(
                    ratio_row(
                        "sync create", OLD, res["samples"][OLD], res["samples"][RAW], spread=spread
                    )
                )
        if want("throughput"):
            for tasks in (20, 200):
                log(f"throughput, {tasks} tasks")
                impls = [RAW, OURS, PEER, *args.extra_impls]
                res = runner.worker("throughput", impls, tasks=tasks, **tput)
                raw_results[f"throughput_{tasks}"] = res
                rows.extend(throughput_rows(res, tasks, impls))
                if have_old:
                    res = runner.worker("throughput", [RAW, OLD], old=True, tasks=tasks, **tput)
                    raw_results[f"throughput_{tasks}_old"] = res
                    rows.extend(throughput_rows(res, tasks, [OLD]))
        if want("decode"):
            log("decode")
            res = runner.worker("decode", [OURS, PEER], **dec)
            raw_results["decode"] = res
            samples = res["samples"]
            base = samples["json.loads"]
            for name, stats in samples.items():
                row = ratio_row("decode (vs json.loads)", name, stats, base)
                if not name.startswith("json") and not name.endswith("structure only"):
                    peer_name = PEER if name == OURS else None
                    if peer_name:
                        row["vs_1_0_2"] = stats["median"] / samples[PEER]["median"]
                rows.append(row)
            if have_old:
                res = runner.worker("decode", [OLD], old=True, **dec)
                raw_results["decode_old"] = res
                base = res["samples"]["json.loads"]
                for name, stats in res["samples"].items():
                    if name != "json.loads":
                        rows.append(ratio_row("decode (vs json.loads)", name, stats, base))
        if want("import"):
            log("import time")
            base_times = runner.import_time("httpx", import_runs)
            imports = {
                "httpx (baseline)": base_times,
                OURS: runner.import_time("polar_sdk", import_runs),
                PEER: runner.import_time("polar.v2026_10", import_runs),
            }
            if have_old:
                imports[OLD] = runner.import_time("polar_sdk", import_runs, old=True)
            raw_results["import"] = imports
            base_stats = {"median": statistics.median(base_times), "p99": max(base_times)}
            for name, times in imports.items():
                stats = {"median": statistics.median(times), "p99": max(times)}
                rows.append(ratio_row("import (s)", name, stats, base_stats, unit="s"))
            log("first call in a fresh process")
            first: dict[str, Any] = {}
            for name in (RAW, OURS, PEER):
                first[name] = runner.worker("firstcall", [name])
            if have_old:
                first[OLD] = runner.worker("firstcall", [OLD], old=True)
            raw_results["first_call"] = first
            raw_first = first[RAW]["build_and_first_call_s"]
            for name, res in first.items():
                rows.append(
                    {
                        "group": "first call (fresh process)",
                        "name": name,
                        "median": res["build_and_first_call_s"] * 1000,
                        "p99": float("nan"),
                        "unit": "ms",
                        "ratio": res["build_and_first_call_s"] / raw_first,
                        "note": "client built + first create; then "
                        f"{res['steady_call_s'] * 1e6:.0f}"
                        f" us per call (import {res['import_s'] * 1000:.0f} ms, not included)",
                    }
                )
        if want("memory"):
            log(f"memory: RSS over {calls} calls, idle clients, allocations")
            for flavour in ("async", "sync"):
                for name in (RAW, OURS, PEER):
                    memory[f"growth {flavour} {name}"] = runner.worker(
                        "memory", [name], flavour=flavour, calls=calls
                    )
                    memory[f"idle {flavour} {name}"] = runner.worker(
                        "idle", [name], flavour=flavour
                    )
            for name in (OURS, PEER):
                memory[f"allocations {name}"] = runner.worker(
                    "allocations", [name], calls=100 if quick else 1000, warmup=100
                )
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return {"rows": rows, "memory": memory, "skipped": skipped, "raw": raw_results}


def throughput_rows(res: dict[str, Any], tasks: int, names: list[str]) -> list[dict[str, Any]]:
    rates = res["rates"]
    base = statistics.median(rates[RAW])
    rows = []
    for name in [RAW, *names] if RAW not in names else names:
        rate = statistics.median(rates[name])
        spread = [a / b for a, b in zip(rates[name], rates[RAW], strict=True)]
        rows.append(
            {
                "group": f"throughput, {tasks} tasks (req/s)",
                "name": name,
                "median": rate,
                "p99": res["latency"][name]["p99"],
                "unit": "req/s",
                "ratio": rate / base,
                "ratio_spread": [min(spread), max(spread)],
                "note": "p99 is per-request latency under load"
                + (f"; {res['errors'][name]} calls failed" if res["errors"].get(name) else ""),
            }
        )
    return rows


def short_path(where: str) -> str:
    """`.../site-packages/httpx/_models.py:12` -> `httpx/_models.py:12`."""
    parts = Path(where).parts
    return "/".join(parts[-2:])


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def fmt(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "-"
    if unit == "s":
        return f"{value:.3f}"
    if unit == "req/s":
        return f"{value:.0f}"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table(result: dict[str, Any]) -> str:
    lines = [
        "| measurement | client | median | p99 | ratio to baseline (median) | spread of ratio "
        "over repeats | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        unit = row["unit"]
        spread = row.get("ratio_spread")
        note = row.get("note", "")
        if "vs_1_0_2" in row:
            note = f"{row['vs_1_0_2']:.2f}x polar-sdk 1.0.2's time"
        p99 = row["p99"]
        if unit == "req/s":
            p99_text = f"{p99 / 1000:.1f} ms"
        else:
            p99_text = "-" if p99 != p99 else f"{fmt(p99, unit)} {unit}"
        lines.append(
            f"| {row['group']} | {row['name']} | {fmt(row['median'], unit)} {unit} | {p99_text} "
            f"| {row['ratio']:.2f}x | "
            + (f"{spread[0]:.2f}-{spread[1]:.2f}" if spread else "")
            + f" | {note} |"
        )
    memory = result["memory"]
    if memory:
        lines += [
            "",
            "| memory | client | value | note |",
            "|---|---|---|---|",
        ]
        for key, value in memory.items():
            kind, rest = key.split(" ", 1)
            if "skipped" in value:
                lines.append(f"| {kind} | {rest} | skipped | {value['skipped']} |")
            elif kind == "growth":
                growth = (value["late"] - value["early"]) / 2**20
                lines.append(
                    f"| RSS growth | {rest} | {growth:+.1f} MB | {value['early_calls']} -> "
                    f"{value['calls']} calls; RSS {value['late'] / 2**20:.1f} MB |"
                )
            elif kind == "idle":
                lines.append(
                    f"| idle client after one call | {rest} | {value['rss_bytes'] / 1024:.0f} KiB "
                    f"RSS | {value['traced_bytes'] / 1024:.0f} KiB traced; just built: "
                    f"{value['built_rss_bytes'] / 1024:.0f} KiB RSS, "
                    f"{value['built_traced_bytes'] / 1024:.0f} KiB traced |"
                )
            elif kind == "allocations":
                top = "; ".join(
                    f"{short_path(t['where'])} {t['bytes_per_call']:.0f} B"
                    for t in value["top_retained"][:3]
                )
                lines.append(
                    f"| retained per call | {rest} | "
                    f"{sum(t['bytes_per_call'] for t in value['top_retained']):.0f} B (top 8 lines)"
                    f" | peak {value['peak_bytes_over_run'] / 1024:.0f} KiB over "
                    f"{value['calls']} calls; {top} |"
                )
    if result["skipped"]:
        lines += ["", "Skipped: " + "; ".join(f"{k}: {v}" for k, v in result["skipped"].items())]
    return "\n".join(lines) + "\n"


def chart(result: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: no chart")
        return
    rows = [r for r in result["rows"] if r["name"] not in (RAW, "json.loads", "httpx (baseline)")]
    time_rows = [
        r
        for r in rows
        if r["group"] in ("async create", "sync create")
        or (r["group"].startswith("decode") and "structure only" not in r["name"])
    ]
    tput_rows = [r for r in rows if r["group"].startswith("throughput")]
    colours = {OURS: "#2a7ab0", PEER: "#999999", OLD: "#cc7a29"}
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, subset, title, line in (
        (axes[0], time_rows, "time per call / baseline (lower is better)", 1.0),
        (axes[1], tput_rows, "requests per second / raw httpx (higher is better)", 1.0),
    ):
        labels = [f"{r['group'].split(' (')[0]}: {r['name']}" for r in subset]
        values = [r["ratio"] for r in subset]
        ax.barh(labels, values, color=[colours.get(r["name"], "#2a7ab0") for r in subset])
        ax.axvline(line, color="black", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        ax.invert_yaxis()
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.2f}x", va="center", fontsize=8)
    meta = result["machine"]
    fig.suptitle(
        f"polar_sdk {meta['commit']} vs raw httpx and the official SDKs "
        f"({result['mode']} run, {meta['cores']} cores, Python {meta['python']})",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def compare(old_path: Path, new: dict[str, Any]) -> str:
    old = json.loads(old_path.read_text())
    before = {(r["group"], r["name"]): r["ratio"] for r in old["rows"]}
    lines = [f"Compared with {old_path.name}:"]
    for row in new["rows"]:
        key = (row["group"], row["name"])
        if key in before:
            lines.append(
                f"  {row['group']:<32} {row['name']:<34} "
                f"{before[key]:6.2f}x -> {row['ratio']:6.2f}x"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small samples (under two minutes)")
    parser.add_argument("--old-python", help="python of a venv with polar-sdk==0.32.0")
    parser.add_argument("--sdk-path", default=str(ROOT), help="where polar_sdk is imported from")
    parser.add_argument("--only", help="comma-separated: latency,throughput,decode,import,memory")
    parser.add_argument(
        "--extra-impls",
        type=lambda s: s.split(","),
        default=["polar_sdk[max_in_flight=20]", "polar_sdk[httpx-transport]"],
        help="more async clients for the throughput rows (default: polar_sdk[max_in_flight=20],"
        " polar_sdk[httpx-transport])",
    )
    parser.add_argument("--compare", type=Path, help="an earlier result JSON to compare with")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.monotonic()
    result = run_suite(args)
    result["mode"] = "quick" if args.quick else "full"
    result["machine"] = machine()
    result["seconds"] = round(time.monotonic() - started, 1)
    result["targets"] = TARGETS
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.out / f"{stamp}-{result['mode']}.json"
    out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    text = table(result)
    (args.out / "latest.md").write_text(text)
    chart(result, args.out / "ratios.png")
    print(text)
    if args.compare:
        print(compare(args.compare, result))
    log(f"done in {result['seconds']} s; wrote {out}")


if __name__ == "__main__":
    main()
