"""Developer tasks: `nox -s lint typecheck tests` is what CI runs (see README, Testing)."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
TEST_DEPS = [
    "pytest>=8",
    "pytest-asyncio>=0.24",
    "uvicorn>=0.30",
    "starlette>=0.37",
    "trio>=0.25",
    "fastapi>=0.110",
]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Unit, integration (loopback servers) and contract tests."""
    session.install("-e", ".", *TEST_DEPS)
    session.run("pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy --strict and pyright strict over the package and the typing-only usage file."""
    session.install("-e", ".", "mypy>=1.11", "pyright>=1.1.380", "pytest>=8")
    session.run("mypy", "--strict", "polar_sdk", "tests/typing")
    session.run("pyright", "--pythonpath", session.virtualenv.bin + "/python")
