"""Packaging (issue 13): the distribution's own name, LICENSE, project URLs, absolute README
links, install hints that name the distribution, docstrings that stay inside the package."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "polar_sdk"
DISTRIBUTION = "polar-async-sdk"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def _repository_url() -> str:
    section = _pyproject().split("[project.urls]", 1)[1].split("\n[", 1)[0]
    match = re.search(r'^Repository = "([^"]+)"$', section, re.MULTILINE)
    assert match, "pyproject.toml [project.urls] has no Repository"
    return match.group(1)


def test_distribution_name_is_not_the_official_sdks() -> None:
    match = re.search(r'^name = "([^"]+)"$', _pyproject(), re.MULTILINE)
    assert match
    name = match.group(1)
    assert name == DISTRIBUTION
    # pip normalises names (PEP 503): ours must not become PyPI's `polar-sdk`.
    assert re.sub(r"[-_.]+", "-", name).lower() != "polar-sdk"


def test_license_file_is_mit_and_declared() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert 'license = "MIT"' in _pyproject()
    assert 'license-files = ["LICENSE"]' in _pyproject()


def test_readme_links_are_absolute_and_resolve() -> None:
    repo = _repository_url()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = LINK.findall(readme)
    assert links
    for link in links:
        assert link.startswith("https://"), f"relative link {link!r} breaks on the package index"
        if link.startswith(repo + "/"):
            rest = link[len(repo) + 1 :]
            match = re.fullmatch(r"(?:blob|tree)/main/([^#]+)", rest)
            assert match, link
            assert (ROOT / match.group(1)).exists(), link


def test_install_hints_name_the_distribution() -> None:
    hints = []
    for path in [*PACKAGE.rglob("*.py"), ROOT / "README.md", ROOT / "BENCHMARKS.md"]:
        text = path.read_text(encoding="utf-8")
        hints += [(path, hint) for hint in re.findall(r"pip install ['\"]?([\w.-]+)\[", text)]
    assert len(hints) >= 4
    for path, name in hints:
        assert name == DISTRIBUTION, (path, name)


def _docstrings(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                found.append(doc)
    return found


def test_docstrings_do_not_point_outside_the_package() -> None:
    outside = re.compile(
        r"\b(?:BENCHMARKS\.md|README(?:\.md)?|RELIABILITY\.md|noxfile\.py|"
        r"(?<![\w/.])(?:bench|docs|tests|examples|codegen)/[\w./]+)"
    )
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for doc in _docstrings(ast.parse(path.read_text(encoding="utf-8"))):
            offenders += [(path.relative_to(ROOT), hit) for hit in outside.findall(doc)]
    assert not offenders


@pytest.mark.heavy
def test_sdist_and_wheel_carry_license_and_metadata(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [sdist] = tmp_path.glob("*.tar.gz")
    [wheel] = tmp_path.glob("*.whl")
    assert sdist.name.startswith("polar_async_sdk-") and wheel.name.startswith("polar_async_sdk-")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "README.md", "pyproject.toml", "polar_sdk/__init__.py"} <= names
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    assert {name.split("/", 1)[0] for name in names if "/" in name} == {
        "polar_sdk",
        metadata_name.split("/", 1)[0],
    }
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert metadata["Name"] == DISTRIBUTION
    assert metadata["License-Expression"] == "MIT"
    urls = dict(value.split(", ", 1) for value in metadata.get_all("Project-URL"))
    assert urls["Repository"] == _repository_url()
