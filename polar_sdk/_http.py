"""The only module that talks to httpx: build a request, send it, map failures, decode.

Resource methods call `HTTPCore.request()` with a method, a path, an optional attrs body and
the model the success answer decodes to. Everything that can go wrong on the way comes back
as a `PolarError` subclass with the original exception chained.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, TypeVar

import httpx
from cattrs import BaseValidationError, Converter, transform_error

from ._config import POLAR_VERSION, USER_AGENT
from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    ResponseDecodeError,
    make_status_error,
)
from ._types import NOT_GIVEN, NotGivenOr, TimeoutTypes

__all__ = ["HTTPCore"]

_T = TypeVar("_T")

logger = logging.getLogger("polar_sdk")


def _as_timeout(value: TimeoutTypes) -> httpx.Timeout:
    return value if isinstance(value, httpx.Timeout) else httpx.Timeout(value)


class HTTPCore:
    """Sends Polar requests on one `httpx.AsyncClient` and turns answers into models or errors.

    Args:
        token: the bearer token; kept only inside prepared header dicts, never logged.
        base_url: scheme and host, without a trailing slash.
        converter: the cattrs converter for bodies and answers.
        timeout: the default timeout, or `NOT_GIVEN` to use the client's own.
        http_client: a caller-owned client (left open on close), or `None` to own one.
    """

    __slots__ = (
        "_base_url",
        "_client",
        "_closed",
        "_converter",
        "_headers",
        "_json_headers",
        "_owns_client",
        "_timeout",
    )

    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        converter: Converter,
        timeout: NotGivenOr[TimeoutTypes],
        http_client: httpx.AsyncClient | None,
        default_timeout: httpx.Timeout,
    ) -> None:
        self._base_url = base_url
        self._converter = converter
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Polar-Version": POLAR_VERSION,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self._closed = False
        if http_client is None:
            self._owns_client = True
            self._timeout: httpx.Timeout | None = None  # the client carries it
            self._client = httpx.AsyncClient(
                timeout=default_timeout if timeout is NOT_GIVEN else _as_timeout(timeout),
                follow_redirects=False,
            )
        else:
            self._owns_client = False
            self._client = http_client
            self._timeout = None if timeout is NOT_GIVEN else _as_timeout(timeout)

    def __repr__(self) -> str:
        return f"<HTTPCore base_url={self._base_url!r}>"

    @property
    def base_url(self) -> str:
        """Scheme and host requests go to."""
        return self._base_url

    @property
    def closed(self) -> bool:
        """Whether `aclose()` was called."""
        return self._closed

    async def aclose(self) -> None:
        """Close the owned client; a caller's client is left open."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        response_type: type[_T],
        expected_status: int,
        body: object = None,
        timeout: NotGivenOr[TimeoutTypes] = NOT_GIVEN,
    ) -> _T:
        """Send one request and decode the expected answer into `response_type`."""
        if self._closed:
            raise ClientClosedError("this Polar client is closed; create a new one")
        if body is None:
            content = None
            headers = self._headers
        else:
            content = json.dumps(
                self._converter.unstructure(body), ensure_ascii=False, separators=(",", ":")
            ).encode()
            headers = self._json_headers
        client = self._client
        if timeout is not NOT_GIVEN:
            request_timeout: Any = _as_timeout(timeout)
        elif self._timeout is not None:
            request_timeout = self._timeout
        else:
            request_timeout = httpx.USE_CLIENT_DEFAULT
        request = client.build_request(
            method, self._base_url + path, content=content, headers=headers, timeout=request_timeout
        )
        started = time.perf_counter()
        try:
            response = await client.send(request)
        except httpx.TimeoutException as exc:
            raise APITimeoutError(
                f"{type(exc).__name__}: no complete answer in time for {method} {path}"
                f" on {self._base_url}",
                request=request,
            ) from exc
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise APIConnectionError(
                f"{type(exc).__name__} for {method} {path} on {self._base_url}: {reason}",
                request=request,
            ) from exc
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %d in %.1f ms",
                method,
                path,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
        if response.status_code != expected_status:
            raise make_status_error(
                response, polar_version=POLAR_VERSION, converter=self._converter
            )
        return self._decode(response, response_type)

    def _decode(self, response: httpx.Response, response_type: type[_T]) -> _T:
        request = response.request
        what = f"{response.status_code} answer to {request.method} {request.url.path}"
        try:
            data = json.loads(response.content)
        except ValueError as exc:
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise ResponseDecodeError(
                f"the {what} is not valid JSON ({detail}; {len(response.content)} bytes)",
                response=response,
            ) from exc
        try:
            return self._converter.structure(data, response_type)
        except (BaseValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
            problems = transform_error(exc) if isinstance(exc, BaseValidationError) else [repr(exc)]
            raise ResponseDecodeError(
                f"the {what} does not match {response_type.__name__}: " + "; ".join(problems),
                response=response,
            ) from exc
