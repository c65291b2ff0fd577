"""What one API operation is, as data, and how a call's arguments become an HTTP request.

The generator writes one `Operation` per operation of the spec (in `polar_sdk.resources`);
`HTTPCore.call()` is the only code that sends them. Everything here runs before anything is
sent, so every problem it finds is an `InvalidRequestError` with nothing on the wire:

- path parameters are checked (type, format, not empty) and percent-encoded, so an id holding
  `/` or `..` can never change which path is requested;
- query parameters left out (`NOT_GIVEN` or `None`) are not sent; lists repeat the key
  (`sorting=-created_at&sorting=name`); the `deepObject` style writes a dict as
  `metadata[key]=value`; booleans are `true`/`false`, datetimes ISO 8601;
- a body is a request model given as `request=` or built from keyword fields. For a body that
  is a union of shapes, the shape is decided from the keywords by the same rule that decides
  the union when decoding, then the chosen shape checks its own fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Generic, Literal, TypeAlias, TypeVar, cast
from urllib.parse import quote, urlencode

from ._exceptions import InvalidRequestError
from ._types import NOT_GIVEN

__all__ = ["Operation", "Query", "Result"]

Validator: TypeAlias = Callable[[Any, Any, Any], None]
Thunk: TypeAlias = Callable[[], Any]
ResultKind: TypeAlias = Literal["json", "none", "text"]
Auth: TypeAlias = Literal["token", "none", "optional"]

_PARAM = re.compile(r"\{[^}]+\}")
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")  # characters quote() leaves as they are
_T = TypeVar("_T")


class _Named:
    """Stands in for an attrs attribute when a field validator checks a parameter."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class Query:
    """One query parameter: its wire name, style and optional value check (per item)."""

    __slots__ = ("check", "name", "style", "where")

    def __init__(self, name: str, style: str = "form", check: Validator | None = None) -> None:
        self.name = name
        self.style = style
        self.check = check
        self.where = _Named(name)


class Result:
    """What a success status decodes to: a model (`json`), nothing (`none`) or text."""

    __slots__ = ("_resolved", "_thunk", "kind")

    def __init__(self, kind: ResultKind, thunk: Thunk | None = None) -> None:
        self.kind = kind
        self._thunk = thunk
        self._resolved: Any = None

    @property
    def type(self) -> Any:
        """The Python type to decode into (resolved on first use; models load lazily)."""
        if self._resolved is None and self._thunk is not None:
            self._resolved = self._thunk()
        return self._resolved


class Operation(Generic[_T]):
    """One operation of the Polar API, as the generated resource methods describe it.

    Args:
        id: the spec's operationId (`customers:list`).
        method: the HTTP method.
        path: the path template (`/v1/customers/{id}`).
        path_params: `(name, check)` per `{...}` of the template, in order.
        query: the query parameters, in the order their values are passed.
        body: `"json"` or `"form"` when the operation takes a body.
        body_type: the body's model class or union (a thunk: models load lazily).
        body_required: whether a call must carry a body.
        results: success status -> `Result`.
        auth: `"token"` sends the client's token (a client without one is refused before
            sending); `"none"` sends no `Authorization` at all; `"optional"` sends the token
            when the client has one.
        pagination: `"page"` for page/limit lists (`has_next_page` or `max_page` say whether
            another page exists).
        scopes: the token scopes the operation needs (for messages).
        secret_path: a path parameter is a credential (a checkout's client secret, an
            invitation token): logs and messages show the path template instead.
    """

    __slots__ = (
        "_body_info",
        "_body_thunk",
        "_body_type",
        "_pieces",
        "accept",
        "auth",
        "body",
        "body_required",
        "id",
        "method",
        "page_index",
        "pagination",
        "path",
        "path_params",
        "query",
        "results",
        "scopes",
        "secret_path",
        "static_path",
    )

    def __init__(
        self,
        id: str,
        method: str,
        path: str,
        *,
        path_params: tuple[tuple[str, Validator | None], ...] = (),
        query: tuple[Query, ...] = (),
        body: Literal["json", "form"] | None = None,
        body_type: Thunk | None = None,
        body_required: bool = True,
        results: Mapping[int, Result],
        auth: Auth = "token",
        pagination: Literal["page"] | None = None,
        scopes: tuple[str, ...] = (),
        secret_path: bool = False,
    ) -> None:
        self.id = id
        self.method = method
        self.path = path
        self.path_params = path_params
        self.query = query
        self.body = body
        self._body_thunk = body_type
        self._body_type: Any = None
        self._body_info: _BodyInfo | None = None
        self.body_required = body_required
        self.results = dict(results)
        self.auth = auth
        self.pagination = pagination
        self.scopes = scopes
        self.secret_path = secret_path
        self._pieces = _PARAM.split(path)
        self.static_path = path if not path_params else None
        self.page_index = next((i for i, q in enumerate(query) if q.name == "page"), None)
        # What the answers may be: JSON, or CSV for the exports (errors stay JSON).
        self.accept = "csv" if any(r.kind == "text" for r in self.results.values()) else None

    def __repr__(self) -> str:
        return f"<Operation {self.id}: {self.method} {self.path}>"

    @property
    def body_type(self) -> Any:
        """The body's model class or union alias."""
        if self._body_type is None and self._body_thunk is not None:
            self._body_type = self._body_thunk()
        return self._body_type

    def result_for(self, status: int) -> Result | None:
        """How to read a 2xx answer with `status`; an undeclared 2xx reads like a declared one.

        The server answers some statuses the spec does not declare (a 201 where it says 200):
        those decode as the operation's declared JSON result when there is one.
        """
        found = self.results.get(status)
        if found is not None:
            return found
        for result in self.results.values():
            if result.kind == "json":
                return result
        return None

    # -- building a request -----------------------------------------------------------------
    def build_path(self, args: Sequence[object]) -> str:
        """The path with every parameter checked and percent-encoded."""
        static = self.static_path
        if static is not None:
            return static
        pieces = self._pieces
        parts = [pieces[0]]
        for (name, check), value, tail in zip(self.path_params, args, pieces[1:], strict=True):
            parts.append(_path_value(name, value, check))
            parts.append(tail)
        return "".join(parts)

    def build_query(self, values: Sequence[object]) -> str:
        """The query string (without `?`), or "" when nothing is sent."""
        pairs: list[tuple[str, str]] = []
        for param, value in zip(self.query, values, strict=True):
            if value is NOT_GIVEN or value is None:
                continue
            if param.style == "deepObject":
                if not isinstance(value, Mapping):
                    raise InvalidRequestError(
                        f"{param.name} must be a dict, got {type(value).__name__}"
                    )
                entries: Mapping[object, object] = value  # pyright: ignore[reportUnknownVariableType]
                for key, item in entries.items():
                    if not isinstance(key, str) or not key:
                        raise InvalidRequestError(
                            f"{param.name} keys must be non-empty strings, got {key!r}"
                        )
                    name = f"{param.name}[{key}]"
                    if isinstance(item, (list, tuple)):
                        for one in cast("Sequence[object]", item):
                            pairs.append((name, _query_value(param, one)))
                    else:
                        pairs.append((name, _query_value(param, item)))
            elif isinstance(value, (list, tuple)):
                for one in cast("Sequence[object]", value):
                    pairs.append((param.name, _query_value(param, one)))
            else:
                pairs.append((param.name, _query_value(param, value)))
        return urlencode(pairs) if pairs else ""

    def build_body(self, request: object, fields: Mapping[str, object] | None) -> Any:
        """The body model: `request` as given, or one built from the keyword `fields`."""
        given = (
            {k: v for k, v in fields.items() if v is not NOT_GIVEN} if fields is not None else {}
        )
        body_type = self.body_type
        if request is not None:
            if given:
                raise InvalidRequestError(
                    "pass either request= or keyword fields, not both (also got "
                    + ", ".join(given)
                    + ")"
                )
            info = self._body_info
            if info is None:
                info = self._body_info = _BodyInfo(body_type)
            members = info.members
            if not isinstance(request, members):
                names = " or ".join(m.__name__ for m in members)
                raise InvalidRequestError(
                    f"request must be a {names}, got {type(request).__name__}"
                )
            exclusive = getattr(type(request), "__polar_exclusive__", None)
            if exclusive:  # a model from structure() was never constructed: check it here
                from .models._checks import only_one

                only_one(request, *exclusive)
            return request
        if not given and not self.body_required:
            return None  # an optional body left out: none is sent (Content-Length: 0)
        info = self._body_info
        if info is None:
            info = self._body_info = _BodyInfo(body_type)
        return info.build(given)


def _path_value(name: str, value: object, check: Validator | None) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidRequestError(f"{name} must be a string, got {type(value).__name__}")
    text = str(value)
    if not text:
        raise InvalidRequestError(f"{name} must not be empty")
    if check is not None:
        check(None, _Named(name), text)
    if text in (".", ".."):  # would be read as a path segment, not as a value
        return text.replace(".", "%2E")
    if _UNRESERVED.fullmatch(text):  # ids, slugs: nothing to escape
        return text
    return quote(text, safe="")


def _query_value(param: Query, value: object) -> str:
    if param.check is not None:
        param.check(None, param.where, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidRequestError(
                f"{param.name} must be a timezone-aware datetime (for example "
                "datetime.now(timezone.utc)); a naive one is ambiguous"
            )
        from ._converter import format_datetime

        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    raise InvalidRequestError(
        f"{param.name} takes a string, number, boolean or date, got {type(value).__name__}"
    )


# -- bodies ---------------------------------------------------------------------------------


def _members(body_type: Any) -> tuple[type[Any], ...]:
    """The classes a `request=` may be: the model, or every known member of the union."""
    from typing import get_args

    from .models._base import UnknownModel

    args: tuple[Any, ...] = get_args(body_type)
    if not args:
        return (body_type,)
    members: list[type[Any]] = []
    for arg in args:
        if isinstance(arg, type) and not issubclass(arg, UnknownModel):
            members.append(cast("type[Any]", arg))
    return tuple(members)


def _init_names(cls: type[Any]) -> dict[str, Any]:
    """Keyword name -> attrs attribute, for a request model."""
    import attrs

    return {(a.alias or a.name): a for a in attrs.fields(cls)}


def _wire(attribute: Any) -> str:
    metadata: Mapping[str, Any] = attribute.metadata
    wire: str = metadata.get("wire", attribute.name)
    return wire


class _BodyInfo:
    """What building a body from keywords needs about its type, worked out once per type."""

    __slots__ = ("by_keys", "members", "names", "required", "rule", "shapes", "wire")

    def __init__(self, body_type: Any) -> None:
        import attrs

        self.members = _members(body_type)
        self.names = {cls: _init_names(cls) for cls in self.members}
        self.required = {
            cls: frozenset(k for k, a in names.items() if a.default is attrs.NOTHING and a.init)
            for cls, names in self.names.items()
        }
        # The union's decoding rule reads wire names: keyword -> wire name, across members.
        self.wire = {k: _wire(a) for names in self.names.values() for k, a in names.items()}
        self.rule: Any = None
        if len(self.members) > 1:
            from typing import get_args

            from .models._base import UnknownModel

            fallback = next(
                a
                for a in get_args(body_type)
                if isinstance(a, type) and issubclass(a, UnknownModel)
            )
            self.rule = fallback.__polar_union__.rule
        # Which keywords were given decides the member and whether the call is complete,
        # unless the union reads a value (a tag): then each call is checked afresh.
        self.by_keys = _decided_by_keys(self.rule)
        self.shapes: dict[tuple[str, ...], type[Any]] = {}

    def build(self, given: dict[str, object]) -> Any:
        """The body model for keyword fields `given` (refused before sending if they do not fit)."""
        shape = tuple(given)
        cls = self.shapes.get(shape)
        if cls is None:
            cls = self.check(given)
            if self.by_keys:
                if len(self.shapes) >= 256:  # keyword sets callers use: few, but keep it bounded
                    self.shapes.clear()
                self.shapes[shape] = cls
        return cls(**given)

    def check(self, given: dict[str, object]) -> type[Any]:
        """The model `given` describes, once it is known to name all and only its fields."""
        members = self.members
        cls = members[0] if len(members) == 1 else self.choose(given)
        names = self.names[cls]
        unknown = [k for k in given if k not in names]
        if unknown:
            if len(members) > 1:
                raise InvalidRequestError(_shape_message(members, given, cls, unknown))
            raise InvalidRequestError(
                f"{cls.__name__} has no field {', '.join(unknown)}; its fields are "
                + ", ".join(names)
            )
        missing = [k for k in names if k in self.required[cls] and k not in given]
        if missing:
            if len(members) > 1:
                raise InvalidRequestError(_shape_message(members, given, cls, [], missing))
            raise InvalidRequestError(
                f"{cls.__name__} needs {', '.join(m + '=...' for m in missing)}"
                " (or pass request=...)"
            )
        return cls

    def choose(self, given: dict[str, object]) -> type[Any]:
        """The member the keyword fields describe, by the union's own decoding rule."""
        from .models._base import KeyRule, TagRule

        wire = {self.wire[k]: v for k, v in given.items() if k in self.wire}
        rule: Any = self.rule
        members = self.members
        while isinstance(rule, TagRule | KeyRule):
            if isinstance(rule, KeyRule):
                rule = rule.present if rule.path[0] in wire else rule.absent
                continue
            key = rule.path[0]
            if key not in wire:
                rule = rule.absent if rule.absent is not None else rule.default
                if rule is None:
                    raise InvalidRequestError(_shape_message(members, given, None, [], [key]))
                continue
            rule = rule.cases.get(wire[key], rule.default)
        if rule is None:
            raise InvalidRequestError(_shape_message(members, given, None, []))
        if isinstance(rule, str):  # a member named by its source text: find it
            rule = next(m for m in members if m.__name__ == rule)
        chosen: type[Any] = rule
        return chosen


def _decided_by_keys(rule: Any) -> bool:
    """Whether a union rule picks its member from which keys are present alone."""
    from .models._base import KeyRule, TagRule

    if isinstance(rule, TagRule):
        return False
    if isinstance(rule, KeyRule):
        return _decided_by_keys(rule.present) and _decided_by_keys(rule.absent)
    return True


def _shape_message(
    members: tuple[type[Any], ...],
    given: dict[str, object],
    chosen: type[Any] | None,
    unknown: list[str],
    missing: Sequence[str] = (),
) -> str:
    """Why the keyword fields fit no single shape of a union body, and what the shapes are."""
    import attrs

    required = {
        m: [k for k, a in _init_names(m).items() if a.default is attrs.NOTHING] for m in members
    }
    # Fields that each name one shape on their own (customer_id vs external_customer_id).
    own = {
        m: [k for k in keys if not any(k in _init_names(o) for o in members if o is not m)]
        for m, keys in required.items()
    }
    alternatives = [keys[0] for keys in own.values() if len(keys) == 1]
    exclusive = [k for k in alternatives if k in given]
    if len(alternatives) == len(members) and len(exclusive) > 1:
        return f"pass {' or '.join(exclusive)}, not both: each names a different request shape"
    if len(alternatives) == len(members) and not exclusive:
        return "pass one of " + " or ".join(f"{k}=..." for k in alternatives) + " (or request=...)"
    shapes = "; ".join(f"{m.__name__}({', '.join(_init_names(m))})" for m in members)
    problem: list[str] = []
    if chosen is not None and unknown:
        problem.append(f"{', '.join(unknown)} do not go with {chosen.__name__}")
    if missing:
        problem.append(f"missing {', '.join(missing)}")
    head = "; ".join(problem) if problem else "these keyword fields fit no request shape"
    return f"{head} (got {', '.join(given) or 'nothing'}); the shapes are: {shapes}"
