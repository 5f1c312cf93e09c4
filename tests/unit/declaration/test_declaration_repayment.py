"""The amount repayable on a declaration, as its view shows it: the repayments the payment
service decided, less those paid out (the rules that decide them are the payment domain's:
tests/unit/payment/test_payment_revenue.py)."""

from __future__ import annotations

from services.declaration.domain.repayment import amount_repayable


def fact(kind: str, amount: str) -> dict[str, object]:
    return {"type": kind, "position": 1, "at": "2026-12-02T10:00:00+00:00",
            "data": {"amount": amount}}


def test_decided_less_paid_out_is_repayable() -> None:
    assert amount_repayable({}) == "0.00"
    assert amount_repayable({"a": fact("PaymentReceived", "20.00")}) == "0.00"
    decided = {"a": fact("RepaymentDecided", "5.5"), "b": fact("RepaymentDecided", "10.00")}
    assert amount_repayable(decided) == "15.50"
    assert amount_repayable({**decided, "c": fact("RepaymentPaid", "15.50")}) == "0.00"
    assert amount_repayable({**decided, "c": fact("RepaymentPaid", "5.50")}) == "10.00"
