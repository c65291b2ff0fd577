"""Schema checks for a customer-session request body, with the server's 422 item shapes.

The real server validates the body against two alternative shapes (by Polar customer id, or by
external id) and, when neither fits, lists the problems of both with the shape's name in `loc`.
"""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["ParsedCreate", "check_create_body"]

_ID_SHAPE = "CustomerSessionCustomerIDCreate"
_EXTERNAL_SHAPE = "CustomerSessionCustomerExternalIDCreate"
_MAX_URL = 2083
_HEX = set("0123456789abcdefABCDEF-")

Item = dict[str, Any]


class ParsedCreate:
    """A body that passed the schema: which customer, which member, and the return URL."""

    __slots__ = ("by_external", "customer_key", "external_member_id", "member_id", "return_url")

    def __init__(
        self,
        *,
        by_external: bool,
        customer_key: str,
        member_id: str | None,
        external_member_id: str | None,
        return_url: str | None,
    ) -> None:
        self.by_external = by_external
        self.customer_key = customer_key
        self.member_id = member_id
        self.external_member_id = external_member_id
        self.return_url = return_url


def _uuid_problem(value: object, loc: list[str | int]) -> Item | None:
    if not isinstance(value, str):
        return {
            "type": "uuid_type",
            "loc": loc,
            "msg": "UUID input should be a string, bytes or UUID object",
            "input": value,
        }
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        bad = next(((i, c) for i, c in enumerate(value) if c not in _HEX), None)
        if bad is not None:
            reason = f"invalid character: found `{bad[1]}` at {bad[0] + 1}"
        else:
            reason = f"invalid length: expected length 32 for simple format, found {len(value)}"
        return {
            "type": "uuid_parsing",
            "loc": loc,
            "msg": f"Input should be a valid UUID, {reason}",
            "input": value,
            "ctx": {"error": reason},
        }
    if parsed.version != 4:
        return {
            "type": "uuid_version",
            "loc": loc,
            "msg": "UUID version 4 expected",
            "input": value,
            "ctx": {"expected_version": 4},
        }
    return None


def _url_problem(value: object, loc: list[str | int]) -> Item | None:
    if not isinstance(value, str):
        return {"type": "url_type", "loc": loc, "msg": "URL input should be a string or URL"}
    if not value:
        reason = "input is empty"
    elif len(value) > _MAX_URL:
        return {
            "type": "url_too_long",
            "loc": loc,
            "msg": f"URL should have at most {_MAX_URL} characters",
            "input": value,
            "ctx": {"max_length": _MAX_URL},
        }
    else:
        scheme, sep, rest = value.partition(":")
        if sep and scheme and rest and scheme[0].isalpha():
            return None
        reason = "relative URL without a base"
    return {
        "type": "url_parsing",
        "loc": loc,
        "msg": f"Input should be a valid URL, {reason}",
        "input": value,
        "ctx": {"error": reason},
    }


def _string_problem(value: object, loc: list[str | int]) -> Item | None:
    if isinstance(value, str):
        return None
    return {
        "type": "string_type",
        "loc": loc,
        "msg": "Input should be a valid string",
        "input": value,
    }


def _optional_problems(body: dict[str, Any], shape: str) -> list[Item]:
    problems: list[Item] = []
    checks = (
        ("member_id", _uuid_problem),
        ("external_member_id", _string_problem),
        ("return_url", _url_problem),
    )
    for name, check in checks:
        value = body.get(name)
        if value is None:
            continue
        problem = check(value, ["body", shape, name])
        if problem is not None:
            problems.append(problem)
    return problems


def _opt_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) else None


def check_create_body(body: object) -> ParsedCreate | list[Item]:
    """Validate a decoded JSON body; return the parsed request or the 422 `detail` items."""
    if not isinstance(body, dict):
        return [
            {
                "type": "model_attributes_type",
                "loc": ["body", shape],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": body,
            }
            for shape in (_ID_SHAPE, _EXTERNAL_SHAPE)
        ]
    fields: dict[str, Any] = {str(k): v for k, v in body.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]

    id_problems: list[Item] = []
    if "customer_id" not in fields:
        id_problems.append(
            {
                "type": "missing",
                "loc": ["body", _ID_SHAPE, "customer_id"],
                "msg": "Field required",
                "input": fields,
            }
        )
    else:
        problem = _uuid_problem(fields["customer_id"], ["body", _ID_SHAPE, "customer_id"])
        if problem is not None:
            id_problems.append(problem)
    id_problems += _optional_problems(fields, _ID_SHAPE)

    external_problems: list[Item] = _optional_problems(fields, _EXTERNAL_SHAPE)
    if "external_customer_id" not in fields:
        external_problems.append(
            {
                "type": "missing",
                "loc": ["body", _EXTERNAL_SHAPE, "external_customer_id"],
                "msg": "Field required",
                "input": fields,
            }
        )
    else:
        problem = _string_problem(
            fields["external_customer_id"], ["body", _EXTERNAL_SHAPE, "external_customer_id"]
        )
        if problem is not None:
            external_problems.append(problem)

    common = {
        "member_id": _opt_str(fields, "member_id"),
        "external_member_id": _opt_str(fields, "external_member_id"),
        "return_url": _opt_str(fields, "return_url"),
    }
    # As on the real server, a valid external id wins even when customer_id is also given.
    if not external_problems:
        return ParsedCreate(by_external=True, customer_key=fields["external_customer_id"], **common)
    if not id_problems:
        return ParsedCreate(by_external=False, customer_key=fields["customer_id"], **common)
    return id_problems + external_problems
