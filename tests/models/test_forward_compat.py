"""Forward compatibility, checked on mutated copies of every recorded real 2xx body.

Each recorded body is decoded once with its declared response type. Walking the body's JSON
next to the decoded tree, with the generator's IR for the type of every field, gives a
survey of the body: every model object (its class, IR model, depth), every enum-typed
value, every tag-decided union position, every free-form map, every field present. A
survey also builds the body as `unstructure()` must give it back: the keys the schemas
declare (plus what free-form maps, `extra` models and `Unknown*` objects keep).

Copies of the body are then changed the way a newer (or broken) server would change them:

1. enum values this SDK does not know: they decode and stay strings;
2. union tags nobody knows: the object becomes the union's `Unknown*` fallback, whose `raw`
   is the object as received and which unstructures back to it;
3. a field nobody declares, added to every object at every depth: the decode equals the
   unmutated one (free-form maps and `extra` models keep such keys instead, which is checked
   separately);
4. optional fields left out: they read as None (NOT_GIVEN for request-side models) and the
   body round-trips without them;
5. a required field missing, or a value of the wrong type, at the top and deep down:
   `ResponseDecodeError` names the model and the JSON path, keeps the input in `.data`, and
   quotes neither secrets from the body nor the bad value.

Copies share everything but the containers on the changed path, so the thousands of
mutations stay cheap. Every test asserts that it applied every mutation its survey planned;
`test_mutation_counts` asserts that each category plans some (and prints the counts).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import attrs
import pytest

import polar_sdk.models as models
from codegen.openapi import ir
from polar_sdk import NOT_GIVEN
from polar_sdk._converter import hooks
from polar_sdk.errors import ResponseDecodeError
from polar_sdk.models import structure, unstructure
from polar_sdk.models._base import ModelBase, RequestModel, UnknownModel
from polar_sdk.models._convert import type_name
from tests.spec_support import RecordedBody, api, python_type, recorded_success_bodies

pytestmark = pytest.mark.heavy

JsonPath = tuple[str | int, ...]

NEW_ENUM_VALUE = "zz_new_value_2099"
NEW_TAG = "zz_new_tag_2099"
NEW_KEY = "zz_new_field"
NEW_KEY_VALUE: dict[str, Any] = {"nested": [1, 2]}
KEPT_SCALAR = "zz_kept_2099"

# Deep wrong-type and missing-field cases are taken from objects at least this many models
# below the body's root model (the root's own fields are depth 0).
DEEP = 2


def _collect() -> tuple[list[RecordedBody], str | None]:
    try:
        return list(recorded_success_bodies()), None
    except pytest.skip.Exception as exc:  # no spec/recordings here (an error under CI=true)
        return [], str(exc.msg)


BODIES, SKIP_REASON = _collect()
BY_NAME = {b.name: b for b in BODIES}
NAMES = (
    [pytest.param(name, id=name) for name in BY_NAME]
    if SKIP_REASON is None
    else [pytest.param("", id="no-recordings", marks=pytest.mark.skip(reason=SKIP_REASON))]
)


# -- the survey ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectSite:
    """A model object in the body."""

    path: JsonPath
    model: ir.ModelDef
    cls: type[Any]
    depth: int  # how many model objects enclose it


@dataclass(frozen=True)
class FieldSite:
    """A field present in a model object."""

    owner: ObjectSite
    field: ir.Field
    type: ir.TypeExpr  # with the owner's type variables substituted

    @property
    def path(self) -> JsonPath:
        return (*self.owner.path, self.field.wire_name)


@dataclass(frozen=True)
class EnumSite:
    path: JsonPath
    where: str  # its JSON path, for messages


@dataclass(frozen=True)
class UnionSite:
    path: JsonPath
    union: ir.UnionDef
    member: str  # the decoded class
    tag_path: JsonPath  # absolute path of the value the rule reads first


@dataclass(frozen=True)
class FreeFormSite:
    """An object that keeps keys nobody declares: a map, an `extra` model, a free object."""

    path: JsonPath
    kind: str  # "map", "extra", "object"
    new_value: Any  # a value its value type accepts


@dataclass
class Survey:
    body: RecordedBody
    tp: Any
    decoded: Any
    expected: Any  # what unstructure(decoded) must give
    objects: list[ObjectSite] = field(default_factory=list)
    fields: list[FieldSite] = field(default_factory=list)
    enums: list[EnumSite] = field(default_factory=list)
    unions: list[UnionSite] = field(default_factory=list)
    free_forms: list[FreeFormSite] = field(default_factory=list)
    sealed: list[JsonPath] = field(default_factory=list)  # Unknown* objects, free values
    decisions: set[JsonPath] = field(default_factory=set)  # every key a union rule reads


@functools.cache
def _model_by_class() -> dict[str, ir.ModelDef]:
    return {m.py_name: m for m in api().models.values()}


def _scalar_value(tp: ir.TypeExpr) -> Any:
    """A value of a map's value type that needs no shape, or None when there is none."""
    if isinstance(tp, ir.Nullable):
        return _scalar_value(tp.inner)
    if isinstance(tp, ir.Prim):
        return {"str": KEPT_SCALAR, "any": NEW_KEY_VALUE, "object": NEW_KEY_VALUE}.get(tp.kind)
    if isinstance(tp, ir.Either):
        values = [_scalar_value(m) for m in tp.members]
        return KEPT_SCALAR if KEPT_SCALAR in values else None
    if isinstance(tp, ir.Named) and tp.name in api().aliases:
        return _scalar_value(api().aliases[tp.name].type)
    return None


def _rule_paths(rule: ir.Rule | None) -> Iterator[tuple[str, ...]]:
    if isinstance(rule, ir.TagRule):
        yield rule.path
        for _, sub in rule.cases:
            yield from _rule_paths(sub)
        yield from _rule_paths(rule.default)
        yield from _rule_paths(rule.absent)
    elif isinstance(rule, ir.KeyRule):
        yield tuple(rule.key) if isinstance(rule.key, (tuple, list)) else (rule.key,)
        yield from _rule_paths(rule.present)
        yield from _rule_paths(rule.absent)


def _absolute(site: JsonPath, rel: tuple[str, ...]) -> JsonPath:
    if rel and rel[0] == "..":  # the object holding the union's field
        parent = site
        while parent and isinstance(parent[-1], int):  # a list item: the list's field
            parent = parent[:-1]
        return (*parent[:-1], *rel[1:])
    return (*site, *rel)


class _Walker:
    def __init__(self, survey: Survey) -> None:
        self.s = survey

    def walk(
        self,
        value: Any,
        tp: ir.TypeExpr,
        decoded: Any,
        path: JsonPath,
        tv: dict[str, ir.TypeExpr],
        depth: int,
    ) -> Any:
        """Record the sites under `path`; return the value as unstructure() must give it."""
        if isinstance(tp, ir.Nullable):
            if value is None:
                assert decoded is None, path
                return None
            return self.walk(value, tp.inner, decoded, path, tv, depth)
        if isinstance(tp, ir.OpenEnum):
            if isinstance(value, str):
                self.s.enums.append(EnumSite(path, json_path(path)))
            return value
        if isinstance(tp, ir.ListOf):
            assert isinstance(value, list) and len(value) == len(decoded), path
            return [
                self.walk(v, tp.item, d, (*path, i), tv, depth)
                for i, (v, d) in enumerate(zip(value, decoded, strict=True))
            ]
        if isinstance(tp, ir.TupleOf):
            assert isinstance(value, list) and len(value) == len(tp.items), path
            return [
                self.walk(v, t, d, (*path, i), tv, depth)
                for i, (v, t, d) in enumerate(zip(value, tp.items, decoded, strict=True))
            ]
        if isinstance(tp, ir.MapOf):
            assert isinstance(value, dict) and isinstance(decoded, dict), path
            new_value = _scalar_value(tp.value)
            if new_value is not None:
                self.s.free_forms.append(FreeFormSite(path, "map", new_value))
            return {
                k: self.walk(v, tp.value, decoded[k], (*path, k), tv, depth)
                for k, v in value.items()
            }
        if isinstance(tp, ir.Prim):
            if tp.kind in ("any", "object") and isinstance(value, (dict, list)):
                self.s.sealed.append(path)
                if isinstance(value, dict):
                    self.s.free_forms.append(FreeFormSite(path, "object", NEW_KEY_VALUE))
            return value
        if isinstance(tp, (ir.Const, ir.Either)):
            if isinstance(value, (dict, list)):
                self.s.sealed.append(path)
            return value
        assert isinstance(tp, ir.Named), tp
        if tp.name in tv:
            return self.walk(value, tv[tp.name], decoded, path, tv, depth)
        a = api()
        kind = a.kind_of(tp.name)
        if kind == "alias":
            return self.walk(value, a.aliases[tp.name].type, decoded, path, tv, depth)
        if kind == "enum":
            if isinstance(value, str):
                self.s.enums.append(EnumSite(path, json_path(path)))
            return value
        if kind == "union":
            return self.union(value, a.unions[tp.name], decoded, path, tv, depth)
        model = a.models[tp.name]
        args = tuple(_resolve(x, tv) for x in tp.args)
        return self.model(
            value, model, decoded, path, dict(zip(model.type_params, args, strict=True)), depth
        )

    def union(
        self,
        value: Any,
        union: ir.UnionDef,
        decoded: Any,
        path: JsonPath,
        tv: dict[str, ir.TypeExpr],
        depth: int,
    ) -> Any:
        for rel in _rule_paths(union.rule):
            self.s.decisions.add(_absolute(path, rel))
        if isinstance(decoded, UnknownModel):
            self.s.sealed.append(path)
            return value
        member = type(decoded).__name__
        if isinstance(union.rule, ir.TagRule):
            self.s.unions.append(UnionSite(path, union, member, _absolute(path, union.rule.path)))
        model = _model_by_class()[member]
        return self.model(value, model, decoded, path, tv, depth)

    def model(
        self,
        value: Any,
        model: ir.ModelDef,
        decoded: Any,
        path: JsonPath,
        tv: dict[str, ir.TypeExpr],
        depth: int,
    ) -> Any:
        cls = type(decoded)
        assert isinstance(value, dict), path
        assert isinstance(decoded, ModelBase) and cls.__name__ == model.py_name, path
        site = ObjectSite(path, model, cls, depth)
        self.s.objects.append(site)
        out: dict[str, Any] = {}
        for f in model.fields:
            if f.wire_name not in value:
                continue
            ftype = _resolve(f.type, tv)
            self.s.fields.append(FieldSite(site, f, ftype))
            out[f.wire_name] = self.walk(
                value[f.wire_name],
                ftype,
                getattr(decoded, f.py_name),
                (*path, f.wire_name),
                tv,
                depth + 1,
            )
        if model.extra is not None:
            new_value = _scalar_value(model.extra)
            assert new_value is not None, model.name
            self.s.free_forms.append(FreeFormSite(path, "extra", new_value))
            declared = {f.wire_name for f in model.fields}
            out.update((k, v) for k, v in value.items() if k not in declared)
        return out


def _resolve(tp: ir.TypeExpr, tv: dict[str, ir.TypeExpr]) -> ir.TypeExpr:
    if isinstance(tp, ir.Named):
        if tp.name in tv:
            return tv[tp.name]
        if tp.args:
            return ir.Named(tp.name, tuple(_resolve(a, tv) for a in tp.args))
        return tp
    if isinstance(tp, ir.Nullable):
        return ir.Nullable(_resolve(tp.inner, tv))
    if isinstance(tp, ir.ListOf):
        return ir.ListOf(_resolve(tp.item, tv))
    if isinstance(tp, ir.MapOf):
        return ir.MapOf(_resolve(tp.value, tv))
    if isinstance(tp, ir.TupleOf):
        return ir.TupleOf(tuple(_resolve(t, tv) for t in tp.items))
    return tp


def json_path(path: JsonPath) -> str:
    """cattrs' notation: `$.items[0].name`."""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


@functools.cache
def survey(name: str) -> Survey:
    body = BY_NAME[name]
    tp = python_type(body.type)
    decoded = structure(body.body, tp)
    s = Survey(body, tp, decoded, None)
    s.expected = _Walker(s).walk(body.body, body.type, decoded, (), {}, 0)
    return s


# -- JSON and decoded-tree helpers --------------------------------------------------------


def get(value: Any, path: JsonPath) -> Any:
    for key in path:
        value = value[key]
    return value


def replaced(root: Any, path: JsonPath, change: Callable[[Any], Any]) -> Any:
    """A copy of `root` with the value at `path` replaced by `change(value)`.

    Only the containers on the path are copied; everything else is shared.
    """
    if not path:
        return change(root)
    key = path[0]
    if isinstance(root, list):
        assert isinstance(key, int)
        copy = list(root)
    else:
        copy = dict(root)
    copy[key] = replaced(root[key], path[1:], change)
    return copy


def with_key(key: str, value: Any) -> Callable[[Any], Any]:
    return lambda obj: {**obj, key: value}


def without_keys(*keys: str) -> Callable[[Any], Any]:
    return lambda obj: {k: v for k, v in obj.items() if k not in keys}


@functools.cache
def _attr_by_wire(cls: type[Any]) -> dict[str, str]:
    return {a.metadata.get("wire", a.name): a.name for a in attrs.fields(cls)}


def locate(decoded: Any, path: JsonPath) -> tuple[Any, JsonPath]:
    """The decoded value at a JSON path, or the first `Unknown*` object on the way to it
    (and the rest of the path inside its `raw`)."""
    for i, key in enumerate(path):
        if isinstance(decoded, UnknownModel):
            return decoded, path[i:]
        if isinstance(decoded, ModelBase):
            assert isinstance(key, str)
            attr = _attr_by_wire(type(decoded)).get(key)
            decoded = getattr(decoded, attr) if attr is not None else decoded.extra[key]  # type: ignore[attr-defined]
        else:
            decoded = decoded[key]
    return decoded, ()


def under(path: JsonPath, roots: list[JsonPath] | set[JsonPath]) -> bool:
    return any(path[: len(r)] == r for r in roots)


def decode_cleanly(data: Any, tp: Any) -> Any:
    """Decode valid data; the lean path must take it (cattrs' detailed fallback is a bug)."""
    before = hooks().fallback_decodes
    result = structure(data, tp)
    assert hooks().fallback_decodes == before, "only cattrs' detailed fallback decoded this"
    return result


def first_diff(expected: Any, actual: Any, where: JsonPath = ()) -> str | None:
    """Where two JSON values first differ, for failure messages."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(expected.keys() | actual.keys(), key=str):
            if key not in actual:
                return f"{json_path((*where, key))}: missing"
            if key not in expected:
                return f"{json_path((*where, key))}: not expected"
            found = first_diff(expected[key], actual[key], (*where, key))
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            found = first_diff(e, a, (*where, i))
            if found:
                return found
        return None
    if expected == actual:
        return None
    return f"{json_path(where)}: expected {expected!r:.60}, got {actual!r:.60}"


def assert_round_trip(decoded: Any, expected: Any) -> None:
    actual = unstructure(decoded)
    assert actual == expected, f"unstructure differs at {first_diff(expected, actual)}"


class Failures:
    """The failed mutations of one test: every mutation runs, then the test fails with all."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.applied = 0

    def check(self, where: str, run: Callable[[], None]) -> None:
        self.applied += 1
        try:
            run()
        except Exception as exc:  # an AssertionError, or a decode that should have worked
            text = str(exc).split("\n", 1)[0]
            self.found.append(f"{where}: {type(exc).__name__}: {text[:300]}")

    def done(self, planned: int) -> None:
        assert self.applied == planned, f"applied {self.applied} of {planned} mutations"
        if self.found:
            shown = "\n  ".join(self.found[:8])
            pytest.fail(f"{len(self.found)} of {self.applied} mutations failed:\n  {shown}")


# -- the mutations, planned from a survey ---------------------------------------------------


def enum_plan(s: Survey) -> list[EnumSite]:
    return [e for e in s.enums if e.path not in s.decisions and not under(e.path, s.sealed)]


def union_plan(s: Survey) -> list[UnionSite]:
    return [u for u in s.unions if not under(u.path, s.sealed)]


def _prefix_of_decision(path: JsonPath, s: Survey) -> bool:
    return any(d[: len(path)] == path for d in s.decisions)


def optional_plan(s: Survey) -> list[tuple[ObjectSite, list[FieldSite]]]:
    """Per object: the present fields it may leave out (no union decides by them)."""
    by_object: dict[JsonPath, list[FieldSite]] = {}
    for f in s.fields:
        optional = not f.field.required or isinstance(f.field.type, ir.Nullable)
        if optional and not _prefix_of_decision(f.path, s) and not under(f.path, s.sealed):
            by_object.setdefault(f.owner.path, []).append(f)
    return [(o, by_object[o.path]) for o in s.objects if o.path in by_object]


def extra_key_plan(s: Survey) -> list[JsonPath]:
    """Every JSON object that must ignore a key nobody declares."""
    keep = [f.path for f in s.free_forms if f.kind != "map"]  # extra models keep it
    return [o.path for o in s.objects if o.path not in keep and not under(o.path, s.sealed)]


def free_form_plan(s: Survey) -> list[FreeFormSite]:
    return [f for f in s.free_forms if f.kind == "extra" or not under(f.path, s.sealed)]


@dataclass(frozen=True)
class Breakage:
    kind: str  # "missing", "null", or "as <json type>"
    site: FieldSite
    value: Any = None


_BAD_VALUES: dict[str, tuple[str, Any]] = {
    "str": ("a string given 12345", 12345),
    "int": ("an integer given 'x'", "x"),
    "float": ("a number given 'zz_not_a_number'", "zz_not_a_number"),
    "bool": ("a boolean given 'false'", "false"),
    "datetime": ("a date-time given 'yesterday'", "yesterday"),
    "date": ("a date given 'yesterday'", "yesterday"),
    "duration": ("a duration given 'yesterday'", "yesterday"),
    "model": ("an object given a list", [1, 2]),
    "list": ("a list given an object", {"zz": 1}),
    "enum": ("an enum given 12345", 12345),
}


def _bad_kind(tp: ir.TypeExpr) -> str | None:
    if isinstance(tp, ir.Nullable):
        return _bad_kind(tp.inner)
    if isinstance(tp, ir.Prim):
        return tp.kind if tp.kind in _BAD_VALUES else None
    if isinstance(tp, ir.ListOf):
        return "list"
    if isinstance(tp, ir.OpenEnum):
        return "enum"
    if isinstance(tp, ir.Named):
        kind = api().kind_of(tp.name)
        if kind == "alias":
            return _bad_kind(api().aliases[tp.name].type)
        return {"model": "model", "union": "model", "enum": "enum"}.get(kind)
    return None


def breakage_plan(s: Survey) -> list[Breakage]:
    """Per kind of breakage: the first case at the top (depth 0), one level down, and deep."""
    chosen: dict[tuple[str, str], Breakage] = {}
    secrets = _secrets(s)
    for f in s.fields:
        if under(f.path, s.sealed) or _prefix_of_decision(f.path, s):
            continue
        level = "top" if f.owner.depth == 0 else "nested" if f.owner.depth < DEEP else "deep"
        attr = attrs.fields_dict(f.owner.cls)[f.field.py_name]
        required = attr.default is attrs.NOTHING
        nullable = isinstance(f.type, ir.Nullable)
        cases: list[Breakage] = []
        if required and not nullable:
            cases.append(Breakage("missing", f))
            cases.append(Breakage("null", f, None))
        bad = _bad_kind(f.type)
        if bad is not None:
            cases.append(Breakage(_BAD_VALUES[bad][0], f, _BAD_VALUES[bad][1]))
        if secrets and bad in ("int", "float", "bool", "datetime", "date", "model", "list"):
            # A secret where it does not belong: the message must not quote it either.
            cases.append(Breakage(f"a {bad} given a secret from the body", f, secrets[0]))
        if f.field.wire_name != f.field.py_name and bad is not None:
            cases.append(Breakage("renamed field " + _BAD_VALUES[bad][0], f, _BAD_VALUES[bad][1]))
        for case in cases:
            chosen.setdefault((case.kind, level), case)
    return list(chosen.values())


def _secrets(s: Survey) -> list[str]:
    return [
        v
        for f in s.fields
        if f.field.secret and isinstance(v := get(s.body.body, f.path), str) and len(v) >= 6
    ]


# -- 1. unknown enum values -----------------------------------------------------------------


def _check_enum(s: Survey, site: EnumSite) -> None:
    data = replaced(s.body.body, site.path, lambda _old: NEW_ENUM_VALUE)
    decoded = decode_cleanly(data, s.tp)
    found, rest = locate(decoded, site.path)
    assert rest == (), f"an enclosing union took it: {type(found).__name__}"
    assert found == NEW_ENUM_VALUE, f"holds {found!r}"
    assert_round_trip(decoded, replaced(s.expected, site.path, lambda _old: NEW_ENUM_VALUE))


@pytest.mark.parametrize("name", NAMES)
def test_unknown_enum_values_decode_as_strings(name: str) -> None:
    s = survey(name)
    failures = Failures()
    plan = enum_plan(s)
    for site in plan:
        failures.check(site.where, functools.partial(_check_enum, s, site))
    failures.done(len(plan))


# -- 2. unknown union tags ------------------------------------------------------------------


def _expected_for_unknown_tag(site: UnionSite) -> str:
    """The class an unknown tag must give: the rule's default member, else the fallback."""
    rule = site.union.rule
    assert isinstance(rule, ir.TagRule)
    if isinstance(rule.default, ir.Pick):
        return api().py_name(rule.default.member.name)  # type: ignore[union-attr]
    assert rule.default is None, f"{site.union.name}: a nested default rule"
    return site.union.fallback


def _check_union(s: Survey, site: UnionSite) -> None:
    expected_cls = _expected_for_unknown_tag(site)
    data = replaced(s.body.body, site.tag_path, lambda _old: NEW_TAG)
    mutated = get(data, site.path)
    decoded = decode_cleanly(data, s.tp)
    found, rest = locate(decoded, site.path)
    if rest:  # an enclosing union is decided by this tag too: it took the object whole
        holder = get(data, site.path[: len(site.path) - len(rest)])
        assert isinstance(found, UnknownModel), type(found).__name__
        assert found.raw == holder, "the enclosing fallback's raw is not the object"
        assert unstructure(found) == holder, "the enclosing fallback unstructures otherwise"
        return
    assert type(found).__name__ == expected_cls, f"{type(found).__name__}, not {expected_cls}"
    if isinstance(found, UnknownModel):
        assert found.raw == mutated, f"raw differs at {first_diff(mutated, found.raw)}"
        assert unstructure(found) == mutated, "unstructure is not the object"


@pytest.mark.parametrize("name", NAMES)
def test_unknown_union_tags_give_the_fallback(name: str) -> None:
    s = survey(name)
    failures = Failures()
    plan = union_plan(s)
    for site in plan:
        where = f"{site.union.name} ({site.member}) at {json_path(site.path)}"
        failures.check(where, functools.partial(_check_union, s, site))
    failures.done(len(plan))


# -- 3. unknown fields at every depth ---------------------------------------------------------


def _check_new_fields(s: Survey, paths: list[JsonPath], value: Any) -> None:
    data = s.body.body
    for path in paths:
        data = replaced(data, path, with_key(NEW_KEY, value))
    decoded = decode_cleanly(data, s.tp)
    assert decoded == s.decoded, "the decode differs from the unmutated one"
    assert_round_trip(decoded, s.expected)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_fields_at_every_depth_are_ignored(name: str) -> None:
    s = survey(name)
    failures = Failures()
    plan = extra_key_plan(s)
    failures.check("every object", functools.partial(_check_new_fields, s, plan, NEW_KEY_VALUE))
    for path in plan:  # one object at a time as well: another shape for each decoder
        failures.check(json_path(path), functools.partial(_check_new_fields, s, [path], []))
    failures.done(1 + len(plan))


def _check_kept(s: Survey, plan: list[FreeFormSite]) -> None:
    data, expected = s.body.body, s.expected
    for site in plan:
        data = replaced(data, site.path, with_key(NEW_KEY, site.new_value))
        expected = replaced(expected, site.path, with_key(NEW_KEY, site.new_value))
    decoded = decode_cleanly(data, s.tp)
    for site in plan:
        found, rest = locate(decoded, site.path)
        assert rest == (), json_path(site.path)
        kept = found.extra if site.kind == "extra" else found
        assert kept.get(NEW_KEY) == site.new_value, f"{site.kind} at {json_path(site.path)}"
    assert_round_trip(decoded, expected)


@pytest.mark.parametrize("name", NAMES)
def test_free_form_objects_keep_new_keys(name: str) -> None:
    s = survey(name)
    failures = Failures()
    plan = free_form_plan(s)
    if plan:
        failures.check("every free-form object", functools.partial(_check_kept, s, plan))
    failures.done(1 if plan else 0)


# -- 4. missing optional fields ---------------------------------------------------------------


def _check_left_out(s: Survey, obj: ObjectSite, gone: list[FieldSite]) -> None:
    keys = [f.field.wire_name for f in gone]
    data = replaced(s.body.body, obj.path, without_keys(*keys))
    decoded = decode_cleanly(data, s.tp)
    found, rest = locate(decoded, obj.path)
    assert rest == () and type(found) is obj.cls, f"decoded as {type(found).__name__}"
    absent = NOT_GIVEN if issubclass(obj.cls, RequestModel) else None
    for f in gone:
        value = getattr(found, f.field.py_name)
        assert value is absent, f"{f.field.py_name} = {value!r}, not {absent!r}"
    assert_round_trip(decoded, replaced(s.expected, obj.path, without_keys(*keys)))


@pytest.mark.parametrize("name", NAMES)
def test_missing_optional_fields(name: str) -> None:
    s = survey(name)
    failures = Failures()
    plan = optional_plan(s)
    for obj, optional in plan:
        where = f"{obj.model.name} at {json_path(obj.path)} without"
        keys = [f.field.wire_name for f in optional]
        failures.check(f"{where} {keys}", functools.partial(_check_left_out, s, obj, optional))
        for f in optional:  # one at a time too
            check = functools.partial(_check_left_out, s, obj, [f])
            failures.check(f"{where} {f.field.wire_name!r}", check)
    failures.done(sum(1 + len(fields) for _, fields in plan))


# -- 5. broken bodies -------------------------------------------------------------------------


def _broken(s: Survey, case: Breakage) -> Any:
    f = case.site
    if case.kind == "missing":
        return replaced(s.body.body, f.owner.path, without_keys(f.field.wire_name))
    return replaced(s.body.body, f.path, lambda _old: case.value)


def _check_broken(s: Survey, case: Breakage, secrets: list[str]) -> None:
    data = _broken(s, case)
    try:
        structure(data, s.tp)
    except ResponseDecodeError as exc:
        error = exc
    else:
        raise AssertionError("decoded without an error")
    message = str(error)
    assert error.data is data, ".data is not the input"
    assert type_name(s.tp) in message, f"no model name in: {message}"
    path = re.escape(json_path(case.site.path))
    assert re.search(rf"@ {path}(;|$)", message), f"no path in: {message}"
    assert not [v for v in secrets if v in message], "the message quotes a secret"
    if isinstance(case.value, str) and len(case.value) > 4:
        assert case.value not in message, f"the message quotes the value: {message}"


@pytest.mark.parametrize("name", NAMES)
def test_broken_bodies_name_model_and_path(name: str) -> None:
    s = survey(name)
    secrets = _secrets(s)
    failures = Failures()
    plan = breakage_plan(s)
    for case in plan:
        where = f"{case.kind} at {json_path(case.site.path)} ({case.site.owner.model.name})"
        failures.check(where, functools.partial(_check_broken, s, case, secrets))
    failures.done(len(plan))


def map_value_plan(s: Survey) -> list[FreeFormSite]:
    """The maps of scalars in a body whose values a wrong value can be put in."""
    return [
        site
        for site in s.free_forms
        if site.kind == "map" and site.new_value == KEPT_SCALAR and site.path
    ]


def _check_map_value(s: Survey, site: FreeFormSite) -> None:
    data = replaced(s.body.body, site.path, with_key(NEW_KEY, [1, 2]))
    try:
        structure(data, s.tp)
    except ResponseDecodeError as exc:
        message = str(exc)
    else:
        raise AssertionError("decoded without an error")
    path = re.escape(f"{json_path(site.path)}[{NEW_KEY!r}]")
    assert re.search(rf"@ {path}(;|$)", message), f"the key is not named: {message}"


def test_bad_map_values_name_their_key() -> None:
    """A map value of the wrong type is named by its key, as cattrs writes it (`['k']`).

    One case per map field of each model (the first one met in the recordings).
    """
    if SKIP_REASON is not None:
        pytest.skip(SKIP_REASON)
    failures = Failures()
    seen: set[tuple[str, str | int]] = set()
    for name in BY_NAME:
        s = survey(name)
        owners = {o.path: o.model.name for o in s.objects}
        for site in map_value_plan(s):
            key = (owners.get(site.path[:-1], "?"), site.path[-1])
            if key not in seen:
                seen.add(key)
                where = f"{key[0]}.{key[1]} ({name} {json_path(site.path)})"
                failures.check(where, functools.partial(_check_map_value, s, site))
    assert seen
    print(f"\nmaps given a bad value: {len(seen)} model fields")
    failures.done(len(seen))


# -- models that keep undeclared keys (no recorded body has one) ----------------------------

USER_EVENT: dict[str, Any] = {
    "id": "evt_1",
    "timestamp": "2026-01-02T03:04:05Z",
    "organization_id": "org_1",
    "customer_id": None,
    "label": "API call",
    "name": "api.call",
    "source": "user",
    "metadata": {"_cost": {"amount": "0.25", "currency": "usd"}, "plan": "pro"},
}


def test_extra_models_keep_new_keys() -> None:
    data = replaced(USER_EVENT, ("metadata",), with_key(NEW_KEY, KEPT_SCALAR))
    data = replaced(data, (), with_key(NEW_KEY, NEW_KEY_VALUE))
    event = decode_cleanly([data], list[models.Event])[0]
    assert isinstance(event, models.UserEvent)
    assert event.metadata.extra == {"plan": "pro", NEW_KEY: KEPT_SCALAR}
    assert event.metadata.cost == models.CostMetadataOutput(amount="0.25", currency="usd")
    assert unstructure(event) == replaced(data, (), without_keys(NEW_KEY))


@pytest.mark.parametrize(
    ("path", "value", "reported"),
    [
        pytest.param(("metadata", "_cost"), [1, 2], ["._cost"], id="renamed-field-given-list"),
        pytest.param(("metadata", "_cost", "amount"), 5, ["._cost.amount"], id="in-renamed-field"),
        pytest.param(("metadata", "plan"), [1, 2], [".plan", "['plan']"], id="undeclared-key"),
    ],
)
def test_extra_models_name_bad_paths(path: JsonPath, value: Any, reported: list[str]) -> None:
    """The path uses wire names (`_cost`, not `cost`) and names an undeclared key too."""
    data = [replaced(USER_EVENT, path, lambda _old: value)]
    with pytest.raises(ResponseDecodeError) as caught:
        structure(data, list[models.Event])
    assert caught.value.data is data
    paths = "|".join(re.escape(f"$[0].metadata{r}") for r in reported)
    assert re.search(rf"@ ({paths})(;|$)", str(caught.value)), str(caught.value)


# -- the counts -------------------------------------------------------------------------------


def test_mutation_counts(capsys: pytest.CaptureFixture[str]) -> None:
    if SKIP_REASON is not None:
        pytest.skip(SKIP_REASON)
    counts: Counter[str] = Counter()
    ops_with: dict[str, set[str]] = {}
    levels: Counter[str] = Counter()
    for name in BY_NAME:
        s = survey(name)
        op = s.body.operation.operation_id
        planned = {
            "1 enum values": len(enum_plan(s)),
            "2 union tags": len(union_plan(s)),
            "3 objects given a new field": len(extra_key_plan(s)),
            "3 free-form objects keeping one": len(free_form_plan(s)),
            "4 objects losing optional fields": len(optional_plan(s)),
            "4 optional fields left out": sum(len(f) for _, f in optional_plan(s)),
            "5 broken bodies": len(breakage_plan(s)),
            "5 broken bodies holding secrets": len(breakage_plan(s)) if _secrets(s) else 0,
            "5 maps given a bad value": len(map_value_plan(s)),
        }
        for key, n in planned.items():
            counts[key] += n
            if n:
                ops_with.setdefault(key, set()).add(op)
        for case in breakage_plan(s):
            depth = case.site.owner.depth
            levels["top" if depth == 0 else "nested" if depth < DEEP else "deep"] += 1
    operations = {b.operation.operation_id for b in BODIES}
    with capsys.disabled():
        print(f"\nforward-compat mutations over {len(BODIES)} bodies, {len(operations)} ops:")
        for key in sorted(counts):
            print(f"  {key:36} {counts[key]:6}  ({len(ops_with.get(key, ()))} operations)")
        print(f"  broken bodies by level: {dict(levels)}")
    for key, n in counts.items():
        assert n > 0, key
    # Every operation's body gets point 3 (a new field), and 1-4 wherever they apply.
    with_objects = {n.operation.operation_id for n in BODIES if survey(n.name).objects}
    assert ops_with["3 objects given a new field"] == with_objects
    assert len(with_objects) >= len(operations) - 1, operations - with_objects
    assert levels["top"] > 0 and levels["deep"] > 0
