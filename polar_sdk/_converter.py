"""The SDK's own cattrs converter (the global cattrs converter is never touched).

`make_converter()` builds a fresh converter; `configure_converter()` teaches any cattrs
`Converter` Polar's wire conventions:

- date-times are ISO 8601 strings on the wire and timezone-aware `datetime` in Python;
- enum-like fields (`CountryAlpha2 | str`) accept any string, so new server values survive;
- `Customer` is a union tagged by its `type` field; an unknown tag decodes to `UnknownCustomer`
  with the raw object kept, and unstructures back to exactly that object;
- request models leave out the fields that are still `NOT_GIVEN`.

cattrs' own `configure_tagged_union` is not used for `Customer`: its fallback class cannot keep
the raw payload, and on unstructure it overwrites the tag with the fallback's name.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Literal, Union, get_args, get_origin

import attrs
from cattrs import Converter
from cattrs.gen import make_dict_unstructure_fn
from cattrs.strategies import configure_union_passthrough

from . import models
from ._types import NotGiven

__all__ = ["configure_converter", "make_converter"]

_FRACTION = re.compile(r"\.(\d+)")


_NONE_TYPE = type(None)
_UNION_ORIGINS = (Union, types.UnionType)
_FROMISOFORMAT_READS_Z = sys.version_info >= (3, 11)


def _parse_datetime(value: Any, _: Any = None) -> datetime:
    if _FROMISOFORMAT_READS_Z and type(value) is str:
        # Fast path: 3.11+ reads "Z" and any number of fraction digits itself.
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
        raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def _format_datetime(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _structure_str(value: Any, _: Any = None) -> str:
    if type(value) is str:
        return value
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _structure_optional_str(value: Any, _: Any = None) -> str | None:
    if value is None or type(value) is str:
        return value
    raise TypeError(f"expected a string or null, got {type(value).__name__}")


def _structure_optional_datetime(value: Any, _: Any = None) -> datetime | None:
    return None if value is None else _parse_datetime(value)


def _is_optional(tp: Any) -> bool:
    """`X | None` (either spelling), except the request-only `X | NotGiven | None`."""
    if get_origin(tp) not in _UNION_ORIGINS:
        return False
    args = get_args(tp)
    return _NONE_TYPE in args and len(args) > 1 and NotGiven not in args


def _optional_hook_factory(converter: Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """Build `X | None` hooks that look the hook for `X` up once, not on every value.

    cattrs' default resolves the inner type's hook on every call, which hashes the type each
    time; for our long `Literal` aliases that hash dominated decoding.
    """

    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        rest = tuple(a for a in get_args(tp) if a is not _NONE_TYPE)
        inner_type: Any = rest[0] if len(rest) == 1 else Union[rest]  # noqa: UP007
        if inner_type is str:
            return _structure_optional_str
        if inner_type is datetime:
            return _structure_optional_datetime
        inner = converter.get_structure_hook(inner_type)

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return structure_optional

    return factory


def _is_response_model(tp: Any) -> bool:
    return (
        isinstance(tp, type)
        and attrs.has(tp)
        and tp.__module__.startswith("polar_sdk.models")
        and tp not in _REQUEST_MODELS
    )


def _fast_structure_factory(converter: Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """Structure hooks for response models: a lean compiled function, and cattrs for errors.

    The lean function reads each field, checks plain strings inline, hands every other field
    to the converter's hook for its type (looked up once), and builds the instance. It proves
    nothing on failure: any exception sends the same input through cattrs' own generated hook
    with detailed validation, which either succeeds the same way or raises its usual error
    listing every bad field. So answers decode exactly as before, just faster.
    """
    in_progress: set[type] = set()

    def factory(cls: type) -> Callable[[Any, Any], Any]:
        detailed: Callable[[Any, Any], Any] = converter.gen_structure_attrs_fromdict(cls)
        if cls in in_progress:  # a model that contains itself: keep cattrs' hook
            return detailed
        in_progress.add(cls)
        try:
            lean = _compile_lean_structure(cls, converter)
        finally:
            in_progress.discard(cls)
        if lean is None:
            return detailed

        def structure_model(value: Any, _: Any = None) -> Any:
            try:
                return lean(value)
            except Exception:  # the detailed pass below reports the problem
                return detailed(value, cls)

        return structure_model

    return factory


def _compile_lean_structure(cls: type, converter: Converter) -> Callable[[Any], Any] | None:
    attrs.resolve_types(cls)
    namespace: dict[str, Any] = {"_cls": cls, "_str": str}
    lines = ["def structure(o):"]
    kwargs: list[str] = []
    for i, field in enumerate(attrs.fields(cls)):
        if not field.init:
            continue
        value = f"v{i}"
        key = repr(field.name)
        if field.default is attrs.NOTHING:
            read = f"o[{key}]"
        elif hasattr(field.default, "takes_self"):  # an attrs Factory
            return None  # not used by our models; cattrs' hook handles it
        elif field.default is None:
            read = f"o.get({key})"
        else:
            namespace[f"d{i}"] = field.default
            read = f"o[{key}] if {key} in o else d{i}"
        tp = field.type
        if tp is str:
            lines += [f"    {value} = {read}", f"    if type({value}) is not _str: raise TypeError"]
        elif _is_optional(tp) and get_args(tp) in ((str, _NONE_TYPE), (_NONE_TYPE, str)):
            lines += [
                f"    {value} = {read}",
                f"    if {value} is not None and type({value}) is not _str: raise TypeError",
            ]
        else:
            namespace[f"h{i}"] = converter.get_structure_hook(tp)
            namespace[f"t{i}"] = tp
            if field.default is None:
                lines += [
                    f"    {value} = {read}",
                    f"    if {value} is not None: {value} = h{i}({value}, t{i})",
                ]
            elif field.default is attrs.NOTHING:
                lines.append(f"    {value} = h{i}({read}, t{i})")
            else:
                lines.append(f"    {value} = h{i}(o[{key}], t{i}) if {key} in o else d{i}")
        kwargs.append(f"{field.alias}={value}")
    lines.append(f"    return _cls({', '.join(kwargs)})")
    source = "\n".join(lines)
    exec(compile(source, f"<polar_sdk lean structure {cls.__qualname__}>", "exec"), namespace)
    function: Callable[[Any], Any] = namespace["structure"]
    return function


def _structure_bool(value: Any, _: Any = None) -> bool:
    # cattrs' default is bool(value), which would read "false" as True.
    if type(value) is bool:
        return value
    raise TypeError(f"expected true or false, got {type(value).__name__}")


def _is_open_enum(tp: Any) -> bool:
    """`Literal[...] | str`: a documented set of values that stays open to new ones."""
    if get_origin(tp) is not Union:
        return False
    args = get_args(tp)
    return str in args and all(a is str or get_origin(a) is Literal for a in args)


def _is_request_model(tp: Any) -> bool:
    return isinstance(tp, type) and tp in _REQUEST_MODELS


_REQUEST_MODELS: frozenset[type[Any]] = frozenset(
    (models.CustomerSessionCustomerIDCreate, models.CustomerSessionCustomerExternalIDCreate)
)

_CUSTOMER_TAGS: dict[str, type] = {
    "individual": models.CustomerIndividual,
    "team": models.CustomerTeam,
}


def _configure_customer(converter: Converter) -> None:
    hooks: dict[str, Callable[[Any, Any], Any]] = {
        tag: converter.get_structure_hook(cls) for tag, cls in _CUSTOMER_TAGS.items()
    }
    known = {tag: (hook, _CUSTOMER_TAGS[tag]) for tag, hook in hooks.items()}

    def structure_customer(value: Any, _: Any) -> models.Customer:
        if not isinstance(value, dict):
            raise TypeError(f"expected a customer object, got {type(value).__name__}")
        obj: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
        tag = obj.get("type")
        entry = known.get(tag) if isinstance(tag, str) else None
        if entry is not None:
            hook, cls = entry
            result: models.Customer = hook(value, cls)
            return result
        raw_id = obj.get("id")
        return models.UnknownCustomer(
            type=tag if isinstance(tag, str) else None,
            id=raw_id if isinstance(raw_id, str) else None,
            raw=dict(obj),
        )

    unstructure_individual = converter.get_unstructure_hook(models.CustomerIndividual)
    unstructure_team = converter.get_unstructure_hook(models.CustomerTeam)

    def unstructure_customer(value: models.Customer) -> dict[str, Any]:
        if isinstance(value, models.UnknownCustomer):
            return dict(value.raw)
        hook = (
            unstructure_team if isinstance(value, models.CustomerTeam) else unstructure_individual
        )
        result: dict[str, Any] = hook(value)
        return result

    converter.register_structure_hook(models.Customer, structure_customer)
    converter.register_unstructure_hook(models.Customer, unstructure_customer)
    converter.register_unstructure_hook(models.UnknownCustomer, unstructure_customer)


def configure_converter(converter: Converter) -> None:
    """Register Polar's wire conventions (see the module docstring) on `converter`."""
    converter.register_structure_hook(datetime, _parse_datetime)
    converter.register_unstructure_hook(datetime, _format_datetime)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook_func(_is_open_enum, _structure_str)
    configure_union_passthrough(Union[str, int, float, bool, None], converter)  # noqa: UP007
    # Registered after the passthrough so that it wins for `X | None`.
    converter.register_structure_hook_factory(_is_optional, _optional_hook_factory(converter))
    converter.register_structure_hook_factory(
        _is_response_model, _fast_structure_factory(converter)
    )
    converter.register_unstructure_hook(NotGiven, lambda _: None)

    def request_unstructure_factory(cls: type) -> Callable[[Any], dict[str, Any]]:
        return make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True)

    converter.register_unstructure_hook_factory(_is_request_model, request_unstructure_factory)
    _configure_customer(converter)


def make_converter() -> Converter:
    """A new converter configured for Polar models."""
    converter = Converter()
    configure_converter(converter)
    return converter


if typing.TYPE_CHECKING:  # keep attrs referenced for type checkers
    _ = attrs
