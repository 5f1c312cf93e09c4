"""A versioned rule set: rules with their predicates, lane thresholds, AEO discounts and the
per-office random selection. Pure data; `assessment.assess` evaluates it and
`reference.load_ruleset` reads it from its documented file (see services/risk/reference/README.md).

Predicates are evaluated per item: a rule hits when at least one item satisfies its predicate.
Party predicates do not depend on the item, so `all_of(hs_prefix, origin, watchlisted_party)`
means "one item with that HS prefix and that origin, declared for a watch-listed party".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum

from .aeo import AeoStatus
from .errors import RuleSetError
from .lanes import Lane


class PartyRole(Enum):
    IMPORTER = "importer"
    DECLARANT = "declarant"


@dataclass(frozen=True)
class HsPrefix:
    """An item whose commodity code starts with one of `prefixes`."""

    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class OriginIn:
    """An item whose origin is one of `countries` (ISO 3166 alpha-2)."""

    countries: frozenset[str]


@dataclass(frozen=True)
class WatchlistedParty:
    """The importer or declarant (per `roles`) is on the rule set's watch list for that role."""

    roles: frozenset[PartyRole]


@dataclass(frozen=True)
class LowUnitValue:
    """An item whose value per kg (national currency) is below `factor` x the reference value
    for its (HS6, origin). Items without a reference, or with no net mass, never hit."""

    factor: Decimal


@dataclass(frozen=True)
class AllOf:
    predicates: tuple[Predicate, ...]


@dataclass(frozen=True)
class AnyOf:
    predicates: tuple[Predicate, ...]


Predicate = HsPrefix | OriginIn | WatchlistedParty | LowUnitValue | AllOf | AnyOf


@dataclass(frozen=True)
class Rule:
    """One selectivity rule.

    When its predicate holds (within `valid_from`..`valid_to` inclusive and in `offices`, all
    offices when empty) the rule *hits*; a hit is *selected* with `probability` (a seeded
    per-rule draw). A selected hit adds `score` and asks for at least `lane` (use green for
    a rule that only adds score). The AEO discount lowers the score, never a rule's lane.
    """

    id: str
    description: str
    rationale: str
    predicate: Predicate
    lane: Lane
    score: int
    probability: Decimal = Decimal(1)
    valid_from: date | None = None
    valid_to: date | None = None
    offices: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.probability <= Decimal(1):
            raise RuleSetError(f"rule {self.id}: probability must be within 0..1")
        if self.score < 0:
            raise RuleSetError(f"rule {self.id}: score must not be negative")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise RuleSetError(f"rule {self.id}: valid_to is before valid_from")

    def applies(self, office: str, on_date: date) -> bool:
        """Whether the rule is in force at this office on this date."""
        if self.valid_from is not None and on_date < self.valid_from:
            return False
        if self.valid_to is not None and on_date > self.valid_to:
            return False
        return not self.offices or office in self.offices


@dataclass(frozen=True)
class Thresholds:
    """Score thresholds: score >= red -> red; score >= yellow -> yellow; else green.

    Blue: an AEO whose raw score reached `yellow` but whose discounted score fell below it is
    released now and audited after (blue) instead of green.
    """

    red: int
    yellow: int

    def __post_init__(self) -> None:
        if not 0 < self.yellow <= self.red:
            raise RuleSetError("thresholds: expected 0 < yellow <= red")


@dataclass(frozen=True)
class OfficeSelection:
    """The minimum random selection at an office: a draw below `rate` selects the consignment;
    the first `red_share` of that band selects it for red, the rest for yellow."""

    rate: Decimal
    red_share: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.rate <= Decimal(1):
            raise RuleSetError("random selection rate must be within 0..1")
        if not Decimal(0) <= self.red_share <= Decimal(1):
            raise RuleSetError("random red_share must be within 0..1")

    def lane_for(self, draw: Decimal) -> Lane | None:
        """The lane a draw in [0, 1) selects for, or None when it selects nothing."""
        if draw < self.rate * self.red_share:
            return Lane.RED
        if draw < self.rate:
            return Lane.YELLOW
        return None


DEFAULT_OFFICE = "*"


@dataclass(frozen=True)
class RuleSet:
    version: str
    thresholds: Thresholds
    rules: tuple[Rule, ...]
    offices: Mapping[str, OfficeSelection]
    aeo_discounts: Mapping[AeoStatus, int] = field(default_factory=dict)
    watchlists: Mapping[PartyRole, frozenset[str]] = field(default_factory=dict)
    reference_values: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)
    currency: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if DEFAULT_OFFICE not in self.offices:
            raise RuleSetError(f"rule set {self.version}: offices needs a '{DEFAULT_OFFICE}' entry")
        ids = [rule.id for rule in self.rules]
        duplicates = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if duplicates:
            raise RuleSetError(f"rule set {self.version}: duplicate rule ids {duplicates}")

    def selection_for(self, office: str) -> OfficeSelection:
        return self.offices.get(office, self.offices[DEFAULT_OFFICE])

    def discount_for(self, status: AeoStatus | None) -> int:
        return 0 if status is None else self.aeo_discounts.get(status, 0)

    def is_watchlisted(self, role: PartyRole, eori: str) -> bool:
        return eori in self.watchlists.get(role, frozenset())

    def reference_value(self, hs6: str, origin: str) -> Decimal | None:
        return self.reference_values.get((hs6, origin))
