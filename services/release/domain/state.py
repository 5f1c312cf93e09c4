"""The consignment as the release service knows it: the SET of facts received.

`apply` adds a fact unless its id is known (idempotent); everything else is derived from the
set with order-free reductions (latest declaration version, sums per payment reference, holds
placed minus holds lifted), so any order or duplication of the same facts gives the same
state and the same decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Protocol, TypeVar

from .errors import ConflictingFact
from .facts import (
    ControlCompleted,
    ControlOrdered,
    DebtNotified,
    DebtSettled,
    DeclarationAccepted,
    DeclarationInvalidated,
    DutyAssessed,
    Fact,
    GoodsReleased,
    GuaranteeSecured,
    HoldLifted,
    HoldPlaced,
    HoldRefused,
    PaymentReceived,
    ReleaseRefused,
    RiskDecided,
)


class _HasFactId(Protocol):
    @property
    def fact_id(self) -> str: ...


F = TypeVar("F", bound=_HasFactId)


@dataclass(frozen=True)
class ConsignmentState:
    consignment_id: str
    facts: Mapping[str, Fact] = field(default_factory=lambda: MappingProxyType({}))

    # -- reading the set ------------------------------------------------------------------
    def _all(self, kind: type[F]) -> list[F]:
        """Every fact of a kind, by fact id (a stable order that ignores arrival order)."""
        return sorted(
            (f for f in self.facts.values() if isinstance(f, kind)), key=lambda f: f.fact_id
        )

    @property
    def accepted(self) -> DeclarationAccepted | None:
        found = self._all(DeclarationAccepted)
        return min(found, key=lambda f: (f.lodged_at, f.fact_id), default=None)

    @property
    def declaration_version(self) -> int:
        """The latest declaration version accepted, or that any risk, control or duty fact is
        about: an amended version waits for its own risk decision and duty."""
        versions = [
            f.declaration_version
            for f in self.facts.values()
            if isinstance(f, DeclarationAccepted | RiskDecided | ControlOrdered
                          | ControlCompleted | DutyAssessed)
        ]
        return max(versions, default=1)

    @property
    def risk(self) -> RiskDecided | None:
        """The risk decision about the latest declaration version, if known."""
        version = self.declaration_version
        current = [f for f in self._all(RiskDecided) if f.declaration_version == version]
        return current[-1] if current else None

    @property
    def controls_ordered(self) -> list[ControlOrdered]:
        version = self.declaration_version
        return [f for f in self._all(ControlOrdered) if f.declaration_version == version]

    @property
    def controls_completed(self) -> list[ControlCompleted]:
        version = self.declaration_version
        return [f for f in self._all(ControlCompleted) if f.declaration_version == version]

    @property
    def duty(self) -> DutyAssessed | None:
        """The duty assessment of the latest declaration version, if known."""
        version = self.declaration_version
        current = [f for f in self._all(DutyAssessed) if f.declaration_version == version]
        return current[-1] if current else None

    @property
    def amount_paid(self) -> Decimal:
        return _sum_by_reference(self._all(PaymentReceived))

    @property
    def amount_charged(self) -> Decimal:
        """Charged to a deferment account or written off: settled as a payment is."""
        return _sum_by_reference(self._all(DebtSettled))

    @property
    def amount_settled(self) -> Decimal:
        """Paid, or charged to a deferment account, or written off."""
        return self.amount_paid + self.amount_charged

    @property
    def amount_secured(self) -> Decimal:
        return _sum_by_reference(self._all(GuaranteeSecured))

    @property
    def holds(self) -> list[HoldPlaced]:
        """Every hold placed, one per hold id (the first by fact id), in hold id order."""
        placed = {f.hold_id: f for f in reversed(self._all(HoldPlaced))}
        return [placed[hold_id] for hold_id in sorted(placed)]

    @property
    def active_holds(self) -> list[HoldPlaced]:
        """Holds placed and not decided yet."""
        decided = {f.hold_id for f in self._all(HoldLifted)} | {
            f.hold_id for f in self._all(HoldRefused)}
        return [hold for hold in self.holds if hold.hold_id not in decided]

    @property
    def refusing_agency(self) -> HoldRefused | None:
        """An agency's refusal of the goods (final), the first by fact id."""
        found = self._all(HoldRefused)
        return found[0] if found else None

    @property
    def additional_duty(self) -> Decimal:
        """The additional debt of the latest version's controls released after payment."""
        return sum((f.additional_debt for f in self.controls_completed), Decimal(0))

    @property
    def checked_debt(self) -> Decimal:
        """The debts post-clearance checks found on the latest version."""
        version = self.declaration_version
        return sum((f.amount for f in self._all(DebtNotified)
                    if f.adds_to_debt and f.declaration_version == version), Decimal(0))

    @property
    def refusing_control(self) -> ControlCompleted | None:
        """The control that refused release, whatever the declaration version (a refusal is
        final: an amendment does not undo it)."""
        return next((f for f in self._all(ControlCompleted) if f.refuses_release), None)

    @property
    def refused(self) -> ReleaseRefused | None:
        found = self._all(ReleaseRefused)
        return min(found, key=lambda f: (f.refused_at, f.fact_id), default=None)

    @property
    def invalidated(self) -> DeclarationInvalidated | None:
        found = self._all(DeclarationInvalidated)
        return found[0] if found else None

    @property
    def released(self) -> GoodsReleased | None:
        found = self._all(GoodsReleased)
        return min(found, key=lambda f: (f.released_at, f.fact_id), default=None)


def apply(state: ConsignmentState, fact: Fact) -> ConsignmentState:
    """The state with `fact` added; the same state when the fact id is already known."""
    known = state.facts.get(fact.fact_id)
    if known is not None:
        if known != fact:
            raise ConflictingFact(f"fact {fact.fact_id} arrived twice with different content")
        return state
    return ConsignmentState(
        consignment_id=state.consignment_id,
        facts=MappingProxyType({**state.facts, fact.fact_id: fact}),
    )


def build_state(consignment_id: str, facts: Iterable[Fact]) -> ConsignmentState:
    state = ConsignmentState(consignment_id=consignment_id)
    for fact in facts:
        state = apply(state, fact)
    return state


def _sum_by_reference(facts: list[PaymentReceived] | list[DebtSettled]
                      | list[GuaranteeSecured]) -> Decimal:
    """Each reference counts once (the first by fact id), whatever the number of facts."""
    by_reference: dict[str, Decimal] = {}
    for fact in facts:
        by_reference.setdefault(fact.reference, fact.amount)
    return sum(by_reference.values(), Decimal(0))
