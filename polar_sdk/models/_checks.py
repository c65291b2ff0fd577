"""Field validators for request models: refuse what the API would certainly reject.

The generator writes `field(validator=check(...))` from the spec's constraints (type, format,
length, range, pattern). A failed check raises `InvalidRequestError` at construction, so a
call never sends a body the server must refuse. Values of secret fields are never quoted in
messages. `NOT_GIVEN` (left out) always passes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast

from .._exceptions import InvalidRequestError
from .._types import NOT_GIVEN, NotGiven

__all__ = ["check", "only_one"]

Validator = Callable[[Any, Any, Any], None]

_KINDS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "datetime": (datetime,),
    "date": (date,),
    "duration": (timedelta,),
    "list": (list, tuple),
    "dict": (Mapping,),
}
# A version-4 UUID in its canonical form (RFC 9562 variant): valid for "uuid4" and "uuid".
_UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_KIND_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "True or False",
    "datetime": "a datetime",
    "date": "a date",
    "duration": "a timedelta",
    "list": "a list",
    "dict": "a dict",
}
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _shown(value: object, secret: bool) -> str:
    return "a secret value" if secret else repr(value)


def check(
    kind: str | None = None,
    *,
    nullable: bool = False,
    fmt: str | None = None,
    secret: bool = False,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
    exclusive_maximum: float | None = None,
    min_items: int | None = None,
    max_items: int | None = None,
    max_properties: int | None = None,
    key_min_length: int | None = None,
    key_max_length: int | None = None,
    value_min_length: int | None = None,
    value_max_length: int | None = None,
) -> Validator:
    """An attrs validator for one request field (see the module docstring)."""
    types = _KINDS.get(kind) if kind is not None else None
    # Fast paths for the usual values, a plain str or dict where one is allowed: the same
    # checks as below, without testing the value against every other kind first.
    plain_str = types is None or str in types
    text_checks = not (
        fmt is None and min_length is None and max_length is None and pattern is None
    )
    plain_dict = types is None or Mapping in types
    bounds = (max_properties, key_min_length, key_max_length, value_min_length, value_max_length)

    def validate(_instance: Any, attribute: Any, value: Any) -> None:
        if value is NOT_GIVEN:  # the enum's only member: `is` is the isinstance check
            return
        cls = value.__class__
        if cls is str and plain_str:
            if text_checks:
                _check_text(attribute.name, value, fmt, secret, min_length, max_length, pattern)
            return
        if cls is dict and plain_dict:
            _check_mapping(attribute.name, value, secret, *bounds)
            return
        name = attribute.name
        if value is None:
            if nullable:
                return
            what = "a UUID string" if fmt in ("uuid4", "uuid") else _KIND_WORDS.get(kind or "")
            raise InvalidRequestError(f"{name} must be {what or 'given'}, got None")
        if types is not None and (
            not isinstance(value, types) or (kind in ("int", "float") and isinstance(value, bool))
        ):
            what = "a UUID string" if fmt in ("uuid4", "uuid") else _KIND_WORDS[kind or ""]
            raise InvalidRequestError(f"{name} must be {what}, got {type(value).__name__}")
        if isinstance(value, str):
            _check_text(name, value, fmt, secret, min_length, max_length, pattern)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            _check_number(name, value, minimum, maximum, exclusive_minimum, exclusive_maximum)
        elif isinstance(value, (list, tuple)):
            items = cast("Sequence[Any]", value)
            if min_items is not None and len(items) < min_items:
                raise InvalidRequestError(f"{name} needs at least {min_items} items")
            if max_items is not None and len(items) > max_items:
                raise InvalidRequestError(
                    f"{name} has {len(items)} items; the API accepts at most {max_items}"
                )
        elif isinstance(value, Mapping):
            _check_mapping(name, cast("Mapping[object, object]", value), secret, *bounds)

    return validate


def _check_mapping(
    name: str,
    mapping: Mapping[object, object],
    secret: bool,
    max_properties: int | None,
    key_min_length: int | None,
    key_max_length: int | None,
    value_min_length: int | None,
    value_max_length: int | None,
) -> None:
    if max_properties is not None and len(mapping) > max_properties:
        raise InvalidRequestError(
            f"{name} has {len(mapping)} keys; the API accepts at most {max_properties}"
        )
    for key, item in mapping.items():
        if not isinstance(key, str):
            raise InvalidRequestError(f"{name} keys must be strings, got {key!r}")
        # Only lengths are checked here: `_check_text` is called (and raises, naming the
        # entry) when one is out of bounds.
        if _outside(len(key), key_min_length, key_max_length):
            where = f"{name}[{key!r}]"
            _check_text(where, key, None, False, key_min_length, key_max_length, None, "key")
        if isinstance(item, str) and _outside(len(item), value_min_length, value_max_length):
            where = f"{name}[{key!r}]"
            _check_text(where, item, None, secret, value_min_length, value_max_length, None)


def _outside(length: int, min_length: int | None, max_length: int | None) -> bool:
    return (min_length is not None and length < min_length) or (
        max_length is not None and length > max_length
    )


def _check_text(
    name: str,
    value: str,
    fmt: str | None,
    secret: bool,
    min_length: int | None,
    max_length: int | None,
    pattern: str | None,
    what: str = "",
) -> None:
    subject = f"{name} {what}" if what else name
    if min_length is not None and len(value) < min_length:
        if min_length == 1:
            raise InvalidRequestError(f"{subject} must not be empty")
        raise InvalidRequestError(f"{subject} must be at least {min_length} characters long")
    if max_length is not None and len(value) > max_length:
        raise InvalidRequestError(
            f"{subject} is {len(value)} characters long; the API accepts at most {max_length}"
        )
    if fmt in ("uuid4", "uuid"):
        if not _UUID4.fullmatch(value):  # the usual form needs no UUID object
            try:
                parsed = uuid.UUID(value)
            except ValueError:
                raise InvalidRequestError(
                    f"{name} must be a UUID, got {_shown(value, secret)}"
                ) from None
            if fmt == "uuid4" and parsed.version != 4:
                raise InvalidRequestError(
                    f"{name} must be a version-4 UUID (the API rejects others), "
                    f"got {_shown(value, secret)}"
                )
    elif fmt == "uri":
        scheme, sep, rest = value.partition(":")
        if not sep or not scheme or not rest or not scheme[0].isalpha():
            raise InvalidRequestError(
                f"{name} must be an absolute URL such as 'https://example.com/account', "
                f"got {_shown(value, secret)}"
            )
    elif fmt == "email":
        local, sep, domain = value.rpartition("@")
        if not sep or not local or not domain:
            raise InvalidRequestError(
                f"{name} must be an email address, got {_shown(value, secret)}"
            )
    if pattern is not None:
        compiled = _PATTERNS.get(pattern)
        if compiled is None:
            compiled = _PATTERNS[pattern] = re.compile(pattern)
        if compiled.search(value) is None:
            raise InvalidRequestError(
                f"{name} must match the pattern {pattern!r}, got {_shown(value, secret)}"
            )


def _check_number(
    name: str,
    value: float,
    minimum: float | None,
    maximum: float | None,
    exclusive_minimum: float | None,
    exclusive_maximum: float | None,
) -> None:
    if minimum is not None and value < minimum:
        raise InvalidRequestError(f"{name} must be at least {minimum:g}, got {value!r}")
    if maximum is not None and value > maximum:
        raise InvalidRequestError(f"{name} must be at most {maximum:g}, got {value!r}")
    if exclusive_minimum is not None and value <= exclusive_minimum:
        raise InvalidRequestError(
            f"{name} must be greater than {exclusive_minimum:g}, got {value!r}"
        )
    if exclusive_maximum is not None and value >= exclusive_maximum:
        raise InvalidRequestError(f"{name} must be less than {exclusive_maximum:g}, got {value!r}")


def only_one(instance: Any, *groups: tuple[str, ...]) -> None:
    """Refuse a model where more than one field of a group is given (`None` counts as not).

    For fields the server takes as alternatives and silently picks one of. Called at
    construction and again when a model is sent (one built by `structure()` skips
    construction), with the groups the class lists in `__polar_exclusive__`.
    """
    for group in groups:
        given = [
            name
            for name in group
            if not isinstance(getattr(instance, name), NotGiven)
            and getattr(instance, name) is not None
        ]
        if len(given) > 1:
            raise InvalidRequestError(
                f"pass {' or '.join(given)}, not both: they are alternatives, and the API "
                f"would silently use one of them ({type(instance).__name__})"
            )
