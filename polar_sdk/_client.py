"""`AsyncPolar`: configuration, the shared HTTP core, and the resource attributes."""

from __future__ import annotations

import functools
import ipaddress
import os
import ssl
from types import TracebackType
from typing import cast

import httpx

from ._config import (
    DEFAULT_SERVER,
    DEFAULT_TIMEOUT,
    ENV_BASE_URL,
    ENV_SERVER,
    ENV_TOKEN,
    SERVERS,
    ServerName,
)
from ._exceptions import ClientClosedError, ConfigurationError, InvalidRequestError
from ._http import HTTPCore, as_timeout, check_deadline
from ._ratelimit import RateLimit
from ._retry import RetryPolicy
from ._types import NOT_GIVEN, NotGiven, NotGivenOr, TimeoutTypes
from .resources import AsyncResources

__all__ = ["AsyncPolar", "core_of"]

DEFAULT_RETRY = RetryPolicy()
"""The policy `AsyncPolar` uses unless told otherwise."""

DEFAULT_MAX_IN_FLIGHT = 20
"""Requests in flight at once per event loop unless told otherwise."""

DEFAULT_DEADLINE = 300.0
"""Seconds a whole call may take unless told otherwise (attempts, waits and reads included)."""


_PROXY_SCHEMES = ("http", "https", "all")


def _lean_transport_usable() -> bool:
    """Whether an owned client may use `AsyncioTransport` (see polar_sdk/_transport.py).

    Only on an asyncio loop (trio keeps httpx's transport), not when the environment names a
    proxy (httpx's transport handles those), and not when `POLAR_SDK_DEFAULT_TRANSPORT=1`
    asks for httpx's transport (a private switch for comparisons and diagnosis).
    """
    import asyncio
    from urllib.request import getproxies

    if os.environ.get("POLAR_SDK_DEFAULT_TRANSPORT") == "1":
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    proxies = getproxies()
    return not any(proxies.get(scheme) for scheme in _PROXY_SCHEMES)


H11_SWITCH = "POLAR_SDK_H11_TRANSPORT"
"""Set to 1 to give owned clients the httpcore/h11 transport even where httptools is installed
(a private switch for comparisons and diagnosis, like POLAR_SDK_DEFAULT_TRANSPORT)."""


def _owned_transport(
    ssl_context: ssl.SSLContext | None, limits: httpx.Limits, tls: bool
) -> httpx.AsyncBaseTransport:
    """The transport of a client the SDK builds for itself on an asyncio loop.

    `HttptoolsTransport` where httptools imports (CPython wheels), else `AsyncioTransport`,
    httpcore's pool with h11 over the same asyncio protocols.
    """
    if os.environ.get(H11_SWITCH) != "1":
        try:
            from ._httptools_transport import HttptoolsTransport
        except ImportError:  # no httptools (PyPy, an unusual platform): the h11 path
            pass
        else:
            return HttptoolsTransport(ssl_context=ssl_context, limits=limits, tls=tls)
    from ._transport import AsyncioTransport

    return AsyncioTransport(ssl_context=ssl_context, limits=limits, tls=tls)


def _resolve_token(access_token: str | None, *, from_env: bool = True) -> str | None:
    """The token to send, or None for a client limited to public operations."""
    given = cast(object, access_token)  # callers without a type checker pass anything
    if given is not None and not isinstance(given, str):
        raise ConfigurationError(
            f"access_token must be a string (or None to read {ENV_TOKEN}), "
            f"got {type(given).__name__}"
        )
    token = access_token
    if token is None and from_env:
        token = os.environ.get(ENV_TOKEN)
    if token is None:
        return None
    if not token.strip():
        raise ConfigurationError(
            "the access token is empty: pass access_token=..., set the "
            f"{ENV_TOKEN} environment variable, or leave both out for public operations only"
        )
    token = token.strip()
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise ConfigurationError(
            "the access token contains spaces, control or non-ASCII characters; "
            "check how it was loaded"
        )
    return token


def _type_name(value: object) -> str:
    cls = type(value)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _check_arguments(
    *,
    timeout: object,
    http_client: object,
    retry: object,
    limits: object,
    max_in_flight: object,
    allow_insecure_http: object,
) -> None:
    """Refuse arguments of the wrong type or range with a `ConfigurationError` naming them."""
    if isinstance(http_client, httpx.Client):
        raise ConfigurationError(
            "http_client must be an httpx.AsyncClient, got an httpx.Client: the SDK's core is "
            "async, and the blocking Polar client runs it on its own event-loop thread. Pass "
            "httpx.AsyncClient(...) with the same settings, or leave http_client out"
        )
    if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
        raise ConfigurationError(
            f"http_client must be an httpx.AsyncClient or None, got {_type_name(http_client)}"
        )
    if not (
        timeout is NOT_GIVEN
        or timeout is None
        or isinstance(timeout, httpx.Timeout)
        or (isinstance(timeout, (int, float)) and not isinstance(timeout, bool))
    ):
        raise ConfigurationError(
            "timeout must be a number of seconds, an httpx.Timeout or None, "
            f"got {_type_name(timeout)}"
        )
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ConfigurationError(
            f"retry must be a polar_sdk.RetryPolicy or None, got {_type_name(retry)}"
        )
    if limits is not None and not isinstance(limits, httpx.Limits):
        raise ConfigurationError(
            f"limits must be an httpx.Limits or None, got {_type_name(limits)}"
        )
    if max_in_flight is not None and (
        not isinstance(max_in_flight, int) or isinstance(max_in_flight, bool)
    ):
        raise ConfigurationError(
            f"max_in_flight must be an int or None, got {_type_name(max_in_flight)}"
        )
    if max_in_flight is not None and max_in_flight < 1:
        raise ConfigurationError(f"max_in_flight must be at least 1, got {max_in_flight}")
    if not isinstance(allow_insecure_http, bool):
        raise ConfigurationError(
            f"allow_insecure_http must be a bool, got {_type_name(allow_insecure_http)}"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=32)
def _check_base_url(base_url: str, source: str, allow_insecure_http: bool) -> str:
    """`base_url` as the API root (no trailing `/` or `/v1`), or a `ConfigurationError`.

    Cached: parsing the URL costs more than the rest of building a client, and an app or a
    test suite makes clients for the same few roots (a refused URL is not cached).

    `source` names where the value came from (`base_url` or the environment variable). Messages
    never repeat the URL itself: it may carry credentials.
    """
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise ConfigurationError(f"{source} is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            f"{source} must be an absolute http(s) URL such as 'https://api.polar.sh'"
        )
    if url.userinfo:
        raise ConfigurationError(
            f"{source} must not carry credentials (user:password@); the SDK authenticates "
            "with the access token"
        )
    if url.query or url.fragment or "?" in base_url or "#" in base_url:
        raise ConfigurationError(
            f"{source} must be an API root without a query string or fragment, "
            "such as 'https://api.polar.sh'"
        )
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise ConfigurationError(
            f"refusing to send the access token over plain http to {url.host}; use https, "
            "or pass allow_insecure_http=True if this is really intended"
        )
    root = base_url.strip().rstrip("/")
    # Every operation path starts with /v1/, so a root given with it would double it.
    return root.removesuffix("/v1") if url.path.rstrip("/").endswith("/v1") else root


def _resolve_base_url(
    server: ServerName | None, base_url: str | None, allow_insecure_http: bool
) -> str:
    for name, given in (("server", server), ("base_url", base_url)):
        value = cast(object, given)  # callers without a type checker pass anything
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{name} must be a string, got {_type_name(value)}")
    if base_url is not None:
        if server is not None:
            raise ConfigurationError("pass server=... or base_url=..., not both")
        return _check_base_url(base_url, "base_url", allow_insecure_http)
    source = "server"
    if server is None:
        # The environment decides only when the arguments do not.
        env_url = os.environ.get(ENV_BASE_URL, "").strip()
        env_server = os.environ.get(ENV_SERVER, "").strip()
        if env_url and env_server:
            raise ConfigurationError(
                f"both {ENV_SERVER} and {ENV_BASE_URL} are set; unset one of them"
            )
        if env_url:
            return _check_base_url(env_url, ENV_BASE_URL, allow_insecure_http)
        if env_server:
            server, source = env_server.lower(), ENV_SERVER  # type: ignore[assignment]
    name = DEFAULT_SERVER if server is None else server
    if name not in SERVERS:
        raise ConfigurationError(
            f"unknown {source} {name!r}; choose one of {', '.join(map(repr, SERVERS))} "
            "or pass base_url=..."
        )
    return SERVERS[name]


class AsyncPolar(AsyncResources):
    """Asynchronous client for the Polar API.

    Create one per application and share it: every call goes through one pooled
    `httpx.AsyncClient`. Use it as an async context manager, or call `aclose()` when done.

    Args:
        access_token: an organization (`polar_oat_...`) or personal (`polar_pat_...`) access
            token, an OAuth access token, or a customer/member session token (`polar_cst_...`,
            `polar_mst_...`) for the customer-portal operations. Defaults to the
            `POLAR_ACCESS_TOKEN` environment variable; without either the client can call the
            public operations only (the others raise `ConfigurationError` before sending).
        server: `"production"` (https://api.polar.sh) or `"sandbox"`
            (https://sandbox-api.polar.sh). When neither `server` nor `base_url` is passed,
            the `POLAR_SERVER` or `POLAR_BASE_URL` environment variable decides (setting both
            is an error); without them, production.
        base_url: another API root, e.g. a local server; excludes `server`. A trailing `/v1`
            is dropped; a query string, fragment or `user:password@` is refused. Plain http is
            only accepted for loopback hosts unless `allow_insecure_http` is set.
        timeout: seconds, an `httpx.Timeout`, or `None` for none. Without it the SDK uses 60 s
            (10 s to connect), or, with `http_client`, that client's own timeout.
        http_client: your own `httpx.AsyncClient` (its limits, proxies, transport and
            timeouts are respected). You keep ownership: `aclose()` leaves it open.
        retry: the `RetryPolicy` for every call (each method also takes `retry=`); `None`
            disables retries. The default retries only what cannot run twice: see RetryPolicy.
        limits: connection-pool limits of the SDK's own httpx client (httpx's defaults: 100
            connections, 20 kept alive).
        max_in_flight: at most this many requests at once per event loop (default 20); more
            calls wait their turn in a fair queue. Bounding in-flight work keeps throughput and
            tail latency steady under hundreds of concurrent calls, where an unbounded pool
            slows down as connections contend; `None` leaves all queueing to the pool.
        allow_insecure_http: permit a plain-http `base_url` on a non-loopback host.
        deadline: seconds a whole call may take (default 300), from the first byte sent to
            the last byte read, every attempt and backoff wait included; `None` lifts it.
            `timeout` bounds each network step (connect, each read) instead, so a server that
            trickles its answer is stopped only by the deadline. Each method also takes
            `deadline=`; lift it for a very large CSV export.
        rate_limit: requests per minute this client may start (an int), or a
            `RateLimit(requests, per=seconds)`; off by default. Shared by every loop, thread
            and `with_options()` view of the client, retries included; a 429's `Retry-After`
            pauses them all. Polar allows 500 a minute per organization in production, 100 in
            the sandbox.

    Raises:
        ConfigurationError: an unusable token, a bad server / base URL, or an argument of
            the wrong type or range (the message names it).
    """

    def __init__(
        self,
        access_token: str | None = None,
        *,
        server: ServerName | None = None,
        base_url: str | None = None,
        timeout: NotGivenOr[TimeoutTypes] = NOT_GIVEN,
        http_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        limits: httpx.Limits | None = None,
        max_in_flight: int | None = DEFAULT_MAX_IN_FLIGHT,
        allow_insecure_http: bool = False,
        deadline: float | None = DEFAULT_DEADLINE,
        rate_limit: int | RateLimit | None = None,
    ) -> None:
        token = _resolve_token(access_token)
        _check_arguments(
            timeout=timeout,
            http_client=http_client,
            retry=retry,
            limits=limits,
            max_in_flight=max_in_flight,
            allow_insecure_http=allow_insecure_http,
        )
        if http_client is not None and limits is not None:
            raise ConfigurationError("limits= applies to the SDK's own client; set them on yours")
        try:
            client_timeout = DEFAULT_TIMEOUT if timeout is NOT_GIVEN else as_timeout(timeout)
        except InvalidRequestError as exc:
            raise ConfigurationError(f"timeout: {exc}") from None
        try:
            check_deadline(deadline)
        except InvalidRequestError as exc:
            raise ConfigurationError(str(exc)) from None
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            rate_limit = RateLimit(rate_limit)
        pool_limits = limits or httpx.Limits()

        ssl_contexts: list[ssl.SSLContext] = []  # built on first use, shared by its loops
        root = _resolve_base_url(server, base_url, allow_insecure_http)
        # Building a TLS context costs ~15 ms: a plain-http API root (a local server, a
        # test's fake) never needs one, and redirects are not followed.
        tls = root.startswith("https://")

        def make_client() -> httpx.AsyncClient:
            # Called in the running loop that will use the client.
            if _lean_transport_usable():
                from ._transport import DirectClient

                if tls and not ssl_contexts:
                    ssl_contexts.append(httpx.create_ssl_context())
                context = ssl_contexts[0] if tls else None
                return DirectClient(
                    transport=_owned_transport(context, pool_limits, tls),
                    timeout=client_timeout,
                    limits=pool_limits,
                    follow_redirects=False,
                )
            return httpx.AsyncClient(
                timeout=client_timeout, limits=pool_limits, follow_redirects=False
            )

        self._http = HTTPCore(
            token=token,
            base_url=root,
            hooks=None,
            timeout=timeout,
            http_client=http_client,
            make_client=make_client,
            retry=retry,
            max_in_flight=max_in_flight,
            deadline=deadline,
            rate_limit=rate_limit,
        )

    @property
    def base_url(self) -> str:
        """The API root requests go to, e.g. `https://api.polar.sh`."""
        return self._http.base_url

    @property
    def retry(self) -> RetryPolicy:
        """The client's default retry policy."""
        return self._http.retry

    @property
    def has_access_token(self) -> bool:
        """Whether the client has a token (without one, only public operations work)."""
        return self._http.has_token

    @property
    def closed(self) -> bool:
        """Whether the client was closed."""
        return self._http.closed

    def __repr__(self) -> str:
        return f"AsyncPolar(base_url={self.base_url!r})"

    def with_options(
        self,
        *,
        access_token: str | NotGiven | None = NOT_GIVEN,
        timeout: NotGivenOr[TimeoutTypes] = NOT_GIVEN,
        retry: NotGivenOr[RetryPolicy | None] = NOT_GIVEN,
        deadline: NotGivenOr[float | None] = NOT_GIVEN,
    ) -> AsyncPolar:
        """A client with other settings that shares this one's connections.

        For another credential (a customer session token for the portal operations, an
        OAuth2 client's registration token, one organization's OAuth token) or other
        defaults. Nothing new is opened and there is nothing to close: the view lives on this
        client's pool, and `aclose()` on it does nothing. `access_token=None` makes a view
        that sends no token (public operations only).
        """
        token: NotGivenOr[str | None] = NOT_GIVEN
        if not isinstance(access_token, NotGiven):
            token = _resolve_token(access_token, from_env=False)
        try:
            view = self._http.derive(token=token, timeout=timeout, retry=retry, deadline=deadline)
        except InvalidRequestError as exc:
            raise ConfigurationError(str(exc)) from None
        clone = object.__new__(AsyncPolar)
        clone._http = view
        return clone

    async def aclose(self) -> None:
        """Close the connection pool (a caller-supplied `http_client` stays open)."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncPolar:
        if self.closed:
            raise ClientClosedError("this AsyncPolar client is closed; create a new one")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def core_of(client: AsyncPolar) -> HTTPCore:
    """The `HTTPCore` behind `client` (for the blocking client's caller)."""
    return client._http  # pyright: ignore[reportPrivateUsage]
