from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakeapi import FakePolarAPI
from tests.faultserver import FaultServer

TOKEN = "polar_oat_testTokenForTheFakeApi0000000000000000000000"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def shared_path(variable: str, *, directory: bool) -> Path | None:
    """The shared-material path in `variable`, None when unset (an error under CI=true)."""
    value = os.environ.get(variable)
    if not value:
        if _in_ci():
            raise RuntimeError(f"{variable} must be set in CI (see .ci/run)")
        return None
    path = Path(value)
    if not (path.is_dir() if directory else path.is_file()):
        raise RuntimeError(f"{variable}={value} is not a {'directory' if directory else 'file'}")
    return path


def fixtures_dir() -> Path | None:
    """The recorded-exchange directory from POLAR_FIXTURES_DIR, or None when unset."""
    return shared_path("POLAR_FIXTURES_DIR", directory=True)


def require_fixtures() -> Path:
    path = fixtures_dir()
    if path is None:
        pytest.skip("POLAR_FIXTURES_DIR is not set; it points at ../shared/polar-fixtures")
    return path


def load_case(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def session_case_paths() -> list[Path]:
    """Every recorded exchange with POST /v1/customer-sessions* (both fixture folders)."""
    root = fixtures_dir()
    if root is None:
        return []
    paths = sorted(root.glob("customer-sessions/*.json")) + sorted(
        root.glob("api/customer_sessions/*.json")
    )
    result = []
    for p in paths:
        case = load_case(p)
        if case["request"]["path"].startswith("/v1/customer-sessions"):
            result.append(p)
    return result


@pytest.fixture(scope="session")
def fake_api_server() -> Iterator[FakePolarAPI]:
    server = FakePolarAPI()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_api(fake_api_server: FakePolarAPI) -> Iterator[FakePolarAPI]:
    fake_api_server.reset()
    yield fake_api_server
    fake_api_server.reset()


@pytest.fixture(scope="session")
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def faults(fault_server: FaultServer) -> FaultServer:
    """The fault-injection server, with its script, counters and default answer reset."""
    fault_server.reset()
    return fault_server


@pytest.fixture(params=["asyncio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _no_server_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their server explicitly: POLAR_SERVER / POLAR_BASE_URL of the shell that
    runs them must not move clients built without `server=` or `base_url=`."""
    monkeypatch.delenv("POLAR_SERVER", raising=False)
    monkeypatch.delenv("POLAR_BASE_URL", raising=False)
