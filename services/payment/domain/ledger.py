"""The payment ledger of one declaration: what is due, what was paid, and the balance.

Pure and immutable. A decision (`Ledger.decide`, `Ledger.receive`) checks the guards and says
whether there is something new to record; the state changes only by applying what was
recorded (`Ledger.apply`, `Ledger.with_amount_due`), so replaying the recorded events
rebuilds the same ledger.

Idempotency: a payment reference identifies one payment. The same reference arriving again
with the same body (declaration, amount, currency; amounts compared as numbers, so "100.0"
and "100.00" are the same) is the same payment, and nothing new is recorded; the same
reference with a different body raises `PaymentReferenceConflict`. `check_reference` is the
same rule for a caller that looks the reference up across all declarations.

Currency: payments are accepted in the national currency only (`PaymentCurrencyNotAccepted`
otherwise). Converting a payment would need a rate of the payment date and leave a rounding
difference to settle; customs administrations take payment in their own currency.

Balance: ``balance_due = max(due - paid, 0)`` and ``credit = max(paid - due, 0)``. When an
amendment changes the amount due (`with_amount_due`), a lower amount shows as a credit (a
refund to make), a higher one as a new balance: never a silent overwrite of what was paid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum

from .duty import decimal_places
from .errors import (
    InvalidPaymentAmount,
    PaymentCurrencyNotAccepted,
    PaymentForAnotherDeclaration,
    PaymentReferenceConflict,
)


@dataclass(frozen=True)
class Payment:
    """A payment received for a declaration, identified by its `reference`."""

    mrn: str
    reference: str
    amount: Decimal
    currency: str

    def same_body(self, other: Payment) -> bool:
        """Same declaration, amount (as a number) and currency."""
        return (self.mrn, self.amount, self.currency) == (other.mrn, other.amount, other.currency)


class PaymentOutcome(Enum):
    RECORDED = "recorded"  # a new payment: record it (HTTP 201)
    DUPLICATE = "duplicate"  # the same payment again: nothing to record (HTTP 200)


def check_reference(existing: Payment | None, payment: Payment) -> PaymentOutcome:
    """The idempotency rule, given the payment already recorded under the same reference."""
    if existing is None:
        return PaymentOutcome.RECORDED
    if existing.reference != payment.reference:
        raise ValueError("compare payments that share a reference")
    if existing.same_body(payment):
        return PaymentOutcome.DUPLICATE
    raise PaymentReferenceConflict(payment.reference)


class BalanceStatus(Enum):
    UNPAID = "unpaid"  # something due, nothing paid
    PART_PAID = "part_paid"
    SETTLED = "settled"  # paid exactly what is due (or nothing due, nothing paid)
    OVERPAID = "overpaid"  # a credit to refund


@dataclass(frozen=True)
class Balance:
    currency: str
    amount_due: Decimal
    amount_paid: Decimal
    balance_due: Decimal  # still to pay, never negative
    credit: Decimal  # paid beyond what is due, never negative

    @property
    def status(self) -> BalanceStatus:
        if self.credit > 0:
            return BalanceStatus.OVERPAID
        if self.balance_due == 0:
            return BalanceStatus.SETTLED
        return BalanceStatus.PART_PAID if self.amount_paid > 0 else BalanceStatus.UNPAID

    @property
    def settled(self) -> bool:
        """Nothing left to pay (a credit may remain)."""
        return self.balance_due == 0


@dataclass(frozen=True)
class Ledger:
    """One declaration's debt and payments, in the national currency."""

    mrn: str
    currency: str  # the national currency
    minor_units: int  # of that currency (ISO 4217)
    amount_due: Decimal = Decimal(0)
    payments: tuple[Payment, ...] = ()

    def __post_init__(self) -> None:
        self._check_amount(self.amount_due, allow_zero=True)

    # -- queries --

    def payment(self, reference: str) -> Payment | None:
        """The payment recorded under `reference`, if any."""
        return next((p for p in self.payments if p.reference == reference), None)

    @property
    def amount_paid(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal(0))

    @property
    def balance(self) -> Balance:
        net = self.amount_due - self.amount_paid
        minor = Decimal(1).scaleb(-self.minor_units)  # amounts in the currency's minor units
        return Balance(
            currency=self.currency,
            amount_due=self.amount_due,
            amount_paid=self.amount_paid,
            balance_due=max(net, Decimal(0)).quantize(minor),
            credit=max(-net, Decimal(0)).quantize(minor),
        )

    # -- decisions --

    def decide(self, payment: Payment) -> PaymentOutcome:
        """Check the guards and the idempotency rule; raise a named error if refused."""
        if payment.mrn != self.mrn:
            raise PaymentForAnotherDeclaration(payment.mrn, self.mrn)
        outcome = check_reference(self.payment(payment.reference), payment)
        if outcome is PaymentOutcome.DUPLICATE:
            return outcome
        if payment.currency != self.currency:
            raise PaymentCurrencyNotAccepted(payment.currency, self.currency)
        self._check_amount(payment.amount, allow_zero=False)
        return outcome

    def receive(self, payment: Payment) -> tuple[PaymentOutcome, Ledger]:
        """Decide and, for a new payment, apply it: the outcome and the ledger after it."""
        outcome = self.decide(payment)
        if outcome is PaymentOutcome.DUPLICATE:
            return outcome, self
        return outcome, self.apply(payment)

    # -- state changes (applying what was recorded) --

    def apply(self, payment: Payment) -> Ledger:
        """The ledger with a recorded payment; a reference already applied changes nothing."""
        if self.payment(payment.reference) is not None:
            return self
        return replace(self, payments=(*self.payments, payment))

    def with_amount_due(self, amount_due: Decimal) -> Ledger:
        """The ledger after an assessment (or a re-assessment) set the amount due."""
        return replace(self, amount_due=amount_due)

    def _check_amount(self, amount: Decimal, *, allow_zero: bool) -> None:
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise InvalidPaymentAmount(Decimal(0), f"{amount!r} is not a finite Decimal")
        if amount < 0 or (amount == 0 and not allow_zero):
            raise InvalidPaymentAmount(amount, "must be positive")
        if decimal_places(amount) > self.minor_units:
            raise InvalidPaymentAmount(
                amount, f"{self.currency} has {self.minor_units} decimal places"
            )
