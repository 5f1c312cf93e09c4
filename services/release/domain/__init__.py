"""The pure release domain: the release decision over the set of facts, the status it implies
and the public release notification. No infrastructure imports.

>>> state = build_state("c-1", facts)  # any order, duplicates allowed
>>> outcome = decide(state)            # ReleaseDecision | Hold | Pending | Released
>>> released = release(state, fact_id=event_id, released_at=now)  # guard + record
>>> refused = refuse(state, fact_id=event_id, refused_at=now)  # after refuse_release
>>> cleared = clearance(state, released=True)  # every debt paid: Clearance, else None
>>> state = apply(state, released)      # apply
>>> body = release_notification(goods_released, release_event_id=event_id, position=42)
"""

from .decision import (
    Clearance,
    DebtBasis,
    Hold,
    HoldKind,
    HoldReason,
    Invalidated,
    Outcome,
    Pending,
    PendingReason,
    Refused,
    Released,
    ReleaseDecision,
    RiskBasis,
    clearance,
    decide,
    refuse,
    release,
)
from .errors import (
    AlreadyReleased,
    ConflictingFact,
    NotificationUnavailable,
    NotRefusable,
    NotReleasable,
    ReleaseDomainError,
)
from .facts import (
    ControlCompleted,
    ControlOrdered,
    ControlOutcome,
    ControlResult,
    DeclarationAccepted,
    DeclarationInvalidated,
    DutyAssessed,
    Fact,
    GoodsReleased,
    GuaranteeSecured,
    HoldLifted,
    HoldPlaced,
    HoldRefused,
    Lane,
    PaymentReceived,
    ReleaseRefused,
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
    "Clearance",
    "ConflictingFact",
    "ConsignmentState",
    "ControlCompleted",
    "ControlOrdered",
    "ControlOutcome",
    "ControlResult",
    "DebtBasis",
    "DeclarationAccepted",
    "DeclarationInvalidated",
    "DutyAssessed",
    "Fact",
    "GoodsReleased",
    "GuaranteeSecured",
    "Hold",
    "HoldKind",
    "HoldLifted",
    "HoldPlaced",
    "HoldRefused",
    "HoldReason",
    "Invalidated",
    "Lane",
    "NotRefusable",
    "NotReleasable",
    "NotificationUnavailable",
    "Outcome",
    "PaymentReceived",
    "Pending",
    "PendingReason",
    "Refused",
    "ReleaseDecision",
    "ReleaseDomainError",
    "ReleaseRefused",
    "ReleaseStatus",
    "Released",
    "RiskBasis",
    "RiskDecided",
    "apply",
    "build_state",
    "clearance",
    "decide",
    "load_notification_schema",
    "refuse",
    "notification_id",
    "release",
    "release_notification",
    "routing_key",
    "status_of",
]
