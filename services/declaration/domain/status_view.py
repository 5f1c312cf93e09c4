"""The trader-facing status of a consignment, derived from the SET of facts known about it.

Events reach the status projection from four services, late, twice or in another order than
they were appended. The projection therefore keeps the facts (keyed by event id, so a
duplicate is a no-op) and derives every column from them with `derive`, a pure function of
the set: any order of delivery gives the same row, and a rebuild from the log in order gives
the same row as the live projection, byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .status import Status

Fact = dict[str, Any]  # {"type", "position", "at", "data": {...}}

# What each event contributes to the view (the rest of its data is not needed here).
KEPT_FIELDS: dict[str, tuple[str, ...]] = {
    "DeclarationReceived": ("lrn", "declarant_eori"),
    "DeclarationAccepted": ("mrn", "lrn", "declarant_eori", "office", "transport_mode",
                            "declaration_version"),
    "DeclarationRejected": (),
    "RiskAssessed": ("lane",),
    "ControlOrdered": ("kind",),
    "ControlCompleted": ("result",),
    "DutyAssessed": ("amount_due", "currency"),
    "PaymentReceived": ("amount", "reference"),
    "GoodsReleased": ("released_at",),
    "GoodsHeld": ("reason",),
}


def fact_of(event_type: str, position: int, at: str, data: Mapping[str, Any]) -> Fact | None:
    """The fact an event contributes, or None for an event the view does not use."""
    fields = KEPT_FIELDS.get(event_type)
    if fields is None:
        return None
    return {"type": event_type, "position": position, "at": at,
            "data": {k: data[k] for k in fields if k in data}}


@dataclass(frozen=True)
class StatusView:
    mrn: str | None
    lrn: str
    declarant_eori: str
    office: str | None
    transport_mode: str | None
    version: int
    status: Status
    lane: str | None
    amount_due: str | None
    amount_paid: str | None
    currency: str | None
    lodged_at: str | None
    released_at: str | None
    last_position: int


def derive(facts: Mapping[str, Fact]) -> StatusView:
    """The view from a set of facts (event id -> fact); independent of their order."""
    ordered = sorted(facts.values(), key=lambda f: f["position"])
    by_type: dict[str, list[Fact]] = {}
    for fact in ordered:
        by_type.setdefault(fact["type"], []).append(fact)

    def first(event_type: str) -> Fact | None:
        found = by_type.get(event_type)
        return found[0] if found else None

    def last(event_type: str) -> Fact | None:
        found = by_type.get(event_type)
        return found[-1] if found else None

    received, accepted = first("DeclarationReceived"), last("DeclarationAccepted")
    identity = (accepted or received or {"data": {}})["data"]
    risk, duty = last("RiskAssessed"), last("DutyAssessed")
    completed, ordered_control = last("ControlCompleted"), last("ControlOrdered")
    released, held = first("GoodsReleased"), last("GoodsHeld")

    paid = sum((Decimal(f["data"]["amount"]) for f in by_type.get("PaymentReceived", [])),
               Decimal("0.00"))
    due = Decimal(duty["data"]["amount_due"]) if duty else None
    lane = risk["data"]["lane"] if risk else None

    if released:
        status = Status.RELEASED
    elif held or (completed and completed["data"]["result"] == "non_compliant"):
        status = Status.HELD_BY_OTHER_AGENCY
    elif first("DeclarationRejected"):
        status = Status.REJECTED
    elif ordered_control and not completed:
        status = (Status.EXAMINATION_INTENDED if ordered_control["data"]["kind"] == "examination"
                  else Status.DOCUMENTS_REQUIRED)
    elif due is not None and paid < due:
        status = Status.TAX_DUE
    elif accepted:
        status = Status.ACCEPTED
    else:
        status = Status.RECEIVED

    return StatusView(
        mrn=identity.get("mrn"),
        lrn=identity.get("lrn", ""),
        declarant_eori=identity.get("declarant_eori", ""),
        office=identity.get("office"),
        transport_mode=identity.get("transport_mode"),
        version=int(identity.get("declaration_version", 1)),
        status=status,
        lane=lane,
        amount_due=None if due is None else str(due),
        amount_paid=str(paid) if (duty or paid) else None,
        currency=duty["data"]["currency"] if duty else None,
        lodged_at=received["at"] if received else None,
        released_at=released["data"]["released_at"] if released else None,
        last_position=max((f["position"] for f in ordered), default=0),
    )
