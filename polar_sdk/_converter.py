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

import re
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, ForwardRef, Literal, TypeVar, Union, get_args, get_origin

import attrs
from cattrs import Converter

from ._types import NOT_GIVEN, NotGiven
from .models._base import (
    KeyRule,
    RequestModel,
    ResponseModel,
    TagRule,
    UnknownModel,
    _Model,
)

__all__ = ["PolarConverter", "converter", "make_converter"]

Hook = Callable[[Any, Any], Any]
"""An internal structure hook: (value, the object holding it or None) -> Python value."""

_NONE_TYPE = type(None)
_UNION_ORIGINS = (Union, types.UnionType)
_ABSENT: Any = object()
_SET_ABSENT = ResponseModel._polar_absent.__set__  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownVariableType]
_SIMPLE = (str, int, float, bool, _NONE_TYPE)

# -- values --------------------------------------------------------------------------------

_FRACTION = re.compile(r"\.(\d+)")
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
            text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
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
_DURATION = re.compile(
    r"(?P<sign>-)?P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


def parse_duration(value: Any) -> timedelta:
    """An ISO 8601 duration (or a number of seconds) as a `timedelta`."""
    if type(value) in (int, float):
        return timedelta(seconds=value)
    if type(value) is not str:
        raise TypeError(f"expected an ISO 8601 duration string, got {type(value).__name__}")
    match = _DURATION.fullmatch(value)
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
    return isinstance(cls, type) and issubclass(cls, _Model) and attrs.has(cls)


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


def _plain_kind(text: str, cls: type[Any]) -> tuple[str, Any, bool] | None:
    """Classify an annotation without importing anything.

    ("str", str, nullable) for a plain type checked inline; None when the annotation names
    anything else (a model of another module, a list, ...), whose hook is found lazily.
    """
    module = sys.modules[cls.__module__]
    try:
        tp = eval(text, vars(module))
    except Exception:  # a model of another module: decided lazily
        return None
    inner, nullable = _strip(tp)
    kind = _KINDS.get(inner)
    if kind is not None:
        return kind, inner, nullable
    if _is_open_enum(inner):
        return "str", inner, nullable
    if get_origin(inner) is Literal:
        value_types = {type(v) for v in get_args(inner)}
        for value_type, name in ((str, "str"), (bool, "bool"), (int, "int")):
            if value_types == {value_type}:
                return name, inner, nullable
    return None


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

_CHECKS = {
    "str": "    if type({v}) is not str: raise TypeError({k})",
    "int": "    if type({v}) is not int: raise TypeError({k})",
    "float": "    if type({v}) is not float and type({v}) is not int: raise TypeError({k})",
    "bool": "    if type({v}) is not bool: raise TypeError({k})",
    "datetime": "    {v} = _dt({v})",
    "date": "    {v} = _date({v})",
    "duration": "    {v} = _dur({v})",
    "any": "",
    "none": "    if {v} is not None: raise TypeError({k})",
}


def _indent(line: str, depth: int) -> str:
    return "    " * depth + line


# -- the converter ----------------------------------------------------------------------------


class _Hooks:
    """Builds and caches internal hooks; `make_converter` exposes them through cattrs."""

    def __init__(self, converter: Converter, lean: bool) -> None:
        self.converter = converter
        self.lean = lean
        self.cache: dict[Any, Hook] = {}
        self.lock = threading.RLock()
        self.dumpers: dict[type[Any], Callable[[Any], Any]] = {}

    # structure -------------------------------------------------------------------------
    def get(self, tp: Any) -> Hook:
        try:
            return self.cache[tp]
        except KeyError:
            pass
        except TypeError:  # an unhashable annotation (never generated): no cache
            return self._make(tp)
        with self.lock:
            hook = self.cache.get(tp)
            if hook is None:
                hook = self.cache[tp] = self._make(tp)
            return hook

    def lazy(self, resolve: Callable[[], Any]) -> Hook:
        """A hook that resolves its type on first use, then forwards to the real hook."""
        box: list[Hook] = []

        def first(value: Any, parent: Any = None) -> Any:
            if not box:
                box.append(self.get(resolve()))
            return box[0](value, parent)

        return first

    def _make(self, tp: Any) -> Hook:
        if isinstance(tp, ForwardRef):
            text = tp.__forward_arg__
            return self.lazy(lambda: eval(text, {}, _NAMES))
        if isinstance(tp, str):
            return self.lazy(lambda: eval(tp, {}, _NAMES))
        kind = _KINDS.get(tp)
        if kind is not None:
            return _PLAIN_HOOKS[kind]
        fallback = _fallback_of(tp)
        if fallback is not None:
            return self._union(tp, fallback)
        inner, nullable = _strip(tp)
        if inner is not tp:
            inner_hook = self.lazy(lambda: inner)
            if not nullable:
                return inner_hook

            def optional(value: Any, parent: Any = None) -> Any:
                return None if value is None else inner_hook(value, parent)

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
            kind = _KINDS.get(item)
            if kind == "str":

                def strings(value: Any, parent: Any = None) -> Any:
                    if type(value) is not list or not all(type(x) is str for x in value):
                        raise TypeError("expected a list of strings")
                    return value

                return strings
            item_hook = self.lazy(lambda: item)

            def items(value: Any, parent: Any = None) -> Any:
                if type(value) is not list:
                    raise TypeError(f"expected a list, got {type(value).__name__}")
                return [item_hook(x, None) for x in value]

            return items
        if origin is tuple:
            hooks = [self.lazy(lambda a=a: a) for a in args]

            def fixed(value: Any, parent: Any = None) -> Any:
                if type(value) not in (list, tuple) or len(value) != len(hooks):
                    raise TypeError(f"expected a list of {len(hooks)} items")
                return tuple(h(x, None) for h, x in zip(hooks, value, strict=False))

            return fixed
        value_type = args[1] if len(args) == 2 else Any
        if value_type is Any:

            def mapping(value: Any, parent: Any = None) -> Any:
                if type(value) is not dict:
                    raise TypeError(f"expected an object, got {type(value).__name__}")
                return value

            return mapping
        value_hook = self.lazy(lambda: value_type)

        def values(value: Any, parent: Any = None) -> Any:
            if type(value) is not dict:
                raise TypeError(f"expected an object, got {type(value).__name__}")
            return {k: value_hook(v, None) for k, v in value.items()}

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
            if (
                literals
                and type(value) is not dict
                and type(value) is not list
                and value in literals
            ):
                return value
            hook = by_type.get(type(value))
            if hook is None:
                raise TypeError(f"unexpected {type(value).__name__} value")
            return hook(value, parent)

        return either

    def _union(self, tp: Any, fallback: type[UnknownModel]) -> Hook:
        spec = fallback.__polar_union__
        lifted = spec.lifted
        leaf_hooks: dict[int, Hook] = {}

        def unknown(value: dict[str, Any]) -> Any:
            fields = {
                name: value.get(wire) if isinstance(value.get(wire), str) else None
                for name, wire in lifted
            }
            return fallback(raw=dict(value), **fields)

        def leaf(target: Any) -> Callable[[dict[str, Any], Any], Any]:
            if target is None:
                return lambda value, parent: unknown(value)
            key = id(target)

            def pick(value: dict[str, Any], parent: Any) -> Any:
                hook = leaf_hooks.get(key)
                if hook is None:
                    resolved = (
                        _evaluate_leaf(target, fallback) if isinstance(target, str) else target
                    )
                    hook = leaf_hooks[key] = self.get(resolved)
                return hook(value, None)

            return pick

        def compile_rule(rule: Any) -> Callable[[dict[str, Any], Any], Any]:
            if isinstance(rule, TagRule):
                cases = {value: compile_rule(sub) for value, sub in rule.cases.items()}
                default = compile_rule(rule.default)
                absent = compile_rule(rule.absent) if rule.absent is not None else default
                from_parent = rule.path[0] == ".."
                path = rule.path[1:] if from_parent else rule.path

                def by_tag(value: dict[str, Any], parent: Any) -> Any:
                    found: Any = parent if from_parent else value
                    for key in path:
                        found = found.get(key, _ABSENT) if type(found) is dict else _ABSENT
                    if found is _ABSENT:
                        return absent(value, parent)
                    try:
                        chosen = cases.get(found, default)
                    except TypeError:  # an unhashable tag value
                        chosen = default
                    return chosen(value, parent)

                return by_tag
            if isinstance(rule, KeyRule):
                present = compile_rule(rule.present)
                missing = compile_rule(rule.absent)
                path = rule.path

                def by_key(value: dict[str, Any], parent: Any) -> Any:
                    found: Any = value
                    for key in path:
                        if type(found) is not dict or key not in found:
                            return missing(value, parent)
                        found = found[key]
                    return present(value, parent)

                return by_key
            return leaf(rule)

        decide = compile_rule(spec.rule)

        def structure_union(value: Any, parent: Any = None) -> Any:
            if type(value) is not dict:
                raise TypeError(f"expected an object, got {type(value).__name__}")
            return decide(value, parent)

        return structure_union

    def _model(self, tp: Any) -> Hook:
        cls = _model_class(tp)
        if issubclass(cls, UnknownModel):

            def raw(value: Any, parent: Any = None) -> Any:
                if type(value) is not dict:
                    raise TypeError(f"expected an object, got {type(value).__name__}")
                return cls(raw=dict(value))

            return raw
        detailed_box: list[Callable[[Any, Any], Any]] = []

        def detailed(value: Any) -> Any:
            if not detailed_box:
                detailed_box.append(self.detailed(tp))
            return detailed_box[0](value, tp)

        if not self.lean:
            return lambda value, parent=None: detailed(value)
        lean = self._compile(tp, cls)

        def structure_model(value: Any, parent: Any = None) -> Any:
            try:
                return lean(value)
            except Exception:  # the detailed pass reports the problem (or decodes it)
                return detailed(value)

        return structure_model

    def detailed(self, tp: Any) -> Callable[[Any, Any], Any]:
        """cattrs' own generated hook for a model, with every field type resolved."""
        cls = _model_class(tp)
        self.resolve(cls)
        fn: Callable[[Any, Any], Any] = self.converter.gen_structure_attrs_fromdict(tp)
        return fn

    @staticmethod
    def resolve(cls: type[Any]) -> None:
        """Evaluate the annotations of `cls` (for cattrs, which wants real types)."""
        if getattr(cls, "__polar_resolved__", None) is cls:
            return
        # Each class's annotations are evaluated in its own module (typing does that when no
        # globals are given); names from other model modules come from _NAMES.
        attrs.resolve_types(cls, localns=_NAMES)  # type: ignore[arg-type]
        cls.__polar_resolved__ = cls  # type: ignore[attr-defined]

    def _compile(self, tp: Any, cls: type[Any]) -> Callable[[Any], Any]:
        typevars = _typevars(tp)
        request = issubclass(cls, RequestModel)
        namespace: dict[str, Any] = {
            "_cls": cls,
            "_A": _ABSENT,
            "_NG": NOT_GIVEN,
            "_dt": parse_datetime,
            "_date": parse_date,
            "_dur": parse_duration,
            "_new": object.__new__,
            "_set_absent": _SET_ABSENT,
            "TypeError": TypeError,
        }
        lines = [
            "def structure(o):",
            "    if type(o) is not dict: raise TypeError('expected an object')",
        ]
        if not request:
            lines.append("    ab = None")
        declared: list[str] = []
        assignments: list[tuple[str, str]] = []
        extra_field: attrs.Attribute[Any] | None = None
        for i, a in enumerate(attrs.fields(cls)):
            if (
                a.name == "extra"
                and a.default is not attrs.NOTHING
                and hasattr(a.default, "factory")
            ):
                extra_field = a
                continue
            wire: str = a.metadata.get("wire", a.name)
            declared.append(wire)
            v = f"v{i}"
            k = repr(wire)
            default = a.default
            text = a.type if isinstance(a.type, str) else None
            plain = _plain_kind(text, cls) if text is not None and not typevars else None
            if plain is None and text is None:
                plain_type = _substitute(a.type, typevars) if typevars else a.type
                inner, nullable = _strip(plain_type)
                kind_name = _KINDS.get(inner)
                plain = (kind_name, inner, nullable) if kind_name else None
            if plain is not None:
                convert = _CHECKS[plain[0]].format(v=v, k=k)
                if convert and default is attrs.NOTHING and plain[2]:  # required, nullable
                    convert = f"    if {v} is not None:\n    " + convert
            else:
                hook_name = f"h{i}"
                namespace[hook_name] = self.lazy(self._field_resolver(cls, a, typevars))
                convert = f"    {v} = {hook_name}({v}, o)"
            if default is attrs.NOTHING:
                lines.append(f"    {v} = o[{k}]")
                if convert:
                    lines.append(convert)
            elif default is None or (default is not NOT_GIVEN and not request):
                lines.append(f"    {v} = o.get({k}, _A)")
                if default is None:
                    namespace[f"d{i}"] = None
                else:
                    namespace[f"d{i}"] = default
                lines.append(f"    if {v} is _A:")
                lines.append(f"        {v} = d{i}")
                if not request:
                    lines.append("        if ab is None: ab = []")
                    lines.append(f"        ab.append({k})")
                if convert:
                    lines.append(f"    elif {v} is not None:")
                    lines.append(_indent(convert.strip(), 2))
            else:  # NOT_GIVEN (or another default) in a request model
                namespace[f"d{i}"] = default
                lines.append(f"    {v} = o.get({k}, d{i})")
                if convert:
                    lines.append(f"    if {v} is not d{i} and {v} is not None:")
                    lines.append(_indent(convert.strip(), 2))
            assignments.append((a.name, v))
        if extra_field is not None:
            namespace["_declared"] = frozenset(declared)
            text = extra_field.type if isinstance(extra_field.type, str) else None
            namespace["hx"] = self.lazy(self._field_resolver(cls, extra_field, typevars))
            lines.append("    ex = {key: val for key, val in o.items() if key not in _declared}")
            lines.append("    if ex: ex = hx(ex, o)")
            assignments.append(("extra", "ex"))
        if request:
            call = ", ".join(f"{_init_name(cls, n)}={v}" for n, v in assignments)
            lines.append(f"    return _cls({call})")
        else:
            lines.append("    inst = _new(_cls)")
            for name, v in assignments:
                setter = f"s_{name}"
                namespace[setter] = cls.__dict__[name].__set__
                lines.append(f"    {setter}(inst, {v})")
            lines.append("    if ab is not None: _set_absent(inst, tuple(ab))")
            lines.append("    return inst")
        source = "\n".join(lines)
        code = compile(source, f"<polar_sdk structure {cls.__qualname__}>", "exec")
        exec(code, namespace)
        function: Callable[[Any], Any] = namespace["structure"]
        return function

    @staticmethod
    def _field_resolver(
        cls: type[Any], a: attrs.Attribute[Any], typevars: Mapping[Any, Any]
    ) -> Callable[[], Any]:
        def resolve() -> Any:
            if isinstance(a.type, str):
                return _evaluate(a.type, cls, typevars)
            return _substitute(a.type, typevars) if typevars else a.type

        return resolve

    # unstructure ---------------------------------------------------------------------
    def dump(self, value: Any) -> Any:
        """JSON-ready data for any value a model can hold."""
        kind = type(value)
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
        if issubclass(kind, _Model) and attrs.has(kind):
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


def _init_name(cls: type[Any], name: str) -> str:
    for a in attrs.fields(cls):
        if a.name == name:
            return a.alias or name
    return name


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
    "datetime": lambda value, parent=None: parse_datetime(value),
    "date": lambda value, parent=None: parse_date(value),
    "duration": lambda value, parent=None: parse_duration(value),
    "none": _none,
}


def _literal_hook(tp: Any) -> Hook:
    value_types = {type(v) for v in get_args(tp)}

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


class PolarConverter(Converter):
    """A cattrs `Converter` that also keeps the SDK's hooks (`hooks.dump` unstructures)."""

    __slots__ = ("hooks",)
    hooks: _Hooks


def configure_converter(converter: PolarConverter, *, lean: bool = True) -> None:
    """Register Polar's wire conventions (see the module docstring) on `converter`.

    `lean=False` decodes every model with cattrs' detailed hooks only (for comparisons).
    """
    hooks = _Hooks(converter, lean)

    def structure_factory(tp: Any) -> Callable[[Any, Any], Any]:
        hook = hooks.get(tp)
        return lambda value, _type: hook(value, None)

    converter.register_structure_hook_factory(_is_handled, structure_factory)
    # cattrs dispatches these exact types before any factory (and would read "false" as
    # True): register the strict hooks for them directly.
    for plain, kind in _KINDS.items():
        if isinstance(plain, type) and plain is not _NONE_TYPE:
            plain_hook = _PLAIN_HOOKS[kind]
            converter.register_structure_hook(
                plain, lambda value, _type, hook=plain_hook: hook(value, None)
            )
    converter.register_unstructure_hook(datetime, format_datetime)
    converter.register_unstructure_hook(date, date.isoformat)
    converter.register_unstructure_hook(timedelta, format_duration)
    converter.register_unstructure_hook(NotGiven, lambda _value: None)

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
        if issubclass(cls, UnknownModel):
            return lambda value: dict(value.raw)
        return hooks._compile_dump(cls)  # pyright: ignore[reportPrivateUsage]

    converter.register_unstructure_hook_factory(
        lambda cls: isinstance(cls, type) and issubclass(cls, _Model) and attrs.has(cls),
        unstructure_factory,
    )
    converter.hooks = hooks


def make_converter(*, lean: bool = True) -> PolarConverter:
    """A new converter configured for Polar models."""
    result = PolarConverter()
    configure_converter(result, lean=lean)
    return result


_default: list[PolarConverter] = []
_default_lock = threading.Lock()


def converter() -> PolarConverter:
    """The SDK's shared converter, built on first use."""
    if not _default:
        with _default_lock:
            if not _default:
                _default.append(make_converter())
    return _default[0]
