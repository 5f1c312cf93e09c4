"""The payment service's read models, fed from the log:

* `payment_cases`: MRN -> consignment, from DutyAssessed;
* `payment_references`: each payment reference, unique across declarations, from
  PaymentReceived (the live path claims it in the same transaction as the event, so a
  reference reused concurrently is caught by the primary key: `KeyTaken`).

Written by the live path and rebuilt from the log by `clearance rebuild`; both use `project`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import Column, MetaData, String, Table, UniqueConstraint

from shared.events.envelope import NewEvent, RecordedEvent
from shared.events.payment import DutyAssessed, PaymentReceived
from shared.eventstore import ReadModel, Transaction

CASES_NAME, REFERENCES_NAME = "payment_cases", "payment_references"


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


CASES = ReadModel(CASES_NAME, cases_table, key="mrn")
REFERENCES = ReadModel(REFERENCES_NAME, references_table, key="reference")


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
