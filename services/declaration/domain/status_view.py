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

from shared.events.codec import Keeper, keeper

from .status import TRANSITIONS, Status

Fact = dict[str, Any]  # {"type", "position", "at", "data": {...}}: as stored in the row

# What each event contributes to the view: the fields of its typed payload the view reads
# (a rebuild reads only these from the log).
KEPT_FIELDS: dict[str, tuple[str, ...]] = {
    "DeclarationReceived": ("lrn", "declarant_eori"),
    "DeclarationAccepted": ("mrn", "lrn", "declarant_eori", "office", "transport_mode",
                            "declaration_version"),
    "DeclarationRejected": (),
    "RiskAssessed": ("lane", "declaration_version"),
    "ControlOrdered": ("kind", "declaration_version"),
    "ControlCompleted": ("result", "outcome", "additional_duty", "declaration_version"),
    "DutyAssessed": ("amount_due", "currency", "declaration_version"),
    "PaymentReceived": ("amount", "reference"),
    "DebtCharged": ("amount", "declaration_version"),
    "DebtWrittenOff": ("amount", "declaration_version"),
    "DebtSecured": ("amount", "declaration_version"),
    "ChargeRefused": ("reason", "declaration_version"),
    "AdditionalDebtNotified": ("amount", "cause", "declaration_version"),
    "RepaymentDecided": ("amount",),
    "RepaymentPaid": ("amount",),
    "GoodsReleased": ("released_at",),
    "DeclarationCleared": ("cleared_at", "declaration_version"),
    "GoodsHeld": ("reason",),
    "AgencyHoldPlaced": ("agency",),
    "AgencyHoldDecided": ("agency", "decision"),
    "ReleaseRefused": ("refused_at",),
    "DeclarationInvalidated": ("after_release",),
}


def fact_of(event_type: str, position: int, at: str, payload: Any) -> Fact | None:
    """The fact an event contributes (its kept fields, JSON-ready), or None for an event the
    view does not use. `payload` is the typed event (all its fields, or at least the kept
    ones)."""
    keep = _KEEPERS.get(event_type)
    if keep is None:
        fields = KEPT_FIELDS.get(event_type)
        if fields is None:
            return None
        keep = _KEEPERS[event_type] = keeper(type(payload), fields)
    return {"type": event_type, "position": position, "at": at, "data": keep(payload)}


_KEEPERS: dict[str, Keeper] = {}  # event type -> its kept fields, JSON-ready


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
    """The view from a set of facts (event id -> fact); independent of their order.

    The status is folded over the facts in log order: after each fact, the status its facts
    so far call for (`_Seen.called_for`) is taken when the transition table allows it after
    the current one (`status.TRANSITIONS`); otherwise the current status stands."""
    ordered = sorted(facts.values(), key=_position)
    seen = _Seen()
    status = Status.RECEIVED
    table = TRANSITIONS
    for fact in ordered:
        seen.add(fact)
        target = seen.called_for()
        if target is not status and target in table[status]:
            status = target

    first, last = seen.first, seen.last
    received, accepted = first.get("DeclarationReceived"), last.get("DeclarationAccepted")
    identity = (accepted or received or {"data": {}})["data"]
    risk, duty = last.get("RiskAssessed"), last.get("DutyAssessed")
    released = first.get("GoodsReleased")
    paid, due = seen.paid, seen.due
    if due is not None:  # the additional debts: of a release after payment, of checks
        due += seen.additional + seen.checked
    return StatusView(
        mrn=identity.get("mrn"),
        lrn=identity.get("lrn", ""),
        declarant_eori=identity.get("declarant_eori", ""),
        office=identity.get("office"),
        transport_mode=identity.get("transport_mode"),
        version=int(identity.get("declaration_version", 1)),
        status=status,
        lane=risk["data"]["lane"] if risk else None,
        amount_due=None if due is None else str(due),
        amount_paid=str(paid) if (duty or paid) else None,
        currency=duty["data"]["currency"] if duty else None,
        lodged_at=received["at"] if received else None,
        released_at=released["data"]["released_at"] if released else None,
        last_position=ordered[-1]["position"] if ordered else 0,
    )


def previous_lane(facts: Mapping[str, Fact]) -> str | None:
    """The lane risk gave the declaration version before the one in force (None before any
    amendment, or while no earlier version has one): after an amendment the new version is
    assessed again, and the officer sees what the previous assessment said."""
    ordered = sorted(facts.values(), key=_position)
    current = max((int(f["data"].get("declaration_version", 1)) for f in ordered
                   if f["type"] == "DeclarationAccepted"), default=1)
    earlier = [f for f in ordered if f["type"] == "RiskAssessed"
               and int(f["data"].get("declaration_version", 1)) < current]
    return str(earlier[-1]["data"]["lane"]) if earlier else None


def _position(fact: Fact) -> int:
    position: int = fact["position"]
    return position


# Facts about one declaration version (each names it; an earlier event version is about 1).
_OF_A_VERSION = ("RiskAssessed", "ControlOrdered", "ControlCompleted", "DutyAssessed",
                 "DeclarationCleared", "AdditionalDebtNotified")


class _Seen:
    """The facts of one consignment met so far, in log order: the first and the last of each
    type, and the sums the status needs."""

    __slots__ = ("first", "last", "paid", "charged", "secured", "due", "additional", "checked",
                 "refused", "version", "short_of_balance", "held_by")

    def __init__(self) -> None:
        self.first: dict[str, Fact] = {}
        self.last: dict[str, Fact] = {}
        self.paid = Decimal("0.00")
        # charged to a deferment account or written off: settled for customs
        self.charged = Decimal("0.00")
        self.secured = Decimal("0.00")  # by a guarantee: released on it, still to be paid
        self.short_of_balance = False  # the account named refused the charge for balance
        self.due: Decimal | None = None
        self.additional = Decimal("0.00")  # release after payment: the additional duty
        self.checked = Decimal("0.00")  # debts found by post-clearance checks
        self.refused = False  # a control refused release (final)
        self.version = 1  # the declaration version in force (an amendment makes the next)
        self.held_by: set[str] = set()  # partner agencies whose hold is not decided yet

    def add(self, fact: Fact) -> None:
        kind = fact["type"]
        if kind in _OF_A_VERSION:
            # What risk, controls and duty said about an earlier version no longer counts.
            version = int(fact["data"].get("declaration_version", 1))
            if version < self.version:
                return
        elif kind == "DeclarationAccepted":
            version = int(fact["data"].get("declaration_version", 1))
            if version > self.version:  # amended: the new version is assessed again
                self.version = version
                for earlier in _OF_A_VERSION:
                    self.last.pop(earlier, None)
                self.due, self.additional = None, Decimal("0.00")
                self.checked = Decimal("0.00")
        self.first.setdefault(kind, fact)
        self.last[kind] = fact
        if kind == "AgencyHoldPlaced":
            self.held_by.add(fact["data"]["agency"])
        elif kind == "AgencyHoldDecided":
            self.held_by.discard(fact["data"]["agency"])
        elif kind == "PaymentReceived":
            self.paid += Decimal(fact["data"]["amount"])
        elif kind in ("DebtCharged", "DebtWrittenOff"):  # settled without money
            self.charged += Decimal(fact["data"]["amount"])
            self.short_of_balance = False
        elif kind == "DebtSecured":
            self.secured += Decimal(fact["data"]["amount"])
            self.short_of_balance = False
        elif kind == "ChargeRefused":
            self.short_of_balance = fact["data"]["reason"] == "insufficient_balance"
        elif kind == "AdditionalDebtNotified" and fact["data"]["cause"] == "post_clearance_check":
            # a post-clearance check's debt (a control's is read from the control itself)
            self.checked += Decimal(fact["data"]["amount"])
        elif kind == "DutyAssessed":
            self.due = Decimal(fact["data"]["amount_due"])
        elif kind == "ControlCompleted":
            # Facts kept before ControlCompleted version 3 have no outcome (a customs hold).
            outcome = fact["data"].get("outcome")
            self.refused = self.refused or outcome == "refuse_release"
            self.additional = (Decimal(fact["data"]["additional_duty"])
                               if outcome == "release_after_payment" else Decimal("0.00"))

    def called_for(self) -> Status:
        """The status these facts call for, strongest first. Customs' own hold (a
        non-compliant control with no outcome decided) is `query_raised`, never the agency
        hold `held_by_agency`, which stands while a partner agency's hold is not decided;
        a release after payment is `tax_due` until the assessed duty plus the additional
        duty is paid. A debt charged to a deferment
        account or secured by a guarantee is not due now; one the named account refused for
        want of balance is `insufficient_balance` until charged or paid."""
        last = self.last
        if "DeclarationInvalidated" in last:  # final, before or after release
            return Status.INVALIDATED
        if "DeclarationCleared" in last:  # released, and every debt of this version paid
            return Status.CLEARED  # (amended after release: released until it is cleared)
        if "GoodsReleased" in last:
            return Status.RELEASED
        if self.refused or "ReleaseRefused" in last:
            return Status.RELEASE_REFUSED
        completed = last.get("ControlCompleted")
        if completed is not None and completed["data"]["result"] == "non_compliant" \
                and completed["data"].get("outcome") is None:
            return Status.QUERY_RAISED
        held = last.get("GoodsHeld")
        if held is not None:
            return (Status.HELD_BY_AGENCY if "agency_hold" in held["data"]["reason"]
                    else Status.QUERY_RAISED)
        if self.held_by:  # a partner agency has not decided yet: nothing is released before
            return Status.HELD_BY_AGENCY
        if "DeclarationRejected" in last:
            return Status.REJECTED
        if self.version > 1 and "RiskAssessed" not in last:
            return Status.CORRECTIONS_APPLIED  # amended: waiting for the new assessments
        ordered = last.get("ControlOrdered")
        if ordered is not None and completed is None:
            return (Status.EXAMINATION_INTENDED if ordered["data"]["kind"] == "examination"
                    else Status.DOCUMENTS_REQUIRED)
        if self.due is not None and self.paid < self.due + self.additional:
            # A guarantee secures the assessed duty only: the additional duty must be paid.
            settled = self.paid + self.charged + min(self.secured, self.due)
            if settled < self.due + self.additional:
                return (Status.INSUFFICIENT_BALANCE if self.short_of_balance
                        else Status.TAX_DUE)
        if "DeclarationAccepted" in last:
            return Status.ACCEPTED
        return Status.RECEIVED
