"""Prints the recorded-replay counts (tests/resources/replay.py) at the end of the session."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    from tests.resources.replay import summary_lines

    lines = summary_lines()
    if not lines:
        return
    terminalreporter.section("recorded replay (tests/resources)")
    for line in lines:
        terminalreporter.write_line(line)
