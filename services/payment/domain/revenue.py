"""What a declaration owes and what customs owes back (pure): its debt position folded from its
payment stream, and the decisions that follow from it.

- **Debt**: the amount due of the declaration version in force (its latest DutyAssessed),
  plus the additional debts notified for that version by a control's finding (`additional`)
  or a post-clearance check (`checked`); an amendment's higher duty is in its own
  DutyAssessed already. None once the declaration is invalidated (UCC art. 117: the debt is
  extinguished).
- **Settled**: paid (PaymentReceived, each reference once) less what was repaid, plus what is
  charged to a deferment account and not taken back (read from the account, which the
  payment stream does not hold; collected by direct debit or not) plus what the accounting
  office wrote off (DebtWrittenOff: settled, never money).
- **Repayable**: what was settled beyond the debt, never more than customs holds in money
  (what was paid, and what a direct debit collected: a charge not collected yet is taken
  back instead); everything held once invalidated. A repayment is decided
  for what is repayable beyond the repayments decided so far (`repayment_due`), and paid out
  later (`RepaymentPaid`), never beyond what was decided (`check_repayment`).
- **Additional debt**: a new version assessed higher than the one before it, or a control's
  additional duty, is notified with its legal basis and a due date (UCC art. 108(1): 10 days).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from shared.events import payment as events

#: UCC art. 108(1): a notified debt is paid within 10 days of the notification.
PAYMENT_TERM = timedelta(days=10)

LEGAL_BASIS = {
    "amendment": "UCC art. 105(4) and 173(3): the amended declaration's debt exceeds the "
                 "amount entered",
    "control_finding": "UCC art. 105(4): a control found a debt above the amount entered",
    "post_clearance_check": "UCC arts. 48 and 105(4): a post-clearance check found a debt "
                            "above the amount entered",
    "overpayment": "UCC art. 117(1): import duty paid in excess of the amount due",
    "invalidation": "UCC arts. 116(1) and 117: the declaration was invalidated, the debt is "
                    "extinguished",
}


class RepaymentRefused(ValueError):
    """A repayment paid out beyond what was decided, or in another currency."""


class WriteOffRefused(ValueError):
    """A write-off of more than is owed, or of nothing."""


def write_off(position: Position, consignment_id: str, amount: Decimal, reason: str,
              charged: Decimal = Decimal(0)) -> events.DebtWrittenOff:
    """Write off `amount` of what is still owed (raises `WriteOffRefused` beyond it)."""
    owed = position.outstanding(charged)
    if amount <= 0 or amount > owed:
        raise WriteOffRefused(f"{amount} {position.currency} is not within what is owed "
                              f"({owed})")
    return events.DebtWrittenOff(consignment_id, position.mrn, position.version, amount,
                                 position.currency, reason)


@dataclass(frozen=True)
class Position:
    mrn: str = ""
    currency: str = ""
    version: int = 0  # the declaration version in force (0: not assessed yet)
    assessed: Decimal = Decimal(0)  # its amount due
    previous_assessed: Decimal | None = None  # the version before it, if any
    additional: Decimal = Decimal(0)  # a control's additional duty, for this version
    checked: Decimal = Decimal(0)  # notified by post-clearance checks, for this version
    paid: Decimal = Decimal(0)
    references: frozenset[str] = frozenset()
    written_off: Decimal = Decimal(0)
    decided: Decimal = Decimal(0)  # repayments decided
    repaid: Decimal = Decimal(0)  # repayments paid out
    repaid_references: frozenset[str] = frozenset()
    invalidated: bool = False

    @property
    def debt(self) -> Decimal:
        if self.invalidated:
            return Decimal(0)
        return max(self.assessed, Decimal(0)) + self.additional + self.checked

    def settled(self, charged: Decimal = Decimal(0)) -> Decimal:
        """Paid (less what was repaid), charged to a deferment account, or written off."""
        return self.paid - self.repaid + charged + self.written_off

    def repayable(self, charged: Decimal = Decimal(0), collected: Decimal = Decimal(0)) -> Decimal:
        """What customs owes back in all (decided or not), given what the deferment account
        holds `charged` for the declaration, `collected` of it by direct debit. Only money
        is repaid: what was paid, and what a direct debit collected."""
        money = self.paid + collected
        if self.invalidated:
            return money
        return min(max(self.paid + charged + self.written_off - self.debt, Decimal(0)), money)

    def repayment_due(self, charged: Decimal = Decimal(0),
                      collected: Decimal = Decimal(0)) -> Decimal:
        """What a new repayment decision should be for (0: none)."""
        return max(self.repayable(charged, collected) - self.decided, Decimal(0))

    def outstanding(self, charged: Decimal = Decimal(0)) -> Decimal:
        """What is still owed (never negative)."""
        return max(self.balance(charged), Decimal(0))

    def balance(self, charged: Decimal = Decimal(0)) -> Decimal:
        """The debt less what settled it: positive, still owed; negative, settled beyond it."""
        return self.debt - self.settled(charged)

    @property
    def outstanding_repayment(self) -> Decimal:
        """Decided and not paid out yet (what `amount_repayable` shows)."""
        return self.decided - self.repaid


def apply(position: Position, payload: Any) -> Position:
    match payload:
        case events.DutyAssessed() if payload.declaration_version >= position.version:
            new_version = payload.declaration_version > position.version
            return replace(
                position, mrn=payload.mrn, currency=payload.currency,
                version=payload.declaration_version, assessed=payload.amount_due,
                previous_assessed=(position.assessed if new_version and position.version
                                   else position.previous_assessed),
                additional=Decimal(0) if new_version else position.additional,
                checked=Decimal(0) if new_version else position.checked)
        case events.AdditionalDebtNotified() if payload.declaration_version == position.version \
                and payload.cause == "control_finding":
            return replace(position, additional=position.additional + payload.amount)
        case events.AdditionalDebtNotified() if payload.declaration_version == position.version \
                and payload.cause == "post_clearance_check":
            return replace(position, checked=position.checked + payload.amount)
        case events.PaymentReceived() if payload.reference not in position.references:
            return replace(position, paid=position.paid + payload.amount,
                           references=position.references | {payload.reference})
        case events.DebtWrittenOff():
            return replace(position, written_off=position.written_off + payload.amount)
        case events.RepaymentDecided():
            return replace(position, decided=position.decided + payload.amount)
        case events.RepaymentPaid() if payload.reference not in position.repaid_references:
            return replace(position, repaid=position.repaid + payload.amount,
                           repaid_references=position.repaid_references | {payload.reference})
    return position


def fold(payloads: Iterable[Any], *, invalidated: bool = False) -> Position:
    position = Position(invalidated=invalidated)
    for payload in payloads:
        position = apply(position, payload)
    return position


def amendment_debt(position: Position, consignment_id: str,
                   notified_on: date) -> events.AdditionalDebtNotified | None:
    """The additional debt of a version assessed higher than the version before it."""
    if position.previous_assessed is None or position.assessed <= position.previous_assessed:
        return None
    return events.AdditionalDebtNotified(
        consignment_id, position.mrn, position.version,
        position.assessed - position.previous_assessed, position.currency, "amendment",
        LEGAL_BASIS["amendment"], notified_on + PAYMENT_TERM,
        f"version {position.version} assessed at {position.assessed} {position.currency}, "
        f"the version before at {position.previous_assessed}")


def notified_debt(consignment_id: str, mrn: str, version: int, currency: str, *, cause: str,
                  amount: Decimal, detail: str,
                  notified_on: date) -> events.AdditionalDebtNotified:
    """A debt found by a control (`control_finding`) or a post-clearance check on declaration
    version `version`, due `PAYMENT_TERM` after `notified_on`."""
    return events.AdditionalDebtNotified(consignment_id, mrn, version, amount, currency, cause,
                                         LEGAL_BASIS[cause], notified_on + PAYMENT_TERM, detail)


def repayment(position: Position, consignment_id: str, cause: str,
              charged: Decimal = Decimal(0),
              collected: Decimal = Decimal(0)) -> events.RepaymentDecided | None:
    """The repayment to decide now, if any (`cause`: what made it repayable)."""
    amount = position.repayment_due(charged, collected)
    if amount <= 0:
        return None
    if position.invalidated:
        cause = "invalidation"
    return events.RepaymentDecided(consignment_id, position.mrn, amount, position.currency,
                                   cause, LEGAL_BASIS[cause])


def check_repayment(position: Position, reference: str, amount: Decimal,
                    currency: str) -> bool:
    """Whether a repayment paid out under `reference` is new (False: the same reference again,
    nothing to record); raises `RepaymentRefused` when it is beyond what was decided."""
    if reference in position.repaid_references:
        return False
    if currency != position.currency:
        raise RepaymentRefused(f"repayments are made in {position.currency}, not {currency}")
    if amount <= 0 or amount > position.outstanding_repayment:
        raise RepaymentRefused(f"{amount} {currency} is more than the repayment decided and "
                               f"not paid yet ({position.outstanding_repayment})")
    return True
