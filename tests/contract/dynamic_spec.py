"""Prism as a fuzzer of the response schemas: its spec, the requests, what a round trip keeps.

`tests/contract/test_models_dynamic.py` asks a dynamic Prism (`prism mock -d`) for generated
2xx answers of every operation and checks that each decodes with the operation's declared
type and that `unstructure(structure(answer))` gives the answer back, minus the keys the
schemas do not declare. This module holds what that needs:

- `derive_spec()`: the Prism spec with every operation's `parameters`, `requestBody` and
  `security` removed, so Prism validates nothing and any request to a path is answered with a
  generated body (the status is asked for with `Prefer: code=<status>`). It is written to a
  temporary folder at test time and never committed.
- `concrete_path()`: a request path for a path template (a v4 UUID or a plain word per
  segment).
- `Declared`: walks an answer next to its spec schema and the model it decoded to, and builds
  the JSON a round trip must give back.
- `truncated_filters()` / `without_truncated_filters()`: find and cut out the one fault of
  Prism's generator that the suite excludes (see `PRISM_LIMITS` in the test module), and
  `SpecValidator`, an independent JSON Schema check that such answers are outside the spec.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from codegen.openapi import ir
from codegen.openapi.build import apply_overlay
from codegen.openapi.overlay import Overlay
from polar_sdk.models._base import UnknownModel
from tests.checks import parse_wire_datetime

__all__ = [
    "FILTER_TAG",
    "SUMMARY",
    "Declared",
    "FuzzSummary",
    "Instant",
    "SpecValidator",
    "Undecidable",
    "concrete_path",
    "derive_spec",
    "first_difference",
    "response_schema",
    "truncated_filters",
    "without_truncated_filters",
    "write_derived_spec",
]

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "options", "head", "trace"})
_STRIPPED = ("parameters", "requestBody", "security")

PATH_UUID = "7c0e4b1a-3f2d-4e6a-9b8c-5d4f3e2a1b0c"
"""What fills a path segment whose parameter is a UUID (version 4, as the SDK insists)."""
PATH_WORD = "fuzz"
"""What fills any other path segment."""


def derive_spec(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `doc` whose operations take no parameters, no body and no credentials.

    The generator's schema patches (`codegen/openapi/overlay.py`: wire facts the spec gets
    wrong or leaves out, such as which `type` and `duration` each discount shape has) are
    applied too, so Prism generates answers of the schemas the models were generated from.
    """
    derived = apply_overlay(copy.deepcopy(dict(doc)), Overlay.polar())
    derived.pop("security", None)
    for item in derived["paths"].values():
        item.pop("parameters", None)
        for method, operation in item.items():
            if method in HTTP_METHODS:
                for key in _STRIPPED:
                    operation.pop(key, None)
    return derived


def write_derived_spec(source: Path, folder: Path) -> Path:
    """Write `derive_spec()` of the spec at `source` into `folder`; return the file."""
    doc = json.loads(source.read_text(encoding="utf-8"))
    target = folder / f"{source.stem}.fuzz.json"
    target.write_text(json.dumps(derive_spec(doc)), encoding="utf-8")
    return target


def _is_uuid(tp: ir.TypeExpr) -> bool:
    if isinstance(tp, ir.Nullable):
        return _is_uuid(tp.inner)
    return isinstance(tp, ir.Prim) and tp.format in ("uuid", "uuid4")


def concrete_path(op: ir.Operation) -> str:
    """`op.path` with each `{name}` filled: a v4 UUID for UUID parameters, else a word."""
    kinds = {p.name: _is_uuid(p.type) for p in op.params if p.location == "path"}

    def fill(match: re.Match[str]) -> str:
        return PATH_UUID if kinds.get(match.group(1), False) else PATH_WORD

    return re.sub(r"\{([^}]+)\}", fill, op.path)


def response_schema(doc: Mapping[str, Any], op: ir.Operation, status: int) -> Any:
    """The JSON schema the spec declares for `op`'s `status` answer."""
    declared = doc["paths"][op.path][op.method.lower()]["responses"][str(status)]
    return declared["content"]["application/json"]["schema"]


class Undecidable(Exception):
    """The walk cannot tell which schema describes a value (the message says where)."""


@dataclass(frozen=True)
class Instant:
    """An expected `date-time`: any wire spelling of the same instant matches.

    The SDK re-encodes a decoded date-time canonically (`...50.0Z` comes back as `...50Z`),
    so the round trip keeps the instant, not the characters.
    """

    text: str

    def matches(self, other: Any) -> bool:
        if not isinstance(other, str):
            return False
        try:
            theirs = parse_wire_datetime(other)
        except AssertionError:
            return False
        return theirs == parse_wire_datetime(self.text)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not JSON: {type(value).__name__}")


def _class_key(name: str) -> str:
    """A schema name as its class is named: without non-alphanumerics.

    A generic instance (`ListResource_Event_`) is named after its generic class.
    """
    generic = re.fullmatch(r"([0-9A-Za-z]+)_.+_", name)
    return re.sub(r"[^0-9A-Za-z]", "", generic.group(1) if generic else name)


class Declared:
    """Builds what a round trip of an answer must give back, walking the spec schema.

    `expected(schema, data, model)` returns `data` without the keys the schemas do not
    declare: objects keep their `properties` (and every key when they allow
    `additionalProperties` or declare no properties at all); arrays, maps and unions are
    followed into. At a union of several
    object schemas the decoded object's class picks the member (class name = schema name
    without non-alphanumerics); an `Unknown*` fallback keeps its raw object. `date-time`
    strings become `Instant`s. `members` counts which member each union position got.
    """

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.schemas: Mapping[str, Any] = doc["components"]["schemas"]
        self.members: Counter[tuple[str, str]] = Counter()
        self.dropped = 0  # undeclared keys left out of the expected JSON

    # -- schema reading -------------------------------------------------------------------

    def resolve(self, schema: Any) -> tuple[Any, str | None]:
        """Follow `$ref`s; return the schema and the name of the last one followed."""
        name: str | None = None
        while isinstance(schema, dict) and "$ref" in schema:
            ref: str = schema["$ref"]  # pyright: ignore[reportUnknownVariableType]
            prefix = "#/components/schemas/"
            if not ref.startswith(prefix):
                raise Undecidable(f"unsupported $ref {ref}")
            name = ref[len(prefix) :]
            schema = self.schemas[name]
        return schema, name

    def kinds(self, schema: Any) -> frozenset[str] | None:
        """The JSON kinds a schema admits (None: any)."""
        schema, _ = self.resolve(schema)
        if schema is True or schema == {}:
            return None
        if not isinstance(schema, dict):
            return frozenset()
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            found: set[str] = set()
            for branch in branches:
                sub = self.kinds(branch)
                if sub is None:
                    return None
                found |= sub
            return frozenset(found)
        declared = schema.get("type")
        if isinstance(declared, str):
            kinds = {declared}
        elif isinstance(declared, list):
            kinds = set(declared)  # pyright: ignore[reportUnknownArgumentType]
        elif "properties" in schema or "additionalProperties" in schema:
            kinds = {"object"}
        elif "items" in schema or "prefixItems" in schema:
            kinds = {"array"}
        elif "const" in schema:
            kinds = {_json_kind(schema["const"])}
        elif "enum" in schema:
            kinds = {_json_kind(v) for v in schema["enum"]}
        else:
            return None
        if "number" in kinds:
            kinds.add("integer")
        return frozenset(kinds)

    def _admits(self, schema: Any, value: Any) -> bool:
        kinds = self.kinds(schema)
        return kinds is None or _json_kind(value) in kinds

    def _covers(self, schema: Any, cls_key: str) -> bool:
        """Whether `schema` is, or is a union reaching, the schema of class `cls_key`."""
        resolved, name = self.resolve(schema)
        if name is not None and _class_key(name) == cls_key:
            return True
        if isinstance(resolved, dict):
            branches = resolved.get("anyOf") or resolved.get("oneOf") or ()
            return any(self._covers(b, cls_key) for b in branches)
        return False

    # -- the walk -------------------------------------------------------------------------

    def expected(
        self, schema: Any, data: Any, model: Any, path: str = "$", where: str = "$"
    ) -> Any:
        """`data` minus undeclared keys (see the class docstring).

        `path` is the JSON path (for messages), `where` the position in the schemas: the last
        named schema and the properties since (`Subscription.discount`), to count members by.
        """
        if isinstance(model, UnknownModel):
            self.members[where, type(model).__name__] += 1
            return data
        resolved, name = self.resolve(schema)
        where = name or where
        if data is None or resolved is True or resolved == {}:
            return data
        if not isinstance(resolved, dict):
            raise Undecidable(f"{path}: schema {resolved!r}")
        branches = resolved.get("anyOf") or resolved.get("oneOf")
        if branches:
            return self._union(branches, data, model, path, where)
        if isinstance(data, dict):
            return self._object(resolved, data, model, path, where)  # pyright: ignore[reportUnknownArgumentType]
        if isinstance(data, list):
            return self._array(resolved, data, model, path, where)  # pyright: ignore[reportUnknownArgumentType]
        if isinstance(data, str) and resolved.get("format") == "date-time":
            return Instant(data)
        return data

    def _union(self, branches: list[Any], data: Any, model: Any, path: str, where: str) -> Any:
        fitting = [b for b in branches if self._admits(b, data)]
        if len(fitting) > 1 and isinstance(data, dict):
            if not attrs.has(type(model)):
                raise Undecidable(f"{path}: object union decoded to {type(model).__name__}")
            cls = type(model).__name__
            chosen = [b for b in fitting if self._covers(b, cls)]
            if len(chosen) != 1:
                raise Undecidable(f"{path}: {len(chosen)} members of the union are {cls}")
            self.members[where, cls] += 1
            fitting = chosen
        elif len(fitting) > 1 and isinstance(data, list):
            # Arrays of different item schemas: keep the first reading that decides.
            errors: list[str] = []
            for branch in fitting:
                try:
                    return self.expected(branch, data, model, path, where)
                except Undecidable as exc:
                    errors.append(str(exc))
            raise Undecidable(f"{path}: no array member fits: {errors}")
        if not fitting:
            raise Undecidable(f"{path}: no member of the union admits {_json_kind(data)}")
        if len(fitting) > 1:
            # Scalars: nothing to strip; a date-time member makes it an instant.
            formats = {self.resolve(b)[0].get("format") for b in fitting}
            if formats == {"date-time"} and isinstance(data, str):
                return Instant(data)
            return data
        return self.expected(fitting[0], data, model, path, where)

    def _object(
        self, schema: dict[str, Any], data: dict[str, Any], model: Any, path: str, where: str
    ) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties", {})
        # Undeclared keys are dropped, except where the schema allows them, or declares none.
        extra = schema.get("additionalProperties", "properties" not in schema)
        if attrs.has(type(model)):
            by_wire = {a.metadata.get("wire", a.name): a.name for a in attrs.fields(type(model))}
            extras: Any = getattr(model, "extra", None) if "extra" not in by_wire else None

            def child(key: str) -> Any:
                if key in by_wire and key in properties:
                    return getattr(model, by_wire[key])
                if isinstance(extras, dict):
                    return extras.get(key)  # pyright: ignore[reportUnknownMemberType]
                return None

        elif isinstance(model, dict):
            mapping: dict[str, Any] = model  # pyright: ignore[reportUnknownVariableType]

            def child(key: str) -> Any:
                return mapping.get(key)

        else:

            def child(key: str) -> Any:
                return None

        out: dict[str, Any] = {}
        for key, value in data.items():
            if key in properties:
                sub: Any = properties[key]
            elif extra is not False:
                sub = {} if extra is True else extra
            else:
                self.dropped += 1  # undeclared: a round trip drops it
                continue
            out[key] = self.expected(sub, value, child(key), f"{path}.{key}", f"{where}.{key}")
        return out

    def _array(
        self, schema: dict[str, Any], data: list[Any], model: Any, path: str, where: str
    ) -> list[Any]:
        models: list[Any] = (
            list(model)  # pyright: ignore[reportUnknownArgumentType]
            if isinstance(model, (list, tuple)) and len(model) == len(data)  # pyright: ignore[reportUnknownArgumentType]
            else [None] * len(data)
        )
        prefix: list[Any] = schema.get("prefixItems", [])
        items = schema.get("items", {})
        return [
            self.expected(
                prefix[i] if i < len(prefix) else items, v, m, f"{path}[{i}]", f"{where}[]"
            )
            for i, (v, m) in enumerate(zip(data, models, strict=True))
        ]


def first_difference(got: Any, expected: Any, path: str = "$") -> str | None:
    """Where `got` (the round trip) first differs from `expected`, without printing values."""
    if isinstance(expected, Instant):
        return None if expected.matches(got) else f"{path}: date-time differs"
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{path}: object became {type(got).__name__}"
        theirs: dict[str, Any] = got  # pyright: ignore[reportUnknownVariableType]
        ours: dict[str, Any] = expected  # pyright: ignore[reportUnknownVariableType]
        missing, added = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
        if missing or added:
            return f"{path}: keys lost {missing}, keys added {added}"
        for key, value in ours.items():
            found = first_difference(theirs[key], value, f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(got, list):
            return f"{path}: array became {type(got).__name__}"
        seq: list[Any] = got  # pyright: ignore[reportUnknownVariableType]
        if len(seq) != len(expected):  # pyright: ignore[reportUnknownArgumentType]
            return f"{path}: array length {len(seq)} != {len(expected)}"  # pyright: ignore[reportUnknownArgumentType]
        for i, (g, e) in enumerate(zip(seq, expected, strict=True)):  # pyright: ignore[reportUnknownArgumentType]
            found = first_difference(g, e, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(expected, bool) or isinstance(got, bool):
        same = type(got) is type(expected) and got == expected
    elif isinstance(expected, (int, float)):
        same = isinstance(got, (int, float)) and got == expected
    else:
        same = type(got) is type(expected) and got == expected
    if isinstance(got, datetime):
        same = False  # unstructure must give back text, not a datetime
    return None if same else f"{path}: {type(expected).__name__} came back as a different value"


@dataclass
class FuzzSummary:
    """Counts for the terminal summary (filled by the tests, printed by conftest)."""

    planned: int = 0
    operations: int = 0
    fetched: dict[str, int] = field(default_factory=dict[str, int])
    answers: int = 0
    decoded: int = 0
    round_tripped: int = 0
    excluded: Counter[str] = field(default_factory=Counter[str])
    failed_operations: list[str] = field(default_factory=list[str])
    members: Counter[tuple[str, str]] = field(default_factory=Counter[tuple[str, str]])
    dropped: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        unions = {position for position, _ in self.members}
        counts = sorted(self.fetched.values()) or [0]
        return [
            f"operations covered: {self.operations} of {self.planned} with a JSON 2xx schema",
            f"answers fetched: {sum(counts)} in {self.seconds:.1f} s "
            f"({counts[0]} to {counts[-1]} per operation)",
            f"answers checked: {self.answers}, decoded: {self.decoded}, "
            f"round-tripped: {self.round_tripped}, "
            f"excluded as Prism limits: {sum(self.excluded.values())} {dict(self.excluded)}",
            f"undeclared keys the round trips dropped: {self.dropped}",
            f"union members seen: {len(self.members)} classes at {len(unions)} union positions",
            f"failing operations: {len(self.failed_operations)} {self.failed_operations}",
        ]


SUMMARY = pytest.StashKey[FuzzSummary]()
"""Where the fuzzing tests leave their `FuzzSummary` on the pytest config."""


# -- Prism's known limits -----------------------------------------------------------------------

FILTER_TAG = "conjunction"
"""The property only the spec's `Filter` schema has (a test checks that it stays so)."""


def _is_truncated_filter(value: Any) -> bool:
    return isinstance(value, dict) and FILTER_TAG in value and "clauses" not in value


def truncated_filters(data: Any) -> int:
    """How many `Filter` objects in `data` lack their required `clauses` (see `PRISM_LIMITS`)."""
    if isinstance(data, dict):
        obj: dict[str, Any] = data  # pyright: ignore[reportUnknownVariableType]
        own = 1 if _is_truncated_filter(obj) else 0
        return own + sum(truncated_filters(v) for v in obj.values())
    if isinstance(data, list):
        seq: list[Any] = data  # pyright: ignore[reportUnknownVariableType]
        return sum(truncated_filters(v) for v in seq)
    return 0


def without_truncated_filters(data: Any) -> Any:
    """`data` with each truncated `Filter` left out of the `clauses` list holding it."""
    if isinstance(data, dict):
        obj: dict[str, Any] = data  # pyright: ignore[reportUnknownVariableType]
        out = {k: without_truncated_filters(v) for k, v in obj.items()}
        clauses = out.get("clauses")
        if FILTER_TAG in out and isinstance(clauses, list):
            kept: list[Any] = [c for c in clauses if not _is_truncated_filter(c)]  # pyright: ignore[reportUnknownVariableType]
            out["clauses"] = kept
        return out
    if isinstance(data, list):
        seq: list[Any] = data  # pyright: ignore[reportUnknownVariableType]
        return [without_truncated_filters(v) for v in seq]
    return data


class SpecValidator:
    """JSON Schema (2020-12) validation of an answer against its spec schema, no formats.

    An independent check that what the suite excludes as a Prism limit is outside the spec.
    """

    URI = "urn:polar:fuzz-spec"

    def __init__(self, doc: Mapping[str, Any]) -> None:
        resource = Resource(contents=dict(doc), specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(self.URI, resource)

    def errors(self, op: ir.Operation, status: int, data: Any) -> list[str]:
        """Where and why `data` is not a valid `status` answer of `op` (empty: valid)."""
        parts = ["paths", op.path, op.method.lower(), "responses", str(status)]
        parts += ["content", "application/json", "schema"]
        pointer = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
        schema = {"$ref": f"{self.URI}#{quote(pointer, safe='/~')}"}
        validator = Draft202012Validator(schema, registry=self.registry)
        return [
            f"$/{'/'.join(str(p) for p in e.absolute_path)}: {e.validator}"
            for e in validator.iter_errors(data)
        ]
