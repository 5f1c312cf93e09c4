"""Events of the release service (category `release`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from marshmallow import Schema, fields, validate

CATEGORY = "release"
DECISIONS = ("approved", "refused")  # an agency's decision on its hold
REFUSERS = ("control", "agency")  # who refused a release


class HeldItem(Schema):
    """One item of the declaration in an agency's interest, as the agency is shown it: what
    it regulates, nothing else (no value, no parties)."""

    item = fields.Integer(required=True, validate=validate.Range(min=1))  # 1-based
    hs_code = fields.String(required=True)
    description = fields.String(required=True)
    origin = fields.String(required=True)
    quantity = fields.String(required=True)
    unit = fields.String(required=True)
    net_mass_kg = fields.String(required=True)


@dataclass(frozen=True)
class GoodsReleased:
    """The goods were released (status 08). Exactly one per consignment; the public release
    notification for partner agencies is published from this event. Version 2 names the
    declaration version released; version 3 the partner agencies with an interest in the
    consignment (each hears of the release on its own feed)."""

    TYPE: ClassVar[str] = "GoodsReleased"
    VERSION: ClassVar[int] = 3
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int = field(metadata={"validate": validate.Range(min=1)})
    office: str
    lane: str
    transport_mode: str
    lodged_at: datetime
    released_at: datetime
    agencies: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GoodsReleasedV2:
    """Version 2 of GoodsReleased (stored until partner agencies held goods)."""

    TYPE: ClassVar[str] = "GoodsReleased"
    VERSION: ClassVar[int] = 2
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int = field(metadata={"validate": validate.Range(min=1)})
    office: str
    lane: str
    transport_mode: str
    lodged_at: datetime
    released_at: datetime


@dataclass(frozen=True)
class GoodsReleasedV1:
    """Version 1 of GoodsReleased (stored until version 2 was deployed)."""

    TYPE: ClassVar[str] = "GoodsReleased"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    office: str
    lane: str
    transport_mode: str
    lodged_at: datetime
    released_at: datetime


def goods_released_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Before version 2 a declaration could not be amended: what was released was version 1."""
    return {**data, "declaration_version": 1}


def goods_released_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Before version 3 no partner agency held goods: none had an interest on record."""
    return {**data, "agencies": []}


@dataclass(frozen=True)
class GoodsHeld:
    """The goods are held: by customs (a non-compliant control recorded with no outcome,
    before ControlCompleted version 3) or by an agency (status 50)."""

    TYPE: ClassVar[str] = "GoodsHeld"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    reason: str


@dataclass(frozen=True)
class ReleaseRefused:
    """Release of the goods was refused (status `release_refused`): final, nothing is
    released after it. `refused_by` says who: a `control` (its ControlCompleted, outcome
    `refuse_release`) or an `agency` (its AgencyHoldDecided, decision `refused`);
    `cause_event_id` is that event, `agency` the refusing agency's code, `reason` its note
    (for customs). `agencies`: the partner agencies with an interest in the consignment (each
    hears of the refusal on its own feed). Version 1 knew only a control's refusal."""

    TYPE: ClassVar[str] = "ReleaseRefused"
    VERSION: ClassVar[int] = 2
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int = field(metadata={"validate": validate.Range(min=1)})
    office: str
    refused_by: str = field(metadata={"validate": validate.OneOf(REFUSERS)})
    cause_event_id: str
    agency: str | None
    reason: str
    agencies: list[str]
    refused_at: datetime


@dataclass(frozen=True)
class ReleaseRefusedV1:
    """Version 1 of ReleaseRefused: a control's refusal (`control_event_id`)."""

    TYPE: ClassVar[str] = "ReleaseRefused"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int = field(metadata={"validate": validate.Range(min=1)})
    office: str
    control_event_id: str
    refused_at: datetime


def release_refused_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Before version 2 only a control refused a release, and no agency had an interest."""
    rest = {k: v for k, v in data.items() if k != "control_event_id"}
    return {**rest, "refused_by": "control", "cause_event_id": data["control_event_id"],
            "agency": None, "reason": "", "agencies": []}


@dataclass(frozen=True)
class AgencyHoldPlaced:
    """A partner agency regulates goods of the accepted declaration: the release waits for
    its decision (status `held_by_agency`, 50). One per agency and consignment, placed by the
    release service when the declaration version that first brings goods in the agency's
    interest is accepted. `items`: those the agency regulates (as the register
    `register_version` says), nothing else; `due_at`: the register's time limit from
    `placed_at` (past it the hold is overdue and alerts)."""

    TYPE: ClassVar[str] = "AgencyHoldPlaced"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int = field(metadata={"validate": validate.Range(min=1)})
    office: str
    transport_mode: str
    agency: str
    items: list[dict[str, Any]] = field(metadata={"items": HeldItem})
    register_version: str
    placed_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class AgencyHoldDecided:
    """A partner agency decided on its hold, by its own staff (the envelope's actor):
    `approved` lifts it; `refused` refuses the release (final). `reference`: the agency's
    own (certificate, licence or case number); `note`: its words to customs."""

    TYPE: ClassVar[str] = "AgencyHoldDecided"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    agency: str
    decision: str = field(metadata={"validate": validate.OneOf(DECISIONS)})
    reference: str = field(metadata={"validate": validate.Length(max=200)})
    note: str = field(metadata={"validate": validate.Length(max=2000)})
    decided_at: datetime


@dataclass(frozen=True)
class DeclarationCleared:
    """The declaration version is cleared (status 09): its goods were released and every debt
    on it (the assessed duty and any additional duty) is paid. Appended with the GoodsReleased
    when the debt was paid before release, or later, when the payment that settles it is
    heard. At most one per declaration version (a post-release amendment makes the next);
    never after an invalidation."""

    TYPE: ClassVar[str] = "DeclarationCleared"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    declaration_version: int = field(metadata={"validate": validate.Range(min=1)})
    amount_due: Decimal = field(metadata={"validate": validate.Range(min=0)})
    amount_paid: Decimal = field(metadata={"validate": validate.Range(min=0)})
    cleared_at: datetime


EVENTS = [GoodsReleased, GoodsHeld, ReleaseRefused, DeclarationCleared, AgencyHoldPlaced,
          AgencyHoldDecided]
OLD_VERSIONS = {
    GoodsReleased: {1: (GoodsReleasedV1, goods_released_v1_to_v2),
                    2: (GoodsReleasedV2, goods_released_v2_to_v3)},
    ReleaseRefused: {1: (ReleaseRefusedV1, release_refused_v1_to_v2)},
}
