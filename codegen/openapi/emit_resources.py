"""IR -> the resource classes of both clients, and docs/api.md.

For every top-level group of operations (`customers`, `customer_portal`, ...) two modules:

- `polar_sdk/resources/<group>.py`: one `Operation` constant per operation (the data the core
  sends it by), the `Async<Group>` class with one short method per operation, nested groups
  as classes reached through attributes (`polar.customers.members`), and the
  `...WithRawResponse` classes behind `with_raw_response`;
- `polar_sdk/_sync/resources/<group>.py`: the blocking twins, calling the same `Operation`
  constants through the client's loop thread.

Both `__init__` modules hold a mixin with one lazily created attribute per group, which
`AsyncPolar` and `Polar` inherit. Docstrings are written from facts of the spec (method, path,
scopes, result, declared errors, the API reference page), separately for each world.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from . import ir
from .emit_models import BANNER, DOCS_BASE, _check_args, _Module

__all__ = ["emit_api_doc", "emit_resources"]

_ERRORS = {
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
_MAX_SPELLED_VALUES = 40
_RESERVED = {"self", "request", "timeout", "retry", "deadline"}
_SECRET = re.compile(r"(^|_)(token|secret|key)$")
_CALL_OPTIONS = (
    "timeout: NotGivenOr[TimeoutTypes] = NOT_GIVEN",
    "retry: NotGivenOr[RetryPolicy | None] = NOT_GIVEN",
    "deadline: NotGivenOr[float | None] = NOT_GIVEN",
)


def _pascal(parts: Iterable[str]) -> str:
    return "".join(p.replace("_", " ").title().replace(" ", "") for p in parts)


def _const_name(op: ir.Operation, group: tuple[str, ...]) -> str:
    inner = (*op.resource[1:], op.method_name)
    return "OP_" + "_".join(inner).upper()


class _Names(_Module):
    """Annotation rendering for resource modules: every model comes from `polar_sdk.models`."""

    def __init__(self, api: ir.Api) -> None:
        super().__init__(api, "")
        self.models: set[str] = set()

    def ref(self, name: str) -> str:
        py = self.api.py_name(name)
        self.models.add(py)
        return py

    def _parts(self, tp: ir.TypeExpr) -> list[str]:
        # Resource classes have a method named `list`, which hides the builtin in the class
        # body: annotations name it through `builtins`.
        if isinstance(tp, ir.ListOf):
            return [f"builtins.list[{self.annot(tp.item)}]"]
        # An open enum is `Literal[...] | str`, which checkers read as `str`; spelled out, a
        # long one (the ~600 IANA time zones of the metrics filters) would fill every
        # signature that takes it, in both worlds, for no checking gained.
        if isinstance(tp, ir.OpenEnum) and len(tp.values) > _MAX_SPELLED_VALUES:
            return ["str"]
        return super()._parts(tp)


class _Body:
    """How one operation's body is offered: keyword fields per shape, or `request=` only."""

    def __init__(self, api: ir.Api, op: ir.Operation, names: _Names) -> None:
        assert op.body is not None
        assert op.body.type is not None
        self.media = "form" if "form" in op.body.media_type else "json"
        self.required = op.body.required
        tp = op.body.type
        if isinstance(tp, ir.Named) and api.kind_of(tp.name) == "alias":
            tp = api.aliases[tp.name].type
        assert isinstance(tp, ir.Named), op.operation_id
        self.type_name = tp.name
        self.union = api.unions.get(tp.name)
        self.request_annot = names.annot(tp)
        if self.union is not None:
            self.members = [api.models[m.name] for m in self.union.members]
            # `request=` takes a known member, not the fallback: the union minus Unknown*.
            self.request_annot = " | ".join(names.ref(m.name) for m in self.union.members)
        else:
            self.members = [api.models[tp.name]]
        self.names = names
        self.api = api
        self.skip: set[str] = set()

    def fields(self) -> list[ir.Field]:
        """Every keyword field across the shapes, in first-seen order."""
        seen: dict[str, ir.Field] = {}
        for model in self.members:
            for f in model.fields:
                if f.py_name not in self.skip:
                    seen.setdefault(f.py_name, f)
        return list(seen.values())

    def annot(self, py_name: str) -> str:
        parts: list[str] = []
        for model in self.members:
            for f in model.fields:
                if f.py_name == py_name:
                    parts += self._field_annot(f).split(" | ")
        kept = [p for p in dict.fromkeys(parts) if p not in ("NotGiven", "None")]
        if "None" in parts:
            kept.append("None")
        return " | ".join(kept)

    def _field_annot(self, f: ir.Field) -> str:
        return self.names.annot(f.type)

    def nullable(self, py_name: str) -> bool:
        return any(
            isinstance(f.type, ir.Nullable)
            for m in self.members
            for f in m.fields
            if f.py_name == py_name
        )

    def shape_variants(self, model: ir.ModelDef) -> list[set[str]]:
        """For each overload of one shape, the fields it leaves out: one per choice of the
        alternatives in each exclusive group (`member_id` or `external_member_id`)."""
        variants: list[set[str]] = [set()]
        for group in model.exclusive:
            variants = [v | (set(group) - {keep}) for v in variants for keep in group]
        return variants

    def shape_params(self, model: ir.ModelDef, leave_out: set[str] | None = None) -> list[str]:
        """Keyword parameters of one shape: required ones first, without defaults."""
        tag_optional = self._absent_pick() == model.name
        required: list[str] = []
        optional: list[str] = []
        for f in model.fields:
            if f.py_name in self.skip or f.py_name in (leave_out or ()):
                continue
            annot = self.names.annot(f.type)
            is_const = isinstance(f.type, ir.Const)
            must = f.required and not is_const
            if is_const and self.union is not None and not tag_optional:
                must = self._is_tag(f.wire_name)
            if must:
                required.append(f"{f.py_name}: {annot}")
            else:
                optional.append(f"{f.py_name}: {_with_not_given(annot)} = NOT_GIVEN")
        return required + optional

    def _is_tag(self, wire: str) -> bool:
        rule = self.union.rule if self.union is not None else None
        return isinstance(rule, ir.TagRule) and rule.path == (wire,)

    def _absent_pick(self) -> str | None:
        rule = self.union.rule if self.union is not None else None
        if isinstance(rule, ir.TagRule):
            absent = rule.absent or rule.default
            if isinstance(absent, ir.Pick):
                return absent.member.name
        return None


def _with_not_given(annot: str) -> str:
    parts = annot.split(" | ")
    if "None" in parts:
        parts.remove("None")
        return " | ".join([*parts, "NotGiven", "None"])
    return annot + " | NotGiven"


def _param_annot(p: ir.Param, names: _Names) -> str:
    tp = p.type
    nullable = isinstance(tp, ir.Nullable)
    inner = tp.inner if isinstance(tp, ir.Nullable) else tp
    members = inner.members if isinstance(inner, ir.Either) else (inner,)
    parts: list[str] = []
    for member in members:
        if isinstance(member, ir.ListOf):
            parts.append(f"Sequence[{names.annot(member.item)}]")
        elif isinstance(member, ir.MapOf):
            parts.append(f"Mapping[str, {names.annot(member.value)}]")
        elif isinstance(member, ir.Named) and names.api.kind_of(member.name) == "alias":
            alias = names.api.aliases[member.name].type
            inner_alias = alias.inner if isinstance(alias, ir.Nullable) else alias
            if isinstance(inner_alias, ir.MapOf):
                parts.append(f"Mapping[str, {names.annot(inner_alias.value)}]")
            else:
                parts.append(names.annot(alias))
        else:
            parts.append(names.annot(member))
    text = " | ".join(dict.fromkeys(parts))
    return text + (" | None" if nullable and "None" not in parts else "")


def _param_check(p: ir.Param) -> str | None:
    tp = p.type.inner if isinstance(p.type, ir.Nullable) else p.type
    members = tp.members if isinstance(tp, ir.Either) else (tp,)
    scalars = [m for m in members if isinstance(m, ir.Prim)]
    for m in members:
        if isinstance(m, ir.ListOf) and isinstance(m.item, ir.Prim):
            scalars.append(m.item)
    kinds = {m.kind for m in scalars}
    if len(kinds) != 1:
        return None
    field = ir.Field(p.name, p.py_name, scalars[0], True, constraints=p.constraints)
    return _check_args(field)


def _result_annot(op: ir.Operation, names: _Names) -> tuple[str, str | None]:
    """(annotation of what the call returns, item type for a list operation)."""
    parts: list[str] = []
    for answer in op.responses:
        if answer.kind == "json" and answer.type is not None:
            parts.append(names.annot(answer.type))
        elif answer.kind == "text":
            parts.append("str")
        else:
            parts.append("None")
    text = " | ".join(dict.fromkeys(" | ".join(parts).split(" | "))) if parts else "None"
    item = None
    if op.pagination is not None:
        item = _page_item(op, names)
    return text, item


def _page_item(op: ir.Operation, names: _Names) -> str:
    answer = next(r for r in op.responses if r.type is not None)
    tp = answer.type
    assert isinstance(tp, ir.Named)
    if tp.args:
        return names.annot(tp.args[0])
    union = names.api.unions[tp.name]
    return names.annot(union.members[0].args[0])


def _thunk(tp: ir.TypeExpr, api: ir.Api) -> str:
    """Source of a runtime type expression over the lazily loaded models (`_m.X`)."""
    if isinstance(tp, ir.Named):
        text = f"_m.{api.py_name(tp.name)}"
        if tp.args:
            text += "[" + ", ".join(_thunk(a, api) for a in tp.args) + "]"
        return text
    if isinstance(tp, ir.ListOf):
        return f"list[{_thunk(tp.item, api)}]"
    if isinstance(tp, ir.Nullable):
        return f"{_thunk(tp.inner, api)} | None"
    if isinstance(tp, ir.Prim):
        return {"str": "str", "int": "int", "float": "float", "bool": "bool"}.get(tp.kind, "Any")
    raise TypeError(f"no runtime form for {tp}")


def _auth(op: ir.Operation) -> str:
    if not op.security:
        return "none"
    return "optional" if () in op.security else "token"


def _scope_text(op: ir.Operation) -> str:
    schemes = {s for alt in op.security for s in alt}
    if not op.security:
        return "Public: sends no access token (works on a client built without one)."
    if () in op.security:
        return (
            "Sends the client's token when it has one, and also works on a client built "
            "without one."
        )
    if schemes <= {"customer_session", "member_session"}:
        return (
            "Authenticates with a customer or member session token (`polar_cst_...`/"
            "`polar_mst_...`, from `customer_sessions.create`): use a client made with "
            "`with_options(access_token=session.token)`."
        )
    if op.scopes:
        scopes = " or ".join(f"`{s}`" for s in op.scopes)
        return f"Needs a token with the {scopes} scope."
    return "Needs an organization or personal access token."


class _Op:
    """Everything the emitters need about one operation, rendered once."""

    def __init__(self, api: ir.Api, op: ir.Operation, names: _Names) -> None:
        self.op = op
        self.api = api
        self.const = _const_name(op, op.resource[:1])
        self.path_params = [p for p in op.params if p.location == "path"]
        order = {name: i for i, name in enumerate(_template_names(op.path))}
        self.path_params.sort(key=lambda p: order[p.name])
        self.query = [p for p in op.params if p.location == "query"]
        self.body = (
            _Body(api, op, names) if op.body is not None and op.body.type is not None else None
        )
        self.result, self.item = _result_annot(op, names)
        self.paged = op.pagination is not None
        used = {p.py_name for p in self.path_params} | {p.py_name for p in self.query}
        # A body field named like a path parameter means something else (the member's
        # `external_id` next to the customer's in the path): the path parameters become
        # positional-only, and a clashing one is renamed `path_<name>` in Python.
        self.path_names = {p.py_name: p.py_name for p in self.path_params}
        self.positional_only = False
        if self.body is not None:
            fields = {f.py_name for f in self.body.fields()}
            clash = fields & (used | _RESERVED)
            path_clash = clash & set(self.path_names)
            if clash - path_clash:
                raise ValueError(f"{op.operation_id}: body fields clash with {sorted(clash)}")
            for name in path_clash:
                self.path_names[name] = f"path_{name}"
                self.positional_only = True
        self.names = names

    # -- Operation constant ------------------------------------------------------------------
    def constant(self) -> list[str]:
        op = self.op
        args = [json.dumps(op.operation_id), json.dumps(op.method), json.dumps(op.path)]
        if self.path_params:
            items = []
            for p in self.path_params:
                check = _param_check(p)
                items.append(
                    f"({json.dumps(p.name)}, {'check(' + check + ')' if check else 'None'})"
                )
            args.append(f"path_params=({', '.join(items)},)")
        if self.query:
            items = []
            for p in self.query:
                extra = []
                if p.style != "form":
                    extra.append(json.dumps(p.style))
                check = _param_check(p)
                if check:
                    extra.append(f"check=check({check})")
                items.append(f"Query({', '.join([json.dumps(p.name), *extra])})")
            args.append(f"query=({', '.join(items)},)")
        if self.body is not None:
            args.append(f"body={json.dumps(self.body.media)}")
            args.append(f"body_type=lambda: _m.{self.api.py_name(self.body.type_name)}")
            if not self.body.required:
                args.append("body_required=False")
        results = []
        for answer in op.responses:
            if answer.kind == "json" and answer.type is not None:
                results.append(
                    f'{answer.status}: Result("json", lambda: {_thunk(answer.type, self.api)})'
                )
            else:
                results.append(f"{answer.status}: Result({json.dumps(answer.kind)})")
        args.append("results={" + ", ".join(results) + "}")
        if _auth(op) != "token":
            args.append(f"auth={json.dumps(_auth(op))}")
        if self.paged:
            args.append('pagination="page"')
        if op.scopes:
            args.append("scopes=(" + "".join(f"{json.dumps(s)}, " for s in op.scopes) + ")")
        if any(_SECRET.search(p.name) for p in self.path_params):
            args.append("secret_path=True")
        head = f"{self.const}: Operation[{self.result_for_constant()}] = Operation("
        return [head, *[f"    {a}," for a in args], ")"]

    def result_for_constant(self) -> str:
        if self.paged:
            answer = next(r for r in self.op.responses if r.type is not None)
            assert answer.type is not None
            return self.names.annot(answer.type)
        return self.result

    # -- methods ----------------------------------------------------------------------------
    def _leading(self) -> list[str]:
        params = ["self"]
        params += [f"{self.path_names[p.py_name]}: str" for p in self.path_params]
        if self.positional_only:
            params.append("/")
        return params

    def _query_params(self) -> list[str]:
        return [
            f"{p.py_name}: {_with_not_given(_param_annot(p, self.names))} = NOT_GIVEN"
            for p in self.query
        ]

    def returns(self, world: str) -> str:
        if self.paged:
            return f"AsyncPager[{self.item}]" if world == "async" else f"Page[{self.item}]"
        return self.result

    def method(self, world: str) -> list[str]:
        is_async = world == "async" and not self.paged
        define = "async def" if is_async else "def"
        name = self.op.method_name
        returns = self.returns(world)
        lines: list[str] = []
        leading = self._leading()
        query = self._query_params()
        if self.body is not None:
            shapes = self.body.members
            for model in shapes:
                for leave_out in self.body.shape_variants(model):
                    shape = self.body.shape_params(model, leave_out)
                    params = [*leading, "*", *query, *shape, *_CALL_OPTIONS]
                    lines += [
                        "@overload",
                        f"{define} {name}({', '.join(params)}) -> {returns}: ...",
                    ]
            params = [
                *leading,
                "*",
                *query,
                f"request: {self.body.request_annot}",
                *_CALL_OPTIONS,
            ]
            lines += ["@overload", f"{define} {name}({', '.join(params)}) -> {returns}: ..."]
            fields = [
                f"{f.py_name}: {_with_not_given(self.body.annot(f.py_name))} = NOT_GIVEN"
                for f in self.body.fields()
            ]
            impl = [
                *leading,
                "*",
                *query,
                f"request: {self.body.request_annot} | None = None",
                *fields,
                *_CALL_OPTIONS,
            ]
        else:
            impl = [*leading, *(["*", *query] if query else ["*"]), *_CALL_OPTIONS]
        lines.append(f"{define} {name}({', '.join(impl)}) -> {returns}:")
        lines += _doc(self.doc(world), "    ")
        path = "(" + "".join(f"{self.path_names[p.py_name]}, " for p in self.path_params) + ")"
        query_values = "(" + "".join(f"{p.py_name}, " for p in self.query) + ")"
        if self.paged:
            lines.append(
                f"    return self._core.pager({self.const}, {path}, {query_values}, "
                "timeout, retry, deadline)"
            )
            return lines
        if self.body is not None:
            entries = [f'"{f.py_name}": {f.py_name}' for f in self.body.fields()]
            fields_dict = "{" + ", ".join(entries) + "}"
            body_args = f"request, {fields_dict}"
        else:
            body_args = "None, None"
        call = (
            f"self._core.call({self.const}, {path}, {query_values}, {body_args}, "
            "timeout, retry, deadline)"
        )
        lines.append(f"    return {'await ' if is_async else ''}{call}")
        return lines

    def raw_line(self, world: str) -> str:
        if world == "async":
            wrapper = "raw_pager" if self.paged else "raw_method"
        else:
            wrapper = "raw_page" if self.paged else "raw_blocking"
        return f"        self.{self.op.method_name} = {wrapper}(raw.{self.op.method_name})"

    # -- docstrings -------------------------------------------------------------------------
    def doc(self, world: str) -> list[str]:
        op = self.op
        call = f"`{op.method} {op.path}`"
        if self.paged:
            head = f"List `{self.item}` items a page at a time ({call})."
        elif self.result == "None":
            head = f"Send {call}; the answer has no body."
        elif self.result == "str":
            head = f"Send {call} and return the CSV text."
        else:
            head = f"Send {call} and return the `{self.result}`."
        lines = [head, ""]
        text: list[str] = []
        if self.paged:
            if world == "async":
                text.append(
                    "Await the result for the first page (`.items`, `.pagination`, "
                    "`has_next_page()`, `await page.next_page()`), or `async for` over it for "
                    "every item of every page."
                )
            else:
                text.append(
                    "Returns the first page (`.items`, `.pagination`, `has_next_page()`, "
                    "`next_page()`); iterating it walks every item of every page, one request "
                    "per page."
                )
        if "202" in ",".join(str(r.status) for r in op.responses) and self.result != "None":
            text.append("Returns None when the server answers 202 (accepted, not ready yet).")
        if self.path_params:
            names = ", ".join(f"`{self.path_names[p.py_name]}`" for p in self.path_params)
            text.append(f"Path parameters ({names}) are percent-encoded.")
            if self.positional_only:
                text.append(
                    "They are positional only: the body has fields of the same names, which "
                    "are keywords."
                )
        if self.query:
            text.append("Query parameters left out (or None) are not sent; lists repeat the key.")
        if self.body is not None:
            if self.body.union is not None:
                shapes = ", ".join(f"`{m.py_name}`" for m in self.body.members)
                text.append(
                    f"The body is one of {shapes}: pass it as `request=`, or as keyword fields, "
                    "from which the shape is chosen (fields that fit no single shape are "
                    "refused before sending)."
                )
            else:
                text.append(
                    f"The body is a `{self.body.members[0].py_name}`: pass it as `request=` or "
                    "as keyword fields; optional fields left out are not sent."
                )
            if self.body.media == "form":
                text.append("It is sent form-encoded.")
        text.append(_scope_text(op))
        text.append(
            "`timeout` (per network step), `retry` and `deadline` (the whole call) override "
            "the client's settings for this call."
        )
        lines += textwrap.wrap(" ".join(text), width=88, break_on_hyphens=False)
        lines += ["", "Raises:"]
        lines.append("    InvalidRequestError: arguments the API would refuse; nothing was sent.")
        for status, _ in sorted(op.errors):
            cls = _ERRORS.get(status)
            if cls is not None:
                lines.append(f"    {cls}: the API answered {status}.")
        lines.append("    APIException: any other error status (see `polar_sdk.errors`).")
        lines += ["", f"API reference: {_link(op)}"]
        return lines


def _template_names(path: str) -> list[str]:
    import re

    return re.findall(r"\{([^}]+)\}", path)


def _link(op: ir.Operation) -> str:
    return f"{DOCS_BASE}/" + "/".join(
        part.replace("_", "-") for part in (*op.resource, op.method_name)
    )


def _doc(lines: Sequence[str], indent: str) -> list[str]:
    text = "\n".join(lines).strip("\n")
    body = textwrap.indent(text, indent).split("\n")
    if len(body) == 1:
        return [f'{indent}"""{body[0].strip()}"""']
    return [f'{indent}"""{body[0].strip()}', *[b.rstrip() for b in body[1:]], f'{indent}"""']


def _indent(lines: Iterable[str], by: str = "    ") -> list[str]:
    return [(by + line) if line else "" for line in lines]


# -- modules ---------------------------------------------------------------------------------


class _Group:
    def __init__(self, path: tuple[str, ...]) -> None:
        self.path = path
        self.ops: list[_Op] = []
        self.children: dict[str, _Group] = {}

    def walk(self) -> Iterable[_Group]:
        yield self
        for child in self.children.values():
            yield from child.walk()

    def class_name(self, world: str) -> str:
        base = _pascal(self.path)
        return f"Async{base}" if world == "async" else base


def _groups(api: ir.Api) -> dict[str, _Group]:
    roots: dict[str, _Group] = {}
    for op in api.operations:
        root = roots.setdefault(op.resource[0], _Group(op.resource[:1]))
        group = root
        for i in range(1, len(op.resource)):
            key = op.resource[i]
            group = group.children.setdefault(key, _Group(op.resource[: i + 1]))
        group.ops.append(_Op(api, op, _Names(api)))
    return dict(sorted(roots.items()))


HAND_WRITTEN_BASES: dict[tuple[str, ...], dict[str, str]] = {
    # What a group offers beyond its operations, written by hand in polar_sdk/_ingest.py.
    ("events",): {"async": "AsyncIngestMixin", "sync": "IngestMixin"},
}
"""Hand-written base classes of some generated resource classes, per world."""


def _class_lines(group: _Group, world: str) -> list[str]:
    cls = group.class_name(world)
    base = "AsyncResource" if world == "async" else "BlockingResource"
    mixin = HAND_WRITTEN_BASES.get(group.path, {}).get(world)
    if mixin is not None:
        base = f"{mixin}, {base}"
    attr = "polar." + ".".join(group.path)
    lines = [f"class {cls}({base}):"]
    lines += _doc(
        [
            f"The `{'.'.join(group.path)}` operations (`{attr}`), generated from the spec.",
            "",
            "`with_raw_response` offers every method again, returning a `RawResponse` (status,",
            "headers and the parsed result).",
        ],
        "    ",
    )
    for name, child in sorted(group.children.items()):
        child_cls = child.class_name(world)
        lines += [
            "",
            "    @cached_property",
            f"    def {name}(self) -> {child_cls}:",
            f'        """The `{".".join(child.path)}` operations."""',
            f"        return {child_cls}(self._core)",
        ]
    raw_cls = f"{cls}WithRawResponse"
    lines += [
        "",
        "    @cached_property",
        f"    def with_raw_response(self) -> {raw_cls}:",
        '        """The same methods, each returning a `RawResponse` of its result."""',
        f"        return {raw_cls}(self)",
    ]
    for op in group.ops:
        lines.append("")
        lines += _indent(op.method(world))
    return lines


def _raw_class_lines(group: _Group, world: str) -> list[str]:
    cls = group.class_name(world)
    raw_cls = f"{cls}WithRawResponse"
    lines = [f"class {raw_cls}:"]
    lines += _doc([f"`{cls}`'s methods, each returning a `RawResponse` of its result."], "    ")
    lines += ["", f"    def __init__(self, resource: {cls}) -> None:"]
    lines.append("        raw = raw_view(resource)")
    for op in group.ops:
        lines.append(op.raw_line(world))
    if not group.ops:
        lines.append("        del raw")
    return lines


def _module(group: _Group, world: str, api: ir.Api) -> str:
    body: list[str] = []
    if world == "async":
        for g in group.walk():
            for op in g.ops:
                body += op.constant()
                body.append("")
    classes: list[str] = []
    for g in group.walk():
        classes += ["", "", *_class_lines(g, world), "", "", *_raw_class_lines(g, world)]
    # the imports the annotations need (each operation collected its own names)
    ops = [op for g in group.walk() for op in g.ops]
    models = sorted({m for op in ops for m in op.names.models})
    typing_used = {t for op in ops for t in op.names.typing}
    exported = sorted(
        [g.class_name(world) for g in group.walk()]
        + [g.class_name(world) + "WithRawResponse" for g in group.walk()]
    )
    root = ".".join(group.path)
    doc = (
        f'"""The `{root}` operations for `{"AsyncPolar" if world == "async" else "Polar"}` '
        '(generated from the spec)."""'
    )
    head = [BANNER, doc, "", "from __future__ import annotations", ""]
    head.append("import builtins")
    head.append("from collections.abc import Mapping, Sequence")
    head.append("from datetime import date, datetime")
    head.append("from functools import cached_property")
    typing_names = {"TYPE_CHECKING", "Any", "Literal", "overload"} | typing_used
    head.append(f"from typing import {', '.join(sorted(typing_names))}")
    head.append("")
    dots = ".." if world == "async" else "..."
    if world == "async":
        head.append(f"from {dots} import models as _m")
        head.append(f"from {dots}_operation import Operation, Query, Result")
        head.append(f"from {dots}_resource import AsyncResource, raw_method, raw_pager, raw_view")
        head.append(f"from {dots}_types import NOT_GIVEN, NotGiven, NotGivenOr, TimeoutTypes")
        head.append(f"from {dots}models._checks import check")
    else:
        head.append(
            f"from {dots}_resource import BlockingResource, raw_blocking, raw_page, raw_view"
        )
        head.append(f"from {dots}_types import NOT_GIVEN, NotGiven, NotGivenOr, TimeoutTypes")
        head.append(f"from {dots}resources.{group.path[0]} import (")
        consts = sorted(op.const for g in group.walk() for op in g.ops)
        head += [f"    {c}," for c in consts]
        head.append(")")
    mixins = sorted(
        {HAND_WRITTEN_BASES[g.path][world] for g in group.walk() if g.path in HAND_WRITTEN_BASES}
    )
    if mixins:
        head.append(f"from {dots}_ingest import {', '.join(mixins)}")
    head += ["", "if TYPE_CHECKING:"]
    if world == "async":
        head.append(f"    from {dots}_results import AsyncPager")
    else:
        head.append(f"    from {dots}_results import Page")
    head.append(f"    from {dots}_retry import RetryPolicy")
    if models:
        head.append(f"    from {dots}models import (")
        head += [f"        {m}," for m in models]
        head.append("    )")
    head += ["", "__all__ = [" + ", ".join(json.dumps(n) for n in exported) + "]", ""]
    return "\n".join([*head, *body, *classes]) + "\n"


def _mixin(groups: dict[str, _Group], world: str) -> str:
    cls = "AsyncResources" if world == "async" else "Resources"
    core = "self._http" if world == "async" else "self._caller"
    lines = [
        BANNER,
        f'"""Every group of API operations as a lazily created attribute of '
        f'`{"AsyncPolar" if world == "async" else "Polar"}` (generated)."""',
        "",
        "from __future__ import annotations",
        "",
        "from functools import cached_property",
        "from typing import TYPE_CHECKING",
        "",
        "if TYPE_CHECKING:",
        "    from .._http import HTTPCore"
        if world == "async"
        else "    from ..._resource import BlockingCaller",
    ]
    for name, group in groups.items():
        lines.append(f"    from .{name} import {group.class_name(world)}")
    lines += ["", f'__all__ = ["{cls}"]', "", ""]
    lines.append(f"class {cls}:")
    lines += _doc(
        [
            "One attribute per group of operations; each is created on first access, so a",
            "client costs nothing for the parts of the API it does not use.",
        ],
        "    ",
    )
    lines += ["", f"    {core[5:]}: {'HTTPCore' if world == 'async' else 'BlockingCaller'}"]
    for name, group in groups.items():
        gcls = group.class_name(world)
        lines += [
            "",
            "    @cached_property",
            f"    def {name}(self) -> {gcls}:",
            f'        """The `{name}` operations."""',
            f"        from .{name} import {gcls}",
            "",
            f"        return {gcls}({core})",
        ]
    return "\n".join(lines) + "\n"


def emit_resources(api: ir.Api) -> dict[str, str]:
    """Repository path -> source, for both worlds' resource packages."""
    groups = _groups(api)
    files: dict[str, str] = {}
    for world, package in (("async", "polar_sdk/resources"), ("sync", "polar_sdk/_sync/resources")):
        for name, group in groups.items():
            files[f"{package}/{name}.py"] = _module(group, world, api)
        files[f"{package}/__init__.py"] = _mixin(groups, world)
    return files


def emit_api_doc(api: ir.Api) -> str:
    """docs/api.md: every operation, its method and path, scopes and result."""
    names = _Names(api)
    by_group: dict[str, list[_Op]] = defaultdict(list)
    for op in api.operations:
        by_group[op.resource[0]].append(_Op(api, op, names))
    lines = [
        "<!-- generated by codegen/openapi -- do not edit -->",
        "# Every operation",
        "",
        f"{len(api.operations)} operations of the Polar API (version 2026-10), as methods of "
        "`AsyncPolar` (awaited) and `Polar` (blocking). List operations return pages "
        "(`AsyncPager` / `Page`); every method also takes `timeout=` and `retry=`, and "
        "`with_raw_response` gives the same call with its HTTP status and headers.",
        "",
    ]
    for group in sorted(by_group):
        lines += [f"## `{group}`", "", "| call | HTTP | auth | result |", "|---|---|---|---|"]
        for op in sorted(by_group[group], key=lambda o: (o.op.resource, o.op.method_name)):
            call = "polar." + ".".join((*op.op.resource, op.op.method_name)) + "(...)"
            if not op.op.security:
                auth = "public"
            elif {s for alt in op.op.security for s in alt} <= {
                "customer_session",
                "member_session",
            }:
                auth = "session token"
            else:
                auth = ", ".join(op.op.scopes) or "token"
            result = f"pages of `{op.item}`" if op.paged else f"`{op.result}`"
            lines.append(
                f"| [`{call}`]({_link(op.op)}) | `{op.op.method} {op.op.path}` | {auth} "
                f"| {result} |"
            )
        lines.append("")
    return "\n".join(lines)


def _unused(*_: Any) -> None:  # pragma: no cover
    return None
