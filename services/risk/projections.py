"""The risk service's read model `risk_cases` (MRN -> consignment, lane), fed from the log.

Written by the live path in the same transaction as the RiskAssessed event, and rebuilt from
the log by `clearance rebuild`; both use `project`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Connection, MetaData, String, Table, UniqueConstraint

from shared.events.envelope import NewEvent, RecordedEvent
from shared.eventstore.sql import insert_rows

NAME = "risk_cases"


def cases_table(name: str = NAME) -> Table:
    return Table(
        name, MetaData(),
        Column("mrn", String(18), primary_key=True),
        Column("consignment_id", String(36), nullable=False),
        Column("lane", String(10), nullable=False),
        UniqueConstraint("consignment_id", name=f"uq_{name}_consignment"),
    )


CASES = cases_table()


def project(connection: Connection, events: Sequence[RecordedEvent | NewEvent], table: Table = CASES) -> None:
    rows = [{"mrn": e.data["mrn"], "consignment_id": e.correlation_id, "lane": e.data["lane"]}
            for e in events if e.type == "RiskAssessed"]
    insert_rows(connection, table, rows, conflict="mrn")
