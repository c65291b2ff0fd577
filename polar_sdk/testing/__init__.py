"""A fake Polar API to test your own code without the network.

    from polar_sdk.testing import FakePolar

    fake = FakePolar()
    fake.add_individual(external_id="usr_1", email="ada@example.com")

    async with fake.async_client() as polar:          # AsyncPolar, in-process
        session = await polar.customer_sessions.create(external_customer_id="usr_1")

    with fake.serve() as server:                       # real HTTP on 127.0.0.1
        ...  # Polar(access_token=fake.token, base_url=server.url)

    assert fake.requests[0].json == {"external_customer_id": "usr_1"}

The fake answers customer-session creation like the real server (201, 422 "Customer does not
exist.", 401 for a wrong token, 403 without the scope, 307 without the trailing slash) and
records every request it receives. `sign_webhook()` builds signed webhook deliveries for
testing a receiver, and `FakePolar.deliver_webhook()` posts one to a URL. `serve()` needs uvicorn
(`pip install 'polar-async-sdk[testing]'`).
"""

from ._fake import DEFAULT_TOKEN, FakePolar
from ._records import FakeCustomer, FakeMember, FakeSession, RecordedRequest
from ._server import FakePolarServer
from ._webhooks import sign_webhook

__all__ = [
    "DEFAULT_TOKEN",
    "FakeCustomer",
    "FakeMember",
    "FakePolar",
    "FakePolarServer",
    "FakeSession",
    "RecordedRequest",
    "sign_webhook",
]
