"""The typed intermediate representation between the OpenAPI spec and the emitted Python.

`build.build_api(spec)` turns the spec into an `Api`; the emitters only read it. Everything
the generated code needs is decided here, once: Python names, field types, which fields a
request model may leave out, how every union is told apart, which module holds which model.

Type expressions (`TypeExpr`) describe a value's shape:

    Prim("str")                         a JSON primitive, or a formatted string (`datetime`, ...)
    Const("individual")                 exactly this value (`Literal["individual"]`)
    OpenEnum(("a", "b"))                 one of these strings, or any other string
    Named("Customer")                   a component: model, enum, union or alias
    ListOf(Prim("str"))                 a JSON array
    TupleOf((Prim("str"), Named("X")))  a JSON array of fixed length (`prefixItems`)
    MapOf(Prim("int"))                  a JSON object used as a dict
    Either((Prim("str"), Prim("int")))  a union of primitives, decided by the value's JSON type
    Nullable(Named("Address"))          the inner type or null

Unions of models are never `Either`: every such position is a `Named` union (`UnionDef`) with
a `Rule` that decides the member from the data (see `Rule`).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from attrs import field, frozen

__all__ = [
    "AliasDef",
    "Api",
    "Body",
    "Const",
    "Constraints",
    "Either",
    "EnumDef",
    "Field",
    "ListOf",
    "MapOf",
    "ModelDef",
    "Named",
    "Nullable",
    "OpenEnum",
    "Operation",
    "Param",
    "Pick",
    "Prim",
    "Response",
    "Rule",
    "TagRule",
    "KeyRule",
    "TupleOf",
    "TypeExpr",
    "UnionDef",
]

PrimKind: TypeAlias = Literal[
    "str", "int", "float", "bool", "any", "datetime", "date", "duration", "object", "null"
]


@frozen
class Prim:
    """A primitive. `kind` "object" is an object without declared shape (`dict[str, Any]`)."""

    kind: PrimKind
    format: str | None = None  # the spec's format for strings: uuid4, uri, email, ...


@frozen
class Const:
    """A single allowed value (`const`, or a one-value enum)."""

    value: str | int | bool


@frozen
class OpenEnum:
    """An inline enum without a component of its own; open to values added later."""

    values: tuple[str, ...]


@frozen
class Named:
    """A reference to a component (`ModelDef`, `EnumDef`, `UnionDef` or `AliasDef`) by spec name."""

    name: str
    args: tuple[TypeExpr, ...] = ()  # type arguments of a generic model (the page types)


@frozen
class ListOf:
    item: TypeExpr


@frozen
class TupleOf:
    items: tuple[TypeExpr, ...]


@frozen
class MapOf:
    value: TypeExpr


@frozen
class Either:
    """A union of primitive types (`str | int | bool`), decided by the JSON type of the value."""

    members: tuple[TypeExpr, ...]


@frozen
class Nullable:
    inner: TypeExpr


TypeExpr: TypeAlias = Prim | Const | OpenEnum | Named | ListOf | TupleOf | MapOf | Either | Nullable


@frozen
class Constraints:
    """What a request value must satisfy; checked before sending (nothing is sent otherwise)."""

    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    min_items: int | None = None
    max_items: int | None = None
    max_properties: int | None = None
    key_min_length: int | None = None  # a map's keys (`propertyNames`)
    key_max_length: int | None = None
    value_min_length: int | None = None  # a map's string values
    value_max_length: int | None = None

    def is_empty(self) -> bool:
        return self == Constraints()


@frozen
class Field:
    """One property of a model.

    `py_name` is the attribute (and keyword) name; `wire_name` the JSON key. `required` is
    the spec's (possibly corrected by the overlay). `default` is the spec's default value, or
    `None` when it declares none (`has_default` tells them apart).
    """

    wire_name: str
    py_name: str
    type: TypeExpr
    required: bool
    has_default: bool = False
    default: object = None
    constraints: Constraints = Constraints()
    secret: bool = False
    deprecated: bool = False
    read_only: bool = False


ModelUse: TypeAlias = Literal["request", "response", "both"]


@frozen
class ModelDef:
    """An object schema with declared properties: an attrs class.

    `extra` is the value type of `additionalProperties` when the schema also allows keys it
    does not declare (they are kept in the model's `extra` field); `None` when it does not.
    `type_params` names the type variables of a generic model (the page types).
    """

    name: str
    py_name: str
    fields: tuple[Field, ...]
    use: ModelUse
    extra: TypeExpr | None = None
    type_params: tuple[str, ...] = ()
    module: str = ""
    extra_constraints: Constraints = Constraints()
    exclusive: tuple[tuple[str, ...], ...] = ()  # groups of fields: at most one given


@frozen
class EnumDef:
    """A string enum component: a `Literal[...]` alias, used as `X | str` so it stays open."""

    name: str
    py_name: str
    values: tuple[str | int, ...]
    module: str = ""


@frozen
class AliasDef:
    """A component that is just another type (`MetadataOutputType` is a dict, ...)."""

    name: str
    py_name: str
    type: TypeExpr
    module: str = ""


@frozen
class Pick:
    """A decided member: a model, or a generic page with its type argument."""

    member: Named


@frozen
class TagRule:
    """Decide by the value found at `path` in the object (`("type",)`, `("benefit", "type")`).

    `cases` maps each known value to the next rule; `default` applies to any other value
    and to an absent tag (`None`: the union's fallback class). `absent` applies when the tag
    is missing entirely (for a member whose tag has a default); `None` means use `default`.
    A `path` starting with ".." reads the object that holds the union (a sibling field).
    """

    path: tuple[str, ...]
    cases: tuple[tuple[str | int | bool, Rule], ...]
    default: Rule | None = None
    absent: Rule | None = None


@frozen
class KeyRule:
    """Decide by whether the key at path `key` is present (`("pagination", "max_page")`)."""

    key: tuple[str, ...]
    present: Rule | None
    absent: Rule | None


Rule: TypeAlias = Pick | TagRule | KeyRule


@frozen
class UnionDef:
    """A union of models: a type alias of its members and the fallback class `Unknown<Name>`.

    `rule` decides the member from the data without trying members; `None` as a leaf means the
    fallback (which keeps the raw object). `origin` says where an inline union was found.
    """

    name: str
    py_name: str
    members: tuple[Named, ...]
    rule: Rule
    fallback: str
    lifted: tuple[tuple[str, str], ...] = ()  # (py_name, wire_name) copied onto the fallback
    origin: str | None = None
    module: str = ""
    # Members stay in their own modules (named by text, loaded on first decode) instead of
    # joining the union's: for the webhook event union, whose 41 members reach most models.
    loose: bool = False


# -- operations -----------------------------------------------------------------------------


ParamLocation: TypeAlias = Literal["path", "query", "header", "cookie"]


@frozen
class Param:
    name: str
    py_name: str
    location: ParamLocation
    type: TypeExpr
    required: bool
    style: str = "form"
    explode: bool = True
    deprecated: bool = False
    constraints: Constraints = Constraints()


@frozen
class Body:
    media_type: str  # application/json, application/x-www-form-urlencoded, multipart/form-data
    type: TypeExpr | None
    required: bool


ResponseKind: TypeAlias = Literal["json", "none", "text"]


@frozen
class Response:
    status: int
    kind: ResponseKind
    type: TypeExpr | None = None
    media_type: str | None = None


@frozen
class Operation:
    """One API operation: what a generated resource method needs to send it and decode it."""

    operation_id: str
    method: str
    path: str
    tag: str
    resource: tuple[str, ...]  # attribute path on the client: ("customers", "members")
    method_name: str
    params: tuple[Param, ...]
    body: Body | None
    responses: tuple[Response, ...]  # the success answers (2xx)
    errors: tuple[tuple[int, TypeExpr | None], ...]  # declared error statuses and body types
    security: tuple[tuple[str, ...], ...]  # alternatives, each a set of scheme names
    scopes: tuple[str, ...] = ()
    pagination: Literal["page", "cursor"] | None = None
    deprecated: bool = False
    summary: str = ""


@frozen
class Api:
    """The whole spec, resolved: components by spec name and every operation."""

    models: dict[str, ModelDef] = field(factory=dict)
    enums: dict[str, EnumDef] = field(factory=dict)
    unions: dict[str, UnionDef] = field(factory=dict)
    aliases: dict[str, AliasDef] = field(factory=dict)
    operations: tuple[Operation, ...] = ()

    def kind_of(self, name: str) -> str:
        for kind, table in (
            ("model", self.models),
            ("enum", self.enums),
            ("union", self.unions),
            ("alias", self.aliases),
        ):
            if name in table:
                return kind
        raise KeyError(name)

    def py_name(self, name: str) -> str:
        for table in (self.models, self.enums, self.unions, self.aliases):
            if name in table:
                return table[name].py_name  # type: ignore[attr-defined, no-any-return]
        raise KeyError(name)
