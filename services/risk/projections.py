"""The risk service's read model `risk_cases` (MRN -> consignment, lane), fed from the log.

Written by the live path in the same transaction as the RiskAssessed event, and rebuilt from
the log by `clearance rebuild`; both use `project`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, MetaData, String, Table, UniqueConstraint

from shared.events.envelope import NewEvent, RecordedEvent
from shared.events.risk import RiskAssessed
from shared.eventstore import ReadModel, Transaction

NAME = "risk_cases"


def cases_table(name: str = NAME) -> Table:
    return Table(
        name, MetaData(),
        Column("mrn", String(18), primary_key=True),
        Column("consignment_id", String(36), nullable=False),
        Column("lane", String(10), nullable=False),
        UniqueConstraint("consignment_id", name=f"uq_{name}_consignment"),
    )


CASES = ReadModel(NAME, cases_table, key="mrn")


def project(tx: Transaction, events: Sequence[RecordedEvent | NewEvent],
            model: ReadModel = CASES) -> None:
    rows = [{"mrn": p.mrn, "consignment_id": p.consignment_id, "lane": p.lane}
            for p in (e.payload for e in events) if isinstance(p, RiskAssessed)]
    model.insert(tx, rows, skip_existing=True)
    # An amended declaration's new decision: its lane is the one in force.
    amended = {p.mrn: {"mrn": p.mrn, "consignment_id": p.consignment_id, "lane": p.lane}
               for p in (e.payload for e in events)
               if isinstance(p, RiskAssessed) and p.declaration_version > 1}
    if amended:
        model.update(tx, list(amended.values()))
