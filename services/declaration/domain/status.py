"""The trader-facing status of a declaration (CDS-style codes) and its one transition table.

Each `Status` has a `label` (snake case, the `name` of the HTTP `status` object) and a `code`
(the two-digit CDS-style code): `Status.RELEASED.as_json() == {"name": "released",
"code": "08"}`.

The table `TRANSITIONS` is the only place that says which status may follow which; the
status projection's fold (`status_view.derive`) takes a new status only where the table
allows it. Facts from the other services can come in any order (a duty assessment before the
risk decision, a hold after a payment), so the table allows the in-progress statuses to
follow one another freely (and to go back to accepted once nothing is pending) and encodes
only what must never happen:

- nothing follows a rejection, an invalidation or a refused release;
- before acceptance, only acceptance or rejection;
- no invalidation while an examination is intended (UCC 174: not before the notified
  examination has taken place);
- after release only clearance, or an invalidation an officer granted;
- after clearance only such an invalidation, or released again: a post-release amendment
  made a version whose debt is not paid yet.

Every status declared here is reachable (`tests/unit/declaration/test_declaration_status.py`
derives each one from facts).
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
    # The account the declaration named cannot take its debt now (nothing was charged): it
    # is charged as soon as the account allows it, or the debt is paid another way.
    INSUFFICIENT_BALANCE = "14"
    HELD_BY_AGENCY = "50"  # a partner agency's hold, never customs' own
    QUERY_RAISED = "51"  # customs holds the goods (a non-compliant control, no outcome decided)
    RELEASED = "08"  # the debt may not be final yet
    CLEARED = "09"  # released and every debt on the declaration paid
    INVALIDATED = "10"
    # Release refused (a control's outcome `refuse_release`): final. The name is the
    # contract's; 18 is a code of this service, used by no other status.
    RELEASE_REFUSED = "18"

    # Members are singletons compared by identity: hashed by identity too (enum's own __hash__
    # is Python code, and the status fold looks statuses up in TRANSITIONS per event).
    __hash__ = object.__hash__
    label: str  # the snake-case name, set below
    code: str  # the CDS-style code (the value)

    def as_json(self) -> dict[str, str]:
        return {"name": self.label, "code": self.code}


for _status in Status:
    _status.label = _status.name.lower()
    _status.code = _status.value
del _status



S = Status

#: Control and payment statuses that can follow one another in any order.
_IN_PROGRESS = frozenset(
    {
        S.DOCUMENTS_REQUIRED,
        S.EXAMINATION_INTENDED,
        S.TAX_DUE,
        S.INSUFFICIENT_BALANCE,
        S.HELD_BY_AGENCY,
        S.QUERY_RAISED,
    }
)
#: From an accepted, not yet released declaration: any control or payment status, back to
#: accepted (nothing pending), release (and clearance with it, the debt paid before) or its
#: refusal, or invalidation.
_OPEN = _IN_PROGRESS | {S.ACCEPTED, S.RELEASED, S.CLEARED, S.RELEASE_REFUSED, S.INVALIDATED}

#: The one table: current status -> statuses allowed next.
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    S.RECEIVED: frozenset({S.ACCEPTED, S.REJECTED}),
    S.ACCEPTED: _OPEN | {S.CORRECTIONS_APPLIED},  # amended before anything else was due
    S.DOCUMENTS_REQUIRED: _OPEN | {S.CORRECTIONS_APPLIED},
    # A notified examination must take place before amendment or invalidation; its outcome
    # may refuse the release.
    S.EXAMINATION_INTENDED: _IN_PROGRESS | {S.ACCEPTED, S.CORRECTIONS_APPLIED, S.RELEASED,
                                            S.CLEARED, S.RELEASE_REFUSED},
    S.CORRECTIONS_APPLIED: _OPEN,
    S.TAX_DUE: _OPEN | {S.CORRECTIONS_APPLIED},  # TAX_DUE -> TAX_DUE: re-assessed
    S.INSUFFICIENT_BALANCE: _OPEN | {S.CORRECTIONS_APPLIED},
    S.HELD_BY_AGENCY: _OPEN | {S.CORRECTIONS_APPLIED},  # -> itself: a second agency
    S.QUERY_RAISED: _OPEN | {S.CORRECTIONS_APPLIED},
    # After release: cleared once every debt is paid, or an invalidation an officer grants
    # (UCC art. 174).
    S.RELEASED: frozenset({S.CLEARED, S.INVALIDATED}),
    # A post-release amendment (UCC art. 173(3)) makes a new version, whose debt is not final
    # until it is cleared in turn.
    S.CLEARED: frozenset({S.RELEASED, S.INVALIDATED}),
    S.REJECTED: frozenset(),
    S.INVALIDATED: frozenset(),
    S.RELEASE_REFUSED: frozenset(),  # final: nothing is released after it
}

del S


def can_transition(current: Status, target: Status) -> bool:
    """Whether the table allows `target` after `current`."""
    return target in TRANSITIONS[current]
