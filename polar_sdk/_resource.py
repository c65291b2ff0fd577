"""Bases of the generated resource classes, and the blocking client's way into the core.

A generated method is a few lines: it hands its `Operation` and arguments to its core —
`HTTPCore` for `AsyncPolar`, `BlockingCaller` for `Polar`, which runs the same `HTTPCore` call
on the client's event-loop thread. `with_raw_response` builds the same resource class over a
raw view of the core, whose calls give `RawResponse`s; `raw_method`/`raw_pager`/`raw_page`
only restate the methods' types for that view (at run time they return what they are given).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from ._results import AsyncPage, AsyncPager, Page, RawResponse
from ._types import NOT_GIVEN, NotGiven, NotGivenOr, TimeoutTypes

if TYPE_CHECKING:
    from ._http import HTTPCore
    from ._operation import Operation
    from ._portal import PortalCore
    from ._retry import RetryPolicy

__all__ = [
    "AsyncResource",
    "BlockingCaller",
    "BlockingResource",
    "raw_blocking",
    "raw_method",
    "raw_page",
    "raw_pager",
    "raw_view",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")


class AsyncResource:
    """Base of the generated async resource classes."""

    def __init__(self, core: HTTPCore) -> None:
        self._core = core


class BlockingResource:
    """Base of the generated blocking resource classes."""

    def __init__(self, core: BlockingCaller) -> None:
        self._core = core


_Resource = TypeVar("_Resource", bound="AsyncResource | BlockingResource")


def raw_view(resource: _Resource) -> _Resource:
    """The same resource class over a raw view of its core (for `with_raw_response`)."""
    core: Any = resource._core  # pyright: ignore[reportPrivateUsage]
    return type(resource)(core.raw_view())


def raw_method(
    method: Callable[_P, Coroutine[Any, Any, _T]],
) -> Callable[_P, Coroutine[Any, Any, RawResponse[_T]]]:
    """Retype a method of a raw-view async resource: it returns a `RawResponse` of its result."""
    return cast("Callable[_P, Coroutine[Any, Any, RawResponse[_T]]]", method)


def raw_pager(
    method: Callable[_P, AsyncPager[_T]],
) -> Callable[_P, Coroutine[Any, Any, RawResponse[AsyncPage[_T]]]]:
    """Retype a list method of a raw-view async resource: awaiting gives the first page raw."""
    return cast("Callable[_P, Coroutine[Any, Any, RawResponse[AsyncPage[_T]]]]", method)


def raw_page(method: Callable[_P, Page[_T]]) -> Callable[_P, RawResponse[Page[_T]]]:
    """Retype a list method of a raw-view blocking resource: the first page, raw."""
    return cast("Callable[_P, RawResponse[Page[_T]]]", method)


def raw_blocking(method: Callable[_P, _T]) -> Callable[_P, RawResponse[_T]]:
    """Retype a method of a raw-view blocking resource."""
    return cast("Callable[_P, RawResponse[_T]]", method)


class BlockingCaller:
    """Runs `HTTPCore` calls on the blocking client's event-loop thread (one crossing each).

    `http` gives the `HTTPCore` of the client's `AsyncPolar` (built lazily, rebuilt after a
    fork), or a view of it for `with_options()` and `with_raw_response`.
    """

    __slots__ = ("_core", "_http")

    def __init__(self, core: PortalCore[Any], http: Callable[[], HTTPCore]) -> None:
        self._core = core
        self._http = http

    def call(
        self,
        op: Operation[_T],
        path: Sequence[object],
        query: Sequence[object],
        request: object,
        fields: Mapping[str, object] | None,
        timeout: NotGivenOr[TimeoutTypes],
        retry: NotGivenOr[RetryPolicy | None],
        deadline: NotGivenOr[float | None] = NOT_GIVEN,
    ) -> _T:
        """One call, run to its end on the loop thread."""
        result: _T = self._core.call(
            self._http().call, op, path, query, request, fields, timeout, retry, deadline
        )
        return result

    def pager(
        self,
        op: Operation[Any],
        path: Sequence[object],
        query: Sequence[object],
        timeout: NotGivenOr[TimeoutTypes],
        retry: NotGivenOr[RetryPolicy | None],
        deadline: NotGivenOr[float | None] = NOT_GIVEN,
    ) -> Page[Any]:
        """The first page of a list call (or, on a raw view, a `RawResponse` of it)."""
        http = self._http()
        if http.raw:
            pager: AsyncPager[Any] = AsyncPager(
                http.derive(raw=False), op, path, query, timeout, retry, deadline
            )
            raw: RawResponse[AsyncPage[Any]] = self._core.call(pager.raw)
            page = Page(raw.parsed, self._core.call)
            return cast("Page[Any]", RawResponse(raw.http_response, page))
        pager = AsyncPager(http, op, path, query, timeout, retry, deadline)
        first: AsyncPage[Any] = self._core.call(pager._first)  # pyright: ignore[reportPrivateUsage]
        return Page(first, self._core.call)

    @property
    def portal(self) -> PortalCore[Any]:
        """The portal the calls run through."""
        return self._core

    def http(self) -> HTTPCore:
        """The `HTTPCore` the calls go to now."""
        return self._http()

    def raw_view(self) -> BlockingCaller:
        """A caller whose calls give `RawResponse`s."""
        http = self._http
        return BlockingCaller(self._core, lambda: http().derive(raw=True))

    def with_options(
        self,
        *,
        access_token: str | NotGiven | None,
        timeout: NotGivenOr[TimeoutTypes],
        retry: NotGivenOr[RetryPolicy | None],
        deadline: NotGivenOr[float | None] = NOT_GIVEN,
    ) -> BlockingCaller:
        """A caller for a view of the core with other settings (see `AsyncPolar.with_options`).

        The view is made again only when the client's core is (after a fork), so each call
        costs a lookup, not a new view.
        """
        from ._client import _resolve_token  # pyright: ignore[reportPrivateUsage]
        from ._exceptions import ConfigurationError, InvalidRequestError
        from ._http import as_timeout, check_deadline

        token: NotGivenOr[str | None] = NOT_GIVEN
        if not isinstance(access_token, NotGiven):
            token = _resolve_token(access_token, from_env=False)
        try:
            if not isinstance(timeout, NotGiven):
                as_timeout(timeout)
            if not isinstance(deadline, NotGiven):
                check_deadline(deadline)
        except InvalidRequestError as exc:
            raise ConfigurationError(str(exc)) from None
        parent = self._http
        made: list[tuple[HTTPCore, HTTPCore]] = []

        def view() -> HTTPCore:
            base = parent()
            if made and made[0][0] is base:
                return made[0][1]
            derived = base.derive(token=token, timeout=timeout, retry=retry, deadline=deadline)
            made[:] = [(base, derived)]
            return derived

        return BlockingCaller(self._core, view)
