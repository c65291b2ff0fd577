"""Type-checked only (mypy --strict and pyright strict): how the generated models read in use.

Never run; `nox -s typecheck` checks it. Each `assert_type` pins what the checkers infer,
and each `# type: ignore[...]` marks a misuse that must stay an error (both checkers report
unused ignores, so an ignore that stops being needed fails the check).
"""

from __future__ import annotations

from datetime import datetime

from typing_extensions import assert_type

from polar_sdk import NOT_GIVEN, NotGiven
from polar_sdk.models import (
    Benefit,
    BenefitCustom,
    Checkout,
    CheckoutStatus,
    CostMetadataInput,
    Customer,
    CustomerIndividual,
    CustomerTeam,
    Discount,
    DiscountFixedRepeatDuration,
    EventMetadataInput,
    ListResource,
    LLMMetadata,
    UnknownCustomer,
    structure,
    unstructure,
)


def describe(customer: Customer) -> str:
    # Set the fallback aside first; the known variants then narrow on their tag, since each
    # declares `type` as a Literal (the fallback keeps whatever string arrived).
    if isinstance(customer, UnknownCustomer):
        assert_type(customer.type, str | None)
        return customer.type or "unknown"
    if customer.type == "team":
        assert_type(customer, CustomerTeam)
        return customer.name or "a team"
    assert_type(customer, CustomerIndividual)
    assert_type(customer.email, str)
    return customer.email


def tag_without_excluding_the_fallback(customer: Customer) -> None:
    if isinstance(customer, CustomerIndividual | CustomerTeam):
        if customer.type == "individual":
            assert_type(customer, CustomerIndividual)
        else:
            assert_type(customer, CustomerTeam)
    else:
        assert_type(customer, UnknownCustomer)


def exhaustive(customer: Customer) -> str:
    match customer:
        case CustomerIndividual():
            return "individual"
        case CustomerTeam():
            return "team"
        case UnknownCustomer():
            return "unknown"


def open_enum(checkout: Checkout) -> bool:
    status = checkout.status
    assert_type(status, CheckoutStatus | str)  # documented values, open to new ones
    if status == "open":
        return True
    known: CheckoutStatus = "expired"
    return status in (known, "some_status_added_later")


def decode(data: dict[str, object]) -> None:
    page = structure(data, ListResource[Customer])
    assert_type(page, ListResource[Customer])
    assert_type(page.items, list[Customer])
    first = page.items[0]
    if isinstance(first, CustomerIndividual):
        assert_type(first.created_at, datetime)
        assert_type(first.modified_at, datetime | None)
    benefit = structure(data, BenefitCustom)
    assert_type(benefit, BenefitCustom)
    discount: Discount = structure(data, DiscountFixedRepeatDuration)
    assert_type(unstructure(discount), object)  # type: ignore[assert-type]  # it is Any


def request_models() -> None:
    # Request models: leave optional fields out (NOT_GIVEN) or send null with None.
    metadata = EventMetadataInput(
        llm=LLMMetadata(
            vendor="openai", model="gpt", input_tokens=1, output_tokens=2, total_tokens=3
        ),
        extra={"route": "/chat", "retries": 2},
    )
    assert_type(metadata.cost, CostMetadataInput | NotGiven)
    assert metadata.llm is not NOT_GIVEN
    EventMetadataInput(extra={"bad": [1, 2]})  # type: ignore[dict-item]  # not a metadata value
    LLMMetadata(vendor="openai", model="gpt")  # type: ignore[call-arg]  # token counts required


def variants(benefit: Benefit) -> str:
    if isinstance(benefit, BenefitCustom):
        return benefit.type
    return "other"
