"""Wire facts the spec gets wrong or leaves out, for the generator to apply.

This is the only hand-written input besides the spec. Every entry says what it corrects and
which recorded exchange (../shared/polar-fixtures) shows it; the generated files are never
edited by hand. The builder applies `SCHEMA_PATCHES` to a copy of the spec before reading it,
then uses the other tables while building the IR.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CONTEXT_UNIONS",
    "EXCLUSIVE_FIELDS",
    "EXTRA_SCHEMAS",
    "OPTIONAL_AUTH",
    "RESPONSE_PATCHES",
    "SCHEMA_PATCHES",
    "SECRET_FIELDS",
    "UNION_NAMES",
    "Overlay",
]

# -- schema patches ---------------------------------------------------------------------------
# `{"Schema": {"properties": {"field": {...}}, "required": {"add": [...], "remove": [...]}}}`:
# a property's schema is replaced by the one given here (or merged with it when the value holds
# "merge": True); `required` gains or loses names.


def _const(value: Any) -> dict[str, Any]:
    return {"type": "string", "const": value}


def _enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


_ONCE_FOREVER = _enum("once", "forever")
_REPEATING = _const("repeating")

# The four discount shapes share `type: DiscountType` and `duration: DiscountDuration`, so a
# repeating discount validates against both the once/forever and the repeat schema. The
# server tells them apart by (type, duration), as every recorded discount shows
# (api/discounts/*: fixed+repeating carries duration_in_months, percentage+once does not):
# state those values on each shape, and the generic union rule follows from them.
_DISCOUNT_SHAPES: dict[str, tuple[str, dict[str, Any]]] = {
    "FixedOnceForeverDuration": ("fixed", _ONCE_FOREVER),
    "FixedRepeatDuration": ("fixed", _REPEATING),
    "PercentageOnceForeverDuration": ("percentage", _ONCE_FOREVER),
    "PercentageRepeatDuration": ("percentage", _REPEATING),
}

SCHEMA_PATCHES: dict[str, dict[str, Any]] = {}
for _shape, (_type, _duration) in _DISCOUNT_SHAPES.items():
    for _name in (f"Discount{_shape}", f"Discount{_shape}Base", f"CheckoutDiscount{_shape}"):
        SCHEMA_PATCHES[_name] = {
            "properties": {"type": _const(_type), "duration": _duration},
        }

# An empty external id is refused by the server (api/../customer-sessions: 422), which the spec
# does not say: the SDK refuses it before sending.
SCHEMA_PATCHES["CustomerSessionCustomerExternalIDCreate"] = {
    "properties": {"external_customer_id": {"type": "string", "minLength": 1}},
}

# An inactive token is introspected as just `{"active": false}` (RFC 7662, and
# api/oauth2/introspect_token_200_*): every other field is present only for active tokens.
SCHEMA_PATCHES["IntrospectTokenResponse"] = {
    "required": {
        "remove": [
            "client_id", "token_type", "scope", "sub_type", "sub", "organizations",
            "aud", "iss", "exp", "iat",
        ],
    },
}  # fmt: skip

# -- unions decided by a sibling field --------------------------------------------------------
# A grant's `properties` object has no tag of its own (a custom grant's `{}` fits every shape);
# the grant's benefit type says which shape it is. Keyed by "Schema.field": the path to the tag
# in the object that holds the field, and tag value -> member schema.
_GRANT_PROPERTIES = {
    "discord": "BenefitGrantDiscordProperties",
    "github_repository": "BenefitGrantGitHubRepositoryProperties",
    "downloadables": "BenefitGrantDownloadablesProperties",
    "license_keys": "BenefitGrantLicenseKeysProperties",
    "custom": "BenefitGrantCustomProperties",
    "feature_flag": "BenefitGrantFeatureFlagProperties",
    "slack_shared_channel": "BenefitGrantSlackSharedChannelProperties",
}

_GRANT_PROPERTIES["meter_credit"] = "BenefitGrantMeterCreditProperties"

# The spec's union of grant shapes leaves out the meter-credit one, which the server writes
# for meter-credit grants (api/customers/get_state_200_fx_alice_grants_meters.json).
for _name in ("BenefitGrant", "CustomerStateBenefitGrant"):
    SCHEMA_PATCHES[_name] = {
        "properties": {
            "properties": {
                "anyOf": [
                    {"$ref": f"#/components/schemas/{_shape}"}
                    for _shape in dict.fromkeys(_GRANT_PROPERTIES.values())
                ],
            },
        },
    }

CONTEXT_UNIONS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "BenefitGrant.properties": (("benefit", "type"), _GRANT_PROPERTIES),
    "CustomerStateBenefitGrant.properties": (("benefit_type",), _GRANT_PROPERTIES),
}

# -- names for unions the spec writes inline --------------------------------------------------
# Keyed by position ("Schema.field", "Schema.field[]", "operationId.body", "operationId.200");
# positions not listed get a name from the spec's title, the members' common words, or the
# position itself (see build._union_name).
UNION_NAMES: dict[str, str] = {
    "Checkout.product_price": "CheckoutProductPrice",
    "Checkout.discount": "CheckoutDiscount",
    "CheckoutLink.discount": "DiscountBase",  # also Order.discount and Subscription.discount
    "AuthenticationSession.available_factors[]": "AuthenticationFactor",
    "EventsIngest.events[]": "EventCreate",
    "Filter.clauses[]": "FilterClauseOrFilter",
}

# -- secrets ----------------------------------------------------------------------------------
# Fields whose values are credentials: hidden from repr(). Names ending in `token`, `secret` or
# `_key` (and `key` itself) are secret wherever they appear; these are the others.
SECRET_FIELDS: frozenset[str] = frozenset(
    {
        "CustomerSession.customer_portal_url",  # embeds the session token
        "CustomerCustomerSession.customer_portal_url",
        "MemberSession.member_portal_url",
        "Checkout.url",  # embeds the checkout's client secret
        "CheckoutPublic.url",
        "CheckoutPublicConfirmed.url",
    }
)


# -- operations whose answers the spec leaves empty or gets wrong -----------------------------
# Dynamic client registration (RFC 7591/7592) is declared with an empty 200 schema; the server
# answers 201 on registration (api/oauth2/clients_create_201_with_org_token.json) and 200 on
# read/update, with the client's configuration plus its credentials. The schema below lists
# the fields the recorded answers carry; the credentials are secrets (hidden from repr).
_URIS = {"type": "array", "items": {"type": "string"}}
_TEXT = {"type": "string"}
_OPTIONAL_TEXT = {"anyOf": [{"type": "string"}, {"type": "null"}]}
EXTRA_SCHEMAS: dict[str, dict[str, Any]] = {
    "OAuth2ClientRegistration": {
        "type": "object",
        "title": "OAuth2ClientRegistration",
        "properties": {
            "client_id": _TEXT,
            "client_secret": _TEXT,
            "client_id_issued_at": {"type": "integer"},
            "client_secret_expires_at": {"type": "integer"},
            "registration_client_uri": _TEXT,
            "registration_access_token": _TEXT,
            "redirect_uris": _URIS,
            "token_endpoint_auth_method": _TEXT,
            "grant_types": _URIS,
            "response_types": _URIS,
            "scope": _TEXT,
            "client_name": _TEXT,
            "client_uri": _OPTIONAL_TEXT,
            "logo_uri": _OPTIONAL_TEXT,
            "tos_uri": _OPTIONAL_TEXT,
            "policy_uri": _OPTIONAL_TEXT,
            "default_sub_type": _OPTIONAL_TEXT,
        },
        "required": ["client_id", "redirect_uris", "client_name"],
    },
}

# operationId -> {status: schema name, or None to drop a status the server never sends}.
RESPONSE_PATCHES: dict[str, dict[int, str | None]] = {
    "oauth2:clients:oauth2:create_client": {200: None, 201: "OAuth2ClientRegistration"},
    "oauth2:clients:oauth2:get_client": {200: "OAuth2ClientRegistration"},
    "oauth2:clients:oauth2:update_client": {200: "OAuth2ClientRegistration"},
}


# Operations the spec says need a token, which the server also serves without one: the
# checkout confirmation (api/checkouts/client_confirm_422_missing_email, called without a
# token, is processed like any checkout client call) and dynamic client registration
# (api/oauth2/clients_create_422_*_redirect_uri, anonymous). The SDK sends the client's token
# when it has one and works without.
OPTIONAL_AUTH: frozenset[str] = frozenset(
    {"checkouts:client_confirm", "oauth2:clients:oauth2:create_client"}
)


# Fields the server takes as alternatives and silently picks one of when given several: at
# most one of each group may be sent. Both ids of a team member in a customer session: the
# server opens the portal for `member_id`'s member and ignores `external_member_id` (checked
# against a real server, issue 13; like the customer ids, which the union already separates).
_MEMBER_IDS = (("member_id", "external_member_id"),)
EXCLUSIVE_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "CustomerSessionCustomerIDCreate": _MEMBER_IDS,
    "CustomerSessionCustomerExternalIDCreate": _MEMBER_IDS,
}


class Overlay:
    """The tables above, as one object the builder takes (tests pass their own)."""

    def __init__(
        self,
        *,
        schema_patches: dict[str, dict[str, Any]] | None = None,
        context_unions: dict[str, tuple[tuple[str, ...], dict[str, str]]] | None = None,
        union_names: dict[str, str] | None = None,
        secret_fields: frozenset[str] | None = None,
        extra_schemas: dict[str, dict[str, Any]] | None = None,
        response_patches: dict[str, dict[int, str | None]] | None = None,
        optional_auth: frozenset[str] | None = None,
        exclusive_fields: dict[str, tuple[tuple[str, ...], ...]] | None = None,
    ) -> None:
        self.schema_patches = schema_patches or {}
        self.context_unions = context_unions or {}
        self.union_names = union_names or {}
        self.secret_fields = secret_fields or frozenset()
        self.extra_schemas = extra_schemas or {}
        self.response_patches = response_patches or {}
        self.optional_auth = optional_auth or frozenset()
        self.exclusive_fields = exclusive_fields or {}

    @classmethod
    def polar(cls) -> Overlay:
        """The overlay for the Polar spec."""
        return cls(
            schema_patches=SCHEMA_PATCHES,
            context_unions=CONTEXT_UNIONS,
            union_names=UNION_NAMES,
            secret_fields=SECRET_FIELDS,
            extra_schemas=EXTRA_SCHEMAS,
            response_patches=RESPONSE_PATCHES,
            optional_auth=OPTIONAL_AUTH,
            exclusive_fields=EXCLUSIVE_FIELDS,
        )
