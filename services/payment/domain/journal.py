"""The revenue ledger (pure): every revenue event as a balanced double entry.

`Journal.post(...)` turns one recorded event into a `JournalEntry` whose postings' debits equal
their credits; the journal keeps what it needs from earlier events (each declaration's
assessed duty and VAT, its additional debts) so a later event posts only the change it makes.
Folding the whole log gives the ledger; the sum of every ledger account is zero by
construction, and a ledger account's balance can be checked against the fold of the events it
comes from (a deferment account's `deferment:<number>` equals the charges not collected yet).

Ledger accounts (debit balances are assets of customs, credit balances what it owes or earned):

=============================  ============================================================
`receivable:<mrn>`             what the declarant owes on the declaration (negative: overpaid)
`revenue:duty`, `revenue:vat`  duty and import VAT established (assessed, notified)
`cash`                         money received, less money repaid
`deferment:<number>`           charged to a deferment account, not collected yet
`repayable:<mrn>`              repayments decided, not paid out yet (a credit balance)
`written-off`                  debts written off (a loss of revenue: a debit balance)
`guarantee:<number>`           reserved on a guarantee (a memorandum pair with
`guarantee-cover:<number>`     its cover: securities are not money)
=============================  ============================================================

Postings, per event:

- DutyAssessed: the change against the version before (first: all of it): Dr receivable,
  Cr revenue:duty / revenue:vat (a lower amendment reverses the difference).
- AdditionalDebtNotified (control finding, post-clearance check): Dr receivable, Cr
  revenue:duty. (An amendment's higher duty is in its DutyAssessed.)
- DeclarationInvalidated: the debt extinguished: Dr revenue:duty / revenue:vat, Cr receivable.
- PaymentReceived: Dr cash, Cr receivable.
- DebtCharged: Dr deferment, Cr receivable. ChargeCancelled: the reverse.
- DirectDebitCollected: Dr cash, Cr deferment.
- DebtSecured: Dr guarantee, Cr guarantee-cover. SecurityReleased: the reverse.
- DebtWrittenOff: Dr written-off, Cr receivable.
- RepaymentDecided: Dr receivable, Cr repayable. RepaymentPaid: Dr repayable, Cr cash.

Amounts are Decimals in the national currency's minor units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.events import payment as events
from shared.events.declaration import DeclarationInvalidated

CASH = "cash"
DUTY, VAT = "revenue:duty", "revenue:vat"
WRITTEN_OFF = "written-off"


def receivable(mrn: str) -> str:
    return f"receivable:{mrn}"


@dataclass(frozen=True)
class Posting:
    account: str
    debit: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)


@dataclass(frozen=True)
class JournalEntry:
    position: int
    event_id: str
    event_type: str
    at: datetime
    mrn: str | None
    postings: tuple[Posting, ...]

    @property
    def debits(self) -> Decimal:
        return sum((p.debit for p in self.postings), Decimal(0))

    @property
    def credits(self) -> Decimal:
        return sum((p.credit for p in self.postings), Decimal(0))

    @property
    def balanced(self) -> bool:
        return self.debits == self.credits


def transfer(debit: str, credit: str, amount: Decimal) -> tuple[Posting, ...]:
    """`amount` from `credit` to `debit` (a negative amount the other way)."""
    if amount == 0:
        return ()
    if amount < 0:
        debit, credit, amount = credit, debit, -amount
    return (Posting(debit, debit=amount), Posting(credit, credit=amount))


@dataclass
class _Debt:
    """What the journal has posted for one declaration so far."""

    mrn: str
    version: int = 0
    duty: Decimal = Decimal(0)
    vat: Decimal = Decimal(0)
    additional: Decimal = Decimal(0)  # notified for the version in force
    invalidated: bool = False


@dataclass
class Journal:
    debts: dict[str, _Debt] = field(default_factory=dict)  # consignment id -> posted

    def post(self, position: int, event_id: str, at: datetime,
             payload: Any) -> JournalEntry | None:
        """The entry of one event (None: the event moves no money or security)."""
        postings, mrn = self._postings(payload)
        if not postings:
            return None
        return JournalEntry(position, event_id, type(payload).TYPE, at, mrn, postings)

    def _postings(self, payload: Any) -> tuple[tuple[Posting, ...], str | None]:
        match payload:
            case events.DutyAssessed():
                return self._assessed(payload), payload.mrn
            case events.AdditionalDebtNotified() if payload.cause != "amendment":
                debt = self._debt(payload.consignment_id, payload.mrn)
                if payload.declaration_version != debt.version or debt.invalidated:
                    return (), payload.mrn
                debt.additional += payload.amount
                return transfer(receivable(payload.mrn), DUTY, payload.amount), payload.mrn
            case DeclarationInvalidated():
                return self._extinguished(payload.consignment_id), payload.mrn
            case events.PaymentReceived():
                return transfer(CASH, receivable(payload.mrn), payload.amount), payload.mrn
            case events.DebtCharged():
                return transfer(f"deferment:{payload.number}", receivable(payload.mrn),
                                payload.amount), payload.mrn
            case events.ChargeCancelled():
                return transfer(receivable(payload.mrn), f"deferment:{payload.number}",
                                payload.amount), payload.mrn
            case events.DirectDebitCollected():
                return transfer(CASH, f"deferment:{payload.number}", payload.amount), None
            case events.DebtSecured():
                return transfer(f"guarantee:{payload.number}",
                                f"guarantee-cover:{payload.number}", payload.amount), payload.mrn
            case events.SecurityReleased():
                return transfer(f"guarantee-cover:{payload.number}",
                                f"guarantee:{payload.number}", payload.amount), payload.mrn
            case events.DebtWrittenOff():
                return transfer(WRITTEN_OFF, receivable(payload.mrn), payload.amount), payload.mrn
            case events.RepaymentDecided():
                return transfer(receivable(payload.mrn), f"repayable:{payload.mrn}",
                                payload.amount), payload.mrn
            case events.RepaymentPaid():
                return transfer(f"repayable:{payload.mrn}", CASH, payload.amount), payload.mrn
        return (), None

    def _assessed(self, assessed: events.DutyAssessed) -> tuple[Posting, ...]:
        debt = self._debt(assessed.consignment_id, assessed.mrn)
        if assessed.declaration_version < debt.version or debt.invalidated:
            return ()  # an earlier version heard late, or nothing owed any more
        duty, vat = assessed.duty_total, assessed.vat_total
        changes = (*transfer(receivable(assessed.mrn), DUTY, duty - debt.duty - debt.additional),
                   *transfer(receivable(assessed.mrn), VAT, vat - debt.vat))
        debt.version, debt.duty, debt.vat, debt.additional = (assessed.declaration_version,
                                                              duty, vat, Decimal(0))
        return changes

    def _extinguished(self, consignment_id: str) -> tuple[Posting, ...]:
        """The debt of an invalidated declaration, reversed (UCC art. 117)."""
        debt = self.debts.get(consignment_id)
        if debt is None or debt.invalidated:
            return ()
        debt.invalidated = True
        return (*transfer(DUTY, receivable(debt.mrn), debt.duty + debt.additional),
                *transfer(VAT, receivable(debt.mrn), debt.vat))

    def _debt(self, consignment_id: str, mrn: str) -> _Debt:
        return self.debts.setdefault(consignment_id, _Debt(mrn))


def balances(entries: Iterable[JournalEntry]) -> dict[str, Decimal]:
    """Each ledger account's balance (debits less credits), by account name."""
    found: dict[str, Decimal] = {}
    for entry in entries:
        for posting in entry.postings:
            found[posting.account] = (found.get(posting.account, Decimal(0))
                                      + posting.debit - posting.credit)
    return dict(sorted(found.items()))


def by_class(totals: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Balances summed by the ledger account's class (`receivable`, `deferment`, ...)."""
    found: dict[str, Decimal] = {}
    for account, amount in totals.items():
        kind = account.split(":")[0] if not account.startswith("revenue:") else account
        found[kind] = found.get(kind, Decimal(0)) + amount
    return dict(sorted(found.items()))
