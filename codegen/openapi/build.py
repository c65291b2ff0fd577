"""Spec -> IR: read the OpenAPI document once and decide everything the emitters need.

`build_api(spec)` returns an `ir.Api`. The steps, in order:

1. apply the overlay's schema patches to a copy of the spec;
2. turn every component into a model, enum, union or alias, and every inline union of
   models (`anyOf`/`oneOf` of `$ref`s, anywhere: properties, items, bodies, answers) into a
   named union;
3. derive each union's decision rule from its members (`derive_rule`);
4. mark models used in request bodies (they omit what the caller leaves out);
5. group components into modules (a union and its members always share one);
6. describe every operation.

Names of inline unions come from the overlay, the spec's `title`, the members' common words,
or the position, in that order; two positions with the same members share one union.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from . import ir, names
from .overlay import Overlay

__all__ = ["BuildError", "apply_overlay", "build_api", "derive_rule"]

JSON = dict[str, Any]

_METHODS = ("get", "put", "post", "delete", "patch")
_LIST_RESOURCE = re.compile(r"^ListResource_(.*)_$")
_CURSOR_LIST_RESOURCE = re.compile(r"^ListResourceWithCursorPagination_(.*)_$")
PAGE = "ListResource"
WEBHOOK_UNION = "WebhookPayload"
CURSOR_PAGE = "ListResourceWithCursorPagination"
_SECRET_NAME = re.compile(r"(^|_)(token|secret|key)$")


class BuildError(Exception):
    """The spec uses something the generator cannot express, or a union cannot be decided."""


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return None
    if not ref.startswith("#/components/schemas/"):
        raise BuildError(f"unsupported $ref {ref}")
    return ref.rsplit("/", 1)[1]


def _is_null(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "null"


def apply_overlay(spec: JSON, overlay: Overlay) -> JSON:
    """A copy of `spec` with the overlay's schema patches applied (what the IR is built from)."""
    spec = copy.deepcopy(spec)
    schemas: JSON = spec["components"]["schemas"]
    for name, schema in overlay.extra_schemas.items():
        if name in schemas:
            raise BuildError(f"overlay adds schema {name}, which the spec already has")
        schemas[name] = copy.deepcopy(schema)
    operations = {
        op["operationId"]: op
        for item in spec["paths"].values()
        for method, op in item.items()
        if method in _METHODS
    }
    for op_id in overlay.optional_auth:
        if op_id not in operations:
            raise BuildError(f"overlay patches unknown operation {op_id}")
        op = operations[op_id]
        # `{}` among the alternatives: OpenAPI's way of saying "or no credentials at all".
        op["security"] = [*op.get("security", spec.get("security", [])), {}]
    for op_id, answers in overlay.response_patches.items():
        if op_id not in operations:
            raise BuildError(f"overlay patches unknown operation {op_id}")
        responses = operations[op_id]["responses"]
        for status, schema_name in answers.items():
            if schema_name is None:
                responses.pop(str(status), None)
                continue
            ref = {"$ref": f"#/components/schemas/{schema_name}"}
            responses[str(status)] = {
                "description": "(overlay)",
                "content": {"application/json": {"schema": ref}},
            }
    for name, patch in overlay.schema_patches.items():
        if name not in schemas:
            raise BuildError(f"overlay patches unknown schema {name}")
        target = schemas[name]
        for prop, value in patch.get("properties", {}).items():
            props = target.setdefault("properties", {})
            if value.get("merge"):
                merged = dict(props.get(prop, {}))
                merged.update({k: v for k, v in value.items() if k != "merge"})
                props[prop] = merged
            else:
                old = props.get(prop, {})
                new = dict(value)
                for keep in ("title", "description", "deprecated"):
                    if keep in old and keep not in new:
                        new[keep] = old[keep]
                props[prop] = new
        required = patch.get("required", {})
        current = list(target.get("required", []))
        current += [n for n in required.get("add", []) if n not in current]
        current = [n for n in current if n not in required.get("remove", [])]
        if current or "required" in target:
            target["required"] = current
    return spec


def _flat_branches(branches: Sequence[JSON]) -> list[JSON]:
    """Branches with nested `anyOf`/`oneOf` lists of refs spliced in (`A | (B | C)`)."""
    out: list[JSON] = []
    for branch in branches:
        inner = branch.get("anyOf") or branch.get("oneOf")
        if inner and _ref_name(branch) is None and all(_ref_name(b) for b in inner):
            out.extend(inner)
        else:
            out.append(branch)
    return out


def _words_common(names_: Sequence[str]) -> str:
    """The longest run of leading words and of trailing words all names share."""
    split = [names.words(n) for n in names_]
    prefix: list[str] = []
    for group in zip(*split, strict=False):
        if len(set(group)) != 1:
            break
        prefix.append(group[0])
    suffix: list[str] = []
    for group in zip(*(list(reversed(s)) for s in split), strict=False):
        if len(set(group)) != 1:
            break
        suffix.insert(0, group[0])
    shortest = min(len(s) for s in split)
    if len(prefix) + len(suffix) > shortest:
        suffix = suffix[len(prefix) + len(suffix) - shortest :]
    return "".join(prefix + suffix)


class _Any:
    """Marker: the member declares the tag property but does not restrict its value."""

    def __repr__(self) -> str:
        return "ANY"


ANY = _Any()


class _Builder:
    def __init__(self, spec: JSON, overlay: Overlay) -> None:
        self.overlay = overlay
        self.spec = apply_overlay(spec, overlay)
        self.schemas: JSON = self.spec["components"]["schemas"]
        self.models: dict[str, ir.ModelDef] = {}
        self.enums: dict[str, ir.EnumDef] = {}
        self.unions: dict[str, ir.UnionDef] = {}
        self.aliases: dict[str, ir.AliasDef] = {}
        self.union_members: dict[str, tuple[ir.Named, ...]] = {}
        self.union_rules: dict[str, ir.Rule] = {}
        self.enum_by_values: dict[tuple[Any, ...], str] = {}
        self.taken: set[str] = set()
        self.py_taken: set[str] = set()
        self.pending_unions: list[str] = []
        self.undecided: list[str] = []

    # -- components ----------------------------------------------------------------------
    def run(self) -> ir.Api:
        for name in self.schemas:
            if not self._is_page(name):
                self.taken.add(name)
                self.py_taken.add(names.class_name(name))
        for name, schema in self.schemas.items():
            if "enum" in schema and schema.get("type") == "string":
                values = tuple(schema["enum"])
                self.enum_by_values.setdefault(values, name)
        self._page_models()
        for name, schema in self.schemas.items():
            if self._is_page(name):
                continue
            self._component(name, schema)
        operations = tuple(self._operations())
        payloads: list[ir.Named] = []
        for name, webhook in self.spec.get("webhooks", {}).items():
            for method, op in webhook.items():
                if method in _METHODS:
                    body = self._body_type(op, f"webhook {name}")
                    if body is not None and isinstance(body.type, ir.Named):
                        payloads.append(body.type)
        if payloads:
            # Every event Polar delivers, told apart by its `type` (the spec's own
            # `WebhookEvent` is a delivery record, hence this name).
            members = tuple(dict.fromkeys(payloads))
            self._register_union(
                WEBHOOK_UNION, WEBHOOK_UNION, members, {}, origin="the spec's webhooks"
            )
            import attrs

            self.unions[WEBHOOK_UNION] = attrs.evolve(self.unions[WEBHOOK_UNION], loose=True)
        self._decide_unions()
        if self.undecided:
            raise BuildError(
                "unions the generator cannot decide (add a rule to the overlay):\n  "
                + "\n  ".join(self.undecided)
            )
        uses = self._uses(operations)
        models = {n: _evolve_model(m, use=uses.get(n, "response")) for n, m in self.models.items()}
        models = _send_tags(models, self.unions)
        api = ir.Api(
            models=models,
            enums=self.enums,
            unions=self.unions,
            aliases=self.aliases,
            operations=operations,
        )
        return _assign_modules(api)

    @staticmethod
    def _is_page(name: str) -> bool:
        return bool(_LIST_RESOURCE.match(name) or _CURSOR_LIST_RESOURCE.match(name))

    def _page_models(self) -> None:
        """The generic page types that replace the `ListResource_X_` schemas."""
        for page, pattern in ((PAGE, _LIST_RESOURCE), (CURSOR_PAGE, _CURSOR_LIST_RESOURCE)):
            example = next((s for n, s in self.schemas.items() if pattern.match(n)), None)
            if example is None:
                continue
            fields: list[ir.Field] = []
            required = set(example.get("required", []))
            for prop, schema in example["properties"].items():
                if prop == "items":
                    tp: ir.TypeExpr = ir.ListOf(ir.Named("T"))
                else:
                    tp = self._type(schema, page, prop)
                fields.append(ir.Field(prop, names.field_name(prop), tp, prop in required))
            self.models[page] = ir.ModelDef(
                page, page, tuple(fields), "response", type_params=("T",)
            )

    def _page_type(self, name: str) -> ir.Named | None:
        for page, pattern in ((PAGE, _LIST_RESOURCE), (CURSOR_PAGE, _CURSOR_LIST_RESOURCE)):
            if pattern.match(name):
                items = self.schemas[name]["properties"]["items"]["items"]
                title = self.schemas[name].get("title", name)
                item = self._type(items, name, "items[]", title=title.split("[", 1)[-1][:-1])
                return ir.Named(page, (item,))
        return None

    def _component(self, name: str, schema: JSON) -> None:
        py = names.class_name(name)
        if "enum" in schema:
            self.enums[name] = ir.EnumDef(name, py, tuple(schema["enum"]))
            return
        if "oneOf" in schema or "anyOf" in schema:
            branches = schema.get("oneOf") or schema.get("anyOf")
            refs = [b for b in branches if not _is_null(b)]
            if all(_ref_name(b) for b in refs) and refs and len(refs) == len(branches):
                members = self._flatten(refs)
                if all(self._is_model_like(m) for m in members):
                    self._register_union(name, py, members, schema, origin=None)
                    return
            self.aliases[name] = ir.AliasDef(name, py, self._type(schema, name, ""))
            return
        ref = _ref_name(schema)
        if ref is not None:
            self.aliases[name] = ir.AliasDef(name, py, self._type(schema, name, ""))
            return
        if schema.get("type") == "object" and "properties" in schema:
            self.models[name] = self._model(name, py, schema)
            return
        self.aliases[name] = ir.AliasDef(name, py, self._type(schema, name, ""))

    def _model(self, name: str, py: str, schema: JSON) -> ir.ModelDef:
        required = set(schema.get("required", []))
        fields: list[ir.Field] = []
        used: set[str] = set()
        for prop, prop_schema in schema["properties"].items():
            py_name = names.field_name(prop)
            while py_name in used:
                py_name += "_"
            used.add(py_name)
            tp = self._type(prop_schema, name, prop)
            fields.append(
                ir.Field(
                    wire_name=prop,
                    py_name=py_name,
                    type=tp,
                    required=prop in required,
                    has_default="default" in prop_schema,
                    default=prop_schema.get("default"),
                    constraints=_constraints(prop_schema),
                    secret=bool(_SECRET_NAME.search(prop))
                    or f"{name}.{prop}" in self.overlay.secret_fields,
                    deprecated=bool(prop_schema.get("deprecated")),
                    read_only=bool(prop_schema.get("readOnly")),
                )
            )
        extra: ir.TypeExpr | None = None
        extra_constraints = ir.Constraints()
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            extra = self._type(additional, name, "[extra]")
            if "extra" in used:
                raise BuildError(f"{name} declares a property named 'extra' and also extras")
            extra_constraints = _constraints({**schema, "type": "object"})
        exclusive = self.overlay.exclusive_fields.get(name, ())
        by_wire = {f.wire_name: f.py_name for f in fields}
        for group in exclusive:
            if not set(group) <= set(by_wire):
                raise BuildError(
                    f"overlay: {name} has no fields {sorted(set(group) - set(by_wire))}"
                )
        return ir.ModelDef(
            name,
            py,
            tuple(fields),
            "response",
            extra=extra,
            extra_constraints=extra_constraints,
            exclusive=tuple(tuple(by_wire[w] for w in group) for group in exclusive),
        )

    # -- types ---------------------------------------------------------------------------
    def _type(
        self, schema: Mapping[str, Any], parent: str, prop: str, *, title: str | None = None
    ) -> ir.TypeExpr:
        ref = _ref_name(schema)
        if ref is not None:
            page = self._page_type(ref)
            if page is not None:
                return page
            return ir.Named(ref)
        if "const" in schema:
            return ir.Const(schema["const"])
        if "enum" in schema:
            values = tuple(schema["enum"])
            if len(values) == 1:
                return ir.Const(values[0])
            named = self.enum_by_values.get(values)
            if named is not None:
                return ir.Named(named)
            if not all(isinstance(v, str) for v in values):
                # A numeric enum stays open like a string one: its JSON type, any value.
                kinds = {"integer" if isinstance(v, int) else "number" for v in values}
                return self._type(
                    {"type": kinds.pop() if len(kinds) == 1 else "number"}, parent, prop
                )
            return ir.OpenEnum(tuple(values))
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self._branches(schema, schema[key], parent, prop, title=title)
        kind = schema.get("type")
        if kind == "string":
            fmt = schema.get("format")
            if fmt == "date-time":
                return ir.Prim("datetime")
            if fmt == "date":
                return ir.Prim("date")
            if fmt == "duration":
                return ir.Prim("duration")
            return ir.Prim("str", fmt)
        if kind == "integer":
            return ir.Prim("int")
        if kind == "number":
            return ir.Prim("float")
        if kind == "boolean":
            return ir.Prim("bool")
        if kind == "null":
            return ir.Prim("null")
        if kind == "array":
            if "prefixItems" in schema:
                items = tuple(
                    self._type(s, parent, f"{prop}[{i}]")
                    for i, s in enumerate(schema["prefixItems"])
                )
                return ir.TupleOf(items)
            item_schema = schema.get("items", {})
            return ir.ListOf(self._type(item_schema, parent, f"{prop}[]"))
        if kind == "object":
            additional = schema.get("additionalProperties")
            if isinstance(additional, dict):
                return ir.MapOf(self._type(additional, parent, f"{prop}{{}}"))
            if schema.get("properties"):
                raise BuildError(f"{parent}.{prop}: inline object with properties")
            return ir.Prim("object")
        if kind is None and not schema.keys() - {"title", "description", "examples", "default"}:
            return ir.Prim("any")
        raise BuildError(f"{parent}.{prop}: cannot express {json.dumps(schema)[:200]}")

    def _branches(
        self,
        schema: Mapping[str, Any],
        branches: Sequence[JSON],
        parent: str,
        prop: str,
        *,
        title: str | None,
    ) -> ir.TypeExpr:
        nullable = any(_is_null(b) for b in branches)
        rest = [b for b in branches if not _is_null(b)]
        if not rest:
            raise BuildError(f"{parent}.{prop}: only null")
        if len(rest) != 1:
            rest = _flat_branches(rest)
        if len(rest) == 1:
            outer_title = title or schema.get("title")
            inner = self._type(rest[0], parent, prop, title=outer_title)
        elif all(_ref_name(b) for b in rest):
            members = self._flatten(rest)
            if all(self._is_model_like(m) for m in members):
                inner = self._inline_union(schema, members, parent, prop, title=title)
            else:
                inner = ir.Either(tuple(self._type(b, parent, prop) for b in rest))
        else:
            types: list[ir.TypeExpr] = []
            for i, branch in enumerate(rest):
                tp = self._type(branch, parent, f"{prop}|{i}")
                if tp not in types:
                    types.append(tp)
            if any(self._is_model_like_type(t) for t in types):
                raise BuildError(f"{parent}.{prop}: a union mixing models and other types")
            inner = types[0] if len(types) == 1 else ir.Either(tuple(types))
        return ir.Nullable(inner) if nullable else inner

    def _is_model_like(self, member: ir.Named) -> bool:
        if member.name in (PAGE, CURSOR_PAGE):
            return True
        schema = self.schemas.get(member.name)
        return bool(schema) and schema.get("type") == "object" and "properties" in schema

    def _is_model_like_type(self, tp: ir.TypeExpr) -> bool:
        return isinstance(tp, ir.Named) and (
            self._is_model_like(tp) or tp.name in self.union_members
        )

    def _flatten(self, refs: Iterable[Mapping[str, Any]]) -> tuple[ir.Named, ...]:
        """Members of a union of refs, with member unions replaced by their own members."""
        out: list[ir.Named] = []
        for ref in refs:
            name = _ref_name(ref)
            assert name is not None
            page = self._page_type(name)
            if page is not None:
                members: Iterable[ir.Named] = (page,)
            else:
                schema = self.schemas[name]
                branches = schema.get("oneOf") or schema.get("anyOf")
                if branches and "properties" not in schema:
                    members = self._flatten(b for b in branches if not _is_null(b))
                else:
                    members = (ir.Named(name),)
            for member in members:
                if member not in out:
                    out.append(member)
        return tuple(out)

    def _register_union(
        self,
        name: str,
        py: str,
        members: tuple[ir.Named, ...],
        schema: Mapping[str, Any],
        origin: str | None,
    ) -> None:
        self.union_members[name] = members
        self.pending_unions.append(name)
        self.unions[name] = ir.UnionDef(
            name=name,
            py_name=py,
            members=members,
            rule=ir.Pick(members[0]),  # replaced in _decide_unions
            fallback=f"Unknown{py}",
            origin=origin,
        )
        self._schemas_of_union[name] = dict(schema)

    _schemas_of_union: dict[str, JSON]

    def _inline_union(
        self,
        schema: Mapping[str, Any],
        members: tuple[ir.Named, ...],
        parent: str,
        prop: str,
        *,
        title: str | None,
    ) -> ir.Named:
        position = f"{parent}.{prop}" if prop else parent
        context = self.overlay.context_unions.get(position)
        if context is None and position not in self.overlay.union_names:
            for name, union_members in self.union_members.items():
                if union_members == members and name not in self._context_rules:
                    return ir.Named(name)
        name = self._union_name(schema, members, parent, prop, position, title=title)
        self.taken.add(name)
        self.py_taken.add(name)
        self._register_union(name, name, members, schema, origin=position)
        if context is not None:
            self._context_rules[name] = context
        return ir.Named(name)

    _context_rules: dict[str, tuple[tuple[str, ...], dict[str, str]]]

    def _union_name(
        self,
        schema: Mapping[str, Any],
        members: tuple[ir.Named, ...],
        parent: str,
        prop: str,
        position: str,
        *,
        title: str | None,
    ) -> str:
        forced = self.overlay.union_names.get(position)
        if forced is not None:
            return forced
        candidates: list[str] = []
        spec_title = title or schema.get("title")
        if isinstance(spec_title, str) and " " in spec_title.strip():
            candidates.append(names.pascal(spec_title))  # "Customer Session Create"
        common = _words_common([names.class_name(m.name) for m in members])
        if len(names.words(common)) >= 2:
            candidates.append(common)
        field_part = names.pascal(prop.replace("[]", " item").replace("{}", " value"))
        candidates.append(names.class_name(parent).split("[")[0] + field_part)
        for candidate in candidates:
            if candidate and candidate not in self.py_taken:
                return candidate
        base = candidates[-1]
        n = 2
        while f"{base}{n}" in self.py_taken:
            n += 1
        return f"{base}{n}"

    # -- unions: decision rules ----------------------------------------------------------
    def _decide_unions(self) -> None:
        for name in self.pending_unions:
            union = self.unions[name]
            schema = self._schemas_of_union.get(name, {})
            context = self._context_rules.get(name)
            if context is not None:
                path, mapping = context
                cases: list[tuple[str | int | bool, ir.Rule]] = []
                for value, member in mapping.items():
                    if ir.Named(member) not in union.members:
                        raise BuildError(f"overlay: {member} is not a member of {name}")
                    cases.append((value, ir.Pick(ir.Named(member))))
                rule: ir.Rule = ir.TagRule(("..", *path), tuple(cases))
            else:
                try:
                    rule = self._rule_for(name, union.members, schema)
                except _Undecidable as exc:
                    self.undecided.append(f"{union.origin or name}: {exc}")
                    continue
            self.unions[name] = _evolve_union(union, rule, self._lifted(union.members, rule))

    def _rule_for(
        self, name: str, members: tuple[ir.Named, ...], schema: Mapping[str, Any]
    ) -> ir.Rule:
        discriminator = schema.get("discriminator")
        if isinstance(discriminator, dict):
            prop = discriminator["propertyName"]
            mapping: dict[str, str] = {
                value: ref.rsplit("/", 1)[1]
                for value, ref in discriminator.get("mapping", {}).items()
            }
            cases: list[tuple[str | int | bool, ir.Rule]] = []
            for value, target in mapping.items():
                target_members = self._flatten([{"$ref": f"#/components/schemas/{target}"}])
                cases.append((value, self._rule_for(target, target_members, self.schemas[target])))
            covered = {m for _, r in cases for m in _rule_members(r)}
            missing = [m for m in members if m not in covered]
            known = {value for value, _ in cases}
            for member in missing:  # members the mapping forgot: by their own tag values
                values = self._member_info(member).values((prop,))
                if not isinstance(values, frozenset) or values & known:
                    raise _Undecidable(f"discriminator mapping misses {member.name}")
                cases.extend((value, ir.Pick(member)) for value in sorted(values, key=repr))
                known |= values
            return ir.TagRule((prop,), tuple(cases))
        return derive_rule(members, self._member_info)

    def _member_info(self, member: ir.Named) -> _MemberInfo:
        if member.name in (PAGE, CURSOR_PAGE):
            pattern = _LIST_RESOURCE if member.name == PAGE else _CURSOR_LIST_RESOURCE
            example = next(s for n, s in self.schemas.items() if pattern.match(n))
            return _MemberInfo(
                member, example["properties"], set(example.get("required", [])), self
            )
        schema = self.schemas[member.name]
        return _MemberInfo(
            member, schema.get("properties", {}), set(schema.get("required", [])), self
        )

    def _lifted(self, members: Sequence[ir.Named], rule: ir.Rule) -> tuple[tuple[str, str], ...]:
        lifted: list[tuple[str, str]] = []
        if (
            isinstance(rule, ir.TagRule)
            and len(rule.path) == 1
            and rule.path[0] != ".."
            and all(isinstance(v, str) for v, _ in rule.cases)
        ):
            lifted.append((names.field_name(rule.path[0]), rule.path[0]))
        if all("id" in self._member_info(m).required for m in members) and "id" not in {
            w for _, w in lifted
        }:
            lifted.append(("id", "id"))
        return tuple(lifted)

    # -- operations ----------------------------------------------------------------------
    def _operations(self) -> Iterator[ir.Operation]:
        for path, item in self.spec["paths"].items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method not in _METHODS:
                    continue
                yield self._operation(path, method, op, shared)

    def _operation(self, path: str, method: str, op: JSON, shared: list[JSON]) -> ir.Operation:
        op_id: str = op["operationId"]
        resource = names.operation_path(op_id)
        params: list[ir.Param] = []
        merged: dict[tuple[str, str], JSON] = {}
        for param in [*shared, *op.get("parameters", [])]:  # an operation's own win
            merged[(param["name"], param["in"])] = param
        for param in merged.values():
            location = param["in"]
            style = param.get("style", "simple" if location in ("path", "header") else "form")
            schema = param.get("schema", {})
            branches = [b for b in schema.get("anyOf", [schema]) if not _is_null(b)]
            scalar = next((b for b in branches if b.get("type") not in ("array", None)), None)
            params.append(
                ir.Param(
                    constraints=_constraints(scalar) if scalar is not None else ir.Constraints(),
                    name=param["name"],
                    py_name=names.field_name(param["name"]),
                    location=location,
                    type=self._type(param.get("schema", {}), op_id, param["name"]),
                    required=bool(param.get("required")),
                    style=style,
                    explode=bool(param.get("explode", style == "form")),
                    deprecated=bool(param.get("deprecated")),
                )
            )
        body = self._body_type(op, op_id)
        responses: list[ir.Response] = []
        errors: list[tuple[int, ir.TypeExpr | None]] = []
        for code, answer in op.get("responses", {}).items():
            if not code.isdigit():  # "default", "2XX": ranges the SDK maps by class anyway
                continue
            status = int(code)
            content = answer.get("content", {})
            kind: ir.ResponseKind = "none"
            tp: ir.TypeExpr | None = None
            media: str | None = None
            if "application/json" in content:
                media = "application/json"
                schema = content[media].get("schema", {})
                if schema:
                    kind = "json"
                    tp = self._type(schema, op_id, str(status))
            elif content:
                media = next(iter(content))
                kind = "text"
            if 200 <= status < 300:
                responses.append(ir.Response(status, kind, tp, media))
            else:
                errors.append((status, tp))
        requirements = op.get("security", self.spec.get("security", []))
        security = tuple(tuple(sorted(alt)) for alt in requirements)
        scopes = sorted({s for alt in requirements for v in alt.values() for s in v})
        pagination_info = op.get("x-polar-pagination") or {}
        pagination: Any = None
        if pagination_info.get("type") == "page_limit":
            pagination = "page"
        elif pagination_info:
            pagination = "cursor"
        elif {"page", "limit"} <= {p.name for p in params if p.location == "query"} and any(
            self._is_page_answer(r.type) for r in responses
        ):
            pagination = "page"  # events:list: an undeclared page/limit list
        return ir.Operation(
            operation_id=op_id,
            method=method.upper(),
            path=path,
            tag=(op.get("tags") or [""])[0],
            resource=resource[:-1],
            method_name=resource[-1],
            params=tuple(params),
            body=body,
            responses=tuple(responses),
            errors=tuple(errors),
            security=security,
            scopes=tuple(scopes),
            pagination=pagination,
            deprecated=bool(op.get("deprecated")),
            summary=op.get("summary", ""),
        )

    def _is_page_answer(self, tp: ir.TypeExpr | None) -> bool:
        if not isinstance(tp, ir.Named):
            return False
        if tp.name in (PAGE, CURSOR_PAGE):
            return True
        union = self.unions.get(tp.name)
        return union is not None and all(m.name in (PAGE, CURSOR_PAGE) for m in union.members)

    def _body_type(self, op: JSON, where: str) -> ir.Body | None:
        body = op.get("requestBody")
        if not body:
            return None
        content = body.get("content", {})
        media = next(iter(content))
        schema = content[media].get("schema")
        tp = self._type(schema, where, "body") if schema else None
        return ir.Body(media, tp, bool(body.get("required")))

    # -- request or response --------------------------------------------------------------
    def _uses(self, operations: Sequence[ir.Operation]) -> dict[str, ir.ModelUse]:
        request: set[str] = set()
        response: set[str] = set()
        for op in operations:
            if op.body is not None and op.body.type is not None:
                self._reach(op.body.type, request)
            for answer in op.responses:
                if answer.type is not None:
                    self._reach(answer.type, response)
            for _, tp in op.errors:
                if tp is not None:
                    self._reach(tp, response)
        uses: dict[str, ir.ModelUse] = {}
        for name in self.models:
            if name in request and name in response:
                uses[name] = "both"
            elif name in request:
                uses[name] = "request"
            else:
                uses[name] = "response"
        return uses

    def _reach(self, tp: ir.TypeExpr, seen: set[str]) -> None:
        for name in _named_in(tp):
            if name in seen:
                continue
            seen.add(name)
            if name in self.models:
                model = self.models[name]
                for f in model.fields:
                    self._reach(f.type, seen)
                if model.extra is not None:
                    self._reach(model.extra, seen)
            elif name in self.unions:
                for member in self.unions[name].members:
                    self._reach(member, seen)
            elif name in self.aliases:
                self._reach(self.aliases[name].type, seen)


class _Undecidable(Exception):
    pass


class _MemberInfo:
    """What the rule derivation reads about one member: its properties and required keys."""

    def __init__(
        self,
        member: ir.Named,
        properties: Mapping[str, Any],
        required: set[str],
        builder: _Builder,
    ) -> None:
        self.member = member
        self.properties = properties
        self.required = required
        self.builder = builder

    def values(self, path: tuple[str, ...]) -> frozenset[Any] | _Any | None:
        """Values the member allows at `path`: a finite set, ANY, or None (not declared)."""
        prop = self.properties.get(path[0])
        if prop is None:
            return None
        if len(path) == 1:
            return self.builder_values(prop)
        targets = self._targets(prop)
        if not targets:
            return ANY
        found: set[Any] = set()
        for target in targets:
            values = target.values(path[1:])
            if values is None or values is ANY:
                return ANY
            assert isinstance(values, frozenset)
            found |= values
        return frozenset(found)

    def declares(self, path: tuple[str, ...]) -> bool:
        if len(path) == 1:
            return path[0] in self.properties
        prop = self.properties.get(path[0])
        if prop is None:
            return False
        targets = self._targets(prop)
        return bool(targets) and all(t.declares(path[1:]) for t in targets)

    def requires(self, path: tuple[str, ...]) -> bool:
        if len(path) == 1:
            return path[0] in self.required
        prop = self.properties.get(path[0])
        if prop is None or path[0] not in self.required:
            return False
        targets = self._targets(prop)
        return bool(targets) and all(t.requires(path[1:]) for t in targets)

    def default(self, key: str) -> Any:
        prop = self.properties.get(key, {})
        return prop.get("default", prop.get("const") if key not in self.required else None)

    def nested(self) -> Iterator[str]:
        """Properties that hold an object of declared shape (for nested tag paths)."""
        for key, prop in self.properties.items():
            if self._targets(prop):
                yield key

    def _targets(self, prop: Mapping[str, Any]) -> list[_MemberInfo]:
        name = _ref_name(prop)
        if name is None:
            branches = [b for b in prop.get("anyOf", prop.get("oneOf", [])) if not _is_null(b)]
            if len(branches) == 1:
                name = _ref_name(branches[0])
        if name is None or name not in self.builder.schemas:
            return []
        members = self.builder._flatten([{"$ref": f"#/components/schemas/{name}"}])
        if not all(self.builder._is_model_like(m) for m in members):
            return []
        return [self.builder._member_info(m) for m in members]

    def builder_values(self, prop: Mapping[str, Any]) -> frozenset[Any] | _Any:
        if "const" in prop:
            return frozenset([prop["const"]])
        if "enum" in prop:
            return frozenset(prop["enum"])
        name = _ref_name(prop)
        if name is not None:
            target = self.builder.schemas.get(name, {})
            if "enum" in target:
                return frozenset(target["enum"])
        return ANY


def derive_rule(members: Sequence[ir.Named], info: Any) -> ir.Rule:
    """A rule that decides between `members` from the data alone.

    In order of preference: a tag (a property whose allowed values differ between members,
    at the top level or one object down), a tag some members restrict while the others
    accept anything (those are the default), then the presence of a key only some members
    require. Raises `_Undecidable` when nothing tells two members apart.
    """
    infos = [info(m) for m in members]
    return _derive(infos)


def _derive(infos: Sequence[_MemberInfo]) -> ir.Rule:
    if len(infos) == 1:
        return ir.Pick(infos[0].member)
    tag = _best_tag(infos)
    if tag is not None:
        return tag
    key = _best_key(infos)
    if key is not None:
        return key
    raise _Undecidable("nothing tells " + ", ".join(i.member.name for i in infos) + " apart")


def _tag_paths(infos: Sequence[_MemberInfo]) -> list[tuple[str, ...]]:
    common = set(infos[0].properties)
    for i in infos[1:]:
        common &= set(i.properties)
    paths: list[tuple[str, ...]] = [(k,) for k in sorted(common)]
    nested_common = set(infos[0].nested())
    for i in infos[1:]:
        nested_common &= set(i.nested())
    for key in sorted(nested_common):
        inner: set[str] | None = None
        for i in infos:
            for target in i._targets(i.properties[key]):
                keys = set(target.properties)
                inner = keys if inner is None else inner & keys
        for sub in sorted(inner or ()):
            paths.append((key, sub))
    return paths


def _best_tag(infos: Sequence[_MemberInfo]) -> ir.Rule | None:
    best: tuple[Any, ...] | None = None
    best_rule: ir.Rule | None = None
    for path in _tag_paths(infos):
        values = [i.values(path) for i in infos]
        finite = [(i, v) for i, v in zip(infos, values, strict=False) if isinstance(v, frozenset)]
        loose = [i for i, v in zip(infos, values, strict=False) if not isinstance(v, frozenset)]
        if not finite:
            continue
        order: list[Any] = []
        by_value: dict[Any, list[_MemberInfo]] = {}
        for i, v in finite:
            for value in sorted(v, key=repr):
                if value not in by_value:
                    order.append(value)
                by_value.setdefault(value, []).append(i)
        groups = {tuple(id(i) for i in group) for group in by_value.values()}
        if len(groups) + (1 if loose else 0) < 2:
            continue
        required = all(i.requires(path) for i in infos)
        score = (not loose, required, len(groups), -len(path))
        if best is not None and score <= best:
            continue
        try:
            cases = tuple((value, _derive(by_value[value])) for value in order)
            default = _derive(loose) if loose else None
        except _Undecidable:
            continue
        absent: ir.Rule | None = None
        if not required and len(path) == 1:
            defaults = [i for i in infos if i.default(path[0]) is not None]
            if len(defaults) == 1:
                absent = ir.Pick(defaults[0].member)
        best, best_rule = score, ir.TagRule(path, cases, default, absent)
    return best_rule


def _best_key(infos: Sequence[_MemberInfo]) -> ir.Rule | None:
    keys: list[tuple[str, ...]] = sorted({(k,) for i in infos for k in i.required})
    nested_common = set(infos[0].nested())
    for i in infos[1:]:
        nested_common &= set(i.nested())
    for key in sorted(nested_common):
        for i in infos:
            for target in i._targets(i.properties[key]):
                keys.extend((key, k) for k in sorted(target.required))
    best: tuple[Any, ...] | None = None
    best_rule: ir.Rule | None = None
    # Keys only some members declare (optional there) come last: presence still tells the
    # declaring members apart from those that cannot have the key at all.
    declared = sorted({(k,) for i in infos for k in i.properties} - set(keys))
    for key in dict.fromkeys([*keys, *declared]):
        strong = key in keys
        requiring = [i for i in infos if (i.requires(key) if strong else i.declares(key))]
        others = [i for i in infos if i not in requiring]
        if not requiring or not others:
            continue
        clean = not any(i.declares(key) for i in others)
        if not strong and not clean:
            continue
        score = (strong, clean, min(len(requiring), len(others)), -len(key))
        if best is not None and score <= best:
            continue
        try:
            present = _derive(requiring)
            absent = _derive(others)
        except _Undecidable:
            continue
        best = score
        best_rule = ir.KeyRule(key, present, absent)
    return best_rule


def _rule_members(rule: ir.Rule | None) -> Iterator[ir.Named]:
    if rule is None:
        return
    if isinstance(rule, ir.Pick):
        yield rule.member
    elif isinstance(rule, ir.TagRule):
        for _, sub in rule.cases:
            yield from _rule_members(sub)
        yield from _rule_members(rule.default)
        yield from _rule_members(rule.absent)
    else:
        yield from _rule_members(rule.present)
        yield from _rule_members(rule.absent)


def _named_in(tp: ir.TypeExpr) -> Iterator[str]:
    if isinstance(tp, ir.Named):
        yield tp.name
        for arg in tp.args:
            yield from _named_in(arg)
    elif isinstance(tp, (ir.ListOf,)):
        yield from _named_in(tp.item)
    elif isinstance(tp, ir.MapOf):
        yield from _named_in(tp.value)
    elif isinstance(tp, ir.Nullable):
        yield from _named_in(tp.inner)
    elif isinstance(tp, (ir.TupleOf, ir.Either)):
        for t in tp.items if isinstance(tp, ir.TupleOf) else tp.members:
            yield from _named_in(t)


def _constraints(schema: Mapping[str, Any]) -> ir.Constraints:
    """Constraints of a property (of its non-null branch when it is nullable)."""
    branches = [b for b in schema.get("anyOf", schema.get("oneOf", [])) if not _is_null(b)]
    source = branches[0] if len(branches) == 1 else schema
    if source.get("type") not in ("string", "integer", "number", "array", "object"):
        return ir.Constraints()

    def num(key: str) -> float | None:
        value = source.get(key)
        return float(value) if isinstance(value, (int, float)) else None

    def whole(key: str) -> int | None:
        value = source.get(key)
        return value if isinstance(value, int) else None

    keys = source.get("propertyNames") if source.get("type") == "object" else None
    keys = keys if isinstance(keys, dict) else {}
    values = source.get("additionalProperties") if source.get("type") == "object" else None
    strings = [
        b
        for b in (values.get("anyOf", [values]) if isinstance(values, dict) else [])
        if b.get("type") == "string"
    ]
    text = strings[0] if strings else {}
    return ir.Constraints(
        key_min_length=keys.get("minLength"),
        key_max_length=keys.get("maxLength"),
        value_min_length=text.get("minLength"),
        value_max_length=text.get("maxLength"),
        min_length=whole("minLength"),
        max_length=whole("maxLength"),
        pattern=source.get("pattern"),
        minimum=num("minimum"),
        maximum=num("maximum"),
        exclusive_minimum=num("exclusiveMinimum"),
        exclusive_maximum=num("exclusiveMaximum"),
        min_items=whole("minItems"),
        max_items=whole("maxItems"),
        max_properties=whole("maxProperties"),
    )


def _send_tags(
    models: dict[str, ir.ModelDef], unions: Mapping[str, ir.UnionDef]
) -> dict[str, ir.ModelDef]:
    """Request members of a union told apart by a tag the server needs: always send the tag.

    A member may declare its tag optional (`DiscountPercentageCreate.type`), yet a body
    without it fits several members and the server refuses it; only a union that decides an
    absent tag itself (`CustomerCreate`: an individual) can do without.
    """
    import attrs

    out = dict(models)
    for union in unions.values():
        rule = union.rule
        if not (isinstance(rule, ir.TagRule) and len(rule.path) == 1) or rule.absent is not None:
            continue
        if rule.default is not None:
            continue
        for member in union.members:
            model = out.get(member.name)
            if model is None or model.use != "request":
                continue
            fields = tuple(
                attrs.evolve(f, required=True)
                if f.wire_name == rule.path[0] and isinstance(f.type, ir.Const)
                else f
                for f in model.fields
            )
            out[member.name] = _evolve_model(model, fields=fields)
    return out


def _evolve_model(model: ir.ModelDef, **changes: Any) -> ir.ModelDef:
    import attrs

    return attrs.evolve(model, **changes)


def _evolve_union(
    union: ir.UnionDef, rule: ir.Rule, lifted: tuple[tuple[str, str], ...]
) -> ir.UnionDef:
    import attrs

    return attrs.evolve(union, rule=rule, lifted=lifted)


# -- modules --------------------------------------------------------------------------------


def _assign_modules(api: ir.Api) -> ir.Api:
    """Give every component a module: `_<root>` for a group of components loaded together.

    A union and its members share a module (its type alias needs the member classes at
    import). A component referenced from exactly one group joins that group; anything else
    is a group of its own. Modules stay small, so a decode imports little it does not need.
    """
    import attrs

    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    def join(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    components = [*api.models, *api.enums, *api.unions, *api.aliases]
    for name in components:
        parent.setdefault(name, name)
    for union in api.unions.values():
        if union.loose:
            continue
        for member in union.members:
            if not member.args:  # generic members are named by text, not imported
                join(union.name, member.name)
    for alias in api.aliases.values():  # an alias's value is built at import
        for ref in _named_in(alias.type):
            if ref in parent:
                join(alias.name, ref)

    def refs_of(name: str) -> set[str]:
        out: set[str] = set()
        if name in api.models:
            model = api.models[name]
            for f in model.fields:
                out.update(_named_in(f.type))
            if model.extra is not None:
                out.update(_named_in(model.extra))
        elif name in api.aliases:
            out.update(_named_in(api.aliases[name].type))
        elif name in api.unions and not api.unions[name].loose:
            for member in api.unions[name].members:
                out.update(_named_in(member))
        return {r for r in out if r in parent and r != "T"}

    changed = True
    while changed:
        changed = False
        users: dict[str, set[str]] = {}
        for name in components:
            for ref in refs_of(name):
                users.setdefault(find(ref), set()).add(find(name))
        for group, group_users in sorted(users.items()):
            others = group_users - {group}
            if len(others) == 1 and group not in others:
                (owner,) = others
                if group in (PAGE, CURSOR_PAGE):
                    continue
                join(owner, group)
                changed = True
                break

    roots: dict[str, list[str]] = {}
    for name in components:
        roots.setdefault(find(name), []).append(name)
    module_of: dict[str, str] = {}
    for members in roots.values():
        if all(m in api.enums or (m in api.aliases and not refs_of(m)) for m in members):
            module = "_shared"  # enums and value aliases several groups use: one module
        else:
            root = _group_root(members, api)
            module = names.module_name(names.class_name(root))
        for name in members:
            module_of[name] = module
    return ir.Api(
        models={n: attrs.evolve(m, module=module_of[n]) for n, m in api.models.items()},
        enums={n: attrs.evolve(e, module=module_of[n]) for n, e in api.enums.items()},
        unions={n: attrs.evolve(u, module=module_of[n]) for n, u in api.unions.items()},
        aliases={n: attrs.evolve(a, module=module_of[n]) for n, a in api.aliases.items()},
        operations=api.operations,
    )


def _group_root(members: Sequence[str], api: ir.Api) -> str:
    """The name a group's module is named after: its largest union, else its first model."""
    unions = [m for m in members if m in api.unions]
    if unions:
        return max(unions, key=lambda u: (len(api.unions[u].members), -len(u), u))
    models = [m for m in members if m in api.models]
    return min(models or members, key=lambda m: (len(m), m))


def build_api(spec: Mapping[str, Any], overlay: Overlay | None = None) -> ir.Api:
    """The IR of `spec` (see the module docstring); `overlay` defaults to Polar's."""
    builder = _Builder(dict(spec), overlay if overlay is not None else Overlay.polar())
    builder._schemas_of_union = {}
    builder._context_rules = {}
    return builder.run()
