"""The facts the release decision reads, one frozen dataclass per kind.

Each fact carries `fact_id`, the id of the event it was read from: applying a fact twice is a
no-op. The application layer turns the other services' events into these facts; the domain
never sees an event envelope.

Facts that a declaration amendment can repeat (`RiskDecided`, `ControlOrdered`,
`ControlCompleted`, `DutyAssessed`) carry the `declaration_version` they are about: the latest
version wins, whatever the order the facts arrived in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum


class Lane(Enum):
    """The risk lane as the release service sees it (the value travels as this string)."""

    GREEN = "green"
    BLUE = "blue"
    YELLOW = "yellow"
    RED = "red"

    @property
    def needs_control(self) -> bool:
        return self in (Lane.YELLOW, Lane.RED)


class ControlResult(Enum):
    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"


class ControlOutcome(Enum):
    """What follows a non-compliant control (None on a result: compliant, or non-compliant
    recorded before outcomes existed, which is a customs hold)."""

    RELEASE = "release"
    RELEASE_AFTER_PAYMENT = "release_after_payment"  # of the additional duty
    REFUSE_RELEASE = "refuse_release"  # final


@dataclass(frozen=True)
class DeclarationAccepted:
    fact_id: str
    mrn: str
    office: str
    transport_mode: str
    lodged_at: datetime
    declaration_version: int = 1  # an amendment is accepted as a new version


@dataclass(frozen=True)
class RiskDecided:
    fact_id: str
    lane: Lane
    declaration_version: int = 1


@dataclass(frozen=True)
class ControlOrdered:
    fact_id: str
    control_id: str
    declaration_version: int = 1


@dataclass(frozen=True)
class ControlCompleted:
    fact_id: str
    control_id: str
    result: ControlResult
    declaration_version: int = 1
    outcome: ControlOutcome | None = None
    additional_duty: Decimal = Decimal(0)  # above 0 only with release after payment

    @property
    def closes_risk(self) -> bool:
        """Compliant, or non-compliant with the goods to be released (at once or after
        payment of the additional duty)."""
        return self.result is ControlResult.COMPLIANT or self.outcome in (
            ControlOutcome.RELEASE, ControlOutcome.RELEASE_AFTER_PAYMENT)

    @property
    def refuses_release(self) -> bool:
        return (self.result is ControlResult.NON_COMPLIANT
                and self.outcome is ControlOutcome.REFUSE_RELEASE)

    @property
    def customs_hold(self) -> bool:
        """Non-compliant with no outcome decided: customs holds the goods."""
        return self.result is ControlResult.NON_COMPLIANT and self.outcome is None

    @property
    def additional_debt(self) -> Decimal:
        """The additional duty the release waits for (0 unless released after payment)."""
        if self.outcome is ControlOutcome.RELEASE_AFTER_PAYMENT:
            return self.additional_duty
        return Decimal(0)


@dataclass(frozen=True)
class DutyAssessed:
    """The total amount due for the declaration version, in the national currency."""

    fact_id: str
    amount_due: Decimal
    declaration_version: int = 1


@dataclass(frozen=True)
class PaymentReceived:
    """A payment; the payment reference is idempotent (counted once whatever the fact ids)."""

    fact_id: str
    amount: Decimal
    reference: str


@dataclass(frozen=True)
class DebtSettled:
    """An amount of the debt settled without a payment: charged to a deferment account (the
    holder pays it by direct debit) or written off by the accounting office. Settled for
    customs as a payment is."""

    fact_id: str
    amount: Decimal
    reference: str


@dataclass(frozen=True)
class DebtNotified:
    """An additional debt notified on a declaration version. Only a post-clearance check's
    adds to the debt here: a control's is its ControlCompleted's additional duty, an
    amendment's is in the version's DutyAssessed."""

    fact_id: str
    amount: Decimal
    cause: str
    declaration_version: int = 1

    @property
    def adds_to_debt(self) -> bool:
        return self.cause == "post_clearance_check"


@dataclass(frozen=True)
class GuaranteeSecured:
    """An amount of the debt secured by a guarantee: released on it, not cleared until paid."""

    fact_id: str
    amount: Decimal
    reference: str


@dataclass(frozen=True)
class HoldPlaced:
    """A partner agency holds the goods until it decides (one hold per agency: `hold_id`)."""

    fact_id: str
    hold_id: str
    agency: str
    reason: str = ""


@dataclass(frozen=True)
class HoldLifted:
    """The agency approved: its hold no longer stands in the way of release."""

    fact_id: str
    hold_id: str


@dataclass(frozen=True)
class HoldRefused:
    """The agency refused the goods: release is refused (final). `note`: its words to
    customs."""

    fact_id: str
    hold_id: str
    agency: str
    note: str = ""


@dataclass(frozen=True)
class GoodsReleased:
    fact_id: str
    released_at: datetime


@dataclass(frozen=True)
class ReleaseRefused:
    """Release was refused (final); `control_fact_id`: the control that refused it."""

    fact_id: str
    control_fact_id: str
    refused_at: datetime


@dataclass(frozen=True)
class DeclarationInvalidated:
    """The declaration was invalidated (UCC art. 174): final, nothing is released after it.
    `after_release`: granted by an officer after the goods were released."""

    fact_id: str
    after_release: bool = False


Fact = (
    DeclarationAccepted
    | RiskDecided
    | ControlOrdered
    | ControlCompleted
    | DutyAssessed
    | PaymentReceived
    | DebtSettled
    | DebtNotified
    | GuaranteeSecured
    | HoldPlaced
    | HoldLifted
    | HoldRefused
    | GoodsReleased
    | ReleaseRefused
    | DeclarationInvalidated
)
