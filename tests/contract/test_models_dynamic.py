"""Prism as a fuzzer of the response schemas: generated answers of every operation round-trip.

For every operation whose 2xx answer has a JSON schema, a dynamic Prism (`prism mock -d`)
generates answers until there are at least `MIN_ANSWERS` usable ones. Each must decode with
the operation's declared type (`structure`) and encode back (`unstructure`) to the answer
minus the keys the schemas do not declare (`Declared` in `dynamic_spec.py` works that out by
walking the spec schema, the answer and the decoded model together). The SDK's converter
interprets the first decodes of a model type and compiles the type after that, so every answer
is checked once more after its types have been decoded often enough to be compiled.

Prism runs on a derived copy of the Prism spec, written to a temporary folder, in which no
operation has parameters, a body or security (and the generator's schema patches apply):
Prism then validates nothing, and any request to a path gets a generated answer, its status
asked for with `Prefer: code=<status>`. Building a valid request for every operation is not
the point here; the SDK's requests are covered by `test_contract.py`. All answers are fetched
once per session, `IN_FLIGHT` requests at a time.

Answers Prism generates outside the schema in a way the SDK cannot be asked to decode are
excluded narrowly (`PRISM_LIMITS`): only when the answer is detectably of that kind, only after
an independent JSON Schema validator confirms it is invalid, and only if the same answer with
the faulty parts cut out does decode and round-trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from codegen.openapi import ir
from polar_sdk import _converter
from polar_sdk.errors import ResponseDecodeError
from polar_sdk.models import structure, unstructure
from tests.contract.dynamic_spec import (
    FILTER_TAG,
    SUMMARY,
    Declared,
    FuzzSummary,
    SpecValidator,
    Undecidable,
    concrete_path,
    first_difference,
    response_schema,
    truncated_filters,
    without_truncated_filters,
    write_derived_spec,
)
from tests.contract.prism import PrismServer, PrismSetup, find_prism
from tests.spec_support import api, python_type, spec, spec_path, wire_spec

pytestmark = [pytest.mark.contract, pytest.mark.heavy]

MIN_ANSWERS = 10
"""Usable generated answers that must decode and round-trip, per operation."""
FIRST_BATCH = 12
"""Answers asked for per operation at first; operations short of usable ones get more."""
MAX_ANSWERS = 80
"""Answers asked for per operation at most."""
IN_FLIGHT = 8
"""Requests sent to Prism at once."""
COMPILE_AFTER: int = getattr(_converter, "_COMPILE_AFTER", 32)
"""Decodes of a model type before the converter compiles it (then each answer is re-checked)."""

TRUNCATED_FILTER = "Filter.clauses[] truncated"
PRISM_LIMITS: dict[str, str] = {
    # Meter.filter is the recursive `Filter {conjunction, clauses: [FilterClause | Filter]}`.
    # json-schema-faker (Prism 5.16) stops expanding the recursion at its depth limit and then
    # writes a nested Filter as `{"conjunction": "and"}`: no `clauses`, which Filter requires,
    # so the object fits neither member of `clauses[]` (JSON Schema says so too) and the SDK
    # rightly refuses it ("required field missing @ ...filter.clauses.property"). About a
    # third of the answers with a meter (meters:*, customer_meters:*, subscriptions:*) have
    # one. Such an answer is checked again with those clauses cut out, and must pass then.
    TRUNCATED_FILTER: "json-schema-faker truncates the recursive Filter schema",
}
"""Generated answers Prism gets wrong, excluded narrowly: each kind, and why."""


@dataclass(frozen=True)
class Target:
    """One operation's JSON 2xx answer, and the request that asks Prism for it."""

    operation: ir.Operation
    status: int
    type: ir.TypeExpr
    path: str

    @property
    def id(self) -> str:
        return self.operation.operation_id


def _targets() -> list[Target]:
    found: list[Target] = []
    for op in api().operations:
        for response in op.responses:
            if response.kind == "json" and response.type is not None:
                found.append(Target(op, response.status, response.type, concrete_path(op)))
    return found


def _ir_name(tp: ir.TypeExpr) -> str:
    """A short name for a response type: `Event`, `ListResource[Customer]`."""
    if isinstance(tp, ir.Named):
        args = ", ".join(_ir_name(a) for a in tp.args)
        return f"{tp.name}[{args}]" if args else tp.name
    if isinstance(tp, ir.ListOf):
        return f"list[{_ir_name(tp.item)}]"
    return repr(tp)


def _require_spec() -> None:
    if spec_path() is None:
        pytest.skip("POLAR_OPENAPI_SPEC is not set; point it at ../shared/polar-openapi")


def _target_params() -> list[Any]:
    # Collection needs the spec; without it (outside CI) one placeholder skips with the reason.
    if spec_path() is None:
        return [pytest.param(None, id="no-spec")]
    return [pytest.param(t, id=t.id) for t in _targets()]


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    data: Any

    def usable(self, status: int) -> bool:
        """The asked-for status, JSON, and none of Prism's known faults."""
        return (
            self.status == status
            and "json" in self.content_type
            and truncated_filters(self.data) == 0
        )


@dataclass
class Fuzz:
    """The session's generated answers, by operation id, and the summary being filled."""

    answers: dict[str, list[Answer]]
    doc: dict[str, Any]
    validator: SpecValidator
    summary: FuzzSummary


async def _fetch_all(url: str, targets: list[Target]) -> dict[str, list[Answer]]:
    """`FIRST_BATCH` answers per target, then more for targets short of usable ones."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    timeout = httpx.Timeout(30.0, connect=5.0)
    answers: dict[str, list[Answer]] = {t.id: [] for t in targets}
    async with httpx.AsyncClient(
        base_url=url, limits=limits, timeout=timeout, trust_env=False
    ) as client:

        async def one(target: Target) -> Answer:
            async with gate:
                response = await client.request(
                    target.operation.method,
                    target.path,
                    headers={"Prefer": f"code={target.status}", "Accept": "application/json"},
                )
            try:
                data = response.json()
            except ValueError:
                data = response.text
            return Answer(response.status_code, response.headers.get("content-type", ""), data)

        wanted = {t.id: FIRST_BATCH for t in targets}
        while wanted:
            jobs = [t for t in targets for _ in range(wanted.get(t.id, 0))]
            results = await asyncio.gather(*(one(t) for t in jobs))
            for target, answer in zip(jobs, results, strict=True):
                answers[target.id].append(answer)
            wanted = {}
            for t in targets:
                got = answers[t.id]
                short = MIN_ANSWERS - sum(a.usable(t.status) for a in got)
                if short > 0 and len(got) < MAX_ANSWERS:
                    wanted[t.id] = min(short + 2, MAX_ANSWERS - len(got))
    return answers


@pytest.fixture(scope="session")
def fuzz_prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismServer]:
    """A dynamic Prism on the derived spec (no parameters, bodies or security)."""
    setup = find_prism()
    folder = tmp_path_factory.mktemp("prism-fuzz")
    derived = write_derived_spec(setup.spec, folder)
    server = PrismServer(
        PrismSetup(setup.binary, derived), dynamic=True, log_path=folder / "prism.log"
    )
    try:
        server.start()
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fuzz(fuzz_prism: PrismServer, pytestconfig: pytest.Config) -> Fuzz:
    targets = _targets()
    started = time.monotonic()
    answers = asyncio.run(_fetch_all(fuzz_prism.url, targets))
    summary = FuzzSummary(
        planned=len(targets),
        fetched={op_id: len(got) for op_id, got in answers.items()},
        seconds=time.monotonic() - started,
    )
    pytestconfig.stash[SUMMARY] = summary
    doc: dict[str, Any] = json.loads(fuzz_prism.setup.spec.read_text(encoding="utf-8"))
    return Fuzz(answers, doc, SpecValidator(doc), summary)


def test_every_json_answer_of_the_spec_is_fuzzed() -> None:
    """The targets are exactly the operations with a JSON schema on a 2xx answer."""
    _require_spec()
    declared: set[tuple[str, int]] = set()
    for item in wire_spec()["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            for code, answer in responses.items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                # `{}` (any JSON) declares no shape: those answers have no model to decode to.
                if code.isdigit() and 200 <= int(code) < 300 and schema not in (None, {}):
                    declared.add((str(operation["operationId"]), int(code)))
    targets = _targets()
    assert {(t.id, t.status) for t in targets} == declared
    assert len(targets) == len({t.id for t in targets}) >= 150


def test_each_request_path_reaches_only_its_operation() -> None:
    """No filled-in path also matches another template of the same method as specific."""
    _require_spec()
    operations = api().operations

    def route(template: str) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")

    for target in _targets():
        assert "{" not in target.path
        rivals = [
            op.operation_id
            for op in operations
            if op.method == target.operation.method
            and op.operation_id != target.id
            and route(op.path).match(target.path)
            and op.path.count("{") <= target.operation.path.count("{")
        ]
        assert rivals == [], f"{target.id}: {target.path} also routes to {rivals}"


def test_only_filter_has_the_property_that_marks_a_truncated_filter() -> None:
    """`truncated_filters` recognizes a Filter by its `conjunction`: no other schema has one."""
    _require_spec()
    having = sorted(
        name
        for name, schema in spec()["components"]["schemas"].items()
        if FILTER_TAG in schema.get("properties", {})
    )
    assert having == ["Filter"]
    assert {"conjunction", "clauses"} <= set(spec()["components"]["schemas"]["Filter"]["required"])


@dataclass
class _Check:
    """What checking one answer found: whether it decoded, and the problem if any."""

    decoded: bool = False
    problem: str | None = None


def _check(declared: Declared, schema: Any, tp: Any, data: Any) -> _Check:
    """Decode `data` as `tp`, and compare its round trip with what `declared` expects."""
    try:
        model = structure(data, tp)
    except ResponseDecodeError as exc:
        return _Check(problem=f"decode: {exc}")
    try:
        expected = declared.expected(schema, data, model)
    except Undecidable as exc:
        return _Check(decoded=True, problem=f"undecidable: {exc}")
    difference = first_difference(unstructure(model), expected)
    if difference is not None:
        return _Check(decoded=True, problem=f"round trip: {difference}")
    return _Check(decoded=True)


@pytest.mark.parametrize("target", _target_params())
def test_generated_answers_decode_and_round_trip(
    fuzz: Fuzz, target: Target | None, tmp_path: Path
) -> None:
    if target is None:
        pytest.skip("POLAR_OPENAPI_SPEC is not set; point it at ../shared/polar-openapi")
    answers = fuzz.answers[target.id]
    summary = fuzz.summary
    summary.operations += 1
    tp = python_type(target.type)
    schema = response_schema(fuzz.doc, target.operation, target.status)
    declared = Declared(fuzz.doc)
    failures: list[dict[str, Any]] = []
    passed: list[tuple[Any, bool]] = []  # (data, not repaired): for the compiled pass
    excluded: Counter[str] = Counter()
    decoded = round_tripped = 0
    for answer in answers:
        if answer.status != target.status or "json" not in answer.content_type:
            problem = f"HTTP {answer.status} {answer.content_type}"
            failures.append({"problem": problem, "answer": answer.data})
            continue
        if truncated_filters(answer.data):
            # A Prism limit (PRISM_LIMITS): outside the spec, as JSON Schema must confirm;
            # without the truncated clauses the rest of the answer must still pass.
            invalid = fuzz.validator.errors(target.operation, target.status, answer.data)
            repaired = without_truncated_filters(answer.data)
            check = _check(declared, schema, tp, repaired)
            # Other findings (overlapping oneOf members, say) are in usable answers too.
            left = fuzz.validator.errors(target.operation, target.status, repaired)
            if not invalid:
                problem = "a truncated Filter, but JSON Schema finds the answer valid"
            elif len(left) >= len(invalid):
                problem = "cutting its truncated Filters out fixes nothing (JSON Schema)"
            else:
                problem = None if check.problem is None else f"repaired: {check.problem}"
            if problem is not None:
                failures.append({"problem": problem, "answer": answer.data})
            else:
                excluded[TRUNCATED_FILTER] += 1
                passed.append((repaired, False))
            continue
        summary.answers += 1
        check = _check(declared, schema, tp, answer.data)
        decoded += check.decoded
        if check.problem is not None:
            failures.append({"problem": check.problem, "answer": answer.data})
            continue
        round_tripped += 1
        passed.append((answer.data, True))
    if not failures:
        # The converter interprets the first decodes of each model type and compiles the type
        # after that (polar_sdk/_converter.py, _COMPILE_AFTER): decode each answer that often,
        # so every type in it is past that point, then check every answer again.
        for data, _clean in passed:
            for _ in range(COMPILE_AFTER):
                with contextlib.suppress(ResponseDecodeError):
                    structure(data, tp)
        compiled = Declared(fuzz.doc)
        for data, clean in passed:
            check = _check(compiled, schema, tp, data)
            if check.problem is not None:
                failures.append({"problem": f"compiled: {check.problem}", "answer": data})
                round_tripped -= clean
                decoded -= clean and not check.decoded
    summary.decoded += decoded
    summary.round_tripped += round_tripped
    summary.excluded.update(excluded)
    summary.members.update(declared.members)
    summary.dropped += declared.dropped
    assert set(excluded) <= set(PRISM_LIMITS)
    if failures:
        summary.failed_operations.append(target.id)
        # The answers go to a file, not the message: generated tokens look like credentials.
        dump = tmp_path / "failed-answers.json"
        record = {"operation": target.id, "status": target.status, "failures": failures}
        dump.write_text(json.dumps(record, indent=1), encoding="utf-8")
        problems = sorted({str(f["problem"]) for f in failures})
        pytest.fail(
            f"{target.id} ({target.operation.method} {target.path} -> {target.status}, "
            f"{_ir_name(target.type)}): {len(failures)} of {len(answers)} answers failed "
            f"({decoded} decoded, {round_tripped} round-tripped, {sum(excluded.values())} "
            f"excluded): {problems[:5]}; answers in {dump}"
        )
    assert round_tripped >= MIN_ANSWERS, (
        f"{target.id}: only {round_tripped} usable answers of {len(answers)} "
        f"(excluded: {dict(excluded)})"
    )


def test_every_prism_limit_still_happens(fuzz: Fuzz) -> None:
    """Each exclusion in PRISM_LIMITS is still needed: Prism still makes that mistake."""
    seen = {
        TRUNCATED_FILTER: sum(
            1 for got in fuzz.answers.values() for a in got if truncated_filters(a.data)
        )
    }
    assert set(seen) == set(PRISM_LIMITS)
    assert all(PRISM_LIMITS.values())
    for kind, count in seen.items():
        assert count > 0, f"{kind}: no generated answer has it any more; drop the exclusion"
