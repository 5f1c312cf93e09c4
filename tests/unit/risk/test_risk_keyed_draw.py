"""The keyed draw: the same rates as before, and nothing about it predictable without the key.

Strategy: the draw is a pure function of (key, consignment id, rule-set version), so with a
fixed key every statistic below is deterministic. Rates: over 10,000 consignments the lanes of
the 5% minimum random rate, a probabilistic rule's selections and the deciles of the values
are compared with their expected counts by a chi-square statistic (computed here) against the
0.1% critical value. Unpredictability: another key, the public-salt formula and the public
inputs alone all give draws unrelated to the keyed one (agreement at chance level, correlation
within four standard errors of 0); a recorded decision holds no trace of the key.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import date
from decimal import Decimal

import pytest

from services.risk.domain import (
    DEFAULT_SALT,
    MISSING_KEY,
    Draw,
    DrawKey,
    DrawKeyError,
    Lane,
    assess,
    derived_key_id,
    keyed_draw,
    parse_ruleset,
    seeded_draw,
)

ON = date(2026, 3, 2)
N = 10_000
KEY = DrawKey.parse("5d1c0e9a7b3f48e2a6c4d8b0f1e3a5c79b2d4f6e8a0c1b3d5f7e9a2c4b6d8f0e")
OTHER = DrawKey.parse("c3a1e5f7092b4d6f8a1c3e5b7d9f0a2c4e6b8d1f3a5c7e9b0d2f4a6c8e1b3d5f")
# chi-square critical values at the 0.1% level, by degrees of freedom
CRITICAL = {1: 10.828, 2: 13.816, 9: 27.877}


def chi_square(observed: list[int], expected: list[float]) -> float:
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))


def ids(n: int = N) -> list[str]:
    return [f"5f0c8e1e-{k:04x}-4d5e-9b1a-2f8e7d6c5b4a" for k in range(n)]


@pytest.fixture(scope="module")
def five_percent():
    return parse_ruleset({
        "version": "2026.1",
        "thresholds": {"red": 80, "yellow": 40},
        "random_selection": {"*": {"rate": "0.05", "red_share": "0.25"}},
        "rules": [{"id": "R-PHONES", "rationale": "phones", "lane": "yellow", "score": 10,
                   "probability": "0.3",
                   "predicate": {"kind": "hs_prefix", "prefixes": ["8517"]}}],
    })


@pytest.fixture(scope="module")
def keyed(five_percent, sample_register, make_facts):
    return [assess(make_facts(consignment_id=cid, office="GBLHR001"), five_percent,
                   sample_register, ON, keyed_draw(KEY, cid, five_percent.version))
            for cid in ids()]


class TestRatesUnchanged:
    def test_random_selection_lanes_follow_the_five_percent_rate(self, keyed):
        lanes = [d.random.lane for d in keyed]
        observed = [lanes.count(Lane.RED), lanes.count(Lane.YELLOW), lanes.count(None)]
        expected = [N * 0.05 * 0.25, N * 0.05 * 0.75, N * 0.95]
        assert chi_square(observed, expected) < CRITICAL[2], observed

    def test_a_probabilistic_rule_selects_at_its_probability(self, keyed):
        selected = sum(d.hits[0].selected for d in keyed)
        assert all(len(d.hits) == 1 for d in keyed)
        assert chi_square([selected, N - selected], [N * 0.3, N * 0.7]) < CRITICAL[1], selected

    def test_values_are_uniform_in_the_unit_interval(self, keyed):
        values = [d.random.draw.value for d in keyed]
        assert all(Decimal(0) <= v < Decimal(1) for v in values)
        assert all(v == v.quantize(Decimal("0.000001")) for v in values)
        deciles = [sum(int(v * 10) == k for v in values) for k in range(10)]
        assert chi_square(deciles, [N / 10] * 10) < CRITICAL[9], deciles

    def test_the_value_mapping_is_the_one_of_the_seed(self):
        draw = keyed_draw(KEY, "c-1", "2026.1")
        assert draw == Draw.from_seed(draw.seed)
        assert draw.value == Decimal(int(draw.seed, 16) % 10**6).scaleb(-6)

    def test_per_rule_draws_derive_from_the_keyed_seed(self):
        draw = keyed_draw(KEY, "c-1", "2026.1")
        assert draw.for_rule("R1") == Draw.from_seed(
            hashlib.sha256(f"{draw.seed}|rule|R1".encode()).hexdigest())
        assert draw.for_rule("R1") != draw.for_rule("R2")


class TestDeterministic:
    def test_same_inputs_same_draw(self):
        assert keyed_draw(KEY, "c-1", "2026.1") == keyed_draw(KEY, "c-1", "2026.1")
        assert keyed_draw(DrawKey.parse(KEY.text()), "c-1", "2026.1") == keyed_draw(
            KEY, "c-1", "2026.1")

    def test_each_input_changes_the_draw(self):
        base = keyed_draw(KEY, "c-1", "2026.1").seed
        assert keyed_draw(KEY, "c-2", "2026.1").seed != base
        assert keyed_draw(KEY, "c-1", "2026.2").seed != base
        assert keyed_draw(OTHER, "c-1", "2026.1").seed != base

    def test_amending_cannot_re_roll(self, five_percent, sample_register, make_facts, make_item):
        """The seed has no declaration version: an amended declaration (other goods, other
        values) of the same consignment gets the same draw under the same rule set."""
        first = assess(make_facts(consignment_id="c-7"), five_percent, sample_register, ON,
                       keyed_draw(KEY, "c-7", five_percent.version))
        amended = make_facts(make_item("9401610000", "IT", value="10.00"), consignment_id="c-7")
        again = assess(amended, five_percent, sample_register, ON,
                       keyed_draw(KEY, amended.consignment_id, five_percent.version))
        assert again.random == first.random


class TestUnpredictableWithoutTheKey:
    @staticmethod
    def agreement(a: list[Draw], b: list[Draw]) -> tuple[int, float]:
        """(consignments selected by the 5% rate under both, Pearson correlation of values)."""
        low = Decimal("0.05")
        both = sum(x.value < low and y.value < low for x, y in zip(a, b, strict=True))
        xs, ys = [float(x.value) for x in a], [float(y.value) for y in b]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
        r = cov / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))
        return both, r

    def assert_unrelated(self, a: list[Draw], b: list[Draw]) -> None:
        both, r = self.agreement(a, b)
        # independent: 0.05 x 0.05 x 10,000 = 25 selected by both (sd 5); r within 4/sqrt(N)
        assert both < 50, both
        assert abs(r) < 4 / math.sqrt(N), r
        assert all(x.seed != y.seed for x, y in zip(a, b, strict=True))

    def test_two_keys_give_unrelated_draws(self):
        self.assert_unrelated([keyed_draw(KEY, c, "2026.1") for c in ids()],
                              [keyed_draw(OTHER, c, "2026.1") for c in ids()])

    def test_the_public_salt_formula_no_longer_predicts_it(self):
        self.assert_unrelated([keyed_draw(KEY, c, "2026.1") for c in ids()],
                              [seeded_draw(c, "2026.1") for c in ids()])

    def test_it_is_not_a_function_of_the_public_inputs(self):
        """Plain hashes of the public inputs (as a broker would try) predict nothing; the same
        consignment under another key differs."""
        keyed = [keyed_draw(KEY, c, "2026.1") for c in ids()]
        for guess in ("{c}|2026.1", "open-clearance/risk/draw/v2|{c}|2026.1",
                      "{c}|2026.1|" + DEFAULT_SALT):
            guessed = [Draw.from_seed(hashlib.sha256(guess.format(c=c).encode()).hexdigest())
                       for c in ids()]
            self.assert_unrelated(keyed, guessed)
        assert keyed_draw(KEY, "c-1", "2026.1") != keyed_draw(OTHER, "c-1", "2026.1")

    def test_a_recorded_decision_holds_no_trace_of_the_key(self, keyed):
        record = json.dumps({"decision": keyed[0].to_dict(), "draw_key_id": KEY.key_id}).lower()
        secret = KEY.secret
        for trace in (secret.hex(), hashlib.sha256(secret).hexdigest()[:12],
                      hashlib.sha256(secret.hex().encode()).hexdigest()[:12]):
            assert trace not in record
        assert KEY.secret.hex() not in repr(KEY)
        # the id is one-way: a keyed MAC of a fixed label, the same for the same key only
        assert KEY.key_id == derived_key_id(KEY.secret) != derived_key_id(OTHER.secret)


class TestTheKey:
    def test_default_id_is_derived_and_explicit_id_is_kept(self):
        assert KEY.key_id.startswith("draw-") and len(KEY.key_id) == len("draw-") + 12
        assert DrawKey.parse(KEY.text(), "hsm-2026-01").key_id == "hsm-2026-01"
        assert DrawKey.from_settings({"RISK_DRAW_KEY": KEY.text(), "RISK_DRAW_KEY_ID": ""}) == KEY
        assert DrawKey.from_settings({"RISK_DRAW_KEY": " "}) is None
        assert DrawKey.from_settings({}) is None

    def test_answers_to_its_ids_only(self):
        assert KEY.answers_to(KEY.key_id) and KEY.answers_to("dev-" + KEY.key_id)
        named = DrawKey.parse(KEY.text(), "hsm-1")
        assert named.answers_to("hsm-1") and named.answers_to(KEY.key_id)
        assert not KEY.answers_to(OTHER.key_id) and not KEY.answers_to("hsm-1")

    @pytest.mark.parametrize(("text", "words"), [
        ("", "not set"),
        ("ab" * 31, "too short"),
        ("zz" * 32, "malformed"),
        ("a" * 65, "malformed"),
        ("0x" + "ab" * 32, "malformed"),
        ("00" * 32, "one byte repeated"),
    ])
    def test_a_short_or_malformed_key_is_refused(self, text, words):
        with pytest.raises(DrawKeyError, match=words):
            DrawKey.parse(text)

    def test_a_key_read_as_a_number_is_refused(self):
        with pytest.raises(DrawKeyError, match="hexadecimal text"):
            DrawKey.from_settings({"RISK_DRAW_KEY": 1234})

    def test_missing_key_message_says_how_to_make_one(self):
        assert "token_hex(32)" in MISSING_KEY and "make run" in MISSING_KEY

    @pytest.mark.parametrize("key_id", ["has space", "x" * 65, "-leading", "k/1"])
    def test_a_malformed_key_id_is_refused(self, key_id):
        with pytest.raises(DrawKeyError, match="RISK_DRAW_KEY_ID"):
            DrawKey.parse(KEY.text(), key_id)

    def test_a_key_id_holding_the_key_is_refused(self):
        with pytest.raises(DrawKeyError, match="must not contain the key"):
            DrawKey.parse(KEY.text(), KEY.text())

    def test_generated_keys_are_new_and_usable(self):
        keys = {DrawKey.generate().text() for _ in range(20)}
        assert len(keys) == 20 and all(len(k) == 64 and not k.isdigit() for k in keys)
