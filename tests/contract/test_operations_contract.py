"""Contract tests for every operation of the spec (186), called through `AsyncPolar`, on Prism.

For each operation (`tests/contract/operation_calls.py` builds the calls from the spec):

1. Valid calls (path/query parameters and body fields, values from the spec's examples, enums
   and formats) pass Prism's request validation (no `sl-violations` finding located on the
   request) on the static Prism, get the declared 2xx and decode. Every operation has a
   call with its required parameters only; one with every query parameter (repeated keys,
   the deepObject `metadata`, dates and date-times) where it has optional ones; and, with a
   body, `request=<model>` and keyword fields, each with the required fields and with every
   field. What the SDK put on the wire (path, query pairs, body, Authorization or none for
   public operations) is compared with what was planned.
2. Generated answers: the main call on a dynamic Prism (`-d`), `DYNAMIC_ANSWERS` decoded
   answers per operation with a JSON 2xx (the first page only for lists: generated page
   numbers are random, even negative). A ResponseDecodeError is a failure.
3. Every error status the operation declares, forced with `Prefer: code=N` on the static
   Prism, raises its `polar_sdk.errors` class with `status_code == N`.

Two dynamic Prism servers generate the answers. The session's plain one (`conftest.py`)
serves the Prism spec as is; it answers every operation whose 2xx schema reaches nothing the
generator's overlay corrects. The rest come from a dynamic Prism on the Prism spec with
the overlay applied (`codegen/openapi/overlay.py`: wire facts the spec lacks, such as the
`type` and `duration` of each discount shape, the client-registration answer) and with a
bounded `Filter` (`bounded_filter`, a generation hint). From the raw spec Prism writes
answers the server never sends (a discount tagged `fixed` carrying `basis_points`), which
the SDK, built from the overlay, rightly refuses. Both dynamic servers validate requests too.

Prism's own mistakes and the spec's gaps are handled by name in `QUIRKS` / `CALL_QUIRKS` /
`TRUNCATED_FILTER` (never by skipping): each says what happens, why it is outside the spec,
and how the operation is still covered; `test_each_quirk_still_happens` fails on a stale one.

All exchanges are made once, concurrently (`IN_FLIGHT`), by a module fixture; the tests read
the outcomes; the last test prints the coverage table.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import functools
import json
import textwrap
import time
import types
import typing
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

import polar_sdk.errors as sdk_errors
from codegen.openapi import ir
from codegen.openapi.build import apply_overlay
from codegen.openapi.overlay import Overlay
from polar_sdk import AsyncPolar
from polar_sdk.errors import (
    APIConnectionError,
    APIException,
    ResponseDecodeError,
)
from polar_sdk.models import DiscountPercentageCreate
from tests.conftest import TOKEN
from tests.contract.conftest import PrismPair
from tests.contract.dynamic_spec import truncated_filters
from tests.contract.operation_calls import (
    PlannedCall,
    body_schema_errors,
    plan_calls,
    prism_spec,
    spec_op,
)
from tests.contract.prism import PrismServer, PrismSetup, find_prism
from tests.spec_support import api, python_type, spec_path

pytestmark = [pytest.mark.contract]

TOTAL_OPERATIONS = 186
DYNAMIC_ANSWERS = 3
"""Generated answers that must decode, per operation with a JSON 2xx answer."""
MAX_DYNAMIC_ATTEMPTS = 15
"""Generated answers asked for at most per operation (some are excluded: TRUNCATED_FILTER)."""
TRUNCATION_PROBES = 20
"""Meter lists asked of the plain dynamic Prism at most, to show TRUNCATED_FILTER still happens."""
IN_FLIGHT = 8
"""Requests in flight at once, over the Prism servers."""

ERROR_CLASS_NAMES: dict[int, str] = {
    400: "BadRequestError",
    401: "AuthenticationError",
    402: "PaymentRequiredError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    410: "GoneError",
    412: "PreconditionFailedError",
    422: "HTTPValidationError",
    429: "RateLimitError",
}
"""The `polar_sdk.errors` class each declared error status must raise (5xx: ServerError)."""


# -- Prism quirks and spec gaps, by name ----------------------------------------------------


@dataclass(frozen=True)
class Quirk:
    name: str
    reason: str
    handling: str


STATIC_EXAMPLE_INVALID = Quirk(
    "static example breaks the spec",
    "the static Prism answers with the spec's own 2xx example and flags it in sl-violations "
    "(findings located on the response: checkout, product and subscription examples hold "
    "prices that match two oneOf members, a `product` where the schema wants null, ...)",
    "only findings located on the request count against the SDK; the example must still "
    "decode (the SDK picks union members by tag, not by 'exactly one schema matches'), and "
    "the operation's generated answers are decoded as well",
)
SPEC_EMPTY_SCHEMA = Quirk(
    "spec declares an empty answer schema",
    "OAuth2 dynamic client registration declares `200: {}` (no schema), so the static Prism "
    "answers no JSON object; the server answers the client's configuration (201 on create), "
    "which the overlay declares as OAuth2ClientRegistration",
    "the request is validated on the static Prism; the answer is decoded from the overlay Prism",
)
ONEOF_UNTAGGED = Quirk(
    "ambiguous oneOf rejects an untagged body",
    "DiscountCreate is oneOf[DiscountFixedCreate, DiscountPercentageCreate] whose `type` tags "
    "are optional and whose members allow extra properties, so a percentage body without "
    "`type` matches both members and Prism answers 422 'must match exactly one schema in "
    "oneOf' (the server, which dispatches on `type`, refuses it too)",
    "the SDK always sends the tag of such a member (codegen: _send_tags); the call "
    "`percentage-untagged` builds DiscountPercentageCreate(name, duration, basis_points) "
    "without naming `type`, and must send `type: percentage`, pass validation and decode",
)
TRUNCATED_FILTER = Quirk(
    "generated Filter truncated",
    "json-schema-faker expands the recursive Filter {conjunction, clauses: [FilterClause | "
    "Filter]} to its depth limit (seconds per answer) and then writes `{conjunction}` "
    "without the required `clauses` (see test_models_dynamic.PRISM_LIMITS)",
    "answers that reach a Filter come from the overlay Prism, whose spec bounds the nesting "
    "to two levels (`bounded_filter`: a generation hint, every answer is still a valid "
    "Filter); a truncated answer anyway is set aside and another asked for; the plain "
    "dynamic Prism is asked for meters until it shows the truncation (quirk test)",
)
RANDOM_PAGINATION = Quirk(
    "random pagination numbers",
    "the dynamic Prism writes random `pagination` numbers (even negative), so a pager would "
    "follow pages that do not exist",
    "list operations await the first page only and check its items against the answer",
)

QUIRKS: dict[str, Quirk] = dict.fromkeys(
    (
        "oauth2:clients:oauth2:create_client",
        "oauth2:clients:oauth2:get_client",
        "oauth2:clients:oauth2:update_client",
    ),
    SPEC_EMPTY_SCHEMA,
)
"""operation_id -> the quirk its valid call hits on the static Prism."""

UNTAGGED_CALL = "discounts:create:percentage-untagged"
CALL_QUIRKS: dict[str, Quirk] = {UNTAGGED_CALL: ONEOF_UNTAGGED}
"""call id -> the quirk that call exists to show."""


def _extra_calls(op: ir.Operation, calls: list[PlannedCall]) -> list[PlannedCall]:
    if op.operation_id != "discounts:create":
        return []
    body = {"name": "contract", "duration": "once", "basis_points": 1000}
    request = DiscountPercentageCreate(name="contract", duration="once", basis_points=1000)
    body["type"] = "percentage"  # what must go out: the tag, although nobody named it
    base = calls[0]
    return [
        PlannedCall(
            operation=op,
            label="percentage-untagged",
            path_args=(),
            query={},
            query_wire={},
            body=body,
            request=request,
            wire_path=base.wire_path,
        )
    ]


# -- recording exchanges --------------------------------------------------------------------


@dataclass
class Exchange:
    method: str
    path: str
    query: list[tuple[str, str]]
    content_type: str | None
    body: bytes
    authorization: bool
    status: int
    headers: httpx.Headers
    data: Any

    @property
    def all_violations(self) -> list[Any]:
        """Prism's `sl-violations` header: findings on the request and on its own answer."""
        raw = self.headers.get("sl-violations")
        if raw is None:
            return []
        return _parse_violations(raw)

    @property
    def violations(self) -> list[Any]:
        """Prism's findings on the request (its answer's findings are Prism's business)."""
        return [v for v in self.all_violations if v.get("location", [None])[0] == "request"]

    @property
    def response_violations(self) -> list[Any]:
        return [v for v in self.all_violations if v.get("location", [None])[0] == "response"]


TOO_MANY = "Too many violations!"


def _parse_violations(raw: str) -> list[Any]:
    """Prism's `sl-violations` header. Past a size Prism writes `Too many violations! [...]`
    and may cut the list short: then whether any finding is on the request is read from the
    text (a cut finding on the request is kept as an unreadable one, never dropped)."""
    text = raw[len(TOO_MANY) :].strip() if raw.startswith(TOO_MANY) else raw
    try:
        found: list[Any] = json.loads(text)
        return found
    except ValueError:
        pass
    if '"location":["request"' in text.replace(" ", "") or not text.startswith("["):
        return [{"location": ["request", "?"], "message": f"unreadable sl-violations: {raw[:300]}"}]
    return [{"location": ["response", "?"], "message": "findings on Prism's answer (cut short)"}]


_PREFER: contextvars.ContextVar[str | None] = contextvars.ContextVar("prefer", default=None)
_LOG: contextvars.ContextVar[list[Exchange] | None] = contextvars.ContextVar("log", default=None)


async def _on_request(request: httpx.Request) -> None:
    prefer = _PREFER.get()
    if prefer is not None:
        request.headers["Prefer"] = prefer


async def _on_response(response: httpx.Response) -> None:
    await response.aread()
    log = _LOG.get()
    if log is None:
        return
    request = response.request
    try:
        data = json.loads(response.content) if response.content else None
    except ValueError:
        data = None
    log.append(
        Exchange(
            method=request.method,
            path=request.url.path,
            query=parse_qsl(request.url.query.decode(), keep_blank_values=True),
            content_type=request.headers.get("content-type"),
            body=request.content,
            authorization="authorization" in request.headers,
            status=response.status_code,
            headers=response.headers,
            data=data,
        )
    )


def _http_client() -> httpx.AsyncClient:
    # The request hook adds the task's `Prefer`; the response hook files the exchange in the
    # task's log (each task of the task group runs in its own copy of the context).
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=5.0),
        trust_env=False,
        # Idle connections are dropped well before Node's 5 s keep-alive timeout, so a request
        # never races Prism closing the connection it was about to reuse.
        limits=httpx.Limits(max_connections=IN_FLIGHT * 2, keepalive_expiry=1.0),
        event_hooks={"request": [_on_request], "response": [_on_response]},
    )


@dataclass
class Outcome:
    """One SDK call and what happened: the exchanges, the result or the exception."""

    call: PlannedCall
    server: str  # "static" / "overlay"
    prefer: str | None
    exchanges: list[Exchange]
    result: Any = None
    error: BaseException | None = None

    @property
    def exchange(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None

    def describe(self) -> str:
        x = self.exchange
        sent = "nothing sent" if x is None else f"{x.method} {x.path} -> {x.status}"
        err = "" if self.error is None else f"; raised {type(self.error).__name__}: {self.error}"
        found = ""
        if x is not None and x.violations:
            brief = [{k: v.get(k) for k in ("location", "message")} for v in x.violations]
            found = "; sl-violations: " + json.dumps(brief)[:600]
        prefer = f" ({self.prefer})" if self.prefer else ""
        return f"{self.call.id} on {self.server}{prefer}: {sent}{err}{found}"


@dataclass
class Results:
    valid: dict[str, list[Outcome]] = field(default_factory=dict[str, list[Outcome]])
    """op id -> every planned call on the static Prism (quirk calls included)."""
    valid_overlay: dict[str, list[Outcome]] = field(default_factory=dict[str, list[Outcome]])
    """op id -> the valid calls of QUIRKS operations, on the overlay Prism."""
    dynamic: dict[str, list[Outcome]] = field(default_factory=dict[str, list[Outcome]])
    """op id -> generated answers that count (TRUNCATED_FILTER ones are not here)."""
    truncated: Counter[str] = field(default_factory=Counter[str])
    """op id -> generated answers set aside for a truncated Filter."""
    errors: dict[tuple[str, int], Outcome] = field(default_factory=dict[tuple[str, int], Outcome])
    seconds: float = 0.0
    requests: int = 0
    truncation_probe: list[int] = field(default_factory=lambda: [0, 0])
    """Meter lists asked of the plain dynamic Prism, and how many had a truncated Filter."""
    dropped: Counter[str] = field(default_factory=Counter[str])
    """Calls made again because Prism dropped the connection (by server and error)."""


async def _attempt(
    polar: AsyncPolar, server: str, call: PlannedCall, prefer: str | None
) -> Outcome:
    log: list[Exchange] = []
    _LOG.set(log)
    _PREFER.set(prefer)
    outcome = Outcome(call=call, server=server, prefer=prefer, exchanges=log)
    try:
        outcome.result = await call.invoke(polar)
    except Exception as exc:  # judged by the tests
        outcome.error = exc
    return outcome


def _has_json_answer(op: ir.Operation) -> bool:
    return any(r.kind == "json" for r in op.responses)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref.rsplit("/", 1)[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@functools.cache
def _overlay_patched() -> frozenset[str]:
    overlay = Overlay.polar()
    return frozenset(overlay.schema_patches) | frozenset(overlay.extra_schemas)


def needs_overlay(op: ir.Operation) -> bool:
    """Whether the spec's 2xx answer of `op` reaches a schema the overlay corrects, or the
    recursive `Filter` (see `bounded_filter`).

    Those answers come from the overlay Prism; every other one from the session's plain
    dynamic Prism (the same answers, and the load is shared by two Prism processes).
    """
    if op.operation_id in Overlay.polar().response_patches:
        return True
    schemas = prism_spec()["components"]["schemas"]
    responses = spec_op(prism_spec(), op)["responses"]
    todo = [r for code, r in responses.items() if code.startswith("2")]
    seen: set[str] = set()
    found = list(_refs(todo))
    while found:
        name = found.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        found.extend(_refs(schemas[name]))
    return bool(seen & (_overlay_patched() | {"Filter"}))


async def _run_all(
    static_url: str, dynamic_url: str, overlay_url: str, plans: dict[str, list[PlannedCall]]
) -> Results:
    results = Results()
    semaphore = asyncio.Semaphore(IN_FLIGHT)
    ops = {op.operation_id: op for op in api().operations}
    async with (
        _http_client() as static_http,
        _http_client() as dynamic_http,
        _http_client() as overlay_http,
        AsyncPolar(TOKEN, base_url=static_url, http_client=static_http, retry=None) as static,
        AsyncPolar(TOKEN, base_url=dynamic_url, http_client=dynamic_http, retry=None) as dynamic,
        AsyncPolar(TOKEN, base_url=overlay_url, http_client=overlay_http, retry=None) as overlay,
    ):
        clients = {"static": static, "dynamic": dynamic, "overlay": overlay}

        async def one(server: str, call: PlannedCall, prefer: str | None = None) -> Outcome:
            async with semaphore:
                # A task of its own: its context (Prefer, log) is a copy, seen by the hooks.
                for _ in range(3):
                    results.requests += 1
                    outcome = await asyncio.create_task(
                        _attempt(clients[server], server, call, prefer)
                    )
                    dropped = (
                        isinstance(outcome.error, APIConnectionError) and not outcome.exchanges
                    )
                    if not dropped:
                        break
                    # Prism (not the SDK) dropped the connection; the call is made again.
                    results.dropped[f"{server} {type(outcome.error).__name__}"] += 1
                return outcome

        async def usable(call: PlannedCall, wanted: int) -> tuple[list[Outcome], int]:
            """`wanted` answers from a dynamic Prism without a truncated Filter (in rounds of
            concurrent calls, at most MAX_DYNAMIC_ATTEMPTS), and how many were set aside."""
            server = "overlay" if needs_overlay(call.operation) else "dynamic"
            found: list[Outcome] = []
            asked = set_aside = 0
            while len(found) < wanted and asked < MAX_DYNAMIC_ATTEMPTS:
                count = min(wanted - len(found), MAX_DYNAMIC_ATTEMPTS - asked)
                asked += count
                for outcome in await asyncio.gather(*(one(server, call) for _ in range(count))):
                    x = outcome.exchange
                    if x is not None and truncated_filters(x.data):
                        set_aside += 1
                    else:
                        found.append(outcome)
            return found[:wanted], set_aside

        async def valid(op_id: str, calls: list[PlannedCall]) -> None:
            outcomes = await asyncio.gather(*(one("static", c) for c in calls))
            results.valid[op_id] = list(outcomes)
            if op_id in QUIRKS:
                again = [c for c in calls if c.id not in CALL_QUIRKS]
                rounds = await asyncio.gather(*(usable(c, 1) for c in again))
                results.valid_overlay[op_id] = [o for found, _ in rounds for o in found]
                results.truncated[op_id] += sum(n for _, n in rounds)

        async def generated(op_id: str, call: PlannedCall) -> None:
            found, set_aside = await usable(call, DYNAMIC_ANSWERS)
            results.dynamic[op_id] = found
            results.truncated[op_id] += set_aside

        async def truncation_probe(call: PlannedCall) -> None:
            """The plain dynamic Prism's meter answers, until one has a truncated Filter."""
            for _ in range(TRUNCATION_PROBES):
                outcome = await one("dynamic", call)
                results.truncation_probe[0] += 1
                x = outcome.exchange
                if x is not None and truncated_filters(x.data):
                    results.truncation_probe[1] += 1
                    return

        async def error(op_id: str, status: int, call: PlannedCall) -> None:
            results.errors[op_id, status] = await one("static", call, f"code={status}")

        jobs = []
        # The slowest answers to generate first (big recursive schemas), so they overlap the rest.
        for op_id in sorted(plans, key=lambda o: (o.split(":")[0] not in _SLOW, o)):
            calls = plans[op_id]
            op = ops[op_id]
            if _has_json_answer(op):
                jobs.append(generated(op_id, calls[0]))
            jobs.append(valid(op_id, calls))
            jobs.extend(error(op_id, status, calls[0]) for status, _ in op.errors)
        jobs.append(truncation_probe(plans["meters:list"][0]))
        started = time.monotonic()
        await asyncio.gather(*jobs)
        results.seconds = time.monotonic() - started
    return results


_SLOW = frozenset({"subscriptions", "meters", "customer_meters", "oauth2", "organizations"})
"""Resources whose generated answers take Prism seconds (meter filters, big objects)."""


def bounded_filter(doc: dict[str, Any]) -> None:
    """Let Prism generate a `Filter` two levels deep at most (a generation hint, in place).

    `Filter.clauses[]` is `FilterClause | Filter`. json-schema-faker expands that recursion
    to its depth limit (seconds per subscription answer) and then writes a truncated Filter
    (TRUNCATED_FILTER). Here a nested Filter's clauses are plain clauses only: every answer
    is still a valid `Filter` of the spec (a subset), nesting is still generated, and the
    answers with meters come fast and whole. Only the overlay Prism gets this hint.
    """
    schemas = doc["components"]["schemas"]
    nested = copy.deepcopy(schemas["Filter"])
    nested["properties"]["clauses"]["items"] = {"$ref": "#/components/schemas/FilterClause"}
    nested["title"] = "Filter"
    schemas["ContractNestedFilter"] = nested
    items = schemas["Filter"]["properties"]["clauses"]["items"]["anyOf"]
    assert {"$ref": "#/components/schemas/Filter"} in items, "Filter is no longer recursive"
    items[items.index({"$ref": "#/components/schemas/Filter"})] = {
        "$ref": "#/components/schemas/ContractNestedFilter"
    }


def _overlay_spec_file(folder: Path) -> Path:
    """The Prism spec with the generator's overlay applied (what the models are built from)."""
    doc = apply_overlay(copy.deepcopy(prism_spec()), Overlay.polar())
    bounded_filter(doc)
    target = folder / "2026-10.overlay.prism.json"
    target.write_text(json.dumps(doc), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def plans() -> dict[str, list[PlannedCall]]:
    if spec_path() is None:
        pytest.skip("POLAR_OPENAPI_SPEC is not set; point it at ../shared/polar-openapi")
    found: dict[str, list[PlannedCall]] = {}
    for op in api().operations:
        calls = plan_calls(op)
        found[op.operation_id] = calls + _extra_calls(op, calls)
    return found


@pytest.fixture(scope="module")
def overlay_prism(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrismServer]:
    """A dynamic Prism on the overlay-patched Prism spec (see the module docstring)."""
    folder = tmp_path_factory.mktemp("prism-overlay")
    setup = find_prism()
    server = PrismServer(
        PrismSetup(setup.binary, _overlay_spec_file(folder)),
        dynamic=True,
        log_path=folder / "overlay.log",
    )
    try:
        server.start()  # boots while the session's two Prism servers boot
        request.getfixturevalue("prism")
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def results(
    overlay_prism: PrismServer, prism: PrismPair, plans: dict[str, list[PlannedCall]]
) -> Results:
    return asyncio.run(_run_all(prism.static.url, prism.dynamic.url, overlay_prism.url, plans))


# -- checks ---------------------------------------------------------------------------------


def _op_ids(*, json_only: bool = False) -> list[str]:
    if spec_path() is None:
        return ["no-spec"]
    return [op.operation_id for op in api().operations if not json_only or _has_json_answer(op)]


def _error_params() -> list[Any]:
    if spec_path() is None:
        return [pytest.param("no-spec", 0, id="no-spec")]
    return [
        pytest.param(op.operation_id, status, id=f"{op.operation_id}:{status}")
        for op in api().operations
        for status, _ in op.errors
    ]


def _classes(tp: Any) -> tuple[type[Any], ...]:
    """The runtime classes a value of the (possibly union) Python type `tp` may have."""
    origin = typing.get_origin(tp)
    if origin is None:
        return (tp,) if isinstance(tp, type) else ()
    if origin in (typing.Union, types.UnionType):
        found: list[type[Any]] = []
        for arg in typing.get_args(tp):
            found.extend(_classes(arg))
        return tuple(found)
    if isinstance(origin, type):
        return (origin,)
    # A `type X = A | B` alias or an Annotated union: look at its arguments.
    found = []
    for arg in typing.get_args(tp):
        found.extend(_classes(arg))
    return tuple(found)


def _norm(value: Any) -> Any:
    """JSON values with date-times compared as instants (`Z` vs `+00:00`)."""
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def _expected_query(call: PlannedCall) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    params = {p.name: p for p in call.operation.params}
    for name, value in call.query_wire.items():
        if params[name].style == "deepObject":
            for key, item in value.items():
                pairs.append((f"{name}[{key}]", _scalar(item)))
        elif isinstance(value, list):
            pairs.extend((name, _scalar(v)) for v in value)
        else:
            pairs.append((name, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _sent_body(x: Exchange) -> Any:
    if not x.body:
        return None
    if x.content_type and "x-www-form-urlencoded" in x.content_type:
        return dict(parse_qsl(x.body.decode(), keep_blank_values=True))
    return json.loads(x.body)


def _planned_body(call: PlannedCall) -> Any:
    op = call.operation
    if op.body is not None and op.body.media_type == "application/x-www-form-urlencoded":
        return {k: _scalar(v) for k, v in call.body.items()}
    return call.body


def _decode_problem(outcome: Outcome) -> str | None:
    """Why the outcome is not a decoded 2xx result of its operation (None: it is)."""
    op = outcome.call.operation
    x = outcome.exchange
    if outcome.error is not None:
        return outcome.describe()
    assert x is not None
    statuses = {r.status for r in op.responses}
    if x.status not in statuses:
        return f"{outcome.describe()}: status {x.status} not in {sorted(statuses)}"
    response = next(r for r in op.responses if r.status == x.status)
    result = outcome.result
    if response.kind == "none":
        return None if result is None else f"{outcome.call.id}: result {result!r} for a {x.status}"
    if response.kind == "text":
        return (
            None if isinstance(result, str) else f"{outcome.call.id}: text result is {type(result)}"
        )
    assert response.type is not None
    if op.pagination is not None:
        items = getattr(result, "items", None)
        if items is None or getattr(result, "pagination", None) is None:
            return (
                f"{outcome.call.id}: first page has no items/pagination ({type(result).__name__})"
            )
        if not isinstance(x.data, dict) or len(items) != len(x.data.get("items", ())):
            return f"{outcome.call.id}: {len(items)} items decoded, the answer has another count"
        return None
    classes = _classes(python_type(response.type))
    if classes and not isinstance(result, classes):
        names = ", ".join(c.__name__ for c in classes)
        return f"{outcome.call.id}: decoded {type(result).__name__}, expected one of {names}"
    return None


def _request_problems(outcome: Outcome) -> list[str]:
    """What is wrong with the request the SDK sent for a valid call."""
    call = outcome.call
    op = call.operation
    if not outcome.exchanges:
        return [f"nothing sent: {outcome.describe()}"]
    problems: list[str] = []
    if len(outcome.exchanges) != 1:
        problems.append(f"{len(outcome.exchanges)} exchanges (retries are off)")
    x = outcome.exchanges[-1]
    if (x.method, x.path) != (op.method, call.wire_path):
        problems.append(f"sent {x.method} {x.path}, expected {op.method} {call.wire_path}")
    if x.violations:
        problems.append("Prism found the request invalid: " + outcome.describe())
    if sorted(x.query) != sorted(_expected_query(call)):
        problems.append(f"query sent {sorted(x.query)}, planned {sorted(_expected_query(call))}")
    planned = _planned_body(call)
    if planned == {} and call.request is None and op.body is not None and not op.body.required:
        planned = None  # no keyword given for an optional body: nothing is sent
    if _norm(_sent_body(x)) != _norm(planned):
        problems.append(f"body sent {_sent_body(x)!r:.500}, planned {_planned_body(call)!r:.500}")
    if x.authorization != bool(op.security):
        problems.append(f"Authorization sent: {x.authorization}, security {op.security}")
    return problems


@functools.cache
def _registry() -> Registry[Any]:
    resource = Resource(contents=prism_spec(), specification=DRAFT202012)
    return Registry().with_resource("urn:polar:prism-spec", resource)


def _schema_errors(ref: str, data: Any) -> list[str]:
    validator = Draft202012Validator({"$ref": f"urn:polar:prism-spec{ref}"}, registry=_registry())
    return [
        f"$/{'/'.join(map(str, e.absolute_path))}: {e.message[:150]}"
        for e in validator.iter_errors(data)
    ]


def valid_call_problems(results: Results, op_id: str) -> list[str]:
    """Everything wrong with the valid calls of `op_id` (empty: the operation is covered)."""
    quirk = QUIRKS.get(op_id)
    outcomes = results.valid.get(op_id, [])
    if not outcomes:
        return [f"{op_id}: no valid call was made"]
    problems: list[str] = []
    for outcome in outcomes:
        call = outcome.call
        if call.body is not None:
            errors = body_schema_errors(call.operation, call.body)
            problems += [f"{call.id}: the planned body is invalid: {e}" for e in errors]
        problems += [f"{call.id}: {p}" for p in _request_problems(outcome)]
        if quirk is None:
            decode = _decode_problem(outcome)
            if decode is not None:
                problems.append(decode)
            continue
        x = outcome.exchange  # a quirk: the static answer only has to be a 2xx
        if x is not None and not 200 <= x.status < 300:
            problems.append(f"{call.id}: static answer {x.status}: {outcome.describe()}")
        if outcome.error is not None and not isinstance(outcome.error, ResponseDecodeError):
            problems.append(f"{call.id}: {outcome.describe()}")
    if quirk is not None:
        wanted = [o.call.id for o in outcomes if o.call.id not in CALL_QUIRKS]
        found = results.valid_overlay.get(op_id, [])
        if sorted(o.call.id for o in found) != sorted(wanted):
            problems.append(f"{op_id}: overlay Prism answered {len(found)} of {len(wanted)} calls")
        for outcome in found:
            problems += [f"{outcome.call.id} (overlay): {p}" for p in _request_problems(outcome)]
            decode = _decode_problem(outcome)
            if decode is not None:
                problems.append(decode)
    return problems


def dynamic_problems(results: Results, op_id: str) -> list[str]:
    outcomes = results.dynamic.get(op_id, [])
    problems: list[str] = []
    if len(outcomes) < DYNAMIC_ANSWERS:
        problems.append(
            f"{op_id}: {len(outcomes)} usable generated answers of {MAX_DYNAMIC_ATTEMPTS} asked "
            f"({results.truncated[op_id]} set aside: truncated Filter)"
        )
    for outcome in outcomes:
        x = outcome.exchange
        if x is not None and x.violations:
            problems.append(f"the dynamic Prism found the request invalid: {outcome.describe()}")
        decode = _decode_problem(outcome)
        if decode is not None:
            problems.append(decode)
    return problems


def expected_error_class(status: int) -> type[APIException] | str:
    """The class a declared error status must raise, or why it cannot be named."""
    if status >= 500:
        return sdk_errors.ServerError
    name = ERROR_CLASS_NAMES.get(status)
    if name is None:
        return APIException
    cls = getattr(sdk_errors, name, None)
    if cls is None:
        return f"polar_sdk.errors has no {name} (for {status})"
    found: type[APIException] = cls
    return found


def error_problems(results: Results, op_id: str, status: int) -> list[str]:
    outcome = results.errors.get((op_id, status))
    if outcome is None:
        return [f"{op_id}: no call made for {status}"]
    x = outcome.exchange
    if x is None:
        return [f"nothing sent: {outcome.describe()}"]
    problems: list[str] = []
    if x.violations:
        problems.append(f"Prism found the request invalid: {outcome.describe()}")
    if x.status != status:
        problems.append(f"Prism answered {x.status}, asked for {status}")
    expected = expected_error_class(status)
    if isinstance(expected, str):
        problems.append(expected)
        expected = APIException
    error = outcome.error
    if type(error) is not expected:
        problems.append(
            f"raised {type(error).__name__}, expected {expected.__name__}: {outcome.describe()}"
        )
    elif getattr(error, "status_code", None) != status:
        problems.append(f"status_code {getattr(error, 'status_code', None)}, expected {status}")
    return problems


# -- tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("op_id", _op_ids())
def test_valid_call_passes_prism_validation_and_decodes(results: Results, op_id: str) -> None:
    problems = valid_call_problems(results, op_id)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("op_id", _op_ids(json_only=True))
def test_generated_answers_decode(results: Results, op_id: str) -> None:
    problems = dynamic_problems(results, op_id)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("op_id", "status"), _error_params())
def test_declared_error_status_raises_its_class(results: Results, op_id: str, status: int) -> None:
    problems = error_problems(results, op_id, status)
    assert not problems, "\n".join(problems)


def _quirk_params() -> list[Any]:
    return [pytest.param(key, id=key) for key in [*sorted(QUIRKS), *sorted(CALL_QUIRKS)]] + [
        pytest.param("static-examples", id="static-examples"),
        pytest.param("truncated-filter", id="truncated-filter"),
        pytest.param("random-pagination", id="random-pagination"),
    ]


@pytest.mark.parametrize("key", _quirk_params())
def test_each_quirk_still_happens(results: Results, key: str) -> None:
    """A quirk Prism no longer shows must leave the tables (it would hide nothing then)."""
    if key == "truncated-filter":
        asked, found = results.truncation_probe
        assert found, f"no truncated Filter in {asked} generated meter lists: drop the quirk"
        return
    if key == "random-pagination":
        pages = [
            o.exchange.data["pagination"]
            for outs in results.dynamic.values()
            for o in outs
            if o.exchange is not None
            and isinstance(o.exchange.data, dict)
            and isinstance(o.exchange.data.get("pagination"), dict)
        ]
        assert any(any(isinstance(v, int) and v < 0 for v in p.values()) for p in pages), (
            "no generated page has a negative number any more"
        )
        return
    if key == "static-examples":
        flagged = set(static_example_findings(results))
        named = {"checkouts:get", "products:get", "subscriptions:get"}
        assert named <= flagged, f"no findings on the static examples of {named - flagged}"
        return
    if key in CALL_QUIRKS:
        op_id = key.rsplit(":", 1)[0]
        (outcome,) = [o for o in results.valid[op_id] if o.call.id == key]
        assert outcome.exchange is not None, outcome.describe()
        sent = _sent_body(outcome.exchange)
        assert isinstance(sent, dict) and sent.get("type") == "percentage", sent
        assert not outcome.exchange.violations, outcome.describe()
        return
    assert QUIRKS[key] is SPEC_EMPTY_SCHEMA
    statics = [o for o in results.valid[key] if o.call.id not in CALL_QUIRKS]
    failed = [o for o in statics if isinstance(o.error, ResponseDecodeError)]
    assert failed, f"{key}: the static answer now decodes; drop the quirk"
    declared = spec_op(prism_spec(), failed[0].call.operation)["responses"]
    schemas = [
        c.get("schema", {}) for r in declared.values() for c in r.get("content", {}).values()
    ]
    assert {} in schemas, f"{key}: the spec now declares the answer's schema"


def static_example_findings(results: Results) -> list[str]:
    """Operations whose static 2xx answer Prism flags as outside the spec."""
    return sorted(
        op_id
        for op_id, outcomes in results.valid.items()
        if any(
            o.exchange is not None
            and 200 <= o.exchange.status < 300
            and o.exchange.response_violations
            for o in outcomes
        )
    )


def test_coverage_table(results: Results, capsys: pytest.CaptureFixture[str]) -> None:
    ops = api().operations
    valid_ok = [op.operation_id for op in ops if not valid_call_problems(results, op.operation_id)]
    json_ops = [op.operation_id for op in ops if _has_json_answer(op)]
    dyn_ok = [o for o in json_ops if not dynamic_problems(results, o)]
    error_keys = [(op.operation_id, s) for op in ops for s, _ in op.errors]
    err_ok = [k for k in error_keys if not error_problems(results, *k)]
    by_status = Counter(s for _, s in error_keys)
    ok_status = Counter(s for _, s in err_ok)
    calls = sum(len(v) for v in results.valid.values())
    decoded = sum(len(v) for v in results.dynamic.values())
    lines = [
        "",
        "=" * 80,
        f"Prism contract coverage: {len(ops)} operations, {results.requests} SDK calls in "
        f"{results.seconds:.1f} s",
        f"  valid call passes validation + decodes : {len(valid_ok):>3}/{len(ops)}"
        f"  ({calls} calls: minimal, full-query, request= / keywords with required or all fields)",
        f"  generated answers decode (x{DYNAMIC_ANSWERS})        : {len(dyn_ok):>3}/{len(json_ops)}"
        f"  ({decoded} answers; the other {len(ops) - len(json_ops)} operations answer "
        "204/202/CSV)",
        f"  declared error statuses raised right   : {len(err_ok):>3}/{len(error_keys)}",
        "      " + ", ".join(f"{s}: {ok_status[s]}/{n}" for s, n in sorted(by_status.items())),
        f"  calls made again (Prism dropped the connection): {dict(results.dropped) or 0}",
        "  quirks handled by name:",
    ]
    named = [
        (STATIC_EXAMPLE_INVALID, static_example_findings(results)),
        (SPEC_EMPTY_SCHEMA, sorted(QUIRKS)),
    ]
    named += [
        (ONEOF_UNTAGGED, [UNTAGGED_CALL]),
        (TRUNCATED_FILTER, [f"answers with meters ({sum(results.truncated.values())} set aside)"]),
        (RANDOM_PAGINATION, ["list operations"]),
    ]
    for quirk, where in named:
        lines.append(f"    - {quirk.name}: {', '.join(where)}")
        lines += textwrap.wrap(
            f"why: {quirk.reason}", width=96, initial_indent=" " * 8, subsequent_indent=" " * 8
        )
        lines += textwrap.wrap(
            f"how: {quirk.handling}", width=96, initial_indent=" " * 8, subsequent_indent=" " * 8
        )
    failing = sorted(
        {op.operation_id for op in ops} - set(valid_ok)
        | (set(json_ops) - set(dyn_ok))
        | {o for o, _ in set(error_keys) - set(err_ok)}
    )
    lines.append(f"  operations with a failure: {', '.join(failing) or 'none'}")
    lines.append("=" * 80)
    with capsys.disabled():
        print("\n".join(lines))
    assert len(ops) == TOTAL_OPERATIONS
    assert len(valid_ok) == len(ops), (
        f"valid calls failing: {sorted({o.operation_id for o in ops} - set(valid_ok))}"
    )
    assert len(dyn_ok) == len(json_ops), (
        f"generated answers failing: {sorted(set(json_ops) - set(dyn_ok))}"
    )
    assert len(err_ok) == len(error_keys), (
        f"error statuses failing: {sorted(set(error_keys) - set(err_ok))}"
    )
