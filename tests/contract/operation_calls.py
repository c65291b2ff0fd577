"""Valid SDK calls for every operation of the spec, built from the Prism spec's JSON schemas.

`ValueBuilder` writes a JSON value that satisfies a schema: `const`, then `enum` (first
value), then an `example`/`examples` value of a scalar, then one made from the type and its
format and bounds (`uuid4` pattern -> a fixed version-4 UUID, `date-time` -> an aware instant,
`uri` -> an https URL, `email`, integers inside their bounds, ...). Objects get their required
properties and any `const` tag (`full=True`: every property, a level deep, keeping one of
`x` / `external_x` alternatives); `anyOf`/`oneOf` take the first branch that is not null;
`allOf` merges.

`plan_calls(op)` turns that into `PlannedCall`s for the SDK, the first being the operation's
main call: path parameters positional in path order; query parameters by `py_name` (lists
for arrays, a dict for the deepObject `metadata`, `date`/`datetime` objects); a body as
`request=<model>` (the JSON dict `structure()`d into the body type: a union member for a
union body) or as keyword fields. Labels: `minimal` (required query parameters),
`full-query` (every query parameter, the array branch of `value | [values]`, two enum
values where there are two), `request` / `keywords` (required body fields),
`request-full` / `keywords-full` (every body field and query parameter). The test checks
every planned body with an independent JSON Schema validator (`body_schema_errors`), so a
body Prism flags is never the builder's fault.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from codegen.openapi import ir
from polar_sdk import AsyncPolar
from polar_sdk.models import structure
from tests.spec_support import python_type

__all__ = [
    "PlannedCall",
    "ValueBuilder",
    "body_schema_errors",
    "plan_calls",
    "prism_spec",
    "resolve_method",
    "spec_op",
]

UUID4 = "0b6f5a8e-3c1d-4e2f-9a7b-1c2d3e4f5a6b"
DATETIME = "2025-01-15T10:30:00Z"
DATE = "2025-01-15"
URL = "https://example.com/callback"
EMAIL = "customer@example.com"

_UUID4_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


@functools.cache
def prism_spec() -> dict[str, Any]:
    """The spec Prism serves (POLAR_PRISM_SPEC): the one requests are validated against."""
    path = os.environ.get("POLAR_PRISM_SPEC")
    assert path, "POLAR_PRISM_SPEC is not set"
    doc: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return doc


def spec_op(doc: Mapping[str, Any], op: ir.Operation) -> dict[str, Any]:
    found: dict[str, Any] = doc["paths"][op.path][op.method.lower()]
    return found


class ValueBuilder:
    """Writes a JSON value valid against a schema of one OpenAPI document."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            node: Any = self.doc
            for part in schema["$ref"][2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def value(self, schema: Mapping[str, Any], *, full: bool = False, depth: int = 0) -> Any:
        s = self.resolve(schema)
        if "const" in s:
            return s["const"]
        if s.get("enum"):
            return s["enum"][0]
        if "allOf" in s:
            merged: dict[str, Any] = {}
            for part in s["allOf"]:
                merged = _merge(merged, dict(self.resolve(part)))
            rest = {k: v for k, v in s.items() if k != "allOf"}
            return self.value(_merge(merged, rest), full=full, depth=depth)
        for key in ("oneOf", "anyOf"):
            if key in s:
                branches = [self.resolve(b) for b in s[key]]
                usable = [b for b in branches if b.get("type") != "null"]
                if not usable:
                    return None
                return self.value(usable[0], full=full, depth=depth)
        kind = s.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind is None and "properties" in s:
            kind = "object"
        if kind in ("string", "integer", "number") and ("examples" in s or "example" in s):
            example = s["examples"][0] if s.get("examples") else s.get("example")
            if example is not None:
                return example
        if kind == "string":
            return self._string(s)
        if kind == "integer":
            return int(self._number(s, 1))
        if kind == "number":
            return float(self._number(s, 1.5))
        if kind == "boolean":
            default = s.get("default")
            return default if isinstance(default, bool) else False
        if kind == "array":
            return self._array(s, full=full, depth=depth)
        if kind == "object":
            return self._object(s, full=full, depth=depth)
        if kind == "null":
            return None
        return "value"  # no type: anything is valid

    def _string(self, s: Mapping[str, Any]) -> str:
        fmt = s.get("format")
        pattern = s.get("pattern")
        if pattern == _UUID4_PATTERN or fmt in ("uuid", "uuid4"):
            return UUID4
        if fmt == "date-time":
            return DATETIME
        if fmt == "date":
            return DATE
        if fmt in ("uri", "url"):
            return URL
        if fmt == "email":
            return EMAIL
        default = s.get("default")
        if isinstance(default, str):
            return default
        text = "contract"
        min_length = s.get("minLength", 0)
        max_length = s.get("maxLength")
        if len(text) < min_length:
            text = text + "x" * (min_length - len(text))
        if max_length is not None and len(text) > max_length:
            text = text[:max_length]
        return text

    def _number(self, s: Mapping[str, Any], fallback: float) -> float:
        default = s.get("default")
        low = s.get("minimum")
        xlow = s.get("exclusiveMinimum")
        high = s.get("maximum")
        xhigh = s.get("exclusiveMaximum")

        def ok(v: float) -> bool:
            return (
                (low is None or v >= low)
                and (xlow is None or v > xlow)
                and (high is None or v <= high)
                and (xhigh is None or v < xhigh)
            )

        candidates: list[Any] = [default, fallback, 10, 100, 1000]
        if low is not None:
            candidates.insert(0, low)
        if xlow is not None:
            candidates.insert(0, xlow + 1)
        for candidate in candidates:
            number = isinstance(candidate, int | float) and not isinstance(candidate, bool)
            if number and ok(candidate):
                return float(candidate)
        return float(high) if high is not None else fallback

    def _array(self, s: Mapping[str, Any], *, full: bool, depth: int) -> list[Any]:
        prefix = s.get("prefixItems")
        if prefix:
            return [self.value(p, full=full, depth=depth + 1) for p in prefix]
        count = max(s.get("minItems", 0), 1 if full and depth < 2 else 0)
        item = s.get("items", {})
        return [self.value(item, full=full, depth=depth + 1) for _ in range(count)]

    def _object(self, s: Mapping[str, Any], *, full: bool, depth: int) -> dict[str, Any]:
        props: Mapping[str, Any] = s.get("properties", {})
        required = list(s.get("required", []))
        names = list(props) if full and depth < 1 else required
        # A union member's tag (`type: const "fixed"`, often optional with that default) is
        # always sent: it names the member, for Prism and for the SDK's union rule.
        names += [n for n, p in props.items() if n not in names and "const" in self.resolve(p)]
        out: dict[str, Any] = {}
        for name in names:
            if name in props:
                out[name] = self.value(props[name], full=full, depth=depth + 1)
            else:
                out[name] = "value"
        for name in list(out):
            # Alternatives (`member_id` / `external_member_id`): the server would silently use
            # one of them, so the SDK refuses both; a full body keeps the first.
            if name.startswith("external_") and name.removeprefix("external_") in out:
                del out[name]
        if not props and full and isinstance(s.get("additionalProperties"), dict):
            key = self._string(self.resolve(s.get("propertyNames", {})))
            names_schema = self.resolve(s.get("propertyNames", {}))
            if names_schema.get("enum"):
                key = names_schema["enum"][0]
            out[key] = self.value(s["additionalProperties"], depth=depth + 1)
        return out


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if key == "properties":
            out["properties"] = {**out.get("properties", {}), **value}
        elif key == "required":
            out["required"] = list(dict.fromkeys([*out.get("required", []), *value]))
        else:
            out[key] = value
    return out


def _unwrap(tp: ir.TypeExpr) -> ir.TypeExpr:
    while isinstance(tp, ir.Nullable):
        tp = tp.inner
    return tp


def _python_query_value(param: ir.Param, value: Any) -> Any:
    """The Python value a caller passes for a query parameter whose JSON value is `value`."""
    tp = _unwrap(param.type)
    if isinstance(value, list):
        inner = tp.item if isinstance(tp, ir.ListOf) else None
        if inner is None and isinstance(tp, ir.Either):
            inner = next((m.item for m in tp.members if isinstance(m, ir.ListOf)), None)
        if inner is not None:
            one = ir.Param(param.name, param.py_name, "query", inner, False)
            return [_python_query_value(one, v) for v in value]
        return value
    if isinstance(tp, ir.Prim) and isinstance(value, str):
        if tp.kind == "datetime":
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        if tp.kind == "date":
            return date.fromisoformat(value)
    return value


def _array_branch(builder: ValueBuilder, schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """For `anyOf[value, array of values, null]` the array, two items when its items are an
    enum (so the SDK's repeated keys are exercised); else the schema itself."""
    resolved = builder.resolve(schema)
    for branch in map(builder.resolve, resolved.get("anyOf", [])):
        if branch.get("type") == "array":
            items = builder.resolve(branch.get("items", {}))
            if len(items.get("enum", [])) >= 2:
                return {"const": list(items["enum"][:2])}
            return branch
    if resolved.get("type") == "array":
        items = builder.resolve(resolved.get("items", {}))
        if len(items.get("enum", [])) >= 2:
            return {"const": list(items["enum"][:2])}
    return schema


@dataclass
class PlannedCall:
    """One call of an operation through the SDK, and what it must put on the wire."""

    operation: ir.Operation
    label: str  # "request" (request= model), "keywords", "minimal", "full-query"
    path_args: tuple[str, ...]
    query: dict[str, Any]  # py_name -> Python value
    query_wire: dict[str, Any]  # wire name -> JSON value (what Prism validates)
    body: Any = None  # the JSON body (None: no body)
    request: Any = None  # the structured model for request=
    keywords: dict[str, Any] = field(default_factory=dict[str, Any])
    wire_path: str = ""

    @property
    def id(self) -> str:
        return f"{self.operation.operation_id}:{self.label}"

    async def invoke(self, polar: AsyncPolar) -> Any:
        method = resolve_method(polar, self.operation)
        kwargs: dict[str, Any] = dict(self.query)
        if self.request is not None:
            kwargs["request"] = self.request
        kwargs.update(self.keywords)
        # For a list operation, awaiting the pager gives the first page only (generated page
        # numbers are random, so no further page is ever asked for).
        return await method(*self.path_args, **kwargs)


def resolve_method(polar: AsyncPolar, op: ir.Operation) -> Callable[..., Any]:
    target: Any = polar
    for part in op.resource:
        target = getattr(target, part)
    method: Callable[..., Any] = getattr(target, op.method_name)
    return method


def _keywords_of(model: Any, body: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword fields equivalent to a request model: those whose wire key is in `body`."""
    data: dict[str, Any] = {}
    for a in attrs.fields(type(model)):
        wire = a.metadata.get("wire", a.name)
        if a.init and wire in body:
            data[a.alias or a.name] = getattr(model, a.name)
    return data


def plan_calls(op: ir.Operation, doc: Mapping[str, Any] | None = None) -> list[PlannedCall]:
    """The calls the contract test makes for `op` (the first one is its main valid call)."""
    doc = doc if doc is not None else prism_spec()
    builder = ValueBuilder(doc)
    declared = spec_op(doc, op)
    params = {(p["in"], p["name"]): p for p in map(builder.resolve, declared.get("parameters", []))}
    path_args: list[str] = []
    wire_path = op.path
    for p in op.params:
        if p.location != "path":
            continue
        segment = str(builder.value(params["path", p.name]["schema"]))
        path_args.append(segment)
        wire_path = wire_path.replace("{" + p.name + "}", quote(segment, safe=""))
    required_query: dict[str, Any] = {}
    required_wire: dict[str, Any] = {}
    all_query: dict[str, Any] = {}
    all_wire: dict[str, Any] = {}
    for p in op.params:
        if p.location != "query" or (p.deprecated and not p.required):
            continue  # a deprecated parameter draws a Prism warning; the SDK still has it
        schema = params["query", p.name]["schema"]
        value = builder.value(_array_branch(builder, schema), full=True)
        if value is None:
            continue
        if p.style == "deepObject" and isinstance(value, dict) and not value:
            value = {"key": "value"}
        py = _python_query_value(p, value)
        all_query[p.py_name] = py
        all_wire[p.name] = value
        if p.required:
            required_query[p.py_name] = py
            required_wire[p.name] = value

    calls: list[PlannedCall] = []
    base: dict[str, Any] = {"operation": op, "path_args": tuple(path_args), "wire_path": wire_path}
    if op.body is None:
        calls.append(
            PlannedCall(label="minimal", query=required_query, query_wire=required_wire, **base)
        )
        if all_wire != required_wire:
            calls.append(
                PlannedCall(label="full-query", query=all_query, query_wire=all_wire, **base)
            )
        return calls
    media = next(iter(declared["requestBody"]["content"]))
    schema = declared["requestBody"]["content"][media]["schema"]
    assert op.body.type is not None
    body_type = python_type(op.body.type)
    body = builder.value(schema)
    model = structure(copy.deepcopy(body), body_type)
    calls.append(
        PlannedCall(
            label="request",
            query=required_query,
            query_wire=required_wire,
            body=body,
            request=model,
            **base,
        )
    )
    calls.append(
        PlannedCall(
            label="keywords",
            query=required_query,
            query_wire=required_wire,
            body=body,
            keywords=_keywords_of(model, body),
            **base,
        )
    )
    full = builder.value(schema, full=True)
    if full != body:  # every property of the body (a level deep), as a model and as keywords
        full_model = structure(copy.deepcopy(full), body_type)
        calls.append(
            PlannedCall(
                label="request-full",
                query=all_query,
                query_wire=all_wire,
                body=full,
                request=full_model,
                **base,
            )
        )
        calls.append(
            PlannedCall(
                label="keywords-full",
                query=all_query,
                query_wire=all_wire,
                body=full,
                keywords=_keywords_of(full_model, full),
                **base,
            )
        )
    return calls


@functools.cache
def _validator_registry() -> Registry[Any]:
    resource = Resource(contents=prism_spec(), specification=DRAFT202012)
    return Registry().with_resource("urn:polar:prism-spec", resource)


def body_schema_errors(op: ir.Operation, body: Any) -> list[str]:
    """JSON Schema (2020-12) findings for `body` as the request body of `op` (empty: valid)."""
    declared = spec_op(prism_spec(), op)
    media = next(iter(declared["requestBody"]["content"]))
    parts = ["paths", op.path, op.method.lower(), "requestBody", "content", media, "schema"]
    pointer = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
    schema = {"$ref": f"urn:polar:prism-spec#{quote(pointer, safe='/~')}"}
    validator = Draft202012Validator(schema, registry=_validator_registry())
    return [
        f"$/{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:200]}"
        for e in validator.iter_errors(body)
    ]
