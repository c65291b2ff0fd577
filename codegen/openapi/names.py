"""Python names for spec names: classes, fields, modules, resources, methods."""

from __future__ import annotations

import keyword
import re

__all__ = [
    "class_name",
    "field_name",
    "module_name",
    "operation_path",
    "pascal",
    "snake",
]

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9])|[A-Z]?[a-z0-9]+|[A-Z]+|[0-9]+")


def words(text: str) -> list[str]:
    """Split `CheckoutLink`, `checkout-links`, `oauth2_client` or `ID` into words."""
    out: list[str] = []
    for chunk in re.split(r"[^A-Za-z0-9]+", text):
        out.extend(_WORD.findall(chunk))
    return out


def pascal(text: str) -> str:
    """`email-update verify` -> `EmailUpdateVerify`; words already in capitals stay so."""
    return "".join(w if w.isupper() else w[:1].upper() + w[1:] for w in words(text))


def snake(text: str) -> str:
    """`CustomerSessionCustomerIDCreate` -> `customer_session_customer_id_create`."""
    return "_".join(w.lower() for w in words(text))


def _dedupe_words(parts: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for part in parts:
        key = part.lower()
        if key in seen:
            continue
        seen.add(key)
        out.append(part)
    return out


def class_name(spec_name: str) -> str:
    """A schema's class name: the spec name made an identifier.

    `CostMetadata-Input` -> `CostMetadataInput`; FastAPI's body schemas
    `Body_email-update_verify_email_update` -> `EmailUpdateVerifyBody` (words of the
    operation, each once, then `Body`). Plain names are kept exactly.
    """
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", spec_name):
        return spec_name
    if spec_name.startswith("Body_"):
        parts = _dedupe_words(words(spec_name[len("Body_") :]))
        return "".join(p[:1].upper() + p[1:] for p in parts) + "Body"
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", spec_name) if p)


def field_name(wire_name: str) -> str:
    """A property's attribute name: `_llm` -> `llm`, `from` -> `from_`, `a-b` -> `a_b`."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", wire_name).strip("_")
    if not name:
        name = "value"
    if name[0].isdigit():
        name = "n" + name
    if keyword.iskeyword(name) or name in ("NOT_GIVEN", "extra"):
        name += "_"
    return name


def module_name(root: str) -> str:
    """The private module that holds a group of models: `_checkout_link` for `CheckoutLink`."""
    return "_" + snake(root)


def operation_path(operation_id: str) -> tuple[str, ...]:
    """`customers:members:create_external` -> ("customers", "members", "create_external").

    Every `-` becomes `_`; a segment that repeats an earlier one is dropped
    (`oauth2:clients:oauth2:create_client` -> ("oauth2", "clients", "create_client")).
    """
    parts: list[str] = []
    for segment in operation_id.split(":"):
        name = segment.replace("-", "_")
        if name in parts:
            continue
        parts.append(name)
    return tuple(parts)
