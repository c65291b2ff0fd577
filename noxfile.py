"""Developer tasks: `nox -s lint typecheck tests` is what CI runs (see README, Testing).

`tests` runs on every Python in PYTHONS that is on PATH. Locally a missing one is skipped, and
nox says so in a line of its own ("Session tests-3.10 skipped: Python interpreter 3.10 not
found."); in CI (`CI` set to true, 1 or yes) a missing interpreter is an error, so the matrix
cannot shrink unnoticed.
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = os.environ.get("CI", "").lower() in ("1", "true", "yes")

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
HEAVY_PYTHON = "3.11"  # the all-schema suites (marker `heavy`) run on this one only
PYPROJECT = nox.project.load_toml("pyproject.toml")
# The dependency groups of pyproject.toml, so that `pip install --group test` (README) and nox
# install the same things. ruff is pinned there: the generator formats its output with it.
TEST_DEPS = nox.project.dependency_groups(PYPROJECT, "test")
(RUFF,) = nox.project.dependency_groups(PYPROJECT, "lint")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Unit, integration (loopback servers) and contract tests."""
    session.install("-e", ".", *TEST_DEPS)
    if session.python in ("3.11", "3.13"):
        # The optional orjson speedup; 3.10 and 3.12 keep exercising the stdlib json path.
        session.install("orjson>=3.9")
    args = list(session.posargs)
    if session.python != HEAVY_PYTHON and not any(a.startswith("-m") for a in args):
        args = ["-m", "not heavy", *args]
    session.run("pytest", *args)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install(RUFF)
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
    """Rewrite every generated file: the models from the spec, the sync facade from the
    async source (`python -m codegen.generate`; POLAR_OPENAPI_SPEC names the spec).

    Output is formatted with the pinned ruff; tests/codegen/test_generated.py fails when the
    committed files differ from what this writes.
    """
    session.install("-e", ".", RUFF)
    session.run("python", "-m", "codegen.generate", *session.posargs)
    session.run("ruff", "check", "polar_sdk/models", "polar_sdk/_sync")
    session.run("ruff", "format", "--check", "polar_sdk/models", "polar_sdk/_sync")


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

    Not part of CI. The peers are installed here only. The project is not installed next to
    polar-sdk 1.0.2 (which imports as `polar`): its dependencies are, and bench/run.py imports
    polar_sdk from the checkout, so a run always measures the working tree. (Before the
    distribution was renamed to polar-async-sdk, installing it would also have uninstalled
    polar-sdk, the same name once normalised.) polar-sdk 0.32.0 imports as `polar_sdk` like
    this project, so it gets a venv of its own.
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


@nox.session(python="3.11", default=False)
def bench_models(session: nox.Session) -> None:
    """The models benchmark against polar-sdk 1.0.2 (`-- --quick` for a short run).

    bench/bench_models.py: import cost, first decode per type, steady decode of every recorded
    2xx body, memory. Needs POLAR_OPENAPI_SPEC and POLAR_FIXTURES_DIR (as the heavy tests do).
    A lean venv of its own: the project's dependencies (imported from the checkout, as in
    `bench`) and polar-sdk 1.0.2, no orjson, so decoding is measured with stdlib json.
    """
    from pathlib import Path

    import tomllib

    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    session.install(*project["dependencies"], BENCH_PEER_1)
    session.run(
        "python",
        "bench/bench_models.py",
        *session.posargs,
        env={"PYTHONPATH": str(Path.cwd())},
    )


@nox.session(python="3.11", default=False)
def bench_operations(session: nox.Session) -> None:
    """The operations benchmark of issue 11 (`-- --quick` for a short run).

    bench/bench_operations.py: construction and first call against the pre-operations package
    (exported from git, commit 7d89857), per-call overhead of create / list page / update
    against raw httpx, pagination against polar-sdk 1.0.2. Needs POLAR_FIXTURES_DIR. The same
    venv as `bench` (the project's dependencies, imported from the checkout, and polar-sdk 1.0.2).
    """
    from pathlib import Path

    import tomllib

    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    session.install(*project["dependencies"], *BENCH_TOOLS, BENCH_PEER_1)
    session.run(
        "python",
        "bench/bench_operations.py",
        *session.posargs,
        env={"PYTHONPATH": str(Path.cwd())},
    )


@nox.session(python="3.11", default=False)
def bench_webhooks(session: nox.Session) -> None:
    """The webhook benchmark of issue 12 (`-- --quick` for a short run).

    bench/bench_webhooks.py: verify + decode of order.paid, subscription.updated and
    customer.state_changed against the bare HMAC-SHA256 + json.loads of the same bytes and
    against polar-sdk 0.32.0 and 1.0.2, and the first event in a fresh process. Needs
    POLAR_OPENAPI_SPEC (the order.paid body is built from the spec with the contract tests'
    ValueBuilder, hence jsonschema, pytest and uvicorn here) and the recorded deliveries
    (POLAR_FIXTURES_DIR/webhooks). The project's dependencies (imported from the checkout, as in
    `bench`) and polar-sdk 1.0.2 in this venv, no orjson; polar-sdk 0.32.0 (imports as
    `polar_sdk`, like us) in the venv of its own the `bench` session uses.
    """
    from pathlib import Path

    import tomllib

    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    session.install(
        *project["dependencies"], BENCH_PEER_1, "jsonschema>=4.18", "pytest>=8", "uvicorn>=0.30"
    )
    old = Path(session.virtualenv.location).parent / "bench-polar-sdk-0.32.0"
    old_python = old / "bin" / "python"
    if not old_python.exists():
        session.run("python", "-m", "venv", str(old))
    session.run(str(old_python), "-m", "pip", "install", "-q", BENCH_PEER_0, external=True)
    session.run(
        "python",
        "bench/bench_webhooks.py",
        "--old-python",
        str(old_python),
        *session.posargs,
        env={"PYTHONPATH": str(Path.cwd())},
    )


@nox.session(python="3.11", default=False)
def bench_floor(session: nox.Session) -> None:
    """The floor benchmark of issue 15 (`-- --quick` for a short run).

    bench/bench_floor.py: polar_sdk (async on asyncio and uvloop, and the blocking facade) and raw
    httpx against the floor of a loopback HTTP/1.1 round trip in CPython -- an asyncio.Protocol
    client and a raw socket client with a Content-Length parser and json.loads -- side by side
    in one process pinned to core 1, against a lean asyncio server pinned to core 0. The
    project's dependencies (imported from the checkout, as in `bench`) plus uvloop; no orjson.
    """
    from pathlib import Path

    import tomllib

    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    session.install(*project["dependencies"], "uvloop>=0.19")
    session.run(
        "python", "bench/bench_floor.py", *session.posargs, env={"PYTHONPATH": str(Path.cwd())}
    )
