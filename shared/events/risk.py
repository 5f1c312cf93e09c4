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
CONTROL_OUTCOMES = ("release", "release_after_payment", "refuse_release")
# A compliant control's remarks are "no_discrepancy"; the others are discrepancies.
FINDING_CATEGORIES = ("no_discrepancy", "classification", "valuation", "origin", "quantity",
                      "documents", "prohibited_goods")


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
    legacy draw with the public salt (every version 1 decision).

    Version 3: `declaration_version`, the version of the declaration assessed (an amendment
    makes a new one, assessed again)."""

    TYPE: ClassVar[str] = "RiskAssessed"
    VERSION: ClassVar[int] = 3
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
    declaration_version: int = field(default=1, metadata={"validate": validate.Range(min=1)})


@dataclass(frozen=True)
class RiskAssessedV2:
    """Version 2 of RiskAssessed: no declaration version (always the first)."""

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


def first_declaration_version(data: dict[str, Any]) -> dict[str, Any]:
    """An event recorded before amendments existed is about the declaration's first version
    (the upcaster of RiskAssessed 2 -> 3, ControlOrdered 1 -> 2, DutyAssessed 1 -> 2)."""
    return {**data, "declaration_version": 1}


@dataclass(frozen=True)
class ControlOrdered:
    """A documentary check (yellow) or a physical examination (red) was ordered. Version 2:
    `declaration_version`, the version of the declaration to control."""

    TYPE: ClassVar[str] = "ControlOrdered"
    VERSION: ClassVar[int] = 2
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    kind: str = field(metadata={"validate": validate.OneOf(CONTROL_KINDS)})
    lane: str = field(metadata={"validate": validate.OneOf(LANES)})
    declaration_version: int = field(default=1, metadata={"validate": validate.Range(min=1)})


@dataclass(frozen=True)
class ControlOrderedV1:
    """Version 1 of ControlOrdered: no declaration version (always the first)."""

    TYPE: ClassVar[str] = "ControlOrdered"
    VERSION: ClassVar[int] = 1
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    kind: str = field(metadata={"validate": validate.OneOf(CONTROL_KINDS)})
    lane: str = field(metadata={"validate": validate.OneOf(LANES)})


class ControlFinding(Schema):
    """One finding of a control: its category and the officer's words."""

    category = fields.String(required=True, validate=validate.OneOf(FINDING_CATEGORIES))
    text = fields.String(required=True, validate=validate.Length(max=2000))


@dataclass(frozen=True)
class ControlCompleted:
    """An officer recorded the control's result. Version 2: the officer is the event's
    authenticated author (the envelope's actor), no longer a field anyone could fill in.

    Version 3: the findings are a list of `{category, text}`; a non-compliant result says
    what follows (`outcome`: release, release after payment of `additional_duty`, or release
    refused); `additional_duty` (>= 0, > 0 only for release after payment) replaces
    `revenue_recovered`. `outcome` is None for a compliant result, and for a non-compliant
    one recorded before version 3 (a customs hold: no outcome was decided). `declaration_version`:
    the version of the declaration the control examined (1 for results before version 3)."""

    TYPE: ClassVar[str] = "ControlCompleted"
    VERSION: ClassVar[int] = 3
    CATEGORY: ClassVar[str] = CATEGORY
    consignment_id: str
    mrn: str
    result: str = field(metadata={"validate": validate.OneOf(CONTROL_RESULTS)})
    findings: list[dict[str, Any]] = field(metadata={"items": ControlFinding})
    outcome: str | None = field(metadata={"validate": validate.OneOf(CONTROL_OUTCOMES)})
    additional_duty: Decimal = field(metadata={"validate": validate.Range(min=0)})
    # The declaration version the control examined (an amendment makes a new one).
    declaration_version: int = field(default=1, metadata={"validate": validate.Range(min=1)})


@dataclass(frozen=True)
class ControlCompletedV2:
    """Version 2 of ControlCompleted: findings as one "category: text" string (or free
    text), and `revenue_recovered`; a non-compliant result held the goods, no outcome."""

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


def findings_of(result: str, text: str) -> list[dict[str, str]]:
    """Version 2's findings string as version 3's list: "" -> []; a compliant result's
    remark -> one `no_discrepancy` finding with the whole text; a non-compliant one's
    "category: text" -> that category and text (the service wrote them so), and any other
    text (no known category first, or nothing after it) -> `documents`, the category the
    service used when none was given."""
    if not text:
        return []
    if result == "compliant":
        return [{"category": "no_discrepancy", "text": text}]
    category, separator, rest = text.partition(": ")
    if separator and rest and category in FINDING_CATEGORIES and category != "no_discrepancy":
        return [{"category": category, "text": rest}]
    return [{"category": "documents", "text": text}]


def control_completed_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Findings as a list (`findings_of`); `revenue_recovered` becomes `additional_duty`;
    no outcome: a version 2 non-compliant result is a customs hold with no outcome decided;
    the declaration's first version (amendments came later)."""
    upcast = {k: v for k, v in data.items() if k not in ("findings", "revenue_recovered")}
    return {**upcast, "findings": findings_of(data["result"], data["findings"]),
            "outcome": None, "additional_duty": data["revenue_recovered"],
            "declaration_version": 1}


EVENTS = [RiskAssessed, ControlOrdered, ControlCompleted]
OLD_VERSIONS = {
    RiskAssessed: {1: (RiskAssessedV1, risk_assessed_v1_to_v2),
                   2: (RiskAssessedV2, first_declaration_version)},
    ControlOrdered: {1: (ControlOrderedV1, first_declaration_version)},
    ControlCompleted: {1: (ControlCompletedV1, control_completed_v1_to_v2),
                       2: (ControlCompletedV2, control_completed_v2_to_v3)},
}
