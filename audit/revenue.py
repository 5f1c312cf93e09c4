"""The revenue ledger from the log: every revenue event posted as a balanced double entry
(`services/payment/domain/journal.py`), each deferment and guarantee account folded from its
own stream, and the daily accounting export for finance.

One pass over the log (`read_revenue`). The checks an auditor runs on it (`Revenue.problems`):
every entry balances, the whole ledger sums to zero, and each deferment account's ledger
balance (`deferment:<number>`) equals what the account's own fold says is charged and not
collected; each guarantee's (`guarantee:<number>`) what it holds reserved.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, TextIO

from services.payment.domain import accounts as account_domain
from services.payment.domain.accounts import Account, AccountType
from services.payment.domain.journal import Journal, JournalEntry, balances, by_class
from shared.events import payment as payment_events
from shared.events.declaration import DeclarationInvalidated
from shared.eventstore import EventStore

ACCOUNT_STREAM_PREFIX = "payment-account-"
CSV_COLUMNS = ("date", "recorded_at", "position", "event_id", "event_type", "mrn",
               "ledger_account", "debit", "credit", "currency")


@dataclass
class Revenue:
    currency: str = ""
    entries: list[JournalEntry] = field(default_factory=list)
    accounts: dict[str, Account] = field(default_factory=dict)  # number -> fold

    @property
    def balances(self) -> dict[str, Decimal]:
        return balances(self.entries)

    def problems(self) -> list[str]:
        """What does not hold (empty: the ledger balances and agrees with the accounts)."""
        found = [f"entry at position {e.position} ({e.event_type}) does not balance: "
                 f"{e.debits} debit, {e.credits} credit" for e in self.entries if not e.balanced]
        totals = self.balances
        total = sum(totals.values(), Decimal(0))
        if total != 0:
            found.append(f"the ledger sums to {total}, not 0")
        for number, account in self.accounts.items():
            if account.account_type is AccountType.DEFERMENT:
                name, held = f"deferment:{number}", account.charged
            else:
                name, held = f"guarantee:{number}", account.reserved_total
            if totals.get(name, Decimal(0)) != held:
                found.append(f"{name} is {totals.get(name, Decimal(0))} in the ledger but "
                             f"{held} in the account's own fold")
        return found

    def entries_on(self, day: date) -> list[JournalEntry]:
        return [e for e in self.entries if e.at.date() == day]


def read_revenue(store: EventStore, *, page: int = 5000,
                 progress: Callable[[int, int], None] | None = None) -> Revenue:
    """One pass over the whole log; `progress(events_read, position)` after each page."""
    journal = Journal()
    revenue = Revenue()
    folds: dict[str, Account | None] = {}
    read = 0
    for batch in store.iter_all(0, page):
        for event in batch:
            if event.category != "payment" and event.type != DeclarationInvalidated.TYPE:
                continue  # decoded only when it is revenue
            payload = event.payload
            if isinstance(payload, payment_events.DutyAssessed):
                revenue.currency = payload.currency
            if event.stream.startswith(ACCOUNT_STREAM_PREFIX):
                number = event.stream[len(ACCOUNT_STREAM_PREFIX):]
                folds[number] = account_domain.apply(folds.get(number), payload)
            entry = journal.post(event.position, event.event_id, event.recorded_at, payload)
            if entry is not None:
                revenue.entries.append(entry)
        read += len(batch)
        if progress is not None:
            progress(read, batch[-1].position)
    revenue.accounts = {n: a for n, a in sorted(folds.items()) if a is not None}
    return revenue


def summary(revenue: Revenue) -> dict[str, Any]:
    """`clearance accounts`: each account's figures, the ledger's totals by class, and the
    checks."""
    return {
        "currency": revenue.currency,
        "accounts": [{"number": a.number, "type": a.account_type.value,
                      "holder_eori": a.holder_eori, "closed": a.closed,
                      "limit": _money(a.limit), "charged": _money(a.charged),
                      "reserved": _money(a.reserved_total), "available": _money(a.available),
                      "waiting": len(a.waiting)} for a in revenue.accounts.values()],
        "ledger": {name: _money(amount)
                   for name, amount in by_class(revenue.balances).items()},
        "entries": len(revenue.entries),
        "problems": revenue.problems(),
    }


def export_csv(entries: Iterable[JournalEntry], currency: str, out: TextIO) -> tuple[Decimal,
                                                                                     Decimal]:
    """The accounting export: one row per posting, then a TOTAL row; (debits, credits)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    debits = credits = Decimal(0)
    for entry in entries:
        for posting in entry.postings:
            writer.writerow([entry.at.date().isoformat(), entry.at.isoformat(), entry.position,
                             entry.event_id, entry.event_type, entry.mrn or "",
                             posting.account, _money(posting.debit), _money(posting.credit),
                             currency])
            debits += posting.debit
            credits += posting.credit
    writer.writerow(["TOTAL", "", "", "", "", "", "", _money(debits), _money(credits),
                     currency])
    return debits, credits


def _money(amount: Decimal) -> str:
    return format(amount, "f") if amount else "0.00"
