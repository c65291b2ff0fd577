"""Small shared types: the "not given" sentinel and timeout aliases.

`NOT_GIVEN` marks an argument the caller did not pass. It is distinct from `None`, which for
many Polar fields is a meaningful value ("send null", "no timeout").
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Final, Literal, TypeAlias, TypeVar

if TYPE_CHECKING:
    import httpx

__all__ = ["NOT_GIVEN", "NotGiven", "NotGivenOr", "TimeoutTypes"]

_T = TypeVar("_T")


class NotGiven(enum.Enum):
    """Type of the `NOT_GIVEN` sentinel: an argument that was left out."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False


NOT_GIVEN: Final = NotGiven.NOT_GIVEN
"""Sentinel for "argument not passed"; falsy, and distinct from `None`."""

NotGivenOr: TypeAlias = _T | NotGiven

TimeoutTypes: TypeAlias = "float | httpx.Timeout | None"
"""A timeout in seconds, a full `httpx.Timeout`, or `None` for no timeout at all."""
