"""Receive Polar's webhooks: check the signature, then decode the event into its model.

    from polar_sdk.webhooks import verify_event

    event = verify_event(request_body_bytes, request.headers, secret="whsec_...")
    if event.type == "order.paid":
        ...  # event is a WebhookOrderPaidPayload: event.data is the Order

Polar signs deliveries with the Standard Webhooks scheme: a `webhook-id`, a
`webhook-timestamp` (Unix seconds) and a `webhook-signature` header holding one or more
space-separated `v1,<base64>` signatures, each an HMAC-SHA256 over `id.timestamp.body`.

**The key is the secret string itself.** Polar hands the secret out as `whsec_...` (in its
dashboard and as `WebhookEndpoint.secret`) and signs with the UTF-8 bytes of that whole string,
prefix included. The generic Standard Webhooks rule for `whsec_` secrets (base64-decode what
follows the prefix) yields another key, and every real delivery then fails to verify: pass the
secret to `verify_event` exactly as Polar shows it. (Real deliveries recorded from a Polar
server verify this way, and only this way.)

Checks, in order, each failing with `WebhookVerificationError` (the message says which, never
the secret or an expected signature): the body is bytes; the three headers are present (names
in any case); the timestamp is within `tolerance` seconds of now, either way (default 5
minutes: replays of old deliveries and clocks far ahead are refused); one of the `v1`
signatures matches (compared in constant time; other schemes such as `v1a` are ignored). Then
the body must be a JSON event (`WebhookPayloadError` otherwise, with the raw body kept).

An event type this SDK version does not know decodes to `UnknownWebhookEvent` (with `.type`
and `.raw`): acknowledge it rather than failing, or Polar retries it for days. Known events
with fields or enum values added later decode like any answer (forward compatible).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias, cast

from ._exceptions import WebhookPayloadError, WebhookVerificationError

if TYPE_CHECKING:
    from .models import UnknownWebhookPayload, WebhookPayload

__all__ = [
    "DEFAULT_TOLERANCE",
    "MAX_BODY_BYTES",
    "UnknownWebhookEvent",
    "WebhookEvent",
    "WebhookPayloadError",
    "WebhookVerificationError",
    "decode_event",
    "signature",
    "verify_event",
    "verify_signature",
]

DEFAULT_TOLERANCE: Final = 300
"""Seconds a delivery's timestamp may be away from now, in the past or the future."""

MAX_BODY_BYTES: Final = 10 * 1024 * 1024
"""Bodies larger than this are refused before any work (Polar's events are a few kB)."""

if TYPE_CHECKING:
    WebhookEvent: TypeAlias = WebhookPayload
    """Any event Polar delivers: one model per event type, told apart by `type`."""

    UnknownWebhookEvent: TypeAlias = UnknownWebhookPayload
    """An event of a type this SDK version does not know (`.type`, `.raw`)."""


def __getattr__(name: str) -> Any:
    # The event models load with the first use, not with `import polar_sdk.webhooks`.
    if name == "WebhookEvent":
        from .models import WebhookPayload

        return WebhookPayload
    if name == "UnknownWebhookEvent":
        from .models import UnknownWebhookPayload

        return UnknownWebhookPayload
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def signature(secret: str, webhook_id: str, timestamp: int | str, body: bytes) -> str:
    """The `v1,<base64>` signature Polar puts on a delivery (see the module docstring)."""
    return _sign(_key(secret), webhook_id, str(timestamp), body)


def _sign(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks' v1 scheme for raw key bytes: HMAC-SHA256 over `id.timestamp.body`."""
    message = b"%s.%s.%s" % (webhook_id.encode(), timestamp.encode(), body)
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check a delivery's signature and timestamp; `WebhookVerificationError` if they fail.

    `now` (Unix seconds) is for tests; it defaults to the current time.
    """
    _check_body(body)
    key = _key(secret)
    found = _headers(headers)
    webhook_id, stamp, signatures = found
    try:
        sent_at = int(stamp)
    except ValueError:
        raise WebhookVerificationError("the webhook-timestamp header is not a number") from None
    current = time.time() if now is None else now
    if sent_at < current - tolerance:
        raise WebhookVerificationError(
            f"the delivery is too old: its timestamp is {current - sent_at:.0f} s in the past "
            f"(tolerance {tolerance:g} s); a replay, or a clock far behind"
        )
    if sent_at > current + tolerance:
        raise WebhookVerificationError(
            f"the delivery's timestamp is {sent_at - current:.0f} s in the future "
            f"(tolerance {tolerance:g} s); check the clocks"
        )
    message = b"%s.%s.%s" % (webhook_id.encode(), stamp.encode(), body)
    expected = hmac.new(key, message, hashlib.sha256).digest()
    offered = 0
    for item in signatures.split():
        scheme, _, value = item.partition(",")
        if scheme != "v1":
            continue  # another scheme (v1a: asymmetric): not Polar's
        offered += 1
        try:
            candidate = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(candidate, expected):
            return
    if not offered:
        raise WebhookVerificationError(
            "the webhook-signature header holds no v1 signature (the only scheme Polar uses)"
        )
    raise WebhookVerificationError(
        "no signature matches: the body, id or timestamp was changed, or the secret is not "
        "this endpoint's (pass it exactly as Polar shows it, whsec_ prefix included)"
    )


def verify_event(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> WebhookPayload:
    """Verify a delivery (see `verify_signature`), then decode it into its event model.

    Args:
        body: the raw request body, exactly as received (the signature covers these bytes;
            a `str` or a parsed dict is refused).
        headers: the request headers (any mapping; names in any case).
        secret: the endpoint's secret exactly as Polar shows it (`whsec_...`).
        tolerance: seconds the timestamp may be off, either way (default 300).

    Raises:
        WebhookVerificationError: a header is missing, the timestamp is out of tolerance,
            or no signature matches.
        WebhookPayloadError: the signature is fine but the body is not a valid event
            (`exc.body` keeps it).
    """
    verify_signature(body, headers, secret, tolerance=tolerance, now=now)
    return decode_event(body)


def decode_event(body: bytes) -> WebhookPayload:
    """Decode a verified body into its event model (no signature check: see `verify_event`)."""
    loaded = _LOADED
    if not loaded:
        from . import _json
        from .models import WebhookPayload, structure

        loaded.extend((_json.loads, structure, WebhookPayload))
    loads, structure, union = loaded
    try:
        data = loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError("the webhook body is not valid JSON", body=body) from exc
    if not isinstance(data, dict):
        raise WebhookPayloadError("the webhook body is not a JSON object", body=body)
    data = cast("dict[str, Any]", data)
    try:
        event: WebhookPayload = structure(data, union)
    except Exception as exc:
        kind = data.get("type")
        shown = kind if isinstance(kind, str) else "?"
        raise WebhookPayloadError(
            f"the webhook body is not a valid {shown!r} event: {exc}", body=body
        ) from exc
    return event


# -- helpers ----------------------------------------------------------------------------------

_LOADED: list[Any] = []  # json.loads, models.structure and the event union, once loaded


def _check_body(body: object) -> None:  # callers without a type checker pass anything
    if isinstance(body, str):
        raise WebhookVerificationError(
            "pass the raw request body as bytes (for example `await request.body()`), not a "
            "str: the signature covers the exact bytes, and decoding and re-encoding can "
            "change them"
        )
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise WebhookVerificationError(
            f"pass the raw request body as bytes, not a {type(body).__name__}: the signature "
            "covers the bytes as sent, which a parsed body no longer has"
        )
    size = len(body) if isinstance(body, bytes) else memoryview(body).nbytes  # pyright: ignore[reportUnknownArgumentType]
    if size > MAX_BODY_BYTES:
        raise WebhookVerificationError(
            f"the body is {size} bytes; deliveries above {MAX_BODY_BYTES} are refused"
        )


def _key(secret: object) -> bytes:
    if not isinstance(secret, str) or not secret.strip():
        raise WebhookVerificationError(
            "the webhook secret must be the endpoint's secret string (whsec_...), as Polar shows it"
        )
    return secret.strip().encode("utf-8")


_NAMES = ("webhook-id", "webhook-timestamp", "webhook-signature")


def _headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    # Most frameworks give lower-case names or a case-insensitive mapping: ask directly first.
    try:
        direct = (
            headers.get("webhook-id"),
            headers.get("webhook-timestamp"),
            headers.get("webhook-signature"),
        )
    except Exception:  # a mapping whose get() is picky; scan it below
        direct = (None, None, None)
    if all(isinstance(v, str) and v for v in direct):
        webhook_id, stamp, signatures = cast("tuple[str, str, str]", direct)
        return webhook_id, stamp.strip(), signatures
    found: dict[str, str] = {}
    items = cast("Mapping[object, object]", headers).items()  # any mapping a framework gives
    for name, value in items:
        lowered = name.lower() if isinstance(name, str) else ""
        if lowered in _NAMES:
            found[lowered] = value if isinstance(value, str) else str(value)
    missing = [name for name in _NAMES if not found.get(name)]
    if missing:
        raise WebhookVerificationError(
            f"missing header{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
            "not a Polar webhook delivery, or a proxy dropped them"
        )
    return found["webhook-id"], found["webhook-timestamp"].strip(), found["webhook-signature"]
