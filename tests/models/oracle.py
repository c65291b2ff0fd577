"""Which union member a JSON value means, decided from the raw OpenAPI spec alone.

This is the test suite's own reading of the spec, written without the generator: it never
imports `codegen.openapi` and never reads the rules the generated models carry
(`__polar_union__`). `Oracle.walk` goes down a decoded object, the JSON value it was decoded
from, and the spec schema of that position together (`$ref`, `properties`,
`additionalProperties`, `items`, `prefixItems`, and `anyOf`/`oneOf`, where a `null` branch only
makes a position nullable). It gives back

- one `UnionCheck` per position whose schema is a union of two or more object schemas (nested
  unions flatten into their members): the member the oracle decided on, and the class the
  decoded object has there;
- the JSON `unstructure()` should give back: the value without the keys its schemas do not
  declare (an object whose schema has `additionalProperties` keeps its extra keys, an object
  schema without `properties` keeps everything, a union's fallback keeps the raw object).

How a union position is decided (`Oracle.decide`):

1. The value is validated against every member schema with `jsonschema` (Draft 2020-12, the
   whole spec as the resource `$ref`s resolve in, no format assertions). No member valid: the
   union's `Unknown*` fallback. Exactly one: that member.
2. Several valid members: the tie-breaks below, in this order, each a fact of the spec or of
   the server, as stated.

   a. A grant's `properties` (`BenefitGrant.properties`, `CustomerStateBenefitGrant.properties`)
      is an `anyOf` of `BenefitGrant<Kind>Properties` schemas that require nothing, so a custom
      grant's `{}` fits all of them. The server writes the shape of the grant's benefit type
      (`benefit.type`, resp. `benefit_type`): the kind is the name of the member of the spec's
      `Benefit` union whose `type` is that const (`custom` -> `BenefitCustom` ->
      `BenefitGrantCustomProperties`). The spec's union leaves out the meter-credit shape,
      which the server does write (`customers/get_state_200_fx_alice_grants_meters.json`):
      a shape that exists as a schema counts even when the union omits it. A benefit type with
      no shape at all means the fallback.
   b. The spec's `discriminator` of the union (and of nested unions under it): the member its
      `mapping` names for the value's `propertyName`. A value without the property, or with a
      value the mapping does not list, leaves the members as they were at that level.
   c. The member whose required keys are all present and that requires the most of them. This
      settles the fixed/percentage discounts: the spec's `DiscountDuration` enum allows
      `repeating` on the once/forever shapes too, so a repeating discount validates against
      both the once/forever and the repeat shape; the server means the repeat one (it is the
      only one that requires `duration_in_months`, which every recorded repeating discount
      carries, and a once/forever discount never does).

   If these still leave more than one member, the spec does not decide: `OracleError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import attrs
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from polar_sdk.models._base import UnknownModel

__all__ = [
    "ABSENT",
    "Decision",
    "Oracle",
    "OracleError",
    "UnionCheck",
    "Walk",
    "class_name",
    "pointer",
]

SPEC_URI = "urn:polar:openapi"
COMPONENTS = "/components/schemas/"

# Tie-break (a): the schemas whose `properties` union is decided by the grant's benefit type,
# and where that type is read in the grant object.
GRANT_PROPERTIES_TAG: dict[str, tuple[str, ...]] = {
    "BenefitGrant": ("benefit", "type"),
    "CustomerStateBenefitGrant": ("benefit_type",),
}


class OracleError(Exception):
    """The spec does not decide, or has a construct this oracle does not read."""


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""Stands for a decoded object the walk cannot locate (decoding failed, or a parent is wrong)."""


def pointer(*segments: str | int) -> str:
    """A JSON pointer from raw segments (`~` and `/` escaped)."""
    return "".join("/" + str(s).replace("~", "~0").replace("/", "~1") for s in segments)


def class_name(schema_name: str) -> str:
    """The class a component schema decodes to: its name without non-alphanumerics;
    the page schemas `ListResource_X_` / `ListResourceWithCursorPagination_X_` decode to the
    generic `ListResource[X]` / `ListResourceWithCursorPagination[X]`."""
    page = re.fullmatch(r"(ListResource(?:WithCursorPagination)?)_.*_", schema_name)
    if page:
        return page.group(1)
    return re.sub(r"[^0-9A-Za-z]", "", schema_name)


@dataclass(frozen=True)
class Decision:
    """The member a union position means (`member` None: the fallback), and why."""

    member: str | None
    reason: str
    valid: tuple[str, ...]  # the members the value validates against


@dataclass(frozen=True)
class UnionCheck:
    """One union position of a body: what the oracle decided and what was decoded there."""

    location: str  # "$.items[0].discount"
    union: str  # the union schema's JSON pointer in the spec
    members: tuple[str, ...]
    decision: Decision
    actual: str  # the decoded object's class name, or "<not decoded>"
    ok: bool

    def describe(self) -> str:
        expected = self.decision.member or "the Unknown* fallback"
        return (
            f"{self.location}: expected {expected} ({self.decision.reason}; valid: "
            f"{', '.join(self.decision.valid) or 'none'}), decoded {self.actual}"
        )


@dataclass
class Walk:
    """What one walk found: the union checks, structural problems, the expected JSON."""

    checks: list[UnionCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    expected: Any = None


@dataclass(frozen=True)
class _Node:
    """A union flattened to a tree: a leaf is a member schema, inner nodes are unions."""

    pointer: str  # resolved: the schema itself, not a $ref to it
    name: str | None  # component name, when the schema is a component
    schema: Mapping[str, Any]
    children: tuple[_Node, ...] = ()

    def leaves(self) -> Iterator[_Node]:
        if not self.children:
            yield self
        for child in self.children:
            yield from child.leaves()

    def find(self, name: str) -> _Node | None:
        if self.name == name:
            return self
        for child in self.children:
            found = child.find(name)
            if found is not None:
                return found
        return None


def _is_null(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "null"


def _is_object(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    return (
        kind == "object"
        or (isinstance(kind, list) and "object" in kind)
        or ("properties" in schema)
    )


def _json_type_fits(schema: Mapping[str, Any], value: Any) -> bool:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    checks = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "null": value is None,
    }
    return any(checks.get(k, False) for k in kinds if k is not None)


def _unique(nodes: Iterator[_Node]) -> list[_Node]:
    seen: dict[str, _Node] = {}
    for node in nodes:
        seen.setdefault(node.pointer, node)
    return list(seen.values())


def _location(path: Sequence[str | int]) -> str:
    out = "$"
    for segment in path:
        out += f"[{segment}]" if isinstance(segment, int) else f".{segment}"
    return out


class Oracle:
    """The spec's reading of union positions (see the module docstring)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.schemas: Mapping[str, Any] = spec["components"]["schemas"]
        self._registry: Registry[Any] = Registry().with_resource(
            SPEC_URI, DRAFT202012.create_resource(spec)
        )
        self._validators: dict[str, Draft202012Validator] = {}
        self._trees: dict[str, _Node] = {}
        self._benefit_kinds: dict[str, str] | None = None

    # -- the spec ---------------------------------------------------------------------------

    def at(self, ptr: str) -> Mapping[str, Any]:
        """The spec's value at a JSON pointer."""
        node: Any = self.spec
        for raw in ptr.split("/")[1:]:
            segment = raw.replace("~1", "/").replace("~0", "~")
            node = node[int(segment)] if isinstance(node, list) else node[segment]
        result: Mapping[str, Any] = node
        return result

    def resolve(self, ptr: str) -> tuple[str, Mapping[str, Any], str | None]:
        """Follow `$ref`s from `ptr`: the schema's pointer, the schema, its component name."""
        schema = self.at(ptr)
        name = ptr[len(COMPONENTS) :] if ptr.startswith(COMPONENTS) else None
        for _ in range(50):
            ref = schema.get("$ref")
            if ref is None:
                return ptr, schema, name
            if not ref.startswith("#/"):
                raise OracleError(f"external $ref {ref!r} at {ptr}")
            ptr = ref[1:]
            schema = self.at(ptr)
            name = ptr[len(COMPONENTS) :] if ptr.startswith(COMPONENTS) else None
        raise OracleError(f"$ref cycle at {ptr}")

    def is_valid(self, ptr: str, value: Any) -> bool:
        """Whether `value` validates against the schema at `ptr` (Draft 2020-12, no formats)."""
        validator = self._validators.get(ptr)
        if validator is None:
            ref = {"$ref": f"{SPEC_URI}#{quote(ptr)}"}
            validator = Draft202012Validator(ref, registry=self._registry)
            self._validators[ptr] = validator
        return bool(validator.is_valid(value))

    def _tree(self, ptr: str) -> _Node:
        cached = self._trees.get(ptr)
        if cached is not None:
            return cached
        real, schema, name = self.resolve(ptr)
        children: list[_Node] = []
        for keyword in ("oneOf", "anyOf"):
            for i, _branch in enumerate(schema.get(keyword, ())):
                child = self._tree(f"{real}/{keyword}/{i}")
                if not _is_null(child.schema):
                    children.append(child)
        if "allOf" in schema:
            raise OracleError(f"allOf at {real} is not read by this oracle")
        node = _Node(real, name, schema, tuple(children))
        self._trees[ptr] = node
        return node

    def object_members(self, ptr: str) -> list[_Node]:
        """The object member schemas of the union at `ptr` (nested unions flattened)."""
        members = _unique(leaf for leaf in self._tree(ptr).leaves() if _is_object(leaf.schema))
        inline = [m.pointer for m in members if m.name is None]
        if len(members) >= 2 and inline:
            raise OracleError(f"union {ptr} has inline object members {inline}: no class name")
        return members

    def benefit_kind(self, benefit_type: Any) -> str | None:
        """`custom` -> `Custom`: the `Benefit` union member whose `type` const is it."""
        if self._benefit_kinds is None:
            kinds: dict[str, str] = {}
            for leaf in self._tree(COMPONENTS + "Benefit").leaves():
                const = leaf.schema.get("properties", {}).get("type", {}).get("const")
                if isinstance(const, str) and leaf.name and leaf.name.startswith("Benefit"):
                    kinds[const] = leaf.name[len("Benefit") :]
            self._benefit_kinds = kinds
        return self._benefit_kinds.get(benefit_type) if isinstance(benefit_type, str) else None

    # -- deciding a union -------------------------------------------------------------------

    def decide(
        self, ptr: str, value: Any, holder: tuple[str | None, str, Mapping[str, Any]] | None
    ) -> Decision:
        """The member the union at `ptr` means for `value`; `holder` is (schema name, key,
        object) of the object holding the union, when it is a property."""
        members = self.object_members(ptr)
        valid = [m for m in members if self.is_valid(m.pointer, value)]
        names = tuple(m.name or m.pointer for m in valid)
        if not valid:
            return Decision(None, "no member validates", names)
        if len(valid) == 1:
            return Decision(valid[0].name, "the only member that validates", names)

        # (a) a grant's properties: by the grant's benefit type
        if holder is not None and holder[1] == "properties" and holder[0] in GRANT_PROPERTIES_TAG:
            tag: Any = holder[2]
            for key in GRANT_PROPERTIES_TAG[holder[0]]:
                tag = tag.get(key) if isinstance(tag, Mapping) else None
            kind = self.benefit_kind(tag)
            wanted = f"BenefitGrant{kind}Properties" if kind else None
            for m in valid:
                if m.name == wanted:
                    return Decision(m.name, f"benefit type {tag!r}", names)
            if wanted in self.schemas and self.is_valid(f"{COMPONENTS}{wanted}", value):
                # The server writes this shape although the spec's union leaves it out
                # (meter_credit grants: customers/get_state_200_fx_alice_grants_meters.json).
                return Decision(wanted, f"benefit type {tag!r} (a shape the union omits)", names)
            return Decision(None, f"benefit type {tag!r} has no member here", names)

        # (b) the discriminator(s)
        candidates = valid
        node = self._tree(ptr)
        narrowed_by: list[str] = []
        while node.children and "discriminator" in node.schema and isinstance(value, Mapping):
            disc = node.schema["discriminator"]
            tag = value.get(disc["propertyName"])
            target = disc.get("mapping", {}).get(tag) if isinstance(tag, str) else None
            if target is None:
                break
            found = node.find(self.resolve(target[1:])[2] or "")
            if found is None:
                raise OracleError(f"discriminator of {node.pointer} maps {tag!r} to {target}")
            narrowed_by.append(f"{disc['propertyName']}={tag!r}")
            node = found
        if narrowed_by:
            under = {leaf.pointer for leaf in node.leaves()}
            candidates = [m for m in valid if m.pointer in under]
            reason = "discriminator " + ", ".join(narrowed_by)
            if not candidates:
                return Decision(None, reason + " names a member that does not validate", names)
            if len(candidates) == 1:
                return Decision(candidates[0].name, reason, names)

        # (c) all required keys present, most of them
        keys = set(value) if isinstance(value, Mapping) else set()
        full = [m for m in candidates if set(m.schema.get("required", ())) <= keys]
        if full:
            most = max(len(m.schema.get("required", ())) for m in full)
            best = [m for m in full if len(m.schema.get("required", ())) == most]
            if len(best) == 1:
                return Decision(best[0].name, f"requires the most present keys ({most})", names)
        raise OracleError(f"the spec does not decide between {', '.join(names)} at {ptr}")

    # -- walking a body ---------------------------------------------------------------------

    def walk(self, decoded: Any, value: Any, ptr: str) -> Walk:
        """Check every union position of `value` (decoded as `decoded`) under the schema at
        `ptr`, and compute the JSON `unstructure(decoded)` should give back."""
        result = Walk()
        result.expected = self._walk(decoded, value, ptr, [], None, result)
        return result

    def _walk(
        self,
        obj: Any,
        value: Any,
        ptr: str,
        path: list[str | int],
        holder: tuple[str | None, str, Mapping[str, Any]] | None,
        out: Walk,
    ) -> Any:
        real, schema, name = self.resolve(ptr)
        if value is None:
            if obj is not ABSENT and obj is not None:
                out.problems.append(f"{_location(path)}: null decoded as {obj!r}")
            return None
        tree = self._tree(real)
        if tree.children:
            return self._union(obj, value, real, tree, path, holder, out)
        if isinstance(value, dict) and (_is_object(schema) or "additionalProperties" in schema):
            return self._object(obj, value, real, schema, name, path, out)
        if isinstance(value, list):
            return self._array(obj, value, real, schema, path, out)
        return value

    def _union(
        self,
        obj: Any,
        value: Any,
        ptr: str,
        tree: _Node,
        path: list[str | int],
        holder: tuple[str | None, str, Mapping[str, Any]] | None,
        out: Walk,
    ) -> Any:
        objects = self.object_members(ptr)
        if len(objects) >= 2 and isinstance(value, dict):
            decision = self.decide(ptr, value, holder)
            actual = "<not decoded>" if obj is ABSENT else type(obj).__name__
            if decision.member is None:
                ok = obj is not ABSENT and isinstance(obj, UnknownModel)
            else:
                ok = obj is not ABSENT and actual == class_name(decision.member)
            out.checks.append(
                UnionCheck(
                    location=_location(path),
                    union=ptr,
                    members=tuple(m.name or m.pointer for m in objects),
                    decision=decision,
                    actual=actual,
                    ok=ok,
                )
            )
            if decision.member is None:
                return value  # the fallback keeps the raw object
            member = COMPONENTS + pointer(decision.member)[1:]
            return self._walk(obj if ok else ABSENT, value, member, path, holder, out)
        # Not a union of objects: nullable, or a union of primitives/arrays/one object.
        branches = _unique(tree.leaves())
        if len(branches) == 1:
            return self._walk(obj, value, branches[0].pointer, path, holder, out)
        for branch in branches:
            if self.is_valid(branch.pointer, value):
                return self._walk(obj, value, branch.pointer, path, holder, out)
        for branch in branches:
            if _json_type_fits(branch.schema, value):
                return self._walk(obj, value, branch.pointer, path, holder, out)
        return value

    def _object(
        self,
        obj: Any,
        value: dict[str, Any],
        ptr: str,
        schema: Mapping[str, Any],
        name: str | None,
        path: list[str | int],
        out: Walk,
    ) -> Any:
        props: Mapping[str, Any] | None = schema.get("properties")
        extra = schema.get("additionalProperties")
        if props is None:
            if not isinstance(extra, Mapping):
                return value  # a free-form object: kept whole
            if obj is not ABSENT and not isinstance(obj, Mapping):
                out.problems.append(f"{_location(path)}: a map decoded as {type(obj).__name__}")
                obj = ABSENT
            return {
                k: self._walk(
                    ABSENT if obj is ABSENT else obj.get(k, ABSENT),
                    v,
                    f"{ptr}/additionalProperties",
                    [*path, k],
                    None,
                    out,
                )
                for k, v in value.items()
            }
        wire: dict[str, str] = {}
        if obj is not ABSENT:
            if attrs.has(type(obj)):
                wire = {a.metadata.get("wire", a.name): a.name for a in attrs.fields(type(obj))}
            else:
                out.problems.append(f"{_location(path)}: an object decoded as {type(obj).__name__}")
                obj = ABSENT
        result: dict[str, Any] = {}
        for key, item in value.items():
            if key in props:
                if obj is not ABSENT and key not in wire:
                    out.problems.append(
                        f"{_location(path)}: {type(obj).__name__} has no field for {key!r}"
                    )
                attr = getattr(obj, wire[key]) if key in wire else ABSENT
                result[key] = self._walk(
                    attr,
                    item,
                    f"{ptr}/properties/{pointer(key)[1:]}",
                    [*path, key],
                    (name, key, value),
                    out,
                )
            elif extra is True or isinstance(extra, Mapping):
                sub = f"{ptr}/additionalProperties"
                result[key] = (
                    item
                    if extra is True
                    else self._walk(ABSENT, item, sub, [*path, key], None, out)
                )
        return result

    def _array(
        self,
        obj: Any,
        value: list[Any],
        ptr: str,
        schema: Mapping[str, Any],
        path: list[str | int],
        out: Walk,
    ) -> Any:
        if obj is not ABSENT and (not isinstance(obj, (list, tuple)) or len(obj) != len(value)):
            out.problems.append(f"{_location(path)}: a {len(value)}-item array decoded as {obj!r}")
            obj = ABSENT
        result: list[Any] = []
        prefix = schema.get("prefixItems", ())
        for i, item in enumerate(value):
            if i < len(prefix):
                sub = f"{ptr}/prefixItems/{i}"
            elif isinstance(schema.get("items"), Mapping):
                sub = f"{ptr}/items"
            else:
                result.append(item)
                continue
            part = ABSENT if obj is ABSENT else obj[i]
            result.append(self._walk(part, item, sub, [*path, i], None, out))
        return result
