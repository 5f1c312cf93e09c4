"""Each predicate kind, hit and not hit, and the rule scope (validity dates, office).

Strategy: a tiny rule set per test, built with `parse_ruleset` from a dict exactly as the
YAML file would give it, with random selection off (rate 0) so that only the rule under test
moves the lane. Facts start from the contract's sample declaration (8517130000 from CN,
15,000 USD for 20.5 kg at 0.80 GBP/USD, i.e. about 585 GBP/kg) and change one thing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from services.risk.domain import (
    AeoRegister,
    Lane,
    RuleSet,
    RuleSetError,
    assess,
    parse_ruleset,
    seeded_draw,
)

ON = date(2026, 3, 2)
NO_AEO = AeoRegister(version="empty", entries=())
REFERENCES = {("851713", "CN"): Decimal("600.00"), ("610910", "BD"): Decimal("20.00")}


def ruleset(*rules: dict[str, Any], **extra: Any) -> RuleSet:
    document: dict[str, Any] = {
        "version": "t1",
        "thresholds": {"red": 80, "yellow": 40},
        "random_selection": {"*": {"rate": "0"}},
        "watchlists": {"importers": ["GB666666666000"], "declarants": ["GB777777777000"]},
        "rules": list(rules),
    }
    document.update(extra)
    return parse_ruleset(document, REFERENCES)


def rule(predicate: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "id": fields.pop("id", "R1"),
        "rationale": "why an officer should look",
        "predicate": predicate,
        "lane": fields.pop("lane", "yellow"),
        "score": fields.pop("score", 40),
        **fields,
    }


def lane_of(rules: RuleSet, declaration: Any, on: date = ON) -> Lane:
    draw = seeded_draw(declaration.consignment_id, rules.version)
    return assess(declaration, rules, NO_AEO, on, draw).lane


def hit_ids(rules: RuleSet, declaration: Any, on: date = ON) -> list[str]:
    draw = seeded_draw(declaration.consignment_id, rules.version)
    return [hit.rule_id for hit in assess(declaration, rules, NO_AEO, on, draw).hits]


class TestHsPrefix:
    rules = ruleset(rule({"kind": "hs_prefix", "prefixes": ["9303", "2402"]}))

    def test_hit(self, make_facts, make_item):
        declaration = make_facts(make_item(), make_item(hs_code="9303201000"))
        assert hit_ids(self.rules, declaration) == ["R1"]
        assert lane_of(self.rules, declaration) is Lane.YELLOW

    def test_not_hit(self, make_facts, make_item):
        declaration = make_facts(make_item(hs_code="9304000000"))
        assert hit_ids(self.rules, declaration) == []
        assert lane_of(self.rules, declaration) is Lane.GREEN

    def test_hit_records_the_items_that_matched(self, make_facts, make_item):
        declaration = make_facts(make_item(), make_item(hs_code="2402200000"), make_item())
        draw = seeded_draw("c-1", "t1")
        (hit,) = assess(declaration, self.rules, NO_AEO, ON, draw).hits
        assert hit.items == (2,)
        assert hit.rationale == "why an officer should look"


class TestOrigin:
    rules = ruleset(rule({"kind": "origin", "countries": ["KP", "IR"]}, lane="red", score=80))

    def test_hit(self, make_facts, make_item):
        assert lane_of(self.rules, make_facts(make_item(origin="KP"))) is Lane.RED

    def test_not_hit(self, make_facts, make_item):
        assert lane_of(self.rules, make_facts(make_item(origin="KR"))) is Lane.GREEN


class TestWatchlistedParty:
    importer_rule = ruleset(rule({"kind": "watchlisted_party", "roles": ["importer"]}))
    declarant_rule = ruleset(rule({"kind": "watchlisted_party", "roles": ["declarant"]}))
    either_rule = ruleset(rule({"kind": "watchlisted_party"}))

    def test_importer_hit(self, make_facts):
        assert hit_ids(self.importer_rule, make_facts(importer="GB666666666000")) == ["R1"]

    def test_importer_rule_ignores_a_watch_listed_declarant(self, make_facts):
        assert hit_ids(self.importer_rule, make_facts(declarant="GB777777777000")) == []

    def test_declarant_hit(self, make_facts):
        assert hit_ids(self.declarant_rule, make_facts(declarant="GB777777777000")) == ["R1"]

    def test_declarant_rule_ignores_a_watch_listed_importer(self, make_facts):
        assert hit_ids(self.declarant_rule, make_facts(importer="GB666666666000")) == []

    def test_both_roles_by_default(self, make_facts):
        assert hit_ids(self.either_rule, make_facts(importer="GB666666666000")) == ["R1"]
        assert hit_ids(self.either_rule, make_facts(declarant="GB777777777000")) == ["R1"]
        assert hit_ids(self.either_rule, make_facts()) == []

    def test_lists_are_per_role(self, make_facts):
        # an EORI on the declarant list does not make an importer watch-listed
        assert hit_ids(self.importer_rule, make_facts(importer="GB777777777000")) == []


class TestLowUnitValue:
    rules = ruleset(rule({"kind": "low_unit_value", "factor": "0.3"}, lane="green", score=50))

    # reference 600 GBP/kg for (851713, CN): the threshold is 180 GBP/kg, i.e. 3,690 GBP or
    # 4,612.50 USD at 0.80 for 20.5 kg.
    @pytest.mark.parametrize(
        ("value", "hit"),
        [
            ("15000.00", False),  # about 585 GBP/kg
            ("4612.50", False),  # exactly 0.3 x reference: not below it
            ("4612.49", True),
            ("1000.00", True),
        ],
    )
    def test_threshold(self, make_facts, make_item, value, hit):
        declaration = make_facts(make_item(value=value))
        assert (hit_ids(self.rules, declaration) == ["R1"]) is hit
        assert lane_of(self.rules, declaration) is (Lane.YELLOW if hit else Lane.GREEN)

    def test_uses_the_exchange_rate(self, make_facts, make_item):
        low = make_item(value="5000.00")  # 4,000 GBP at 0.80: above 3,690, not hit
        assert hit_ids(self.rules, make_facts(low)) == []
        assert hit_ids(self.rules, make_facts(low, rate="0.70")) == ["R1"]  # 3,500 GBP

    def test_no_reference_for_hs6_and_origin_never_hits(self, make_facts, make_item):
        assert hit_ids(self.rules, make_facts(make_item(origin="VN", value="1.00"))) == []
        assert hit_ids(self.rules, make_facts(make_item(hs_code="8517120000", value="1"))) == []

    def test_no_net_mass_never_hits(self, make_facts, make_item):
        assert hit_ids(self.rules, make_facts(make_item(net_mass_kg="0", value="1"))) == []


class TestCombinations:
    all_of = ruleset(
        rule(
            {
                "kind": "all_of",
                "predicates": [
                    {"kind": "hs_prefix", "prefixes": ["6109"]},
                    {"kind": "origin", "countries": ["BD"]},
                    {"kind": "low_unit_value", "factor": "0.5"},
                ],
            }
        )
    )
    any_of = ruleset(
        rule(
            {
                "kind": "any_of",
                "predicates": [
                    {"kind": "origin", "countries": ["KP"]},
                    {"kind": "watchlisted_party", "roles": ["importer"]},
                ],
            }
        )
    )

    def test_all_of_hits_when_one_item_satisfies_every_part(self, make_facts, make_item):
        cheap_tshirts = make_item("6109100000", "BD", net_mass_kg="100", value="500")
        assert hit_ids(self.all_of, make_facts(cheap_tshirts)) == ["R1"]

    def test_all_of_not_hit_when_a_part_fails(self, make_facts, make_item):
        fair_price = make_item("6109100000", "BD", net_mass_kg="100", value="2500")
        other_origin = make_item("6109100000", "PK", net_mass_kg="100", value="500")
        assert hit_ids(self.all_of, make_facts(fair_price)) == []
        assert hit_ids(self.all_of, make_facts(other_origin)) == []

    def test_all_of_is_per_item(self, make_facts, make_item):
        # the HS prefix on one item and the origin on another is not a hit
        split = make_facts(
            make_item("6109100000", "CN", net_mass_kg="100", value="500"),
            make_item("8517130000", "BD", net_mass_kg="100", value="500"),
        )
        assert hit_ids(self.all_of, split) == []

    def test_any_of(self, make_facts, make_item):
        assert hit_ids(self.any_of, make_facts(make_item(origin="KP"))) == ["R1"]
        assert hit_ids(self.any_of, make_facts(importer="GB666666666000")) == ["R1"]
        assert hit_ids(self.any_of, make_facts()) == []


class TestScope:
    dated = ruleset(
        rule(
            {"kind": "hs_prefix", "prefixes": ["8517"]},
            valid_from=date(2026, 1, 1),
            valid_to=date(2026, 6, 30),
        )
    )
    scoped = ruleset(
        rule({"kind": "hs_prefix", "prefixes": ["8517"]}, offices=["GBDVR001", "GBFXT001"])
    )

    @pytest.mark.parametrize(
        ("on", "hit"),
        [
            (date(2025, 12, 31), False),
            (date(2026, 1, 1), True),  # valid_from is inclusive
            (date(2026, 6, 30), True),  # valid_to is inclusive
            (date(2026, 7, 1), False),
        ],
    )
    def test_validity_dates(self, make_facts, on, hit):
        assert (hit_ids(self.dated, make_facts(), on) == ["R1"]) is hit

    def test_office_scope(self, make_facts):
        assert hit_ids(self.scoped, make_facts(office="GBDVR001")) == ["R1"]
        assert hit_ids(self.scoped, make_facts(office="GBLHR001")) == []

    def test_no_offices_means_every_office(self, make_facts):
        everywhere = ruleset(rule({"kind": "hs_prefix", "prefixes": ["8517"]}))
        assert hit_ids(everywhere, make_facts(office="XXANY001")) == ["R1"]

    def test_dates_from_iso_strings(self, make_facts):
        as_text = ruleset(rule({"kind": "hs_prefix", "prefixes": ["8517"]}, valid_to="2025-12-31"))
        assert hit_ids(as_text, make_facts()) == []


class TestProbability:
    def test_probability_zero_hits_but_never_selects(self, make_facts):
        rules = ruleset(rule({"kind": "hs_prefix", "prefixes": ["8517"]}, probability="0"))
        decision = assess(make_facts(), rules, NO_AEO, ON, seeded_draw("c-1", "t1"))
        (hit,) = decision.hits
        assert not hit.selected and hit.contribution == 0
        assert decision.lane is Lane.GREEN and decision.raw_score == 0

    def test_probability_one_always_selects(self, make_facts):
        rules = ruleset(rule({"kind": "hs_prefix", "prefixes": ["8517"]}, probability="1"))
        for n in range(200):
            declaration = make_facts(consignment_id=f"c-{n}")
            decision = assess(declaration, rules, NO_AEO, ON, seeded_draw(f"c-{n}", "t1"))
            assert decision.hits[0].selected and decision.lane is Lane.YELLOW

    def test_probability_half_selects_about_half(self, make_facts):
        rules = ruleset(rule({"kind": "hs_prefix", "prefixes": ["8517"]}, probability="0.5"))
        selected = sum(
            assess(
                make_facts(consignment_id=f"c-{n}"), rules, NO_AEO, ON, seeded_draw(f"c-{n}", "t1")
            )
            .hits[0]
            .selected
            for n in range(2000)
        )
        assert 900 <= selected <= 1100  # 0.5 +- 0.05, about 4.5 standard deviations

    def test_rule_draws_are_independent_of_the_random_selection_draw(self):
        draw = seeded_draw("c-1", "t1")
        assert draw.for_rule("R1") != draw and draw.for_rule("R1") != draw.for_rule("R2")
        assert draw.for_rule("R1") == seeded_draw("c-1", "t1").for_rule("R1")


def test_unknown_predicate_kind_is_refused():
    with pytest.raises(RuleSetError, match="unknown predicate kind"):
        ruleset(rule({"kind": "phase_of_the_moon"}))
