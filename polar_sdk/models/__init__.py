"""Typed models for Polar API requests and responses.

Models are immutable, slotted attrs classes with keyword-only constructors. Response models
ignore fields they do not know, keep enum values they do not know as plain strings, and decode
customers of an unknown `type` into `UnknownCustomer` with the raw data kept.
"""

from ._common import Address, CountryAlpha2, MetadataValue, TaxIDFormat, ValidationError
from ._customer_sessions import (
    CustomerSession,
    CustomerSessionCreate,
    CustomerSessionCustomerExternalIDCreate,
    CustomerSessionCustomerIDCreate,
)
from ._customers import Customer, CustomerIndividual, CustomerTeam, UnknownCustomer

__all__ = [
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
]
