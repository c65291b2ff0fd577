"""Shared by the all-schema suites: the spec, its IR, Python types, and the recorded 2xx bodies.

The spec comes from `POLAR_OPENAPI_SPEC` and the recordings from `POLAR_FIXTURES_DIR`
(`.ci/run` points both at ../shared). Without them these suites skip with the reason, except
under `CI=true`, where a missing file is an error.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from codegen.openapi import ir
from codegen.openapi.build import build_api
from tests.conftest import fixtures_dir, shared_path

__all__ = [
    "RecordedBody",
    "api",
    "python_type",
    "recorded_success_bodies",
    "require_spec",
    "spec",
    "wire_spec",
]


def spec_path() -> Path | None:
    return shared_path("POLAR_OPENAPI_SPEC", directory=False)


def require_spec() -> Path:
    path = spec_path()
    if path is None:
        pytest.skip("POLAR_OPENAPI_SPEC is not set; point it at ../shared/polar-openapi")
    return path


@functools.cache
def spec() -> dict[str, Any]:
    """The OpenAPI document (skips when it is not available, see the module docstring)."""
    result: dict[str, Any] = json.loads(require_spec().read_text(encoding="utf-8"))
    return result


@functools.cache
def wire_spec() -> dict[str, Any]:
    """The spec plus the answers the overlay adds from the recordings (schemas, statuses).

    Only those wire facts: client registration's answers, which the spec leaves empty. The
    overlay's other tables (union names and rules, patched shapes) stay out, so oracles built
    on this remain independent of the generator's decisions.
    """
    from codegen.openapi.build import apply_overlay
    from codegen.openapi.overlay import EXTRA_SCHEMAS, RESPONSE_PATCHES, Overlay

    facts = Overlay(extra_schemas=EXTRA_SCHEMAS, response_patches=RESPONSE_PATCHES)
    return apply_overlay(spec(), facts)


@functools.cache
def api() -> ir.Api:
    """The generator's IR of the spec."""
    return build_api(spec())


def python_type(tp: ir.TypeExpr) -> Any:
    """The runtime type a response of IR type `tp` decodes to (`ListResource[Customer]`, ...)."""
    import polar_sdk.models as models

    if isinstance(tp, ir.Named):
        base = getattr(models, api().py_name(tp.name))
        if tp.args:
            return base[tuple(python_type(a) for a in tp.args)]
        return base
    if isinstance(tp, ir.ListOf):
        return list[python_type(tp.item)]  # type: ignore[misc]
    if isinstance(tp, ir.Nullable):
        return python_type(tp.inner) | None
    raise TypeError(f"no runtime type for {tp!r}")


@dataclass(frozen=True)
class RecordedBody:
    """One recorded exchange whose answer is a JSON 2xx body of a declared schema."""

    path: Path
    name: str  # relative to the fixtures' api/ folder, e.g. "customers/get_200_team.json"
    operation: ir.Operation
    status: int
    type: ir.TypeExpr
    body: Any
    raw: bytes  # the body as the server sent it (re-encoded compactly; same JSON value)


def _route(op: ir.Operation) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(op.path))
    return re.compile(f"^{pattern}$")


def recorded_success_bodies() -> Iterator[RecordedBody]:
    """Every recorded 2xx JSON answer under `api/` whose operation declares a JSON schema.

    A recorded request is matched to the spec's operation by method and path (templated
    segments match any segment; a literal segment beats a template). Exchanges of paths the
    spec does not have (deprecated routes) are skipped.
    """
    root = fixtures_dir()
    if root is None:
        pytest.skip("POLAR_FIXTURES_DIR is not set; it points at ../shared/polar-fixtures")
    operations = [(op, _route(op)) for op in api().operations]
    for path in sorted((root / "api").rglob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        if "request" not in case:
            continue
        status = case["response"]["status"]
        content_type = case["response"]["headers"].get("content-type", "")
        if not 200 <= status < 300 or "json" not in content_type:
            continue
        method = case["request"]["method"]
        request_path = case["request"]["path"].split("?", 1)[0]
        matches = [
            op for op, route in operations if op.method == method and route.match(request_path)
        ]
        if not matches:
            continue
        op = min(matches, key=lambda o: o.path.count("{"))
        answer = next((r for r in op.responses if r.status == status), None)
        if answer is None or answer.type is None:
            continue
        body = case["response"]["body"]
        yield RecordedBody(
            path=path,
            name=str(path.relative_to(root / "api")),
            operation=op,
            status=status,
            type=answer.type,
            body=body,
            raw=json.dumps(body, ensure_ascii=False).encode(),
        )
