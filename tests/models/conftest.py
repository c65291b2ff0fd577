"""The recorded-body suite's tally: what it checked, printed at the end of every run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

__all__ = ["Outcome", "Tally"]


@dataclass
class Outcome:
    """What the suite found for one recorded body."""

    name: str
    decoded: bool = False
    decode_error: str | None = None
    unions_total: int = 0
    unions_right: int = 0
    union_failures: list[str] = field(default_factory=list)
    tie_broken: int = 0  # union positions where several members validate
    fallbacks: int = 0  # union positions the oracle says no member fits
    problems: list[str] = field(default_factory=list)
    round_tripped: bool = False
    round_trip_diff: list[str] = field(default_factory=list)
    oracle_error: str | None = None


@dataclass(repr=False)
class Tally:
    """Every body's outcome, computed once per session (tests read them from here)."""

    bodies: int = 0  # recorded bodies collected
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def __repr__(self) -> str:  # short: pytest shows it in every failure
        return f"Tally({len(self.outcomes)} of {self.bodies} bodies checked)"

    def lines(self) -> list[str]:
        done = list(self.outcomes.values())
        decoded = sum(o.decoded for o in done)
        unions = sum(o.unions_total for o in done)
        right = sum(o.unions_right for o in done)
        trips = sum(o.round_tripped for o in done)
        ties = sum(o.tie_broken for o in done)
        fallbacks = sum(o.fallbacks for o in done)
        return [
            f"recorded bodies checked: {len(done)} of {self.bodies} collected",
            f"bodies decoded:          {decoded}/{len(done)}",
            f"union positions right:   {right}/{unions} "
            f"({ties} decided by a tie-break, {fallbacks} meaning the Unknown* fallback)",
            f"bodies round-tripped:    {trips}/{len(done)}",
        ]


_TALLY = Tally()


@pytest.fixture(scope="session")
def tally() -> Tally:
    return _TALLY


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _TALLY.outcomes:
        return
    terminalreporter.section("recorded bodies (tests/models)")
    for line in _TALLY.lines():
        terminalreporter.write_line(line)
