"""Public error classes; the tree is drawn in `polar_sdk._exceptions`' docstring."""

from ._exceptions import (
    APIConnectionError,
    APIException,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    HTTPValidationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PolarError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
)

__all__ = [
    "APIConnectionError",
    "APIException",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "HTTPValidationError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "PolarError",
    "RateLimitError",
    "ResponseDecodeError",
    "ServerError",
]
