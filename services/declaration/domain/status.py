"""The trader-facing status of a declaration (CDS-style codes) and its one transition table.

Each `Status` has a `label` (snake case, the `name` of the HTTP `status` object) and a `code`
(the two-digit CDS-style code): `Status.RELEASED.as_json() == {"name": "released",
"code": "08"}`.

The table `TRANSITIONS` is the only place that says which status may follow which. Facts from
the other services can arrive in any order (a duty assessment before the risk decision, a
hold after a payment), so the table allows the in-progress statuses to follow one another
freely and encodes only what must never happen:

- nothing follows a rejection or an invalidation;
- before acceptance, only acceptance, rejection or manual handling;
- no invalidation and no amendment answer while an examination is intended (UCC 173/174:
  not before the notified examination has taken place);
- no invalidation after release (`guards.check_invalidation` covers the configured
  exceptions, e.g. e-commerce within 90 days, by allowing it explicitly);
- after release only clearance, or an answer to a post-release amendment.

The table knows statuses only; the guards in `guards.py` decide with the facts behind them
(e.g. an amendment answered after release must not lead to invalidation).

`transition(current, target)` returns `target` or raises `TransitionNotAllowed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum


class Status(Enum):
    """A declaration status; the value is its CDS-style code."""

    RECEIVED = "02"
    ACCEPTED = "01"
    REJECTED = "03"
    DOCUMENTS_REQUIRED = "06"
    EXAMINATION_INTENDED = "05"
    CORRECTIONS_APPLIED = "07"
    TAX_DUE = "13"  # tax due / reserved
    INSUFFICIENT_BALANCE = "14"  # insufficient deferment balance
    HELD_BY_OTHER_AGENCY = "50"
    QUERY_RAISED = "51"
    RELEASED = "08"  # the debt may not be final yet
    CLEARED = "09"  # released and the debt is final
    INVALIDATED = "10"
    AMENDMENT_ANSWERED = "11"  # answer to an amendment or invalidation request
    HANDLED_MANUALLY = "17"

    @property
    def code(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return self.name.lower()

    def as_json(self) -> dict[str, str]:
        return {"name": self.label, "code": self.code}

    @classmethod
    def from_code(cls, code: str) -> Status:
        return cls(code)

    @classmethod
    def from_label(cls, label: str) -> Status:
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(f"{label!r} is not a declaration status") from None


class TransitionNotAllowed(ValueError):
    """`target` may not follow `current` (see `TRANSITIONS`)."""

    def __init__(self, current: Status, target: Status) -> None:
        super().__init__(
            f"a declaration cannot go from {current.label} ({current.code}) to "
            f"{target.label} ({target.code})"
        )
        self.current = current
        self.target = target


S = Status

#: Control and payment statuses that can follow one another in any order.
_IN_PROGRESS = frozenset(
    {
        S.DOCUMENTS_REQUIRED,
        S.EXAMINATION_INTENDED,
        S.TAX_DUE,
        S.INSUFFICIENT_BALANCE,
        S.HELD_BY_OTHER_AGENCY,
        S.QUERY_RAISED,
        S.HANDLED_MANUALLY,
    }
)
#: From an accepted, not yet released declaration: any control or payment status, release,
#: an amendment answer or invalidation.
_OPEN = _IN_PROGRESS | {S.RELEASED, S.AMENDMENT_ANSWERED, S.INVALIDATED}

#: The one table: current status -> statuses allowed next.
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    S.RECEIVED: frozenset({S.ACCEPTED, S.REJECTED, S.HANDLED_MANUALLY}),
    S.ACCEPTED: _OPEN,
    S.DOCUMENTS_REQUIRED: _OPEN | {S.CORRECTIONS_APPLIED},
    # A notified examination must take place before amendment or invalidation.
    S.EXAMINATION_INTENDED: _IN_PROGRESS | {S.CORRECTIONS_APPLIED, S.RELEASED},
    S.CORRECTIONS_APPLIED: _OPEN,
    S.TAX_DUE: _OPEN | {S.CORRECTIONS_APPLIED},  # TAX_DUE -> TAX_DUE: re-assessed
    S.INSUFFICIENT_BALANCE: _OPEN,
    S.HELD_BY_OTHER_AGENCY: _OPEN | {S.CORRECTIONS_APPLIED},  # -> itself: a second agency
    S.QUERY_RAISED: _OPEN | {S.CORRECTIONS_APPLIED},
    # Manual handling can also happen before acceptance.
    S.HANDLED_MANUALLY: _OPEN | {S.ACCEPTED, S.REJECTED, S.CORRECTIONS_APPLIED},
    # An accepted amendment re-runs risk and duty; after release it leads back to released.
    S.AMENDMENT_ANSWERED: _OPEN | {S.CLEARED},
    S.RELEASED: frozenset({S.CLEARED, S.AMENDMENT_ANSWERED}),
    S.CLEARED: frozenset({S.AMENDMENT_ANSWERED}),  # post-clearance amendment on application
    S.REJECTED: frozenset(),
    S.INVALIDATED: frozenset(),
}

del S

TERMINAL = frozenset(status for status, targets in TRANSITIONS.items() if not targets)


def allowed_targets(current: Status) -> frozenset[Status]:
    return TRANSITIONS[current]


def can_transition(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


def transition(current: Status, target: Status) -> Status:
    """`target` when the table allows it after `current`, else `TransitionNotAllowed`."""
    if target not in TRANSITIONS[current]:
        raise TransitionNotAllowed(current, target)
    return target
