"""The committed generated files are exactly what `nox -s generate` writes from the spec.

Regenerates everything (models from the spec, the sync facade from the async source) into a
temporary tree and compares whole files and the file list with the committed ones; also that
every generated file carries the banner and no hand-written file does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from codegen import generate
from tests.spec_support import spec

pytestmark = pytest.mark.heavy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fresh() -> dict[str, str]:
    return generate.generate(spec())


def test_committed_generated_files_are_exactly_what_the_generator_writes(
    fresh: dict[str, str],
) -> None:
    committed = generate.generated_on_disk(ROOT)
    missing = sorted(set(fresh) - set(committed))
    extra = sorted(set(committed) - set(fresh))
    assert not missing and not extra, (
        f"file list differs (run `nox -s generate`): missing {missing[:5]}, extra {extra[:5]}"
    )
    stale = [name for name, text in fresh.items() if committed[name] != text]
    assert stale == [], f"stale generated files (run `nox -s generate`): {stale[:10]}"
    assert len(fresh) > 400  # every model module, the lazy index and the sync facade
    # every group of operations in both worlds, and the operation list
    assert len([n for n in fresh if n.startswith("polar_sdk/resources/")]) == 28
    assert len([n for n in fresh if n.startswith("polar_sdk/_sync/resources/")]) == 28
    assert generate.API_DOC in fresh


def test_every_generated_file_has_the_banner_and_parses(fresh: dict[str, str]) -> None:
    for name, text in fresh.items():
        if name == generate.API_DOC:
            assert text.split("\n", 1)[0] == generate.DOC_BANNER
            continue
        assert text.split("\n", 1)[0] in generate.BANNERS, name
        ast.parse(text, filename=name)


def test_hand_written_modules_carry_no_banner() -> None:
    generated = set(generate.generated_on_disk(ROOT))
    for name in ("_base.py", "_checks.py", "_convert.py"):
        path = ROOT / "polar_sdk" / "models" / name
        assert path.is_file(), name
        assert str(path.relative_to(ROOT)) not in generated, name


def test_check_mode_reports_edits_and_leftovers(tmp_path: Path, fresh: dict[str, str]) -> None:
    generate.write(fresh, tmp_path)
    assert generate.stale(fresh, tmp_path) == []
    target = "polar_sdk/models/_customer.py"
    (tmp_path / target).write_text(generate.BANNERS[0] + "\n# edited by hand\n", encoding="utf-8")
    leftover = tmp_path / "polar_sdk" / "models" / "_old_model.py"
    leftover.write_text(generate.BANNERS[0] + "\nx = 1\n", encoding="utf-8")
    hand = tmp_path / "polar_sdk" / "models" / "_hand.py"
    hand.write_text("# hand-written\n", encoding="utf-8")
    assert generate.stale(fresh, tmp_path) == [
        "polar_sdk/models/_customer.py",
        "polar_sdk/models/_old_model.py",
    ]
    generate.write(fresh, tmp_path)  # rewrites the edit, deletes the leftover, keeps _hand.py
    assert generate.stale(fresh, tmp_path) == []
    assert not leftover.exists()
    assert hand.read_text(encoding="utf-8") == "# hand-written\n"


def test_generation_is_deterministic(fresh: dict[str, str]) -> None:
    again = generate.generate(spec())
    assert again == fresh


def test_missing_spec_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLAR_OPENAPI_SPEC", raising=False)
    with pytest.raises(generate.SpecMissing, match="POLAR_OPENAPI_SPEC"):
        generate.load_spec()
    assert generate.main(["--check"]) == 2
