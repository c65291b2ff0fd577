"""Every recorded 2xx JSON body, decoded with the model the spec declares for its answer.

Per body (the test id is the fixture's name under `api/`):

- it decodes (`structure(body, <declared response type>)`);
- at every union-of-objects position, the decoded class is the member the spec means, as
  `tests/models/oracle.py` decides it from the raw spec (never from the generator's rules);
- `unstructure()` gives the body back, minus the keys the spec's schemas do not declare.

The counts are printed at the end of the run (tests/models/conftest.py). The last tests check
the oracle itself: on a small hand-written spec, and that it catches a wrong member.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import pytest

from polar_sdk.models import structure, unstructure
from tests.models.oracle import ABSENT, Oracle, OracleError, pointer
from tests.spec_support import (
    RecordedBody,
    python_type,
    recorded_success_bodies,
    wire_spec,
)

if TYPE_CHECKING:
    from tests.models.conftest import Outcome, Tally

heavy = pytest.mark.heavy

MIN_BODIES = 250
MIN_UNION_POSITIONS = 400


def _collect() -> tuple[list[RecordedBody], str | None]:
    try:
        return list(recorded_success_bodies()), None
    except pytest.skip.Exception as exc:  # no spec/fixtures locally (an error under CI=true)
        return [], str(exc.msg)


BODIES, SKIP_REASON = _collect()
BY_NAME = {b.name: b for b in BODIES}
NAMES = (
    [pytest.param(name, id=name) for name in BY_NAME]
    if SKIP_REASON is None
    else [pytest.param("", id="no-recordings", marks=pytest.mark.skip(reason=SKIP_REASON))]
)


@functools.cache
def _oracle() -> Oracle:
    return Oracle(wire_spec())


def _response_pointer(body: RecordedBody) -> str:
    op = body.operation
    answer = next(r for r in op.responses if r.status == body.status)
    assert answer.media_type is not None
    return pointer(
        "paths",
        op.path,
        op.method.lower(),
        "responses",
        str(body.status),
        "content",
        answer.media_type,
        "schema",
    )


def _diff(expected: Any, actual: Any, where: str = "$") -> list[str]:
    """Where two JSON values differ (first few places)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out: list[str] = []
        for key in expected.keys() | actual.keys():
            if key not in actual:
                out.append(f"{where}.{key}: missing (expected {expected[key]!r:.80})")
            elif key not in expected:
                out.append(f"{where}.{key}: not expected (got {actual[key]!r:.80})")
            else:
                out.extend(_diff(expected[key], actual[key], f"{where}.{key}"))
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [
            d
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for d in _diff(e, a, f"{where}[{i}]")
        ]
    if expected == actual and type(expected) is type(actual):
        return []
    if expected == actual and {type(expected), type(actual)} <= {int, float}:
        return []  # 1 == 1.0: the same JSON number
    return [f"{where}: expected {expected!r:.80}, got {actual!r:.80}"]


def outcome(name: str, tally: Tally) -> Outcome:
    """The checks of one body, computed once per session and counted in the tally."""
    from tests.models.conftest import Outcome

    done = tally.outcomes.get(name)
    if done is not None:
        return done
    tally.bodies = len(BODIES)
    body = BY_NAME[name]
    result = Outcome(name)
    decoded: Any
    try:
        decoded = structure(body.body, python_type(body.type))
        result.decoded = True
    except Exception as exc:
        decoded = ABSENT
        result.decode_error = f"{type(exc).__name__}: {exc}"
    try:
        walk = _oracle().walk(decoded, body.body, _response_pointer(body))
    except OracleError as exc:
        result.oracle_error = str(exc)
        tally.outcomes[name] = result
        return result
    result.unions_total = len(walk.checks)
    result.unions_right = sum(c.ok for c in walk.checks)
    result.union_failures = [c.describe() for c in walk.checks if not c.ok]
    result.fallbacks = sum(c.decision.member is None for c in walk.checks)
    result.tie_broken = sum(len(c.decision.valid) > 1 for c in walk.checks)
    result.problems = walk.problems
    if result.decoded:
        result.round_trip_diff = _diff(walk.expected, unstructure(decoded))
        result.round_tripped = not result.round_trip_diff
    tally.outcomes[name] = result
    return result


@heavy
@pytest.mark.parametrize("name", NAMES)
def test_body_decodes_with_the_declared_model(name: str, tally: Tally) -> None:
    result = outcome(name, tally)
    assert result.decode_error is None, f"{BY_NAME[name].type}: {result.decode_error}"


@heavy
@pytest.mark.parametrize("name", NAMES)
def test_union_positions_decode_to_the_member_the_spec_means(name: str, tally: Tally) -> None:
    result = outcome(name, tally)
    assert result.oracle_error is None, result.oracle_error
    assert result.union_failures == [], "\n".join(result.union_failures)
    assert result.problems == [], "\n".join(result.problems)


@heavy
@pytest.mark.parametrize("name", NAMES)
def test_body_round_trips_minus_undeclared_keys(name: str, tally: Tally) -> None:
    result = outcome(name, tally)
    assert result.decoded, result.decode_error
    assert result.round_trip_diff == [], "\n".join(result.round_trip_diff[:20])


@heavy
def test_the_suite_checked_enough(tally: Tally) -> None:
    """Not vacuous: every body is checked (again, if selection skipped some) and counted."""
    if SKIP_REASON is not None:
        pytest.skip(SKIP_REASON)
    results = [outcome(name, tally) for name in BY_NAME]
    assert len(results) >= MIN_BODIES
    assert sum(r.unions_total for r in results) >= MIN_UNION_POSITIONS
    # the recordings exercise the tie-breaks, not only "one member validates" (fallbacks
    # are exercised on purpose by test_oracle_catches_a_wrong_member and test_forward_compat)
    assert sum(r.tie_broken for r in results) >= 10


# -- the oracle itself ---------------------------------------------------------------------


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required}


_STR = {"type": "string"}
_REF = "#/components/schemas/"
MINI_SPEC: dict[str, Any] = {
    "components": {
        "schemas": {
            "Cat": _obj(["kind"], kind=_STR, name=_STR),
            "Dog": _obj(["kind"], kind=_STR, bark=_STR),
            "Pet": {
                "oneOf": [{"$ref": _REF + "Cat"}, {"$ref": _REF + "Dog"}],
                "discriminator": {
                    "propertyName": "kind",
                    "mapping": {"cat": _REF + "Cat", "dog": _REF + "Dog"},
                },
            },
            "Rock": _obj(["origin"], origin={"const": "earth"}),
            "Thing": {
                "oneOf": [{"$ref": _REF + "Rock"}, {"$ref": _REF + "Pet"}],
                "discriminator": {
                    "propertyName": "origin",
                    "mapping": {"earth": _REF + "Rock", "home": _REF + "Pet"},
                },
            },
            "Short": _obj(["a"], a=_STR),
            "Long": _obj(["a", "b"], a=_STR, b=_STR),
            "Either": {
                "anyOf": [{"$ref": _REF + "Short"}, {"$ref": _REF + "Long"}, {"type": "null"}]
            },
        }
    }
}


@pytest.mark.parametrize(
    ("union", "value", "member"),
    [
        ("Pet", {"kind": "dog"}, "Dog"),  # both validate: the discriminator's mapping
        ("Pet", {"kind": "cat", "name": "Tom"}, "Cat"),
        ("Thing", {"origin": "home", "kind": "cat"}, "Cat"),  # nested unions flatten
        ("Thing", {"origin": "earth"}, "Rock"),  # the only member that validates
        ("Either", {"a": "x", "b": "y"}, "Long"),  # the most required keys, all present
        ("Either", {"a": "x"}, "Short"),
        ("Either", {"b": 1}, None),  # no member validates: the fallback
        ("Pet", {"kind": 3}, None),
    ],
)
def test_oracle_decides_a_small_spec(union: str, value: Any, member: str | None) -> None:
    decision = Oracle(MINI_SPEC).decide(f"/components/schemas/{union}", value, None)
    assert decision.member == member, decision


def test_oracle_refuses_to_guess() -> None:
    with pytest.raises(OracleError, match="does not decide"):
        Oracle(MINI_SPEC).decide("/components/schemas/Pet", {"kind": "bird"}, None)


@heavy
@pytest.mark.parametrize(
    ("holder", "tag", "member"),
    [
        ("BenefitGrant", {"benefit": {"type": "custom"}}, "BenefitGrantCustomProperties"),
        ("BenefitGrant", {"benefit": {"type": "discord"}}, "BenefitGrantDiscordProperties"),
        (
            "CustomerStateBenefitGrant",
            {"benefit_type": "license_keys"},
            "BenefitGrantLicenseKeysProperties",
        ),
        (
            "CustomerStateBenefitGrant",
            {"benefit_type": "meter_credit"},
            "BenefitGrantMeterCreditProperties",
        ),
        ("CustomerStateBenefitGrant", {"benefit_type": "zz_new_kind"}, None),
        ("BenefitGrant", {"benefit": {"type": "a_new_kind"}}, None),
    ],
)
def test_oracle_reads_a_grants_properties_by_its_benefit_type(
    holder: str, tag: dict[str, Any], member: str | None
) -> None:
    ptr = f"/components/schemas/{holder}/properties/properties"
    decision = _oracle().decide(ptr, {}, (holder, "properties", tag))
    assert decision.member == member, decision


@heavy
def test_oracle_catches_a_wrong_member() -> None:
    """A repeating discount decoded as the once/forever class, and a customer of an unknown
    type decoded as a known one, are both reported; the right decodings are not."""
    if SKIP_REASON is not None:
        pytest.skip(SKIP_REASON)
    import polar_sdk.models as models

    repeating = next(
        b
        for b in BODIES
        if b.operation.operation_id == "discounts:get" and b.body["duration"] == "repeating"
    )
    ptr = _response_pointer(repeating)
    right = _oracle().walk(
        structure(repeating.body, python_type(repeating.type)), repeating.body, ptr
    )
    assert [c.ok for c in right.checks] == [True]
    once: type[Any] = (
        models.DiscountFixedOnceForeverDuration
        if repeating.body["type"] == "fixed"
        else models.DiscountPercentageOnceForeverDuration
    )
    wrong = _oracle().walk(structure(repeating.body, once), repeating.body, ptr)
    assert [c.ok for c in wrong.checks] == [False]

    customer = next(b for b in BODIES if b.operation.operation_id == "customers:get")
    robot = {**customer.body, "type": "robot"}
    ptr = _response_pointer(customer)
    fallback = _oracle().walk(structure(robot, python_type(customer.type)), robot, ptr)
    assert [(c.decision.member, c.ok) for c in fallback.checks] == [(None, True)]
    assert fallback.expected == robot
    member = _oracle().walk(structure(customer.body, python_type(customer.type)), robot, ptr)
    assert [c.ok for c in member.checks] == [False]
