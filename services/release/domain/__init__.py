"""The pure release domain: the release decision over the set of facts, the status it implies
and the public release notification. No infrastructure imports.

>>> state = build_state("c-1", facts)  # any order, duplicates allowed
>>> outcome = decide(state)            # ReleaseDecision | Hold | Pending | Released
>>> released = release(state, fact_id=event_id, released_at=now)  # guard + record
>>> state = apply(state, released)      # apply
>>> body = release_notification(goods_released, release_event_id=event_id, position=42)
"""

from .decision import (
    DebtBasis,
    Hold,
    HoldKind,
    HoldReason,
    Outcome,
    Pending,
    PendingReason,
    Released,
    ReleaseDecision,
    RiskBasis,
    decide,
    release,
)
from .errors import (
    AlreadyReleased,
    ConflictingFact,
    NotificationUnavailable,
    NotReleasable,
    ReleaseDomainError,
)
from .facts import (
    ControlCompleted,
    ControlOrdered,
    ControlResult,
    DeclarationAccepted,
    DutyAssessed,
    Fact,
    GoodsReleased,
    GuaranteeSecured,
    HoldLifted,
    HoldPlaced,
    Lane,
    PaymentReceived,
    RiskDecided,
)
from .notification import (
    NOTIFICATION_SCHEMA_PATH,
    SCHEMA_VERSION,
    load_notification_schema,
    notification_id,
    release_notification,
    routing_key,
)
from .state import ConsignmentState, apply, build_state
from .status import ReleaseStatus, status_of

__all__ = [
    "NOTIFICATION_SCHEMA_PATH",
    "SCHEMA_VERSION",
    "AlreadyReleased",
    "ConflictingFact",
    "ConsignmentState",
    "ControlCompleted",
    "ControlOrdered",
    "ControlResult",
    "DebtBasis",
    "DeclarationAccepted",
    "DutyAssessed",
    "Fact",
    "GoodsReleased",
    "GuaranteeSecured",
    "Hold",
    "HoldKind",
    "HoldLifted",
    "HoldPlaced",
    "HoldReason",
    "Lane",
    "NotReleasable",
    "NotificationUnavailable",
    "Outcome",
    "PaymentReceived",
    "Pending",
    "PendingReason",
    "ReleaseDecision",
    "ReleaseDomainError",
    "ReleaseStatus",
    "Released",
    "RiskBasis",
    "RiskDecided",
    "apply",
    "build_state",
    "decide",
    "load_notification_schema",
    "notification_id",
    "release",
    "release_notification",
    "routing_key",
    "status_of",
]
