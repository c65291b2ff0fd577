"""Forward compatibility on mutated real answers.

Every recorded 2xx body is decoded once; walking the decoded tree next to its JSON finds every
model object and, through the generator's IR, the type of each field. Then copies of the body
are mutated the way a newer server (or a broken one) would change it:

- enum fields get a value this version does not know: the string survives;
- tagged unions get an unknown tag: the object becomes the union's `Unknown*` fallback, whose
  `raw` is the object as received, and it unstructures back to exactly that;
- every object gets a field nobody declares: the decode equals the unmutated one (models
  whose schema allows extra keys keep it in `extra` instead);
- optional fields are left out: they read as None (NOT_GIVEN in request-side models), and the
  body round-trips without them;
- a required field goes missing, or a field gets a value of the wrong type, deep in the body:
  `ResponseDecodeError` names the model and the JSON path, keeps the input in `.data`, and
  quotes no secret value.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import attrs
import pytest

import polar_sdk.models as models
from codegen.openapi import ir
from polar_sdk import NOT_GIVEN
from polar_sdk.errors import ResponseDecodeError
from polar_sdk.models import structure, unstructure
from polar_sdk.models._base import ModelBase, RequestModel, UnknownModel
from tests.spec_support import RecordedBody, api, python_type, recorded_success_bodies

pytestmark = pytest.mark.heavy

Path = tuple[str | int, ...]
COUNTS: Counter[str] = Counter()
NEW_VALUE = "zz_new_value_2099"


@dataclass(frozen=True)
class Site:
    """A model object in a decoded answer: where its JSON is, and its IR model."""

    path: Path
    obj: Any
    model: ir.ModelDef


def _models_by_class() -> dict[str, ir.ModelDef]:
    return {m.py_name: m for m in api().models.values()}


def _strip(tp: ir.TypeExpr) -> ir.TypeExpr:
    return tp.inner if isinstance(tp, ir.Nullable) else tp


def sites(obj: Any, path: Path = ()) -> Iterator[Site]:
    """Every (non-fallback) model object of a decoded tree, with its JSON path."""
    if isinstance(obj, UnknownModel):
        return
    if isinstance(obj, ModelBase):
        model = _models_by_class()[type(obj).__name__]
        yield Site(path, obj, model)
        for a in attrs.fields(type(obj)):
            wire = a.metadata.get("wire", a.name)
            if a.name == "extra" and model.extra is not None:
                continue
            yield from sites(getattr(obj, a.name), (*path, wire))
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            yield from sites(item, (*path, i))
    elif isinstance(obj, dict):
        for key, item in obj.items():
            yield from sites(item, (*path, key))


def _get(data: Any, path: Path) -> Any:
    for step in path:
        data = data[step]
    return data


def _at(obj: Any, path: Path) -> Any:
    """The decoded value at a JSON path (wire names mapped to attributes)."""
    for step in path:
        if isinstance(obj, ModelBase):
            names = {a.metadata.get("wire", a.name): a.name for a in attrs.fields(type(obj))}
            obj = getattr(obj, names[str(step)])
        else:
            obj = obj[step]
    return obj


def _field(model: ir.ModelDef, wire: str) -> ir.Field:
    return next(f for f in model.fields if f.wire_name == wire)


def _is_enum(tp: ir.TypeExpr) -> bool:
    tp = _strip(tp)
    return isinstance(tp, ir.OpenEnum) or (isinstance(tp, ir.Named) and tp.name in api().enums)


def _union_of(tp: ir.TypeExpr) -> ir.UnionDef | None:
    tp = _strip(tp)
    if isinstance(tp, ir.ListOf):
        tp = _strip(tp.item)
    if isinstance(tp, ir.Named) and tp.name in api().unions:
        return api().unions[tp.name]
    return None


def _cases() -> list[RecordedBody]:
    return list(recorded_success_bodies())


def _decoded(case: RecordedBody) -> Any:
    return structure(case.body, python_type(case.type))


def _declared_only(obj: Any, data: Any) -> Any:
    """`data` minus the keys the decoded models do not declare (for round-trip checks)."""
    if isinstance(obj, UnknownModel):
        return data
    if isinstance(obj, ModelBase) and isinstance(data, dict):
        fields = {a.metadata.get("wire", a.name): a.name for a in attrs.fields(type(obj))}
        keeps_extra = "extra" in fields and isinstance(getattr(obj, "extra", None), dict)
        out = {}
        for key, value in data.items():
            if key in fields and key != "extra":
                out[key] = _declared_only(getattr(obj, fields[key]), value)
            elif keeps_extra:
                out[key] = value
        return out
    if isinstance(obj, (list, tuple)) and isinstance(data, list):
        return [_declared_only(o, d) for o, d in zip(obj, data, strict=True)]
    if isinstance(obj, dict) and isinstance(data, dict):
        return {k: _declared_only(obj.get(k), v) for k, v in data.items()}
    return data


CASES = _cases() if api else []


def _ids() -> list[str]:
    return [c.name for c in CASES]


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    print("\nmutations applied:", dict(sorted(COUNTS.items())))


@pytest.mark.parametrize("case", CASES, ids=_ids())
def test_unknown_enum_values_survive(case: RecordedBody) -> None:
    decoded = _decoded(case)
    body = copy.deepcopy(case.body)
    changed: list[Path] = []
    for site in sites(decoded):
        for f in site.model.fields:
            if not _is_enum(f.type):
                continue
            holder = _get(body, site.path)
            if isinstance(holder.get(f.wire_name), str):
                holder[f.wire_name] = NEW_VALUE
                changed.append((*site.path, f.wire_name))
    if not changed:
        return
    # A changed enum can be a union's tag: keep only the paths still inside known members.
    mutated = structure(body, python_type(case.type))
    checked = 0
    for path in changed:
        try:
            value = _at(mutated, path)
        except (KeyError, AttributeError, TypeError):
            continue  # its object became a union fallback (covered below)
        assert value == NEW_VALUE, path
        checked += 1
    COUNTS["enum values"] += checked


@pytest.mark.parametrize("case", CASES, ids=_ids())
def test_unknown_union_tags_become_the_fallback(case: RecordedBody) -> None:
    decoded = _decoded(case)
    for site in sites(decoded):
        for f in site.model.fields:
            union = _union_of(f.type)
            if union is None or not isinstance(union.rule, ir.TagRule):
                continue
            if union.rule.path[0] == "..":
                continue
            value = _get(case.body, site.path).get(f.wire_name)
            items = value if isinstance(value, list) else [value]
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    continue
                body = copy.deepcopy(case.body)
                target = _get(body, (*site.path, f.wire_name))
                if isinstance(value, list):
                    target = target[index]
                holder: Any = target
                for key in union.rule.path[:-1]:
                    holder = holder[key]
                holder[union.rule.path[-1]] = "zz_new_tag"
                mutated = structure(body, python_type(case.type))
                got = _at(mutated, (*site.path, f.wire_name))
                if isinstance(value, list):
                    got = got[index]
                assert type(got).__name__ == union.fallback, (f.wire_name, type(got))
                assert got.raw == target
                assert unstructure(got) == target
                COUNTS["union tags"] += 1


def _add_field_everywhere(decoded: Any, body: Any) -> int:
    count = 0
    for site in sites(decoded):
        holder = _get(body, site.path)
        if isinstance(holder, dict):
            holder["zz_new_field"] = {"nested": [1, 2]}
            count += 1
    return count


@pytest.mark.parametrize("case", CASES, ids=_ids())
def test_unknown_fields_at_every_depth_are_ignored(case: RecordedBody) -> None:
    decoded = _decoded(case)
    body = copy.deepcopy(case.body)
    added = _add_field_everywhere(decoded, body)
    mutated = structure(body, python_type(case.type))
    extras = [s for s in sites(decoded) if s.model.extra is not None]
    if not extras:
        assert mutated == decoded
    for site in extras:
        assert _at(mutated, site.path).extra["zz_new_field"] == {"nested": [1, 2]}
    COUNTS["unknown fields"] += added


@pytest.mark.parametrize("case", CASES, ids=_ids())
def test_missing_optional_fields_read_as_none_and_round_trip(case: RecordedBody) -> None:
    decoded = _decoded(case)
    body = copy.deepcopy(case.body)
    removed: list[tuple[Path, bool]] = []
    for site in sites(decoded):
        try:
            holder = _get(body, site.path)
        except (KeyError, IndexError):
            continue  # inside an optional object removed already
        request = issubclass(type(site.obj), RequestModel)
        for f in site.model.fields:
            # Answers may leave out any optional field, and (for models only answers use)
            # any nullable one; a model that requests share keeps the request's contract.
            optional = not f.required or (isinstance(f.type, ir.Nullable) and not request)
            if optional and f.wire_name in holder and not isinstance(f.type, ir.Const):
                del holder[f.wire_name]
                removed.append(((*site.path, f.wire_name), request))
    if not removed:
        return
    mutated = structure(body, python_type(case.type))
    for path, request in removed:
        try:
            value = _at(mutated, path)
        except (KeyError, TypeError):
            continue  # inside an object that moved with an outer removal
        assert value is (NOT_GIVEN if request else None), path
    assert unstructure(mutated) == _declared_only(mutated, body)
    COUNTS["optional fields removed"] += len(removed)


def _deep_sites(case: RecordedBody) -> list[Site]:
    return [s for s in sites(_decoded(case)) if len(s.path) >= 2]


def _secret_values(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, str) and (key.endswith(("token", "secret")) or key == "key"):
                yield value
            yield from _secret_values(value)
    elif isinstance(data, list):
        for value in data:
            yield from _secret_values(value)


def _expect_error(case: RecordedBody, body: Any, path: Path) -> None:
    try:
        result = structure(body, python_type(case.type))
    except ResponseDecodeError:
        pass
    else:
        # The field was what tells the object's union apart (its tag, or the object holding
        # the tag): without it the object is one this version cannot place, which is the
        # fallback's job, not an error.
        assert isinstance(_at(result, path[:-1]), UnknownModel), path
        COUNTS["tag broken: fallback"] += 1
        return
    with pytest.raises(ResponseDecodeError) as info:
        structure(body, python_type(case.type))
    message = str(info.value)
    wanted = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    assert wanted in message, (wanted, message)
    assert info.value.data is body
    for secret in _secret_values(case.body):
        if len(secret) >= 8:
            assert secret not in message


WRONG = {"str": 12345, "int": "x", "float": "x", "bool": "false", "datetime": "yesterday"}


@pytest.mark.parametrize("case", CASES, ids=_ids())
def test_missing_required_and_wrong_types_name_the_path(case: RecordedBody) -> None:
    for site in _deep_sites(case)[:3]:
        holder = _get(case.body, site.path)
        for f in site.model.fields:
            if f.wire_name not in holder or f.py_name != f.wire_name:
                continue
            tp = _strip(f.type)
            if f.required and not isinstance(f.type, ir.Nullable) and not isinstance(tp, ir.Const):
                body = copy.deepcopy(case.body)
                del _get(body, site.path)[f.wire_name]
                _expect_error(case, body, (*site.path, f.wire_name))
                COUNTS["required removed"] += 1
            if isinstance(tp, ir.Prim) and tp.kind in WRONG:
                body = copy.deepcopy(case.body)
                _get(body, site.path)[f.wire_name] = WRONG[tp.kind]
                _expect_error(case, body, (*site.path, f.wire_name))
                COUNTS["wrong types"] += 1
            elif isinstance(tp, ir.Named) and tp.name in api().models:
                body = copy.deepcopy(case.body)
                _get(body, site.path)[f.wire_name] = [1, 2]
                _expect_error(case, body, (*site.path, f.wire_name))
                COUNTS["object given a list"] += 1


def test_every_category_was_exercised() -> None:
    # runs last in this file (pytest keeps definition order)
    for category in ("enum values", "union tags", "unknown fields", "optional fields removed",
                     "required removed", "wrong types", "object given a list"):  # fmt: skip
        assert COUNTS[category] > 0, (category, dict(COUNTS))
    assert len({c.operation.operation_id for c in CASES}) > 100


def test_models_expose_every_mutated_name() -> None:
    assert hasattr(models, "UnknownCustomer")
