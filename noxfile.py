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
    "trustme>=1.1",  # tests/test_transport.py: a throwaway CA for a loopback https server
]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Unit, integration (loopback servers) and contract tests."""
    session.install("-e", ".", *TEST_DEPS)
    if session.python in ("3.11", "3.13"):
        # The optional orjson speedup; 3.10 and 3.12 keep exercising the stdlib json path.
        session.install("orjson>=3.9")
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
    session.install(
        "-e",
        ".",
        "mypy>=1.11",
        "pyright>=1.1.380",
        "pytest>=8",
        "trio>=0.25",
        "uvicorn>=0.30",
        "orjson>=3.9",
    )
    session.run("mypy", "--strict", "polar_sdk", "tests/typing")
    session.run("pyright", "--pythonpath", session.virtualenv.bin + "/python")


@nox.session(python="3.11", default=False)
def generate(session: nox.Session) -> None:
    """Rewrite the generated sync facade (polar_sdk/_sync/) from the async source, then lint it.

    The generator reads the source with `ast` and needs nothing installed; tests/test_codegen.py
    fails when the committed files differ from what it writes.
    """
    session.install("ruff>=0.6")
    session.run("python", "-m", "codegen.sync_facade", *session.posargs)
    session.run("ruff", "check", "polar_sdk/_sync")
    session.run("ruff", "format", "--check", "polar_sdk/_sync")


BENCH_TOOLS = [
    "uvicorn>=0.30",
    "httptools>=0.6",
    "matplotlib>=3.8",
    "pyinstrument>=4.6",
    "uvloop>=0.19",  # our optional extra: the sync facade runs its portal loop on it
]
BENCH_PEER_1 = "polar-sdk==1.0.2"  # the official SDK, imports as `polar`
BENCH_PEER_0 = "polar-sdk==0.32.0"  # the previous official SDK, imports as `polar_sdk` like us


@nox.session(python="3.11", default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks against raw httpx and the official SDKs (`-- --quick` for a short run).

    Not part of CI. The peers are installed here only. polar-sdk 1.0.2 has the same distribution
    name as this project, so the project is not installed: its dependencies are, and bench/run.py
    imports polar_sdk from the checkout. polar-sdk 0.32.0 gets a venv of its own.
    """
    from pathlib import Path

    import tomllib  # noxfile runs on nox's own Python, 3.11+

    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    session.install(*project["dependencies"], *BENCH_TOOLS, BENCH_PEER_1)
    old = Path(session.virtualenv.location).parent / "bench-polar-sdk-0.32.0"
    old_python = old / "bin" / "python"
    if not old_python.exists():
        session.run("python", "-m", "venv", str(old))
    session.run(str(old_python), "-m", "pip", "install", "-q", BENCH_PEER_0, external=True)
    session.run(
        "python",
        "bench/run.py",
        "--old-python",
        str(old_python),
        *session.posargs,
        env={"PYTHONPATH": str(Path.cwd())},
    )
