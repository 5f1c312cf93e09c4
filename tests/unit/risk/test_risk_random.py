"""The office's minimum random selection and its seeded draw.

Strategy: the draw is a pure function of (consignment id, rule-set version, salt), so the
statistics below are deterministic; they check that the seeded draws behave like uniform
ones (the selection share over 10,000 consignments is within about three standard deviations
of the configured rate, and the red share of the selected within its own tolerance), and that
recording the draw and replaying it gives the same lane. Facts are chosen to hit no rule, so
any yellow or red comes from the random selection alone.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.risk.domain import (
    DEFAULT_SALT,
    Draw,
    InvalidRecord,
    Lane,
    OfficeSelection,
    RiskDecision,
    assess,
    parse_ruleset,
    reassess,
    seeded_draw,
)

ON = date(2026, 3, 2)
N = 10_000


@pytest.fixture(scope="module")
def random_only():
    return parse_ruleset(
        {
            "version": "r1",
            "thresholds": {"red": 80, "yellow": 40},
            "random_selection": {
                "*": {"rate": "0.02", "red_share": "0.25"},
                "GBBUSY01": {"rate": "0.10", "red_share": "0.5"},
                "GBNONE01": {"rate": "0"},
            },
            "rules": [],
        }
    )


@pytest.fixture(scope="module")
def decisions(random_only, sample_register, make_facts):
    out = []
    for n in range(N):
        declaration = make_facts(consignment_id=f"consignment-{n}", office="GBLHR001")
        draw = seeded_draw(declaration.consignment_id, random_only.version)
        out.append(assess(declaration, random_only, sample_register, ON, draw))
    return out


def test_selection_share_is_the_configured_rate(decisions):
    selected = [d for d in decisions if d.random.selected]
    share = len(selected) / N
    # 2% of 10,000: standard deviation 0.14 percentage points; tolerance 0.4 points
    assert 0.016 <= share <= 0.024, share
    assert all(d.lane in (Lane.YELLOW, Lane.RED) for d in selected)
    assert all(d.lane is Lane.GREEN for d in decisions if not d.random.selected)
    assert all(d.selected_by_random for d in selected)


def test_red_share_of_the_random_selection(decisions):
    selected = [d for d in decisions if d.random.selected]
    red = sum(d.lane is Lane.RED for d in selected) / len(selected)
    assert 0.15 <= red <= 0.35, red  # 25% of about 200: standard deviation 3 points


def test_draw_values_look_uniform(decisions):
    values = [float(d.random.draw.value) for d in decisions]
    assert all(0 <= v < 1 for v in values)
    assert abs(sum(values) / N - 0.5) < 0.01  # standard deviation of the mean: 0.003
    deciles = [sum(int(v * 10) == k for v in values) for k in range(10)]
    assert all(900 <= count <= 1100 for count in deciles), deciles


def test_office_rate_is_per_office(random_only, sample_register, make_facts):
    def share(office: str) -> float:
        hits = 0
        for n in range(2000):
            declaration = make_facts(consignment_id=f"c-{n}", office=office)
            draw = seeded_draw(declaration.consignment_id, random_only.version)
            hits += assess(declaration, random_only, sample_register, ON, draw).random.selected
        return hits / 2000

    assert 0.08 <= share("GBBUSY01") <= 0.12
    assert share("GBNONE01") == 0
    assert 0.01 <= share("XXOTHER1") <= 0.03  # not listed: the "*" default


@pytest.mark.parametrize(
    ("draw", "lane"),
    [
        ("0", Lane.RED),
        ("0.004999", Lane.RED),
        ("0.005", Lane.YELLOW),  # rate 0.02 x red share 0.25
        ("0.019999", Lane.YELLOW),
        ("0.02", None),
        ("0.999999", None),
    ],
)
def test_selection_bands(draw, lane):
    selection = OfficeSelection(rate=Decimal("0.02"), red_share=Decimal("0.25"))
    assert selection.lane_for(Decimal(draw)) is lane


def test_random_selection_never_lowers_a_lane(
    sample_ruleset, sample_register, make_facts, make_item
):
    # find a consignment the default office selects for yellow, and declare firearms on it
    n = next(
        n
        for n in range(N)
        if seeded_draw(f"c-{n}", sample_ruleset.version).value < Decimal("0.02")
        and seeded_draw(f"c-{n}", sample_ruleset.version).value >= Decimal("0.005")
    )
    firearms = make_facts(make_item("9303201000", "IT"), consignment_id=f"c-{n}", office="GBLHR001")
    decision = assess(
        firearms, sample_ruleset, sample_register, ON, seeded_draw(f"c-{n}", sample_ruleset.version)
    )
    assert decision.random.lane is Lane.YELLOW and decision.random.selected
    assert decision.lane is Lane.RED and not decision.selected_by_random


class TestSeededDraw:
    def test_deterministic_from_its_inputs(self):
        assert seeded_draw("c-1", "2026.1") == seeded_draw("c-1", "2026.1")
        assert seeded_draw("c-1", "2026.1") == seeded_draw("c-1", "2026.1", DEFAULT_SALT)

    def test_each_input_changes_the_draw(self):
        base = seeded_draw("c-1", "2026.1")
        assert seeded_draw("c-2", "2026.1").seed != base.seed
        assert seeded_draw("c-1", "2026.2").seed != base.seed
        assert seeded_draw("c-1", "2026.1", "other salt").seed != base.seed

    def test_the_value_follows_from_the_seed(self):
        draw = seeded_draw("c-1", "2026.1")
        assert Draw.from_seed(draw.seed) == draw
        with pytest.raises(InvalidRecord):
            Draw(seed=draw.seed, value=draw.value + Decimal("0.000001"))
        with pytest.raises(InvalidRecord):
            Draw(seed="not hex", value=Decimal(0))

    @given(st.text(min_size=1), st.text(min_size=1))
    def test_value_in_unit_interval_with_six_decimals(self, consignment_id, version):
        value = seeded_draw(consignment_id, version).value
        assert Decimal(0) <= value < Decimal(1)
        assert value == value.quantize(Decimal("0.000001"))


def test_recorded_draw_replays_to_the_same_lane(decisions, random_only, sample_register):
    selected = [d for d in decisions if d.random.selected][:50]
    for decision in selected + decisions[:50]:
        recorded = RiskDecision.from_dict(decision.to_dict())
        replayed = reassess(recorded, random_only, sample_register)
        assert replayed == decision
        assert replayed.lane is decision.lane and replayed.random == decision.random


def test_replaying_with_a_tampered_draw_is_detected(decisions):
    record = next(d for d in decisions if d.random.selected).to_dict()
    record["random"]["draw"] = "0.999999"  # pretend it was not selected
    with pytest.raises(InvalidRecord):
        RiskDecision.from_dict(record)


def test_a_different_draw_can_give_a_different_lane(decisions, random_only, sample_register):
    decision = next(d for d in decisions if d.random.selected)
    other = next(d for d in decisions if not d.random.selected)
    replayed = assess(decision.facts, random_only, sample_register, ON, other.random.draw)
    assert replayed.lane is Lane.GREEN and decision.lane is not Lane.GREEN
