"""Amendment of an accepted declaration (UCC art. 173), pure: guard, and the difference.

The declarant sends the whole corrected document; the amendment is a new declaration version
that risk and duty assess again. Refused, each with its ground (`lifecycle.NotAllowed.ground`,
which the HTTP problem's `type` carries):

- once the declarant was told the goods will be examined (art. 173(2)(a)):
  `examination-notified`;
- once customs found particulars incorrect, a non-compliant control (art. 173(2)(b)):
  `particulars-incorrect`;
- after release (art. 173(2)(c)), except as the post-release amendment of art. 173(3): on
  the declarant's application, within `limit_days` of the acceptance (three years in the
  UCC; 0: not offered), decided by an officer (`OnApplication`, then
  `decide_application`); beyond it `released`, and `amendment-already-requested` while an
  application waits, `no-amendment-request` when an officer has none to decide;
- after a refused release or an invalidation: `release-refused`, `invalidated`.

The corrected document must be valid (as at lodgement, on the original acceptance date), keep
the particulars that identify the declaration (`FIXED`: the LRN, the declarant and the office)
and change at least one particular (`AmendmentInvalid`, 422, with pointers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .lifecycle import (
    ExaminationNotified,
    Invalidated,
    Lifecycle,
    NotAllowed,
    ReleaseWasRefused,
    check_open,
)

__all__ = ["FIXED", "AlreadyReleased", "AmendmentAlreadyRequested", "AmendmentInvalid",
           "Change", "ExaminationNotified", "Invalidated", "NoAmendmentRequest", "Now",
           "OnApplication", "ParticularsIncorrect", "ReleaseWasRefused", "check_amendment",
           "decide_application", "differences", "guard"]

#: Particulars an amendment may not change: they identify the declaration.
FIXED = ("/lrn", "/declarant/eori", "/office")


class ParticularsIncorrect(NotAllowed):
    ground = "particulars-incorrect"


class AlreadyReleased(NotAllowed):
    ground = "released"


class AmendmentAlreadyRequested(NotAllowed):
    ground = "amendment-already-requested"


class NoAmendmentRequest(NotAllowed):
    ground = "no-amendment-request"


@dataclass(frozen=True)
class Now:
    """Before release: the amendment is recorded at once (DeclarationAmended)."""


@dataclass(frozen=True)
class OnApplication:
    """After release, within the limit: the post-release amendment (UCC art. 173(3)) is an
    application (AmendmentRequested) an officer decides."""


class AmendmentInvalid(ValueError):
    """The corrected document cannot amend this declaration: (pointer, message) pairs."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{pointer or '/'}: {message}" for pointer, message in problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Change:
    """One particular the amendment changed: where (a JSON pointer), from what, to what (None:
    absent)."""

    pointer: str
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        return {"pointer": self.pointer, "before": self.before, "after": self.after}


def differences(before: Any, after: Any, pointer: str = "") -> list[Change]:
    """The changes from `before` to `after`, at the deepest level where they differ: objects
    key by key (in sorted order), arrays index by index (an element added or removed at the
    end is one change of that element)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        changes: list[Change] = []
        for key in sorted(set(before) | set(after)):
            where = f"{pointer}/{_escape(str(key))}"
            changes += differences(before.get(key), after.get(key), where)
        return changes
    if isinstance(before, list) and isinstance(after, list):
        changes = []
        for index in range(max(len(before), len(after))):
            old = before[index] if index < len(before) else None
            new = after[index] if index < len(after) else None
            changes += differences(old, new, f"{pointer}/{index}")
        return changes
    return [] if before == after else [Change(pointer or "/", before, after)]


def _escape(key: str) -> str:
    """A key as a JSON pointer reference token (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


def check_amendment(state: Lifecycle, document: Mapping[str, Any]) -> list[Change]:
    """The changes an amendment of the declaration in `state` to the (validated, normalised)
    `document` makes, or AmendmentInvalid (pointers into the document). `guard` says whether
    it may be made."""
    changes = differences(state.document, document)
    fixed = [c for c in changes
             if any(c.pointer == p or c.pointer.startswith(p + "/") for p in FIXED)]
    if fixed:
        raise AmendmentInvalid([(c.pointer, "identifies the declaration and cannot be amended "
                                 f"(it is {c.before!r})") for c in fixed])
    # How the debt is settled stays as lodged: the account holds (or was refused) the first
    # version's charge, and the payment service settles each version against that account.
    # To settle another way, pay (POST /payments).
    payment = [c for c in changes if c.pointer == "/payment"
               or c.pointer.startswith("/payment/")]
    if payment:
        raise AmendmentInvalid([(c.pointer, "how the debt is settled cannot be amended (it is "
                                 f"{c.before!r}); pay the debt another way instead")
                                for c in payment])
    if not changes:
        raise AmendmentInvalid([("", "the corrected document changes no particular")])
    return changes


def guard(state: Lifecycle, *, today: date, limit_days: int) -> Now | OnApplication:
    """How UCC art. 173 allows an amendment on `today`: at once, or on application after
    release (art. 173(3), within `limit_days` of the acceptance); else NotAllowed, naming its
    ground."""
    check_open(state)
    if state.released:
        if state.pending_amendment is not None:
            raise AmendmentAlreadyRequested("a post-release amendment is already waiting for "
                                            "an officer's decision")
        until = (state.accepted_on or today) + timedelta(days=limit_days)
        if limit_days <= 0 or today > until:
            raise AlreadyReleased(
                "the goods are released (UCC art. 173(2)(c)), and the post-release amendment "
                f"of art. 173(3) was possible until {until.isoformat()}, {limit_days} days "
                "after acceptance")
        return OnApplication()
    if state.particulars_incorrect:
        raise ParticularsIncorrect("a control found particulars of the declaration incorrect "
                                   "(UCC art. 173(2)(b))")
    if state.examination_notified:
        raise ExaminationNotified("an examination of the goods was notified (UCC art. "
                                  "173(2)(a))")
    return Now()


def decide_application(state: Lifecycle) -> str:
    """An officer decides the post-release amendment applied for: its event id, or
    NotAllowed."""
    check_open(state)
    if state.pending_amendment is None:
        raise NoAmendmentRequest("no post-release amendment is waiting for a decision")
    return state.pending_amendment
