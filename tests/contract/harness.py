"""The operation-list-driven contract harness.

An `Operation` says how the SDK exposes one API operation: its spec coordinates (method,
path template, operationId, success status), the model a success decodes to, every valid way
of calling it (`calls`, each with the JSON body it must put on the wire), calls the SDK must
refuse before sending (`refused`), and one representative call used for generated answers.
The tests in this folder are parametrized over `OPERATIONS` (see `operations.py`), so covering
another operation means adding an entry there, not writing new tests.

`Recorder` is an httpx client with event hooks that keeps every request and raw response, so
tests can see Prism's `sl-violations` verdict and compare a decoded model with the JSON it
came from. `Census` walks a decoded model next to its raw JSON, checks each declared field
against the wire value and counts what the answers covered: union variants by class, null vs
present optional fields, and properties the model does not declare.
"""

from __future__ import annotations

import json
import types
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Union, get_args, get_origin

import attrs
import httpx

from polar_sdk import AsyncPolar
from polar_sdk.models import UnknownCustomer, type_hints
from tests.checks import parse_wire_datetime

__all__ = [
    "Call",
    "Census",
    "Exchange",
    "Operation",
    "Recorder",
    "sdk_client",
    "spec_operation",
]

Invoke = Callable[[AsyncPolar], Awaitable[object]]


@dataclass(frozen=True)
class Call:
    """One way of calling an operation through the SDK.

    `body` is the JSON the SDK must send (`None`: no body); for a refused call it is unused.
    """

    id: str
    invoke: Invoke
    body: Mapping[str, object] | None = None


@dataclass(frozen=True)
class Operation:
    """How the SDK exposes one operation of the spec (see the module docstring)."""

    operation_id: str
    method: str
    path: str
    success_status: int
    response_type: type[Any]
    calls: Sequence[Call]
    sample: Invoke
    refused: Sequence[Call] = ()
    invalid_body: Mapping[str, object] | None = None
    """A JSON body outside the spec, to show that Prism's validation verdict is live."""
    wire_path: str | None = None
    """The concrete request path for a templated `path`; defaults to `path`."""
    variant_paths: Mapping[str, frozenset[str]] = field(default_factory=dict[str, frozenset[str]])
    """Union positions (census paths) and the classes generated answers must all produce."""
    ungenerated: Mapping[str, str] = field(default_factory=dict[str, str])
    """Census gaps Prism's generator always leaves (`<path> never null|present`), with why."""

    @property
    def request_path(self) -> str:
        return self.wire_path if self.wire_path is not None else self.path


def spec_operation(spec: Mapping[str, Any], method: str, path: str) -> dict[str, Any]:
    """The operation object at `method path` in an OpenAPI document (KeyError if absent)."""
    item: dict[str, Any] = spec["paths"][path]
    op: dict[str, Any] = item[method.lower()]
    return op


@dataclass(frozen=True)
class Exchange:
    """One request the SDK sent and the raw answer it got."""

    method: str
    path: str
    body: Any
    status: int
    headers: httpx.Headers
    data: Any

    @property
    def violations(self) -> list[Any]:
        """Prism's request-validation findings (its `sl-violations` header), empty if none."""
        raw = self.headers.get("sl-violations")
        if raw is None:
            return []
        found: list[Any] = json.loads(raw)
        return found


class Recorder:
    """An `httpx.AsyncClient` for the SDK that records every exchange through event hooks.

    `headers` become the client's default headers, which httpx merges into each SDK request
    (this is how tests send Prism's `Prefer` header without any SDK support for it).
    """

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self.exchanges: list[Exchange] = []
        # Prism never answers a malformed JSON body, so a hang must end as a timeout.
        self.client = httpx.AsyncClient(
            headers=dict(headers or {}),
            timeout=httpx.Timeout(15.0, connect=5.0),
            trust_env=False,
            event_hooks={"response": [self._on_response]},
        )

    async def _on_response(self, response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        body = json.loads(request.content) if request.content else None
        try:
            data = json.loads(response.content) if response.content else None
        except ValueError:
            data = None
        self.exchanges.append(
            Exchange(
                method=request.method,
                path=request.url.path,
                body=body,
                status=response.status_code,
                headers=response.headers,
                data=data,
            )
        )

    def last(self) -> Exchange:
        assert self.exchanges, "no request reached the server"
        return self.exchanges[-1]

    async def aclose(self) -> None:
        await self.client.aclose()


@asynccontextmanager
async def sdk_client(
    base_url: str, token: str, headers: Mapping[str, str] | None = None
) -> AsyncGenerator[tuple[AsyncPolar, Recorder], None]:
    """An `AsyncPolar` pointed at `base_url` whose traffic a `Recorder` keeps."""
    recorder = Recorder(headers)
    try:
        async with AsyncPolar(token, base_url=base_url, http_client=recorder.client) as polar:
            yield polar, recorder
    finally:
        await recorder.aclose()


def _optional_fields(cls: type[Any]) -> frozenset[str]:
    """Fields of an attrs class whose annotation admits None."""
    hints = type_hints(cls)
    names: set[str] = set()
    fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(cls)
    for f in fields:
        tp = hints.get(f.name)
        if get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp):
            names.add(f.name)
    return frozenset(names)


@dataclass
class Census:
    """What a series of decoded answers covered, checked field by field against the wire.

    Paths look like `$.customer<CustomerTeam>.billing_address`: the class an object decoded
    to is part of the path, so each union variant is counted on its own.
    """

    responses: int = 0
    leaves: int = 0
    classes: Counter[tuple[str, str]] = field(default_factory=Counter[tuple[str, str]])
    null: Counter[str] = field(default_factory=Counter[str])
    present: Counter[str] = field(default_factory=Counter[str])
    optional: dict[str, frozenset[str]] = field(default_factory=dict[str, frozenset[str]])
    extra: Counter[str] = field(default_factory=Counter[str])

    def add(self, model: Any, data: Any) -> None:
        """Check `model` against the JSON `data` it was decoded from, and count its shape."""
        self.responses += 1
        self._walk(model, data, "$")

    def _walk(self, model: Any, data: Any, path: str) -> None:
        if isinstance(model, UnknownCustomer):
            self.classes[path, "UnknownCustomer"] += 1
            same = model.raw == data
            assert same, f"{path}: UnknownCustomer.raw differs from the wire object"
            self.leaves += 1
            return
        cls: type[Any] = model.__class__
        if attrs.has(cls):
            self.classes[path, cls.__name__] += 1
            assert isinstance(data, dict), f"{path}: model {cls.__name__} from non-object"
            obj: dict[str, Any] = data  # pyright: ignore[reportUnknownVariableType]
            here = f"{path}<{cls.__name__}>"
            declared: tuple[attrs.Attribute[Any], ...] = attrs.fields(cls)
            names = [f.name for f in declared]
            if here not in self.optional:
                self.optional[here] = _optional_fields(cls)
            extra = set(obj) - set(names)
            if extra:
                self.extra[here] += 1
            for name in names:
                value = getattr(model, name)
                if name in obj:
                    (self.null if obj[name] is None else self.present)[f"{here}.{name}"] += 1
                else:
                    self.null[f"{here}.{name}"] += 1
                self._walk(value, obj.get(name), f"{here}.{name}")
            return
        if isinstance(model, datetime):
            assert model.tzinfo is not None, f"{path}: naive datetime"
            same = model == parse_wire_datetime(data)
            assert same, f"{path}: decoded date-time differs from the wire value"
        elif isinstance(model, tuple):
            items: tuple[Any, ...] = model  # pyright: ignore[reportUnknownVariableType]
            assert isinstance(data, list), f"{path}: tuple from non-array"
            wire: list[Any] = data  # pyright: ignore[reportUnknownVariableType]
            assert len(wire) == len(items), f"{path}: tuple length"
            for i, (m, d) in enumerate(zip(items, wire, strict=True)):
                self._walk(m, d, f"{path}[{i}]")
            return
        elif isinstance(model, list):
            seq: list[Any] = model  # pyright: ignore[reportUnknownVariableType]
            assert isinstance(data, list), f"{path}: list from non-array"
            wire = data  # pyright: ignore[reportUnknownVariableType]
            assert len(wire) == len(seq), f"{path}: list length"
            for m, d in zip(seq, wire, strict=True):
                self._walk(m, d, f"{path}[]")
            return
        else:
            # Values are compared without printing them: some are credentials.
            same = type(model) is type(data) and model == data
            assert same, (
                f"{path}: decoded {type(model).__name__} differs from wire {type(data).__name__}"
            )
        self.leaves += 1

    def variants(self, path: str) -> set[str]:
        """Classes seen at one census path, e.g. `$<CustomerSession>.customer`."""
        return {name for (p, name) in self.classes if p == path}

    def missing_null_or_present(self) -> list[str]:
        """Optional fields of every class seen that were never null, or never present."""
        gaps: list[str] = []
        for here, names in sorted(self.optional.items()):
            for name in sorted(names):
                key = f"{here}.{name}"
                if not self.null[key]:
                    gaps.append(f"{key} never null")
                if not self.present[key]:
                    gaps.append(f"{key} never present")
        return gaps

    def optional_field_count(self) -> int:
        return sum(len(v) for v in self.optional.values())
