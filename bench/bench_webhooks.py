"""The webhook benchmark of issue 12 ("Speed"): `polar_sdk.webhooks.verify_event` against the bare
HMAC-SHA256 + `json.loads` of the same bytes and against the official SDKs, as ratios in one run.

    nox -s bench_webhooks                 # full run, under 5 minutes
    nox -s bench_webhooks -- --quick      # smaller samples, under 1 minute

or, in a venv holding the project's dependencies, polar-sdk==1.0.2 (imports as `polar`),
jsonschema, pytest and uvicorn (the last three only to build the order.paid body with the
contract tests' ValueBuilder), plus a second venv holding polar-sdk==0.32.0 (imports as
`polar_sdk`, like us):

    PYTHONPATH=. python bench/bench_webhooks.py --old-python /path/to/venv032/bin/python \
        [--quick] [--sdk-ref HEAD] [--only steady,first]
    PYTHONPATH=. python bench/bench_webhooks.py profile [--calls 20000]   # cProfile of ours

POLAR_OPENAPI_SPEC must be set (the order.paid body is built from the spec); the real deliveries
are read from $POLAR_FIXTURES_DIR/webhooks (default ../shared/polar-fixtures). Results go to
bench/results/<UTC time>-webhooks[-quick].json (every summary, the bodies' sizes and what was
added for 1.0.2, the machine, the commit, the load) and the markdown tables are printed.

Method:

- **Events.** `subscription.updated` and `customer.state_changed` are the bytes of the real signed
  deliveries 037_subscription.updated.json and 003_customer.state_changed.json, unchanged.
  No successful order was ever recorded (the recording server had no payment provider), so
  `order.paid` wraps an Order built from the 2026-10 spec by tests/contract/operation_calls.py's
  `ValueBuilder(...).value(Order, full=True)` (every optional field filled), compact JSON.
  Every worker signs the bodies itself, with the real delivery's secret and webhook-id and the
  current time (re-signed every round, outside the timed calls), so every SDK checks the
  timestamp against the clock as in production; the headers are the real delivery's full set
  (11 headers, `host`, `traceparent`, ...).
- **Bodies for polar-sdk 1.0.2.** It refuses payloads without `api_version`, and fields its
  models require that the 2026-10 spec and the real server leave out (`Product.is_deletable`
  on the real subscription.updated; `Order.units`, `OrderSubscription.units`,
  `OrderItemSchema.start_timestamp/end_timestamp` on the spec-built order). The runner adds
  `"api_version": "2026-10"` and then each field 1.0.2 reports missing (null where its type allows
  it, else false / 0 / "") until 1.0.2 decodes the body; the result file lists what was added.
  Ours and the bare baseline are measured on those same bytes too, in our process.
- **Steady (verify + decode).** One fresh process per SDK (ours; polar-sdk 0.32.0 in its own
  venv; polar-sdk 1.0.2) and repeat, each pinned to one core (`taskset`), each holding the bare
  baseline too: `hmac.new(key, b"id.ts." + body, sha256).digest()`, `hmac.compare_digest` with
  the header's signature (base64-decoded once, outside the call) and `json.loads(body)` (stdlib;
  no orjson in the bench venv). Warm-up (300 calls per pair, 30 for 1.0.2: past our converter's
  32-decode compile threshold), then rounds: each (event, implementation) pair gets a block of
  calls, the order of the pairs rotating each round; a block's call count comes from the
  warm-up's per-call time (~4 ms per block; 2 ms in --quick). Every call is timed on its own
  (perf_counter_ns). Per pair: median and p99 over all calls of all processes. Ratios: ours /
  bare in our processes; each peer / bare in the peer's own processes; ours vs a peer = the
  ratio of those ratios (the bare baseline carries the comparison across processes and venvs).
  Spread: lowest and highest per-process ratio. Rows `verify_signature` and `decode_event` split
  ours in two. GC is left on.
- **First event.** A fresh process per measurement (after one discarded warm-up process per
  SDK; bytecode compiled first): the body and headers are made with the stdlib first, then
  `import polar_sdk.webhooks` is timed, then the first `verify_event` (0.32.0:
  `import polar_sdk.webhooks` + `validate_event`; 1.0.2: `import polar.v2026_10.webhooks` +
  `validate_event`), then a second call. Variants rotate; medians per event.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gc
import hashlib
import hmac
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
FIXTURES = Path(os.environ.get("POLAR_FIXTURES_DIR", ROOT.parent / "shared" / "polar-fixtures"))
DELIVERIES = {
    "subscription.updated": "037_subscription.updated.json",
    "customer.state_changed": "003_customer.state_changed.json",
}
EVENTS = ("order.paid", "subscription.updated", "customer.state_changed")
API_VERSION = "2026-10"

OURS = "polar_sdk"
OLD = "polar-sdk 0.32.0"
PEER = "polar-sdk 1.0.2"
TARGETS = {
    "to_bare": 3.0,  # ours / bare HMAC + json.loads, at most
    "to_fastest_peer": 0.5,  # ours / the faster official SDK (ratio of ratios), at most
    "first_event_ms": 5.0,  # import polar_sdk.webhooks + first verify_event, fresh process
}

BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('click', 'rich', 'pygments'):
            raise ImportError(name)
sys.meta_path.insert(0, _Block())
"""


# --- shared by the workers (standard library only: the 0.32.0 venv runs this file too) ---------


def sign(secret: str, webhook_id: str, stamp: str, body: bytes) -> str:
    digest = hmac.new(
        secret.encode(), b"%s.%s.%s" % (webhook_id.encode(), stamp.encode(), body), hashlib.sha256
    ).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(event: dict[str, Any], body: bytes) -> dict[str, str]:
    """The real delivery's headers, signed for `body` now (what a receiver gets)."""
    stamp = str(int(time.time()))
    headers = dict(event["headers"])
    headers["content-length"] = str(len(body))
    headers["webhook-timestamp"] = stamp
    headers["webhook-signature"] = sign(event["secret"], event["webhook_id"], stamp, body)
    return headers


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def emit(result: Any) -> None:
    print("BENCH-RESULT " + json.dumps(result), flush=True)


def bare_call(key: bytes) -> Any:
    """The baseline: HMAC-SHA256 over id.ts.body, constant-time compare, json.loads."""
    new = hmac.new
    sha256 = hashlib.sha256
    compare = hmac.compare_digest
    loads = json.loads

    def call(body: bytes, headers: dict[str, str], offered: bytes) -> Any:
        message = b"%s.%s.%s" % (
            headers["webhook-id"].encode(),
            headers["webhook-timestamp"].encode(),
            body,
        )
        if not compare(new(key, message, sha256).digest(), offered):
            raise ValueError("bad signature")
        return loads(body)

    return call


def impls_for(variant: str) -> dict[str, Any]:
    """name -> call(body, headers, offered, secret) for the implementations of one process."""
    out: dict[str, Any] = {}
    bare_cache: dict[str, Any] = {}

    def bare(body: bytes, headers: dict[str, str], offered: bytes, secret: str) -> Any:
        fn = bare_cache.get(secret)
        if fn is None:
            fn = bare_cache[secret] = bare_call(secret.encode())
        return fn(body, headers, offered)

    out["bare"] = bare
    if variant == "ours":
        from polar_sdk.webhooks import decode_event, verify_event, verify_signature

        out["ours"] = lambda b, h, o, s: verify_event(b, h, s)
        out["verify_signature"] = lambda b, h, o, s: verify_signature(b, h, s)
        out["decode_event"] = lambda b, h, o, s: decode_event(b)
    elif variant == "old":
        from polar_sdk.webhooks import validate_event  # 0.32.0, in its own venv

        out["old"] = lambda b, h, o, s: validate_event(b, h, s)
    elif variant == "peer":
        from polar.v2026_10.webhooks import validate_event as validate_102

        out["peer"] = lambda b, h, o, s: validate_102(b, h, s)
    else:
        raise SystemExit(f"unknown variant {variant}")
    return out


# (body kind, implementation) pairs each variant's process measures; "plain" is the exact
# bytes, "peer" the bytes 1.0.2 accepts (api_version and its required fields added).
PAIRS = {
    "ours": [
        ("plain", "bare"),
        ("plain", "ours"),
        ("plain", "verify_signature"),
        ("plain", "decode_event"),
        ("peer", "bare"),
        ("peer", "ours"),
    ],
    "old": [("plain", "bare"), ("plain", "old")],
    "peer": [("peer", "bare"), ("peer", "peer")],
}


def worker_steady(variant: str, events_file: str, rounds: int, block_ms: float) -> None:
    events = json.loads(Path(events_file).read_text(encoding="utf-8"))
    impls = impls_for(variant)
    bodies = {
        (ev["name"], kind): (ev["body"] if kind == "plain" else ev["peer_body"]).encode("utf-8")
        for ev in events
        for kind in ("plain", "peer")
    }
    by_name = {ev["name"]: ev for ev in events}
    pairs = [(ev["name"], kind, impl) for ev in events for kind, impl in PAIRS[variant]]

    def prepared() -> dict[tuple[str, str], tuple[dict[str, str], bytes]]:
        out = {}
        for (name, kind), body in bodies.items():
            headers = signed_headers(by_name[name], body)
            offered = base64.b64decode(headers["webhook-signature"].partition(",")[2])
            out[(name, kind)] = (headers, offered)
        return out

    signed = prepared()
    kinds: dict[str, str] = {}
    per_call: dict[tuple[str, str, str], float] = {}
    for name, kind, impl in pairs:  # check every pair, then warm up and calibrate
        body = bodies[(name, kind)]
        headers, offered = signed[(name, kind)]
        secret = by_name[name]["secret"]
        fn = impls[impl]
        result = fn(body, headers, offered, secret)
        kinds[f"{name}/{kind}/{impl}"] = type(result).__name__
        n = 30 if impl == "peer" else 300
        t0 = time.perf_counter()
        for _ in range(n):
            fn(body, headers, offered, secret)
        per_call[(name, kind, impl)] = (time.perf_counter() - t0) / n
    counts = {
        key: max(5, min(2000, round(block_ms / 1000 / each))) for key, each in per_call.items()
    }
    samples: dict[str, list[float]] = {f"{n}/{k}/{i}": [] for n, k, i in pairs}
    perf = time.perf_counter_ns
    for r in range(rounds):
        signed = prepared()  # fresh timestamps, outside the timed calls
        order = pairs[r % len(pairs) :] + pairs[: r % len(pairs)]
        for name, kind, impl in order:
            body = bodies[(name, kind)]
            headers, offered = signed[(name, kind)]
            secret = by_name[name]["secret"]
            fn = impls[impl]
            out = samples[f"{name}/{kind}/{impl}"]
            for _ in range(counts[(name, kind, impl)]):
                t0 = perf()
                fn(body, headers, offered, secret)
                out.append(perf() - t0)
    result = {
        key: {
            "median_us": statistics.median(v) / 1000,
            "p99_us": percentile(v, 99) / 1000,
            "n": len(v),
        }
        for key, v in samples.items()
    }
    emit({"variant": variant, "summaries": result, "types": kinds, "gc": gc.isenabled()})


FIRST = {  # variant: (untimed before, timed import, the call); "ours+client": an app that
    # already imported polar_sdk for its client, so only the webhook part is new
    "ours": (
        "",
        "import polar_sdk.webhooks as _w",
        "_call = lambda: _w.verify_event(body, headers, secret)",
    ),
    "ours+client": (
        "import polar_sdk",
        "import polar_sdk.webhooks as _w",
        "_call = lambda: _w.verify_event(body, headers, secret)",
    ),
    "old": (
        "",
        "import polar_sdk.webhooks as _w",
        "_call = lambda: _w.validate_event(body, headers, secret)",
    ),
    "peer": (
        "",
        "import polar.v2026_10.webhooks as _w",
        "_call = lambda: _w.validate_event(body, headers, secret)",
    ),
}

FIRST_SCRIPT = """
{block}
import json, sys
given = json.loads(sys.argv[1])  # signed by the runner just before this process started
body = given['body'].encode('utf-8')
headers = given['headers']
secret = given['secret']
{pre}
before = set(sys.modules)
from time import perf_counter
t0 = perf_counter()
{imp}
t1 = perf_counter()
{call}
r1 = _call()
t2 = perf_counter()
r2 = _call()
t3 = perf_counter()
print('BENCH-RESULT ' + json.dumps({{'import_ms': (t1 - t0) * 1e3, 'first_ms': (t2 - t1) * 1e3,
    'second_ms': (t3 - t2) * 1e3, 'type': type(r1).__name__,
    'modules': len(set(sys.modules) - before)}}))
"""


# --- the runner -----------------------------------------------------------------------------------


def build_events() -> list[dict[str, Any]]:
    """The three bodies (see the module docstring), each with a secret, an id and headers."""
    events: dict[str, dict[str, Any]] = {}
    for name, file in DELIVERIES.items():
        delivery = json.loads((FIXTURES / "webhooks" / file).read_text(encoding="utf-8"))
        headers = {k: v for k, v in delivery["headers"].items() if not k.startswith("webhook-")}
        # what the receiver sees: every header, the webhook-* ones re-signed by the workers
        headers["webhook-id"] = delivery["headers"]["webhook-id"]
        events[name] = {
            "name": name,
            "body": delivery["body"],
            "secret": delivery["secret"],
            "webhook_id": delivery["headers"]["webhook-id"],
            "headers": headers,
            "source": f"real delivery {file}",
        }
    if not os.environ.get("POLAR_OPENAPI_SPEC"):
        raise SystemExit("set POLAR_OPENAPI_SPEC (the order.paid body is built from the spec)")
    sys.path.insert(0, str(ROOT))
    from tests.contract.operation_calls import ValueBuilder
    from tests.spec_support import wire_spec

    order = ValueBuilder(wire_spec()).value({"$ref": "#/components/schemas/Order"}, full=True)
    payload = {"type": "order.paid", "timestamp": "2026-12-01T19:04:42.672197Z", "data": order}
    template = events["subscription.updated"]
    events["order.paid"] = {
        **template,
        "name": "order.paid",
        "body": json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
        "source": "Order from the 2026-10 spec (ValueBuilder, full=True); no order was recorded",
    }
    for event in events.values():
        event["peer_body"], event["peer_added"] = peer_body(event["name"], event["body"])
        event["bytes"] = len(event["body"].encode())
        event["peer_bytes"] = len(event["peer_body"].encode())
    return [events[name] for name in EVENTS]


def peer_body(name: str, body: str) -> tuple[str, list[str]]:
    """`body` with api_version and whatever else polar-sdk 1.0.2 needs to decode it."""
    import typing

    from adaptix.load_error import NoRequiredFieldsLoadError
    from polar.v2026_10 import webhooks as peer

    data = json.loads(body)
    data["api_version"] = API_VERSION
    added = ["api_version"]
    cls_name = (
        "Webhook" + "".join(p.capitalize() for p in name.replace("_", ".").split(".")) + "Payload"
    )
    cls = getattr(peer, cls_name)

    def missing(
        exc: BaseException, model: str, out: list[tuple[set[str], dict[str, Any], str]]
    ) -> None:
        if isinstance(exc, NoRequiredFieldsLoadError):
            out.append((set(exc.fields), exc.input_value, model))
        message = str(getattr(exc, "message", ""))
        inner = message.rsplit(".", 1)[-1].rstrip("'>") if "model <class" in message else model
        for sub in getattr(exc, "exceptions", ()) or ():  # AggregateLoadError, UnionLoadError
            missing(sub, inner, out)

    for _ in range(20):
        try:
            peer.deserialize(data, cls)
            return json.dumps(data, separators=(",", ":"), ensure_ascii=False), added
        except Exception as exc:
            found: list[tuple[set[str], dict[str, Any], str]] = []
            missing(exc.__cause__ or exc, cls_name, found)
            if not found:
                raise RuntimeError(f"polar-sdk 1.0.2 cannot decode {name}: {exc!r}") from exc
            for fields, where, model in found:
                hints = typing.get_type_hints(
                    getattr(sys.modules["polar.v2026_10.outputs"], model, object)
                )
                for field in sorted(fields):
                    where[field] = filler(hints.get(field))
                    added.append(f"{model}.{field}={json.dumps(where[field])}")
    raise RuntimeError(f"polar-sdk 1.0.2 still cannot decode {name}")


def filler(tp: Any) -> Any:
    import types
    import typing

    args = typing.get_args(tp)
    if tp is None or type(None) in args:
        return None
    if tp is bool:
        return False
    if tp is int:
        return 0
    if tp is str:
        return ""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return filler(args[0])
    return None


class Runner:
    def __init__(self, args: argparse.Namespace, sdk: Path, events_file: Path) -> None:
        self.pin = (
            ["taskset", "-c", "1"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
        )
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONHASHSEED"] = "0"
        self.pythons = {
            "ours": sys.executable,
            "ours+client": sys.executable,
            "peer": sys.executable,
            "old": args.old_python,
        }
        ours_env = {**env, "PYTHONPATH": str(sdk)}
        self.envs = {"ours": ours_env, "ours+client": ours_env, "peer": dict(env), "old": dict(env)}
        self.events_file = events_file

    def run(self, variant: str, cmd: list[str]) -> Any:
        proc = subprocess.run(
            [*self.pin, self.pythons[variant], *cmd],
            env=self.envs[variant],
            cwd=BENCH,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        for line in reversed(proc.stdout.splitlines()):
            if line.startswith("BENCH-RESULT "):
                return json.loads(line[len("BENCH-RESULT ") :])
        raise RuntimeError(
            f"{variant} {cmd[:2]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )

    def steady(self, variant: str, rounds: int, block_ms: float) -> Any:
        return self.run(
            variant,
            [
                str(Path(__file__).resolve()),
                "worker-steady",
                variant,
                str(self.events_file),
                str(rounds),
                str(block_ms),
            ],
        )

    def first(self, variant: str, event: dict[str, Any]) -> Any:
        pre, imp, call = FIRST[variant]
        code = FIRST_SCRIPT.format(block=BLOCK, pre=pre, imp=imp, call=call)
        text = event["peer_body"] if variant == "peer" else event["body"]
        headers = signed_headers(event, text.encode("utf-8"))
        given = {"body": text, "headers": headers, "secret": event["secret"]}
        return self.run(variant, ["-c", code, json.dumps(given)])


def export_sdk(ref: str, into: Path) -> Path:
    """polar_sdk as of `ref`, exported with `git archive` (read-only: no git state changes)."""
    archive = subprocess.run(
        ["git", "archive", ref, "polar_sdk"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def machine(args: argparse.Namespace) -> dict[str, Any]:
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

    from importlib.metadata import version

    versions = {}
    for dist in ("attrs", "cattrs", "polar-sdk", "adaptix"):
        try:
            versions[dist] = version(dist)
        except Exception:
            versions[dist] = None
    old = subprocess.run(
        [
            args.old_python,
            "-c",
            "from importlib.metadata import version as v; "
            "print(v('polar-sdk'), v('pydantic'), v('standardwebhooks'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    versions["old venv: polar-sdk, pydantic, standardwebhooks"] = old
    try:
        import orjson  # noqa: F401

        versions["orjson"] = "installed (our decode uses it)"
    except ImportError:
        versions["orjson"] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "commit": git("rev-parse", "--short", args.sdk_ref)
        if args.sdk_ref
        else git("rev-parse", "--short", "HEAD")
        + ("+dirty" if git("status", "--porcelain", "--", "polar_sdk") else ""),
        "measured": f"commit {args.sdk_ref} (exported)" if args.sdk_ref else "working tree",
        "pinned": bool(shutil.which("taskset")),
        "versions": versions,
    }


def busy_processes() -> list[str]:
    ps = subprocess.run(
        ["ps", "-eo", "pcpu=,args=", "--sort=-pcpu"], capture_output=True, text=True, check=False
    ).stdout
    busy = []
    for line in ps.splitlines():
        cpu, _, command = line.strip().partition(" ")
        try:
            if float(cpu) >= 5.0 and "bench_webhooks.py" not in command:
                busy.append(f"{cpu}% {command[:120]}")
        except ValueError:
            continue
    return busy[:10]


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    sections = set(args.only.split(",")) if args.only else {"steady", "first"}
    started = time.monotonic()
    tmp = tempfile.TemporaryDirectory(prefix="bench-webhooks-")
    sdk = export_sdk(args.sdk_ref, Path(tmp.name)) if args.sdk_ref else ROOT
    for target in (sdk / "polar_sdk",):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(target)], check=False)
    for python in {sys.executable, args.old_python}:  # every site-packages, as installed
        subprocess.run(
            [python, "-m", "compileall", "-q", *site_dirs(python)], check=False, capture_output=True
        )
    events = build_events()
    events_file = Path(tmp.name) / "events.json"
    events_file.write_text(json.dumps(events), encoding="utf-8")
    runner = Runner(args, sdk, events_file)
    result: dict[str, Any] = {
        "kind": "quick" if quick else "full",
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(args),
        "loadavg_before": os.getloadavg(),
        "busy_before": busy_processes(),
        "targets": TARGETS,
        "events": [
            {k: e[k] for k in ("name", "source", "bytes", "peer_bytes", "peer_added")}
            for e in events
        ],
    }
    variants = ["ours", "old", "peer"]
    if "steady" in sections:
        processes = args.processes or (3 if quick else 5)
        rounds = 8 if quick else 24
        block_ms = 2.0 if quick else 4.0
        steady: dict[str, list[Any]] = {v: [] for v in variants}
        for p in range(processes):
            for variant in variants[p % 3 :] + variants[: p % 3]:
                steady[variant].append(runner.steady(variant, rounds, block_ms))
                print(f"  steady {variant} process {p + 1}/{processes} done", file=sys.stderr)
        result["steady"] = steady
    if "first" in sections:
        firsts = ["ours", "ours+client", "old", "peer"]
        first: dict[str, dict[str, list[Any]]] = {
            v: {e["name"]: [] for e in events} for v in firsts
        }
        for variant in firsts:  # one discarded process each: caches warm, bytecode written
            runner.first(variant, events[0])
        per = args.first_processes or (3 if quick else 5)
        # ours gets `per` processes per event in --quick too (they are cheap); the peers one per
        # event and pass, so each variant still gets at least 3 fresh processes
        for i in range(per):
            for j, event in enumerate(events):
                order = firsts[(i + j) % 4 :] + firsts[: (i + j) % 4]
                for variant in order:
                    if quick and variant in ("old", "peer") and i > 0:
                        continue
                    first[variant][event["name"]].append(runner.first(variant, event))
            print(f"  first-event pass {i + 1}/{per} done", file=sys.stderr)
        result["first"] = first
    result["loadavg_after"] = os.getloadavg()
    result["busy_after"] = busy_processes()
    result["seconds"] = round(time.monotonic() - started, 1)
    tmp.cleanup()
    return result


def site_dirs(python: str) -> list[str]:
    out = subprocess.run(
        [
            python,
            "-c",
            "import sys; print('\\n'.join(p for p in sys.path if p.endswith('site-packages')))",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [line for line in out.splitlines() if line]


# --- the report -----------------------------------------------------------------------------------


def pooled(procs: list[Any], key: str) -> tuple[float, float]:
    """Median of the per-process medians, and the highest per-process p99."""
    meds = [p["summaries"][key]["median_us"] for p in procs]
    p99s = [p["summaries"][key]["p99_us"] for p in procs]
    return statistics.median(meds), statistics.median(p99s)


def ratios(procs: list[Any], key: str, base: str) -> list[float]:
    return [p["summaries"][key]["median_us"] / p["summaries"][base]["median_us"] for p in procs]


def report(result: dict[str, Any]) -> str:
    lines: list[str] = []
    verdicts: list[tuple[str, str, str]] = []
    if "steady" in result:
        st = result["steady"]
        lines += [
            "| event (bytes) | implementation | median | p99 | to bare (same process) "
            "| spread over processes | ours vs it (ratio of ratios) |",
            "|---|---|---|---|---|---|---|",
        ]
        for ev in result["events"]:
            name = ev["name"]
            plain_bare = f"{name}/plain/bare"
            peer_bare = f"{name}/peer/bare"
            ours_r = statistics.median(ratios(st["ours"], f"{name}/plain/ours", plain_bare))
            ours_r_peer = statistics.median(ratios(st["ours"], f"{name}/peer/ours", peer_bare))
            old_r = statistics.median(ratios(st["old"], f"{name}/plain/old", plain_bare))
            peer_r = statistics.median(ratios(st["peer"], f"{name}/peer/peer", peer_bare))
            rows = [
                (
                    f"{name} ({ev['bytes']} B)",
                    "bare HMAC + json.loads (our processes)",
                    st["ours"],
                    plain_bare,
                    plain_bare,
                    None,
                ),
                (
                    "",
                    f"**{OURS}** `verify_event`",
                    st["ours"],
                    f"{name}/plain/ours",
                    plain_bare,
                    None,
                ),
                (
                    "",
                    "... `verify_signature` only",
                    st["ours"],
                    f"{name}/plain/verify_signature",
                    plain_bare,
                    None,
                ),
                (
                    "",
                    "... `decode_event` only",
                    st["ours"],
                    f"{name}/plain/decode_event",
                    plain_bare,
                    None,
                ),
                ("", "bare (0.32.0's processes)", st["old"], plain_bare, plain_bare, None),
                (
                    "",
                    f"{OLD} `validate_event`",
                    st["old"],
                    f"{name}/plain/old",
                    plain_bare,
                    ours_r / old_r,
                ),
                (
                    f"{name} + api_version etc. ({ev['peer_bytes']} B)",
                    "bare (our processes)",
                    st["ours"],
                    peer_bare,
                    peer_bare,
                    None,
                ),
                (
                    "",
                    f"**{OURS}** `verify_event`",
                    st["ours"],
                    f"{name}/peer/ours",
                    peer_bare,
                    None,
                ),
                ("", "bare (1.0.2's processes)", st["peer"], peer_bare, peer_bare, None),
                (
                    "",
                    f"{PEER} `validate_event`",
                    st["peer"],
                    f"{name}/peer/peer",
                    peer_bare,
                    ours_r_peer / peer_r,
                ),
            ]
            for label, impl, procs, key, base, vs in rows:
                med, p99 = pooled(procs, key)
                rs = ratios(procs, key, base)
                spread = f"{min(rs):.2f}-{max(rs):.2f}" if key != base else ""
                vs_text = f"**{vs:.2f}x**" if vs is not None else ""
                lines.append(
                    f"| {label} | {impl} | {med:.1f} us | {p99:.1f} us "
                    f"| {statistics.median(rs):.2f}x | {spread} | {vs_text} |"
                )
            fastest = min(old_r, peer_r)
            to_fast = (ours_r / old_r) if old_r <= peer_r else (ours_r_peer / peer_r)
            which = OLD if old_r <= peer_r else PEER
            verdicts.append(
                (
                    f"{name}: verify + decode <= {TARGETS['to_bare']:g}x bare HMAC + json.loads",
                    f"{ours_r:.2f}x",
                    "met" if ours_r <= TARGETS["to_bare"] else "**missed**",
                )
            )
            verdicts.append(
                (
                    f"{name}: <= {TARGETS['to_fastest_peer']:g}x the faster official SDK",
                    f"{to_fast:.2f}x of {which} ({OLD} {old_r:.2f}x bare, {PEER} "
                    f"{peer_r:.2f}x bare on its bytes; fastest {fastest:.2f}x)",
                    "met" if to_fast <= TARGETS["to_fastest_peer"] else "**missed**",
                )
            )
    if "first" in result:
        fr = result["first"]
        lines += [
            "",
            "| first event, fresh process (medians) | event | import | first call "
            "| import + first call | second call | processes |",
            "|---|---|---|---|---|---|---|",
        ]
        labels = {
            "ours": f"**{OURS}** (`import polar_sdk.webhooks`, `verify_event`)",
            "ours+client": f"{OURS}, `polar_sdk` already imported (an app using the client too)",
            "old": f"{OLD} (`import polar_sdk.webhooks`, `validate_event`)",
            "peer": f"{PEER} (`import polar.v2026_10.webhooks`, `validate_event`)",
        }
        for variant in ("ours", "ours+client", "old", "peer"):
            for name, runs in fr.get(variant, {}).items():
                if not runs:
                    continue
                imp = statistics.median(r["import_ms"] for r in runs)
                first = statistics.median(r["first_ms"] for r in runs)
                total = statistics.median(r["import_ms"] + r["first_ms"] for r in runs)
                second = statistics.median(r["second_ms"] for r in runs)
                lines.append(
                    f"| {labels[variant]} | {name} | {imp:.2f} ms | {first:.2f} ms "
                    f"| {total:.2f} ms | {second * 1000:.0f} us | {len(runs)} |"
                )
                if variant == "ours":
                    warm = fr.get("ours+client", {}).get(name) or []
                    also = ""
                    if warm:
                        w_imp = statistics.median(r["import_ms"] for r in warm)
                        w_first = statistics.median(r["first_ms"] for r in warm)
                        w_total = statistics.median(r["import_ms"] + r["first_ms"] for r in warm)
                        also = (
                            f"; with `polar_sdk` already imported {w_total:.2f} ms "
                            f"({w_imp:.2f} + {w_first:.2f})"
                        )
                    verdicts.append(
                        (
                            f"{name}: first event in a fresh process "
                            f"<= {TARGETS['first_event_ms']:g} ms",
                            f"{total:.2f} ms (import {imp:.2f} + first call {first:.2f}){also}",
                            "met" if total <= TARGETS["first_event_ms"] else "**missed**",
                        )
                    )
    lines += ["", "| target | this run | verdict |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in verdicts]
    return "\n".join(lines)


def profile(calls: int) -> None:
    """cProfile of our verify_event on each event (steady), then of a first event."""
    import cProfile
    import pstats

    events = build_events()
    from polar_sdk.webhooks import verify_event

    for event in events:
        body = event["body"].encode()
        headers = signed_headers(event, body)
        for _ in range(300):
            verify_event(body, headers, event["secret"])
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(calls):
            verify_event(body, headers, event["secret"])
        prof.disable()
        print(f"\n=== {event['name']}: {calls} calls of verify_event, by own time ===")
        pstats.Stats(prof).sort_stats("tottime").print_stats(18)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker-steady":
        _, _, variant, events_file, rounds, block_ms = sys.argv
        worker_steady(variant, events_file, int(rounds), float(block_ms))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "profile", "report"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--old-python",
        default=os.environ.get("BENCH_OLD_PYTHON"),
        help="the python of a venv holding polar-sdk==0.32.0",
    )
    parser.add_argument(
        "--sdk-ref",
        default="",
        help="measure this commit (git archive) instead of the working tree",
    )
    parser.add_argument("--only", default="", help="steady,first")
    parser.add_argument("--processes", type=int, default=0, help="steady processes per SDK")
    parser.add_argument("--first-processes", type=int, default=0, help="first-event passes")
    parser.add_argument("--calls", type=int, default=20000, help="profile: calls per event")
    parser.add_argument("--result", help="report: a result JSON to print the tables of")
    parser.add_argument("--out", help="write the result JSON here (default bench/results/)")
    args = parser.parse_args()
    if args.mode == "profile":
        profile(args.calls)
        return
    if args.mode == "report":
        print(report(json.loads(Path(args.result).read_text(encoding="utf-8"))))
        return
    if not args.old_python:
        raise SystemExit("--old-python: the python of a venv holding polar-sdk==0.32.0")
    result = run_all(args)
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}-webhooks{'-quick' if args.quick else ''}.json"
    if args.only:
        out = out.with_name(out.stem + "-" + args.only.replace(",", "-") + ".json")
    if args.out:
        out = Path(args.out).resolve()
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(report(result))
    print(f"\n{result['seconds']} s; written {out}")


if __name__ == "__main__":
    main()
