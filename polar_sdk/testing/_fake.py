"""`FakePolar`: an in-memory Polar API that answers like the real server, as an ASGI app."""

from __future__ import annotations

import json
import secrets
import string
import threading
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, MutableMapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import anyio
import httpx

from .._config import POLAR_VERSION
from ._records import FakeCustomer, FakeMember, FakeSession, MemberRole, RecordedRequest
from ._validation import ParsedCreate, check_create_body

if TYPE_CHECKING:
    from .. import AsyncPolar, Polar
    from ._server import FakePolarServer

__all__ = ["DEFAULT_TOKEN", "FakePolar"]

DEFAULT_TOKEN = "polar_oat_fakeTokenForPolarSdkTesting00000000000000000000"
"""The access token a `FakePolar` accepts unless given another."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_SESSIONS_PATH = "/v1/customer-sessions/"
_OLDEST_VERSION = "2026-04"
_SUPPORTED_VERSIONS = frozenset({_OLDEST_VERSION, POLAR_VERSION})
_TOKEN_ALPHABET = string.ascii_letters + string.digits
_INVALID_TOKEN = (
    "The access token provided is expired, revoked, malformed, or invalid for other reasons."
)
_INSUFFICIENT_SCOPE = "The request requires higher privileges than provided by the access token."


class _Answer:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.status = status
        self.body = body
        self.headers = headers


def _json_answer(
    status: int, data: Any, *, version: str | None, extra: Iterable[tuple[str, str]] = ()
) -> _Answer:
    headers = [("content-type", "application/json"), *extra]
    if version is not None:
        headers.append(("polar-version", version))
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return _Answer(status, body, headers)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _validation_error(items: list[dict[str, Any]], error: str, version: str) -> _Answer:
    return _json_answer(
        422,
        {"error": error, "detail": items},
        version=version,
        extra=[("cache-control", "private, no-store")],
    )


def _service_error(field: str, message: str, value: object, version: str) -> _Answer:
    item = {"type": "value_error", "loc": ["body", field], "msg": message, "input": value}
    return _validation_error([item], "PolarRequestValidationError", version)


class FakePolar:
    """A fake Polar API for tests: seeded customers, real-looking answers, recorded requests.

    It implements `POST /v1/customer-sessions/` the way the real server does (checked against
    recorded exchanges): the bearer token and `Polar-Version` are checked, a path without the
    trailing slash is redirected with 307, a body that fits neither request shape gets the
    server's 422 listing, an unknown or deleted customer gets 422 "Customer does not exist.",
    a team customer needs a member, and a created session comes back as a 201 whose
    `customer_portal_url` embeds the session token. Any other route answers 404.

    Point `AsyncPolar` at it in-process with `async_client()` (no socket involved), or serve it
    on a loopback port with `serve()` for the blocking `Polar` client or another process.
    The fake is itself an ASGI application, so any ASGI server or transport can run it.

    Args:
        token: the only access token accepted; any other bearer token answers 401.
        scopes: the scopes of that token; without `customer_sessions:write` creation
            answers 403.
        members_enabled: whether the organization uses members (the default, as for new
            organizations). Without members, member fields are ignored and session tokens
            start with `polar_cst_` instead of `polar_mst_`.
        organization_slug: used in portal URLs.
        portal_base_url: the origin of portal URLs (never a real Polar host by default).
        latency: seconds each request waits before it is answered, to make concurrency
            visible; `max_in_flight` records the highest number of overlapping requests.
        session_ttl: how long created sessions are valid.

    Example:
        fake = FakePolar()
        jane = fake.add_individual(external_id="usr_jane", email="jane@example.com")
        async with fake.async_client() as polar:
            session = await polar.customer_sessions.create(external_customer_id="usr_jane")
        assert fake.sessions[0].customer is jane
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        scopes: Iterable[str] = ("customer_sessions:write",),
        members_enabled: bool = True,
        organization_slug: str = "fake-org",
        portal_base_url: str = "https://polar.invalid",
        latency: float = 0.0,
        session_ttl: timedelta = timedelta(hours=1),
    ) -> None:
        self.token = token
        self.scopes = frozenset(scopes)
        self.members_enabled = members_enabled
        self.organization_id = str(uuid.uuid4())
        self.organization_slug = organization_slug
        self.portal_base_url = portal_base_url.rstrip("/")
        self.latency = latency
        self.session_ttl = session_ttl
        self.customers: list[FakeCustomer] = []
        self.sessions: list[FakeSession] = []
        self.requests: list[RecordedRequest] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._failures: deque[_Answer] = deque()
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return (
            f"FakePolar(customers={len(self.customers)}, sessions={len(self.sessions)}, "
            f"requests={len(self.requests)})"
        )

    # seeding ---------------------------------------------------------------------------------
    def add_individual(
        self,
        *,
        email: str,
        external_id: str | None = None,
        name: str | None = None,
        id: str | None = None,
        billing_name: str | None = None,
        billing_address: Mapping[str, str | None] | None = None,
        tax_id: tuple[str, str] | None = None,
        locale: str | None = None,
        metadata: Mapping[str, str | int | float | bool] | None = None,
    ) -> FakeCustomer:
        """Add a one-person customer (with its owner member) and return it."""
        return self._add(
            "individual",
            email=email,
            external_id=external_id,
            name=name,
            id=id,
            billing_name=billing_name,
            billing_address=billing_address,
            tax_id=tax_id,
            locale=locale,
            metadata=metadata,
            owner_email=email,
            owner_name=name,
            owner_external_id=None,
        )

    def add_team(
        self,
        *,
        name: str,
        owner_email: str,
        email: str | None = None,
        external_id: str | None = None,
        id: str | None = None,
        owner_name: str | None = None,
        owner_external_id: str | None = None,
        billing_name: str | None = None,
        billing_address: Mapping[str, str | None] | None = None,
        tax_id: tuple[str, str] | None = None,
        locale: str | None = None,
        metadata: Mapping[str, str | int | float | bool] | None = None,
    ) -> FakeCustomer:
        """Add a team customer with its owner member; add more with `add_member()`.

        Sessions for a team must name a member (`member_id` or `external_member_id`).
        """
        return self._add(
            "team",
            email=email,
            external_id=external_id,
            name=name,
            id=id,
            billing_name=billing_name,
            billing_address=billing_address,
            tax_id=tax_id,
            locale=locale,
            metadata=metadata,
            owner_email=owner_email,
            owner_name=owner_name,
            owner_external_id=owner_external_id,
        )

    def add_member(
        self,
        customer: FakeCustomer,
        *,
        email: str,
        name: str | None = None,
        external_id: str | None = None,
        role: MemberRole = "member",
        id: str | None = None,
    ) -> FakeMember:
        """Add a member to a customer and return it."""
        member = FakeMember(
            id=id or str(uuid.uuid4()),
            customer_id=customer.id,
            email=email,
            name=name,
            external_id=external_id,
            role=role,
            created_at=_now(),
        )
        with self._lock:
            customer.members.append(member)
        return member

    def delete_customer(self, customer: FakeCustomer) -> None:
        """Soft-delete a customer: from now on it "does not exist" for session creation."""
        with self._lock:
            customer.deleted_at = _now()

    def find_customer(
        self, *, id: str | None = None, external_id: str | None = None
    ) -> FakeCustomer | None:
        """The live (not deleted) customer with this id or external id, or `None`."""
        with self._lock:
            for customer in self.customers:
                if customer.deleted_at is not None:
                    continue
                if id is not None and customer.id == id:
                    return customer
                if external_id is not None and customer.external_id == external_id:
                    return customer
        return None

    def _add(
        self,
        kind: Literal["individual", "team"],
        *,
        email: str | None,
        external_id: str | None,
        name: str | None,
        id: str | None,
        billing_name: str | None,
        billing_address: Mapping[str, str | None] | None,
        tax_id: tuple[str, str] | None,
        locale: str | None,
        metadata: Mapping[str, str | int | float | bool] | None,
        owner_email: str,
        owner_name: str | None,
        owner_external_id: str | None,
    ) -> FakeCustomer:
        customer_id = id or str(uuid.uuid4())
        with self._lock:
            for other in self.customers:
                if other.id == customer_id:
                    raise ValueError(f"a customer with id {customer_id!r} already exists")
                if external_id is not None and other.external_id == external_id:
                    raise ValueError(f"a customer with external_id {external_id!r} already exists")
            customer = FakeCustomer(
                id=customer_id,
                type=kind,
                email=email,
                organization_id=self.organization_id,
                created_at=_now(),
                external_id=external_id,
                name=name,
                billing_name=billing_name if billing_name is not None else name,
                billing_address=None if billing_address is None else dict(billing_address),
                tax_id=tax_id,
                locale=locale,
                metadata=dict(metadata or {}),
            )
            self.customers.append(customer)
        self.add_member(
            customer,
            email=owner_email,
            name=owner_name,
            external_id=owner_external_id,
            role="owner",
        )
        return customer

    # scripting and inspection ----------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` requests with this status instead of handling them.

        `body` is sent as JSON (nothing when `None`). A 429 without headers gets
        `retry-after: 1` and an empty body, as the real server sends.
        """
        extra = dict(headers or {})
        if status == 429 and not extra:
            extra["retry-after"] = "1"
        if body is None:
            answer = _Answer(status, b"", list(extra.items()))
        else:
            answer = _json_answer(status, body, version=POLAR_VERSION, extra=extra.items())
        with self._lock:
            self._failures.extend(answer for _ in range(times))

    def requests_to(self, path: str = _SESSIONS_PATH) -> list[RecordedRequest]:
        """The recorded requests whose path is `path` (customer-session creation by default)."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def reset(self) -> None:
        """Forget recorded requests, sessions and pending failures; keep the customers."""
        with self._lock:
            self.requests.clear()
            self.sessions.clear()
            self._failures.clear()
            self.max_in_flight = 0

    # clients ---------------------------------------------------------------------------------
    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that hands requests straight to the fake (no network)."""
        return httpx.ASGITransport(app=self)

    def async_client(self, **kwargs: Any) -> AsyncPolar:
        """An `AsyncPolar` wired to this fake in-process; extra keyword arguments are passed on.

        Use it like any client (`async with fake.async_client() as polar: ...`).
        """
        from .. import AsyncPolar

        base_url = "http://fake-polar.localhost"
        http_client = httpx.AsyncClient(transport=self.transport(), follow_redirects=False)
        return AsyncPolar(
            kwargs.pop("access_token", self.token),
            base_url=base_url,
            http_client=http_client,
            **kwargs,
        )

    def deliver_webhook(
        self,
        url: str,
        event: Any,
        secret: str,
        *,
        timestamp: int | None = None,
        webhook_id: str | None = None,
        timeout: float = 10.0,
    ) -> httpx.Response:
        """POST a signed delivery of `event` to your receiver at `url`, as Polar would.

        `event` is an event model or a dict in Polar's JSON shape; the signature uses
        `secret` (as Polar shows it, `whsec_...`). Returns your receiver's answer; Polar
        counts any 2xx as delivered.
        """
        from ._webhooks import sign_webhook

        body, headers = sign_webhook(event, secret, timestamp=timestamp, webhook_id=webhook_id)
        return httpx.post(url, content=body, headers=headers, timeout=timeout)

    def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> FakePolarServer:
        """A loopback HTTP server for this fake (needs uvicorn); use it as a context manager.

        `with fake.serve() as server:` starts uvicorn in a background thread and gives its
        `server.url`, for the blocking `Polar` client or code running in another process.
        """
        from ._server import FakePolarServer

        return FakePolarServer(self, host=host, port=port)

    @contextmanager
    def sync_client(self, **kwargs: Any) -> Generator[Polar, None, None]:
        """Serve the fake on loopback and yield a blocking `Polar` client pointed at it.

        Extra keyword arguments go to `Polar`. The client and the server are both closed when
        the block ends.
        """
        from .. import Polar

        with self.serve() as server:
            client = Polar(kwargs.pop("access_token", self.token), base_url=server.url, **kwargs)
            with client:
                yield client

    # ASGI ------------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (HTTP requests and the lifespan protocol)."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
        method: str = scope["method"]
        path: str = scope["path"]
        body = b"".join(chunks)
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.latency > 0:
                await anyio.sleep(self.latency)
            with self._lock:
                answer = self._failures.popleft() if self._failures else None
                if answer is None:
                    answer = self._handle(method, path, scope, headers, body)
                self.requests.append(
                    RecordedRequest(
                        method=method,
                        path=path,
                        query=scope.get("query_string", b"").decode("latin-1"),
                        headers=headers,
                        body=body,
                        status=answer.status,
                    )
                )
        finally:
            with self._lock:
                self._in_flight -= 1
        out_headers = [(k.encode("latin-1"), v.encode()) for k, v in answer.headers]
        out_headers.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": out_headers})
        await send({"type": "http.response.body", "body": answer.body})

    # request handling --------------------------------------------------------------------------
    def _handle(
        self, method: str, path: str, scope: Scope, headers: dict[str, str], body: bytes
    ) -> _Answer:
        version = headers.get("polar-version", _OLDEST_VERSION)
        if version not in _SUPPORTED_VERSIONS:
            # The versioning layer answers before routing, without a polar-version header.
            return _json_answer(404, {"detail": "Not Found"}, version=None)
        no_store = [("cache-control", "private, no-store")]
        if path == _SESSIONS_PATH.rstrip("/"):
            location = _SESSIONS_PATH
            host = headers.get("host")
            if host:
                location = f"{scope.get('scheme', 'http')}://{host}{_SESSIONS_PATH}"
            return _Answer(
                307, b"", [("location", location), *no_store, ("polar-version", version)]
            )
        if path != _SESSIONS_PATH:
            return _json_answer(404, {"detail": "Not Found"}, version=version, extra=no_store)
        if method != "POST":
            return _json_answer(
                405,
                {"detail": "Method Not Allowed"},
                version=version,
                extra=[("allow", "POST"), *no_store],
            )
        if "content-length" not in headers and "transfer-encoding" not in headers:
            return _json_answer(
                411,
                {"error": "LengthRequired", "detail": "A Content-Length header is required."},
                version=version,
            )
        denied = self._check_auth(headers.get("authorization"), version)
        if denied is not None:
            return denied
        return self._create_session(body, headers, version)

    def _check_auth(self, authorization: str | None, version: str) -> _Answer | None:
        scheme, _, credentials = (authorization or "").partition(" ")
        credentials = credentials.strip()
        # Customer-session tokens are not access tokens: the server answers them like a
        # missing header, not like an unknown token.
        session_token = credentials.startswith(("polar_mst_", "polar_cst_"))
        if scheme.lower() != "bearer" or not credentials or session_token:
            return _json_answer(
                401,
                {"error": "Unauthorized", "detail": "Unauthorized"},
                version=version,
                extra=[
                    ("www-authenticate", 'Bearer realm="polar"'),
                    ("cache-control", "private, no-store"),
                ],
            )
        oauth_headers = [("cache-control", "no-store"), ("pragma", "no-cache")]
        if not secrets.compare_digest(credentials.encode(), self.token.encode()):
            challenge = (
                f'Bearer realm="polar", error="invalid_token", error_description="{_INVALID_TOKEN}"'
            )
            return _json_answer(
                401,
                {"error": "invalid_token", "error_description": _INVALID_TOKEN},
                version=version,
                extra=[*oauth_headers, ("www-authenticate", challenge)],
            )
        if "customer_sessions:write" not in self.scopes:
            challenge = (
                'Bearer realm="polar", scope="customer_sessions:write", '
                f'error="insufficient_scope", error_description="{_INSUFFICIENT_SCOPE}"'
            )
            return _json_answer(
                403,
                {"error": "insufficient_scope", "error_description": _INSUFFICIENT_SCOPE},
                version=version,
                extra=[*oauth_headers, ("www-authenticate", challenge)],
            )
        return None

    def _create_session(self, body: bytes, headers: dict[str, str], version: str) -> _Answer:
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            # The server does not parse other content types: the body is one string.
            return self._check_and_create(body.decode("utf-8", "replace"), version)
        try:
            data: Any = json.loads(body)
        except ValueError as exc:
            position = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            item = {
                "type": "json_invalid",
                "loc": ["body", position],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": reason},
            }
            return _validation_error([item], "RequestValidationError", version)
        return self._check_and_create(data, version)

    def _check_and_create(self, data: object, version: str) -> _Answer:
        parsed = check_create_body(data)
        if isinstance(parsed, list):
            return _validation_error(parsed, "RequestValidationError", version)
        return self._session_for(parsed, version)

    def _session_for(self, parsed: ParsedCreate, version: str) -> _Answer:
        if parsed.by_external:
            customer = self.find_customer(external_id=parsed.customer_key)
            field_name = "external_customer_id"
        else:
            customer = self.find_customer(id=parsed.customer_key)
            field_name = "customer_id"
        if customer is None:
            return _service_error(
                field_name, "Customer does not exist.", parsed.customer_key, version
            )
        member: FakeMember | None = None
        if self.members_enabled:
            if parsed.member_id is not None:
                member = next((m for m in customer.members if m.id == parsed.member_id), None)
                if member is None:
                    return _service_error(
                        "member_id",
                        "Member does not exist for this customer.",
                        parsed.member_id,
                        version,
                    )
            elif parsed.external_member_id is not None:
                member = next(
                    (m for m in customer.members if m.external_id == parsed.external_member_id),
                    None,
                )
                if member is None:
                    return _service_error(
                        "external_member_id",
                        "Member does not exist for this customer.",
                        parsed.external_member_id,
                        version,
                    )
            elif customer.type == "team":
                return _service_error(
                    "member_id", "member_id is required for team customers.", None, version
                )
            else:
                member = next((m for m in customer.members if m.role == "owner"), None)
        prefix = "polar_mst_" if self.members_enabled else "polar_cst_"
        token = prefix + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(43))
        email = member.email if member is not None else customer.email
        portal_url = (
            f"{self.portal_base_url}/{quote(self.organization_slug)}/portal"
            f"?customer_session_token={token}"
        )
        if email:
            portal_url += f"&email={quote(email, safe='')}"
        created_at = _now()
        return_url = None if parsed.return_url is None else str(httpx.URL(parsed.return_url))
        session = FakeSession(
            id=str(uuid.uuid4()),
            token=token,
            customer_portal_url=portal_url,
            customer=customer,
            member=member,
            return_url=return_url,
            created_at=created_at,
            expires_at=created_at + self.session_ttl,
        )
        self.sessions.append(session)
        payload = {
            "created_at": _iso(created_at),
            "modified_at": None,
            "id": session.id,
            "token": token,
            "expires_at": _iso(session.expires_at),
            "return_url": return_url,
            "customer_portal_url": portal_url,
            "customer_id": customer.id,
            "customer": customer.to_json(),
        }
        return _json_answer(
            201, payload, version=version, extra=[("cache-control", "private, no-store")]
        )
