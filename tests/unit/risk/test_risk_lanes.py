"""Scoring to lanes: thresholds, rule lanes, the AEO discount, blue, priority, and the demo.

Strategy: the score arithmetic is checked on small in-test rule sets whose rule scores are
chosen to land exactly on and around each threshold (random selection off); then the sample
rule set 2026.1 is run on the demo consignments documented in
services/risk/reference/README.md, so the README's lane table is a tested claim.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from services.risk.domain import (
    AeoEntry,
    AeoRegister,
    AeoStatus,
    Lane,
    RuleSet,
    assess,
    parse_ruleset,
    seeded_draw,
)

ON = date(2026, 3, 2)
AEO_IMPORTER = "GB111111111000"
REGISTER = AeoRegister(
    version="t1",
    entries=(
        AeoEntry(AEO_IMPORTER, AeoStatus.AEOF, date(2023, 1, 1)),
        AeoEntry("GB222222222000", AeoStatus.AEOC, date(2023, 1, 1), date(2025, 12, 31)),
        AeoEntry("GB333333333000", AeoStatus.AEOS, date(2023, 1, 1)),
        AeoEntry("GB333333333000", AeoStatus.AEOF, date(2026, 1, 1)),
    ),
)


def scored(*scores: int, lane: str = "green", discounts: dict[str, int] | None = None) -> RuleSet:
    """One rule per score, each hit by smartphones (HS 8517)."""
    return parse_ruleset(
        {
            "version": "t1",
            "thresholds": {"red": 80, "yellow": 40},
            "aeo_discounts": discounts if discounts is not None else {"AEOF": 40, "AEOS": 10},
            "random_selection": {"*": {"rate": "0"}},
            "rules": [
                {
                    "id": f"R{n}",
                    "rationale": "r",
                    "predicate": {"kind": "hs_prefix", "prefixes": ["8517"]},
                    "lane": lane,
                    "score": score,
                }
                for n, score in enumerate(scores)
            ],
        }
    )


def decide(rules: RuleSet, declaration: Any, register: AeoRegister = REGISTER, on: date = ON):
    return assess(declaration, rules, register, on, seeded_draw(declaration.consignment_id, "t1"))


@pytest.mark.parametrize(
    ("scores", "lane"),
    [
        ((), Lane.GREEN),
        ((39,), Lane.GREEN),
        ((40,), Lane.YELLOW),
        ((20, 20), Lane.YELLOW),  # hits add up
        ((79,), Lane.YELLOW),
        ((80,), Lane.RED),
        ((50, 45), Lane.RED),
    ],
)
def test_thresholds(make_facts, scores, lane):
    decision = decide(scored(*scores), make_facts())
    assert decision.lane is lane
    assert decision.score == decision.raw_score == sum(scores)
    assert decision.lane_by_score is lane and decision.lane_by_rules is Lane.GREEN


def test_a_rule_lane_is_a_floor_whatever_the_score(make_facts):
    decision = decide(scored(0, lane="red"), make_facts())
    assert decision.lane is Lane.RED and decision.score == 0
    assert decision.lane_by_rules is Lane.RED and decision.lane_by_score is Lane.GREEN


def test_a_blue_rule_gives_blue(make_facts):
    assert decide(scored(0, lane="blue"), make_facts()).lane is Lane.BLUE


class TestAeo:
    def test_discount_lowers_the_score(self, make_facts):
        decision = decide(scored(85), make_facts(importer=AEO_IMPORTER))
        assert decision.raw_score == 85 and decision.aeo_discount == 40 and decision.score == 45
        assert decision.lane is Lane.YELLOW
        assert decision.aeo is not None and decision.aeo.status is AeoStatus.AEOF

    def test_aeo_sent_to_a_control_gets_priority(self, make_facts):
        assert decide(scored(85), make_facts(importer=AEO_IMPORTER)).priority
        assert not decide(scored(85), make_facts()).priority  # not AEO
        assert not decide(scored(), make_facts(importer=AEO_IMPORTER)).priority  # green

    def test_discount_below_yellow_gives_blue(self, make_facts):
        decision = decide(scored(45), make_facts(importer=AEO_IMPORTER))
        assert decision.score == 5 and decision.lane is Lane.BLUE

    def test_score_never_below_zero(self, make_facts):
        decision = decide(scored(10), make_facts(importer=AEO_IMPORTER))
        assert decision.score == 0 and decision.lane is Lane.GREEN  # raw score below yellow

    def test_aeo_without_hits_is_green(self, make_facts):
        decision = decide(scored(), make_facts(importer=AEO_IMPORTER))
        assert decision.lane is Lane.GREEN and decision.aeo is not None

    def test_discount_does_not_lower_a_rule_lane(self, make_facts):
        decision = decide(scored(100, lane="red"), make_facts(importer=AEO_IMPORTER))
        assert decision.score == 60 and decision.lane is Lane.RED

    def test_status_without_a_configured_discount_discounts_nothing(self, make_facts):
        decision = decide(scored(45, discounts={}), make_facts(importer=AEO_IMPORTER))
        assert decision.aeo_discount == 0 and decision.lane is Lane.YELLOW

    def test_expired_authorisation_does_not_count(self, make_facts):
        decision = decide(scored(45), make_facts(importer="GB222222222000"))
        assert decision.aeo is None and decision.lane is Lane.YELLOW

    def test_fullest_valid_status_applies(self, make_facts):
        # AEOS since 2023, AEOF (fuller) from 2026: both valid in 2026, AEOF applies
        before = decide(scored(55), make_facts(importer="GB333333333000"), on=date(2025, 6, 1))
        after = decide(scored(55), make_facts(importer="GB333333333000"))
        assert before.aeo is not None and before.aeo.status is AeoStatus.AEOS
        assert before.score == 45 and before.lane is Lane.YELLOW
        assert after.aeo is not None and after.aeo.status is AeoStatus.AEOF
        assert after.score == 15 and after.lane is Lane.BLUE

    def test_only_the_importer_status_counts(self, make_facts):
        decision = decide(scored(45), make_facts(declarant=AEO_IMPORTER))
        assert decision.aeo is None and decision.lane is Lane.YELLOW


# -- the sample rule set: the README's demo table --------------------------------------------


def demo(make_facts, make_item, lane: str):
    """The demo consignments of services/risk/reference/README.md, at the demo office."""
    if lane == "green":  # the contract's sample declaration
        return make_facts()
    if lane == "yellow":  # the same phones declared at 2,000 USD (about 78 GBP/kg)
        return make_facts(make_item(value="2000.00"))
    if lane == "red":  # sporting shotguns
        return make_facts(make_item("9303201000", "IT", "30.0", "12000.00"))
    if lane == "blue":  # cigars from an AEOF importer
        return make_facts(make_item("2402100000", "CU", "40.0", "9000.00"), importer=AEO_IMPORTER)
    raise AssertionError(lane)


@pytest.mark.parametrize("lane", ["green", "yellow", "red", "blue"])
def test_the_sample_rule_set_reaches_every_lane(
    make_facts, make_item, sample_ruleset, sample_register, lane
):
    declaration = demo(make_facts, make_item, lane)
    draw = seeded_draw(declaration.consignment_id, sample_ruleset.version)
    decision = assess(declaration, sample_ruleset, sample_register, ON, draw)
    assert decision.lane is Lane(lane)
    assert not decision.random.selected


@pytest.mark.parametrize("lane", ["green", "yellow", "red", "blue"])
def test_demo_lanes_do_not_depend_on_the_consignment_id_at_the_demo_office(
    make_facts, make_item, sample_ruleset, sample_register, lane
):
    for n in range(300):
        declaration = demo(make_facts, make_item, lane)
        declaration = type(declaration)(**{**vars(declaration), "consignment_id": f"demo-{n}"})
        draw = seeded_draw(declaration.consignment_id, sample_ruleset.version)
        assert assess(declaration, sample_ruleset, sample_register, ON, draw).lane is Lane(lane)


def test_sample_watch_listed_importer_is_yellow(make_facts, sample_ruleset, sample_register):
    declaration = make_facts(importer="GB666666666000")
    draw = seeded_draw("c-1", sample_ruleset.version)
    decision = assess(declaration, sample_ruleset, sample_register, ON, draw)
    assert decision.lane is Lane.YELLOW
    assert [hit.rule_id for hit in decision.hits] == ["PTY-001"]


def test_sample_origin_under_sanctions_is_red(
    make_facts, make_item, sample_ruleset, sample_register
):
    declaration = make_facts(make_item(origin="KP"))
    draw = seeded_draw("c-1", sample_ruleset.version)
    assert assess(declaration, sample_ruleset, sample_register, ON, draw).lane is Lane.RED


def test_sample_expired_and_office_scoped_rules(
    make_facts, make_item, sample_ruleset, sample_register
):
    live_birds = make_facts(make_item("0106390000", "FR", "10", "5000"))
    fish = make_item("0303140000", "NO", "1000", "8000")

    def hits(declaration: Any, on: date = ON) -> list[str]:
        draw = seeded_draw(declaration.consignment_id, sample_ruleset.version)
        decision = assess(declaration, sample_ruleset, sample_register, on, draw)
        return [hit.rule_id for hit in decision.hits]

    assert hits(live_birds) == []
    assert hits(live_birds, date(2025, 6, 1)) == ["EXP-001"]
    assert hits(make_facts(fish)) == []
    assert hits(make_facts(fish, office="GBDVR001")) == ["OFF-001"]


def test_the_lane_is_the_most_severe_asked_for(
    make_facts, make_item, sample_ruleset, sample_register
):
    # a low-value shotgun for an AEOF importer: red by rule PRO-001 despite the discount
    declaration = make_facts(make_item("9303201000", "CN", "30", "10"), importer=AEO_IMPORTER)
    draw = seeded_draw("c-1", sample_ruleset.version)
    decision = assess(declaration, sample_ruleset, sample_register, ON, draw)
    assert decision.lane is Lane.RED and decision.priority
    assert decision.aeo_discount == 40


def test_values_are_exact_decimals(make_facts, make_item):
    rules = scored(40)
    assert decide(rules, make_facts(make_item(value="0.000001"))).facts.items[0].value == Decimal(
        "0.000001"
    )
