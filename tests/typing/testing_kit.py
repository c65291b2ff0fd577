"""Type-checked only (mypy --strict, pyright strict): polar_sdk.testing as a test suite uses it."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from polar_sdk import AsyncPolar, Polar
from polar_sdk.models import CustomerSession
from polar_sdk.testing import (
    FakeCustomer,
    FakeMember,
    FakePolar,
    FakePolarServer,
    FakeSession,
    RecordedRequest,
)


async def usage() -> None:
    fake = FakePolar(token="polar_oat_x", scopes=["customer_sessions:write"], latency=0.01)
    jane = fake.add_individual(email="jane@example.com", external_id="usr_jane")
    team = fake.add_team(name="Acme", owner_email="o@acme.example", external_id="team_acme")
    assert_type(jane, FakeCustomer)
    assert_type(fake.add_member(team, email="m@acme.example", role="member"), FakeMember)
    fake.add_member(team, email="m@acme.example", role="boss")  # type: ignore[arg-type]
    fake.fail_next(503, body={"detail": "busy"}, times=2)
    async with fake.async_client(timeout=5.0) as polar:
        assert_type(polar, AsyncPolar)
        session = await polar.customer_sessions.create(external_customer_id="usr_jane")
        assert_type(session, CustomerSession)
    with fake.serve() as server:
        assert_type(server, FakePolarServer)
        assert_type(server.url, str)
    with fake.sync_client() as blocking:
        assert_type(blocking, Polar)
    assert_type(fake.sessions[0], FakeSession)
    assert_type(fake.requests[0], RecordedRequest)
    assert_type(fake.requests[0].json, Any)
    assert_type(fake.max_in_flight, int)
