"""Every code block in README.md runs (or, for install and CI commands, is checked).

Python blocks are executed in order. Clients built for a real server (`server=`, or no
`base_url`) are pointed at a loopback server (tests/recorded_api.py): customer sessions go to a
`FakePolar` seeded with the customers the README mentions (POLAR_ACCESS_TOKEN is set to the
fake's token), every other operation gets a recorded answer of that operation. Shell commands
either run as subprocesses (`python examples/...`) or are checked against the installed package
metadata and noxfile.py; any other command fails the test, so a new kind of block cannot slip
in untested.
A block without a language must be the error tree, and is checked against `polar_sdk.errors`.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import polar_sdk
import polar_sdk.errors
from polar_sdk.testing import FakePolar
from tests.conftest import require_fixtures
from tests.recorded_api import RecordedAPI, serve

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```([\w+-]*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)


def blocks(language: str | None = None) -> list[tuple[int, str, str]]:
    """(line number, language, code) of every fenced block, optionally of one language."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        if language is None or match.group(1) == language:
            found.append((line, match.group(1), match.group(2)))
    return found


def test_every_block_is_of_a_known_kind() -> None:
    kinds = {lang for _, lang, _ in blocks()}
    assert kinds <= {"python", "bash", ""}, kinds
    assert len(blocks("python")) >= 6


QUICKSTART_COMMAND = (
    "python -m venv .venv && .venv/bin/pip install -e . && .venv/bin/python examples/quickstart.py"
)
TEST_COMMAND = (
    "python -m venv .venv && .venv/bin/pip install -U pip && "
    ".venv/bin/pip install -e . --group test && .venv/bin/pytest"
)
"""The two commands a newcomer gets; tests/test_fresh_clone.py runs them in a fresh clone."""


def test_the_one_command_start_comes_first() -> None:
    first = blocks()[0]
    assert (first[1], first[2].strip()) == ("bash", QUICKSTART_COMMAND)


def test_the_test_command_is_in_testing() -> None:
    testing = README.read_text(encoding="utf-8").split("\n## Testing\n", 1)[1]
    first = FENCE.search(testing)
    assert first is not None
    assert (first.group(1), first.group(2).strip()) == ("bash", TEST_COMMAND)


# ---- python ----------------------------------------------------------------------------------


# Answers for operations whose recordings hold no success (no browser login, no orders there).
EXTRA_ANSWERS = {
    "oauth2:request_token": (
        200,
        {
            "access_token": "polar_at_readmeExample",
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": None,
            "scope": "openid products:read",
            "id_token": None,
        },
    ),
    "orders:get": (404, {"error": "ResourceNotFound", "detail": "Order not found"}),
}


@pytest.fixture(scope="module")
def readme_api() -> Iterator[tuple[FakePolar, str, RecordedAPI]]:
    fake = FakePolar()
    # Customers the README's examples name.
    fake.add_individual(
        id="992fae2a-2a17-4b7a-8d9e-e287cf90131b", external_id="usr_123", email="u@example.com"
    )
    app = RecordedAPI(require_fixtures(), fake, EXTRA_ANSWERS)
    with serve(app) as url:
        yield fake, url, app


def _routed(cls: type[Any], url: str) -> type[Any]:
    """A subclass of a client class that sends to `url` whenever no base_url is given."""

    class Routed(cls):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if kwargs.get("base_url") is None:
                kwargs.pop("server", None)
                kwargs["base_url"] = url
            super().__init__(*args, **kwargs)

    Routed.__name__ = cls.__name__
    return Routed


def _calls_the_api(code: str) -> bool:
    lines = [line.split("#", 1)[0] for line in code.splitlines()]
    return any("customer_sessions.create(" in line for line in lines)


@pytest.mark.parametrize(
    ("line", "code"), [pytest.param(n, c, id=f"line{n}") for n, _, c in blocks("python")]
)
def test_python_block_runs(
    line: int,
    code: str,
    readme_api: tuple[FakePolar, str, RecordedAPI],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, url, app = readme_api
    monkeypatch.setenv("POLAR_ACCESS_TOKEN", fake.token)
    monkeypatch.setattr(polar_sdk, "AsyncPolar", _routed(polar_sdk.AsyncPolar, url))
    monkeypatch.setattr(polar_sdk, "Polar", _routed(polar_sdk.Polar, url))
    before = len(fake.requests)
    served = len(app.seen)
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__readme__"})
    for op_id, status in app.seen[served:]:
        # Every other operation a block calls has an answer to give (599: none recorded).
        assert status != 599, f"README.md:{line}: nothing recorded for {op_id}"
    if _calls_the_api(code) and "FakePolar" not in code:
        # The block really talked to the (fake) API, and got answers it could use.
        new = fake.requests[before:]
        assert new, "the block did not reach the API"
        assert any(r.status == 201 for r in new) or "usr_nobody" in code
    output = capsys.readouterr().out
    assert fake.token not in output


# ---- shell ------------------------------------------------------------------------------------


def _commands() -> list[tuple[int, list[str]]]:
    commands = []
    for line, _, code in blocks("bash"):
        for text in code.splitlines():
            text = text.split("#", 1)[0].strip()
            if text:
                commands.append((line, shlex.split(text)))
    return commands


def _declared_extras() -> set[str]:
    """Extras in pyproject.toml's [project.optional-dependencies] (tomllib is 3.11+)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r"^([\w-]+)\s*=", section, re.MULTILINE))


def _project_name() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^name = "([^"]+)"$', text, re.MULTILINE)
    assert match
    return match.group(1)


def _dependency_groups() -> set[str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[dependency-groups]", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r"^([\w-]+)\s*=", section, re.MULTILINE))


def _nox_sessions() -> set[str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(
            "session" in ast.unparse(d) for d in node.decorator_list
        ):
            names.add(node.name)
    return names


@pytest.mark.parametrize(
    ("line", "argv"), [pytest.param(n, a, id=" ".join(a)) for n, a in _commands()]
)
def test_shell_command(line: int, argv: list[str]) -> None:
    if " ".join(argv) in (QUICKSTART_COMMAND, TEST_COMMAND):
        # Run from a fresh clone by tests/test_fresh_clone.py (marker `heavy`); here, check
        # that the quickstart part works in this environment.
        assert (ROOT / "examples" / "quickstart.py").is_file()
        assert "test" in _dependency_groups()
    elif argv[:2] == ["python", "examples/quickstart.py"]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLAR_")}
        result = subprocess.run(
            [sys.executable, *argv[1:]],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "FAKE Polar API" in result.stdout
        assert "portal:" in result.stdout
    elif argv[:3] == ["pip", "install", "-e"]:
        # The install commands name this project and extras it declares.
        target = argv[3]
        match = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", target)
        assert match, target
        declared = _declared_extras()
        extras = set(match.group(1).split(",")) if match.group(1) else set()
        assert extras <= declared, (extras, declared)
    elif argv[:2] == ["pip", "install"] and len(argv) == 3:
        # From a package index: the distribution's own name (not PyPI's `polar-sdk`).
        match = re.fullmatch(r"([\w.-]+)(?:\[([\w,-]+)\])?", argv[2])
        assert match, argv
        assert match.group(1) == _project_name()
        assert set(match.group(2).split(",")) <= _declared_extras()
    elif argv[:2] == ["nox", "-s"]:
        assert set(argv[2:]) <= _nox_sessions()
        assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").count(" ".join(argv)) == 1
    else:
        pytest.fail(f"README.md:{line}: no rule to run or check {argv}; add one to this test")


# ---- the error tree ---------------------------------------------------------------------------


def test_error_tree_block_matches_the_error_classes() -> None:
    [(_, _, tree)] = blocks("")
    without_types = re.sub(r"\[[^\]]*\]", "", tree)  # drop "list[ValidationError]"
    named = set(re.findall(r"\b([A-Z][A-Za-z]+(?:Error|Exception))\b", without_types))
    public = {
        name
        for name in polar_sdk.errors.__all__
        if isinstance(getattr(polar_sdk.errors, name), type)
    }
    assert named == public
    # Each class is drawn under its real base class.
    for name in public:
        cls = getattr(polar_sdk.errors, name)
        if name == "PolarError":
            continue
        assert issubclass(cls, polar_sdk.errors.PolarError), name
