"""The payment block of a declaration document (issue 13): its shape (method, and an account
exactly when the method needs one) and whether the named account may settle the debt (it
exists, the declarant holds it, its type is the method's, it is open, in the national
currency), judged from the account's own events."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from services.declaration.domain.declaration import PaymentMethod, to_document
from services.declaration.domain.payment_terms import account_problems
from services.declaration.domain.validation import DeclarationInvalid
from services.declaration.schemas import load_declaration
from shared.events.payment import AccountClosed, AccountOpened

SAMPLE = json.loads((Path(__file__).parents[3] / "samples" / "02-green-unpaid.json").read_text())
HOLDER = SAMPLE["declarant"]["eori"]


def with_payment(payment: object) -> dict[str, object]:
    return {**SAMPLE, "payment": payment}


def test_no_block_is_an_immediate_payment_and_keeps_the_document_as_it_was() -> None:
    declaration = load_declaration(SAMPLE)
    assert declaration.payment is None and "payment" not in to_document(declaration)
    assert account_problems(declaration, [], "GBP") == []


@pytest.mark.parametrize(("payment", "pointer"), [
    ({"method": "deferment"}, "/payment/account"),
    ({"method": "guarantee", "account": None}, "/payment/account"),
    ({"method": "immediate", "account": "DAN1"}, "/payment/account"),
    ({"method": "cash"}, "/payment/method"),
    ({"method": "deferment", "account": "dan 1"}, "/payment/account"),
    ({"method": "deferment", "account": "DAN1", "limit": "9"}, "/payment/limit"),
    ("deferment", "/payment"),
])
def test_a_bad_block_names_its_field(payment: object, pointer: str) -> None:
    with pytest.raises(DeclarationInvalid) as raised:
        load_declaration(with_payment(payment))
    assert [p.pointer for p in raised.value.problems] == [pointer]


def opened(kind: str = "deferment", holder: str = HOLDER,
           currency: str = "GBP") -> AccountOpened:
    return AccountOpened("DAN1", kind, holder, Decimal("1000.00"), currency)


@pytest.mark.parametrize(("events", "says"), [
    ([], "No deferment account DAN1"),
    ([opened(holder="GB999999999999")], "No deferment account DAN1"),  # as if unknown
    ([opened("guarantee")], "is a guarantee account"),
    ([opened(), AccountClosed("DAN1", "revoked")], "closed"),
    ([opened(currency="EUR")], "kept in EUR"),
])
def test_an_account_the_declarant_may_not_use_is_a_problem(events: list[object],
                                                            says: str) -> None:
    declaration = load_declaration(with_payment({"method": "deferment", "account": "DAN1"}))
    [problem] = account_problems(declaration, events, "GBP")
    assert problem.pointer == "/payment/account" and says in problem.message


def test_the_declarants_open_account_of_the_methods_type_may_be_used() -> None:
    declaration = load_declaration(with_payment({"method": "deferment", "account": "DAN1"}))
    assert declaration.payment is not None
    assert declaration.payment.method is PaymentMethod.DEFERMENT
    assert account_problems(declaration, [opened()], "GBP") == []
    assert to_document(declaration)["payment"] == {"method": "deferment", "account": "DAN1"}
