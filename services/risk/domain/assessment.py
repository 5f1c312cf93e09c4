"""The risk assessment: a pure function from facts and versioned reference data to a lane,
with its working recorded so that the decision replays exactly.

Scoring (documented for officers and auditors in services/risk/reference/README.md):

1. A rule *hits* when it is in force (validity dates, office scope) and one item satisfies its
   predicate; a hit is *selected* when its per-rule draw is below its probability.
2. raw score = sum of the scores of the selected hits; the AEO discount of the importer's
   status (configured per status) is subtracted: score = max(0, raw - discount).
3. lane by score: >= red threshold -> red; >= yellow threshold -> yellow; an AEO whose raw
   score reached the yellow threshold but whose score fell below it -> blue; else green.
4. lane by rules: the most severe lane asked for by a selected hit (discount does not apply).
5. random selection: the office's minimum random rate selects for yellow or red.
6. lane = the most severe of 3, 4 and 5. An AEO sent to yellow or red gets priority.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, assert_never

from ._codec import decimal_text, to_date, to_decimal, to_int, to_str
from .aeo import AeoRegister, AeoStatus
from .draw import Draw
from .errors import InvalidRecord, ReferenceVersionMismatch
from .facts import DeclarationFacts, ItemFacts
from .lanes import Lane, most_severe
from .rules import (
    AllOf,
    AnyOf,
    HsPrefix,
    LowUnitValue,
    OriginIn,
    PartyRole,
    Predicate,
    Rule,
    RuleSet,
    WatchlistedParty,
)


@dataclass(frozen=True)
class RuleHit:
    """A rule that hit: what officers see of it (never shown to traders)."""

    rule_id: str
    rationale: str
    lane: Lane
    score: int
    probability: Decimal
    draw: Decimal
    items: tuple[int, ...]  # 1-based item numbers that satisfied the predicate

    @property
    def selected(self) -> bool:
        return self.draw < self.probability

    @property
    def contribution(self) -> int:
        """What the hit adds to the raw score: its score when selected, else 0."""
        return self.score if self.selected else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "rationale": self.rationale,
            "lane": self.lane.value,
            "score": self.score,
            "probability": decimal_text(self.probability),
            "draw": decimal_text(self.draw),
            "selected": self.selected,
            "contribution": self.contribution,
            "items": list(self.items),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleHit:
        return cls(
            rule_id=to_str(data["rule_id"], "rule_id"),
            rationale=str(data["rationale"]),
            lane=_lane(data["lane"]),
            score=to_int(data["score"], "score"),
            probability=to_decimal(data["probability"], "probability"),
            draw=to_decimal(data["draw"], "draw"),
            items=tuple(to_int(n, "items") for n in data["items"]),
        )


@dataclass(frozen=True)
class AeoApplied:
    eori: str
    status: AeoStatus


@dataclass(frozen=True)
class RandomSelection:
    """The office's minimum random selection, with the draw that decided it."""

    draw: Draw
    rate: Decimal
    red_share: Decimal
    lane: Lane | None  # the lane selected for, None when not selected

    @property
    def selected(self) -> bool:
        return self.lane is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.draw.seed,
            "draw": decimal_text(self.draw.value),
            "rate": decimal_text(self.rate),
            "red_share": decimal_text(self.red_share),
            "selected": self.selected,
            "lane": None if self.lane is None else self.lane.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RandomSelection:
        lane = data["lane"]
        return cls(
            draw=Draw(seed=to_str(data["seed"], "seed"), value=to_decimal(data["draw"], "draw")),
            rate=to_decimal(data["rate"], "rate"),
            red_share=to_decimal(data["red_share"], "red_share"),
            lane=None if lane is None else _lane(lane),
        )


@dataclass(frozen=True)
class RiskDecision:
    """A lane with its working: the facts, reference versions, hits, AEO and random draw."""

    consignment_id: str
    lane: Lane
    score: int
    raw_score: int
    aeo_discount: int
    lane_by_score: Lane
    lane_by_rules: Lane
    hits: tuple[RuleHit, ...]
    aeo: AeoApplied | None
    priority: bool
    random: RandomSelection
    ruleset_version: str
    aeo_register_version: str
    assessed_on: date
    facts: DeclarationFacts

    @property
    def selected_by_random(self) -> bool:
        """Whether the random selection made the lane (a rule or the score did not already)."""
        return (
            self.random.lane is not None
            and self.random.lane == self.lane
            and (most_severe(self.lane_by_score, self.lane_by_rules).severity < self.lane.severity)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: decimals as strings, dates in ISO form."""
        return {
            "consignment_id": self.consignment_id,
            "lane": self.lane.value,
            "score": self.score,
            "raw_score": self.raw_score,
            "aeo_discount": self.aeo_discount,
            "lane_by_score": self.lane_by_score.value,
            "lane_by_rules": self.lane_by_rules.value,
            "hits": [hit.to_dict() for hit in self.hits],
            "aeo": None
            if self.aeo is None
            else {"eori": self.aeo.eori, "status": self.aeo.status.value},
            "priority": self.priority,
            "random": self.random.to_dict(),
            "selected_by_random": self.selected_by_random,
            "ruleset_version": self.ruleset_version,
            "aeo_register_version": self.aeo_register_version,
            "assessed_on": self.assessed_on.isoformat(),
            "facts": self.facts.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskDecision:
        """Inverse of `to_dict` (derived fields such as `selected` are recomputed, not read)."""
        try:
            aeo = data["aeo"]
            return cls(
                consignment_id=to_str(data["consignment_id"], "consignment_id"),
                lane=_lane(data["lane"]),
                score=to_int(data["score"], "score"),
                raw_score=to_int(data["raw_score"], "raw_score"),
                aeo_discount=to_int(data["aeo_discount"], "aeo_discount"),
                lane_by_score=_lane(data["lane_by_score"]),
                lane_by_rules=_lane(data["lane_by_rules"]),
                hits=tuple(RuleHit.from_dict(hit) for hit in data["hits"]),
                aeo=None
                if aeo is None
                else AeoApplied(
                    eori=to_str(aeo["eori"], "aeo.eori"), status=AeoStatus(aeo["status"])
                ),
                priority=bool(data["priority"]),
                random=RandomSelection.from_dict(data["random"]),
                ruleset_version=to_str(data["ruleset_version"], "ruleset_version"),
                aeo_register_version=to_str(data["aeo_register_version"], "aeo_register_version"),
                assessed_on=to_date(data["assessed_on"], "assessed_on"),
                facts=DeclarationFacts.from_dict(data["facts"]),
            )
        except KeyError as missing:
            raise InvalidRecord(f"risk decision: missing {missing}") from None
        except (TypeError, ValueError) as error:
            if isinstance(error, InvalidRecord):
                raise
            raise InvalidRecord(f"risk decision: {error}") from None


def assess(
    facts: DeclarationFacts,
    ruleset: RuleSet,
    aeo_register: AeoRegister,
    on_date: date,
    draw: Draw,
) -> RiskDecision:
    """Assess a declaration under a rule set and an AEO register as at `on_date`.

    `draw` is normally `seeded_draw(facts.consignment_id, ruleset.version)`; it is recorded,
    and `reassess` of the result gives the same decision.
    """
    hits = tuple(
        hit
        for hit in (_evaluate(rule, facts, ruleset, on_date, draw) for rule in ruleset.rules)
        if hit is not None
    )
    raw_score = sum(hit.contribution for hit in hits)

    status = aeo_register.status_of(facts.importer_eori, on_date)
    aeo = None if status is None else AeoApplied(eori=facts.importer_eori, status=status)
    discount = ruleset.discount_for(status)
    score = max(0, raw_score - discount)

    thresholds = ruleset.thresholds
    if score >= thresholds.red:
        lane_by_score = Lane.RED
    elif score >= thresholds.yellow:
        lane_by_score = Lane.YELLOW
    elif aeo is not None and raw_score >= thresholds.yellow:
        lane_by_score = Lane.BLUE
    else:
        lane_by_score = Lane.GREEN

    lane_by_rules = most_severe(*(hit.lane for hit in hits if hit.selected))

    selection = ruleset.selection_for(facts.office)
    random = RandomSelection(
        draw=draw,
        rate=selection.rate,
        red_share=selection.red_share,
        lane=selection.lane_for(draw.value),
    )
    random_lane = Lane.GREEN if random.lane is None else random.lane
    lane = most_severe(lane_by_score, lane_by_rules, random_lane)

    return RiskDecision(
        consignment_id=facts.consignment_id,
        lane=lane,
        score=score,
        raw_score=raw_score,
        aeo_discount=discount,
        lane_by_score=lane_by_score,
        lane_by_rules=lane_by_rules,
        hits=hits,
        aeo=aeo,
        priority=aeo is not None and lane.has_control,
        random=random,
        ruleset_version=ruleset.version,
        aeo_register_version=aeo_register.version,
        assessed_on=on_date,
        facts=facts,
    )


def reassess(recorded: RiskDecision, ruleset: RuleSet, aeo_register: AeoRegister) -> RiskDecision:
    """Re-derive a recorded decision from its recorded inputs; equal to `recorded` unless the
    decision was altered. The reference data must be the versions it recorded."""
    if ruleset.version != recorded.ruleset_version:
        raise ReferenceVersionMismatch(
            f"decision used rule set {recorded.ruleset_version}, got {ruleset.version}"
        )
    if aeo_register.version != recorded.aeo_register_version:
        raise ReferenceVersionMismatch(
            f"decision used AEO register {recorded.aeo_register_version}, "
            f"got {aeo_register.version}"
        )
    return assess(recorded.facts, ruleset, aeo_register, recorded.assessed_on, recorded.random.draw)


def _evaluate(
    rule: Rule, facts: DeclarationFacts, ruleset: RuleSet, on_date: date, draw: Draw
) -> RuleHit | None:
    if not rule.applies(facts.office, on_date):
        return None
    items = tuple(
        number
        for number, item in enumerate(facts.items, start=1)
        if _matches(rule.predicate, facts, item, ruleset)
    )
    if not items:
        return None
    return RuleHit(
        rule_id=rule.id,
        rationale=rule.rationale,
        lane=rule.lane,
        score=rule.score,
        probability=rule.probability,
        draw=draw.for_rule(rule.id).value,
        items=items,
    )


def _matches(
    predicate: Predicate, facts: DeclarationFacts, item: ItemFacts, rules: RuleSet
) -> bool:
    if isinstance(predicate, HsPrefix):
        return item.hs_code.startswith(predicate.prefixes)
    if isinstance(predicate, OriginIn):
        return item.origin in predicate.countries
    if isinstance(predicate, WatchlistedParty):
        eoris = {PartyRole.IMPORTER: facts.importer_eori, PartyRole.DECLARANT: facts.declarant_eori}
        return any(rules.is_watchlisted(role, eoris[role]) for role in predicate.roles)
    if isinstance(predicate, LowUnitValue):
        reference = rules.reference_value(item.hs6, item.origin)
        if reference is None or item.net_mass_kg <= 0:
            return False
        # value / mass < factor x reference, without dividing
        return item.value_national(facts.exchange_rate) < (
            predicate.factor * reference * item.net_mass_kg
        )
    if isinstance(predicate, AllOf):
        return all(_matches(p, facts, item, rules) for p in predicate.predicates)
    if isinstance(predicate, AnyOf):
        return any(_matches(p, facts, item, rules) for p in predicate.predicates)
    assert_never(predicate)


def _lane(value: Any) -> Lane:
    try:
        return Lane(value)
    except ValueError:
        raise InvalidRecord(f"unknown lane {value!r}") from None
