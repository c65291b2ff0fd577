"""The SDK's own cattrs converter (the global cattrs converter is never touched).

It knows no model by name: everything comes from what the generated classes carry.

- A model class derives from `ResponseModel` or `RequestModel` (polar_sdk/models/_base.py);
  its fields, defaults, wire names (`metadata["wire"]`) and annotations say the rest.
- A union is a type alias whose members include an `UnknownModel` subclass; that fallback
  class holds the union's decision rule (`__polar_union__`). The rule is read when the union
  is first decoded; members are never tried one after another.

Hooks are built on first use of a type and cached. A model's hook is a small function
compiled for its fields: plain values are checked inline, and the hook of any other field
type (another model, a union, a list) is looked up the first time a value for it arrives, so
decoding one model never imports or compiles what that answer does not contain. Field
annotations are strings (the modules use `from __future__ import annotations`); they are
evaluated one field at a time with a namespace that finds any model by name through the
lazy `polar_sdk.models` package.

If that lean function meets anything unexpected it proves nothing: the same input then goes
through cattrs' own generated hook with detailed validation, which either decodes it the same
way or raises cattrs' usual error naming every bad field and its path.

Wire conventions: date-times are ISO 8601 strings and become timezone-aware `datetime`s
(a missing offset means UTC); `date` and ISO 8601 durations (`timedelta`) likewise; enum
fields (`Literal[...] | str`) accept any string; booleans, integers and strings are checked
strictly (no `"false"` -> True). Unstructuring is driven by the values: request models leave
out fields that are still `NOT_GIVEN`, response models leave out what the answer left out,
extra keys are merged back, and an `Unknown*` object turns back into its raw JSON.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import (
    TYPE_CHECKING,
    Any,
    ForwardRef,
    Literal,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
)

import attrs

from ._types import NOT_GIVEN, NotGiven
from .models._base import (
    KeyRule,
    ModelBase,
    RequestModel,
    ResponseModel,
    TagRule,
    UnknownModel,
)

if TYPE_CHECKING:
    from cattrs import Converter

__all__ = ["converter", "hooks", "make_converter"]

Hook = Callable[[Any, Any], Any]
"""An internal structure hook: (value, the object holding it or None) -> Python value."""

_NONE_TYPE = type(None)
_UNION_ORIGINS = (Union, types.UnionType)
_ABSENT: Any = object()
_SET_ABSENT: Callable[[Any, Any], None] = vars(ResponseModel)["_polar_absent"].__set__
_SIMPLE = (str, int, float, bool, _NONE_TYPE)

# -- values --------------------------------------------------------------------------------

_FRACTION = r"\.(\d+)"
_FROMISOFORMAT_READS_Z = sys.version_info >= (3, 11)


def parse_datetime(value: Any) -> datetime:
    """An ISO 8601 string as an aware `datetime` (no offset: UTC)."""
    if _FROMISOFORMAT_READS_Z and type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            if sys.version_info >= (3, 11):
                raise
            # Python 3.10 only reads fractions of exactly 3 or 6 digits.
            text = re.sub(_FRACTION, lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
            parsed = datetime.fromisoformat(text)
    else:
        raise TypeError(f"expected an ISO 8601 date-time string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def format_datetime(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_date(value: Any) -> date:
    if type(value) is not str:
        raise TypeError(f"expected an ISO 8601 date string, got {type(value).__name__}")
    return date.fromisoformat(value)


# ISO 8601 durations as pydantic writes them (P1DT2H3M4.5S, PT0S, -P1D). Written by hand:
# the standard library has no parser, and a dependency for two fields is not worth it.
_DURATION = (  # compiled (and cached by `re`) when a duration is first read
    r"(?P<sign>-)?P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


def parse_duration(value: Any) -> timedelta:
    """An ISO 8601 duration (or a number of seconds) as a `timedelta`."""
    if type(value) in (int, float):
        return timedelta(seconds=value)
    if type(value) is not str:
        raise TypeError(f"expected an ISO 8601 duration string, got {type(value).__name__}")
    match = re.fullmatch(_DURATION, value)
    if match is None or value.rstrip("-") in ("P", "PT") or value.endswith("T"):
        raise ValueError(f"not an ISO 8601 duration: {value!r}")
    parts = {k: float(v) for k, v in match.groupdict().items() if v and k != "sign"}
    result = timedelta(**parts)
    return -result if match.group("sign") else result


def format_duration(value: timedelta) -> str:
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    days = value.days
    seconds = value.seconds
    micros = value.microseconds
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = f"{sign}P" + (f"{days}D" if days else "")
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if secs or micros:
        time += f"{secs}.{micros:06d}".rstrip("0").rstrip(".") + "S"
    if time or not days:
        out += "T" + (time or "0S")
    return out


# -- types ---------------------------------------------------------------------------------


class _ModelNames(Mapping[str, Any]):
    """Every public name of `polar_sdk.models`, imported when asked for (eval's locals)."""

    def __getitem__(self, name: str) -> Any:
        from . import models

        if name in models._MODULES:  # pyright: ignore[reportPrivateUsage]
            return getattr(models, name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        from . import models

        return iter(models._MODULES)  # pyright: ignore[reportPrivateUsage]

    def __len__(self) -> int:
        from . import models

        return len(models._MODULES)  # pyright: ignore[reportPrivateUsage]


_NAMES = _ModelNames()


def _is_model(tp: Any) -> bool:
    cls = get_origin(tp) or tp
    return isinstance(cls, type) and issubclass(cls, ModelBase) and attrs.has(cls)


def _model_class(tp: Any) -> type[Any]:
    cls: type[Any] = get_origin(tp) or tp
    return cls


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    if get_origin(tp) in _UNION_ORIGINS:
        return get_args(tp)
    return None


def _fallback_of(tp: Any) -> type[UnknownModel] | None:
    args = _union_args(tp)
    if args is None:
        return None
    for arg in args:
        if isinstance(arg, type) and issubclass(arg, UnknownModel):
            return arg
    return None


def _strip(tp: Any) -> tuple[Any, bool]:
    """`X | None` / `X | NotGiven | None` -> (X, whether None is allowed)."""
    args = _union_args(tp)
    if args is None:
        return tp, tp is _NONE_TYPE
    rest = tuple(a for a in args if a is not _NONE_TYPE and a is not NotGiven)
    nullable = _NONE_TYPE in args
    if len(rest) == len(args):
        return tp, False
    if len(rest) == 1:
        return rest[0], nullable
    return Union[rest], nullable  # noqa: UP007


def _is_open_enum(tp: Any) -> bool:
    """`Literal[...] | str`: documented values that stay open to new ones."""
    args = _union_args(tp)
    return (
        args is not None and str in args and all(a is str or get_origin(a) is Literal for a in args)
    )


def _evaluate(text: str, cls: type[Any], typevars: Mapping[Any, Any]) -> Any:
    module = sys.modules[cls.__module__]
    tp = eval(text, vars(module), _NAMES)
    return _substitute(tp, typevars) if typevars else tp


def _evaluate_leaf(text: str, where: type[Any]) -> Any:
    return eval(text, vars(sys.modules[where.__module__]), _NAMES)


def _substitute(tp: Any, typevars: Mapping[Any, Any]) -> Any:
    if isinstance(tp, TypeVar):
        return typevars.get(tp, tp)
    args = get_args(tp)
    if not args:
        return tp
    new = tuple(_substitute(a, typevars) for a in args)
    origin = get_origin(tp)
    if origin in _UNION_ORIGINS:
        return Union[new]  # noqa: UP007
    if origin is Literal:
        return tp
    return origin[new] if origin is not None else tp


def _typevars(tp: Any) -> dict[Any, Any]:
    origin = get_origin(tp)
    if origin is None:
        return {}
    params = getattr(origin, "__parameters__", ())
    return dict(zip(params, get_args(tp), strict=False))


_PRIM_NAMES = {
    "str": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "Any": "any",
    "datetime": "datetime",
    "date": "date",
    "timedelta": "duration",
}
_TEXT_KINDS: dict[str, tuple[str, bool]] = {}
_SCALAR_SETS: dict[str, frozenset[type[Any]]] = {}


def _split_union(text: str) -> list[str]:
    """`A | dict[str, B | C] | None` -> ["A", "dict[str, B | C]", "None"]."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _scalar_kind(types_: frozenset[type[Any]]) -> str:
    key = "scalars:" + ",".join(sorted(t.__name__ for t in types_))
    _SCALAR_SETS.setdefault(key, types_)
    return key


def _classify(text: str) -> tuple[str, bool]:
    """(kind, nullable) for a field annotation, read from its text without importing.

    Kinds: a plain type checked inline ("str", "datetime", ...), a set of JSON scalar
    types ("scalars:..."), or "hook" for anything that needs a hook (models, unions, lists,
    maps). By the generator's convention an annotation `Name | str` is an open enum (the
    name is a `Literal` alias): any string.
    """
    found = _TEXT_KINDS.get(text)
    if found is not None:
        return found
    parts = _split_union(text)
    nullable = "None" in parts
    rest = [p for p in parts if p not in ("None", "NotGiven")]
    result: tuple[str, bool]
    if not rest:
        result = ("none", True)
    elif len(rest) == 1 and rest[0] in _PRIM_NAMES:
        result = (_PRIM_NAMES[rest[0]], nullable)
    elif all(p in _SCALARS for p in rest):
        allowed: set[type[Any]] = {_SCALARS[p] for p in rest}
        if "float" in rest:
            allowed.add(int)
        result = (_scalar_kind(frozenset(allowed)), nullable)
    elif "str" in rest and all(
        p == "str" or p.startswith("Literal[") or (p.isidentifier() and p not in _PRIM_NAMES)
        for p in rest
    ):
        result = ("str", nullable)
    elif len(rest) == 1 and rest[0].startswith("Literal["):
        import ast

        values = ast.literal_eval("(" + rest[0][len("Literal[") : -1] + ",)")
        kinds: set[type[Any]] = {type(v) for v in values}
        name = _LITERAL_KINDS.get(kinds.pop()) if len(kinds) == 1 else None
        result = (name or "hook", nullable)
    else:
        result = ("hook", nullable)
    _TEXT_KINDS[text] = result
    return result


_SCALARS: dict[str, type[Any]] = {"str": str, "int": int, "float": float, "bool": bool}
_LITERAL_KINDS: dict[type[Any], str] = {str: "str", bool: "bool", int: "int"}


def _classify_type(tp: Any) -> tuple[str, bool]:
    """`_classify` for an annotation that is already a type (resolved, or substituted)."""
    inner, nullable = _strip(tp)
    kind = _KINDS.get(inner)
    if kind is not None:
        return kind, nullable or kind == "none"
    if _is_open_enum(inner):
        return "str", nullable
    if get_origin(inner) is Literal:
        kinds: set[type[Any]] = {type(v) for v in get_args(inner)}
        if len(kinds) == 1:
            name = _LITERAL_KINDS.get(kinds.pop())
            if name is not None:
                return name, nullable
    allowed = _scalar_types(inner)
    if allowed is not None:
        return _scalar_kind(allowed), nullable
    return "hook", nullable


_KINDS: dict[Any, str] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    Any: "any",
    datetime: "datetime",
    date: "date",
    timedelta: "duration",
    _NONE_TYPE: "none",
}

_CHECKS: dict[str, tuple[str, ...]] = {
    "str": ("if type({v}) is not str: raise TypeError({k})",),
    "int": ("if type({v}) is not int: raise TypeError({k})",),
    "float": ("if type({v}) is not float and type({v}) is not int: raise TypeError({k})",),
    "bool": ("if type({v}) is not bool: raise TypeError({k})",),
    "datetime": (
        # 3.11+ reads every ISO 8601 form the API sends; a missing offset means UTC.
        ("{v} = _fromiso({v})", "if {v}.tzinfo is None: {v} = {v}.replace(tzinfo=_utc)")
        if _FROMISOFORMAT_READS_Z
        else ("{v} = _dt({v})",)
    ),
    "date": ("{v} = _date({v})",),
    "duration": ("{v} = _dur({v})",),
    "any": (),
    "none": ("if {v} is not None: raise TypeError({k})",),
}


def _block(lines: tuple[str, ...] | list[str], depth: int, **names: str) -> list[str]:
    pad = "    " * depth
    if not names:  # already-made lines (they may hold braces of their own)
        return [pad + line for line in lines]
    return [pad + line.format(**names) for line in lines]


_COMPILE_AFTER = 32
"""Decodes of a model type that run interpreted before the type is compiled (see _tiered)."""


class _FieldPlan:
    """How to decode one field (plain slotted classes: this module loads with the first
    decode, and defining attrs classes here would cost a good part of that)."""

    __slots__ = ("default", "kind", "name", "nullable", "required", "resolver", "setter", "wire")

    def __init__(
        self,
        name: str,
        wire: str,
        required: bool,
        default: Any,
        kind: str,
        nullable: bool,
        resolver: Callable[[], Any],
        setter: Callable[[Any, Any], None],
    ) -> None:
        self.name = name
        self.wire = wire
        self.required = required
        self.default = default
        self.kind = kind
        self.nullable = nullable
        self.resolver = resolver
        self.setter = setter


class _Plan:
    """How to decode one model."""

    __slots__ = ("cls", "declared", "extra", "fields", "track")

    def __init__(
        self,
        cls: type[Any],
        fields: tuple[_FieldPlan, ...],
        extra: _FieldPlan | None,
        track: bool,  # remember which optional keys an answer left out (response models)
        declared: frozenset[str],
    ) -> None:
        self.cls = cls
        self.fields = fields
        self.extra = extra
        self.track = track
        self.declared = declared


def _absent_setter(plan: _Plan) -> Callable[[Any, dict[str, Any]], None]:
    optional = tuple(f.wire for f in plan.fields if not f.required)

    def set_absent(inst: Any, value: dict[str, Any]) -> None:
        _SET_ABSENT(inst, tuple(k for k in optional if k not in value))

    return set_absent


def _add_note(exc: BaseException, note: str) -> None:
    """`exc.add_note(note)`, also on Python 3.10 (cattrs reads `__notes__` either way)."""
    setattr(exc, "__notes__", [*getattr(exc, "__notes__", []), note])  # noqa: B010


def _explainer(plan: _Plan, hooks: Hooks) -> Hook:
    """Decode with `plan` like `_interpreter`, but go on past bad fields and raise them all.

    The lean paths stop at the first problem and prove nothing; this pass runs after they
    fail, to say what is wrong: a cattrs `ClassValidationError` whose exceptions carry notes
    with the JSON key of each bad field (so `cattrs.transform_error` gives paths like
    `$.items[0].email`). Containers note indexes and keys the same way (`_located`). If
    nothing is wrong after all, the decoded object is returned (and counted in
    `Hooks.fallback_decodes`, which the tests keep at zero).
    """
    interpret = _interpreter(plan, hooks)
    cls = plan.cls

    def explain(value: Any, parent: Any = None) -> Any:
        from cattrs.errors import AttributeValidationNote, ClassValidationError

        if type(value) is not dict:
            raise TypeError(f"expected an object, got {type(value).__name__}")
        data = cast("dict[str, Any]", value)
        errors: list[Exception] = []
        for f in plan.fields:
            try:
                _interpreter_field(plan, hooks, f, data)
            except Exception as exc:
                note = f"Structuring class {cls.__qualname__} @ attribute {f.wire}"
                if isinstance(exc, KeyError):
                    exc = KeyError(f.wire)
                try:
                    expected: Any = f.resolver()
                except Exception:  # an annotation that does not evaluate: say what it reads
                    expected = f.kind
                _add_note(exc, AttributeValidationNote(note, f.wire, expected))
                errors.append(exc)
        if plan.extra is not None:
            hook = hooks.get(plan.extra.resolver())
            for key, item in data.items():
                if key in plan.declared:
                    continue
                try:
                    hook({key: item}, data)
                except Exception:
                    cause: Exception = TypeError(
                        f"unexpected {type(item).__name__} value for an extra key"
                    )
                    value_type = get_args(plan.extra.resolver())[1:] or (Any,)
                    note = f"Structuring class {cls.__qualname__} @ key {key!r}"
                    _add_note(cause, AttributeValidationNote(note, key, value_type[0]))
                    errors.append(cause)
        if errors:
            raise ClassValidationError(f"While structuring {cls.__qualname__}", errors, cls)
        result = interpret(value)
        hooks.fallback_decodes += 1
        return result

    return explain


def _interpreter_field(plan: _Plan, hooks: Hooks, f: _FieldPlan, data: dict[str, Any]) -> None:
    """Decode one field of `data` as the interpreter does (raising what it would)."""
    try:
        v = data[f.wire]
    except KeyError:
        if f.required:
            raise
        return
    if v is None:
        if f.required and not f.nullable and f.kind != "any":
            raise TypeError(f"{f.wire} must not be null")
    elif f.kind == "hook":
        hooks.get(f.resolver())(v, data)
    elif f.kind in _SCALAR_SETS:
        if type(v) not in _SCALAR_SETS[f.kind]:
            raise TypeError(f"unexpected {type(v).__name__} value")
    else:
        _PLAIN_HOOKS[f.kind](v, None)


def _interpreter(plan: _Plan, hooks: Hooks) -> Callable[[Any], Any]:
    """Decode with `plan` directly: the same result as the compiled code, without compiling."""
    cls = plan.cls
    fields = plan.fields
    resolved: list[Hook | None] = [None] * len(fields)
    extra = plan.extra
    extra_hook: list[Hook] = []
    set_absent = _absent_setter(plan) if plan.track else None
    new = object.__new__
    checks = {kind: _PLAIN_HOOKS[kind] for kind in _PLAIN_HOOKS}

    def interpret(value: Any) -> Any:
        if type(value) is not dict:
            raise TypeError(f"expected an object, got {type(value).__name__}")
        data = cast("dict[str, Any]", value)
        inst = new(cls)
        missing = False
        for i, f in enumerate(fields):
            try:
                v = data[f.wire]
            except KeyError:
                if f.required:
                    raise
                v = f.default
                missing = True
            else:
                if v is None:
                    if f.required and not f.nullable and f.kind != "any":
                        raise TypeError(f"{f.wire} must not be null")
                elif f.kind == "hook":
                    hook = resolved[i]
                    if hook is None:
                        hook = resolved[i] = hooks.get(f.resolver())
                    v = hook(v, data)
                elif f.kind in _SCALAR_SETS:
                    if type(v) not in _SCALAR_SETS[f.kind]:
                        raise TypeError(f.wire)
                else:
                    v = checks[f.kind](v, None)
            f.setter(inst, v)
        if extra is not None:
            rest = {k: v for k, v in data.items() if k not in plan.declared}
            if rest:
                if not extra_hook:
                    extra_hook.append(hooks.get(extra.resolver()))
                rest = extra_hook[0](rest, data)
            extra.setter(inst, rest)
        if missing and set_absent is not None:
            set_absent(inst, data)
        return inst

    return interpret


# -- the converter ----------------------------------------------------------------------------


class Hooks:
    """Builds and caches internal hooks; `make_converter` exposes them through cattrs."""

    def __init__(self, lean: bool = True, converter: Converter | None = None) -> None:
        self._converter = converter
        self.lean = lean
        self.cache: dict[Any, Hook] = {}
        self.by_id: dict[int, tuple[Any, Hook]] = {}
        self.fallback_decodes = 0  # answers only cattrs' detailed path decoded (a lean bug)
        self.lock = threading.RLock()
        self.dumpers: dict[type[Any], Callable[[Any], Any]] = {}
        # Where hooks still interpreting (see `_tiered`) are held: id -> (container, key).
        self.holders: dict[int, list[tuple[Any, Any]]] = {}

    @property
    def converter(self) -> Converter:
        """The cattrs converter these hooks answer for (built when first needed)."""
        if self._converter is None:
            with self.lock:
                if self._converter is None:
                    self._converter = _new_converter(self)
        return self._converter

    # structure -------------------------------------------------------------------------
    def get(self, tp: Any) -> Hook:
        """The hook for `tp`, built on first use.

        Looked up by identity first: hashing a generic alias such as
        `ListResource[Customer]` costs more than decoding a small answer.
        """
        entry = self.by_id.get(id(tp))
        if entry is not None and entry[0] is tp:
            return entry[1]
        try:
            hook = self.cache[tp]
        except KeyError:
            with self.lock:
                cached = self.cache.get(tp)
                hook = cached if cached is not None else self._make(tp)
                self.cache[tp] = hook
        except TypeError:  # an unhashable annotation (never generated): no cache
            return self._make(tp)
        if len(self.by_id) >= 4096:  # types made on the fly: keep the table small
            self.by_id.clear()  # (cleared in place: polar_sdk.models reads this very dict)
        self.by_id[id(tp)] = (tp, hook)  # holds `tp`, so its id is not reused
        return hook

    def lazy(self, resolve: Callable[[], Any]) -> Hook:
        """A hook that resolves its type on first use, then forwards to the real hook."""
        box: list[Hook] = []

        def first(value: Any, parent: Any = None) -> Any:
            if not box:
                box.append(self.get(resolve()))
                self.hold(box, 0)
            return box[0](value, parent)

        return first

    def stub(self, namespace: dict[str, Any], name: str, resolve: Callable[[], Any]) -> Hook:
        """Like `lazy`, for compiled code: the real hook replaces the stub in `namespace`."""

        def first(value: Any, parent: Any = None) -> Any:
            hook = self.get(resolve())
            namespace[name] = hook
            self.hold(namespace, name)
            return hook(value, parent)

        return first

    def hold(self, container: Any, key: Any) -> None:
        """Note that `container[key]` holds a hook, so that its compiled form replaces it.

        A model's hook forwards to its compiled function once it has one (`_tiered`); the
        places that keep the hook itself get the compiled function instead, one call less
        per decode.
        """
        hook = container[key]
        compiled: list[Hook] | None = getattr(hook, "polar_compiled", None)
        if compiled is None:
            return
        with self.lock:
            if compiled:
                container[key] = compiled[0]
            else:
                self.holders.setdefault(id(hook), []).append((container, key))

    def _make(self, tp: Any) -> Hook:
        if isinstance(tp, ForwardRef):
            text = tp.__forward_arg__
            return self.lazy(lambda: eval(text, {}, _NAMES))
        if isinstance(tp, str):
            return self.lazy(lambda: eval(tp, {}, _NAMES))
        kind = _KINDS.get(tp)
        if kind is not None:
            return _PLAIN_HOOKS[kind]
        inner, nullable = _strip(tp)  # `X | None` first: null is not a union member
        if inner is tp:
            fallback = _fallback_of(tp)
            if fallback is not None:
                return self._union(tp, fallback)
        else:
            if not nullable:
                return self.get(inner)
            box: list[Hook] = []

            def optional(value: Any, parent: Any = None) -> Any:
                if value is None:
                    return None
                if not box:
                    box.append(self.get(inner))
                return box[0](value, parent)

            return optional
        if _is_open_enum(tp):
            return _PLAIN_HOOKS["str"]
        origin = get_origin(tp)
        if origin is Literal:
            return _literal_hook(tp)
        if _union_args(tp) is not None:
            return self._either(tp)
        if _is_model(tp):
            return self._model(tp)
        if origin in (list, tuple, dict) or tp in (list, dict):
            return self._container(tp)
        raise TypeError(f"polar_sdk's converter cannot structure {tp!r}")

    def _container(self, tp: Any) -> Hook:
        origin = get_origin(tp) or tp
        args = get_args(tp)
        if origin is list:
            item = args[0] if args else Any
            item_allowed = _scalar_types(item)
            if item_allowed is not None:

                def list_of_scalars(value: Any, parent: Any = None) -> Any:
                    if value.__class__ is not list:
                        raise TypeError(f"expected a list, got {type(value).__name__}")
                    items_: list[Any] = value
                    if not item_allowed.issuperset(map(type, items_)):
                        raise _located(_scalar_hook(item_allowed), enumerate(items_), tp)
                    return items_

                return list_of_scalars
            item_box: list[Hook] = []

            def items(value: Any, parent: Any = None) -> Any:
                if value.__class__ is not list:
                    raise TypeError(f"expected a list, got {type(value).__name__}")
                if not item_box:
                    item_box.append(self.get(item))
                    self.hold(item_box, 0)
                hook = item_box[0]
                values: list[Any] = value
                try:
                    return [hook(x, None) for x in values]
                except Exception:
                    raise _located(hook, enumerate(values), tp) from None

            return items
        if origin is tuple:
            if all(_scalar_types(a) == frozenset({str}) for a in args):
                size = len(args)

                def text_pair(value: Any, parent: Any = None) -> Any:
                    if (
                        type(value) not in (list, tuple)
                        or len(value) != size
                        or not all(type(x) is str for x in value)
                    ):
                        raise TypeError(f"expected a list of {size} strings")
                    return tuple(value)

                return text_pair
            hooks = [self.lazy(functools.partial(_same, a)) for a in args]

            def fixed(value: Any, parent: Any = None) -> Any:
                if type(value) not in (list, tuple) or len(value) != len(hooks):
                    raise TypeError(f"expected a list of {len(hooks)} items")
                return tuple(h(x, None) for h, x in zip(hooks, value, strict=False))

            return fixed
        value_type = args[1] if len(args) == 2 else Any
        allowed = _scalar_types(value_type)
        if allowed is not None:

            def scalars(value: Any, parent: Any = None) -> Any:
                if type(value) is not dict:
                    raise TypeError(f"expected an object, got {type(value).__name__}")
                mapping = cast("dict[str, Any]", value)
                if not allowed.issuperset(map(type, mapping.values())):
                    raise _located(_scalar_hook(allowed), mapping.items(), tp)
                return mapping

            return scalars
        if value_type is Any:

            def mapping(value: Any, parent: Any = None) -> Any:
                if type(value) is not dict:
                    raise TypeError(f"expected an object, got {type(value).__name__}")
                return cast("dict[str, Any]", value)

            return mapping
        value_box: list[Hook] = []

        def values(value: Any, parent: Any = None) -> Any:
            if type(value) is not dict:
                raise TypeError(f"expected an object, got {type(value).__name__}")
            if not value_box:
                value_box.append(self.get(value_type))
            hook = value_box[0]
            mapping = cast("dict[str, Any]", value)
            try:
                return {k: hook(v, None) for k, v in mapping.items()}
            except Exception:
                raise _located(hook, mapping.items(), tp) from None

        return values

    def _either(self, tp: Any) -> Hook:
        """A union of plain types, decided by the JSON type of the value."""
        args = [a for a in get_args(tp) if a is not _NONE_TYPE and a is not NotGiven]
        nullable = _NONE_TYPE in get_args(tp)
        literals: set[Any] = set()
        by_type: dict[type, Hook] = {}
        for arg in args:
            if get_origin(arg) is Literal:
                literals.update(get_args(arg))
            elif arg is str or arg is int or arg is float or arg is bool:
                by_type.setdefault(arg, _identity)
                if arg is float:
                    by_type.setdefault(int, _identity)
            elif arg in (datetime, date, timedelta):
                by_type.setdefault(str, self.get(arg))
            elif get_origin(arg) in (list, tuple) or arg is list:
                by_type.setdefault(list, self.get(arg))
            elif get_origin(arg) is dict or arg is dict or _is_model(arg):
                by_type.setdefault(dict, self.get(arg))
            elif arg is Any:
                return _identity
            else:
                raise TypeError(f"polar_sdk's converter cannot structure {tp!r}")

        def either(value: Any, parent: Any = None) -> Any:
            if value is None:
                if nullable:
                    return None
                raise TypeError("null is not allowed here")
            kind: type[Any] = value.__class__
            if literals and kind is not dict and kind is not list and value in literals:
                return value
            hook = by_type.get(kind)
            if hook is None:
                raise TypeError(f"unexpected {kind.__name__} value")
            return hook(value, parent)

        return either

    def _union(self, tp: Any, fallback: type[UnknownModel]) -> Hook:
        spec = fallback.__polar_union__
        lifted = spec.lifted

        def unknown(value: dict[str, Any], parent: Any = None) -> Any:
            fields = {name: _text_or_none(value.get(wire)) for name, wire in lifted}
            made: Any = fallback(raw=dict(value), **fields)  # type: ignore[call-arg]
            return made

        def leaf(target: Any) -> Hook:
            """The hook of a rule's leaf: a member class, a member's source text, or None."""
            if target is None:
                return unknown
            box: list[Hook] = []

            def pick(value: Any, parent: Any = None) -> Any:
                if not box:
                    resolved = (
                        _evaluate_leaf(target, fallback) if isinstance(target, str) else target
                    )
                    box.append(self.get(resolved))
                return box[0](value, None)

            return pick

        def compile_rule(rule: Any) -> Hook:
            if isinstance(rule, TagRule):
                return by_tag(rule)
            if isinstance(rule, KeyRule):
                return by_key(rule)
            return leaf(rule)

        def by_tag(rule: TagRule) -> Hook:
            cases = {value: compile_rule(sub) for value, sub in rule.cases.items()}
            default = compile_rule(rule.default)
            absent = compile_rule(rule.absent) if rule.absent is not None else default
            from_parent = rule.path[0] == ".."
            path = rule.path[1:] if from_parent else rule.path
            if len(path) == 1 and not from_parent:
                key = path[0]

                def by_top_tag(value: Any, parent: Any = None) -> Any:
                    found = value.get(key, _ABSENT)
                    if found is _ABSENT:
                        return absent(value, parent)
                    try:
                        chosen = cases.get(found, default)
                    except TypeError:  # an unhashable tag value
                        chosen = default
                    return chosen(value, parent)

                return by_top_tag

            def by_path(value: Any, parent: Any = None) -> Any:
                found: Any = parent if from_parent else value
                for key in path:
                    found = _get(found, key)
                if found is _ABSENT:
                    return absent(value, parent)
                try:
                    chosen = cases.get(found, default)
                except TypeError:
                    chosen = default
                return chosen(value, parent)

            return by_path

        def by_key(rule: KeyRule) -> Hook:
            present = compile_rule(rule.present)
            missing = compile_rule(rule.absent)
            path = rule.path

            def decide(value: Any, parent: Any = None) -> Any:
                found: Any = value
                for key in path:
                    if type(found) is not dict or key not in cast("dict[str, Any]", found):
                        return missing(value, parent)
                    found = cast("dict[str, Any]", found)[key]
                return present(value, parent)

            return decide

        decide = compile_rule(spec.rule)
        rule = spec.rule
        if not (
            isinstance(rule, TagRule)
            and len(rule.path) == 1
            and rule.path[0] != ".."
            and all(not isinstance(r, (TagRule, KeyRule)) for r in rule.cases.values())
        ):

            def structure_union(value: Any, parent: Any = None) -> Any:
                if type(value) is not dict:
                    raise TypeError(f"expected an object, got {type(value).__name__}")
                return decide(value, parent)

            return structure_union

        # The common case, one tag whose values name members: a table from tag value to
        # the member's hook, filled as each value is first seen.
        key = rule.path[0]
        targets = dict(rule.cases)
        table: dict[Any, Hook] = {}

        def structure_tagged(value: Any, parent: Any = None) -> Any:
            if type(value) is not dict:
                raise TypeError(f"expected an object, got {type(value).__name__}")
            found = cast("dict[str, Any]", value).get(key, _ABSENT)
            try:
                return table[found](value, None)
            except (KeyError, TypeError):
                pass
            target = targets.get(found) if isinstance(found, (str, int, bool)) else None
            if target is None:
                return decide(value, parent)
            resolved = _evaluate_leaf(target, fallback) if isinstance(target, str) else target
            hook = table[found] = self.get(resolved)
            self.hold(table, found)
            return hook(value, None)

        return structure_tagged

    def _model(self, tp: Any) -> Hook:
        cls = _model_class(tp)
        if issubclass(cls, UnknownModel):

            def raw(value: Any, parent: Any = None) -> Any:
                if type(value) is not dict:
                    raise TypeError(f"expected an object, got {type(value).__name__}")
                factory: Any = cls
                return factory(raw=dict(cast("dict[str, Any]", value)))

            return raw
        detailed_box: list[Callable[[Any, Any], Any]] = []

        def detailed(value: Any, parent: Any = None) -> Any:
            if not detailed_box:
                detailed_box.append(self.detailed(tp))
            return detailed_box[0](value, tp)

        if not self.lean:
            return detailed
        plan = self._plan(tp, cls)
        return self._tiered(tp, plan, _explainer(plan, self))

    def detailed(self, tp: Any) -> Callable[[Any, Any], Any]:
        """cattrs' own generated hook for a model, with every field type resolved.

        Only for `make_converter(lean=False)`, which decodes everything this way (to compare
        the lean paths with cattrs). Fields with another wire name are read from it; the
        `extra` field is left to its default (cattrs cannot collect unknown keys).
        """
        from cattrs.gen import make_dict_structure_fn, override

        cls = _model_class(tp)
        self.resolve(cls)
        overrides: dict[str, Any] = {}
        for a in attrs.fields(cls):
            if a.name == "extra" and isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
                overrides[a.name] = override(omit=True)
            elif "wire" in a.metadata:
                overrides[a.name] = override(rename=a.metadata["wire"])
        made: Callable[[Any, Any], Any] = make_dict_structure_fn(
            tp, self.converter, _cattrs_detailed_validation=True, **overrides
        )
        return made

    @staticmethod
    def resolve(model: type[Any]) -> None:
        """Evaluate the annotations of `model` (for cattrs, which wants real types)."""
        if getattr(model, "__polar_resolved__", None) is model:
            return
        # Each class's annotations are evaluated in its own module (typing does that when no
        # globals are given); names from other model modules come from _NAMES.
        attrs.resolve_types(model, localns=_NAMES)  # type: ignore[arg-type]
        model.__polar_resolved__ = model

    def _plan(self, tp: Any, cls: type[Any]) -> _Plan:
        """What decoding `cls` needs to know about each field, worked out once."""
        typevars = _typevars(tp)
        fields: list[_FieldPlan] = []
        extra: _FieldPlan | None = None
        for a in attrs.fields(cls):
            resolver = self._field_resolver(cls, a, typevars)
            setter = cls.__dict__[a.name].__set__
            if a.name == "extra" and isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
                extra = _FieldPlan(a.name, "extra", False, None, "hook", False, resolver, setter)
                continue
            wire: str = a.metadata.get("wire", a.name)
            if isinstance(a.type, str) and not typevars:
                kind, nullable = _classify(a.type)
            else:
                full = _substitute(a.type, typevars) if typevars else a.type
                kind, nullable = _classify_type(full)
            required = a.default is attrs.NOTHING
            default = None if required else a.default
            if required and nullable and issubclass(cls, RequestModel):
                # A model requests share: an answer that leaves the field out decodes to
                # NOT_GIVEN (and unstructures without it), as the annotation allows.
                required, default = False, NOT_GIVEN
            fields.append(
                _FieldPlan(a.name, wire, required, default, kind, nullable, resolver, setter)
            )
        request = issubclass(cls, RequestModel)
        track = not request and any(not f.required for f in fields)
        return _Plan(cls, tuple(fields), extra, track, frozenset(f.wire for f in fields))

    def _tiered(self, tp: Any, plan: _Plan, fallback: Hook) -> Hook:
        """A model's hook: interpreted from its plan at first, compiled once it is used often.

        Compiling costs about 20 us per field; interpreting costs about 0.3 us per field more
        than compiled code on every decode (Checkout: 38 us against 19 us). So the first
        decodes of a type (and every decode of a type that stays rare) run the plan directly,
        and the type is compiled on its `_COMPILE_AFTER`th decode, when what interpreting
        has cost by then is of the order of what compiling costs once. References to this
        hook keep working after that: it forwards to the compiled function, and the cache
        hands out that one.
        """
        interpret = _interpreter(plan, self)
        compiled: list[Hook] = []
        calls = [0]

        def structure_model(value: Any, parent: Any = None) -> Any:
            if compiled:
                return compiled[0](value, parent)
            calls[0] += 1
            if calls[0] >= _COMPILE_AFTER:
                with self.lock:
                    if not compiled:
                        compiled.append(self._compile(plan, fallback))
                        self._promote(tp, structure_model, compiled[0])
                return compiled[0](value, parent)
            try:
                return interpret(value)
            except Exception:  # the detailed pass reports the problem (or decodes it)
                return fallback(value, None)

        structure_model.polar_compiled = compiled  # type: ignore[attr-defined]  # for hold()
        return structure_model

    def _promote(self, tp: Any, old: Hook, new: Hook) -> None:
        if self.cache.get(tp) is old:
            self.cache[tp] = new
        entry = self.by_id.get(id(tp))
        if entry is not None and entry[1] is old:
            self.by_id[id(tp)] = (tp, new)
        for container, key in self.holders.pop(id(old), ()):
            if container[key] is old:
                container[key] = new

    def _compile(self, plan: _Plan, fallback: Hook, *, sparse: bool = False) -> Hook:
        """The compiled structure function of a model (see `_tiered`).

        Two variants: the usual one reads each key with `o[key]` inside `try`, which costs
        nothing while keys are there; an object with fewer keys than the model has fields
        goes to the `sparse` variant instead (compiled when first needed), which reads with
        `o.get()` so that many absent keys do not each raise and catch a KeyError.
        """
        cls = plan.cls
        namespace: dict[str, Any] = {
            "_cls": cls,
            "_A": _ABSENT,
            "_dt": parse_datetime,
            "_fromiso": datetime.fromisoformat,
            "_utc": timezone.utc,
            "_date": parse_date,
            "_dur": parse_duration,
            "_new": object.__new__,
            "_absent": _absent_setter(plan),
            "_fallback": fallback,
            "TypeError": TypeError,
        }
        # Anything but an object fails on the first `o[key]` (or `len`/`get`) and goes to the
        # fallback, which says what is wrong; only a model with no required field needs the
        # check spelled out.
        body: list[str] = []
        if not any(f.required for f in plan.fields):
            body.append("if type(o) is not dict: raise TypeError('expected an object')")
        optional = [f for f in plan.fields if not f.required]
        if optional and not sparse:
            namespace["_sparse"] = self._sparse_stub(namespace, plan, fallback)
            body.append(f"if len(o) < {len(plan.fields)}: return _sparse(o)")
        if plan.track:
            body.append("miss = 0")
        assignments: list[tuple[str, str]] = []
        for i, f in enumerate(plan.fields):
            v, k = f"v{i}", repr(f.wire)
            if f.kind == "hook":
                hook = f"h{i}"
                namespace[hook] = self.stub(namespace, hook, f.resolver)
                convert = [f"{{v}} = {hook}({{v}}, o)"]
            elif f.kind in _SCALAR_SETS:
                namespace[f"t{i}"] = _SCALAR_SETS[f.kind]
                convert = [f"if type({{v}}) not in t{i}: raise TypeError({{k}})"]
            else:
                convert = list(_CHECKS[f.kind])
            if len(convert) == 1 and convert[0].startswith("if "):
                guarded = [f"if {v} is not None and " + convert[0][3:].format(v=v, k=k)]
            elif convert:
                guarded = [f"if {v} is not None:", *_block(convert, 1, v=v, k=k)]
            else:
                guarded = []
            if f.required:
                body.append(f"{v} = o[{k}]")
                body += guarded if f.nullable else _block(convert, 0, v=v, k=k)
            elif sparse:
                namespace[f"d{i}"] = f.default
                body += [f"{v} = o.get({k}, _A)", f"if {v} is _A:", f"    {v} = d{i}"]
                if plan.track:
                    body.append("    miss = 1")
                if guarded:
                    body += ["else:", *_block(guarded, 1)]
            else:
                namespace[f"d{i}"] = f.default
                flag = "; miss = 1" if plan.track else ""
                body += [f"try: {v} = o[{k}]", f"except KeyError: {v} = d{i}{flag}"]
                if guarded:
                    body += ["else:", *_block(guarded, 1)]
            assignments.append((f.name, v))
        if plan.extra is not None:
            namespace["_declared"] = plan.declared
            namespace["hx"] = self.stub(namespace, "hx", plan.extra.resolver)
            body.append("ex = {key: val for key, val in o.items() if key not in _declared}")
            body.append("if ex: ex = hx(ex, o)")
            assignments.append(("extra", "ex"))
        # Decoding sets the slots directly: no validators (those are for what callers
        # build), and no attrs __init__ call.
        body.append("inst = _new(_cls)")
        for name, v in assignments:
            setter = f"s_{name}"
            namespace[setter] = cls.__dict__[name].__set__
            body.append(f"{setter}(inst, {v})")
        if plan.track:
            body.append("if miss: _absent(inst, o)")
        body.append("return inst")
        lines = [
            "def structure(o, p=None):",
            "    try:",
            *_block(body, 2),
            "    except Exception:",  # the detailed pass reports the problem (or decodes it)
            "        return _fallback(o)",
        ]
        name = f"<polar_sdk structure {cls.__qualname__}{' (sparse)' if sparse else ''}>"
        code = compile("\n".join(lines), name, "exec")
        exec(code, namespace)
        function: Hook = namespace["structure"]
        return function

    def _sparse_stub(
        self, namespace: dict[str, Any], plan: _Plan, fallback: Hook
    ) -> Callable[[Any], Any]:
        def first(value: Any) -> Any:
            with self.lock:
                function = self._compile(plan, fallback, sparse=True)
            namespace["_sparse"] = function
            return function(value, None)

        return first

    @staticmethod
    def _field_resolver(
        model: type[Any], a: attrs.Attribute[Any], typevars: Mapping[Any, Any]
    ) -> Callable[[], Any]:
        def resolve() -> Any:
            if isinstance(a.type, str):
                full = _evaluate(a.type, model, typevars)
            else:
                full = _substitute(a.type, typevars) if typevars else a.type
            return _strip(full)[0]  # the compiled code handles None and absence itself

        return resolve

    # unstructure ---------------------------------------------------------------------
    def dump(self, value: Any) -> Any:
        """JSON-ready data for any value a model can hold."""
        kind: type[Any] = value.__class__
        if kind in _SIMPLE:
            return value
        dumper = self.dumpers.get(kind)
        if dumper is None:
            dumper = self.dumpers[kind] = self._dumper(kind)
        return dumper(value)

    def _dumper(self, kind: type[Any]) -> Callable[[Any], Any]:
        dump = self.dump
        if issubclass(kind, datetime):
            return format_datetime
        if issubclass(kind, date):
            return date.isoformat
        if issubclass(kind, timedelta):
            return format_duration
        if issubclass(kind, (list, tuple)):
            return lambda value: [dump(x) for x in value]
        if issubclass(kind, dict):
            return lambda value: {k: dump(v) for k, v in value.items()}
        if issubclass(kind, UnknownModel):
            return lambda value: dict(value.raw)
        if issubclass(kind, ModelBase) and attrs.has(kind):
            return self._compile_dump(kind)
        if kind is NotGiven:
            return lambda value: None
        return self.converter.unstructure

    def _compile_dump(self, cls: type[Any]) -> Callable[[Any], Any]:
        request = issubclass(cls, RequestModel)
        fields = [
            (a.name, a.metadata.get("wire", a.name))
            for a in attrs.fields(cls)
            if not (a.name == "extra" and hasattr(a.default, "factory"))
        ]
        has_extra = any(
            a.name == "extra" and hasattr(a.default, "factory") for a in attrs.fields(cls)
        )
        namespace: dict[str, Any] = {"_d": self.dump, "_S": _SIMPLE, "_NG": NOT_GIVEN}
        lines = ["def unstructure(obj):", "    out = {}"]
        if not request:
            lines.append("    ab = getattr(obj, '_polar_absent', ())")
        for i, (name, wire) in enumerate(fields):
            v = f"v{i}"
            k = repr(wire)
            lines.append(f"    {v} = obj.{name}")
            if request:
                lines.append(f"    if {v} is not _NG:")
            else:
                lines.append(f"    if not ab or {k} not in ab:")
            lines.append(f"        out[{k}] = {v} if type({v}) in _S else _d({v})")
        if has_extra:
            lines.append("    for key, val in obj.extra.items():")
            lines.append(
                "        if key not in out: out[key] = val if type(val) in _S else _d(val)"
            )
        lines.append("    return out")
        code = compile("\n".join(lines), f"<polar_sdk unstructure {cls.__qualname__}>", "exec")
        exec(code, namespace)
        function: Callable[[Any], Any] = namespace["unstructure"]
        return function


def _scalar_types(tp: Any) -> frozenset[type[Any]] | None:
    """The JSON value types a plain scalar type (or union of them) admits; None otherwise.

    Values of these types are kept as they are, so containers of them are only checked.
    """
    if _is_open_enum(tp):  # `Literal[...] | str`: any string
        return frozenset({str})
    args = _union_args(tp)
    members = args if args is not None else (tp,)
    allowed: set[type[Any]] = set()
    for member in members:
        if member is str or member is bool or member is int or member is _NONE_TYPE:
            allowed.add(member)
        elif member is float:
            allowed.update((float, int))
        elif _is_open_enum(member):
            allowed.add(str)
        else:
            return None
    return frozenset(allowed)


def _get(found: Any, key: str) -> Any:
    """`found[key]`, or the absent marker when `found` is not an object or has no `key`."""
    if type(found) is not dict:
        return _ABSENT
    return cast("dict[str, Any]", found).get(key, _ABSENT)


def _scalar_hook(allowed: frozenset[type[Any]]) -> Hook:
    def check(value: Any, parent: Any = None) -> Any:
        if type(value) not in allowed:
            names = " | ".join(sorted(t.__name__ for t in allowed))
            raise TypeError(f"expected {names}, got {type(value).__name__}")
        return value

    return check


def _located(hook: Hook, items: Iterable[tuple[Any, Any]], tp: Any) -> Exception:
    """The error of a container's items, each noted with its index or key (for the path)."""
    from cattrs.errors import IterableValidationError, IterableValidationNote

    errors: list[Exception] = []
    for where, item in items:
        try:
            hook(item, None)
        except Exception as exc:
            _add_note(exc, IterableValidationNote(f"Structuring {tp} @ index {where!r}", where, tp))
            errors.append(exc)
    return IterableValidationError(f"While structuring {tp}", errors, tp)


def _same(value: Any) -> Any:
    return value


def _calling(parse: Callable[[Any], Any]) -> Hook:
    def hook(value: Any, parent: Any = None) -> Any:
        return parse(value)

    return hook


def _call_plain(hook: Hook, value: Any, _type: Any) -> Any:
    return hook(value, None)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _identity(value: Any, parent: Any = None) -> Any:
    return value


def _check_type(expected: type, what: str) -> Hook:
    def check(value: Any, parent: Any = None) -> Any:
        if type(value) is not expected:
            raise TypeError(f"expected {what}, got {type(value).__name__}")
        return value

    return check


def _float(value: Any, parent: Any = None) -> Any:
    if type(value) is not float and type(value) is not int:
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return value


def _none(value: Any, parent: Any = None) -> Any:
    if value is not None:
        raise TypeError(f"expected null, got {type(value).__name__}")
    return value


_PLAIN_HOOKS: dict[str, Hook] = {
    "str": _check_type(str, "a string"),
    "int": _check_type(int, "an integer"),
    "float": _float,
    "bool": _check_type(bool, "true or false"),
    "any": _identity,
    "datetime": _calling(parse_datetime),
    "date": _calling(parse_date),
    "duration": _calling(parse_duration),
    "none": _none,
}


def _literal_hook(tp: Any) -> Hook:
    value_types: set[type[Any]] = {type(v) for v in get_args(tp)}

    def literal(value: Any, parent: Any = None) -> Any:
        if type(value) not in value_types:
            raise TypeError(f"expected one of {get_args(tp)!r}, got {type(value).__name__}")
        return value

    return literal


def _is_handled(tp: Any) -> bool:
    """Types whose structuring the SDK's hooks own (everything a generated model holds)."""
    if tp in _KINDS or isinstance(tp, (str, ForwardRef)):
        return True
    if _is_model(tp) or _fallback_of(tp) is not None or _is_open_enum(tp):
        return True
    origin = get_origin(tp)
    return origin in (list, tuple, dict, Literal) or _union_args(tp) is not None


def _new_converter(hooks: Hooks) -> Converter:
    """A cattrs `Converter` that structures and unstructures through `hooks`."""
    from cattrs import Converter

    converter = Converter()

    def structure_factory(tp: Any) -> Callable[[Any, Any], Any]:
        hook = hooks.get(tp)
        if _is_model(tp):
            return hook  # compiled model hooks ignore their second argument
        return lambda value, _type: hook(value, None)

    converter.register_structure_hook_factory(_is_handled, structure_factory)
    # cattrs dispatches these exact types before any factory (and would read "false" as
    # True): register the strict hooks for them directly.
    for plain, kind in _KINDS.items():
        if isinstance(plain, type) and plain is not _NONE_TYPE:
            plain_hook = _PLAIN_HOOKS[kind]
            converter.register_structure_hook(plain, functools.partial(_call_plain, plain_hook))
    converter.register_unstructure_hook(datetime, format_datetime)
    converter.register_unstructure_hook(date, date.isoformat)
    converter.register_unstructure_hook(timedelta, format_duration)
    converter.register_unstructure_hook(NotGiven, lambda _value: None)

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
        if issubclass(cls, UnknownModel):
            return lambda value: dict(value.raw)
        return hooks._compile_dump(cls)  # pyright: ignore[reportPrivateUsage]

    converter.register_unstructure_hook_factory(
        lambda cls: isinstance(cls, type) and issubclass(cls, ModelBase) and attrs.has(cls),
        unstructure_factory,
    )
    return converter


def make_converter(*, lean: bool = True) -> Converter:
    """A new cattrs converter configured for Polar models (with hooks of its own).

    `lean=False` decodes every model with cattrs' detailed hooks only (for comparisons).
    """
    return Hooks(lean).converter


_shared: list[Hooks] = []
_shared_lock = threading.Lock()


def hooks() -> Hooks:
    """The SDK's shared hooks. Decoding through them never imports cattrs unless an answer
    fails to decode (cattrs then explains why)."""
    if not _shared:
        with _shared_lock:
            if not _shared:
                _shared.append(Hooks())
    return _shared[0]


def converter() -> Converter:
    """The SDK's shared cattrs converter (over the shared hooks), built on first use."""
    return hooks().converter
