"""The generated operations against a real loopback server: the calling contract end to end.

Pagination (async and blocking: every page, early break, an error mid-way, limit kept),
credentials per call (organization token, session token through `with_options`, none for
public operations, many interleaved), request shaping that only the wire shows (path
encoding, repeated and deepObject query keys, form bodies, `Content-Length: 0`), results by
status (204/202 -> None, CSV -> str), raw responses, and the same requests through the
SDK's own client and a caller's httpx client.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest

from polar_sdk import AsyncPolar, Polar
from polar_sdk.errors import (
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    ServerError,
)
from polar_sdk.models import CustomerIndividual, CustomerIndividualCreate, CustomerTeam
from tests.conftest import TOKEN
from tests.fakeapi import FakePolarAPI

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SESSION_TOKEN = "polar_mst_sessionTokenForTheFakeApi000000000000000000"
ORG = "1dbfc517-0bbf-4301-9ba8-555ca42b9737"


def customer(index: int) -> dict[str, Any]:
    return {
        "id": f"7d5a7a70-e4c2-4b63-9163-{index:012d}",
        "created_at": "2026-11-26T12:28:21.512018Z",
        "modified_at": None,
        "metadata": {"n": index},
        "external_id": f"usr_{index}",
        "email": f"user{index}@example.com",
        "email_verified": False,
        "type": "individual",
        "name": None,
        "billing_name": None,
        "billing_address": None,
        "tax_id": None,
        "locale": None,
        "organization_id": ORG,
        "default_payment_method_id": None,
        "deleted_at": None,
        "first_user_event_at": None,
        "avatar_url": "https://www.gravatar.com/avatar/x?d=404",
    }


def page_body(page: int, limit: int, total: int) -> dict[str, Any]:
    start = (page - 1) * limit
    items = [customer(i) for i in range(start, min(start + limit, total))]
    max_page = -(-total // limit)
    return {"items": items, "pagination": {"total_count": total, "max_page": max_page}}


def queue_pages(api: FakePolarAPI, total: int, limit: int) -> None:
    for page in range(1, -(-total // limit) + 1):
        api.reply(200, page_body(page, limit, total))


def query(seen: Any) -> list[tuple[str, str]]:
    return sorted(parse_qsl(seen.query, keep_blank_values=True))


@pytest.fixture
def api(fake_api: FakePolarAPI) -> FakePolarAPI:
    return fake_api


def client(api: FakePolarAPI, **kwargs: Any) -> AsyncPolar:
    kwargs.setdefault("access_token", TOKEN)
    return AsyncPolar(base_url=api.url, retry=None, **kwargs)


# -- pagination -----------------------------------------------------------------------------


async def test_async_iteration_walks_every_page(api: FakePolarAPI) -> None:
    queue_pages(api, total=1000, limit=100)
    async with client(api) as polar:
        seen = [c.id async for c in polar.customers.list(limit=100, organization_id=ORG)]
    assert len(seen) == 1000
    assert len(set(seen)) == 1000
    assert [dict(parse_qsl(r.query)).get("page", "1") for r in api.requests] == [
        "1",
        *[str(n) for n in range(2, 11)],
    ]
    assert all(dict(parse_qsl(r.query))["limit"] == "100" for r in api.requests)
    assert all(dict(parse_qsl(r.query))["organization_id"] == ORG for r in api.requests)


async def test_await_gives_the_first_page_and_next_page_moves_on(api: FakePolarAPI) -> None:
    queue_pages(api, total=5, limit=2)
    async with client(api) as polar:
        page = await polar.customers.list(limit=2)
        assert page.page_number == 1
        assert [c.email for c in page.items] == ["user0@example.com", "user1@example.com"]
        assert page.pagination.total_count == 5
        assert page.has_next_page()
        page = await page.next_page()
        page = await page.next_page()
        assert page.page_number == 3
        assert len(page.items) == 1
        assert not page.has_next_page()
        with pytest.raises(InvalidRequestError, match="last page"):
            await page.next_page()
    assert len(api.requests) == 3


async def test_early_break_stops_asking(api: FakePolarAPI) -> None:
    queue_pages(api, total=50, limit=10)
    async with client(api) as polar:
        async for item in polar.customers.list(limit=10):
            if item.email == "user12@example.com":
                break
    assert len(api.requests) == 2


async def test_an_error_mid_way_raises_where_iteration_reaches_it(api: FakePolarAPI) -> None:
    api.reply(200, page_body(1, 2, 6))
    api.reply(200, page_body(2, 2, 6))
    api.reply(500, raw=b"Internal Server Error", headers={"content-type": "text/plain"})
    got: list[str] = []

    async def walk(polar: AsyncPolar) -> None:
        async for item in polar.customers.list(limit=2):
            got.append(item.id)

    async with client(api) as polar:
        with pytest.raises(ServerError, match="500"):
            await walk(polar)
    assert len(got) == 4


async def test_empty_list_has_no_next_page(api: FakePolarAPI) -> None:
    api.reply(200, {"items": [], "pagination": {"total_count": 0, "max_page": 0}})
    async with client(api) as polar:
        page = await polar.customers.list()
        assert page.items == []
        assert not page.has_next_page()
    assert api.requests[0].query == ""  # nothing given, nothing sent


def test_blocking_iteration_crosses_once_per_page(api: FakePolarAPI) -> None:
    queue_pages(api, total=250, limit=100)
    with Polar(base_url=api.url, access_token=TOKEN, retry=None) as polar:
        page = polar.customers.list(limit=100)
        assert len(page.items) == 100
        everything = list(page)
        assert len(everything) == 250
        assert page.has_next_page()
        assert isinstance(everything[0], CustomerIndividual)
    assert len(api.requests) == 3


async def test_cursor_pagination_follows_has_next_page(api: FakePolarAPI) -> None:
    event = {
        "id": "0a7c50f0-8e36-4d5d-8d0e-2b0c0c9f0a01",
        "timestamp": "2026-11-26T12:00:00Z",
        "organization_id": ORG,
        "customer_id": None,
        "customer": None,
        "external_customer_id": "usr_1",
        "member_id": None,
        "external_member_id": None,
        "child_count": 0,
        "parent_id": None,
        "label": "api call",
        "source": "user",
        "name": "api.call",
        "metadata": {},
    }
    api.reply(200, {"items": [event], "pagination": {"has_next_page": True}})
    api.reply(200, {"items": [event], "pagination": {"has_next_page": False}})
    async with client(api) as polar:
        names = [e.name async for e in polar.events.list(limit=1)]
    assert len(names) == 2
    assert dict(parse_qsl(api.requests[1].query))["page"] == "2"


# -- credentials ----------------------------------------------------------------------------


async def test_public_operations_send_no_token_and_work_without_one(
    api: FakePolarAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POLAR_ACCESS_TOKEN", raising=False)
    api.reply(204)
    async with client(api) as polar:
        # A public operation sends no Authorization even when the client has a token.
        await polar.customer_portal.license_keys.deactivate(
            key="LK-1", organization_id=ORG, activation_id="0a7c50f0-8e36-4d5d-8d0e-2b0c0c9f0a01"
        )
    async with AsyncPolar(base_url=api.url, access_token=None) as anonymous:
        api.reply(204)
        await anonymous.customer_portal.license_keys.deactivate(
            key="LK-1", organization_id=ORG, activation_id="0a7c50f0-8e36-4d5d-8d0e-2b0c0c9f0a01"
        )
        with pytest.raises(ConfigurationError, match="POLAR_ACCESS_TOKEN"):
            await anonymous.customers.get("7d5a7a70-e4c2-4b63-9163-e1ec8f1dafa9")
    assert len(api.requests) == 2
    assert all("authorization" not in r.headers for r in api.requests)


async def test_session_token_drives_the_portal_through_with_options(api: FakePolarAPI) -> None:
    api.reply(204)
    api.reply(200, page_body(1, 10, 1))
    async with client(api) as polar:
        portal = polar.with_options(access_token=SESSION_TOKEN)
        await portal.customer_portal.customers.delete_payment_method(
            "0a7c50f0-8e36-4d5d-8d0e-2b0c0c9f0a01"
        )
        await polar.customers.list()
        await portal.aclose()  # a view closes nothing
        assert not polar.closed
    first, second = api.requests
    assert first.headers["authorization"] == f"Bearer {SESSION_TOKEN}"
    assert second.headers["authorization"] == f"Bearer {TOKEN}"


async def test_interleaved_credentials_never_mix(api: FakePolarAPI) -> None:
    body = customer(1)
    api.always(200, body)
    tokens = [f"polar_oat_tenant{i:02d}{'x' * 30}" for i in range(8)]
    async with client(api, max_in_flight=4) as polar:
        views = {t: polar.with_options(access_token=t) for t in tokens}

        async def one(i: int) -> None:
            token = tokens[i % len(tokens)]
            # A fresh view now and then: ids of dropped views get reused.
            view = views[token] if i % 3 else polar.with_options(access_token=token)
            await view.customers.get(f"7d5a7a70-e4c2-4b63-9163-{i:012d}")

        async with anyio.create_task_group() as tg:
            for i in range(160):
                tg.start_soon(one, i)
    assert len(api.requests) == 160
    for request in api.requests:
        index = int(request.path.rsplit("-", 1)[1])
        assert request.headers["authorization"] == f"Bearer {tokens[index % len(tokens)]}"


def test_blocking_with_options_shares_the_thread(api: FakePolarAPI) -> None:
    api.reply(204)
    api.reply(200, customer(3))
    with Polar(base_url=api.url, access_token=TOKEN, retry=None) as polar:
        portal = polar.with_options(access_token=SESSION_TOKEN)
        portal.customer_portal.customers.delete_payment_method(
            "0a7c50f0-8e36-4d5d-8d0e-2b0c0c9f0a01"
        )
        portal.close()  # a view closes nothing
        assert polar.customers.get("7d5a7a70-e4c2-4b63-9163-e1ec8f1dafa9").id == customer(3)["id"]
    first, second = api.requests
    assert first.headers["authorization"] == f"Bearer {SESSION_TOKEN}"
    assert second.headers["authorization"] == f"Bearer {TOKEN}"


# -- request shaping on the wire -----------------------------------------------------------


async def test_path_parameters_are_percent_encoded(api: FakePolarAPI) -> None:
    api.reply(404, {"error": "ResourceNotFound", "detail": "Not found"})
    api.reply(404, {"error": "ResourceNotFound", "detail": "Not found"})
    async with client(api) as polar:
        with pytest.raises(NotFoundError) as info:
            await polar.customers.get_external("a/b c?d")
        assert info.value.error == "ResourceNotFound"
        with pytest.raises(NotFoundError):
            await polar.customers.get_external("..")
        with pytest.raises(InvalidRequestError, match="must not be empty"):
            await polar.customers.get_external("")
        with pytest.raises(InvalidRequestError, match="UUID"):
            await polar.customers.get("not-a-uuid")
    raw_paths = [r.headers.get("x-raw-path", r.path) for r in api.requests]
    assert len(raw_paths) == 2
    assert api.requests[0].path == "/v1/customers/external/a/b c?d"  # decoded by the server
    assert api.requests[1].path != "/v1/customers/"  # `..` stayed a value


async def test_query_lists_metadata_booleans_and_datetimes(api: FakePolarAPI) -> None:
    api.reply(200, page_body(1, 10, 0))
    api.reply(200, {"items": [], "pagination": {"total_count": 0, "max_page": 0}})
    async with client(api) as polar:
        await polar.customers.list(
            sorting=["-created_at", "email"],
            metadata={"plan": "pro", "rank": [1, 2], "beta": True},
            query="jane doe",
            limit=5,
        )
        await polar.subscriptions.list(active=False, customer_id=[ORG, ORG])
        with pytest.raises(InvalidRequestError, match="limit must be greater than 0"):
            await polar.customers.list(limit=0)
        with pytest.raises(InvalidRequestError, match="timezone-aware"):
            await polar.events.list(start_timestamp=datetime(2026, 11, 1))
    assert query(api.requests[0]) == sorted(
        [
            ("sorting", "-created_at"),
            ("sorting", "email"),
            ("metadata[plan]", "pro"),
            ("metadata[rank]", "1"),
            ("metadata[rank]", "2"),
            ("metadata[beta]", "true"),
            ("query", "jane doe"),
            ("limit", "5"),
        ]
    )
    assert query(api.requests[1]) == sorted(
        [("active", "false"), ("customer_id", ORG), ("customer_id", ORG)]
    )
    assert len(api.requests) == 2


async def test_datetime_query_values_are_iso_8601(api: FakePolarAPI) -> None:
    api.reply(200, {"items": [], "pagination": {"has_next_page": False}})
    async with client(api) as polar:
        await polar.events.list(start_timestamp=datetime(2026, 11, 1, 8, 30, tzinfo=timezone.utc))
    (value,) = [v for k, v in query(api.requests[0]) if k == "start_timestamp"]
    assert datetime.fromisoformat(value.replace("Z", "+00:00")) == datetime(
        2026, 11, 1, 8, 30, tzinfo=timezone.utc
    )


async def test_bodiless_post_sends_content_length_zero(api: FakePolarAPI) -> None:
    api.reply(202, raw=b"null", headers={"content-type": "application/json"})
    async with client(api) as polar:
        result = await polar.orders.generate_invoice("0a7c50f0-8e36-4d5d-8d0e-2b0c0c9f0a01")
    assert result is None
    (request,) = api.requests
    assert request.method == "POST"
    assert request.headers["content-length"] == "0"
    assert "content-type" not in request.headers


async def test_form_bodies_are_form_encoded(api: FakePolarAPI) -> None:
    api.reply(200, {"active": False})
    async with AsyncPolar(base_url=api.url, access_token=None) as polar:
        answer = await polar.oauth2.introspect_token(
            token="polar_at_x", client_id="polar_ci_1", client_secret="polar_cs_1"
        )
    assert answer.active is False
    (request,) = api.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sorted(parse_qsl(request.body.decode())) == [
        ("client_id", "polar_ci_1"),
        ("client_secret", "polar_cs_1"),
        ("token", "polar_at_x"),
    ]
    assert "authorization" not in request.headers


async def test_union_bodies_pick_their_shape_from_the_keywords(api: FakePolarAPI) -> None:
    team = {**customer(2), "type": "team", "email": None}
    api.reply(201, customer(1))
    api.reply(201, team)
    async with client(api) as polar:
        one = await polar.customers.create(email="a@example.com")
        two = await polar.customers.create(type="team", name="Acme")
        with pytest.raises(InvalidRequestError, match="email"):
            await polar.customers.create(name="No email")  # an individual needs an email
        with pytest.raises(InvalidRequestError, match="not both"):
            await polar.customers.create(  # type: ignore[call-overload]
                email="a@example.com", request=CustomerIndividualCreate(email="b@example.com")
            )
    assert isinstance(one, CustomerIndividual)
    assert isinstance(two, CustomerTeam)
    assert api.requests[0].json() == {"email": "a@example.com"}
    assert api.requests[1].json() == {"type": "team", "name": "Acme"}


# -- results ----------------------------------------------------------------------------------


async def test_csv_exports_are_text_and_204_is_none(api: FakePolarAPI) -> None:
    api.reply(200, raw=b"email,name\na@example.com,A\n", headers={"content-type": "text/csv"})
    api.reply(204)
    async with client(api) as polar:
        text = await polar.customers.export()
        deleted = await polar.customers.delete("7d5a7a70-e4c2-4b63-9163-e1ec8f1dafa9")
    assert text == "email,name\na@example.com,A\n"
    assert deleted is None
    assert api.requests[0].headers["accept"] == "text/csv, application/json"  # CSV, or errors
    assert api.requests[1].headers["accept"] == "application/json"
    assert api.requests[1].method == "DELETE"


async def test_raw_responses_keep_status_headers_and_the_result(api: FakePolarAPI) -> None:
    api.reply(200, customer(7), headers={"x-request-id": "req_1"})
    api.reply(200, page_body(1, 2, 3))
    async with client(api) as polar:
        raw = await polar.customers.with_raw_response.get("7d5a7a70-e4c2-4b63-9163-e1ec8f1dafa9")
        raw_page = await polar.customers.with_raw_response.list(limit=2)
    assert raw.status_code == 200
    assert raw.headers["x-request-id"] == "req_1"
    assert raw.parsed.id == customer(7)["id"]
    assert raw_page.status_code == 200
    assert len(raw_page.parsed.items) == 2


def test_blocking_raw_responses(api: FakePolarAPI) -> None:
    api.reply(204, headers={"x-request-id": "req_2"})
    api.reply(200, page_body(1, 2, 3))
    api.reply(200, page_body(2, 2, 3))
    with Polar(base_url=api.url, access_token=TOKEN, retry=None) as polar:
        raw = polar.customers.with_raw_response.delete("7d5a7a70-e4c2-4b63-9163-e1ec8f1dafa9")
        raw_page = polar.customers.with_raw_response.list(limit=2)
        assert raw.status_code == 204
        assert raw.parsed is None
        assert raw.headers["x-request-id"] == "req_2"
        assert [c.id for c in raw_page.parsed] == [customer(i)["id"] for i in range(3)]


# -- one send site --------------------------------------------------------------------------


async def test_owned_and_caller_clients_send_the_same_requests(api: FakePolarAPI) -> None:
    async def calls(polar: AsyncPolar) -> None:
        await polar.customers.list(sorting=["email"], metadata={"plan": "pro"})
        await polar.customers.create(email="a@example.com", metadata={"n": 1})
        await polar.customers.delete("7d5a7a70-e4c2-4b63-9163-e1ec8f1dafa9")
        await polar.orders.generate_invoice("0a7c50f0-8e36-4d5d-8d0e-2b0c0c9f0a01")

    def script() -> None:
        api.reply(200, page_body(1, 10, 0))
        api.reply(201, customer(1))
        api.reply(204)
        api.reply(202)

    script()
    async with client(api) as owned:
        await calls(owned)
    ours = list(api.requests)
    api.reset()
    script()
    async with httpx.AsyncClient() as http, client(api, http_client=http) as theirs:
        await calls(theirs)
    mine = list(api.requests)
    drop = {"host", "user-agent", "connection"}
    for a, b in zip(ours, mine, strict=True):
        assert (a.method, a.path, a.query, a.body) == (b.method, b.path, b.query, b.body)
        a_headers = {k: v for k, v in a.headers.items() if k not in drop}
        b_headers = {k: v for k, v in b.headers.items() if k not in drop}
        assert a_headers == b_headers
    assert json.loads(ours[1].body) == {"email": "a@example.com", "metadata": {"n": 1}}


async def test_secret_path_parameters_stay_out_of_messages_and_logs(
    api: FakePolarAPI, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "polar_c_clientSecretThatMustNotLeak0000000000"
    api.reply(404, {"error": "ResourceNotFound", "detail": "Not found"})
    caplog.set_level("DEBUG", logger="polar_sdk")
    async with AsyncPolar(base_url=api.url, access_token=None, retry=None) as polar:
        with pytest.raises(NotFoundError) as info:
            await polar.checkouts.client_get(secret)
    assert api.requests[0].path == f"/v1/checkouts/client/{secret}"
    assert "/v1/checkouts/client/{client_secret}" in str(info.value)
    assert secret not in str(info.value) + repr(info.value)
    assert caplog.records  # the call was logged ...
    assert secret not in caplog.text  # ... without the secret


async def test_org_session_and_public_calls_interleaved(api: FakePolarAPI) -> None:
    """Many tasks mix three kinds of calls; each request carries exactly its own credential."""
    api.always(200, customer(1))
    async with client(api, max_in_flight=5) as polar:
        portal = polar.with_options(access_token=SESSION_TOKEN)
        assert polar.has_access_token

        async def one(i: int) -> None:
            kind = i % 3
            if kind == 0:
                await polar.customers.get(f"7d5a7a70-e4c2-4b63-9163-{i:012d}")
            elif kind == 1:
                await portal.customer_portal.customers.delete_payment_method(
                    f"0a7c50f0-8e36-4d5d-8d0e-{i:012d}"
                )
            else:
                await polar.customer_portal.license_keys.deactivate(
                    key=f"LK-{i}", organization_id=ORG, activation_id=ORG
                )

        async with anyio.create_task_group() as tg:
            for i in range(150):
                tg.start_soon(one, i)
    assert len(api.requests) == 150
    for request in api.requests:
        if request.path.startswith("/v1/customers/"):
            assert request.headers["authorization"] == f"Bearer {TOKEN}"
        elif "/payment-methods/" in request.path:
            assert request.headers["authorization"] == f"Bearer {SESSION_TOKEN}"
        else:
            assert request.path == "/v1/customer-portal/license-keys/deactivate"
            assert "authorization" not in request.headers


async def test_a_view_per_request_keeps_memory_flat(api: FakePolarAPI) -> None:
    """A web app making one `with_options` view per request (its own token) does not grow."""
    import gc
    import tracemalloc

    api.always(200, customer(1))
    async with client(api) as polar:

        async def requests(start: int, count: int) -> None:
            for i in range(start, start + count):
                view = polar.with_options(access_token=f"polar_oat_request{i:08d}{'y' * 24}")
                await view.customers.get("7d5a7a70-e4c2-4b63-9163-e1ec8f1dafa9")

        await requests(0, 300)  # warm: caches reach their bounds
        gc.collect()
        tracemalloc.start(5)
        before = tracemalloc.take_snapshot()
        await requests(300, 2000)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        state = polar._http._shared.current
        assert state is not None
        assert len(state.headers) <= 64  # merged header sets, bounded
        assert 0 < len(state.heads) <= 64  # the exchange lane's header lines, bounded
    # The loopback server runs in this process and keeps every request: leave out whatever
    # it allocated (any frame of the allocation in it), count the client only.
    server_side = [
        tracemalloc.Filter(False, pattern, all_frames=True)
        for pattern in ("*uvicorn*", "*h11*", "*fakeapi.py", "*tracemalloc*")
    ]
    client_before = before.filter_traces(server_side)
    diff = after.filter_traces(server_side).compare_to(client_before, "filename")
    growth = sum(s.size_diff for s in diff)
    # Bounded caches (at most 64 merged header sets, about 170 kB) move within a range; a
    # leak of even 100 bytes per view would add 200 kB over these 2,000.
    print(f"client growth over 2,000 views: {growth} bytes")
    assert growth < 200_000, growth


async def test_union_tags_the_server_needs_are_always_sent(api: FakePolarAPI) -> None:
    from polar_sdk.models import DiscountPercentageCreate, unstructure

    model = DiscountPercentageCreate(name="Launch", duration="once", basis_points=1000)
    # The member declares its tag optional, but without it the body fits both members.
    assert unstructure(model)["type"] == "percentage"


async def test_alternatives_are_checked_when_sent_too(api: FakePolarAPI) -> None:
    """A request model from `structure()` skipped construction: the send checks it."""
    from polar_sdk.models import CustomerSessionCustomerIDCreate, structure

    both = structure(
        {
            "customer_id": "992fae2a-2a17-4b7a-8d9e-e287cf90131b",
            "member_id": "a3c2e1d0-7b6f-4e5d-8c9b-1a2b3c4d5e6f",
            "external_member_id": "usr_m",
        },
        CustomerSessionCustomerIDCreate,
    )
    async with client(api) as polar:
        with pytest.raises(InvalidRequestError, match="not both"):
            await polar.customer_sessions.create(request=both)
    assert api.requests == []
