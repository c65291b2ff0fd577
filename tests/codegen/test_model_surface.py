"""The generated models as a user meets them: names, shapes, loading, wire conventions.

Parts that read the spec are `heavy` (one Python in CI); the rest run everywhere.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

import polar_sdk.models as models
from codegen.openapi.names import class_name
from polar_sdk import NOT_GIVEN
from polar_sdk.errors import InvalidRequestError, ResponseDecodeError
from polar_sdk.models import (
    CostMetadataInput,
    CustomerSessionCustomerIDCreate,
    EventMetadataInput,
    EventMetadataOutput,
    LLMMetadata,
    structure,
    unstructure,
)
from polar_sdk.models._base import ModelBase, RequestModel, ResponseModel, UnknownModel
from tests.spec_support import spec

ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = ROOT / "polar_sdk" / "models"


def _all_model_classes() -> list[type[Any]]:
    classes = []
    for name in models.__all__:
        value = getattr(models, name)
        if isinstance(value, type) and issubclass(value, ModelBase):
            classes.append(value)
    return classes


# -- names -------------------------------------------------------------------------------------


@pytest.mark.heavy
def test_every_component_schema_is_a_public_model_under_its_spec_name() -> None:
    exported = set(models.__all__)
    missing = []
    for name in spec()["components"]["schemas"]:
        if re.match(r"^ListResource(WithCursorPagination)?_.*_$", name):
            continue  # one generic page type instead (ListResource[X])
        if class_name(name) not in exported:
            missing.append(name)
    assert missing == []
    assert {"ListResource", "ListResourceWithCursorPagination"} <= exported
    assert class_name("CostMetadata-Input") == "CostMetadataInput"
    assert class_name("Body_email-update_verify_email_update") == "EmailUpdateVerifyBody"


def test_every_union_has_its_fallback_exported() -> None:
    for name in models.__all__:
        if name.startswith("Unknown") and name[len("Unknown") :] in models.__all__:
            fallback = getattr(models, name)
            assert issubclass(fallback, UnknownModel), name
            union = getattr(models, name[len("Unknown") :])
            assert fallback in union.__args__, name


def test_every_model_is_frozen_slotted_and_keyword_only() -> None:
    classes = _all_model_classes()
    assert len(classes) > 800
    for cls in classes:
        assert attrs.has(cls), cls
        assert "__slots__" in cls.__dict__, cls
        assert all(f.kw_only for f in attrs.fields(cls)), cls
        assert cls.__setattr__ is not object.__setattr__, cls  # frozen
        assert cls.__doc__, cls


# -- loading ----------------------------------------------------------------------------------


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return result.stdout.strip()


def test_importing_the_package_imports_no_cattrs_anyio_or_httpcore() -> None:
    out = _run(
        "import sys, polar_sdk, polar_sdk.models\n"
        "print('cattrs' in sys.modules, 'anyio' in sys.modules, 'httpcore' in sys.modules)"
    )
    assert out == "False False False"


METER = {
    "metadata": {},
    "created_at": "2026-11-26T12:00:00Z",
    "modified_at": None,
    "id": "0b6f5a8e-3c1d-4e2f-9a7b-1c2d3e4f5a6b",
    "name": "tokens",
    "unit": "scalar",
    "filter": {"conjunction": "and", "clauses": []},
    "aggregation": {"func": "count"},
    "organization_id": "0b6f5a8e-3c1d-4e2f-9a7b-1c2d3e4f5a6b",
}


def test_a_model_loads_its_own_module_and_decoding_loads_what_the_data_needs() -> None:
    out = _run(
        "import sys\n"
        "import polar_sdk.models as m\n"
        "def loaded(): return {x for x in sys.modules if x.startswith('polar_sdk.models.')}\n"
        "start = loaded()\n"
        "m.Meter\n"
        "accessed = loaded()\n"
        f"meter = m.structure({METER!r}, m.Meter)\n"
        "print(sorted(accessed - start)); print(sorted(loaded() - accessed))\n"
        "print(type(meter.aggregation).__name__, 'cattrs' in sys.modules)"
    )
    accessed, decoded, summary = out.splitlines()
    assert ast.literal_eval(accessed) == ["polar_sdk.models._meter"]
    nested = set(ast.literal_eval(decoded))
    # the filter's and the aggregation's modules, loaded by the decode that met them; the
    # unit (an enum) reads as a string without importing its module
    assert "polar_sdk.models._meter_aggregation" in nested
    assert "polar_sdk.models._filter_clause_or_filter" in nested
    assert "polar_sdk.models._shared" not in nested
    assert summary == "CountAggregation False"  # cattrs only explains failures


def test_exceptions_module_is_a_leaf() -> None:
    tree = ast.parse((ROOT / "polar_sdk" / "_exceptions.py").read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in tree.body:  # module level only: TYPE_CHECKING blocks are If nodes
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    assert imported <= {"__future__", "email.utils", "re", "time", "collections.abc", "typing",
                        "httpx", "."}, imported  # fmt: skip


def test_no_hook_exists_before_first_use() -> None:
    out = _run(
        "from polar_sdk._converter import hooks\n"
        "import polar_sdk.models as m\n"
        "h = hooks(); print(len(h.cache))\n"
        "m.structure({'total_count': 1, 'max_page': 1}, m.Pagination); print(len(h.cache))"
    )
    assert out.splitlines() == ["0", "1"]


def test_the_converter_knows_no_model_by_name() -> None:
    source = (ROOT / "polar_sdk" / "_converter.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    words = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    words |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    words |= {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }
    generated = {
        name
        for name, module in models._MODULES.items()  # pyright: ignore[reportPrivateUsage]
        if module != "_base"
    }
    assert words & generated == set()


# -- wire conventions -----------------------------------------------------------------------------


def test_wire_names_that_are_not_identifiers_round_trip() -> None:
    metadata = EventMetadataInput(
        llm=LLMMetadata(
            vendor="openai", model="gpt-x", input_tokens=3, output_tokens=5, total_tokens=8
        ),
        cost=CostMetadataInput(amount="0.25", currency="usd"),
        extra={"route": "/chat", "retries": 2, "cached": True},
    )
    wire = unstructure(metadata)
    assert wire == {
        "_llm": {
            "vendor": "openai",
            "model": "gpt-x",
            "input_tokens": 3,
            "output_tokens": 5,
            "total_tokens": 8,
        },
        "_cost": {"amount": "0.25", "currency": "usd"},
        "route": "/chat",
        "retries": 2,
        "cached": True,
    }
    back = structure(wire, EventMetadataInput)
    assert back == metadata
    answer = {**wire, "_cost": {"amount": "25.5", "currency": "usd"}}  # decimals come as text
    out = structure(answer, EventMetadataOutput)
    assert out.llm is not None and out.llm.total_tokens == 8
    assert out.cost is not None and out.cost.amount == "25.5"
    assert out.extra == {"route": "/chat", "retries": 2, "cached": True}
    assert unstructure(out) == answer
    with pytest.raises(ResponseDecodeError, match=r"cost\.amount"):
        structure({**wire, "_cost": {"amount": 25, "currency": "usd"}}, EventMetadataOutput)


def test_request_models_omit_what_is_left_out_and_send_none_as_null() -> None:
    request = CustomerSessionCustomerIDCreate(
        customer_id="32f1da23-861d-4749-b8e3-08a3664580a8", return_url=None
    )
    assert request.member_id is NOT_GIVEN
    assert unstructure(request) == {
        "customer_id": "32f1da23-861d-4749-b8e3-08a3664580a8",
        "return_url": None,
    }


def test_request_models_refuse_what_the_api_would() -> None:
    from polar_sdk.models import CustomerIndividualCreate

    with pytest.raises(InvalidRequestError, match="total_tokens"):
        LLMMetadata(vendor="v", model="m", input_tokens=1, output_tokens=1, total_tokens="3")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="at most 256"):
        CustomerIndividualCreate(email="a@example.com", name="n" * 257)
    with pytest.raises(InvalidRequestError, match="at most 500"):
        EventMetadataInput(extra={"k": "x" * 501})
    with pytest.raises(InvalidRequestError, match="must not be empty"):
        EventMetadataInput(extra={"k": ""})
    with pytest.raises(InvalidRequestError, match="has 51 keys"):
        CustomerIndividualCreate(email="a@example.com", metadata={f"k{i}": i for i in range(51)})
    with pytest.raises(InvalidRequestError, match="at most 40"):
        CustomerIndividualCreate(email="a@example.com", metadata={"k" * 41: 1})


def test_decode_errors_name_the_model_and_path_and_keep_the_data() -> None:
    data = {"total_count": 1, "max_page": "two"}
    with pytest.raises(ResponseDecodeError) as info:
        structure(data, models.Pagination)
    assert "Pagination" in str(info.value)
    assert "$.max_page" in str(info.value)
    assert info.value.data is data
    assert info.value.response is None


def test_response_and_request_bases() -> None:
    assert issubclass(models.CustomerSession, ResponseModel)
    assert issubclass(models.CustomerSessionCustomerIDCreate, RequestModel)
    # used in answers and requests alike: request semantics (absent stays absent)
    assert issubclass(models.OrganizationCustomerEmailSettings, RequestModel)


# -- docstrings --------------------------------------------------------------------------------


@pytest.mark.heavy
def test_no_spec_prose_is_copied_into_the_models() -> None:
    texts = [p.read_text(encoding="utf-8") for p in MODELS_DIR.glob("*.py")]
    blob = "\n".join(texts)
    copied = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            description = node.get("description")
            if isinstance(description, str) and len(description) > 40:
                first = description.strip().split("\n")[0][:60]
                if len(first) > 40 and first in blob:
                    copied.append(first)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec())
    assert copied == []


def test_all_public_model_modules_import() -> None:
    for module in sorted(set(models._MODULES.values())):  # pyright: ignore[reportPrivateUsage]
        importlib.import_module(f"polar_sdk.models.{module}")


def test_models_with_extras_decode_the_same_once_compiled() -> None:
    from polar_sdk import _converter

    hooks = _converter.Hooks()
    hook = hooks.get(EventMetadataOutput)
    answers = [hook({"k": "v", "n": i}, None) for i in range(_converter._COMPILE_AFTER + 5)]  # pyright: ignore[reportPrivateUsage]
    assert [a.extra for a in answers] == [{"k": "v", "n": i} for i in range(len(answers))]
    assert hooks.fallback_decodes == 0


def test_a_null_optional_union_is_not_reported_as_a_problem() -> None:
    from polar_sdk.models import UserEvent

    event = {
        "id": "0b6f5a8e-3c1d-4e2f-9a7b-1c2d3e4f5a6b",
        "timestamp": "2026-01-01T00:00:00Z",
        "organization_id": "0b6f5a8e-3c1d-4e2f-9a7b-1c2d3e4f5a6b",
        "customer_id": None,
        "customer": None,
        "external_customer_id": None,
        "name": "n",
        "source": "user",
        "metadata": {"k": "v"},
    }
    with pytest.raises(ResponseDecodeError) as info:
        structure(event, UserEvent)  # "label" is missing
    message = str(info.value)
    assert "$.label" in message
    assert "$.customer" not in message
