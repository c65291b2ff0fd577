"""README's two commands work from a fresh clone, and nox treats missing Pythons as it says.

The fresh-clone tests copy the files git tracks (or would track: untracked files that are not
ignored) into a temporary directory, as a clone of the working tree would have them, and run
README's commands there with `bash`, with no POLAR_* variables and no active virtualenv. They
install from the local pip cache or the package index, so they are `heavy` (one Python in nox)
and each command is bounded in time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_readme import QUICKSTART_COMMAND, TEST_COMMAND

ROOT = Path(__file__).resolve().parent.parent
COMMAND_TIMEOUT = 480  # seconds, per command; a warm pip cache needs well under a minute

# The tests run in the clone after the test command installed everything: quick ones only.
CLONE_TESTS = ["tests/test_public_api.py", "tests/test_configuration.py", "-q", "-x"]


def _clean_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("POLAR_", "PYTEST_", "NOX_"))
        and key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CI")
    }
    # Drop an active venv's bin directory, so `python` is whatever a shell would find.
    venv_bin = str(Path(sys.prefix) / "bin")
    if sys.prefix != sys.base_prefix:
        env["PATH"] = os.pathsep.join(
            part for part in env.get("PATH", "").split(os.pathsep) if part != venv_bin
        )
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture
def fresh_clone(tmp_path: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    clone = tmp_path / "polar_sdk-clone"
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # deleted but not yet staged files are listed too
            target = clone / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    assert (clone / "pyproject.toml").is_file()
    assert not (clone / ".venv").exists()
    return clone


def _bash(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


@pytest.mark.heavy
def test_quickstart_command_from_a_fresh_clone(fresh_clone: Path) -> None:
    result = _bash(QUICKSTART_COMMAND, fresh_clone)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "FAKE Polar API" in result.stdout
    assert "portal:" in result.stdout
    assert (fresh_clone / ".venv" / "bin" / "python").exists()

    # The official SDK installs next to this one: different distribution names, so pip does
    # not uninstall the project (with the old name `polar_sdk` it did, breaking the import).
    official = _bash(
        # From outside the clone, so `import polar_sdk` cannot come from the working directory.
        ".venv/bin/pip install --no-deps polar-sdk==1.0.2 && cd .. && "
        f"{fresh_clone.name}/.venv/bin/python -c "
        "'import polar_sdk, importlib.metadata as m; print(polar_sdk.__file__); "
        'print(m.version("polar-async-sdk"), m.version("polar-sdk"))\'',
        fresh_clone,
    )
    assert official.returncode == 0, official.stdout[-3000:] + official.stderr[-3000:]
    where, versions = official.stdout.strip().splitlines()[-2:]
    assert Path(where).resolve().is_relative_to(fresh_clone.resolve())
    assert versions.split()[1] == "1.0.2"


@pytest.mark.heavy
def test_test_command_from_a_fresh_clone(fresh_clone: Path) -> None:
    # README's command, with a selection of test files appended to its `pytest`.
    assert TEST_COMMAND.endswith(".venv/bin/pytest")
    result = _bash(f"{TEST_COMMAND} {' '.join(CLONE_TESTS)}", fresh_clone)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
    assert " failed" not in result.stdout


# nox finds the Python it runs on whatever PATH says: ask for another one.
MISSING = "3.13" if sys.version_info[:2] == (3, 10) else "3.10"


def _nox(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    nox = shutil.which("nox", path=str(Path(sys.executable).parent))
    if nox is None:
        pytest.fail("nox is not installed next to this Python; it is in the `test` group")
    empty = tmp_path / "no-pythons"
    empty.mkdir(exist_ok=True)
    env = {"PATH": str(empty), "HOME": os.environ.get("HOME", str(tmp_path))}
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [nox, "-s", f"tests-{MISSING}", "--envdir", str(tmp_path / "nox")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_nox_skips_a_missing_interpreter_locally(tmp_path: Path) -> None:
    result = _nox(tmp_path, ci=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"Session tests-{MISSING} skipped: Python interpreter {MISSING} not found" in output


def test_nox_fails_on_a_missing_interpreter_in_ci(tmp_path: Path) -> None:
    result = _nox(tmp_path, ci=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"Session tests-{MISSING} failed: Python interpreter {MISSING} not found" in output
