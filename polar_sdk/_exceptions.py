"""The errors polar_sdk raises.

Every error the SDK raises on purpose derives from `PolarError`::

    PolarError
    ├── ConfigurationError          bad client settings (no token, unknown server, ...)
    ├── InvalidRequestError         arguments that the API would certainly reject; nothing was sent
    ├── ClientClosedError           the client was used after close()
    ├── BlockingUsageError          a blocking call from the client's own loop thread (or a fork)
    ├── IngestError                 the event ingester could not deliver events (kept, not lost)
    │   └── IngestQueueFullError    track() found the ingester full (max_pending)
    ├── APIConnectionError          no HTTP answer: refused, reset, DNS, TLS, protocol error
    │   └── APITimeoutError         a connect, read, write or pool timeout, or the deadline ran out
    ├── ResponseDecodeError         an answer arrived but its body could not be decoded
    ├── WebhookVerificationError    a webhook delivery failed its signature or timestamp check
    ├── WebhookPayloadError         a correctly signed webhook body is not a valid event
    └── APIException                the server answered with a status the operation does not expect
        ├── BadRequestError             400
        ├── AuthenticationError         401
        ├── PaymentRequiredError        402 (a payment failed, e.g. a subscription upgrade)
        ├── PermissionDeniedError       403
        ├── NotFoundError               404
        ├── ConflictError               409
        ├── GoneError                   410
        ├── PreconditionFailedError     412
        ├── HTTPValidationError         422, with a typed `detail` list
        ├── RateLimitError              429, with `retry_after`
        └── ServerError                 5xx

`APIException` is raised as-is for every other status (a 405, a 411, an unfollowed redirect...).
Status errors carry the status code, the response headers, the raw body, the parsed JSON body
(when there is one) and the `httpx.Request` that was sent.

Messages are built from the server's error fields and never contain the access token or any
customer-session token: the request's own token and anything shaped like a Polar token
(`polar_oat_`, `polar_pat_`, `polar_cst_`, `polar_mst_`) are redacted from every message and
repr, even when a server echoes them. `body`, `data`, `error`, `detail` and `headers` keep the
server's answer as it came.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import _json

if TYPE_CHECKING:
    import httpx

    from .models import ValidationError

__all__ = [
    "APIConnectionError",
    "APIException",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BlockingUsageError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "GoneError",
    "HTTPValidationError",
    "IngestError",
    "IngestQueueFullError",
    "InvalidRequestError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PolarError",
    "PreconditionFailedError",
    "RateLimitError",
    "ResponseDecodeError",
    "ServerError",
    "WebhookPayloadError",
    "WebhookVerificationError",
]


class PolarError(Exception):
    """Base class of every error raised by polar_sdk."""


class ConfigurationError(PolarError, ValueError, TypeError):
    """The client was configured in a way that cannot work (for example, no access token).

    Also a `ValueError` and a `TypeError`, the errors a wrong argument raises elsewhere in
    Python; the message names the argument (or environment variable) at fault.
    """


class InvalidRequestError(PolarError, ValueError):
    """The arguments of a call would certainly be rejected by the API; no request was sent."""


class ClientClosedError(PolarError, RuntimeError):
    """The client was used after `close()` / `aclose()`."""


class BlockingUsageError(PolarError, RuntimeError):
    """The blocking `Polar` client was called where a blocking call cannot work.

    Raised instead of deadlocking when a call comes from the client's own event-loop thread
    (for example from an httpx event hook), and in a forked child process when the client
    was built around a caller-supplied `http_client`, whose connections belong to the parent.
    """


class IngestError(PolarError):
    """The event ingester could not deliver some events (they are kept, never dropped).

    Raised by `flush()` and `close()` of `polar.events.ingester()`. `pending` is how many
    events were still waiting when it was raised; `cause` the last failure, when there was
    one (also chained as `__cause__`).
    """

    def __init__(self, message: str, *, pending: int, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.pending = pending
        self.cause = cause


class IngestQueueFullError(IngestError):
    """`track()` found the ingester holding `max_pending` events; this event was not queued."""


class APIConnectionError(PolarError):
    """The request got no HTTP answer (refused, reset, DNS or TLS failure, broken protocol).

    `request` is the `httpx.Request` that was being sent, when one had been built.
    """

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """A timeout expired before the answer was complete (or the call's deadline ran out)."""


class ResponseDecodeError(PolarError):
    """An answer (or data given to `polar_sdk.models.structure()`) does not fit its model.

    The message names the model and the path of each bad field. Nothing is lost: for an
    answer, `body` keeps the raw text and `response` the whole `httpx.Response`; for
    `structure()`, `data` keeps the input. Values are left out of the message because a
    successful body can hold session tokens.
    """

    def __init__(
        self, message: str, *, response: httpx.Response | None = None, data: Any = None
    ) -> None:
        super().__init__(message)
        self.response = response
        self.data = data
        if response is not None:
            self.status_code: int | None = response.status_code
            self.headers: httpx.Headers | None = response.headers
            self.body: str | None = response.text
            self.request: httpx.Request | None = response.request
        else:
            self.status_code = self.headers = self.body = self.request = None


class WebhookVerificationError(PolarError):
    """A webhook delivery cannot be trusted: a header is missing, its timestamp is out of
    tolerance, or no signature matches. Answer it with 400/403; never process it."""


class WebhookPayloadError(PolarError):
    """A correctly signed webhook body is not a valid event. `body` keeps the raw bytes."""

    def __init__(self, message: str, *, body: bytes = b"") -> None:
        super().__init__(message)
        self.body = bytes(body)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_payload_error, (str(self), self.body))


def _rebuild_payload_error(message: str, body: bytes) -> WebhookPayloadError:
    return WebhookPayloadError(message, body=body)


class APIException(PolarError):
    """The server answered with a status the operation does not expect (any 4XX or 5XX).

    Attributes:
        status_code: the HTTP status.
        headers: the response headers.
        body: the raw response body as text ("" when empty).
        data: the body parsed as JSON, or `None` when it is empty or not JSON.
        request: the `httpx.Request` that was sent.
        response: the full `httpx.Response`.
        error: the server's short error code when it sent one (`"invalid_token"`,
            `"ResourceNotFound"`, ...), else `None`.
        detail: the server's human-readable explanation when it sent one, else `None`.
    """

    def __init__(self, message: str, *, response: httpx.Response, data: Any = None) -> None:
        super().__init__(message)
        self.response = response
        self.request = response.request
        self.status_code = response.status_code
        self.headers = response.headers
        self.body = response.text
        self.data = data
        self.error, self.detail = _error_fields(data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={str(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # The constructor needs `response=`, which BaseException's pickling does not pass.
        return (_rebuild, (type(self), self.args, self.__dict__))


class BadRequestError(APIException):
    """400: the server refused the request as malformed or against a business rule."""


class AuthenticationError(APIException):
    """401: the access token is missing, malformed, unknown, expired or revoked."""


class PaymentRequiredError(APIException):
    """402: the action needed a payment that failed (`exc.error` is often `"PaymentFailed"`)."""


class PermissionDeniedError(APIException):
    """403: the token lacks a scope, or the action is not permitted for this object."""


class NotFoundError(APIException):
    """404: the object (or the route, or the requested API version) does not exist."""


class ConflictError(APIException):
    """409: the request conflicts with the current state of an object."""


class GoneError(APIException):
    """410: the object existed but is no longer available."""


class PreconditionFailedError(APIException):
    """412: the object is not in the state the action requires."""


class HTTPValidationError(APIException):
    """422: the server rejected the request's content.

    `detail` is a list of `polar_sdk.models.ValidationError`, each with a `loc` path, a `msg`
    and a machine-readable `type`.
    """

    detail: list[ValidationError]


class RateLimitError(APIException):
    """429: too many requests. `retry_after` is the server's wait hint in seconds, if any."""

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait according to the `Retry-After` header, or `None` without one."""
        return parse_retry_after(self.headers.get("retry-after"))


class ServerError(APIException):
    """5xx: the server failed. The request may or may not have taken effect."""


def _rebuild(cls: type[APIException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """Unpickle a status error without calling its constructor."""
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


# Tracebacks and reprs name the public module users import the classes from.
for _name in __all__:
    globals()[_name].__module__ = "polar_sdk.errors"


_STATUS_ERRORS: dict[int, type[APIException]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    412: PreconditionFailedError,
    422: HTTPValidationError,
    429: RateLimitError,
}


def parse_retry_after(value: str | None) -> float | None:
    """Read a `Retry-After` value in seconds or HTTP-date form; `None` when absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)
    import email.utils  # HTTP-date hints are rare: not imported with the SDK

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


# RFC 9110 says whole seconds; a decimal fraction is tolerated. No signs, exponents or "inf".
_DELAY_SECONDS = re.compile(r"[0-9]{1,9}(?:\.[0-9]+)?")


def _as_object(data: Any) -> dict[str, Any] | None:
    if isinstance(data, dict):
        obj: dict[str, Any] = data  # pyright: ignore[reportUnknownVariableType]
        return obj
    return None


def _error_fields(data: Any) -> tuple[str | None, Any]:
    obj = _as_object(data)
    if obj is None:
        return None, None
    error = obj.get("error")
    detail = obj.get("detail", obj.get("error_description"))
    return (error if isinstance(error, str) else None), detail


def _describe_validation_items(items: Sequence[Any]) -> str:
    parts: list[str] = []
    for item in items:
        obj = _as_object(item)
        if obj is None:
            continue
        loc: Any = obj.get("loc")
        msg: Any = obj.get("msg", "invalid")
        where = "?"
        if isinstance(loc, list):
            path: list[Any] = loc  # pyright: ignore[reportUnknownVariableType]
            where = ".".join(map(str, path))
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


# Polar's credential formats: organization and personal access tokens, customer and member
# session tokens. A match keeps its prefix, so a message still says which kind it was.
_CREDENTIAL = re.compile(r"\b(polar_(?:oat|pat|cst|mst)_)[A-Za-z0-9]+")
_REDACTED = "[REDACTED]"
_MIN_SECRET_LENGTH = 8  # shorter "tokens" are test stand-ins; replacing them would garble text


def _request_credentials(request: httpx.Request) -> list[str]:
    """The credentials a request carried: the Authorization header's token (any format)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    secrets = [token.strip()] if scheme.lower() == "bearer" else [header.strip()]
    return [secret for secret in secrets if len(secret) >= _MIN_SECRET_LENGTH]


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """`text` with each of `secrets` and anything shaped like a Polar token replaced.

    Used on every message the SDK builds from a server's answer: a server (or a proxy in
    front of it) may echo the request's Authorization header or a session token.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return _CREDENTIAL.sub(lambda match: match.group(1) + _REDACTED, text)


def _message(response: httpx.Response, data: Any, polar_version: str) -> str:
    return redact(
        _raw_message(response, data, polar_version), _request_credentials(response.request)
    )


def _raw_message(response: httpx.Response, data: Any, polar_version: str) -> str:
    status = response.status_code
    request = response.request
    head = f"{status} {response.reason_phrase or 'Error'}".rstrip()
    shown = request.extensions.get("polar_sdk.path") or request.url.path
    where = f" ({request.method} {shown})"
    error, detail = _error_fields(data)
    explanation: str | None = None
    if isinstance(detail, list):
        detail_items: list[Any] = detail  # pyright: ignore[reportUnknownVariableType]
        explanation = _describe_validation_items(detail_items) or None
    elif isinstance(detail, str):
        explanation = detail
    if explanation is not None and error and error != detail and error not in head:
        explanation = f"{error}: {explanation}"
    elif explanation is None and error:
        explanation = error
    if status == 404 and error is None and "polar-version" not in response.headers:
        # The API answers an unsupported Polar-Version with a bare 404 that, unlike a
        # missing route, carries no polar-version header.
        explanation = (
            f"{explanation or 'Not Found'}; the server did not accept Polar-Version "
            f"{polar_version!r} (the API version this SDK speaks), or the route does not exist"
        )
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None:
            explanation = (
                f"{explanation + '; ' if explanation else ''}retry after {retry_after:g} s"
            )
    if 300 <= status < 400 and "location" in response.headers:
        explanation = f"unexpected redirect to {response.headers['location']}"
    if explanation is None and response.content and not isinstance(data, (dict, list)):
        snippet = response.text.strip().replace("\n", " ")
        explanation = snippet[:200] + ("..." if len(snippet) > 200 else "")
    attempts = response.extensions.get("polar_sdk.attempts")
    tries = f" after {attempts} attempts" if isinstance(attempts, int) and attempts > 1 else ""
    return f"{head}{where}{tries}" + (f": {explanation}" if explanation else "")


def make_status_error(
    response: httpx.Response,
    *,
    polar_version: str,
    validation_detail: Callable[[list[Any]], list[ValidationError]] | None = None,
) -> APIException:
    """Build the right `APIException` subclass for an unexpected response (body already read)."""
    data: Any = None
    if response.content:
        try:
            data = _json.loads(response.content)
        except ValueError:
            data = None
    status = response.status_code
    cls = _STATUS_ERRORS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIException
    exc = cls(_message(response, data, polar_version), response=response, data=data)
    if cls is HTTPValidationError:
        obj = _as_object(data)
        items: Any = obj.get("detail") if obj is not None else None
        item_list: list[Any] = items if isinstance(items, list) else []  # pyright: ignore[reportUnknownVariableType]
        exc.detail = validation_detail(item_list) if validation_detail is not None else []
    return exc
