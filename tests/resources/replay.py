"""Recorded replay: every exchange under `$POLAR_FIXTURES_DIR/api/` as an SDK call.

A recorded case is what a real Polar server received and answered. This module turns it
into the SDK call that should produce the same request:

1. `load_cases()` reads every JSON file (none is skipped: a file without a request and a
   response is an error) and matches it to the spec's operation by method and path
   template (`match_operation`: templated segments match any one segment; when several
   templates match, the one with literal segments earliest wins, so `/v1/customers/export`
   beats `/v1/customers/{id}`). Cases whose path no operation has are `Case.operation is
   None` (unknown routes, deprecated routes, methods a route does not allow).
2. `plan(case)` reads the recorded request into call arguments: path parameters from the
   path (percent-decoded, positional in path order), the query string into typed keyword
   values by each parameter's IR type, the credentials, and which body forms to try. What
   the SDK cannot say at all (a header it never sends, a query key the operation does not
   declare, a malformed body...) raises `NotExpressible` with a reason.
3. `body_forms(plan)` (needs the SDK's models) gives the keyword arguments of each body
   form: `request=<model>` built with `polar_sdk.models.structure`, and the model's fields
   as keywords. When the SDK's models refuse the recorded body, that refusal is returned:
   the SDK would not send it.
4. `compare_*` and `declared_projection` check what the fake server received and what the
   SDK decoded.

The outcome of every replay is kept in `RESULTS`; `summary_lines()` turns it into the
table that `tests/resources/conftest.py` prints at the end of the session.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from codegen.openapi import ir
from tests.conftest import TOKEN, fixtures_dir
from tests.fakeapi import FakePolarAPI, Reply, SeenRequest, case_reply
from tests.spec_support import api

__all__ = [
    "POLAR_VERSION",
    "RESULTS",
    "SESSION_TOKEN",
    "Case",
    "NotExpressible",
    "Outcome",
    "Plan",
    "RawPathFakeAPI",
    "body_forms",
    "compare_path",
    "compare_query",
    "declared_projection",
    "json_equal",
    "load_cases",
    "match_operation",
    "plan",
    "recorded_reply",
    "summary_lines",
]

POLAR_VERSION = "2026-10"  # what the recordings used and the SDK sends
SESSION_TOKEN = "polar_mst_testSessionTokenForTheFakeApi000000000000000"
"""The token replayed for customer-portal operations (they were recorded with a member
session token, `polar_mst_...`; organization operations replay `tests.conftest.TOKEN`)."""

_PORTAL_SCHEMES = frozenset({"customer_session", "member_session"})
_BODY_METHODS = frozenset({"POST", "PATCH", "PUT"})


# -- cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One recorded exchange, matched to its operation (`None`: no operation has the path)."""

    name: str  # relative to api/, without ".json": "customers/get_200_team"
    file: Path
    request: dict[str, Any]
    response: dict[str, Any]
    operation: ir.Operation | None

    @property
    def method(self) -> str:
        return str(self.request["method"])

    @property
    def path(self) -> str:
        """The request path as sent (percent-encoded), without the query."""
        return urlsplit(str(self.request["path"])).path

    @property
    def query(self) -> str:
        """The raw query string as sent."""
        return urlsplit(str(self.request["path"])).query

    @property
    def headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.request["headers"].items()}

    @property
    def status(self) -> int:
        return int(self.response["status"])


def api_root() -> Path | None:
    root = fixtures_dir()
    return None if root is None else root / "api"


@functools.cache
def _routes() -> tuple[tuple[ir.Operation, re.Pattern[str]], ...]:
    return tuple((op, _template_regex(op.path)) for op in api().operations)


def _template_regex(template: str) -> re.Pattern[str]:
    """`/v1/x/{id}/y` -> a regex with one named group per template segment."""
    parts: list[str] = []
    last = 0
    for index, m in enumerate(re.finditer(r"\{[^}]+\}", template)):
        parts.append(re.escape(template[last : m.start()]))
        parts.append(f"(?P<p{index}>[^/]+)")
        last = m.end()
    parts.append(re.escape(template[last:]))
    return re.compile("^" + "".join(parts) + "$")


def _specificity(op: ir.Operation) -> tuple[bool, ...]:
    # Literal segments sort before templated ones, segment by segment from the left.
    return tuple(segment.startswith("{") for segment in op.path.split("/"))


def match_operation(method: str, path: str) -> ir.Operation | None:
    """The operation of `method` `path` (raw path, no query), or None when none has it."""
    found = [op for op, rx in _routes() if op.method == method and rx.match(path)]
    if not found:
        return None
    found.sort(key=_specificity)
    if len(found) > 1 and _specificity(found[0]) == _specificity(found[1]):
        raise AssertionError(
            f"{method} {path} matches {found[0].operation_id} and {found[1].operation_id} equally"
        )
    return found[0]


@functools.cache
def load_cases() -> tuple[Case, ...]:
    """Every recorded exchange under api/ (empty when POLAR_FIXTURES_DIR is unset)."""
    root = api_root()
    if root is None:
        return ()
    cases: list[Case] = []
    for file in sorted(root.rglob("*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        if set(data) != {"request", "response"}:
            raise AssertionError(f"{file}: not a recorded exchange (keys {sorted(data)})")
        request = data["request"]
        op = match_operation(request["method"], urlsplit(request["path"]).path)
        name = str(file.relative_to(root).with_suffix(""))
        cases.append(Case(name, file, request, data["response"], op))
    return tuple(cases)


# -- planning a call -----------------------------------------------------------------------


class NotExpressible(Exception):
    """The recorded request is one the SDK cannot send; `reason` says why."""

    def __init__(self, category: str, detail: str) -> None:
        super().__init__(f"{category}: {detail}")
        self.category = category
        self.detail = detail


BodyKind = Literal["none", "json", "form"]


@dataclass(frozen=True)
class Plan:
    """The SDK call that reproduces a case (minus the body model, see `body_forms`)."""

    case: Case
    op: ir.Operation
    token: str | None
    expect_configuration_error: bool  # the op needs a token and the recording sent none
    path_args: tuple[str, ...]
    query: dict[str, Any]
    datetime_keys: frozenset[str]  # query keys compared as instants, not as text
    body_kind: BodyKind
    body: Any  # parsed JSON object, or the form fields as a dict
    content_length_zero: bool  # a bodiless POST/PATCH/PUT that sent Content-Length: 0

    @property
    def variants(self) -> tuple[str, ...]:
        return ("request", "fields") if self.body_kind != "none" else ("call",)


def needs_token(op: ir.Operation) -> bool:
    return bool(op.security) and () not in op.security


def _is_portal(op: ir.Operation) -> bool:
    schemes = {scheme for alternative in op.security for scheme in alternative}
    return bool(schemes) and schemes <= _PORTAL_SCHEMES


def plan(case: Case) -> Plan:
    """The call arguments for `case`; raises `NotExpressible` when the SDK cannot send it."""
    op = case.operation
    if op is None:
        raise NotExpressible("no operation", f"no operation has {case.method} {case.path}")
    headers = case.headers
    version = headers.get("polar-version")
    if version != POLAR_VERSION:
        raise NotExpressible(
            "Polar-Version", f"sent Polar-Version {version!r}; the SDK always sends {POLAR_VERSION}"
        )
    token, expect_refusal = _credentials(op, headers.get("authorization"))
    path_args = _path_arguments(op, case.path)
    query, datetime_keys = _query_arguments(op, case.query)
    body_kind, body, cl_zero = _body(case, op)
    return Plan(
        case=case,
        op=op,
        token=token,
        expect_configuration_error=expect_refusal,
        path_args=path_args,
        query=query,
        datetime_keys=datetime_keys,
        body_kind=body_kind,
        body=body,
        content_length_zero=cl_zero,
    )


def _credentials(op: ir.Operation, authorization: str | None) -> tuple[str | None, bool]:
    if authorization is None:
        return None, needs_token(op)
    if not op.security:
        raise NotExpressible(
            "credentials", "a token sent to an operation without security (the SDK sends none)"
        )
    if authorization == "Bearer <redacted>":
        return (SESSION_TOKEN if _is_portal(op) else TOKEN), False
    scheme, _, value = authorization.partition(" ")
    if (
        scheme == "Bearer"
        and value
        and value.isascii()
        and value.isprintable()
        and " " not in value
    ):
        return value, False  # a deliberately fake token kept in the recording
    raise NotExpressible("credentials", f"Authorization {authorization!r} cannot be configured")


def _path_arguments(op: ir.Operation, path: str) -> tuple[str, ...]:
    m = _template_regex(op.path).match(path)
    assert m is not None, (op.path, path)
    values = [unquote(m.group(f"p{i}")) for i in range(len(m.groups()))]
    names = re.findall(r"\{([^}]+)\}", op.path)
    declared = [p.name for p in op.params if p.location == "path"]
    assert sorted(names) == sorted(declared), (op.operation_id, names, declared)
    return tuple(values)


def _resolve(tp: ir.TypeExpr) -> ir.TypeExpr:
    """Strip `Nullable` and follow aliases."""
    while True:
        if isinstance(tp, ir.Nullable):
            tp = tp.inner
        elif isinstance(tp, ir.Named) and tp.name in api().aliases:
            tp = api().aliases[tp.name].type
        else:
            return tp


def _scalar(tp: ir.TypeExpr, raw: str, where: str) -> tuple[Any, bool]:
    """(typed value, is_datetime) for one query value of IR type `tp`."""
    tp = _resolve(tp)
    if isinstance(tp, ir.Prim):
        kind = tp.kind
        if kind == "int":
            if re.fullmatch(r"-?[0-9]+", raw) and str(int(raw)) == raw:
                return int(raw), False
            raise NotExpressible("query value", f"{where}={raw!r} is not an integer")
        if kind == "float":
            try:
                return float(raw), False
            except ValueError:
                raise NotExpressible("query value", f"{where}={raw!r} is not a number") from None
        if kind == "bool":
            if raw in ("true", "false"):
                return raw == "true", False
            raise NotExpressible("query value", f"{where}={raw!r} is not true/false")
        if kind == "datetime":
            try:
                value = parse_datetime(raw)
            except ValueError:
                raise NotExpressible("query value", f"{where}={raw!r} is not a date-time") from None
            return value, True
        if kind == "date":
            try:
                day = dt.date.fromisoformat(raw)
            except ValueError:
                raise NotExpressible("query value", f"{where}={raw!r} is not a date") from None
            if day.isoformat() != raw:
                raise NotExpressible("query value", f"{where}={raw!r} is not canonical ISO")
            return day, False
        return raw, False  # str (uuid, email...)
    if isinstance(tp, ir.Named | ir.OpenEnum | ir.Const):
        return raw, False  # enums are open: any string goes
    if isinstance(tp, ir.Either):
        scalars = [m for m in tp.members if not isinstance(_resolve(m), ir.ListOf)]
        for member in scalars:
            try:
                return _scalar(member, raw, where)
            except NotExpressible:
                continue
        raise NotExpressible("query value", f"{where}={raw!r} fits no member of {tp}")
    raise AssertionError(f"query parameter {where}: unexpected type {tp!r}")


def parse_datetime(raw: str) -> dt.datetime:
    """ISO 8601 date-time, also with a `Z` suffix on Python 3.10 (whose parser lacks it)."""
    return dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)


def _list_member(tp: ir.TypeExpr) -> ir.TypeExpr | None:
    """The item type when a query parameter takes a list (`ListOf` or `X | list[X]`)."""
    tp = _resolve(tp)
    if isinstance(tp, ir.ListOf):
        return tp.item
    if isinstance(tp, ir.Either):
        for member in tp.members:
            member = _resolve(member)
            if isinstance(member, ir.ListOf):
                return member.item
    return None


def _query_arguments(op: ir.Operation, query: str) -> tuple[dict[str, Any], frozenset[str]]:
    pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    by_name = {p.name: p for p in op.params if p.location == "query"}
    deep = [p for p in by_name.values() if p.style == "deepObject"]
    grouped: dict[str, list[str]] = {}
    deep_values: dict[str, dict[str, list[str]]] = {}
    for key, value in pairs:
        if key in by_name and by_name[key].style != "deepObject":
            grouped.setdefault(key, []).append(value)
            continue
        owner = next((p for p in deep if key.startswith(p.name + "[") and key.endswith("]")), None)
        if owner is None:
            raise NotExpressible(
                "query key", f"{key!r} is not a query parameter of {op.operation_id}"
            )
        inner = key[len(owner.name) + 1 : -1]
        deep_values.setdefault(owner.name, {}).setdefault(inner, []).append(value)
    kwargs: dict[str, Any] = {}
    datetime_keys: set[str] = set()
    for name, values in grouped.items():
        param = by_name[name]
        item = _list_member(param.type)
        typed = [_scalar(item or param.type, v, name) for v in values]
        if any(is_dt for _, is_dt in typed):
            datetime_keys.add(name)
        if item is not None and (len(values) > 1 or isinstance(_resolve(param.type), ir.ListOf)):
            kwargs[param.py_name] = [v for v, _ in typed]
        elif len(values) == 1:
            kwargs[param.py_name] = typed[0][0]
        else:
            raise NotExpressible(
                "query key", f"{name!r} repeated, but {op.operation_id} takes one value"
            )
    for name, mapping in deep_values.items():
        param = by_name[name]
        kwargs[param.py_name] = {k: v[0] if len(v) == 1 else v for k, v in mapping.items()}
    return kwargs, frozenset(datetime_keys)


def _body(case: Case, op: ir.Operation) -> tuple[BodyKind, Any, bool]:
    body = case.request["body"]
    headers = case.headers
    content_type = headers.get("content-type", "").split(";")[0].strip()
    if body is None:
        if case.method not in _BODY_METHODS:
            return "none", None, False
        if op.body is not None and op.body.required:
            raise NotExpressible(
                "body", f"no body sent, but {op.operation_id} requires one (the SDK sends one)"
            )
        if headers.get("content-length") != "0":
            raise NotExpressible(
                "body",
                "bodiless request without Content-Length (the SDK sends Content-Length: 0)",
            )
        return "none", None, True
    if op.body is None:
        raise NotExpressible("body", f"a body sent to {op.operation_id}, which takes none")
    if content_type != op.body.media_type:
        raise NotExpressible(
            "body", f"sent as {content_type!r}; {op.operation_id} takes {op.body.media_type}"
        )
    if op.body.media_type == "application/json":
        if not isinstance(body, dict):
            raise NotExpressible("body", f"JSON body is not an object: {json.dumps(body)[:60]}")
        return "json", body, False
    if op.body.media_type == "application/x-www-form-urlencoded":
        assert isinstance(body, str), case.name
        pairs = parse_qsl(body, keep_blank_values=True)
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise NotExpressible("body", "a form field repeated")
        return "form", dict(pairs), False
    raise NotExpressible("body", f"media type {op.body.media_type} is not replayed")


# -- body models (needs the SDK) -----------------------------------------------------------


@dataclass
class BodyForms:
    """The body keyword arguments per form, or the SDK's refusal to build the body."""

    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: Exception | None = None


def body_type(op: ir.Operation) -> Any:
    from tests.spec_support import python_type

    assert op.body is not None and op.body.type is not None
    return python_type(op.body.type)


def body_forms(p: Plan) -> BodyForms:
    """`request=<model>` and keyword-field forms of the recorded body (see module docstring).

    Raises `NotExpressible` when the body has keys its schema does not declare (the model
    would drop them, so the SDK cannot send that body).
    """
    import attrs

    from polar_sdk import NOT_GIVEN
    from polar_sdk.errors import InvalidRequestError, ResponseDecodeError
    from polar_sdk.models import structure
    from polar_sdk.models._base import UnknownModel

    if p.body_kind == "none":
        return BodyForms({"call": {}})
    try:
        model = structure(p.body, body_type(p.op))
    except (InvalidRequestError, ResponseDecodeError) as exc:
        return BodyForms(refused=exc)
    projected = declared_projection(p.body, model)
    if not json_equal(projected, p.body):
        dropped = sorted(_dropped_keys(p.body, projected))
        raise NotExpressible("body", f"keys the schema does not declare: {', '.join(dropped)}")
    forms: dict[str, dict[str, Any]] = {"request": {"request": model}}
    if not isinstance(model, UnknownModel):
        fields = {
            a.name: getattr(model, a.name)
            for a in attrs.fields(type(model))
            if getattr(model, a.name) is not NOT_GIVEN
        }
        # An optional body with no field given is not sent at all; `{}` needs `request=`.
        if fields or p.op.body is None or p.op.body.required:
            forms["fields"] = fields
    return BodyForms(forms)


def _dropped_keys(original: Any, projected: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(original, dict) and isinstance(projected, dict):
        for key, value in original.items():
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in projected:
                yield where
            else:
                yield from _dropped_keys(value, projected[key], where)
    elif isinstance(original, list) and isinstance(projected, list):
        for index, (a, b) in enumerate(zip(original, projected, strict=False)):
            yield from _dropped_keys(a, b, f"{prefix}[{index}]")


# -- comparing -----------------------------------------------------------------------------


@functools.cache
def _models_by_class_name() -> dict[str, ir.ModelDef]:
    return {m.py_name: m for m in api().models.values()}


def declared_projection(value: Any, decoded: Any) -> Any:
    """`value` (parsed JSON) minus the object keys its schema does not declare, recursively.

    The schema at each level is read from the decoded object's class (so union members are
    the ones the SDK chose): attrs models keep their declared wire keys (all keys when the
    schema allows additional properties), `Unknown*` fallbacks keep everything.
    """
    import attrs

    from polar_sdk.models._base import UnknownModel

    if isinstance(decoded, UnknownModel):
        return value
    if attrs.has(type(decoded)) and isinstance(value, dict):
        model = _models_by_class_name().get(type(decoded).__name__)
        if model is None:
            raise AssertionError(f"no IR model for {type(decoded).__qualname__}")
        fields = {f.wire_name: f.py_name for f in model.fields}
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in fields:
                out[key] = declared_projection(item, getattr(decoded, fields[key], None))
            elif model.extra is not None:
                out[key] = item
        return out
    if isinstance(value, list) and isinstance(decoded, list | tuple):
        return [declared_projection(v, d) for v, d in zip(value, decoded, strict=False)] + list(
            value[len(decoded) :]
        )
    if isinstance(value, dict) and isinstance(decoded, dict):
        return {k: declared_projection(v, decoded.get(k)) for k, v in value.items()}
    return value


def json_equal(a: Any, b: Any) -> bool:
    """Equality of parsed JSON values where `true` is not `1` (but `1` equals `1.0`)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def json_diff(expected: Any, got: Any, prefix: str = "$") -> list[str]:
    """Human-readable differences between two parsed JSON values (first few)."""
    out: list[str] = []
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in expected.keys() | got.keys():
            if key not in got:
                out.append(f"{prefix}.{key}: missing (expected {_short(expected[key])})")
            elif key not in expected:
                out.append(f"{prefix}.{key}: unexpected {_short(got[key])}")
            else:
                out.extend(json_diff(expected[key], got[key], f"{prefix}.{key}"))
    elif isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        for index, (x, y) in enumerate(zip(expected, got, strict=True)):
            out.extend(json_diff(x, y, f"{prefix}[{index}]"))
    elif not json_equal(expected, got):
        out.append(f"{prefix}: expected {_short(expected)}, got {_short(got)}")
    return out[:10]


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def path_segments(raw_path: str) -> list[str]:
    """The path's segments, each percent-decoded (`%2F` inside a segment stays inside it)."""
    return [unquote(s) for s in raw_path.split("/")]


def compare_path(expected_raw: str, sent_raw: str) -> list[str]:
    if path_segments(expected_raw) == path_segments(sent_raw):
        return []
    return [f"path: expected {expected_raw!r}, sent {sent_raw!r}"]


def compare_query(expected_raw: str, sent_raw: str, datetime_keys: Iterable[str]) -> list[str]:
    """Query strings equal as multisets of decoded (key, value) pairs.

    Date-time parameters are compared as instants: the recording wrote
    `2026-11-26T00:00:00Z`, the SDK may write `2026-11-26T00:00:00+00:00`; both name the
    same instant for the server. Every other value must be equal as text.
    """
    keys = set(datetime_keys)

    def normal(raw: str) -> Counter[tuple[str, Any]]:
        pairs: Counter[tuple[str, Any]] = Counter()
        for key, value in parse_qsl(raw, keep_blank_values=True):
            if key in keys:
                try:
                    instant: Any = parse_datetime(value)
                except ValueError:
                    instant = value
                pairs[(key, instant)] += 1
            else:
                pairs[(key, value)] += 1
        return pairs

    expected, sent = normal(expected_raw), normal(sent_raw)
    if expected == sent:
        return []
    return [
        f"query: expected {expected_raw!r}, sent {sent_raw!r} "
        f"(missing {sorted(map(str, (expected - sent).elements()))}, "
        f"extra {sorted(map(str, (sent - expected).elements()))})"
    ]


def compare_body(p: Plan, seen: SeenRequest) -> list[str]:
    problems: list[str] = []
    content_type = seen.headers.get("content-type", "").split(";")[0].strip()
    if p.body_kind == "none":
        if seen.body:
            problems.append(f"body: expected none, sent {seen.body[:120]!r}")
        if p.content_length_zero and seen.headers.get("content-length") != "0":
            problems.append(
                f"Content-Length: expected 0, sent {seen.headers.get('content-length')!r}"
            )
        return problems
    assert p.op.body is not None
    if content_type != p.op.body.media_type:
        problems.append(f"Content-Type: expected {p.op.body.media_type}, sent {content_type!r}")
    if p.body_kind == "json":
        try:
            sent = json.loads(seen.body)
        except ValueError:
            return [*problems, f"body: not JSON: {seen.body[:120]!r}"]
        problems.extend(f"body {d}" for d in json_diff(p.body, sent))
    else:
        expected_form = Counter(parse_qsl(p.case.request["body"], keep_blank_values=True))
        sent_form = Counter(parse_qsl(seen.body.decode(), keep_blank_values=True))
        if expected_form != sent_form:
            problems.append(
                f"form body: expected {p.case.request['body']!r}, sent {seen.body.decode()!r}"
            )
    return problems


# -- the fake server -----------------------------------------------------------------------


def recorded_reply(case: Case) -> Reply:
    """The recorded response as the fake server's reply (`tests.fakeapi.case_reply`), except
    that a JSON `null` body (content-length 4) is sent as `null`, not as an empty body."""
    reply = case_reply({"response": case.response})
    headers = case.response["headers"]
    if case.response["body"] is None and headers.get("content-length") == "4":
        reply = Reply(reply.status, reply.headers, b"null")
    return reply


class RawPathFakeAPI(FakePolarAPI):
    """`FakePolarAPI` that also keeps each request's raw (still percent-encoded) path.

    `SeenRequest.path` is uvicorn's decoded path, where `a%2Fb` and `a/b` look the same.
    """

    def __init__(self) -> None:
        super().__init__()
        self.raw_paths: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path")
            self.raw_paths.append(raw.decode("latin-1") if raw else scope["path"])
        await super().__call__(scope, receive, send)

    def reset(self) -> None:
        super().reset()
        self.raw_paths.clear()

    def reply_recorded(self, case: Case) -> None:
        """Queue the recorded answer of `case` (see `recorded_reply`)."""
        reply = recorded_reply(case)
        self.reply(reply.status, headers=dict(reply.headers), raw=reply.body)


# -- outcomes and the summary --------------------------------------------------------------

OutcomeKind = Literal[
    "replayed",  # sent exactly the recorded request, decoded the answer as expected
    "refused",  # the SDK refused before sending; the server had refused it too
    "no token",  # ConfigurationError before sending; the server had answered 400/401
    "not expressible",
    "failed",
]


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    detail: str = ""


RESULTS: dict[tuple[str, str, str], Outcome] = {}
"""(case name, variant, client kind "async"/"sync") -> what happened."""


def record(case: Case, variant: str, client: str, kind: OutcomeKind, detail: str = "") -> None:
    RESULTS[(case.name, variant, client)] = Outcome(kind, detail)


def operations_covered(cases: Sequence[Case]) -> set[str]:
    return {c.operation.operation_id for c in cases if c.operation is not None}


def summary_lines() -> list[str]:
    """The counts table: per case (its `request`/`call` async replay decides), per status."""
    cases = load_cases()
    if not cases or not RESULTS:
        return []
    by_case: dict[str, Outcome] = {}
    for (name, variant, client), outcome in RESULTS.items():
        if client == "async" and variant in ("request", "call"):
            by_case[name] = outcome
    kinds = Counter(o.kind for o in by_case.values())
    statuses = Counter(c.status for c in cases)
    unmatched = [c for c in cases if c.operation is None]
    ops = {op.operation_id for op in api().operations}
    covered = operations_covered(cases)
    replayed_ops = {
        c.operation.operation_id
        for c in cases
        if c.operation is not None and by_case.get(c.name, Outcome("failed")).kind == "replayed"
    }
    variants = Counter((variant, client, o.kind) for (_, variant, client), o in RESULTS.items())
    lines = [
        f"recorded cases: {len(cases)} (ran {len(by_case)} through AsyncPolar)",
        *(f"  {kind:<16} {kinds.get(kind, 0)}" for kind in _KINDS),
        f"cases without an operation (unknown/deprecated routes): {len(unmatched)}",
        *(f"    {c.name}: {c.method} {c.path} -> {c.status}" for c in unmatched),
        "per recorded status: "
        + ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items())),
        *(
            f"  {status}: "
            + ", ".join(
                f"{k} {n}"
                for k in _KINDS
                if (n := sum(1 for c in cases if c.status == status and _kind(by_case, c) == k))
            )
            for status in sorted(statuses)
        ),
        f"operations with a recorded case: {len(covered)}/{len(ops)}",
        f"operations with at least one exact replay: {len(replayed_ops)}/{len(ops)}",
        "  without a recorded case: " + (", ".join(sorted(ops - covered)) or "none"),
        "  with cases but no exact replay: "
        + (", ".join(sorted(covered - replayed_ops)) or "none"),
        "replays by body form and client:",
        *(
            f"  {v:<8} {c:<6} "
            + ", ".join(f"{k} {variants[(v, c, k)]}" for k in _KINDS if variants.get((v, c, k)))
            for v, c in sorted({(v, c) for v, c, _ in variants})
        ),
    ]
    reasons = Counter(
        o.detail.split(":", 1)[0] for o in by_case.values() if o.kind == "not expressible"
    )
    if reasons:
        lines.append("not expressible, by reason:")
        lines.extend(f"  {reason}: {n}" for reason, n in sorted(reasons.items()))
        for name, o in sorted(by_case.items()):
            if o.kind == "not expressible":
                lines.append(f"    {name}: {o.detail}")
    refused = sorted((name, o.detail) for name, o in by_case.items() if o.kind == "refused")
    if refused:
        lines.append("refused before sending (the server refused too):")
        lines.extend(f"    {name}: {_first_line(detail)[:160]}" for name, detail in refused)
    odd = sorted(
        (name, o.detail)
        for name, o in by_case.items()
        if o.kind == "refused" and not o.detail.startswith(("400:", "422:"))
    )
    if odd:
        lines.append(
            "refused before sending, where the server refused for another reason (review):"
        )
        lines.extend(f"    {name}: {detail[:200]}" for name, detail in odd)
    failed = sorted((key, o) for key, o in RESULTS.items() if o.kind == "failed")
    if failed:
        lines.append(f"failed replays: {len(failed)}")
        for (name, variant, client), o in failed:
            lines.append(f"    {name}[{variant}-{client}]: {_first_line(o.detail)[:300]}")
    return lines


def _kind(by_case: dict[str, Outcome], case: Case) -> str:
    outcome = by_case.get(case.name)
    return "not run" if outcome is None else outcome.kind


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


_KINDS: tuple[OutcomeKind, ...] = ("replayed", "refused", "no token", "not expressible", "failed")
