"""The spec -> IR builder (`codegen/openapi/build.py`), one small inline spec per construct.

Every case builds a tiny OpenAPI 3.1 document with an empty overlay (or one the case gives)
and compares the exact IR: type expressions, models, enums, unions and their decision rules,
union names, modules, request/response use, and operations.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs
import pytest

from codegen.openapi import ir
from codegen.openapi.build import BuildError, build_api
from codegen.openapi.emit_models import BANNER, emit_models
from codegen.openapi.overlay import Overlay

JSON = dict[str, Any]

STR: JSON = {"type": "string"}
INT: JSON = {"type": "integer"}
NULL: JSON = {"type": "null"}


# -- spec helpers -----------------------------------------------------------------------------


def ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def const(value: Any) -> JSON:
    kind = {bool: "boolean", int: "integer", str: "string"}[type(value)]
    return {"type": kind, "const": value}


def obj(props: JSON, *required: str, **more: Any) -> JSON:
    return {"type": "object", "properties": props, "required": list(required), **more}


def any_of(*names: str, **more: Any) -> JSON:
    return {"anyOf": [ref(n) for n in names], **more}


def one_of(*names: str, **more: Any) -> JSON:
    return {"oneOf": [ref(n) for n in names], **more}


def disc(prop: str, **mapping: str) -> JSON:
    return {
        "propertyName": prop,
        "mapping": {value: f"#/components/schemas/{target}" for value, target in mapping.items()},
    }


def document(
    schemas: JSON,
    operation: JSON | None = None,
    *,
    path: str = "/v1/x/",
    method: str = "post",
    **top: Any,
) -> JSON:
    """An OpenAPI 3.1 document with these component schemas and at most one operation."""
    paths = {path: {method: operation}} if operation is not None else {}
    return {
        "openapi": "3.1.0",
        "info": {"title": "test", "version": "0"},
        "paths": paths,
        "components": {"schemas": schemas},
        **top,
    }


def build(
    schemas: JSON, operation: JSON | None = None, overlay: Overlay | None = None, **kw: Any
) -> ir.Api:
    return build_api(document(schemas, operation, **kw), Overlay() if overlay is None else overlay)


def answer(schema: JSON, status: str = "200") -> JSON:
    return {status: {"description": "", "content": {"application/json": {"schema": schema}}}}


def body(schema: JSON, media: str = "application/json", *, required: bool = True) -> JSON:
    return {"required": required, "content": {media: {"schema": schema}}}


def op(operation_id: str = "x:create", **more: Any) -> JSON:
    return {"operationId": operation_id, "responses": {"204": {"description": ""}}, **more}


def N(name: str, *args: ir.TypeExpr) -> ir.Named:
    return ir.Named(name, args)


def pick(name: str) -> ir.Pick:
    return ir.Pick(N(name))


def tag(path: str, *cases: tuple[Any, ir.Rule], **more: Any) -> ir.TagRule:
    return ir.TagRule(tuple(path.split(".")), cases, **more)


def field(wire: str, tp: ir.TypeExpr, *, required: bool = False, **more: Any) -> ir.Field:
    return ir.Field(wire, more.pop("py_name", wire), tp, required, **more)


# -- type expressions -------------------------------------------------------------------------

# Components every type case may refer to.
COMPONENTS: JSON = {
    "X": obj({"id": STR}, "id"),
    "E": {"type": "string", "enum": ["a", "b"]},
}

TYPE_CASES = [
    pytest.param({"anyOf": [ref("X"), NULL]}, ir.Nullable(N("X")), id="nullable-ref"),
    pytest.param({"anyOf": [STR, NULL]}, ir.Nullable(ir.Prim("str")), id="nullable-str"),
    pytest.param({"anyOf": [NULL, INT]}, ir.Nullable(ir.Prim("int")), id="nullable-null-first"),
    pytest.param({"anyOf": [ref("E"), NULL]}, ir.Nullable(N("E")), id="nullable-enum"),
    pytest.param({"anyOf": [STR, INT]}, ir.Either((ir.Prim("str"), ir.Prim("int"))), id="either"),
    pytest.param(
        {"anyOf": [STR, INT, NULL]},
        ir.Nullable(ir.Either((ir.Prim("str"), ir.Prim("int")))),
        id="nullable-either",
    ),
    pytest.param({"const": "individual"}, ir.Const("individual"), id="const-str"),
    pytest.param(const(3), ir.Const(3), id="const-int"),
    pytest.param(const(True), ir.Const(True), id="const-bool"),
    pytest.param({"type": "string", "enum": ["only"]}, ir.Const("only"), id="one-value-enum"),
    pytest.param(
        {"type": "string", "enum": ["a", "b"]}, N("E"), id="inline-enum-equal-to-component"
    ),
    pytest.param(
        {"type": "string", "enum": ["a", "c"]}, ir.OpenEnum(("a", "c")), id="other-inline-enum"
    ),
    pytest.param(ref("E"), N("E"), id="enum-ref"),
    pytest.param(ref("X"), N("X"), id="model-ref"),
    pytest.param(
        {"type": "object", "additionalProperties": INT}, ir.MapOf(ir.Prim("int")), id="map"
    ),
    pytest.param(
        {"type": "object", "additionalProperties": ref("X")}, ir.MapOf(N("X")), id="map-of-models"
    ),
    pytest.param(
        {"type": "object", "additionalProperties": True}, ir.Prim("object"), id="map-true"
    ),
    pytest.param(
        {"type": "array", "prefixItems": [STR, ref("X")]},
        ir.TupleOf((ir.Prim("str"), N("X"))),
        id="prefix-items",
    ),
    pytest.param({"type": "array", "items": ref("X")}, ir.ListOf(N("X")), id="array"),
    pytest.param(
        {"type": "array", "items": {"type": "array", "items": INT}},
        ir.ListOf(ir.ListOf(ir.Prim("int"))),
        id="array-of-arrays",
    ),
    pytest.param({"type": "array"}, ir.ListOf(ir.Prim("any")), id="array-without-items"),
    pytest.param({"type": "string", "format": "date-time"}, ir.Prim("datetime"), id="date-time"),
    pytest.param({"type": "string", "format": "date"}, ir.Prim("date"), id="date"),
    pytest.param({"type": "string", "format": "duration"}, ir.Prim("duration"), id="duration"),
    pytest.param({"type": "string", "format": "uuid4"}, ir.Prim("str", "uuid4"), id="uuid4"),
    pytest.param({"type": "string", "format": "uri"}, ir.Prim("str", "uri"), id="uri"),
    pytest.param({"type": "string", "format": "email"}, ir.Prim("str", "email"), id="email"),
    pytest.param(STR, ir.Prim("str"), id="str"),
    pytest.param(INT, ir.Prim("int"), id="int"),
    pytest.param({"type": "number"}, ir.Prim("float"), id="number"),
    pytest.param({"type": "boolean"}, ir.Prim("bool"), id="bool"),
    pytest.param({}, ir.Prim("any"), id="empty-schema"),
    pytest.param({"title": "Anything", "description": "d"}, ir.Prim("any"), id="titled-any"),
    pytest.param({"type": "object"}, ir.Prim("object"), id="bare-object"),
    pytest.param(
        {"type": "object", "properties": {}}, ir.Prim("object"), id="object-no-properties"
    ),
    pytest.param(NULL, ir.Prim("null"), id="null"),
    # An integer enum holds numbers on the wire: an open enum of *strings* ("1", "2") would
    # neither type nor decode them. Open like a string enum: any integer.
    pytest.param({"type": "integer", "enum": [1, 2]}, ir.Prim("int"), id="integer-enum"),
]


@pytest.mark.parametrize(("schema", "expected"), TYPE_CASES)
def test_property_type(schema: JSON, expected: ir.TypeExpr) -> None:
    api = build({**COMPONENTS, "P": obj({"f": schema})})
    assert api.models["P"].fields[0].type == expected


TYPE_ERRORS = [
    pytest.param(
        {"type": "object", "properties": {"a": STR}},
        "P.f: inline object with properties",
        id="inline-object",
    ),
    pytest.param({"anyOf": [NULL]}, "P.f: only null", id="only-null"),
    pytest.param(
        {"anyOf": [ref("X"), STR]}, "P.f: a union mixing models and other types", id="mixed"
    ),
    pytest.param({"$ref": "#/definitions/X"}, "unsupported \\$ref", id="foreign-ref"),
    pytest.param({"not": STR}, "P.f: cannot express", id="not"),
]


@pytest.mark.parametrize(("schema", "message"), TYPE_ERRORS)
def test_property_type_the_generator_refuses(schema: JSON, message: str) -> None:
    with pytest.raises(BuildError, match=message):
        build({**COMPONENTS, "P": obj({"f": schema})})


# -- fields -----------------------------------------------------------------------------------

FIELD_CASES = [
    pytest.param("name", STR, True, field("name", ir.Prim("str"), required=True), id="required"),
    pytest.param("name", STR, False, field("name", ir.Prim("str")), id="optional"),
    pytest.param(
        "count",
        {"type": "integer", "default": 10},
        False,
        field("count", ir.Prim("int"), has_default=True, default=10),
        id="default",
    ),
    pytest.param(
        "note",
        {"anyOf": [STR, NULL], "default": None},
        False,
        field("note", ir.Nullable(ir.Prim("str")), has_default=True, default=None),
        id="default-null",
    ),
    pytest.param(
        "_llm", STR, True, field("_llm", ir.Prim("str"), py_name="llm", required=True), id="_llm"
    ),
    pytest.param("from", STR, False, field("from", ir.Prim("str"), py_name="from_"), id="keyword"),
    pytest.param(
        "class", STR, False, field("class", ir.Prim("str"), py_name="class_"), id="keyword-class"
    ),
    pytest.param(
        "old",
        {"type": "string", "deprecated": True},
        False,
        field("old", ir.Prim("str"), deprecated=True),
        id="deprecated",
    ),
    pytest.param(
        "id",
        {"type": "string", "readOnly": True},
        False,
        field("id", ir.Prim("str"), read_only=True),
        id="read-only",
    ),
    pytest.param(
        "api_key", STR, False, field("api_key", ir.Prim("str"), secret=True), id="secret-key"
    ),
    pytest.param("token", STR, False, field("token", ir.Prim("str"), secret=True), id="token"),
    pytest.param(
        "client_secret",
        STR,
        False,
        field("client_secret", ir.Prim("str"), secret=True),
        id="secret",
    ),
    pytest.param("keyword", STR, False, field("keyword", ir.Prim("str")), id="not-a-secret"),
    pytest.param(
        "name",
        {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^a"},
        False,
        field(
            "name",
            ir.Prim("str"),
            constraints=ir.Constraints(min_length=1, max_length=5, pattern="^a"),
        ),
        id="string-constraints",
    ),
    pytest.param(
        "n",
        {"anyOf": [{"type": "integer", "minimum": 0, "exclusiveMaximum": 9}, NULL]},
        False,
        field(
            "n",
            ir.Nullable(ir.Prim("int")),
            constraints=ir.Constraints(minimum=0.0, exclusive_maximum=9.0),
        ),
        id="nullable-constraints",
    ),
    pytest.param(
        "tags",
        {"type": "array", "items": STR, "minItems": 1, "maxItems": 3},
        False,
        field(
            "tags", ir.ListOf(ir.Prim("str")), constraints=ir.Constraints(min_items=1, max_items=3)
        ),
        id="array-constraints",
    ),
]


@pytest.mark.parametrize(("wire", "schema", "required", "expected"), FIELD_CASES)
def test_field(wire: str, schema: JSON, required: bool, expected: ir.Field) -> None:
    api = build({"P": obj({wire: schema}, *([wire] if required else []))})
    assert api.models["P"].fields == (expected,)


def test_overlay_secret_field() -> None:
    overlay = Overlay(secret_fields=frozenset({"P.url"}))
    api = build({"P": obj({"url": STR, "other": STR})}, overlay=overlay)
    assert [(f.py_name, f.secret) for f in api.models["P"].fields] == [
        ("url", True),
        ("other", False),
    ]


def test_field_names_that_collide_get_underscores() -> None:
    api = build({"P": obj({"a-b": STR, "a_b": STR})})
    assert [(f.wire_name, f.py_name) for f in api.models["P"].fields] == [
        ("a-b", "a_b"),
        ("a_b", "a_b_"),
    ]


# -- components -------------------------------------------------------------------------------

COMPONENT_CASES = [
    pytest.param(
        {"type": "string", "enum": ["a", "b"]}, ir.EnumDef("C", "C", ("a", "b")), id="enum"
    ),
    pytest.param(
        {"type": "string", "enum": ["only"]}, ir.EnumDef("C", "C", ("only",)), id="one-value-enum"
    ),
    pytest.param(
        obj({"a": STR}, "a"),
        ir.ModelDef("C", "C", (field("a", ir.Prim("str"), required=True),), "response"),
        id="model",
    ),
    pytest.param(
        obj({"a": STR}, additionalProperties=INT),
        ir.ModelDef("C", "C", (field("a", ir.Prim("str")),), "response", extra=ir.Prim("int")),
        id="model-with-extra",
    ),
    pytest.param(
        obj({"a": STR}, additionalProperties=False),
        ir.ModelDef("C", "C", (field("a", ir.Prim("str")),), "response"),
        id="model-additional-false",
    ),
    pytest.param(
        {"type": "object", "additionalProperties": STR},
        ir.AliasDef("C", "C", ir.MapOf(ir.Prim("str"))),
        id="map-alias",
    ),
    pytest.param(ref("X"), ir.AliasDef("C", "C", N("X")), id="ref-alias"),
    pytest.param(
        {"anyOf": [STR, INT]},
        ir.AliasDef("C", "C", ir.Either((ir.Prim("str"), ir.Prim("int")))),
        id="primitive-union-alias",
    ),
    pytest.param({"type": "object"}, ir.AliasDef("C", "C", ir.Prim("object")), id="object-alias"),
]


@pytest.mark.parametrize(("schema", "expected"), COMPONENT_CASES)
def test_component(schema: JSON, expected: ir.ModelDef | ir.EnumDef | ir.AliasDef) -> None:
    api = build({"X": obj({"id": STR}), "C": schema})
    tables: dict[type, dict[str, Any]] = {
        ir.ModelDef: api.models,
        ir.EnumDef: api.enums,
        ir.AliasDef: api.aliases,
    }
    got = tables[type(expected)]["C"]
    assert got.module  # every component gets a module
    assert got == attrs.evolve(expected, module=got.module)
    assert [n for t in tables.values() for n in t if n == "C"] == ["C"]
    assert "C" not in api.unions


def test_a_property_named_extra_and_extras_do_not_clash() -> None:
    api = build({"C": obj({"extra": STR}, additionalProperties=INT)})
    model = api.models["C"]
    assert model.fields == (field("extra", ir.Prim("str"), py_name="extra_"),)
    assert model.extra == ir.Prim("int")


@pytest.mark.parametrize(
    ("spec_name", "py_name"),
    [
        pytest.param("CostMetadata-Input", "CostMetadataInput", id="input"),
        pytest.param("CostMetadata-Output", "CostMetadataOutput", id="output"),
        pytest.param(
            "Body_email-update_verify_email_update", "EmailUpdateVerifyBody", id="fastapi-body"
        ),
        pytest.param("Customer", "Customer", id="plain"),
    ],
)
def test_component_class_names(spec_name: str, py_name: str) -> None:
    api = build({spec_name: obj({"a": STR})})
    assert api.models[spec_name].py_name == py_name
    assert api.py_name(spec_name) == py_name


def test_union_component_class_and_fallback_names() -> None:
    api = build(
        {
            "A": obj({"type": const("a")}, "type"),
            "B": obj({"type": const("b")}, "type"),
            "Thing-Output": any_of("A", "B"),
        }
    )
    union = api.unions["Thing-Output"]
    assert (union.py_name, union.fallback) == ("ThingOutput", "UnknownThingOutput")


# -- unions: decision rules -------------------------------------------------------------------

_KIND_AB = {"type": "string", "enum": ["a", "b"]}

RULE_CASES = [
    pytest.param(
        {"A": obj({"type": STR, "a": STR}, "type"), "B": obj({"type": STR, "b": STR}, "type")},
        one_of("A", "B", discriminator=disc("type", a="A", b="B")),
        tag("type", ("a", pick("A")), ("b", pick("B"))),
        (("type", "type"),),
        id="discriminator-mapping",
    ),
    pytest.param(
        {
            "X": obj({"type": const("x")}, "type"),
            "V1": obj({"type": const("v"), "kind": const("1")}, "type", "kind"),
            "V2": obj({"type": const("v"), "kind": const("2")}, "type", "kind"),
            "V": one_of("V1", "V2", discriminator=disc("kind", **{"1": "V1", "2": "V2"})),
        },
        one_of("X", "V", discriminator=disc("type", x="X", v="V")),
        tag(
            "type",
            ("x", pick("X")),
            ("v", tag("kind", ("1", pick("V1")), ("2", pick("V2")))),
        ),
        (("type", "type"),),
        id="discriminator-target-is-a-union",
    ),
    pytest.param(
        {"A": obj({"type": const("a")}, "type"), "B": obj({"type": const("b")}, "type")},
        one_of("A", "B", discriminator=disc("type", a="A")),
        tag("type", ("a", pick("A")), ("b", pick("B"))),
        (("type", "type"),),
        id="discriminator-mapping-misses-a-member",
    ),
    pytest.param(
        {"A": obj({"type": const("a")}, "type"), "B": obj({"type": const("b")}, "type")},
        any_of("A", "B"),
        tag("type", ("a", pick("A")), ("b", pick("B"))),
        (("type", "type"),),
        id="distinct-const-tags",
    ),
    pytest.param(
        {"A": obj({"type": const("a"), "x": STR}, "type"), "B": obj({"type": STR}, "type")},
        any_of("A", "B"),
        tag("type", ("a", pick("A")), default=pick("B")),
        (("type", "type"),),
        id="const-vs-unrestricted-string",
    ),
    pytest.param(
        {"A": obj({"type": _KIND_AB}, "type"), "C": obj({"type": const("c")}, "type")},
        any_of("A", "C"),
        tag("type", ("a", pick("A")), ("b", pick("A")), ("c", pick("C"))),
        (("type", "type"),),
        id="const-vs-enum",
    ),
    pytest.param(
        {
            "Kind": _KIND_AB,
            "A": obj({"type": ref("Kind")}, "type"),
            "C": obj({"type": const("c")}, "type"),
        },
        any_of("A", "C"),
        tag("type", ("a", pick("A")), ("b", pick("A")), ("c", pick("C"))),
        (("type", "type"),),
        id="enum-component-vs-const",
    ),
    pytest.param(
        {
            "BA": obj({"type": const("a")}, "type"),
            "BB": obj({"type": const("b")}, "type"),
            "GA": obj({"benefit": ref("BA")}, "benefit"),
            "GB": obj({"benefit": ref("BB")}, "benefit"),
        },
        any_of("GA", "GB"),
        tag("benefit.type", ("a", pick("GA")), ("b", pick("GB"))),
        (),
        id="nested-tag",
    ),
    pytest.param(
        {
            "A": obj({"type": const("a")}, "type"),
            "B": obj({"type": const("b"), "x": STR}, "type", "x"),
            "C": obj({"type": const("b"), "y": STR}, "type", "y"),
        },
        any_of("A", "B", "C"),
        tag("type", ("a", pick("A")), ("b", ir.KeyRule(("x",), pick("B"), pick("C")))),
        (("type", "type"),),
        id="tag-then-key",
    ),
    pytest.param(
        {
            "A": obj({"type": {**const("a"), "default": "a"}}),
            "B": obj({"type": const("b")}, "type"),
        },
        any_of("A", "B"),
        tag("type", ("a", pick("A")), ("b", pick("B")), absent=pick("A")),
        (("type", "type"),),
        id="tag-with-a-default",
    ),
    pytest.param(
        {"A": obj({"version": const(1)}, "version"), "B": obj({"version": const(2)}, "version")},
        any_of("A", "B"),
        tag("version", (1, pick("A")), (2, pick("B"))),
        (),
        id="integer-tags",
    ),
    pytest.param(
        {"A": obj({"x": STR}, "x"), "B": obj({"y": STR}, "y")},
        any_of("A", "B"),
        ir.KeyRule(("x",), pick("A"), pick("B")),
        (),
        id="required-key",
    ),
    pytest.param(
        {"A": obj({"a": STR, "x": STR}, "x"), "B": obj({"b": STR})},
        any_of("A", "B"),
        ir.KeyRule(("x",), pick("A"), pick("B")),
        (),
        id="required-key-beats-declared-key",
    ),
    pytest.param(
        {"A": obj({"z": STR, "x": STR}), "B": obj({"z": STR})},
        any_of("A", "B"),
        ir.KeyRule(("x",), pick("A"), pick("B")),
        (),
        id="key-declared-by-some-members",
    ),
    pytest.param(
        {"A": obj({"id": STR, "x": STR}, "id", "x"), "B": obj({"id": STR, "y": STR}, "id", "y")},
        any_of("A", "B"),
        ir.KeyRule(("x",), pick("A"), pick("B")),
        (("id", "id"),),
        id="lifted-id",
    ),
    pytest.param(
        {
            "A": obj({"id": STR, "type": const("a")}, "id", "type"),
            "B": obj({"id": STR, "type": const("b")}, "id", "type"),
        },
        any_of("A", "B"),
        tag("type", ("a", pick("A")), ("b", pick("B"))),
        (("type", "type"), ("id", "id")),
        id="lifted-tag-and-id",
    ),
    pytest.param(
        {
            "A": obj({"id": STR, "type": const("a")}, "id", "type"),
            "B": obj({"id": STR, "type": const("b")}, "type"),
        },
        any_of("A", "B"),
        tag("type", ("a", pick("A")), ("b", pick("B"))),
        (("type", "type"),),
        id="id-not-lifted-when-optional-somewhere",
    ),
]


@pytest.mark.parametrize(("members", "union", "rule", "lifted"), RULE_CASES)
def test_union_rule(
    members: JSON, union: JSON, rule: ir.Rule, lifted: tuple[tuple[str, str], ...]
) -> None:
    api = build({**members, "U": union})
    got = api.unions["U"]
    assert got.rule == rule
    assert got.lifted == lifted
    assert got.fallback == "UnknownU"
    assert got.origin is None


@pytest.mark.parametrize(
    ("schemas", "message"),
    [
        pytest.param(
            {"A": obj({"x": STR}), "B": obj({"x": STR}), "U": any_of("A", "B")},
            r"U: nothing tells A, B apart",
            id="component",
        ),
        pytest.param(
            {"A": obj({"x": STR}), "B": obj({"x": STR}), "P": obj({"u": any_of("A", "B")})},
            r"P\.u: nothing tells A, B apart",
            id="inline",
        ),
        pytest.param(
            {
                "A": obj({"type": const("a")}, "type"),
                "B": obj({"type": STR, "x": STR}, "x"),
                "C": obj({"type": STR, "y": STR}, "y"),
                "U": one_of("A", "B", "C", discriminator=disc("type", a="A")),
            },
            r"U: discriminator mapping misses",
            id="mapping-misses-undecidable-members",
        ),
    ],
)
def test_undecidable_union_is_an_error_naming_it(schemas: JSON, message: str) -> None:
    with pytest.raises(BuildError, match=message):
        build(schemas)


def test_a_nullable_inline_union_keeps_its_discriminator() -> None:
    # FastAPI writes `Annotated[A | B, Discriminator("type")] | None` like this: the
    # discriminator sits on the inner oneOf, not on the anyOf that adds null.
    schemas = {
        "A": obj({"type": STR, "a": STR}, "type"),
        "B": obj({"type": STR, "b": STR}, "type"),
        "P": obj(
            {
                "u": {
                    "anyOf": [
                        one_of("A", "B", discriminator=disc("type", a="A", b="B")),
                        NULL,
                    ]
                }
            },
            "u",
        ),
    }
    api = build(schemas)
    assert api.models["P"].fields[0].type == ir.Nullable(N("PU"))
    assert api.unions["PU"].rule == tag("type", ("a", pick("A")), ("b", pick("B")))


# -- unions decided by the object that holds them (overlay context rules) ---------------------

_GRANT: JSON = {
    "PA": obj({"a": STR}),
    "PB": obj({"b": STR}),
    "Grant": obj({"benefit": ref("Benefit"), "properties": any_of("PA", "PB")}, "properties"),
    "Benefit": obj({"type": STR}, "type"),
}
_CONTEXT: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "Grant.properties": (("benefit", "type"), {"a": "PA", "b": "PB"})
}


def test_overlay_context_rule() -> None:
    api = build(_GRANT, overlay=Overlay(context_unions=_CONTEXT))
    union = api.unions["GrantProperties"]
    assert union.members == (N("PA"), N("PB"))
    assert union.rule == ir.TagRule(
        ("..", "benefit", "type"), (("a", pick("PA")), ("b", pick("PB")))
    )
    assert union.lifted == ()
    assert union.origin == "Grant.properties"
    assert api.models["Grant"].fields[1].type == N("GrantProperties")


def test_overlay_context_rule_must_name_members() -> None:
    context: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
        "Grant.properties": (("benefit", "type"), {"a": "PA", "c": "Benefit"})
    }
    with pytest.raises(BuildError, match="Benefit is not a member of GrantProperties"):
        build(_GRANT, overlay=Overlay(context_unions=context))


def test_a_context_union_is_not_shared_with_a_position_without_context() -> None:
    # `Other` has no sibling `benefit`: reading `..benefit.type` there would never decide.
    schemas = {**_GRANT, "Other": obj({"props": any_of("PA", "PB")})}
    api = build(schemas, overlay=Overlay(context_unions=_CONTEXT))
    other = api.models["Other"].fields[0].type
    assert other != N("GrantProperties")
    assert isinstance(other, ir.Named)
    assert api.unions[other.name].rule == ir.KeyRule(("a",), pick("PA"), pick("PB"))


# -- inline unions: names, sharing, flattening ------------------------------------------------

_AB: JSON = {"A": obj({"type": const("a")}, "type"), "B": obj({"type": const("b")}, "type")}

NAME_CASES = [
    pytest.param(
        {"P": obj({"t": any_of("A", "B", title="Thing Kind")})},
        None,
        "P.t",
        N("ThingKind"),
        id="multi-word-title",
    ),
    pytest.param(
        {"P": obj({"t": any_of("A", "B", title="Thing")})},
        None,
        "P.t",
        N("PT"),
        id="one-word-title-ignored",
    ),
    pytest.param(
        {
            "CustomerBenefitA": obj({"type": const("a")}, "type"),
            "CustomerBenefitB": obj({"type": const("b")}, "type"),
            "P": obj({"t": any_of("CustomerBenefitA", "CustomerBenefitB")}),
        },
        None,
        "P.t",
        N("CustomerBenefit"),
        id="members-leading-words",
    ),
    pytest.param(
        {
            "OrderPaidEvent": obj({"type": const("a")}, "type"),
            "RefundPaidEvent": obj({"type": const("b")}, "type"),
            "P": obj({"t": any_of("OrderPaidEvent", "RefundPaidEvent")}),
        },
        None,
        "P.t",
        N("PaidEvent"),
        id="members-trailing-words",
    ),
    pytest.param({"P": obj({"u": any_of("A", "B")})}, None, "P.u", N("PU"), id="parent-field"),
    pytest.param(
        {"Parent-Output": obj({"u": any_of("A", "B")})},
        None,
        "Parent-Output.u",
        N("ParentOutputU"),
        id="parent-class-name",
    ),
    pytest.param(
        {"P": obj({"items": {"type": "array", "items": any_of("A", "B")}})},
        None,
        "P.items[]",
        ir.ListOf(N("PItemsItem")),
        id="array-item",
    ),
    pytest.param(
        {"P": obj({"m": {"type": "object", "additionalProperties": any_of("A", "B")}})},
        None,
        "P.m{}",
        ir.MapOf(N("PMValue")),
        id="map-value",
    ),
    pytest.param(
        {"P": obj({"u": {"anyOf": [ref("A"), ref("B"), NULL]}})},
        None,
        "P.u",
        ir.Nullable(N("PU")),
        id="nullable",
    ),
    pytest.param(
        {"P": obj({"u": any_of("A", "B", title="Thing Kind")})},
        Overlay(union_names={"P.u": "Chosen"}),
        "P.u",
        N("Chosen"),
        id="overlay-name",
    ),
    pytest.param(
        {"PU": obj({"x": STR}), "P": obj({"u": any_of("A", "B")})},
        None,
        "P.u",
        N("PU2"),
        id="taken-name-numbered",
    ),
]


@pytest.mark.parametrize(("schemas", "overlay", "origin", "expected"), NAME_CASES)
def test_inline_union_name(
    schemas: JSON, overlay: Overlay | None, origin: str, expected: ir.TypeExpr
) -> None:
    api = build({**_AB, **schemas}, overlay=overlay)
    holder, _ = origin.split(".")
    assert api.models[holder].fields[0].type == expected
    (name,) = api.unions
    union = api.unions[name]
    assert (union.py_name, union.fallback, union.origin) == (name, f"Unknown{name}", origin)
    assert len(union.members) == 2


def test_two_positions_with_the_same_members_share_one_union() -> None:
    api = build({**_AB, "P": obj({"u": any_of("A", "B")}), "Q": obj({"v": any_of("A", "B")})})
    assert list(api.unions) == ["PU"]
    assert api.models["Q"].fields[0].type == N("PU")
    assert api.unions["PU"].origin == "P.u"


def test_an_overlay_name_gives_a_position_its_own_union() -> None:
    overlay = Overlay(union_names={"Q.v": "Chosen"})
    schemas = {**_AB, "P": obj({"u": any_of("A", "B")}), "Q": obj({"v": any_of("A", "B")})}
    api = build(schemas, overlay=overlay)
    assert sorted(api.unions) == ["Chosen", "PU"]
    assert api.models["Q"].fields[0].type == N("Chosen")
    assert api.unions["Chosen"].members == api.unions["PU"].members


def test_an_inline_union_of_a_component_union_is_that_union() -> None:
    api = build({**_AB, "U": any_of("A", "B"), "P": obj({"u": any_of("A", "B")})})
    assert list(api.unions) == ["U"]
    assert api.models["P"].fields[0].type == N("U")


@pytest.mark.parametrize(
    "position",
    [
        pytest.param(any_of("AB", "C"), id="member-is-a-component-union"),
        pytest.param(
            {"anyOf": [{"anyOf": [ref("A"), ref("B")]}, ref("C")]}, id="nested-inline-anyof"
        ),
        pytest.param(any_of("A", "AB", "C"), id="repeated-member-once"),
    ],
)
def test_union_members_flatten(position: JSON) -> None:
    schemas = {
        **_AB,
        "C": obj({"type": const("c")}, "type"),
        "AB": any_of("A", "B"),
        "P": obj({"u": position}),
    }
    api = build(schemas)
    union = api.unions["PU"]
    assert union.members == (N("A"), N("B"), N("C"))
    assert union.fallback == "UnknownPU"
    assert union.rule == tag("type", ("a", pick("A")), ("b", pick("B")), ("c", pick("C")))
    assert api.unions["AB"].members == (N("A"), N("B"))
    assert api.unions["AB"].fallback == "UnknownAB"


@pytest.mark.parametrize(
    ("operation", "where", "name", "origin"),
    [
        pytest.param(
            op(requestBody=body(any_of("A", "B"))),
            "body",
            "XCreateBody",
            "x:create.body",
            id="body",
        ),
        pytest.param(
            {"operationId": "x:create", "responses": answer(any_of("A", "B"))},
            "200",
            "XCreate200",
            "x:create.200",
            id="answer",
        ),
        pytest.param(
            {
                "operationId": "x:create",
                "responses": answer({"type": "array", "items": any_of("A", "B")}),
            },
            "200[]",
            "XCreate200Item",
            "x:create.200[]",
            id="answer-items",
        ),
    ],
)
def test_inline_union_in_an_operation(operation: JSON, where: str, name: str, origin: str) -> None:
    api = build(_AB, operation)
    assert list(api.unions) == [name]
    assert api.unions[name].origin == origin
    (operation_ir,) = api.operations
    if where == "body":
        assert operation_ir.body is not None
        tp = operation_ir.body.type
    else:
        tp = operation_ir.responses[0].type
    assert tp == (ir.ListOf(N(name)) if where.endswith("[]") else N(name))


# -- pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "page"),
    [
        pytest.param("ListResource", "ListResource", id="page"),
        pytest.param(
            "ListResourceWithCursorPagination", "ListResourceWithCursorPagination", id="cursor"
        ),
    ],
)
def test_list_resource_schemas_become_one_generic_page(prefix: str, page: str) -> None:
    def page_schema(item: str) -> JSON:
        return {
            "type": "object",
            "title": f"{prefix}[{item}]",
            "properties": {
                "items": {"type": "array", "items": ref(item), "title": "Items"},
                "pagination": ref("Pagination"),
            },
            "required": ["items", "pagination"],
        }

    schemas = {
        "X": obj({"id": STR}, "id"),
        "Y": obj({"id": STR}, "id"),
        "Pagination": obj({"total_count": INT}, "total_count"),
        f"{prefix}_X_": page_schema("X"),
        f"{prefix}_Y_": page_schema("Y"),
        "Holder": obj({"page": ref(f"{prefix}_Y_")}),
    }
    operation = {"operationId": "x:list", "responses": answer(ref(f"{prefix}_X_"))}
    api = build(schemas, operation, method="get")
    model = api.models[page]
    assert (model.name, model.py_name, model.type_params, model.extra) == (page, page, ("T",), None)
    assert model.fields == (
        field("items", ir.ListOf(N("T")), required=True),
        field("pagination", N("Pagination"), required=True),
    )
    assert not [n for n in (*api.models, *api.aliases) if n.startswith(f"{prefix}_")]
    assert api.operations[0].responses[0].type == N(page, N("X"))
    assert api.models["Holder"].fields[0].type == N(page, N("Y"))
    assert api.models["X"].use == "response"


# -- request or response ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "use"),
    [
        pytest.param("Req", "request", id="body"),
        pytest.param("Inner", "request", id="reached-from-body"),
        pytest.param("Resp", "response", id="answer"),
        pytest.param("Both", "both", id="body-and-answer"),
        pytest.param("Err", "response", id="error-answer"),
        pytest.param("Unused", "response", id="unused"),
    ],
)
def test_model_use(name: str, use: ir.ModelUse) -> None:
    schemas = {
        "Req": obj({"inner": ref("Inner"), "both": ref("Both")}),
        "Inner": obj({"v": STR}),
        "Both": obj({"v": STR}),
        "Resp": obj({"both": ref("Both")}),
        "Err": obj({"detail": STR}),
        "Unused": obj({"v": STR}),
    }
    operation = {
        "operationId": "x:create",
        "requestBody": body(ref("Req")),
        "responses": {**answer(ref("Resp")), **answer(ref("Err"), "422")},
    }
    api = build(schemas, operation)
    assert api.models[name].use == use


# -- overlay schema patches -------------------------------------------------------------------

_PATCHED: JSON = {"P": obj({"a": {"type": "string", "title": "A"}, "b": INT}, "b")}

PATCH_CASES = [
    pytest.param(
        {"properties": {"a": {"type": "integer"}}},
        (field("a", ir.Prim("int")), field("b", ir.Prim("int"), required=True)),
        id="replace-property",
    ),
    pytest.param(
        {"properties": {"a": {"merge": True, "minLength": 1}}},
        (
            field("a", ir.Prim("str"), constraints=ir.Constraints(min_length=1)),
            field("b", ir.Prim("int"), required=True),
        ),
        id="merge-property",
    ),
    pytest.param(
        {"properties": {"c": const("x")}},
        (
            field("a", ir.Prim("str")),
            field("b", ir.Prim("int"), required=True),
            field("c", ir.Const("x")),
        ),
        id="add-property",
    ),
    pytest.param(
        {"required": {"add": ["a"], "remove": ["b"]}},
        (field("a", ir.Prim("str"), required=True), field("b", ir.Prim("int"))),
        id="required-add-and-remove",
    ),
    pytest.param(
        {"properties": {"a": {"type": "integer"}}, "required": {"add": ["a"]}},
        (field("a", ir.Prim("int"), required=True), field("b", ir.Prim("int"), required=True)),
        id="property-and-required",
    ),
]


@pytest.mark.parametrize(("patch", "fields"), PATCH_CASES)
def test_overlay_schema_patch(patch: JSON, fields: tuple[ir.Field, ...]) -> None:
    spec = document(copy.deepcopy(_PATCHED))
    before = copy.deepcopy(spec)
    api = build_api(spec, Overlay(schema_patches={"P": patch}))
    assert api.models["P"].fields == fields
    assert spec == before  # the caller's document is not changed


def test_overlay_schema_patch_can_make_a_union_decidable() -> None:
    schemas = {"A": obj({"type": STR}, "type"), "B": obj({"type": STR}, "type")}
    schemas["U"] = any_of("A", "B")
    patches = {
        "A": {"properties": {"type": const("a")}},
        "B": {"properties": {"type": const("b")}},
    }
    api = build(schemas, overlay=Overlay(schema_patches=patches))
    assert api.unions["U"].rule == tag("type", ("a", pick("A")), ("b", pick("B")))


def test_overlay_schema_patch_of_an_unknown_schema_is_an_error() -> None:
    with pytest.raises(BuildError, match="overlay patches unknown schema Missing"):
        build(_PATCHED, overlay=Overlay(schema_patches={"Missing": {"properties": {}}}))


# -- modules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "module"),
    [
        pytest.param("U", "_u", id="union"),
        pytest.param("A", "_u", id="union-member"),
        pytest.param("B", "_u", id="other-union-member"),
        pytest.param("Kind", "_shared", id="enum-of-two-groups"),
        pytest.param("Limit", "_shared", id="value-alias-of-two-groups"),
        pytest.param("Other", "_other", id="model"),
        pytest.param("Solo", "_other", id="enum-of-one-group"),
        pytest.param("Address", "_other", id="model-of-one-group"),
    ],
)
def test_module(name: str, module: str) -> None:
    schemas = {
        "Kind": {"type": "string", "enum": ["k", "l"]},
        "Solo": {"type": "string", "enum": ["s", "t"]},
        "Limit": INT,
        "A": obj({"type": const("a"), "kind": ref("Kind"), "limit": ref("Limit")}, "type"),
        "B": obj({"type": const("b")}, "type"),
        "U": one_of("A", "B", discriminator=disc("type", a="A", b="B")),
        "Address": obj({"line": STR}),
        "Other": obj(
            {"kind": ref("Kind"), "solo": ref("Solo"), "limit": ref("Limit"), "at": ref("Address")}
        ),
    }
    api = build(schemas)
    tables = (api.models, api.enums, api.unions, api.aliases)
    got = next(t[name].module for t in tables if name in t)
    assert got == module


def test_an_inline_union_and_its_members_share_a_module() -> None:
    api = build({**_AB, "P": obj({"u": any_of("A", "B")}), "Q": obj({"v": any_of("A", "B")})})
    assert {api.unions["PU"].module, api.models["A"].module, api.models["B"].module} == {"_pu"}


# -- operations -------------------------------------------------------------------------------


def test_operation() -> None:
    schemas = {"F": obj({"a": STR}), "C": obj({"id": STR}, "id"), "Err": obj({"detail": STR})}
    operation = {
        "operationId": "customers:members:create_external",
        "tags": ["customers", "members"],
        "summary": "Create Member",
        "deprecated": True,
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": STR}],
        "requestBody": body(ref("F")),
        "responses": {
            **answer(ref("C"), "201"),
            **answer(ref("Err"), "422"),
            "404": {"description": ""},
        },
        "security": [{"oidc": ["customers:write"]}, {"pat": ["customers:write"]}],
    }
    api = build(schemas, operation, path="/v1/customers/{id}/members")
    assert api.operations == (
        ir.Operation(
            operation_id="customers:members:create_external",
            method="POST",
            path="/v1/customers/{id}/members",
            tag="customers",
            resource=("customers", "members"),
            method_name="create_external",
            params=(
                ir.Param("id", "id", "path", ir.Prim("str"), True, style="simple", explode=False),
            ),
            body=ir.Body("application/json", N("F"), True),
            responses=(ir.Response(201, "json", N("C"), "application/json"),),
            errors=((422, N("Err")), (404, None)),
            security=(("oidc",), ("pat",)),
            scopes=("customers:write",),
            pagination=None,
            deprecated=True,
            summary="Create Member",
        ),
    )


@pytest.mark.parametrize("method", ["get", "put", "post", "delete", "patch"])
def test_operation_method(method: str) -> None:
    api = build({}, op(), method=method)
    assert api.operations[0].method == method.upper()


def test_path_items_keys_that_are_not_methods_are_not_operations() -> None:
    spec = document({}, op())
    spec["paths"]["/v1/x/"]["summary"] = "not an operation"
    spec["paths"]["/v1/x/"]["parameters"] = []
    assert len(build_api(spec, Overlay()).operations) == 1


@pytest.mark.parametrize(
    ("operation_id", "resource", "method_name"),
    [
        pytest.param(
            "customers:members:create_external",
            ("customers", "members"),
            "create_external",
            id="nested",
        ),
        pytest.param(
            "oauth2:clients:oauth2:create_client",
            ("oauth2", "clients"),
            "create_client",
            id="repeated-segment",
        ),
        pytest.param("customers:list", ("customers",), "list", id="flat"),
        pytest.param(
            "customer-portal:downloadables:get",
            ("customer_portal", "downloadables"),
            "get",
            id="dash",
        ),
    ],
)
def test_operation_resource_and_method_name(
    operation_id: str, resource: tuple[str, ...], method_name: str
) -> None:
    (got,) = build({}, op(operation_id)).operations
    assert (got.operation_id, got.resource, got.method_name) == (
        operation_id,
        resource,
        method_name,
    )


PARAM_CASES = [
    pytest.param(
        {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid4"},
        },
        ir.Param("id", "id", "path", ir.Prim("str", "uuid4"), True, "simple", False),
        id="path",
    ),
    pytest.param(
        {"name": "q", "in": "query", "schema": STR},
        ir.Param("q", "q", "query", ir.Prim("str"), False, "form", True),
        id="query-defaults",
    ),
    pytest.param(
        {"name": "q", "in": "query", "required": True, "schema": {"anyOf": [STR, NULL]}},
        ir.Param("q", "q", "query", ir.Nullable(ir.Prim("str")), True, "form", True),
        id="query-nullable-required",
    ),
    pytest.param(
        {"name": "ids", "in": "query", "explode": False, "schema": {"type": "array", "items": STR}},
        ir.Param("ids", "ids", "query", ir.ListOf(ir.Prim("str")), False, "form", False),
        id="query-not-exploded",
    ),
    pytest.param(
        {
            "name": "metadata",
            "in": "query",
            "style": "deepObject",
            "explode": True,
            "schema": {"type": "object", "additionalProperties": STR},
        },
        ir.Param(
            "metadata", "metadata", "query", ir.MapOf(ir.Prim("str")), False, "deepObject", True
        ),
        id="query-deep-object",
    ),
    pytest.param(
        {"name": "X-Request-Id", "in": "header", "schema": STR},
        ir.Param("X-Request-Id", "X_Request_Id", "header", ir.Prim("str"), False, "simple", False),
        id="header",
    ),
    pytest.param(
        {"name": "session", "in": "cookie", "schema": STR},
        ir.Param("session", "session", "cookie", ir.Prim("str"), False, "form", True),
        id="cookie",
    ),
    pytest.param(
        {"name": "from", "in": "query", "deprecated": True, "schema": STR},
        ir.Param("from", "from_", "query", ir.Prim("str"), False, "form", True, deprecated=True),
        id="keyword-deprecated",
    ),
    pytest.param(
        {"name": "sorting", "in": "query", "schema": {"type": "array", "items": ref("Sort")}},
        ir.Param("sorting", "sorting", "query", ir.ListOf(N("Sort")), False, "form", True),
        id="query-enum-list",
    ),
]


@pytest.mark.parametrize(("param", "expected"), PARAM_CASES)
def test_parameter(param: JSON, expected: ir.Param) -> None:
    schemas = {"Sort": {"type": "string", "enum": ["a", "-a"]}}
    api = build(schemas, op(parameters=[param]), path="/v1/x/{id}")
    assert api.operations[0].params == (expected,)


def test_path_level_parameters_come_first() -> None:
    spec = document({}, op(parameters=[{"name": "q", "in": "query", "schema": STR}]))
    spec["paths"]["/v1/x/"]["parameters"] = [
        {"name": "org", "in": "query", "required": True, "schema": STR}
    ]
    (got,) = build_api(spec, Overlay()).operations
    assert [(p.name, p.required) for p in got.params] == [("org", True), ("q", False)]


def test_operation_parameter_overrides_the_path_level_one() -> None:
    # OpenAPI: an operation parameter with the same name and location replaces the path's.
    spec = document({}, op(parameters=[{"name": "org", "in": "query", "schema": INT}]))
    spec["paths"]["/v1/x/"]["parameters"] = [
        {"name": "org", "in": "query", "required": True, "schema": STR}
    ]
    (got,) = build_api(spec, Overlay()).operations
    assert got.params == (ir.Param("org", "org", "query", ir.Prim("int"), False),)


BODY_CASES = [
    pytest.param(body(ref("F")), ir.Body("application/json", N("F"), True), id="json"),
    pytest.param(
        body(ref("F"), required=False), ir.Body("application/json", N("F"), False), id="optional"
    ),
    pytest.param(
        body(ref("F"), "application/x-www-form-urlencoded"),
        ir.Body("application/x-www-form-urlencoded", N("F"), True),
        id="form",
    ),
    pytest.param(
        body(ref("F"), "multipart/form-data"),
        ir.Body("multipart/form-data", N("F"), True),
        id="multipart",
    ),
    pytest.param(
        {"required": True, "content": {"application/octet-stream": {}}},
        ir.Body("application/octet-stream", None, True),
        id="no-schema",
    ),
    pytest.param(None, None, id="none"),
]


@pytest.mark.parametrize(("request_body", "expected"), BODY_CASES)
def test_request_body(request_body: JSON | None, expected: ir.Body | None) -> None:
    extra: JSON = {} if request_body is None else {"requestBody": request_body}
    api = build({"F": obj({"a": STR})}, op(**extra))
    assert api.operations[0].body == expected


RESPONSE_CASES = [
    pytest.param(
        answer(ref("C")), (ir.Response(200, "json", N("C"), "application/json"),), (), id="json"
    ),
    pytest.param(
        answer({"type": "array", "items": ref("C")}),
        (ir.Response(200, "json", ir.ListOf(N("C")), "application/json"),),
        (),
        id="json-list",
    ),
    pytest.param({"204": {"description": ""}}, (ir.Response(204, "none"),), (), id="no-content"),
    pytest.param(
        {"200": {"description": "", "content": {"text/plain": {"schema": STR}}}},
        (ir.Response(200, "text", None, "text/plain"),),
        (),
        id="text",
    ),
    pytest.param(
        {**answer(ref("C"), "201"), **answer(ref("C"), "202")},
        (
            ir.Response(201, "json", N("C"), "application/json"),
            ir.Response(202, "json", N("C"), "application/json"),
        ),
        (),
        id="two-successes",
    ),
    pytest.param(
        {
            **answer(ref("C")),
            **answer(ref("Err"), "422"),
            "404": {"description": ""},
            "500": {"description": "", "content": {"text/plain": {"schema": STR}}},
        },
        (ir.Response(200, "json", N("C"), "application/json"),),
        ((422, N("Err")), (404, None), (500, None)),
        id="errors",
    ),
]


@pytest.mark.parametrize(("responses", "expected", "errors"), RESPONSE_CASES)
def test_responses(
    responses: JSON,
    expected: tuple[ir.Response, ...],
    errors: tuple[tuple[int, ir.TypeExpr | None], ...],
) -> None:
    schemas = {"C": obj({"id": STR}), "Err": obj({"detail": STR})}
    (got,) = build(schemas, op(responses=responses)).operations
    assert got.responses == expected
    assert got.errors == errors


SECURITY_CASES = [
    pytest.param(
        [{"oidc": ["b:write", "a:read"]}, {"pat": ["a:read", "c:read"]}],
        (("oidc",), ("pat",)),
        ("a:read", "b:write", "c:read"),
        id="alternatives",
    ),
    pytest.param([{"pat": [], "oidc": []}], (("oidc", "pat"),), (), id="schemes-required-together"),
    pytest.param([], (), (), id="explicitly-none"),
]


@pytest.mark.parametrize(("security", "expected", "scopes"), SECURITY_CASES)
def test_security(security: list[JSON], expected: tuple[Any, ...], scopes: tuple[str]) -> None:
    (got,) = build({}, op(security=security)).operations
    assert (got.security, got.scopes) == (expected, scopes)


def test_security_absent_from_an_operation_is_the_documents() -> None:
    # OpenAPI: without its own `security`, an operation uses the top-level one.
    (got,) = build({}, op(), security=[{"pat": ["a:read"]}]).operations
    assert (got.security, got.scopes) == ((("pat",),), ("a:read",))


@pytest.mark.parametrize(
    ("pagination", "expected"),
    [
        pytest.param({"type": "page_limit"}, "page", id="page"),
        pytest.param({"type": "cursor"}, "cursor", id="cursor"),
        pytest.param(None, None, id="none"),
    ],
)
def test_pagination(pagination: JSON | None, expected: str | None) -> None:
    extra: JSON = {} if pagination is None else {"x-polar-pagination": pagination}
    (got,) = build({}, op(**extra)).operations
    assert got.pagination == expected


# -- emitted source ---------------------------------------------------------------------------

EMIT_SPECS = [
    pytest.param(
        {
            "Kind": {"type": "string", "enum": ["a", "b"]},
            "A": obj(
                {
                    "id": STR,
                    "type": const("a"),
                    "kind": ref("Kind"),
                    "at": {"type": "string", "format": "date-time"},
                },
                "id",
                "type",
            ),
            "B": obj({"id": STR, "type": const("b"), "meta": {"type": "object"}}, "id", "type"),
            "AOrB": one_of("A", "B", discriminator=disc("type", a="A", b="B")),
            "Create": obj(
                {
                    "name": {"type": "string", "minLength": 1},
                    "kind": {"anyOf": [ref("Kind"), NULL]},
                    "from": STR,
                },
                "name",
                additionalProperties=STR,
            ),
            "Pagination": obj({"total_count": INT}, "total_count"),
            "ListResource_AOrB_": {
                "type": "object",
                "title": "ListResource[AOrB]",
                "properties": {
                    "items": {"type": "array", "items": ref("AOrB")},
                    "pagination": ref("Pagination"),
                },
                "required": ["items", "pagination"],
            },
            "Meta": {"type": "object", "additionalProperties": INT},
        },
        {
            "operationId": "x:create",
            "requestBody": body(ref("Create")),
            "responses": answer(ref("ListResource_AOrB_"), "201"),
        },
        ["__init__.py", "_a_or_b.py", "_create.py", "_pagination.py", "_shared.py"],
        id="union-enum-page-request",
    ),
    pytest.param(
        {
            "G": obj({"x": STR}, "x"),
            "H": obj({"y": {"type": "array", "prefixItems": [STR, INT]}}, "y"),
            "Holder": obj(
                {
                    "gh": {"anyOf": [ref("G"), ref("H"), NULL]},
                    "many": {"type": "array", "items": any_of("G", "H")},
                    "pair": {"type": "string", "enum": ["p", "q"]},
                    "when": {"type": "string", "format": "duration"},
                }
            ),
        },
        {
            "operationId": "holders:get",
            "responses": {**answer(ref("Holder")), **answer(ref("G"), "422")},
        },
        ["__init__.py", "_holder_gh.py"],
        id="inline-union-tuple-open-enum",
    ),
]


@pytest.mark.parametrize(("schemas", "operation", "files"), EMIT_SPECS)
def test_emitted_models_compile(schemas: JSON, operation: JSON, files: list[str]) -> None:
    out = emit_models(build(schemas, operation))
    assert sorted(out) == files
    for name, text in out.items():
        assert text.split("\n", 1)[0] == BANNER, name
        compile(text, name, "exec")
