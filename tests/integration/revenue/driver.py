"""Revenue use cases driven in process on a real store, as the payment service runs them: the
assessment handler's writes made in a transaction (`perform`, as the group commit does), and
the HTTP use cases (`pay`, `repay`, the accounts') called directly. The declaration's own
facts (acceptance, invalidation) are appended as the declaration service would."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.declaration.domain.identifiers import SERIAL_SPACE, format_mrn
from services.payment.application import Payments
from services.payment.domain import revenue
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted, DeclarationInvalidated
from shared.events.envelope import RecordedEvent, stream_name
from shared.eventstore import EventStore
from shared.identity import Caller
from shared.messaging.writes import perform
from shared.reference import load_reference_data

ROOT = Path(__file__).resolve().parents[3]
HOLDER = "GB123456789000"
OPERATOR = Caller("operator-test", frozenset({"operator"}))
CASHIER = Caller("cashier-test", frozenset({"cashier"}))
DECLARANT = Caller("broker-test", frozenset({"declarant"}), eori=HOLDER)
ON = date(2026, 11, 30)


@dataclass
class Declaration:
    consignment_id: str
    mrn: str
    document: dict[str, Any]
    version: int = 1
    invalidated: bool = False


@dataclass
class Driver:
    store: EventStore
    payments: Payments = field(init=False)
    declarations: list[Declaration] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.payments = Payments(self.store, load_reference_data())

    def open(self, number: str, kind: str, limit: str) -> None:
        self.payments.accounts.open(number, kind, HOLDER, Decimal(limit), "GBP", OPERATOR)

    def lodge(self, value: str, method: str = "immediate", account: str | None = None) -> str:
        document = json.loads((ROOT / "samples" / "02-green-unpaid.json").read_text())
        document["items"][0]["value"] = value
        if method != "immediate":
            document["payment"] = {"method": method, "account": account}
        cid = str(uuid.uuid4())
        mrn = format_mrn(2026, "GB", uuid.uuid4().int % SERIAL_SPACE)
        declaration = Declaration(cid, mrn, document)
        self.declarations.append(declaration)
        self._accept(declaration)
        return mrn

    def amend(self, index: int, factor: str) -> None:
        declaration = self.declarations[index]
        if declaration.invalidated:
            return
        item = declaration.document["items"][0]
        item["value"] = str((Decimal(item["value"]) * Decimal(factor)).quantize(Decimal("0.01")))
        declaration.version += 1
        self._accept(declaration)

    def pay(self, index: int, fraction: str) -> None:
        declaration = self.declarations[index]
        view = self.position(index)
        amount = (view.debt * Decimal(fraction)).quantize(Decimal("0.01"))
        if amount <= 0 or declaration.invalidated:
            return
        self.payments.pay(declaration.mrn, f"P-{uuid.uuid4().hex[:10]}", amount, "GBP",
                          CASHIER)

    def invalidate(self, index: int) -> None:
        declaration = self.declarations[index]
        if declaration.invalidated:
            return
        declaration.invalidated = True
        recorded = self._append_declaration(declaration, DeclarationInvalidated(
            declaration.consignment_id, declaration.mrn, declaration.version, "withdrawn",
            False, None))
        writes = self.payments.invalidated(recorded.payload, recorded)
        with self.store.transaction() as tx:
            perform(tx, writes)

    def write_off(self, index: int) -> None:
        """Write off half of what is still owed (nothing when nothing is)."""
        declaration = self.declarations[index]
        position = self.position(index)
        charged = self.payments.accounts.charged_for(
            declaration.document.get("payment", {}).get("account"), declaration.consignment_id)
        half = (position.outstanding(charged) / 2).quantize(Decimal("0.01"))
        if half > 0 and not declaration.invalidated:
            self.payments.write_off(declaration.mrn, half, "remitted in part", OPERATOR)

    def repay(self, index: int) -> None:
        position = self.position(index)
        if position.outstanding_repayment > 0:
            self.payments.repay(self.declarations[index].mrn, f"R-{uuid.uuid4().hex[:10]}",
                                position.outstanding_repayment, "GBP", CASHIER)

    def position(self, index: int) -> revenue.Position:
        declaration = self.declarations[index]
        history = self.store.read_stream(stream_name("payment", declaration.consignment_id))
        return revenue.fold((e.payload for e in history), invalidated=declaration.invalidated)

    def _accept(self, declaration: Declaration) -> None:
        recorded = self._append_declaration(declaration, DeclarationAccepted(
            declaration.consignment_id, declaration.mrn, declaration.document["lrn"], HOLDER,
            declaration.document["office"], declaration.document["transport"]["mode"], ON,
            declaration.version, json.loads(json.dumps(declaration.document))))
        writes = self.payments.assessment(recorded.payload, recorded)
        with self.store.transaction() as tx:
            perform(tx, writes)

    def _append_declaration(self, declaration: Declaration, payload: Any) -> RecordedEvent:
        event = registry().new_event(payload, correlation_id=declaration.consignment_id,
                                     actor="declaration-service")
        [recorded] = self.store.append(stream_name("declaration", declaration.consignment_id),
                                       [event], expected_version=None)
        return recorded
