"""Recorded replay: every recorded Polar exchange, sent again through the SDK.

For each file under `$POLAR_FIXTURES_DIR/api/` (see tests/resources/replay.py for how a case
becomes a call) the SDK calls a loopback server that answers with the recorded response,
and the test checks both directions:

- what the server received is exactly what the real server received: method, path
  (segment by segment, percent-decoded), query (a multiset of pairs; date-times compared
  as instants), body (equal as JSON, or as form pairs), `Content-Length: 0` on bodiless
  POST/PATCH/PUT, the credentials and `Polar-Version`;
- what the SDK made of the answer: for 2xx the declared result (a model whose
  `unstructure()` equals the recorded body minus the keys its schema does not declare; no
  `Unknown*` fallback anywhere; `None` for empty answers; the text of CSV exports), for
  any other status the right `APIException` subclass with the recorded status and body.

When the SDK refuses before sending (`InvalidRequestError`, or a recorded body its request
models cannot hold) the real server must have refused that request too; a refusal of
something the server accepted is an SDK bug. An operation that needs a token, recorded
without one, must fail with `ConfigurationError` before sending, and the server must have
answered 400/401 then.

JSON and form bodies are replayed twice: as `request=<model>` and as keyword fields. Every
case runs through `AsyncPolar`; the first case of each (operation, recorded status) also
runs through the blocking `Polar` (its `request=` form).
The counts (replayed, refused, not expressible with reasons, statuses, operations covered)
are printed at the end of the session by tests/resources/conftest.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from codegen.openapi import ir
from tests.conftest import require_fixtures
from tests.resources.replay import (
    POLAR_VERSION,
    Case,
    NotExpressible,
    Plan,
    RawPathFakeAPI,
    body_forms,
    compare_body,
    compare_path,
    compare_query,
    declared_projection,
    json_diff,
    load_cases,
    operations_covered,
    plan,
    record,
    recorded_reply,
    summary_lines,
)
from tests.spec_support import api, python_type

pytestmark = [pytest.mark.integration, pytest.mark.heavy]

CASES = load_cases()

# Recorded paths that no operation of the spec has: an unknown route, two methods the routes
# do not allow, and the deprecated /v1/members/{id} routes. Reviewed; keep the list short.
UNMATCHED = frozenset(
    {
        "errors/404_unknown_route",
        "errors/405_delete_products_collection",
        "errors/405_put_customer",
        "members/deprecated_get_200",
        "members/deprecated_get_external_200",
    }
)

# Operations the recordings do not reach, although api/README.md says every operation has a
# case (checked 2026-12: no file under api/ calls them). Remove an entry when a case arrives.
FIXTURE_GAPS = frozenset(
    {
        "checkout-links:delete",
        "customer_portal:orders:list",
        "customer_portal:seats:list_seats",
        "files:list",
        "license_keys:update",
    }
)

# Recorded requests the SDK cannot produce, by reason (see replay.NotExpressible). Each is a
# deliberate probe of the server (wrong version, malformed body, undeclared parameter...).
MAX_NOT_EXPRESSIBLE = 40


def _variants(case: Case) -> tuple[str, ...]:
    try:
        return plan(case).variants
    except NotExpressible:
        return ("call",)


def _params(*, sync: bool) -> list[Any]:
    if not CASES:
        # No recordings: the test asks for them (a skip with the reason, an error in CI).
        return [pytest.param(None, "call", id="no-fixtures")]
    out = []
    seen: set[tuple[str, int]] = set()
    for case in CASES:
        if sync:
            # The blocking facade wraps the same calls: one case per (operation, status).
            key = (case.operation.operation_id if case.operation else case.name, case.status)
            if key in seen:
                continue
            seen.add(key)
        variants = _variants(case)
        for variant in variants[:1] if sync else variants:
            out.append(pytest.param(case, variant, id=f"{case.name}-{variant}"))
    return out


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def replay_server() -> Iterator[RawPathFakeAPI]:
    server = RawPathFakeAPI()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(replay_server: RawPathFakeAPI, monkeypatch: pytest.MonkeyPatch) -> RawPathFakeAPI:
    monkeypatch.delenv("POLAR_ACCESS_TOKEN", raising=False)
    replay_server.reset()
    return replay_server


# -- the inventory (no SDK call) -----------------------------------------------------------


def test_every_recorded_case_has_its_operation() -> None:
    require_fixtures()
    assert len(CASES) >= 613
    unmatched = {c.name for c in CASES if c.operation is None}
    assert unmatched == UNMATCHED, sorted(unmatched ^ UNMATCHED)
    for case in CASES:
        if case.name in UNMATCHED:
            assert case.status in (200, 404, 405), case.name
    ops = {op.operation_id for op in api().operations}
    assert len(ops) == 186
    covered = operations_covered(CASES)
    assert ops - covered == FIXTURE_GAPS, sorted((ops - covered) ^ FIXTURE_GAPS)
    assert len(covered) == 186 - len(FIXTURE_GAPS)


def test_recorded_requests_become_arguments() -> None:
    """Every matched case plans into a call or a reasoned `NotExpressible`; few are the latter."""
    require_fixtures()
    refused = []
    for case in CASES:
        try:
            p = plan(case)
        except NotExpressible as exc:
            refused.append((case.name, str(exc)))
            continue
        declared = {q.py_name for q in p.op.params if q.location == "query"}
        assert set(p.query) <= declared, case.name
        assert len(p.path_args) == sum(q.location == "path" for q in p.op.params), case.name
    assert len(refused) <= MAX_NOT_EXPRESSIBLE, refused


def test_comparison_helpers() -> None:
    from tests.resources.replay import json_equal, path_segments

    # date-time query values compare as instants, nothing else does
    z, offset = "t=2026-11-26T00:00:00Z", "t=2026-11-26T00%3A00%3A00%2B00%3A00"
    assert compare_query(z, offset, {"t"}) == []
    assert compare_query(z, offset, set()) != []
    assert compare_query("t=2026-11-26T01:00:00%2B01:00", z, {"t"}) == []
    assert compare_query("t=2026-11-26T00:00:00", z, {"t"}) != []  # naive is not UTC
    assert compare_query("a=1&a=2&b=x", "b=x&a=2&a=1", ()) == []
    assert compare_query("a=1&a=1", "a=1", ()) != []
    # a %2F inside a segment is not a separator
    assert path_segments("/v1/x/a%2Fb") == ["", "v1", "x", "a/b"]
    assert compare_path("/v1/x/a%2Fb", "/v1/x/a/b") != []
    assert compare_path("/v1/x/a%20b+c", "/v1/x/a%20b%2Bc") == []
    # JSON equality: true is not 1, 1 is 1.0, key sets must match
    assert not json_equal(True, 1) and json_equal(1, 1.0) and not json_equal({"a": 1}, {})


# -- replay --------------------------------------------------------------------------------


def sdk_method(client: Any, op: ir.Operation) -> Callable[..., Any]:
    target = client
    for attribute in op.resource:
        target = getattr(target, attribute)
    method: Callable[..., Any] = getattr(target, op.method_name)
    return method


class Prepared:
    """A planned case with its body form, or the reason it does not reach the server."""

    def __init__(self, case: Case, variant: str) -> None:
        self.case = case
        self.variant = variant
        self.plan: Plan | None = None
        self.kwargs: dict[str, Any] = {}
        self.not_expressible: NotExpressible | None = None
        self.refused: Exception | None = None
        try:
            self.plan = plan(case)
            forms = body_forms(self.plan)
        except NotExpressible as exc:
            self.not_expressible = exc
            return
        if forms.refused is not None:
            self.refused = forms.refused
            return
        if variant not in forms.forms:
            # e.g. keyword fields of an Unknown* body: only `request=` can carry it.
            self.not_expressible = NotExpressible("body", f"no {variant} form for this body")
            return
        self.kwargs = {**self.plan.query, **forms.forms[variant]}


def _settled_before_sending(prepared: Prepared, client: str) -> bool:
    """Handles the cases that never reach the SDK's send; False when the call should run.

    A case the SDK cannot express is recorded (test_not_expressible_cases_are_few bounds
    them and names each reason), not skipped; a body the models refuse must be one the
    server refused too.
    """
    case = prepared.case
    if prepared.not_expressible is not None:
        record(case, prepared.variant, client, "not expressible", str(prepared.not_expressible))
        return True
    if prepared.refused is not None:
        # The SDK's request models cannot hold the recorded body (a required field missing,
        # a value a validator refuses): the SDK would not send it. Fine if the server
        # refused it too.
        detail = f"{case.status}: body refused by the models: {str(prepared.refused)[:200]}"
        if case.status < 400:
            record(case, prepared.variant, client, "failed", detail)
            pytest.fail(
                f"SDK bug: the server accepted ({case.status}) a body the SDK refuses: "
                f"{prepared.refused}"
            )
        record(case, prepared.variant, client, "refused", detail)
        return True
    return False


def _check_outcome(
    prepared: Prepared,
    server: RawPathFakeAPI,
    result: Any,
    error: BaseException | None,
) -> tuple[str, str]:
    """Asserts everything about one call; returns the outcome kind and a detail."""
    from polar_sdk.errors import APIException, ConfigurationError, InvalidRequestError

    p = prepared.plan
    assert p is not None
    case = prepared.case
    status = case.status
    if p.expect_configuration_error:
        assert isinstance(error, ConfigurationError), (
            f"{p.op.operation_id} needs a token and the client has none: expected "
            f"ConfigurationError before sending, got {error!r} / {result!r}"
        )
        assert server.requests == [], "sent a request although it raised ConfigurationError"
        assert status in (400, 401), (
            f"the SDK refuses {p.op.operation_id} without a token, but the real server "
            f"answered {status} to the unauthenticated request (it does not require one)"
        )
        return "no token", str(error)
    if isinstance(error, InvalidRequestError):
        assert server.requests == [], "InvalidRequestError raised after sending"
        assert status >= 400, (
            f"SDK bug: refused before sending ({error}), but the server accepted it ({status})"
        )
        # With `request=<model>` the caller gave no keyword fields: a refusal that says so
        # is wrong whatever the server answered (a path parameter named like a body field).
        assert not (prepared.variant == "request" and "request=" in str(error)), (
            f"SDK bug: request= alone refused as if keyword fields were given: {error}"
        )
        return "refused", f"{status}: {error}"
    if error is not None and not isinstance(error, APIException):
        raise error
    # -- what was sent
    assert len(server.requests) == 1, f"{len(server.requests)} requests sent"
    seen = server.requests[0]
    problems: list[str] = []
    if seen.method != case.method:
        problems.append(f"method: expected {case.method}, sent {seen.method}")
    problems += compare_path(case.path, server.raw_paths[0])
    problems += compare_query(case.query, seen.query, p.datetime_keys)
    problems += compare_body(p, seen)
    if seen.headers.get("polar-version") != POLAR_VERSION:
        problems.append(f"Polar-Version: {seen.headers.get('polar-version')!r}")
    expected_auth = None if p.token is None else f"Bearer {p.token}"
    if seen.headers.get("authorization") != expected_auth:
        problems.append(
            f"Authorization: expected {expected_auth!r}, sent {seen.headers.get('authorization')!r}"
        )
    assert not problems, "sent request differs from the recording:\n" + "\n".join(problems)
    # -- what was decoded
    if 200 <= status < 300:
        _check_success(p, result, error)
    else:
        _check_error(case, error, result)
    return "replayed", ""


def _check_success(p: Plan, result: Any, error: BaseException | None) -> None:
    from polar_sdk.models import unstructure

    case = p.case
    declared = next((r for r in p.op.responses if r.status == case.status), None)
    assert error is None, f"{case.status} answer raised {error!r}"
    body = case.response["body"]
    if declared is None:
        # The server answered a 2xx the spec does not declare (client registration: 201
        # where the spec says 200 without a body). Any result is acceptable, not an error.
        return
    if declared.kind == "none":
        assert result is None, f"expected None for {case.status}, got {result!r}"
        return
    if declared.kind == "text":
        assert isinstance(result, str), f"expected the exported text, got {type(result)}"
        assert result == body
        return
    assert declared.type is not None
    decoded = result
    paginated = p.op.pagination is not None or p.op.operation_id == "events:list"
    if paginated:
        assert hasattr(result, "result") and hasattr(result, "items"), (
            f"expected a page object, got {type(result).__name__}"
        )
        decoded = result.result
        assert list(result.items) == list(decoded.items)
        assert result.pagination == decoded.pagination
    _check_type(decoded, declared.type)
    unknown = list(_unknown_members(decoded, "$"))
    assert not unknown, f"decoded into fallback classes: {unknown}"
    expected = declared_projection(body, decoded)
    got = json.loads(json.dumps(unstructure(decoded), ensure_ascii=False))
    diff = json_diff(expected, got)
    assert not diff, "decoded answer differs from the recording:\n" + "\n".join(diff)


def _check_type(decoded: Any, tp: ir.TypeExpr) -> None:
    schema = api()
    while isinstance(tp, ir.Nullable):
        tp = tp.inner
    if isinstance(tp, ir.ListOf):
        assert isinstance(decoded, list), type(decoded)
        for item in decoded:
            _check_type(item, tp.item)
        return
    if not isinstance(tp, ir.Named):
        return
    if tp.name in schema.models:
        expected = schema.models[tp.name].py_name
        assert type(decoded).__name__ == expected, f"{type(decoded).__name__} != {expected}"
        if not tp.args:
            assert isinstance(decoded, python_type(tp))
    elif tp.name in schema.unions:
        union = schema.unions[tp.name]
        names = {schema.py_name(m.name) for m in union.members} | {union.fallback}
        assert type(decoded).__name__ in names, f"{type(decoded).__name__} not in {names}"


def _unknown_members(value: Any, where: str) -> Iterator[str]:
    import attrs

    from polar_sdk.models._base import UnknownModel

    if isinstance(value, UnknownModel):
        yield f"{where}: {type(value).__name__}"
    elif attrs.has(type(value)):
        for a in attrs.fields(type(value)):
            yield from _unknown_members(getattr(value, a.name), f"{where}.{a.name}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _unknown_members(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _unknown_members(item, f"{where}.{key}")


def _expected_error_class(status: int) -> str | None:
    if status >= 500:
        return "ServerError"
    return {
        400: "BadRequestError",
        401: "AuthenticationError",
        403: "PermissionDeniedError",
        404: "NotFoundError",
        409: "ConflictError",
        422: "HTTPValidationError",
        429: "RateLimitError",
    }.get(status)


def _check_error(case: Case, error: BaseException | None, result: Any) -> None:
    from polar_sdk.errors import APIException, HTTPValidationError

    status = case.status
    assert isinstance(error, APIException), f"{status} answer gave {result!r}, not an error"
    assert error.status_code == status
    expected = _expected_error_class(status)
    if expected is not None:
        assert type(error).__name__ == expected, f"{type(error).__name__} for {status}"
    raw = recorded_reply(case).body
    assert error.body == raw.decode()
    if status == 422:
        assert isinstance(error, HTTPValidationError)
        body = case.response["body"]
        if isinstance(body, dict) and isinstance(body.get("detail"), list):
            assert [(d.loc, d.msg) for d in error.detail] == [
                (d["loc"], d["msg"]) for d in body["detail"]
            ]


async def _call_async(
    prepared: Prepared, server: RawPathFakeAPI
) -> tuple[Any, BaseException | None]:
    from polar_sdk import AsyncPolar
    from polar_sdk.errors import PolarError

    p = prepared.plan
    assert p is not None
    server.reply_recorded(prepared.case)
    async with AsyncPolar(p.token, base_url=server.url, retry=None) as polar:
        method = sdk_method(polar, p.op)
        try:
            return await method(*p.path_args, **prepared.kwargs), None
        except PolarError as exc:
            return None, exc


def _call_sync(prepared: Prepared, server: RawPathFakeAPI) -> tuple[Any, BaseException | None]:
    from polar_sdk import Polar
    from polar_sdk.errors import PolarError

    p = prepared.plan
    assert p is not None
    server.reply_recorded(prepared.case)
    with Polar(p.token, base_url=server.url, retry=None) as polar:
        method = sdk_method(polar, p.op)
        try:
            return method(*p.path_args, **prepared.kwargs), None
        except PolarError as exc:
            return None, exc


def _finish(
    prepared: Prepared,
    client: str,
    server: RawPathFakeAPI,
    result: Any,
    error: BaseException | None,
) -> None:
    try:
        kind, detail = _check_outcome(prepared, server, result, error)
    except BaseException as exc:
        record(prepared.case, prepared.variant, client, "failed", f"{type(exc).__name__}: {exc}")
        raise
    record(prepared.case, prepared.variant, client, kind, detail)  # type: ignore[arg-type]


@pytest.mark.anyio
@pytest.mark.parametrize(("case", "variant"), _params(sync=False))
async def test_replay_async(case: Case, variant: str, server: RawPathFakeAPI) -> None:
    if case is None:
        require_fixtures()
    prepared = Prepared(case, variant)
    if _settled_before_sending(prepared, "async"):
        return
    try:
        result, error = await _call_async(prepared, server)
    except BaseException as exc:
        record(case, variant, "async", "failed", f"{type(exc).__name__}: {exc}")
        raise
    _finish(prepared, "async", server, result, error)


@pytest.mark.parametrize(("case", "variant"), _params(sync=True))
def test_replay_sync(case: Case, variant: str, server: RawPathFakeAPI) -> None:
    if case is None:
        require_fixtures()
    prepared = Prepared(case, variant)
    if _settled_before_sending(prepared, "sync"):
        return
    try:
        result, error = _call_sync(prepared, server)
    except BaseException as exc:
        record(case, variant, "sync", "failed", f"{type(exc).__name__}: {exc}")
        raise
    _finish(prepared, "sync", server, result, error)


def test_summary() -> None:
    """Runs last in this module: prints the counts (also printed at the end of the session)."""
    require_fixtures()
    lines = summary_lines()
    print("\n".join(lines))
