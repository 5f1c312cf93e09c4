"""Hostile input (issue 15): what a careless or hostile client sends is answered with a 4xx
problem and stores nothing, never a 500; and a request that loses a race on one declaration
is a 409, on SQLite and on PostgreSQL. (The JSON reader's own refusals are unit-tested in
tests/unit/web/test_web_json_body.py; the fuzzer in tests/fuzz tries the rest.)"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from .conftest import Cluster
from .parties import PARTY, lodge, log_of, sample, send, settle, status_becomes, types_of

PROBLEM = "application/problem+json"


def last_position(cluster: Cluster) -> int:
    with log_of(cluster) as store:
        settle(store)
        return store.last_position()


@pytest.mark.parametrize("field, value", [
    ("declarant", None), ("declarant", []), ("declarant", "GB123456789000"),
    ("items", {}), ("items", None), ("importer", 5), ("freight", True), ("lrn", ["x"]),
])
def test_a_lodgement_of_the_wrong_type_is_422_and_stores_nothing(
        cluster: Cluster, field: str, value: Any) -> None:
    before = last_position(cluster)
    document = sample("01-green-paid.json")
    document[field] = value
    answer = send(cluster, "declaration", "POST", "/declarations",
                  token=PARTY["declarant"].token(cluster), body=document)
    assert answer.status == 422, str(answer)
    assert answer.content_type == PROBLEM
    assert f"/{field}" in [e["pointer"] for e in answer.body["errors"]]
    assert last_position(cluster) == before


@pytest.mark.parametrize("service, path, party, body", [
    ("risk", "/controls/{mrn}", "officer_here", {"result": ["compliant"]}),
    ("risk", "/controls/{mrn}", "officer_here", {"result": "compliant", "findings": 5}),
    ("risk", "/controls/{mrn}", "officer_here", {"result": "compliant", "findings": [None]}),
    ("payment", "/payments", "cashier", {"mrn": 1, "reference": {}, "amount": [],
                                          "currency": None}),
    ("payment", "/accounts", "operator", {"number": "A1", "type": "deferment",
                                           "holder_eori": "GB1", "limit": "1.00",
                                           "currency": "GBP", "aeo_reduction_pct": "50"}),
    ("payment", "/accounts", "operator", {"number": "A1", "type": "deferment",
                                           "holder_eori": "GB1", "limit": "1.00",
                                           "currency": "GBP", "aeo_reduction_pct": False}),
    ("release", "/holds/{mrn}/GBPHA", "agency", {"decision": None}),
])
def test_every_type_error_is_a_4xx_problem(cluster: Cluster, service: str, path: str,
                                           party: str, body: Any) -> None:
    mrn = "26GBDEM00000000012"
    answer = send(cluster, service, "POST", path.format(mrn=mrn),
                  token=PARTY[party].token(cluster), body=body)
    assert answer.status == 422, str(answer)
    assert answer.content_type == PROBLEM


@pytest.mark.parametrize("service, path, party", [
    ("risk", "/controls/26GBDEM00000000012", "officer_here"),
    ("payment", "/payments", "cashier"),
    ("release", "/holds/26GBDEM00000000012/GBPHA", "agency"),
    ("declaration", "/declarations", "declarant"),
])
def test_duplicate_keys_are_refused(cluster: Cluster, service: str, path: str,
                                    party: str) -> None:
    body = b'{"result": "compliant", "nested": {"a": 1, "a": 2}, "result": "compliant"}'
    answer = send(cluster, service, "POST", path, token=PARTY[party].token(cluster), body=body)
    assert answer.status == 422, str(answer)
    assert answer.content_type == PROBLEM
    assert "more than once" in answer.raw.decode() or "duplicate key" in answer.raw.decode()


def test_a_control_result_without_its_optional_fields_is_recorded(cluster: Cluster) -> None:
    """The optional findings, outcome and additional duty may be left out (the additional
    duty was once compared as a string with 0: a 500, and the consignment stuck)."""
    mrn = lodge(cluster, "04-yellow-compliant.json")
    status_becomes(cluster, mrn, "documents_required")
    answer = send(cluster, "risk", "POST", f"/controls/{mrn}",
                  token=PARTY["officer_here"].token(cluster), body={"result": "compliant"})
    assert answer.status == 201, str(answer)
    assert answer.body["additional_duty"] == "0" and answer.body["findings"] == []
    status_becomes(cluster, mrn, "tax_due")  # the control done, the duty is due


def test_concurrent_payments_on_one_declaration_are_recorded_or_409(cluster: Cluster) -> None:
    """Payments raced on one MRN: each is recorded (201), a repeat of one recorded (200), or
    refused as a conflict (409 problem); never a 500. What was answered 201 is in the log
    exactly once."""
    mrn = lodge(cluster, "02-green-unpaid.json")
    status_becomes(cluster, mrn, "tax_due")
    token = PARTY["cashier"].token(cluster)
    shared_reference = f"E2E-RACE-{uuid.uuid4().hex[:8]}"
    references = [f"E2E-RACE-{uuid.uuid4().hex[:8]}" for _ in range(8)] + [shared_reference] * 4

    def pay(reference: str) -> tuple[str, Any]:
        return reference, send(cluster, "payment", "POST", "/payments", token=token, body={
            "mrn": mrn, "reference": reference, "amount": "1.00", "currency": "GBP"})

    with ThreadPoolExecutor(len(references)) as pool:
        answers = list(pool.map(pay, references))
    for _, answer in answers:
        assert answer.status in (200, 201, 409), str(answer)
        if answer.status == 409:
            assert answer.content_type == PROBLEM
            assert json.loads(answer.raw)["status"] == 409
    recorded = [reference for reference, answer in answers if answer.status == 201]
    assert recorded and len(set(recorded)) == len(recorded)
    assert sum(1 for reference, a in answers
               if reference == shared_reference and a.status == 201) == 1
    with log_of(cluster) as store:
        settle(store)
        paid = [e.payload for e in store.read_all(0, limit=100_000)
                if e.type == "PaymentReceived" and e.payload.mrn == mrn]
    assert sorted(p.reference for p in paid) == sorted(recorded)
    assert all(p.amount == Decimal("1.00") for p in paid)
    assert "PaymentReceived" in types_of(cluster, mrn)
