"""Identifier rules of the generator (`codegen/openapi/names.py`), one case per rule."""

from __future__ import annotations

import keyword

import pytest

from codegen.openapi import names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("CheckoutLink", ["Checkout", "Link"], id="pascal"),
        pytest.param("checkout-links", ["checkout", "links"], id="kebab"),
        pytest.param("oauth2_client", ["oauth2", "client"], id="snake-with-digit"),
        pytest.param("ID", ["ID"], id="capitals"),
        pytest.param("CustomerIDCreate", ["Customer", "ID", "Create"], id="capitals-inside"),
        pytest.param("OAuth2Client", ["O", "Auth2", "Client"], id="capital-run-before-word"),
        pytest.param("a b.c", ["a", "b", "c"], id="separators"),
        pytest.param("", [], id="empty"),
    ],
)
def test_words(text: str, expected: list[str]) -> None:
    assert names.words(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("email-update verify", "EmailUpdateVerify", id="words"),
        pytest.param("customer_session", "CustomerSession", id="snake"),
        pytest.param("OAuth2 client", "OAuth2Client", id="capitals-kept"),
        pytest.param("items item", "ItemsItem", id="item-suffix"),
        pytest.param("200", "200", id="digits"),
    ],
)
def test_pascal(text: str, expected: str) -> None:
    assert names.pascal(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "CustomerSessionCustomerIDCreate",
            "customer_session_customer_id_create",
            id="capital-run",
        ),
        pytest.param("CheckoutLink", "checkout_link", id="pascal"),
        pytest.param("checkout-links", "checkout_links", id="kebab"),
        pytest.param("OAuth2Client", "o_auth2_client", id="oauth"),
    ],
)
def test_snake(text: str, expected: str) -> None:
    assert names.snake(text) == expected


@pytest.mark.parametrize(
    ("spec_name", "expected"),
    [
        pytest.param("Customer", "Customer", id="plain-kept"),
        pytest.param("OAuth2Client", "OAuth2Client", id="plain-capitals-kept"),
        pytest.param("CostMetadata-Input", "CostMetadataInput", id="input"),
        pytest.param("CostMetadata-Output", "CostMetadataOutput", id="output"),
        pytest.param(
            "Body_email-update_verify_email_update", "EmailUpdateVerifyBody", id="body-deduped"
        ),
        pytest.param("Body_files_upload", "FilesUploadBody", id="body"),
        pytest.param("a_b-c", "ABC", id="separators"),
    ],
)
def test_class_name(spec_name: str, expected: str) -> None:
    assert names.class_name(spec_name) == expected
    assert names.class_name(spec_name).isidentifier()


@pytest.mark.parametrize(
    ("wire_name", "expected"),
    [
        pytest.param("name", "name", id="plain"),
        pytest.param("_llm", "llm", id="leading-underscore"),
        pytest.param("__dunder__", "dunder", id="dunder"),
        pytest.param("from", "from_", id="keyword-from"),
        pytest.param("class", "class_", id="keyword-class"),
        pytest.param("None", "None_", id="keyword-None"),
        pytest.param("type", "type", id="builtin-kept"),
        pytest.param("match", "match", id="soft-keyword-kept"),
        pytest.param("a-b", "a_b", id="dash"),
        pytest.param("X-Request-Id", "X_Request_Id", id="header"),
        pytest.param("2fa", "n2fa", id="leading-digit"),
        pytest.param("$", "value", id="no-letters"),
        pytest.param("extra", "extra_", id="reserved-extra"),
        pytest.param("NOT_GIVEN", "NOT_GIVEN_", id="reserved-not-given"),
    ],
)
def test_field_name(wire_name: str, expected: str) -> None:
    result = names.field_name(wire_name)
    assert result == expected
    assert result.isidentifier() and not keyword.iskeyword(result)


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        pytest.param("CheckoutLink", "_checkout_link", id="pascal"),
        pytest.param("Customer", "_customer", id="one-word"),
        pytest.param("PU", "_pu", id="capitals"),
    ],
)
def test_module_name(root: str, expected: str) -> None:
    assert names.module_name(root) == expected


@pytest.mark.parametrize(
    ("operation_id", "expected"),
    [
        pytest.param(
            "customers:members:create_external",
            ("customers", "members", "create_external"),
            id="nested-resource",
        ),
        pytest.param(
            "oauth2:clients:oauth2:create_client",
            ("oauth2", "clients", "create_client"),
            id="repeated-segment-dropped",
        ),
        pytest.param("email-update:verify", ("email_update", "verify"), id="dash"),
        pytest.param("customers:get", ("customers", "get"), id="flat"),
    ],
)
def test_operation_path(operation_id: str, expected: tuple[str, ...]) -> None:
    assert names.operation_path(operation_id) == expected
