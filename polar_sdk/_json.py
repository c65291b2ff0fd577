"""JSON encoding for request bodies and answers: orjson when installed, else the stdlib.

`pip install "polar-async-sdk[speedups]"` brings orjson, which parses Polar's answers about
three times faster. Both paths produce the same compact UTF-8 bytes and raise `ValueError`
(`json.JSONDecodeError`) on bad input.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["BACKEND", "dumps", "loads"]


# json.dumps() builds a new encoder for every call with options: one, made once, serves all.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _stdlib_dumps(value: Any) -> bytes:
    return _ENCODE(value).encode()


def _pick() -> tuple[str, Callable[[bytes | str], Any], Callable[[Any], bytes]]:
    try:
        import orjson
    except ImportError:  # the plain install
        return "json", json.loads, _stdlib_dumps
    return "orjson", orjson.loads, orjson.dumps


BACKEND, loads, dumps = _pick()
