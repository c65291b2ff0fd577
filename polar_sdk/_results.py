"""What calls give back besides models: raw responses and pages of list operations.

List operations (`polar.customers.list(...)`) answer one page at a time. On `AsyncPolar` they
return an `AsyncPager`, which is both awaitable and async-iterable:

    page = await polar.customers.list(limit=100)      # the first page: .items, .pagination
    while page.has_next_page():
        page = await page.next_page()

    async for customer in polar.customers.list():    # every item of every page
        ...

On the blocking `Polar` they return the first `Page` directly; iterating it walks every item
of every page from there, one request (and one crossing to the client's loop thread) per page.
A failing page raises at the point the iteration reaches it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from ._types import NOT_GIVEN, NotGivenOr, TimeoutTypes

if TYPE_CHECKING:
    from ._http import HTTPCore
    from ._operation import Operation
    from ._retry import RetryPolicy

__all__ = ["AsyncPage", "AsyncPager", "Page", "RawResponse"]

_T = TypeVar("_T")
_R = TypeVar("_R")


class RawResponse(Generic[_R]):
    """A call's HTTP answer next to its parsed result (`with_raw_response`).

    Attributes:
        parsed: what the call returns without `with_raw_response` (a model, a page, `None`
            or text).
        http_response: the `httpx.Response`, body read.
    """

    __slots__ = ("http_response", "parsed")

    def __init__(self, http_response: httpx.Response, parsed: _R) -> None:
        self.http_response = http_response
        self.parsed = parsed

    @property
    def status_code(self) -> int:
        """The HTTP status of the answer."""
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The answer's headers (rate-limit and tracing headers live here)."""
        return self.http_response.headers

    def __repr__(self) -> str:
        return f"<RawResponse {self.status_code} {type(self.parsed).__name__}>"


class _Request:
    """One list call's arguments, to ask for the following pages with."""

    __slots__ = ("core", "deadline", "op", "path", "query", "retry", "timeout")

    def __init__(
        self,
        core: HTTPCore,
        op: Operation[Any],
        path: Sequence[object],
        query: Sequence[object],
        timeout: NotGivenOr[TimeoutTypes],
        retry: NotGivenOr[RetryPolicy | None],
        deadline: NotGivenOr[float | None],
    ) -> None:
        self.core = core
        self.op = op
        self.path = path
        self.query = query
        self.timeout = timeout
        self.retry = retry
        self.deadline = deadline

    def page_number(self) -> int:
        index = self.op.page_index
        value = self.query[index] if index is not None else None
        return value if isinstance(value, int) and not isinstance(value, bool) else 1

    def with_page(self, number: int) -> _Request:
        index = self.op.page_index
        query = list(self.query)
        if index is not None:
            query[index] = number
        return _Request(
            self.core, self.op, self.path, query, self.timeout, self.retry, self.deadline
        )

    async def fetch(self) -> tuple[httpx.Response, AsyncPage[Any]]:
        core = self.core  # never a raw view: pages hold parsed answers
        response = await core.send(
            self.op, self.path, self.query, None, None, self.timeout, self.retry, self.deadline
        )
        return response, AsyncPage(core.result(self.op, response), self)


class AsyncPage(Generic[_T]):
    """One page of a list answer; `async for` over it walks this page and the ones after.

    Attributes:
        result: the decoded answer (`ListResource[...]`), for anything beyond items and
            pagination.
    """

    __slots__ = ("_request", "result")

    def __init__(self, result: Any, request: _Request) -> None:
        self.result = result
        self._request = request

    @property
    def items(self) -> list[_T]:
        """The items of this page."""
        items: list[_T] = self.result.items
        return items

    @property
    def pagination(self) -> Any:
        """The answer's pagination (`total_count` and `max_page`, or `has_next_page`)."""
        return self.result.pagination

    @property
    def page_number(self) -> int:
        """Which page this is (1 for the first)."""
        return self._request.page_number()

    def has_next_page(self) -> bool:
        """Whether the server has another page after this one."""
        pagination = self.result.pagination
        has_next = getattr(pagination, "has_next_page", None)
        if isinstance(has_next, bool):
            return has_next
        max_page = getattr(pagination, "max_page", None)
        return isinstance(max_page, int) and self.page_number < max_page and bool(self.items)

    async def next_page(self) -> AsyncPage[_T]:
        """Fetch the page after this one (`InvalidRequestError` when there is none)."""
        if not self.has_next_page():
            raise _last_page()
        _, page = await self._request.with_page(self.page_number + 1).fetch()
        return page

    async def __aiter__(self) -> AsyncIterator[_T]:
        page: AsyncPage[_T] = self
        while True:
            for item in page.items:
                yield item
            if not page.has_next_page():
                return
            page = await page.next_page()

    def __repr__(self) -> str:
        return f"<AsyncPage {self.page_number}: {len(self.items)} items>"


class AsyncPager(Generic[_T]):
    """What an async list method returns: await it for the first page, or iterate all items."""

    __slots__ = ("_request",)

    def __init__(
        self,
        core: HTTPCore,
        op: Operation[Any],
        path: Sequence[object],
        query: Sequence[object],
        timeout: NotGivenOr[TimeoutTypes],
        retry: NotGivenOr[RetryPolicy | None],
        deadline: NotGivenOr[float | None] = NOT_GIVEN,
    ) -> None:
        self._request = _Request(core, op, path, query, timeout, retry, deadline)

    async def _first(self) -> AsyncPage[_T]:
        _, page = await self._request.fetch()
        return page

    def __await__(self) -> Generator[Any, None, AsyncPage[_T]]:
        return self._first().__await__()

    async def __aiter__(self) -> AsyncIterator[_T]:
        page = await self._first()
        async for item in page:
            yield item

    async def raw(self) -> RawResponse[AsyncPage[_T]]:
        """The first page with its HTTP answer."""
        response, page = await self._request.fetch()
        return RawResponse(response, page)


class Page(Generic[_T]):
    """One page of a list answer on the blocking client; iterating walks every later page.

    Each further page costs one request and one crossing to the client's loop thread.
    """

    __slots__ = ("_call", "_page")

    def __init__(self, page: AsyncPage[_T], call: Callable[..., Any]) -> None:
        self._page = page
        self._call = call

    @property
    def result(self) -> Any:
        """The decoded answer (`ListResource[...]`)."""
        return self._page.result

    @property
    def items(self) -> list[_T]:
        """The items of this page."""
        return self._page.items

    @property
    def pagination(self) -> Any:
        """The answer's pagination (`total_count` and `max_page`, or `has_next_page`)."""
        return self._page.pagination

    @property
    def page_number(self) -> int:
        """Which page this is (1 for the first)."""
        return self._page.page_number

    def has_next_page(self) -> bool:
        """Whether the server has another page after this one."""
        return self._page.has_next_page()

    def next_page(self) -> Page[_T]:
        """Fetch the page after this one (`InvalidRequestError` when there is none)."""
        if not self._page.has_next_page():
            raise _last_page()
        following: AsyncPage[_T] = self._call(self._page.next_page)
        return Page(following, self._call)

    def __iter__(self) -> Iterator[_T]:
        page: Page[_T] = self
        while True:
            yield from page.items
            if not page.has_next_page():
                return
            page = page.next_page()

    def __repr__(self) -> str:
        return f"<Page {self.page_number}: {len(self.items)} items>"


def _last_page() -> Exception:
    from ._exceptions import InvalidRequestError

    return InvalidRequestError("this is the last page: check has_next_page() first")
