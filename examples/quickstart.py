"""See polar_sdk work in one command: create a customer session and open the portal link.

    python examples/quickstart.py

Needs nothing beyond the SDK (`pip install -e .` from a checkout).

With POLAR_ACCESS_TOKEN set, this talks to the real Polar API (POLAR_SERVER: "production", the
default, or "sandbox") and creates a session for the customer whose external id you pass
(`python examples/quickstart.py usr_123`). POLAR_BASE_URL points it at another API root.

Without a token it runs against the fake API built into `polar_sdk.testing`, seeded with one
demo customer, and says so loudly: nothing leaves your machine, and the portal link it prints
is fake.
"""

from __future__ import annotations

import asyncio
import os
import sys

from polar_sdk import AsyncPolar
from polar_sdk.errors import HTTPValidationError, PolarError
from polar_sdk.testing import FakePolar

DEMO_EXTERNAL_ID = "usr_demo_001"


async def create_portal_link(polar: AsyncPolar, external_id: str) -> None:
    """The part that matters: one call, with the errors a caller should expect."""
    try:
        session = await polar.customer_sessions.create(
            external_customer_id=external_id,
            return_url="https://example.com/account",
        )
    except HTTPValidationError as exc:
        problems = "; ".join(item.msg for item in exc.detail)
        raise SystemExit(f"Polar refused the request: {problems}") from exc
    except PolarError as exc:
        raise SystemExit(f"the call failed: {exc}") from exc
    customer = session.customer
    print(f"customer: {customer.id} ({type(customer).__name__})")
    print(f"session:  {session.id}, expires {session.expires_at.isoformat()}")
    print(f"portal:   {session.customer_portal_url}")


def _banner(lines: list[str]) -> str:
    width = max(len(line) for line in lines)
    rule = "*" * (width + 4)
    return "\n".join([rule, *(f"* {line.ljust(width)} *" for line in lines), rule])


async def main(argv: list[str]) -> int:
    if os.environ.get("POLAR_ACCESS_TOKEN"):
        if len(argv) != 1:
            print("usage: python examples/quickstart.py EXTERNAL_CUSTOMER_ID", file=sys.stderr)
            return 2
        polar = AsyncPolar()  # reads POLAR_ACCESS_TOKEN, POLAR_SERVER and POLAR_BASE_URL
        print(f"Using the Polar API at {polar.base_url}.")
        async with polar:
            await create_portal_link(polar, argv[0])
        return 0

    print(
        _banner(
            [
                "POLAR_ACCESS_TOKEN is not set: running against the FAKE Polar API",
                "built into polar_sdk.testing. No request leaves this machine and",
                "the portal link below is not real. Set POLAR_ACCESS_TOKEN (and",
                "POLAR_SERVER=production|sandbox) to use the real API.",
            ]
        )
    )
    fake = FakePolar()
    fake.add_individual(external_id=DEMO_EXTERNAL_ID, email="demo@example.com", name="Demo User")
    async with fake.async_client() as polar:
        await create_portal_link(polar, argv[0] if argv else DEMO_EXTERNAL_ID)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
