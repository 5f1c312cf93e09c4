"""Events of the risk service (category `risk`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from marshmallow import Schema, fields, validate

CATEGORY = "risk"
LANES = ("green", "yellow", "red", "blue")


class RuleHit(Schema):
    rule_id = fields.String(required=True)
    lane = fields.String(required=True)
    score = fields.Integer(required=True)
    rationale = fields.String(required=True)


@dataclass(frozen=True)
class RiskAssessed:
    """The selectivity decision, with its working: rule-set version, rules hit (with the
    officer-facing rationale) and the recorded random draw, so it replays exactly."""

    TYPE: ClassVar[str] = "RiskAssessed"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    lane: str
    score: int
    rules_hit: list[dict[str, Any]]
    ruleset_version: str
    aeo_status: str | None
    draw: dict[str, Any]
    decision: dict[str, Any]


class RiskAssessedV1(Schema):
    consignment_id = fields.String(required=True)
    mrn = fields.String(required=True)
    lane = fields.String(required=True, validate=validate.OneOf(LANES))
    score = fields.Integer(required=True)
    rules_hit = fields.List(fields.Nested(RuleHit), required=True)
    ruleset_version = fields.String(required=True)
    aeo_status = fields.String(required=True, allow_none=True)
    draw = fields.Dict(required=True)
    decision = fields.Dict(required=True)


@dataclass(frozen=True)
class ControlOrdered:
    """A documentary check (yellow) or a physical examination (red) was ordered."""

    TYPE: ClassVar[str] = "ControlOrdered"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    kind: str
    lane: str


class ControlOrderedV1(Schema):
    consignment_id = fields.String(required=True)
    mrn = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["documentary", "examination"]))
    lane = fields.String(required=True, validate=validate.OneOf(LANES))


@dataclass(frozen=True)
class ControlCompleted:
    """An officer recorded the control's result."""

    TYPE: ClassVar[str] = "ControlCompleted"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    result: str
    officer: str
    findings: str
    revenue_recovered: Decimal


class ControlCompletedV1(Schema):
    consignment_id = fields.String(required=True)
    mrn = fields.String(required=True)
    result = fields.String(required=True,
                           validate=validate.OneOf(["compliant", "non_compliant"]))
    officer = fields.String(required=True)
    findings = fields.String(required=True)
    revenue_recovered = fields.Decimal(required=True, as_string=True)


EVENTS = [
    (RiskAssessed, RiskAssessedV1),
    (ControlOrdered, ControlOrderedV1),
    (ControlCompleted, ControlCompletedV1),
]
