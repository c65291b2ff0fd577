"""What the generated model modules are built from (hand-written).

Every generated class is a frozen, slotted, keyword-only attrs class deriving from one of:

- `ResponseModel`: what the API answers. Optional fields it leaves out read as `None`; the
  class remembers which ones were left out, so `unstructure()` gives back the same JSON.
- `RequestModel`: what a call sends. Optional fields left `NOT_GIVEN` are not sent at all;
  `None` is sent as `null`. Field validators refuse values the API would certainly reject.
- `UnknownModel`: the fallback member of every union, for objects this SDK version cannot
  place (a new tag, a new shape). `raw` keeps the object exactly as it arrived.

The classes ask attrs for no `__repr__`, `__eq__` or `__hash__` of their own: generating those
for a thousand classes costs about half of their import time, so `ModelBase` supplies them once,
reading the fields attrs recorded. Unions carry their decision rule on their fallback class
(`union(...)` below); the converter reads it on first use and never tries members in turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeAlias

import attrs

__all__ = [
    "MetadataValue",
    "ModelBase",
    "RequestModel",
    "ResponseModel",
    "Rule",
    "UnionSpec",
    "UnknownModel",
    "has",
    "redacted",
    "tag",
    "union",
]

MetadataValue: TypeAlias = str | int | float | bool
"""A value in an object's `metadata` mapping."""


def redacted(_value: Any) -> str:
    """attrs `repr` callback for secret fields: show that a value exists, never the value."""
    return "'<redacted>'"


class ModelBase:
    """`__repr__`, `__eq__`, `__hash__` and pickling for attrs classes, from their fields."""

    __slots__ = ()
    __attrs_attrs__: ClassVar[tuple[Any, ...]]

    def __repr__(self) -> str:
        parts: list[str] = []
        for a in self.__attrs_attrs__:
            if a.repr is False:
                continue
            value = getattr(self, a.name)
            shown = a.repr(value) if callable(a.repr) else repr(value)
            parts.append(f"{a.name}={shown}")
        return f"{type(self).__qualname__}({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(
            getattr(self, a.name) == getattr(other, a.name) for a in self.__attrs_attrs__ if a.eq
        )

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash((type(self), *(getattr(self, a.name) for a in self.__attrs_attrs__)))

    def __getstate__(self) -> dict[str, Any]:
        state = {a.name: getattr(self, a.name) for a in self.__attrs_attrs__}
        absent = getattr(self, "_polar_absent", None)
        if absent:
            state["_polar_absent"] = absent
        return state

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)


class ResponseModel(ModelBase):
    """Base of models the API answers with (see the module docstring)."""

    __slots__ = ("_polar_absent",)


class RequestModel(ModelBase):
    """Base of models a call sends (see the module docstring)."""

    __slots__ = ()


class UnknownModel(ModelBase):
    """Base of the fallback member of a union: an object no known member fits."""

    __slots__ = ()
    __polar_union__: ClassVar[UnionSpec]
    raw: dict[str, Any]


# -- union rules --------------------------------------------------------------------------
# Plain data, written by the generator and read by the converter. A leaf is a member class,
# or the source text of a member type that lives in another module ("ListResource[Event]"),
# or None for the fallback.

Rule: TypeAlias = "TagRule | KeyRule | type[Any] | str | None"


@attrs.frozen
class TagRule:
    """Pick by the value at `path`; `path[0] == ".."` reads the object holding the union."""

    path: tuple[str, ...]
    cases: Mapping[Any, Rule]
    default: Rule = None
    absent: Rule = None


@attrs.frozen
class KeyRule:
    """Pick by whether the key at `path` is present."""

    path: tuple[str, ...]
    present: Rule
    absent: Rule


@attrs.frozen
class UnionSpec:
    """How a union is decided, and which fields its fallback lifts out of the raw object."""

    rule: Rule
    lifted: tuple[tuple[str, str], ...] = ()

    @property
    def needs_parent(self) -> bool:
        return _needs_parent(self.rule)


def _needs_parent(rule: Rule) -> bool:
    if isinstance(rule, TagRule):
        return rule.path[0] == ".." or any(_needs_parent(r) for r in rule.cases.values())
    if isinstance(rule, KeyRule):
        return _needs_parent(rule.present) or _needs_parent(rule.absent)
    return False


def _path(path: str | tuple[str, ...]) -> tuple[str, ...]:
    return (path,) if isinstance(path, str) else path


def tag(
    path: str | tuple[str, ...],
    cases: Mapping[Any, Rule],
    default: Rule = None,
    absent: Rule = None,
) -> TagRule:
    """A rule that picks by the value found at `path` (generated code calls this)."""
    return TagRule(_path(path), cases, default, absent)


def has(path: str | tuple[str, ...], present: Rule, absent: Rule) -> KeyRule:
    """A rule that picks by whether the key at `path` is present."""
    return KeyRule(_path(path), present, absent)


def union(
    fallback: type[UnknownModel], rule: Rule, *, lifted: tuple[tuple[str, str], ...] = ()
) -> None:
    """Attach a union's rule to its fallback class (generated code calls this at import)."""
    fallback.__polar_union__ = UnionSpec(rule, lifted)
