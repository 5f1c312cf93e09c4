"""The seeded random draw: deterministic from recorded inputs, so a decision replays exactly.

seed  = sha256("<consignment id>|<rule-set version>|<salt>") as hex
value = (the seed as an integer) mod 10**6, scaled to [0, 1) with six decimals

The salt is public (no secret): the draw must be re-derivable by an auditor. Because the seed
does not include the declaration version, an amendment re-uses the same draw under the same
rule set: amending cannot re-roll a random selection. Per-rule draws (for a rule's probability
of selection) are derived from the same seed and the rule id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from .errors import InvalidRecord

DEFAULT_SALT = "open-clearance/risk/draw/v1"
_SCALE = 10**6


def _value_of(seed: str) -> Decimal:
    return Decimal(int(seed, 16) % _SCALE).scaleb(-6)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Draw:
    """A seed and the value in [0, 1) it yields. Build with `seeded_draw` or `Draw.from_seed`."""

    seed: str
    value: Decimal

    def __post_init__(self) -> None:
        try:
            expected = _value_of(self.seed)
        except ValueError:
            raise InvalidRecord(f"draw seed {self.seed!r} is not hexadecimal") from None
        if self.value != expected:
            raise InvalidRecord(f"draw value {self.value} does not follow from its seed")

    @classmethod
    def from_seed(cls, seed: str) -> Draw:
        return cls(seed=seed, value=_value_of(seed))

    def for_rule(self, rule_id: str) -> Draw:
        """An independent draw for one rule's probability of selection."""
        return Draw.from_seed(_sha256(f"{self.seed}|rule|{rule_id}"))


def seeded_draw(consignment_id: str, ruleset_version: str, salt: str = DEFAULT_SALT) -> Draw:
    """The draw for a consignment assessed under a rule-set version."""
    return Draw.from_seed(_sha256(f"{consignment_id}|{ruleset_version}|{salt}"))
