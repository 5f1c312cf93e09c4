"""The payment service's read models, fed from the log:

* `payment_cases`: MRN -> consignment, from DutyAssessed;
* `payment_references`: each payment reference, unique across declarations, from
  PaymentReceived (the live path claims it in the same transaction as the event, so a
  reference reused concurrently is caught by the primary key).

Written by the live path and rebuilt from the log by `clearance rebuild`; both use `project`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import Column, Connection, MetaData, String, Table, UniqueConstraint

from shared.events.envelope import NewEvent, RecordedEvent
from shared.eventstore.sql import insert_rows

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


CASES, REFERENCES = cases_table(), references_table()


def fingerprint(mrn: str, amount: Decimal, currency: str) -> str:
    """What makes two payments under one reference the same payment."""
    return f"{mrn}|{amount.normalize()}|{currency}"


def project_cases(connection: Connection, events: Sequence[RecordedEvent | NewEvent],
                  table: Table = CASES) -> None:
    rows = [{"mrn": e.data["mrn"], "consignment_id": e.correlation_id}
            for e in events if e.type == "DutyAssessed"]
    insert_rows(connection, table, rows, conflict="mrn")


def project_references(connection: Connection, events: Sequence[RecordedEvent | NewEvent],
                       table: Table = REFERENCES) -> None:
    """Claim each payment's reference (raises IntegrityError when one is taken already)."""
    rows = [{"reference": e.data["reference"], "mrn": e.data["mrn"],
             "fingerprint": fingerprint(e.data["mrn"], Decimal(e.data["amount"]),
                                        e.data["currency"]),
             "event_id": e.event_id}
            for e in events if e.type == "PaymentReceived"]
    insert_rows(connection, table, rows)
