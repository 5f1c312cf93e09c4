"""Decisions carry their working: JSON round trip and exact replay.

Strategy: hypothesis generates declarations over the sample rule set 2026.1 from pools of HS
codes, origins, values and parties chosen to hit every rule (and to miss), at the offices the
rule set configures and on dates either side of its validity boundaries. For each decision:
`to_dict` is JSON-ready (survives `json.dumps`/`loads` with no float anywhere),
`from_dict` gives back an equal decision, and `reassess` of the recorded decision equals it.
Replaying against other reference versions is refused.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.risk.domain import (
    AeoRegister,
    DeclarationFacts,
    InvalidRecord,
    ItemFacts,
    ReferenceVersionMismatch,
    RiskDecision,
    assess,
    reassess,
    seeded_draw,
)

HS_CODES = ["8517130000", "9303201000", "2402100000", "6109100000", "0106390000", "0303140000"]
ORIGINS = ["CN", "KP", "BD", "VN", "FR", "IT"]
PARTIES = ["GB987654321000", "GB111111111000", "GB222222222000", "GB666666666000", "GB777777777000"]
OFFICES = ["GBLHR001", "GBDVR001", "GBDEM001", "XXOTHER1"]

items = st.builds(
    ItemFacts,
    hs_code=st.sampled_from(HS_CODES),
    origin=st.sampled_from(ORIGINS),
    net_mass_kg=st.decimals(min_value=0, max_value=10_000, places=3),
    value=st.decimals(min_value=0, max_value=1_000_000, places=2),
)
declarations = st.builds(
    DeclarationFacts,
    consignment_id=st.uuids().map(str),
    office=st.sampled_from(OFFICES),
    declarant_eori=st.sampled_from(PARTIES),
    importer_eori=st.sampled_from(PARTIES),
    currency=st.just("USD"),
    exchange_rate=st.decimals(min_value=Decimal("0.01"), max_value=10, places=4),
    items=st.lists(items, min_size=1, max_size=4).map(tuple),
)
dates = st.sampled_from([date(2024, 12, 31), date(2025, 6, 1), date(2026, 1, 1), date(2026, 3, 2)])


def no_floats(value: Any) -> bool:
    if isinstance(value, dict):
        return all(no_floats(v) for v in value.values())
    if isinstance(value, list):
        return all(no_floats(v) for v in value)
    return not isinstance(value, float)


@settings(max_examples=300)
@given(declaration=declarations, on=dates)
def test_round_trip_and_replay(sample_ruleset, sample_register, declaration, on):
    draw = seeded_draw(declaration.consignment_id, sample_ruleset.version)
    decision = assess(declaration, sample_ruleset, sample_register, on, draw)

    record = json.loads(json.dumps(decision.to_dict()))
    assert no_floats(record)
    recorded = RiskDecision.from_dict(record)
    assert recorded == decision
    assert recorded.to_dict() == decision.to_dict()
    assert reassess(recorded, sample_ruleset, sample_register) == decision


def test_record_shape(sample_ruleset, sample_register, make_facts, make_item):
    declaration = make_facts(make_item(value="2000.00"))
    draw = seeded_draw(declaration.consignment_id, sample_ruleset.version)
    record = assess(declaration, sample_ruleset, sample_register, date(2026, 3, 2), draw).to_dict()
    assert record["lane"] == "yellow"
    assert record["ruleset_version"] == "2026.1" and record["aeo_register_version"] == "2026.1"
    assert record["assessed_on"] == "2026-03-02"
    assert record["random"]["seed"] == draw.seed and record["random"]["draw"] == str(draw.value)
    assert record["random"]["selected"] is False and record["selected_by_random"] is False
    (hit,) = record["hits"]
    assert hit["rule_id"] == "VAL-001" and hit["lane"] == "green" and hit["contribution"] == 50
    assert hit["rationale"].startswith("Declared value per kg")
    assert record["facts"]["items"][0]["value"] == "2000.00"


def test_replay_refuses_other_reference_versions(sample_ruleset, sample_register, make_facts):
    declaration = make_facts()
    draw = seeded_draw(declaration.consignment_id, sample_ruleset.version)
    decision = assess(declaration, sample_ruleset, sample_register, date(2026, 3, 2), draw)
    with pytest.raises(ReferenceVersionMismatch):
        reassess(decision, replace(sample_ruleset, version="2026.2"), sample_register)
    with pytest.raises(ReferenceVersionMismatch):
        reassess(decision, sample_ruleset, AeoRegister(version="2026.2", entries=()))


def test_altered_decision_no_longer_replays(sample_ruleset, sample_register, make_facts, make_item):
    declaration = make_facts(make_item(value="2000.00"))
    draw = seeded_draw(declaration.consignment_id, sample_ruleset.version)
    decision = assess(declaration, sample_ruleset, sample_register, date(2026, 3, 2), draw)
    record = decision.to_dict()
    record["lane"] = "green"
    assert reassess(RiskDecision.from_dict(record), sample_ruleset, sample_register) != (
        RiskDecision.from_dict(record)
    )


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.pop("facts"),
        lambda r: r.__setitem__("lane", "purple"),
        lambda r: r.__setitem__("score", "50"),
        lambda r: r["facts"]["items"][0].__setitem__("value", 2000.0),
        lambda r: r.__setitem__("assessed_on", "yesterday"),
        lambda r: r.__setitem__("aeo", {"eori": "GB1", "status": "GOLD"}),
    ],
)
def test_malformed_records_are_refused(sample_ruleset, sample_register, make_facts, mutate):
    declaration = make_facts()
    draw = seeded_draw(declaration.consignment_id, sample_ruleset.version)
    record = assess(declaration, sample_ruleset, sample_register, date(2026, 3, 2), draw).to_dict()
    mutate(record)
    with pytest.raises(InvalidRecord):
        RiskDecision.from_dict(record)
