"""The models benchmark: polar_sdk's generated models against polar-sdk 1.0.2, side by side.

    nox -s bench_models                 # full run, about 7 minutes
    nox -s bench_models -- --quick      # smaller samples, about 2 minutes

or, in a venv holding the project's dependencies and polar-sdk==1.0.2 (imports as `polar`):

    PYTHONPATH=. python bench/bench_models.py [--quick]

POLAR_OPENAPI_SPEC (the 2026-10 spec) and POLAR_FIXTURES_DIR (the recorded exchanges) must be
set, as for the heavy tests. Results go to bench/results/<UTC time>-models[-quick].json (every
sample summary, the machine, the commit, the exact command) and the tables are printed.

Method (everything runs on this machine in one run; every measuring process is a fresh
interpreter pinned to CPU 1 with `taskset` when it exists; the runner only starts them):

- Bytecode: both packages (and the rest of the venv) are compiled with `compileall` first and
  the children run without PYTHONDONTWRITEBYTECODE, so import times are those of an installed
  package. Children get PYTHONHASHSEED=0 and the optional httpx CLI extras (click, rich,
  pygments) are blocked as in bench/run.py, as in a typical application venv.
- Bodies: every recorded 2xx JSON answer under $POLAR_FIXTURES_DIR/api whose operation declares
  a JSON schema, mapped to its operation by the rules of tests/spec_support.py (method and path,
  a literal segment beats a template), sorted by file name, re-encoded compactly as a server
  sends it. Our type is the operation's declared response type (`ListResource[Customer]`);
  1.0.2's is the spec schema's name with non-alphanumerics removed
  (`ListResource_Customer_` -> `ListResourceCustomer`) in `polar.v2026_10.outputs`.
- Import (1): `import httpx`, `import polar_sdk`, `from polar_sdk import AsyncPolar, Polar`,
  `import polar` and `import polar` + `from polar.v2026_10 import Polar, PolarAsync`, each
  timed with perf_counter around the statement in a fresh process; rounds run every variant
  once in rotated order (A B C .., B C .. A, ...); medians over the rounds.
- Every model (2): `import polar_sdk` + `import polar_sdk.models` + every module named in
  `polar_sdk.models._MODULES` against 1.0.2's `import polar` + `polar.v2026_10.outputs`,
  `.inputs`, `.client`, `.webhooks`; fresh processes, alternating, medians.
- First decode (3): for every distinct response type, one body (the first that 1.0.2 also decodes,
  else the first), one fresh process per measurement: the body is parsed with json.loads first,
  then the first `structure()` (1.0.2: `deserialize()`) call is timed. (a) only `polar_sdk.models`
  and the type imported (nested modules import during the decode), (b) every model module imported
  first, (c) as (b) plus the converter loaded (what the first `structure()` of any type loads
  once: polar_sdk._converter and its shared hooks), and 1.0.2 after its full import (it builds a
  loader per model on first use). Passes over all types rotate the variants; the figure per type
  is the median over the passes. The second decode is reported too (still on the interpreted field
  plan).
- Steady decode (4): one process holds both SDKs. Each body is decoded 40 times by each SDK
  first (past the converter's 32-decode compile threshold), then in every repeat each body gets
  one block of json.loads, ours (`structure(json.loads(raw), T)`) and 1.0.2
  (`deserialize(json.loads(raw), T)`) on the same bytes, in rotated order; a block's call count
  comes from the body's size (about 2 ms of our decoding), so what is measured does not depend
  on timing. Per body: the median of the per-call block means over the repeats, and the ratio
  of the medians. Bodies 1.0.2 cannot decode are counted and left out of the ratios (with the
  first failing field of each). The check decode also counts bodies our lean path refused and
  cattrs' detailed hook decoded (the converter's `fallback_decodes`; it should stay 0). The
  customer-session body of bench/run.py is measured as bench/worker.py does, in a fresh
  process of its own: rotated blocks of 200 after 2,000 warm-up calls.
- Memory (5): fresh processes, RSS (/proc/self/statm) before importing the SDK, after importing it
  (client and models: `import polar_sdk, polar_sdk.models`; 1.0.2: its full import as in (2),
  which the client and its outputs need anyway) and after decoding one body of every type (garbage
  collected, results dropped). The compared set is the types both decode (ours is also run over
  all its types, and with every model module imported first); separate processes repeat the
  compared set under tracemalloc (traced current and peak, started before the import). Medians of
  3 processes, variants rotated."""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import BODY_PATH, emit, rss_bytes

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
OURS = "polar_sdk"
COMPILE_AFTER = 32  # polar_sdk._converter._COMPILE_AFTER: decodes before a type is compiled
PEER = "polar-sdk 1.0.2"
OUTPUTS_102 = "polar.v2026_10.outputs"

TARGETS = {
    "import_ratio": 2.0,  # import polar_sdk / import httpx, at most
    "all_models_ratio": 1.0,  # every model module / 1.0.2's full import, at most
    "first_decode_ms": 2.0,  # first structure() of a type in a fresh process, at most
    "decode_ratio_max": 1.0,  # ours / 1.0.2 per body, every body at most
    "decode_ratio_median": 0.5,  # ours / 1.0.2, median over bodies, at most
    "memory_ratio": 1.0,  # RSS growth after import + one decode per type, ours / 1.0.2, at most
}
CUSTOMER_SESSION_BEFORE_US = 10.9  # BENCHMARKS.md, "decode (vs json.loads)", stdlib json
CUSTOMER_SESSION_BEFORE_JSON_US = 4.7  # json.loads alone in that run

BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('click', 'rich', 'pygments'):
            raise ImportError(name)
sys.meta_path.insert(0, _Block())
"""

IMPORT_SNIPPETS = {
    "httpx": "import httpx",
    "polar_sdk": "import polar_sdk",
    "polar_sdk: AsyncPolar, Polar": "from polar_sdk import AsyncPolar, Polar",
    "polar-sdk 1.0.2: import polar": "import polar",
    "polar-sdk 1.0.2: client": "import polar\nfrom polar.v2026_10 import Polar, PolarAsync",
}
"""Section 1: what each variant imports (timed from the first statement to the end of the last)."""

TIMED = """
from time import perf_counter
t0 = perf_counter()
{code}
t1 = perf_counter()
print(t1 - t0)
"""

ALL_OURS = """
from importlib import import_module
from time import perf_counter
t0 = perf_counter()
import polar_sdk
import polar_sdk.models as _m
t1 = perf_counter()
_mods = sorted(set(_m._MODULES.values()))
for _name in _mods:
    import_module('polar_sdk.models.' + _name)
t2 = perf_counter()
print(t1 - t0, t2 - t0, len(_mods), sum(k.startswith('polar_sdk') for k in sys.modules))
"""

ALL_PEER = """
from time import perf_counter
t0 = perf_counter()
import polar
t1 = perf_counter()
import polar.v2026_10.outputs
import polar.v2026_10.inputs
import polar.v2026_10.client
import polar.v2026_10.webhooks
t2 = perf_counter()
print(t1 - t0, t2 - t0, 0, sum(k.startswith('polar.') or k == 'polar' for k in sys.modules))
"""

PEER_FULL_IMPORT = (
    "polar",
    "polar.v2026_10.outputs",
    "polar.v2026_10.inputs",
    "polar.v2026_10.client",
    "polar.v2026_10.webhooks",
)


# --- the bodies (runner side: reads the spec with the generator's IR) ---------------------------


def type_text(api: Any, tp: Any) -> str:
    """An IR response type as the Python expression of our runtime type."""
    from codegen.openapi import ir

    if isinstance(tp, ir.Named):
        base = str(api.py_name(tp.name))
        return f"{base}[{', '.join(type_text(api, a) for a in tp.args)}]" if tp.args else base
    if isinstance(tp, ir.ListOf):
        return f"list[{type_text(api, tp.item)}]"
    if isinstance(tp, ir.Nullable):
        return f"{type_text(api, tp.inner)} | None"
    raise TypeError(f"no runtime type for {tp!r}")


def peer_type_text(schema: dict[str, Any]) -> str | None:
    """The spec schema of an answer as the expression of 1.0.2's output type, if it has one."""
    if "$ref" in schema:
        return re.sub(r"[^A-Za-z0-9]", "", schema["$ref"].rsplit("/", 1)[-1])
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        inner = peer_type_text(schema["items"])
        return f"list[{inner}]" if inner else None
    return None


def collect_bodies() -> list[dict[str, Any]]:
    """Every recorded 2xx JSON body with a declared type (tests/spec_support.py's rules)."""
    spec_env = os.environ.get("POLAR_OPENAPI_SPEC")
    fixtures_env = os.environ.get("POLAR_FIXTURES_DIR")
    if not spec_env or not fixtures_env:
        raise SystemExit("set POLAR_OPENAPI_SPEC and POLAR_FIXTURES_DIR (see tests/spec_support)")
    sys.path.insert(0, str(ROOT))
    from codegen.openapi.build import build_api

    spec = json.loads(Path(spec_env).read_text(encoding="utf-8"))
    api = build_api(spec)

    def route(path: str) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")

    operations = [(op, route(op.path)) for op in api.operations]
    root = Path(fixtures_env) / "api"
    bodies = []
    for path in sorted(root.rglob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        if "request" not in case:
            continue
        status = case["response"]["status"]
        if not 200 <= status < 300 or "json" not in case["response"]["headers"].get(
            "content-type", ""
        ):
            continue
        method = case["request"]["method"]
        request_path = case["request"]["path"].split("?", 1)[0]
        matches = [op for op, rx in operations if op.method == method and rx.match(request_path)]
        if not matches:
            continue
        op = min(matches, key=lambda o: o.path.count("{"))
        answer = next((r for r in op.responses if r.status == status), None)
        if answer is None or answer.type is None:
            continue
        response = spec["paths"][op.path][op.method.lower()]["responses"][str(status)]
        schema = response["content"][answer.media_type]["schema"]
        raw = json.dumps(case["response"]["body"], ensure_ascii=False, separators=(",", ":"))
        bodies.append(
            {
                "name": str(path.relative_to(root)),
                "operation": op.operation_id,
                "status": status,
                "ours": type_text(api, answer.type),
                "peer": peer_type_text(schema),
                "raw": raw,
            }
        )
    return bodies


# --- children -----------------------------------------------------------------------------------


class _Lazy(dict):  # type: ignore[type-arg]
    """A name space that finds names as attributes of a module (models load on first use)."""

    def __init__(self, module: Any) -> None:
        super().__init__()
        self.module = module

    def __missing__(self, key: str) -> Any:
        try:
            return getattr(self.module, key)
        except AttributeError:
            raise KeyError(key) from None  # then eval looks in the globals (`list`)


def resolve(expr: str, module: Any) -> Any:
    return eval(expr, {"__builtins__": {}, "list": list}, _Lazy(module))


def load_cases(path: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(Path(path).read_text(encoding="utf-8"))
    return cases


def child_first(args: argparse.Namespace) -> dict[str, Any]:
    """Section 3: the first decode of one type in this fresh process."""
    case = load_cases(args.cases)[args.index]
    data_raw = case["raw"].encode()
    clock = time.perf_counter
    started = clock()
    if args.impl == PEER:
        import importlib

        for name in PEER_FULL_IMPORT:
            importlib.import_module(name)
        from polar import deserialize
        from polar.v2026_10 import outputs

        model = resolve(case["peer"], outputs)

        def decode(data: Any) -> Any:
            return deserialize(data, model)
    else:
        import polar_sdk.models as models

        if args.impl.endswith(("(b)", "(c)")):
            import importlib

            for name in sorted(set(models._MODULES.values())):
                importlib.import_module(f"polar_sdk.models.{name}")
        if args.impl.endswith("(c)"):
            from polar_sdk._converter import hooks

            hooks()  # what the first structure() call loads: the converter and its shared hooks
        model = resolve(case["ours"], models)
        structure = models.structure

        def decode(data: Any) -> Any:
            return structure(data, model)

    imported = clock()
    data = json.loads(data_raw)
    again = json.loads(data_raw)
    t0 = clock()
    decode(data)
    t1 = clock()
    decode(again)
    t2 = clock()
    return {"import_s": imported - started, "first_s": t1 - t0, "second_s": t2 - t1}


def block_size(raw: bytes) -> int:
    """Calls per block: about 2 ms of our decoding (8 ns a byte here), from the size alone."""
    return max(5, min(2000, round(2e-3 / (8e-9 * (len(raw) + 100)))))


def rotated(names: list[str], shift: int) -> list[str]:
    shift %= len(names)
    return names[shift:] + names[:shift]


def child_decode(args: argparse.Namespace) -> dict[str, Any]:
    """Section 4: steady decode of every body, ours and 1.0.2 side by side in this process."""
    from polar import deserialize
    from polar.v2026_10 import outputs

    import polar_sdk.models as models

    structure = models.structure
    loads = json.loads
    clock = time.perf_counter_ns
    cases = load_cases(args.cases)
    entries: list[tuple[bytes, dict[str, Callable[[], Any]]]] = []
    checks: list[dict[str, Any]] = []
    for case in cases:
        raw = case["raw"].encode()
        ours_type = resolve(case["ours"], models)
        funcs: dict[str, Callable[[], Any]] = {"json.loads": lambda raw=raw: loads(raw)}
        check: dict[str, Any] = {"ours_error": None, "peer_error": None}
        before = fallbacks()
        try:
            structure(loads(raw), ours_type)
        except Exception as exc:
            check["ours_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        else:
            funcs[OURS] = lambda raw=raw, tp=ours_type: structure(loads(raw), tp)
        check["ours_fallbacks"] = fallbacks() - before
        peer_type = None
        try:
            if case["peer"] is None:
                raise LookupError("no output type")
            peer_type = resolve(case["peer"], outputs)
            deserialize(loads(raw), peer_type)
        except Exception as exc:
            check["peer_error"] = peer_reason(exc)
        else:
            funcs[PEER] = lambda raw=raw, tp=peer_type: deserialize(loads(raw), tp)
        entries.append((raw, funcs))
        checks.append(check)
    for _raw, funcs in entries:  # warm-up, past the converter's compile threshold
        for name, fn in funcs.items():
            if name != "json.loads":
                for _ in range(COMPILE_AFTER + 8):
                    fn()
    samples: list[dict[str, list[float]]] = [{n: [] for n in funcs} for _, funcs in entries]
    for repeat in range(args.repeats):
        gc.collect()
        for index, (raw, funcs) in enumerate(entries):
            n = block_size(raw)
            for name in rotated(list(funcs), repeat + index):
                fn = funcs[name]
                started = clock()
                for _ in range(n):
                    fn()
                samples[index][name].append((clock() - started) / n / 1000)
    return {
        "bodies": [
            {"calls_per_block": block_size(raw), **check, "us": s}
            for (raw, _), check, s in zip(entries, checks, samples, strict=True)
        ],
    }


def fallbacks() -> int:
    """How many decodes so far went through cattrs' detailed hook after the lean path refused
    the input (the converter's own counter; tests keep it at zero)."""
    from polar_sdk._converter import hooks

    return int(getattr(hooks(), "fallback_decodes", 0))


def peer_reason(exc: BaseException) -> str:
    """1.0.2's first failing leaf, with its path (adaptix nests the errors in groups)."""
    found = exc.__cause__ or exc
    path: list[str] = []
    while getattr(found, "exceptions", None):
        found = found.exceptions[0]  # type: ignore[attr-defined]
        for note in getattr(found, "__notes__", []):
            if note.startswith("Exception was caused at "):
                path.append(note[len("Exception was caused at ") :])
    where = "$" + "".join(path)
    name = type(found).__name__
    if hasattr(found, "fields"):
        return f"{name} at {where}: missing {sorted(found.fields)}"  # type: ignore[attr-defined]
    if hasattr(found, "allowed_values"):
        value = found.input_value  # type: ignore[attr-defined]
        allowed = sorted(found.allowed_values)  # type: ignore[attr-defined]
        return f"{name} at {where}: {value!r} not in {allowed}"
    return f"{name} at {where}: {str(found).splitlines()[0][:120]}"


def child_session(args: argparse.Namespace) -> dict[str, Any]:
    """bench/run.py's decode row in a fresh process: the customer-session body, blocks of 200."""
    from polar import deserialize
    from polar.v2026_10 import outputs

    import polar_sdk.models as models

    structure = models.structure
    data = json.loads(BODY_PATH.read_text(encoding="utf-8"))
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    ours_type, peer_type = models.CustomerSession, outputs.CustomerSession
    loads = json.loads
    funcs: dict[str, Callable[[], Any]] = {
        "json.loads": lambda: loads(raw),
        OURS: lambda: structure(loads(raw), ours_type),
        f"{OURS}: structure only": lambda: structure(data, ours_type),
        PEER: lambda: deserialize(loads(raw), peer_type),
    }
    for fn in funcs.values():
        for _ in range(2000):
            fn()
    clock = time.perf_counter_ns
    per_call: dict[str, list[float]] = {n: [] for n in funcs}
    for round_index in range(args.session_rounds):
        for name in rotated(list(funcs), round_index):
            fn = funcs[name]
            started = clock()
            for _ in range(200):
                fn()
            per_call[name].append((clock() - started) / 200 / 1000)
    return {
        "bytes": len(raw),
        "median_us": {n: statistics.median(v) for n, v in per_call.items()},
        "blocks": args.session_rounds,
    }


def child_memory(args: argparse.Namespace) -> dict[str, Any]:
    """Section 5: RSS (or traced memory) after importing and decoding one body of each type."""
    cases = load_cases(args.cases)
    chosen = [cases[int(i)] for i in args.indices.split(",")]
    raws = [c["raw"].encode() for c in chosen]
    if args.traced:
        import tracemalloc

        tracemalloc.start()
    gc.collect()
    before = rss_bytes()
    import importlib

    if args.impl == PEER:
        for name in PEER_FULL_IMPORT:
            importlib.import_module(name)
        from polar import deserialize
        from polar.v2026_10 import outputs

        types = [resolve(c["peer"], outputs) for c in chosen]
        decode: Callable[[Any, Any], Any] = deserialize
    else:
        import polar_sdk
        import polar_sdk.models as models

        if args.impl.endswith("(b)"):
            for name in sorted(set(models._MODULES.values())):
                importlib.import_module(f"polar_sdk.models.{name}")
        del polar_sdk
        types = [resolve(c["ours"], models) for c in chosen]
        decode = models.structure
    gc.collect()
    imported = rss_bytes()
    for raw, tp in zip(raws, types, strict=True):
        decode(json.loads(raw), tp)
    gc.collect()
    after = rss_bytes()
    result: dict[str, Any] = {
        "before": before,
        "imported": imported,
        "decoded": after,
        "types": len(chosen),
    }
    if args.traced:
        current, peak = tracemalloc.get_traced_memory()
        result |= {"traced_current": current, "traced_peak": peak}
    return result


# --- runner -------------------------------------------------------------------------------------


class Runner:
    def __init__(self, cases_path: Path) -> None:
        self.pin = ["taskset", "-c", "1"] if shutil.which("taskset") else []
        env = dict(os.environ)
        for key in ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME", "PYTHONTRACEMALLOC"):
            env.pop(key, None)
        env["PYTHONPATH"] = str(ROOT)
        env["PYTHONHASHSEED"] = "0"
        self.env = env
        self.cases_path = cases_path

    def run(self, cmd: list[str], timeout: float = 600) -> str:
        proc = subprocess.run(
            [*self.pin, sys.executable, *cmd],
            env=self.env,
            cwd=BENCH,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[:3]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return proc.stdout

    def snippet(self, code: str) -> list[float]:
        return [float(x) for x in self.run(["-c", BLOCK + code]).split()]

    def child(self, mode: str, **opts: Any) -> Any:
        cmd = [str(Path(__file__).resolve()), "--child", mode, "--cases", str(self.cases_path)]
        for key, value in opts.items():
            if value is False:
                continue
            if value is True:
                cmd.append(f"--{key.replace('_', '-')}")
            else:
                cmd += [f"--{key.replace('_', '-')}", str(value)]
        out = self.run(cmd)
        for line in reversed(out.splitlines()):
            if line.startswith("BENCH-RESULT "):
                return json.loads(line[len("BENCH-RESULT ") :])
        raise RuntimeError(f"no result from {mode}")


def precompile() -> None:
    """Bytecode for the checkout's polar_sdk and the venv, so imports are timed as installed."""
    import polar

    targets = {str(ROOT / "polar_sdk"), sysconfig.get_paths()["purelib"]}
    targets.add(str(Path(polar.__file__).resolve().parent))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j0", *sorted(targets)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def stats(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def section_imports(runner: Runner, rounds: int) -> dict[str, Any]:
    names = list(IMPORT_SNIPPETS)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in rotated(names, r):
            times[name].append(runner.snippet(TIMED.format(code=IMPORT_SNIPPETS[name]))[0])
    base = statistics.median(times["httpx"])
    return {
        "rounds": rounds,
        "snippets": IMPORT_SNIPPETS,
        "samples_s": times,
        "rows": {
            n: {**stats(v), "ratio_to_httpx": statistics.median(v) / base} for n, v in times.items()
        },
    }


def section_all_models(runner: Runner, rounds: int) -> dict[str, Any]:
    snippets = {OURS: ALL_OURS, PEER: ALL_PEER}
    names = list(snippets)
    out: dict[str, dict[str, list[float]]] = {n: {"first": [], "total": []} for n in names}
    counts: dict[str, list[int]] = {}
    for r in range(rounds):
        for name in rotated(names, r):
            first, total, modules, loaded = runner.snippet(snippets[name])
            out[name]["first"].append(first)
            out[name]["total"].append(total)
            counts[name] = [int(modules), int(loaded)]
    rows = {
        n: {
            "total": stats(v["total"]),
            "package": stats(v["first"]),
            "model_modules": counts[n][0],
            "modules_loaded": counts[n][1],
        }
        for n, v in out.items()
    }
    ratio = rows[OURS]["total"]["median"] / rows[PEER]["total"]["median"]
    return {"rounds": rounds, "samples_s": out, "rows": rows, "ratio": ratio}


def first_decode_cases(cases: list[dict[str, Any]], decode: dict[str, Any]) -> list[int]:
    """One body per distinct type: the first that 1.0.2 decodes too, else the first."""
    chosen: dict[str, int] = {}
    for index, (case, check) in enumerate(zip(cases, decode["bodies"], strict=True)):
        if check["ours_error"]:
            continue
        current = chosen.get(case["ours"])
        if current is None or (decode["bodies"][current]["peer_error"] and not check["peer_error"]):
            chosen[case["ours"]] = index
    return [chosen[t] for t in sorted(chosen)]


FIRST_VARIANTS = [f"{OURS} (a)", f"{OURS} (b)", f"{OURS} (c)", PEER]


def section_first(
    runner: Runner, cases: list[dict[str, Any]], decode: dict[str, Any], passes: int
) -> dict[str, Any]:
    indices = first_decode_cases(cases, decode)
    per: dict[str, dict[int, list[dict[str, float]]]] = {v: {} for v in FIRST_VARIANTS}
    step = 0
    for _ in range(passes):
        for index in indices:
            for variant in rotated(FIRST_VARIANTS, step):
                step += 1
                if variant == PEER and decode["bodies"][index]["peer_error"]:
                    continue
                res = runner.child("first", impl=variant, index=index)
                per[variant].setdefault(index, []).append(res)
    summary: dict[str, Any] = {}
    for variant, by_index in per.items():
        rows = []
        for index, results in by_index.items():
            rows.append(
                {
                    "type": cases[index]["ours"],
                    "peer_type": cases[index]["peer"],
                    "body": cases[index]["name"],
                    "first_ms": statistics.median(r["first_s"] for r in results) * 1000,
                    "second_us": statistics.median(r["second_s"] for r in results) * 1e6,
                    "import_ms": statistics.median(r["import_s"] for r in results) * 1000,
                    "samples_ms": [r["first_s"] * 1000 for r in results],
                }
            )
        firsts = [r["first_ms"] for r in rows]
        summary[variant] = {
            "types": len(rows),
            "median_ms": statistics.median(firsts),
            "max_ms": max(firsts),
            "over_target": sum(f > TARGETS["first_decode_ms"] for f in firsts),
            "slowest": sorted(rows, key=lambda r: -r["first_ms"])[:10],
            "rows": sorted(rows, key=lambda r: r["type"]),
        }
    return {"passes": passes, "variants": summary}


def summarize_decode(cases: list[dict[str, Any]], decode: dict[str, Any]) -> dict[str, Any]:
    bodies = []
    for case, res in zip(cases, decode["bodies"], strict=True):
        med = {n: statistics.median(v) for n, v in res["us"].items()}
        row: dict[str, Any] = {
            "body": case["name"],
            "operation": case["operation"],
            "type": case["ours"],
            "peer_type": case["peer"],
            "bytes": len(case["raw"].encode()),
            "calls_per_block": res["calls_per_block"],
            "us": med,
            "ours_error": res["ours_error"],
            "peer_error": res["peer_error"],
        }
        if OURS in med and PEER in med:
            row["ratio"] = med[OURS] / med[PEER]
            per_repeat = [a / b for a, b in zip(res["us"][OURS], res["us"][PEER], strict=True)]
            row["ratio_spread"] = [min(per_repeat), max(per_repeat)]
            row["structure_ratio"] = (med[OURS] - med["json.loads"]) / (
                med[PEER] - med["json.loads"]
            )
        bodies.append(row)
    compared = [b for b in bodies if "ratio" in b]
    ratios = [b["ratio"] for b in compared]
    operations: dict[str, list[dict[str, Any]]] = {}
    for b in bodies:
        operations.setdefault(b["operation"], []).append(b)
    per_op = []
    for op in sorted(operations):
        rows = operations[op]
        both = [r for r in rows if "ratio" in r]
        per_op.append(
            {
                "operation": op,
                "bodies": len(rows),
                "peer_decodes": len(both),
                "ours_us": statistics.median(r["us"][OURS] for r in rows if OURS in r["us"]),
                "peer_us": statistics.median(r["us"][PEER] for r in both) if both else None,
                "ratio": statistics.median(r["ratio"] for r in both) if both else None,
            }
        )

    def med(key: str, rows: list[dict[str, Any]]) -> float:
        return statistics.median(r["us"][key] for r in rows)

    return {
        "bodies": len(bodies),
        "ours_decodes": sum(OURS in b["us"] for b in bodies),
        "peer_decodes": len(compared),
        "peer_failures": [
            {"body": b["body"], "error": b["peer_error"]} for b in bodies if b["peer_error"]
        ],
        "ours_failures": [
            {"body": b["body"], "error": b["ours_error"]} for b in bodies if b["ours_error"]
        ],
        "ratio_median": statistics.median(ratios),
        "ratio_max": max(ratios),
        "ratio_min": min(ratios),
        "over_1": sum(r > 1.0 for r in ratios),
        "at_most_half": sum(r <= 0.5 for r in ratios),
        "structure_ratio_median": statistics.median(b["structure_ratio"] for b in compared),
        "median_us": {
            "json.loads": med("json.loads", compared),
            OURS: med(OURS, compared),
            PEER: med(PEER, compared),
        },
        "slowest": sorted(compared, key=lambda b: -b["ratio"])[:10],
        "per_operation": per_op,
        "rows": bodies,
        "ours_fallback_bodies": [
            {"body": b["body"], "type": b["type"], "fallbacks": f}
            for b, res in zip(bodies, decode["bodies"], strict=True)
            if (f := res.get("ours_fallbacks", 0))
        ],
    }


def section_memory(
    runner: Runner, cases: list[dict[str, Any]], decode: dict[str, Any], repeats: int
) -> dict[str, Any]:
    first_of: dict[str, int] = {}
    common: dict[str, int] = {}
    for index, (case, check) in enumerate(zip(cases, decode["bodies"], strict=True)):
        if check["ours_error"]:
            continue
        first_of.setdefault(case["ours"], index)
        if not check["peer_error"]:
            common.setdefault(case["ours"], index)
    sets = {
        "common": ",".join(str(common[t]) for t in sorted(common)),
        "all": ",".join(str(first_of[t]) for t in sorted(first_of)),
    }
    variants = [
        (OURS, "common", False),
        (PEER, "common", False),
        (f"{OURS} (b)", "common", False),
        (OURS, "all", False),
        (OURS, "common", True),
        (PEER, "common", True),
    ]
    raw: dict[str, list[dict[str, Any]]] = {}
    for r in range(repeats):
        for impl, which, traced in rotated(variants, r):
            key = f"{impl} [{which}{', traced' if traced else ''}]"
            res = runner.child("memory", impl=impl, indices=sets[which], traced=traced)
            raw.setdefault(key, []).append(res)
    rows = {}
    for key, results in raw.items():
        row = {
            field: statistics.median(r[field] for r in results)
            for field in results[0]
            if field != "types"
        }
        row["types"] = results[0]["types"]
        row["import_growth"] = row["imported"] - row["before"]
        row["total_growth"] = row["decoded"] - row["before"]
        rows[key] = row
    ours = rows[f"{OURS} [common]"]
    peer = rows[f"{PEER} [common]"]
    return {
        "repeats": repeats,
        "common_types": len(common),
        "all_types": len(first_of),
        "rows": rows,
        "samples": raw,
        "ratio_rss_decoded": ours["decoded"] / peer["decoded"],
        "ratio_growth": ours["total_growth"] / peer["total_growth"],
        "ratio_traced_peak": rows[f"{OURS} [common, traced]"]["traced_peak"]
        / rows[f"{PEER} [common, traced]"]["traced_peak"],
    }


def machine_info() -> dict[str, Any]:
    from run import machine

    info: dict[str, Any] = machine()
    info["load_average"] = os.getloadavg()
    import httpx
    import polar

    info["httpx"] = httpx.__version__
    info["polar-sdk (peer)"] = polar.__version__
    return info


def log(text: str) -> None:
    print(f"[bench-models {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- tables -------------------------------------------------------------------------------------


def verdicts(result: dict[str, Any]) -> list[tuple[str, str, bool]]:
    imp = result["imports"]["rows"]
    first = result["first_decode"]["variants"]
    dec = result["decode"]
    mem = result["memory"]
    sdk = imp["polar_sdk"]["ratio_to_httpx"]
    clients = imp["polar_sdk: AsyncPolar, Polar"]["ratio_to_httpx"]
    return [
        (
            f"`import polar_sdk` <= {TARGETS['import_ratio']}x `import httpx`",
            f"{sdk:.2f}x ({imp['polar_sdk']['median'] * 1000:.1f} vs "
            f"{imp['httpx']['median'] * 1000:.1f} ms; AsyncPolar, Polar {clients:.2f}x)",
            max(sdk, clients) <= TARGETS["import_ratio"],
        ),
        (
            "every model module <= 1.0.2's full import",
            f"{result['all_models']['ratio']:.2f}x "
            f"({result['all_models']['rows'][OURS]['total']['median'] * 1000:.0f} vs "
            f"{result['all_models']['rows'][PEER]['total']['median'] * 1000:.0f} ms)",
            result["all_models"]["ratio"] <= TARGETS["all_models_ratio"],
        ),
        *(
            (
                f"first decode <= {TARGETS['first_decode_ms']:g} ms, {label}",
                f"median {first[v]['median_ms']:.2f} ms, max {first[v]['max_ms']:.2f} ms "
                f"({first[v]['over_target']} of {first[v]['types']} types over; 1.0.2 median "
                f"{first[PEER]['median_ms']:.1f} ms, max {first[PEER]['max_ms']:.0f} ms)",
                first[v]["max_ms"] <= TARGETS["first_decode_ms"],
            )
            for v, label in (
                (f"{OURS} (a)", "(a) only the type imported"),
                (f"{OURS} (b)", "(b) every model module imported"),
                (f"{OURS} (c)", "(c) every model module and the converter loaded"),
            )
        ),
        (
            "decode: every body <= 1.0x 1.0.2",
            f"max {dec['ratio_max']:.2f}x ({dec['over_1']} of {dec['peer_decodes']} over 1.0)",
            dec["ratio_max"] <= TARGETS["decode_ratio_max"],
        ),
        (
            "decode: median <= 0.5x 1.0.2",
            f"{dec['ratio_median']:.2f}x ({dec['at_most_half']} of {dec['peer_decodes']} at or "
            "under 0.5)",
            dec["ratio_median"] <= TARGETS["decode_ratio_median"],
        ),
        (
            "memory after import + one decode per type <= 1.0.2",
            f"RSS {mem['ratio_rss_decoded']:.2f}x, growth over the bare interpreter "
            f"{mem['ratio_growth']:.2f}x, tracemalloc peak {mem['ratio_traced_peak']:.2f}x",
            mem["ratio_rss_decoded"] <= TARGETS["memory_ratio"]
            and mem["ratio_growth"] <= TARGETS["memory_ratio"],
        ),
    ]


def tables(result: dict[str, Any]) -> str:
    out: list[str] = []
    add = out.append
    imp = result["imports"]
    add(f"Import in a fresh process (median of {imp['rounds']}, interleaved):\n")
    add("| import | median | min | max | ratio to `import httpx` |")
    add("|---|---|---|---|---|")
    for name, row in imp["rows"].items():
        add(
            f"| `{IMPORT_SNIPPETS[name].replace(chr(10), '; ')}` | {row['median'] * 1000:.1f} ms "
            f"| {row['min'] * 1000:.1f} ms | {row['max'] * 1000:.1f} ms "
            f"| {row['ratio_to_httpx']:.2f}x |"
        )
    am = result["all_models"]
    add(f"\nEvery model (median of {am['rounds']} fresh processes, alternating):\n")
    add("| variant | package import | everything | modules loaded | ratio |")
    add("|---|---|---|---|---|")
    o, p = am["rows"][OURS], am["rows"][PEER]
    add(
        f"| polar_sdk + {o['model_modules']} model modules | {o['package']['median'] * 1000:.0f} ms"
        f" | {o['total']['median'] * 1000:.0f} ms | {o['modules_loaded']} | {am['ratio']:.2f}x |"
    )
    add(
        f"| polar-sdk 1.0.2: polar + outputs, inputs, client, webhooks | "
        f"{p['package']['median'] * 1000:.0f} ms | {p['total']['median'] * 1000:.0f} ms | "
        f"{p['modules_loaded']} | 1.00x |"
    )
    fd = result["first_decode"]
    add(
        f"\nFirst decode of a type in a fresh process ({fd['passes']} passes, median per type; "
        "after json.loads):\n"
    )
    add("| variant | types | median | max | over 2 ms | median second decode |")
    add("|---|---|---|---|---|---|")
    labels = {
        f"{OURS} (a)": "polar_sdk (a): only the type imported",
        f"{OURS} (b)": "polar_sdk (b): every model module imported",
        f"{OURS} (c)": "polar_sdk (c): every model module and the converter loaded",
        PEER: "polar-sdk 1.0.2 (full import)",
    }
    for variant, row in fd["variants"].items():
        second = statistics.median(r["second_us"] for r in row["rows"])
        add(
            f"| {labels[variant]} | {row['types']} | {row['median_ms']:.2f} ms "
            f"| {row['max_ms']:.2f} ms | {row['over_target']} | {second:.0f} us |"
        )
    for variant, row in fd["variants"].items():
        add(f"\nSlowest 10 first decodes, {labels[variant]}:\n")
        add("| type | body | first | second |")
        add("|---|---|---|---|")
        for r in row["slowest"]:
            tp = r["type"] if variant != PEER else r["peer_type"]
            add(f"| `{tp}` | {r['body']} | {r['first_ms']:.2f} ms | {r['second_us']:.0f} us |")
    dec = result["decode"]
    mu = dec["median_us"]
    add(
        f"\nSteady decode, bytes -> model with stdlib json, {dec['bodies']} bodies "
        f"({dec['ours_decodes']} decoded by polar_sdk, {dec['peer_decodes']} by 1.0.2; "
        f"{result['config']['decode_repeats']} interleaved repeats, per-body medians):\n"
    )
    add("| figure | value |")
    add("|---|---|")
    add(f"| median ratio ours / 1.0.2 (per body) | {dec['ratio_median']:.2f}x |")
    add(f"| max / min ratio | {dec['ratio_max']:.2f}x / {dec['ratio_min']:.2f}x |")
    add(f"| bodies over 1.0x / at most 0.5x | {dec['over_1']} / {dec['at_most_half']} |")
    add(
        "| median ratio without json.loads ((ours - json) / (1.0.2 - json)) | "
        f"{dec['structure_ratio_median']:.2f}x |"
    )
    add(
        f"| median per body: json.loads / polar_sdk / 1.0.2 | {mu['json.loads']:.1f} / "
        f"{mu[OURS]:.1f} / {mu[PEER]:.1f} us |"
    )
    session = dec["customer_session"]
    cs = session["median_us"]
    add(
        f"\nThe customer-session body of bench/run.py ({session['bytes']} B, `CustomerSession`), "
        f"a fresh process, {session['blocks']} rotated blocks of 200:\n"
    )
    add("| decode | median | to json.loads | to 1.0.2 |")
    add("|---|---|---|---|")
    for name in ("json.loads", OURS, f"{OURS}: structure only", PEER):
        add(
            f"| {name} | {cs[name]:.1f} us | {cs[name] / cs['json.loads']:.2f}x "
            f"| {cs[name] / cs[PEER]:.2f}x |"
        )
    add(
        f"| BENCHMARKS.md before (polar_sdk, stdlib json) | {CUSTOMER_SESSION_BEFORE_US} us "
        f"| {CUSTOMER_SESSION_BEFORE_US / CUSTOMER_SESSION_BEFORE_JSON_US:.2f}x | 0.61x |"
    )
    add("\nSlowest 10 bodies by ratio:\n")
    add("| body | type | bytes | json.loads | polar_sdk | 1.0.2 | ratio | spread |")
    add("|---|---|---|---|---|---|---|---|")
    for b in dec["slowest"]:
        add(
            f"| {b['body']} | `{b['type']}` | {b['bytes']} | {b['us']['json.loads']:.1f} us "
            f"| {b['us'][OURS]:.1f} us | {b['us'][PEER]:.1f} us | {b['ratio']:.2f}x "
            f"| {b['ratio_spread'][0]:.2f}-{b['ratio_spread'][1]:.2f} |"
        )
    if dec["peer_failures"]:
        add(
            f"\n1.0.2 fails on {len(dec['peer_failures'])} bodies (left out of the ratios), by "
            "type and first failing field:\n"
        )
        add("| 1.0.2 type | bodies | first error (example) |")
        add("|---|---|---|")
        groups: dict[tuple[str, str], int] = {}
        peer_types = {r["body"]: r["peer_type"] for r in dec["rows"]}
        for f in dec["peer_failures"]:
            reason = re.sub(r"\$\[\d+\]", "$[i]", f["error"])
            key = (str(peer_types[f["body"]]), reason)
            groups[key] = groups.get(key, 0) + 1
        for (tp, reason), count in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0])):
            add(f"| `{tp}` | {count} | {reason[:160]} |")
    if dec["ours_fallback_bodies"]:
        total = sum(b["fallbacks"] for b in dec["ours_fallback_bodies"])
        add(
            f"\npolar_sdk decodes {len(dec['ours_fallback_bodies'])} bodies only through cattrs' "
            f"detailed fallback ({total} fallback decodes in one decode of each; the lean path "
            "refused part of the input):\n"
        )
        for b in dec["ours_fallback_bodies"]:
            add(f"- {b['body']} (`{b['type']}`): {b['fallbacks']}")
    if dec["ours_failures"]:
        add(f"\npolar_sdk fails on {len(dec['ours_failures'])} bodies:\n")
        for f in dec["ours_failures"]:
            add(f"- {f['body']}: {f['error'][:140]}")
    add("\nPer operation (median over its bodies):\n")
    add("| operation | bodies | 1.0.2 decodes | polar_sdk | 1.0.2 | ratio |")
    add("|---|---|---|---|---|---|")
    for r in dec["per_operation"]:
        peer = f"{r['peer_us']:.1f} us" if r["peer_us"] is not None else "-"
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
        add(
            f"| {r['operation']} | {r['bodies']} | {r['peer_decodes']} | {r['ours_us']:.1f} us "
            f"| {peer} | {ratio} |"
        )
    mem = result["memory"]
    add(
        f"\nMemory after importing and decoding one body of each type (median of "
        f"{mem['repeats']} fresh processes; common = the {mem['common_types']} types both "
        f"decode, all = our {mem['all_types']}):\n"
    )
    add("| variant | RSS before import | after import | after decoding | growth | traced peak |")
    add("|---|---|---|---|---|---|")
    rows = mem["rows"]
    for key, row in rows.items():
        if "traced" in key:
            continue
        traced = rows.get(key[:-1] + ", traced]")
        peak = f"{traced['traced_peak'] / 2**20:.1f} MB" if traced else "-"
        add(
            f"| {key} | {row['before'] / 2**20:.1f} MB | {row['imported'] / 2**20:.1f} MB "
            f"| {row['decoded'] / 2**20:.1f} MB | +{row['total_growth'] / 2**20:.1f} MB | {peak} |"
        )
    add("\n| target | measured | verdict |")
    add("|---|---|---|")
    for target, measured, met in verdicts(result):
        add(f"| {target} | {measured} | {'met' if met else '**missed**'} |")
    return "\n".join(out) + "\n"


# --- main ---------------------------------------------------------------------------------------


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    config = {
        "import_rounds": 5 if quick else 21,
        "all_models_rounds": 5 if quick else 15,
        "first_passes": 1 if quick else 3,
        "decode_repeats": 3 if quick else 9,
        "session_rounds": 30 if quick else 200,
        "memory_repeats": 1 if quick else 3,
    }
    log("collecting the recorded bodies")
    cases = collect_bodies()
    log(f"{len(cases)} bodies, {len({c['ours'] for c in cases})} types; compiling bytecode")
    precompile()
    result: dict[str, Any] = {"config": config}
    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        cases_path = Path(tmp) / "cases.json"
        cases_path.write_text(json.dumps(cases), encoding="utf-8")
        runner = Runner(cases_path)
        log("steady decode of every body")
        decode = runner.child("decode", repeats=config["decode_repeats"])
        result["decode"] = summarize_decode(cases, decode)
        log("the customer-session body (bench/run.py's decode row)")
        result["decode"]["customer_session"] = runner.child(
            "session", session_rounds=config["session_rounds"]
        )
        log("import times")
        result["imports"] = section_imports(runner, config["import_rounds"])
        log("every model module")
        result["all_models"] = section_all_models(runner, config["all_models_rounds"])
        log("first decode per type")
        result["first_decode"] = section_first(runner, cases, decode, config["first_passes"])
        log("memory")
        result["memory"] = section_memory(runner, cases, decode, config["memory_repeats"])
    result["verdicts"] = [{"target": t, "measured": m, "met": ok} for t, m, ok in verdicts(result)]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small samples (about 2 minutes)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    # Children (started by the runner):
    parser.add_argument(
        "--child", choices=["first", "decode", "memory", "session"], help=argparse.SUPPRESS
    )
    parser.add_argument("--cases", help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--indices", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=9, help=argparse.SUPPRESS)
    parser.add_argument("--session-rounds", type=int, default=200, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        children: dict[str, Callable[[argparse.Namespace], Any]] = {
            "first": child_first,
            "decode": child_decode,
            "session": child_session,
            "memory": child_memory,
        }
        emit(children[args.child](args))
        return
    started = time.monotonic()
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    result = run_all(args)
    result["mode"] = "quick" if args.quick else "full"
    result["started_utc"] = stamp
    result["command"] = " ".join([Path(sys.executable).name, *sys.argv])
    result["machine"] = machine_info()
    result["targets"] = TARGETS
    result["seconds"] = round(time.monotonic() - started, 1)
    text = tables(result)
    result["markdown"] = text
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"{stamp}-models{'-quick' if args.quick else ''}.json"
    out.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    print(text)
    log(f"done in {result['seconds']} s; wrote {out}")


if __name__ == "__main__":
    main()
