"""Reading the versioned reference data: rule sets (YAML or JSON), reference unit values and
the AEO register.

Strategy: the sample files shipped in services/risk/reference load and say what the README
says; malformed variants (written to tmp_path or given as text) are refused with a
`RuleSetError` that names the place, because a typo in a rule set must stop a deployment,
not silently change lanes.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from services.risk.domain import (
    SAMPLE_RULESET_DIR,
    AeoStatus,
    HsPrefix,
    Lane,
    RuleSetError,
    load_aeo_register,
    load_ruleset,
    parse_aeo_register,
    parse_reference_values,
    parse_ruleset,
)

VALID = {
    "version": "t1",
    "thresholds": {"red": 80, "yellow": 40},
    "random_selection": {"*": {"rate": "0.02"}},
    "rules": [
        {
            "id": "R1",
            "rationale": "r",
            "predicate": {"kind": "hs_prefix", "prefixes": ["8517"]},
            "lane": "yellow",
            "score": 40,
        }
    ],
}


def test_sample_ruleset(sample_ruleset):
    assert sample_ruleset.version == "2026.1" and sample_ruleset.currency == "GBP"
    assert (sample_ruleset.thresholds.red, sample_ruleset.thresholds.yellow) == (80, 40)
    assert sample_ruleset.discount_for(AeoStatus.AEOF) == 40
    assert sample_ruleset.selection_for("GBLHR001").rate == Decimal("0.02")
    assert sample_ruleset.selection_for("GBDEM001").rate == 0
    assert sample_ruleset.selection_for("NOWHERE1") == sample_ruleset.selection_for("*")
    assert sample_ruleset.reference_value("851713", "CN") == Decimal("600.00")
    assert {rule.id for rule in sample_ruleset.rules} >= {"PRO-001", "VAL-001", "EXP-001"}
    firearms = next(rule for rule in sample_ruleset.rules if rule.id == "PRO-001")
    assert isinstance(firearms.predicate, HsPrefix) and firearms.lane is Lane.RED
    assert firearms.valid_from == date(2024, 1, 1) and all(
        r.rationale for r in sample_ruleset.rules
    )


def test_sample_register(sample_register):
    assert sample_register.version == "2026.1"
    assert sample_register.status_of("GB111111111000", date(2026, 3, 2)) is AeoStatus.AEOF
    assert sample_register.status_of("GB333333333000", date(2025, 7, 1)) is None  # gap
    assert sample_register.status_of("GB987654321000", date(2026, 3, 2)) is None


def test_json_rule_set_and_versions_from_file_names(tmp_path: Path):
    (tmp_path / "ruleset-t1.json").write_text(json.dumps(VALID))
    (tmp_path / "reference-values-t1.csv").write_text("hs6,origin,value_per_kg\n")
    assert load_ruleset(tmp_path, "t1").version == "t1"
    (tmp_path / "ruleset-t2.json").write_text(json.dumps(VALID))
    (tmp_path / "reference-values-t2.csv").write_text("hs6,origin,value_per_kg\n")
    with pytest.raises(RuleSetError, match="declares version"):
        load_ruleset(tmp_path, "t2")


def test_missing_files(tmp_path: Path):
    with pytest.raises(RuleSetError, match="no rule set"):
        load_ruleset(tmp_path, "t9")
    (tmp_path / "ruleset-t1.yaml").write_text(yaml.safe_dump(VALID))
    with pytest.raises(RuleSetError, match="reference-values-t1.csv"):
        load_ruleset(tmp_path, "t1")
    with pytest.raises(RuleSetError, match="no AEO register"):
        load_aeo_register(tmp_path, "t1")


def test_the_shipped_yaml_has_no_unknown_keys():
    text = (SAMPLE_RULESET_DIR / "ruleset-2026.1.yaml").read_text()
    parse_ruleset(yaml.safe_load(text))  # raises on any unknown key


def edit(path: str, value: object) -> dict:
    document = json.loads(json.dumps(VALID))
    *parents, last = path.split(".")
    target = document
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (edit("colour", "blue"), "unknown keys"),
        (edit("thresholds.yellow", 90), "yellow <= red"),
        (edit("thresholds", KeyError), "thresholds is required"),
        (edit("random_selection", {"GBLHR001": {"rate": "0.02"}}), "'\\*'"),
        (edit("random_selection.*.rate", 0.02), "decimal string"),
        (edit("random_selection.*.rate", "1.5"), "within 0..1"),
        (edit("aeo_discounts", {"AEOX": 10}), "unknown status"),
        (edit("watchlists", {"exporters": []}), "unknown keys"),
        (edit("rules.0.lane", "purple"), "unknown lane"),
        (edit("rules.0.score", -1), "must not be negative"),
        (edit("rules.0.probability", "2"), "within 0..1"),
        (edit("rules.0.rationale", KeyError), "rationale is required"),
        (edit("rules.0.predicate", {"kind": "hs_prefix", "prefixes": ["85A"]}), "digit"),
        (edit("rules.0.predicate", {"kind": "origin", "countries": []}), "at least one"),
        (edit("rules.0.predicate", {"kind": "low_unit_value", "factor": "0"}), "positive"),
        (edit("rules.0.predicate", {"kind": "watchlisted_party", "roles": ["x"]}), "roles"),
        (edit("rules.0.predicate", {"kind": "all_of", "predicates": []}), "non-empty"),
        (edit("rules", VALID["rules"] * 2), "duplicate rule ids"),
    ],
)
def test_malformed_rule_sets_are_refused(document, message):
    with pytest.raises(RuleSetError, match=message):
        parse_ruleset(document)


def test_valid_to_before_valid_from_is_refused():
    document = edit("rules.0.valid_to", "2020-01-01")
    document["rules"][0]["valid_from"] = "2021-01-01"
    with pytest.raises(RuleSetError, match="before valid_from"):
        parse_ruleset(document)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hs6,origin,value\n", "header"),
        ("hs6,origin,value_per_kg\n85171,CN,1\n", "six digits"),
        ("hs6,origin,value_per_kg\n851713,CN,0\n", "positive"),
        ("hs6,origin,value_per_kg\n851713,CN,abc\n", "not a decimal"),
        ("hs6,origin,value_per_kg\n851713,CN,1\n851713,CN,2\n", "twice"),
        ("hs6,origin,value_per_kg\n851713,CN\n", "line 2: expected 3 columns"),
    ],
)
def test_malformed_reference_values(text, message):
    with pytest.raises(RuleSetError, match=message):
        parse_reference_values(text)


def test_reference_values_allow_comments():
    text = "# note\nhs6,origin,value_per_kg\n# another\n851713,CN,600.00\n"
    assert parse_reference_values(text) == {("851713", "CN"): Decimal("600.00")}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("eori,status,valid_from\n", "header"),
        ("eori,status,valid_from,valid_to\nGB1,GOLD,2020-01-01,\n", "unknown AEO status"),
        ("eori,status,valid_from,valid_to\nGB1,AEOF,soon,\n", "not an ISO date"),
        ("eori,status,valid_from,valid_to\nGB1,AEOF,2021-01-01,2020-01-01\n", "before"),
    ],
)
def test_malformed_aeo_register(text, message):
    with pytest.raises(RuleSetError, match=message):
        parse_aeo_register("t1", text)
