"""The payment ledger of a declaration: balance, credit and idempotency on the reference.

Strategy: the ledger is an immutable value; each test builds one with an amount due, offers
payments through `receive` (the decision plus its application) and checks the balance and
the outcome. Replaying the recorded payments with `apply` must rebuild the same ledger, and
a reference seen twice must never count twice.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from services.payment.domain import (
    BalanceStatus,
    InvalidPaymentAmount,
    Ledger,
    Payment,
    PaymentCurrencyNotAccepted,
    PaymentForAnotherDeclaration,
    PaymentOutcome,
    PaymentReferenceConflict,
    check_reference,
)

MRN = "26GB34567890ABCDR0"


def ledger(due: str = "2519.96") -> Ledger:
    return Ledger(mrn=MRN, currency="GBP", minor_units=2, amount_due=D(due))


def pay(reference: str, amount: str, currency: str = "GBP", mrn: str = MRN) -> Payment:
    return Payment(mrn=mrn, reference=reference, amount=D(amount), currency=currency)


def test_nothing_paid_leaves_the_whole_amount_due() -> None:
    balance = ledger().balance
    assert (balance.amount_due, balance.amount_paid, balance.balance_due, balance.credit) == (
        D("2519.96"),
        D(0),
        D("2519.96"),
        D(0),
    )
    assert balance.status is BalanceStatus.UNPAID
    assert not balance.settled


def test_underpayment_leaves_a_balance() -> None:
    outcome, after = ledger().receive(pay("BANK-1", "2000.00"))
    assert outcome is PaymentOutcome.RECORDED
    assert after.balance.balance_due == D("519.96")
    assert after.balance.credit == 0
    assert after.balance.status is BalanceStatus.PART_PAID


def test_exact_payment_settles() -> None:
    _, after = ledger().receive(pay("BANK-1", "2519.96"))
    assert after.balance.settled
    assert after.balance.status is BalanceStatus.SETTLED


def test_overpayment_leaves_a_credit() -> None:
    _, after = ledger().receive(pay("BANK-1", "2000.00"))
    _, after = after.receive(pay("BANK-2", "600.00"))
    assert after.balance.balance_due == 0
    assert after.balance.credit == D("80.04")
    assert after.balance.status is BalanceStatus.OVERPAID


def test_the_same_reference_with_the_same_body_is_the_same_payment() -> None:
    _, once = ledger().receive(pay("BANK-1", "2000.00"))
    outcome, twice = once.receive(pay("BANK-1", "2000.0"))  # same amount, written differently
    assert outcome is PaymentOutcome.DUPLICATE
    assert twice is once
    assert twice.balance.amount_paid == D("2000.00")
    assert len(twice.payments) == 1


def test_the_same_reference_with_another_body_is_a_conflict() -> None:
    _, once = ledger().receive(pay("BANK-1", "2000.00"))
    with pytest.raises(PaymentReferenceConflict) as caught:
        once.receive(pay("BANK-1", "2100.00"))
    assert caught.value.reference == "BANK-1"
    with pytest.raises(PaymentReferenceConflict):
        check_reference(once.payment("BANK-1"), pay("BANK-1", "2000.00", mrn="26GB00000000ZZZZR2"))


def test_check_reference_across_declarations() -> None:
    first = pay("BANK-9", "10.00")
    assert check_reference(None, first) is PaymentOutcome.RECORDED
    assert check_reference(first, pay("BANK-9", "10")) is PaymentOutcome.DUPLICATE


def test_only_the_national_currency_is_accepted() -> None:
    with pytest.raises(PaymentCurrencyNotAccepted) as caught:
        ledger().receive(pay("BANK-1", "100.00", currency="USD"))
    assert (caught.value.currency, caught.value.accepted) == ("USD", "GBP")


@pytest.mark.parametrize("amount", ["0", "-5.00", "10.001"])
def test_amounts_must_be_positive_in_minor_units(amount: str) -> None:
    with pytest.raises(InvalidPaymentAmount):
        ledger().receive(pay("BANK-1", amount))


def test_a_payment_for_another_declaration_is_refused() -> None:
    with pytest.raises(PaymentForAnotherDeclaration):
        ledger().receive(pay("BANK-1", "1.00", mrn="26GB00000000ZZZZR2"))


def test_replaying_recorded_payments_rebuilds_the_ledger() -> None:
    received = ledger()
    for payment in (pay("A", "100.00"), pay("B", "200.00"), pay("A", "100.00")):
        _, received = received.receive(payment)
    replayed = ledger()
    for payment in (pay("A", "100.00"), pay("B", "200.00"), pay("A", "100.00")):
        replayed = replayed.apply(payment)  # a redelivered event changes nothing
    assert replayed == received
    assert replayed.balance.amount_paid == D("300.00")


def test_a_reassessment_turns_a_lower_debt_into_a_credit_and_a_higher_into_a_balance() -> None:
    _, paid = ledger("100.00").receive(pay("A", "100.00"))
    assert paid.with_amount_due(D("80.00")).balance.credit == D("20.00")
    assert paid.with_amount_due(D("130.00")).balance.balance_due == D("30.00")
    assert paid.with_amount_due(D("130.00")).amount_paid == D("100.00")
