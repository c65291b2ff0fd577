"""Assertion helpers shared by tests: compare a decoded model with the JSON it came from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from polar_sdk.models import UnknownCustomer


def parse_wire_datetime(text: str) -> datetime:
    """Independent of the SDK's parser: strptime with and without fractional seconds."""
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise AssertionError(f"not a wire date-time: {text!r}")


def assert_matches(model: Any, data: Any, path: str = "$") -> int:
    """Assert that `model` holds exactly `data`, field by field; return the leaves checked.

    Every key of every JSON object must be a field of the model (so a field the model forgot
    is caught), and every model field must equal the JSON value (absent means None).
    """
    if isinstance(model, UnknownCustomer):
        assert model.raw == data, path
        return 1
    if attrs.has(type(model)):
        assert isinstance(data, dict), f"{path}: expected an object, got {data!r}"
        names = {f.name for f in attrs.fields(type(model))}
        unknown = set(data) - names
        assert not unknown, f"{path}: fields missing from {type(model).__name__}: {unknown}"
        return sum(
            assert_matches(getattr(model, name), data.get(name), f"{path}.{name}")
            for name in sorted(names)
        )
    if isinstance(model, datetime):
        assert model.tzinfo is not None, f"{path}: naive datetime"
        assert model == parse_wire_datetime(data), f"{path}: {model!r} != {data!r}"
        return 1
    if isinstance(model, tuple):
        assert isinstance(data, list) and len(data) == len(model), path
        return sum(
            assert_matches(m, d, f"{path}[{i}]")
            for i, (m, d) in enumerate(zip(model, data, strict=True))
        )
    assert type(model) is type(data), f"{path}: {type(model).__name__} vs {type(data).__name__}"
    assert model == data, f"{path}: {model!r} != {data!r}"
    return 1
