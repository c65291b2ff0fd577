"""`structure()` and `unstructure()`: Polar JSON <-> models, for storing or replaying data."""

from __future__ import annotations

from typing import Any, TypeVar, overload

# The converter loads with the models (about 0.7 ms): every decode needs it, and the first
# one should not pay for it. A module reference, since _converter may be importing this.
from .. import _converter

__all__ = ["structure", "type_hints", "type_name", "unstructure"]

_T = TypeVar("_T")


@overload
def structure(data: Any, model: type[_T]) -> _T: ...
@overload
def structure(data: Any, model: Any) -> Any: ...
def structure(data: Any, model: Any) -> Any:
    """Decode parsed JSON (`dict`, `list`, ...) into `model` with the SDK's converter.

    `model` is any model class, union alias (`Customer`), or generic page
    (`ListResource[Customer]`). Unknown fields are ignored and unknown enum values and union
    variants are kept, exactly as for API answers.

    Raises:
        ResponseDecodeError: `data` does not fit `model`; the message names the field path,
            and `exc.data` holds the input.
    """
    # The shared hooks' own identity table, read inline: this is every decode's entry.
    entry = _by_id.get(id(model))
    if entry is not None and entry[0] is model:
        hook = entry[1]
    else:
        hook = (_HOOKS[0] if _HOOKS else _load_hooks()).get(model)
    try:
        return hook(data, None)
    except Exception as exc:
        raise decode_error(exc, f"the data does not match {type_name(model)}", data=data) from exc


_HOOKS: list[Any] = []  # the SDK's shared hooks, once loaded
_by_id: dict[int, tuple[Any, Any]] = {}  # replaced by the shared hooks' table when loaded


def _load_hooks() -> Any:
    global _by_id
    if not _HOOKS:
        shared = _converter.hooks()
        _by_id = shared.by_id
        _HOOKS.append(shared)
    return _HOOKS[0]


def decode_error(exc: Exception, what: str, **context: Any) -> Exception:
    """A `ResponseDecodeError` for `exc` (raised while decoding), with the bad field paths.

    Exceptions that are not about the data (an `InvalidRequestError` from a validator
    aside) come back unchanged, to be re-raised as they are.
    """
    from cattrs import BaseValidationError, transform_error

    from .._exceptions import ResponseDecodeError

    if not isinstance(exc, (BaseValidationError, ValueError, TypeError, KeyError)):
        return exc
    problems = transform_error(exc) if isinstance(exc, BaseValidationError) else [repr(exc)]
    return ResponseDecodeError(f"{what}: " + "; ".join(problems), **context)


def unstructure(obj: Any) -> Any:
    """Encode a model (or a list or dict of them) as JSON-ready data.

    Request models leave out fields that are still `NOT_GIVEN`; decoded answers give back the
    JSON they came from (minus keys their schema does not declare); `Unknown*` objects give
    back their raw data.
    """
    hooks = _HOOKS[0] if _HOOKS else _load_hooks()
    return hooks.dump(obj)


def type_hints(model: type[Any]) -> dict[str, Any]:
    """The field types of a model class, evaluated (`typing.get_type_hints` for models).

    The generated modules import each other only for type checkers, so plain
    `typing.get_type_hints(Model)` cannot see names from other modules; this finds them.
    """
    from typing import get_type_hints

    from .._converter import _NAMES  # pyright: ignore[reportPrivateUsage]

    # No globals: typing then evaluates each class of the MRO in its own module.
    hints: dict[str, Any] = get_type_hints(model, None, _NAMES)
    return hints


def type_name(tp: Any) -> str:
    """A readable name for a model type, union alias or generic page (`ListResource[Order]`)."""
    import types
    from typing import Union, get_args, get_origin

    from ._base import UnknownModel

    args = get_args(tp)
    origin = get_origin(tp)
    if args and origin is not None and origin not in (Union, types.UnionType):
        return f"{origin.__qualname__}[{', '.join(type_name(a) for a in args)}]"
    if args:  # a union: named after its fallback class, else listed
        for arg in args:
            if isinstance(arg, type) and issubclass(arg, UnknownModel):
                return arg.__qualname__.removeprefix("Unknown")
        return " | ".join(type_name(a) for a in args)
    name = getattr(tp, "__qualname__", None)
    if isinstance(name, str):
        return name
    forward = getattr(tp, "__forward_arg__", None)
    return forward if isinstance(forward, str) else repr(tp)
