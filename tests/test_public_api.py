"""The curated public surface: `__all__` lists are sorted, complete and importable."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

EXPECTED = {
    "polar_sdk": {
        "NOT_GIVEN",
        "POLAR_VERSION",
        "APIException",
        "AsyncPolar",
        "NotGiven",
        "Polar",
        "PolarError",
        "RateLimit",
        "RetryEvent",
        "RetryPolicy",
        "__version__",
    },
    "polar_sdk.errors": {
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
    },
    "polar_sdk.ingest": {
        "AsyncIngester",
        "Cost",
        "IngestFailure",
        "IngestStats",
        "Ingester",
        "LLMUsage",
        "MetadataValue",
    },
    "polar_sdk.webhooks": {
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
    },
    "polar_sdk.testing": {
        "DEFAULT_TOKEN",
        "FakeCustomer",
        "FakeMember",
        "FakePolar",
        "FakePolarServer",
        "FakeSession",
        "RecordedRequest",
        "sign_webhook",
    },
}

# polar_sdk.models exports one name per schema of the spec (tests/codegen checks that
# against the spec); these are the names earlier releases exported, which must stay.
MODELS_KEPT = {
    "Address",
    "CountryAlpha2",
    "Customer",
    "CustomerIndividual",
    "CustomerSession",
    "CustomerSessionCreate",
    "CustomerSessionCustomerExternalIDCreate",
    "CustomerSessionCustomerIDCreate",
    "CustomerTeam",
    "MetadataValue",
    "TaxIDFormat",
    "UnknownCustomer",
    "ValidationError",
    "structure",
    "unstructure",
}


def test_models_keep_every_earlier_name_and_export_sorted() -> None:
    models = importlib.import_module("polar_sdk.models")
    exported = list(models.__all__)
    assert set(exported) >= MODELS_KEPT
    assert exported == sorted(exported)
    assert set(dir(models)) >= set(exported)
    for name in MODELS_KEPT:
        assert hasattr(models, name), name
    with pytest.raises(AttributeError, match="no attribute 'NoSuchModel'"):
        _ = models.NoSuchModel


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_all_is_curated(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = list(module.__all__)
    assert set(exported) == EXPECTED[module_name]
    assert exported == sorted(exported)
    for name in exported:
        assert hasattr(module, name), name


@pytest.mark.parametrize("module_name", [*sorted(EXPECTED), "polar_sdk.models"])
def test_public_classes_have_docstrings(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj):
            assert inspect.getdoc(obj), f"{module_name}.{name} has no docstring"


def test_every_sdk_error_derives_from_polar_error() -> None:
    errors = importlib.import_module("polar_sdk.errors")
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.PolarError), name
    assert not issubclass(errors.APIConnectionError, errors.APIException)
    assert issubclass(errors.APITimeoutError, errors.APIConnectionError)
    for name in (
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "ConflictError",
        "RateLimitError",
        "ServerError",
        "HTTPValidationError",
        "BadRequestError",
        "PaymentRequiredError",
        "GoneError",
        "PreconditionFailedError",
    ):
        assert issubclass(getattr(errors, name), errors.APIException), name


def test_package_is_typed() -> None:
    import polar_sdk

    assert Path(polar_sdk.__file__).with_name("py.typed").is_file()
