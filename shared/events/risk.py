"""Events of the risk service (category `risk`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from marshmallow import Schema, fields, validate

CATEGORY = "risk"
LANES = ("green", "yellow", "red", "blue")
CONTROL_KINDS = ("documentary", "examination")
CONTROL_RESULTS = ("compliant", "non_compliant")


class RuleHit(Schema):
    """A rule that selected the consignment, with the officer-facing rationale."""

    rule_id = fields.String(required=True)
    lane = fields.String(required=True)
    score = fields.Integer(required=True)
    rationale = fields.String(required=True)


@dataclass(frozen=True)
class RiskAssessed:
    """The selectivity decision, with its working: rule-set version, rules hit (with the
    officer-facing rationale) and the recorded random draw, so it replays exactly.

    Version 2: `draw_key_id` names the secret key the draw was made with (RISK_DRAW_KEY_ID;
    never the key itself), so that whoever holds that key re-derives the draw. None: the
    legacy draw with the public salt (every version 1 decision)."""

    TYPE: ClassVar[str] = "RiskAssessed"
    VERSION: ClassVar[int] = 2
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    lane: str = field(metadata={"validate": validate.OneOf(LANES)})
    score: int
    rules_hit: list[dict[str, Any]] = field(metadata={"items": RuleHit})
    ruleset_version: str
    aeo_status: str | None
    draw: dict[str, Any]
    decision: dict[str, Any]
    draw_key_id: str | None = field(default=None, metadata={"validate": validate.Length(1, 64)})


@dataclass(frozen=True)
class RiskAssessedV1:
    """Version 1 of RiskAssessed: the draw was sha256 over public inputs and a public salt."""

    TYPE: ClassVar[str] = "RiskAssessed"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    lane: str = field(metadata={"validate": validate.OneOf(LANES)})
    score: int
    rules_hit: list[dict[str, Any]] = field(metadata={"items": RuleHit})
    ruleset_version: str
    aeo_status: str | None
    draw: dict[str, Any]
    decision: dict[str, Any]


def risk_assessed_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """A version 1 decision was drawn with the public salt: no key id."""
    return {**data, "draw_key_id": None}


@dataclass(frozen=True)
class ControlOrdered:
    """A documentary check (yellow) or a physical examination (red) was ordered."""

    TYPE: ClassVar[str] = "ControlOrdered"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    kind: str = field(metadata={"validate": validate.OneOf(CONTROL_KINDS)})
    lane: str = field(metadata={"validate": validate.OneOf(LANES)})


@dataclass(frozen=True)
class ControlCompleted:
    """An officer recorded the control's result. Version 2: the officer is the event's
    authenticated author (the envelope's actor), no longer a field anyone could fill in."""

    TYPE: ClassVar[str] = "ControlCompleted"
    VERSION: ClassVar[int] = 2
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    result: str = field(metadata={"validate": validate.OneOf(CONTROL_RESULTS)})
    findings: str
    revenue_recovered: Decimal


@dataclass(frozen=True)
class ControlCompletedV1:
    """Version 1 of ControlCompleted: the officer's name came from the request body."""

    TYPE: ClassVar[str] = "ControlCompleted"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    result: str = field(metadata={"validate": validate.OneOf(CONTROL_RESULTS)})
    officer: str
    findings: str
    revenue_recovered: Decimal


def control_completed_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """The self-asserted officer name is dropped from the typed event (it stays in the stored
    data an auditor reads, and a v1 event's actor was that same name)."""
    return {k: v for k, v in data.items() if k != "officer"}


EVENTS = [RiskAssessed, ControlOrdered, ControlCompleted]
OLD_VERSIONS = {
    RiskAssessed: {1: (RiskAssessedV1, risk_assessed_v1_to_v2)},
    ControlCompleted: {1: (ControlCompletedV1, control_completed_v1_to_v2)},
}
