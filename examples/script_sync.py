"""Print a customer's portal URL from the command line, with the blocking `Polar` client.

    export POLAR_ACCESS_TOKEN=polar_oat_...
    python examples/script_sync.py --external-id usr_123
    python examples/script_sync.py --customer-id 992fae2a-2a17-4b7a-8d9e-e287cf90131b \\
        --return-url https://example.com/account --server production

The URL goes to stdout (so `open "$(python examples/script_sync.py ...)"` works); problems go
to stderr with an exit status a calling script can act on:

    0  the URL was printed
    2  bad usage: missing or conflicting options, no token, an argument the API would refuse
    3  Polar refused the request (e.g. "Customer does not exist.", a team without a member)
    4  Polar refused the token (401) or its scopes (403)
    5  no usable answer: network failure, timeout, rate limit, server error

Needs nothing beyond the SDK. `--server` defaults to sandbox here, on purpose for a demo
script (the SDK itself defaults to production).
"""

from __future__ import annotations

import argparse
import sys

from polar_sdk import Polar
from polar_sdk.errors import (
    APIConnectionError,
    APIException,
    AuthenticationError,
    ConfigurationError,
    HTTPValidationError,
    InvalidRequestError,
    PermissionDeniedError,
    PolarError,
)

EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_AUTH = 4
EXIT_UNAVAILABLE = 5


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="script_sync.py", description="Create a Polar customer session; print its portal URL."
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer-id", help="Polar's id of the customer (a UUID)")
    who.add_argument("--external-id", help="your own id of the customer (its external_id)")
    member = parser.add_mutually_exclusive_group()
    member.add_argument("--member-id", help="for a team customer: Polar's id of the member")
    member.add_argument("--external-member-id", help="for a team customer: your member id")
    parser.add_argument("--return-url", help="where the portal's back link leads")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--server", choices=["sandbox", "production"], default="sandbox")
    where.add_argument("--base-url", help="another API root, e.g. http://127.0.0.1:8000")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    return parser


def fail(code: int, message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # exits with 2 on bad usage
    options: dict[str, str] = {}
    if args.member_id is not None:
        options["member_id"] = args.member_id
    if args.external_member_id is not None:
        options["external_member_id"] = args.external_member_id
    if args.return_url is not None:
        options["return_url"] = args.return_url
    try:
        if args.base_url:
            polar = Polar(base_url=args.base_url, timeout=args.timeout)
        else:
            polar = Polar(server=args.server, timeout=args.timeout)
    except ConfigurationError as exc:
        return fail(EXIT_USAGE, str(exc))
    if not polar.has_access_token:  # a client without one can only call public operations
        return fail(EXIT_USAGE, "set POLAR_ACCESS_TOKEN to an organization access token")
    try:
        with polar:
            if args.customer_id is not None:
                session = polar.customer_sessions.create(customer_id=args.customer_id, **options)
            else:
                session = polar.customer_sessions.create(
                    external_customer_id=args.external_id, **options
                )
    except InvalidRequestError as exc:
        return fail(EXIT_USAGE, str(exc))
    except HTTPValidationError as exc:
        reasons = "; ".join(item.msg for item in exc.detail) or str(exc)
        return fail(EXIT_REFUSED, f"Polar refused the request: {reasons}")
    except (AuthenticationError, PermissionDeniedError) as exc:
        return fail(
            EXIT_AUTH,
            f"Polar refused the access token ({exc.status_code} {exc.error}); check "
            "POLAR_ACCESS_TOKEN, its customer_sessions:write scope and --server",
        )
    except (APIConnectionError, APIException) as exc:
        return fail(EXIT_UNAVAILABLE, str(exc))
    except PolarError as exc:
        return fail(EXIT_UNAVAILABLE, str(exc))
    print(session.customer_portal_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
