"""The payment service's read models, fed from the log:

* `payment_cases`: MRN -> consignment, from DutyAssessed;
* `payment_references`: each payment reference, unique across declarations, from
  PaymentReceived (the live path claims it in the same transaction as the event, so a
  reference reused concurrently is caught by the primary key: `KeyTaken`);
* `payment_accounts`: each deferment or guarantee account, from AccountOpened (the number is
  claimed with the event, `KeyTaken` for a number in use). A charge locks the account's row
  to its COMMIT: concurrent charges on one account are decided one after the other, each on
  the fold of the account's stream as the one before left it.

Written by the live path and rebuilt from the log by `clearance rebuild`; both use `project`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import Column, MetaData, String, Table, UniqueConstraint

from shared.events.envelope import NewEvent, RecordedEvent
from shared.events.payment import AccountOpened, DutyAssessed, PaymentReceived
from shared.eventstore import ReadModel, Transaction

CASES_NAME, REFERENCES_NAME, ACCOUNTS_NAME = "payment_cases", "payment_references", "payment_accounts"


def cases_table(name: str = CASES_NAME) -> Table:
    return Table(
        name, MetaData(),
        Column("mrn", String(18), primary_key=True),
        Column("consignment_id", String(36), nullable=False),
        UniqueConstraint("consignment_id", name=f"uq_{name}_consignment"),
    )


def references_table(name: str = REFERENCES_NAME) -> Table:
    return Table(
        name, MetaData(),
        Column("reference", String(100), primary_key=True),
        Column("mrn", String(18), nullable=False),
        Column("fingerprint", String(80), nullable=False),
        Column("event_id", String(36), nullable=False),
    )


def accounts_table(name: str = ACCOUNTS_NAME) -> Table:
    return Table(
        name, MetaData(),
        Column("number", String(30), primary_key=True),
        Column("account_type", String(10), nullable=False),
        Column("holder_eori", String(20), nullable=False),
        Column("currency", String(3), nullable=False),
    )


CASES = ReadModel(CASES_NAME, cases_table, key="mrn")
REFERENCES = ReadModel(REFERENCES_NAME, references_table, key="reference")
ACCOUNTS = ReadModel(ACCOUNTS_NAME, accounts_table, key="number")


def fingerprint(mrn: str, amount: Decimal, currency: str) -> str:
    """What makes two payments under one reference the same payment."""
    return f"{mrn}|{amount.normalize()}|{currency}"


def project_cases(tx: Transaction, events: Sequence[RecordedEvent | NewEvent],
                  model: ReadModel = CASES) -> None:
    rows = [{"mrn": p.mrn, "consignment_id": p.consignment_id}
            for p in (e.payload for e in events) if isinstance(p, DutyAssessed)]
    model.insert(tx, rows, skip_existing=True)


def project_references(tx: Transaction, events: Sequence[RecordedEvent | NewEvent],
                       model: ReadModel = REFERENCES) -> None:
    """Claim each payment's reference (raises KeyTaken when one is taken already)."""
    rows = [{"reference": e.payload.reference, "mrn": e.payload.mrn,
             "fingerprint": fingerprint(e.payload.mrn, e.payload.amount, e.payload.currency),
             "event_id": e.event_id}
            for e in events if isinstance(e.payload, PaymentReceived)]
    model.insert(tx, rows)


def project_accounts(tx: Transaction, events: Sequence[RecordedEvent | NewEvent],
                     model: ReadModel = ACCOUNTS) -> None:
    """Claim each account's number (raises KeyTaken when one is taken already)."""
    rows = [{"number": p.number, "account_type": p.account_type, "holder_eori": p.holder_eori,
             "currency": p.currency}
            for p in (e.payload for e in events) if isinstance(p, AccountOpened)]
    model.insert(tx, rows)


def lock_accounts(tx: Transaction, numbers: Sequence[str]) -> None:
    """Lock the rows of existing accounts, in number order, to the end of `tx` (a missing
    one stays missing: call with numbers known to exist)."""
    ACCOUNTS.lock(tx, numbers, {"account_type": "", "holder_eori": "", "currency": ""}, [])
