"""Helpers shared by the model modules."""

from __future__ import annotations

from typing import Any

__all__ = ["redacted"]


def redacted(_value: Any) -> str:
    """attrs `repr` callback for secret fields: show that a value exists, never the value."""
    return "'<redacted>'"
