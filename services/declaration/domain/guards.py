"""Guards on amendment and invalidation (UCC articles 173 and 174), as pure functions.

They decide from a small `GuardState` (the facts the declaration service knows) and a
`GuardPolicy` (what the jurisdiction or procedure configures), and raise a named error with
a machine-readable `reason` when the request must be refused:

Amendment (`check_amendment`), refused when
- the declaration is not accepted yet, or was rejected or invalidated (`not_accepted`, `closed`);
- a notified examination has not been completed (`examination_pending`);
- particulars it changes were found incorrect (`particulars_incorrect`);
- it would cover goods other than those declared (`other_goods`);
- the goods were released and the post-release limit (3 years from acceptance in the EU)
  has passed, or the policy allows none (`after_release_limit`);
- it changes nothing (`no_change`).

Invalidation (`check_invalidation`), refused when
- the declaration is not accepted yet, or was rejected or invalidated;
- a notified examination has not been completed;
- the goods were released, unless the policy allows it within a number of days after release
  (e.g. 90 for e-commerce) and that window is still open (`released`).

An accepted amendment re-runs risk and duty; that is the application's job, not a guard's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from .status import Status


@dataclass(frozen=True, slots=True)
class GuardState:
    """What the guards need to know about one declaration."""

    status: Status
    accepted_on: date | None = None
    examination_notified: bool = False
    examination_completed: bool = False
    #: JSON pointers of particulars found incorrect by a control (e.g. "/items/0/hs_code").
    incorrect_particulars: frozenset[str] = field(default_factory=frozenset)
    released_on: date | None = None

    @property
    def examination_pending(self) -> bool:
        notified = self.examination_notified or self.status is Status.EXAMINATION_INTENDED
        return notified and not self.examination_completed

    @property
    def released(self) -> bool:
        return self.released_on is not None or self.status in (Status.RELEASED, Status.CLEARED)


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """Configured per jurisdiction or procedure; the defaults are the EU's."""

    #: Amendment after release is allowed on application within this many years of
    #: acceptance; None: never.
    amendment_after_release_years: int | None = 3
    #: Invalidation after release allowed within this many days of release (e.g. 90 for
    #: e-commerce); None: never.
    invalidation_after_release_days: int | None = None


class RequestRefused(ValueError):
    """An amendment or invalidation request the guards refuse; `reason` is machine-readable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class AmendmentRefused(RequestRefused):
    """An amendment the UCC 173 guards refuse."""


class InvalidationRefused(RequestRefused):
    """An invalidation the UCC 174 guards refuse."""


_CLOSED = (Status.REJECTED, Status.INVALIDATED)


def check_amendment(
    state: GuardState,
    *,
    changed: Iterable[str],
    on_date: date,
    other_goods: bool = False,
    policy: GuardPolicy = GuardPolicy(),  # noqa: B008 - frozen, safe to share
) -> None:
    """Return when an amendment changing the particulars at `changed` (JSON pointers) may be
    accepted on `on_date`; raise `AmendmentRefused` otherwise."""
    changed = tuple(changed)
    if state.status in _CLOSED:
        raise AmendmentRefused("closed", f"A {state.status.label} declaration cannot be amended.")
    if state.status is Status.RECEIVED or state.accepted_on is None:
        raise AmendmentRefused(
            "not_accepted",
            "Only an accepted declaration can be amended; correct and lodge it again instead.",
        )
    if state.examination_pending:
        raise AmendmentRefused(
            "examination_pending",
            "The declaration cannot be amended while the examination the declarant was "
            "notified of has not been completed.",
        )
    if not changed:
        raise AmendmentRefused("no_change", "The amendment changes nothing.")
    incorrect = sorted(
        p for p in state.incorrect_particulars if any(overlaps(p, c) for c in changed)
    )
    if incorrect:
        raise AmendmentRefused(
            "particulars_incorrect",
            "These particulars were found incorrect by a control and can no longer be "
            f"amended: {', '.join(incorrect)}.",
        )
    if other_goods:
        raise AmendmentRefused(
            "other_goods",
            "An amendment may not make the declaration cover goods other than those it "
            "originally covered; lodge a new declaration for them.",
        )
    if state.released:
        years = policy.amendment_after_release_years
        start = state.accepted_on
        if years is None or on_date > add_years(start, years):
            limit = (
                "is not allowed"
                if years is None
                else (f"is allowed only within {years} years of acceptance ({start.isoformat()})")
            )
            raise AmendmentRefused("after_release_limit", f"Amendment after release {limit}.")


def check_invalidation(
    state: GuardState,
    *,
    on_date: date,
    policy: GuardPolicy = GuardPolicy(),  # noqa: B008 - frozen, safe to share
) -> None:
    """Return when the declaration may be invalidated on `on_date`; raise
    `InvalidationRefused` otherwise."""
    if state.status in _CLOSED:
        raise InvalidationRefused(
            "closed", f"A {state.status.label} declaration cannot be invalidated."
        )
    if state.status is Status.RECEIVED or state.accepted_on is None:
        raise InvalidationRefused(
            "not_accepted", "Only an accepted declaration can be invalidated."
        )
    if state.examination_pending:
        raise InvalidationRefused(
            "examination_pending",
            "The declaration cannot be invalidated before the examination the declarant was "
            "notified of has taken place.",
        )
    if state.released:
        days = policy.invalidation_after_release_days
        released_on = state.released_on
        if days is None or released_on is None or on_date > released_on + timedelta(days=days):
            window = "" if days is None else f" beyond {days} days of release"
            raise InvalidationRefused(
                "released", f"A declaration cannot be invalidated after release{window}."
            )


def overlaps(a: str, b: str) -> bool:
    """Whether two JSON pointers address overlapping data (one is the other or contains it)."""
    return a == b or a == "" or b == "" or a.startswith(b + "/") or b.startswith(a + "/")


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (29 February -> 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
