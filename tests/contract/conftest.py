"""Fixtures for the contract tests: one static and one dynamic Prism per test session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.contract.dynamic_spec import SUMMARY
from tests.contract.prism import PrismServer, find_prism


@dataclass(frozen=True)
class PrismPair:
    """A Prism answering with the spec's examples and one generating answers (`-d`)."""

    static: PrismServer
    dynamic: PrismServer
    spec: dict[str, Any]


@pytest.fixture(scope="session")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismPair]:
    setup = find_prism()
    logs: Path = tmp_path_factory.mktemp("prism")
    static = PrismServer(setup, dynamic=False, log_path=logs / "static.log")
    dynamic = PrismServer(setup, dynamic=True, log_path=logs / "dynamic.log")
    try:
        static.start()  # both boot at the same time; parsing the spec takes a few seconds
        dynamic.start()
        static.wait_ready()
        dynamic.wait_ready()
        spec: dict[str, Any] = json.loads(setup.spec.read_text(encoding="utf-8"))
        yield PrismPair(static=static, dynamic=dynamic, spec=spec)
    finally:
        static.stop()
        dynamic.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What the Prism fuzzing of the response schemas covered (test_models_dynamic.py)."""
    summary = terminalreporter.config.stash.get(SUMMARY, None)
    if summary is None:
        return
    terminalreporter.write_sep("-", "Prism response-schema fuzzing")
    for line in summary.lines():
        terminalreporter.write_line(line)
