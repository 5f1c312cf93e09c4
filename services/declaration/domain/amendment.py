"""Amendment of an accepted declaration (UCC art. 173), pure: guard, and the difference.

The declarant sends the whole corrected document; the amendment is a new declaration version
that risk and duty assess again. Refused, each with its ground (`lifecycle.NotAllowed.ground`,
which the HTTP problem's `type` carries):

- once the declarant was told the goods will be examined (art. 173(2)(a)):
  `examination-notified`;
- once customs found particulars incorrect, a non-compliant control (art. 173(2)(b)):
  `particulars-incorrect`;
- after release (art. 173(2)(c)): `released`. The post-release amendment of art. 173(3) is
  not offered by this service yet;
- after a refused release or an invalidation: `release-refused`, `invalidated`.

The corrected document must be valid (as at lodgement, on the original acceptance date), keep
the particulars that identify the declaration (`FIXED`: the LRN, the declarant and the office)
and change at least one particular (`AmendmentInvalid`, 422, with pointers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .lifecycle import (
    ExaminationNotified,
    Invalidated,
    Lifecycle,
    NotAllowed,
    ReleaseWasRefused,
    check_open,
)

__all__ = ["FIXED", "AlreadyReleased", "AmendmentInvalid", "Change", "ExaminationNotified",
           "Invalidated", "ParticularsIncorrect", "ReleaseWasRefused", "check_amendment",
           "differences", "guard"]

#: Particulars an amendment may not change: they identify the declaration.
FIXED = ("/lrn", "/declarant/eori", "/office")


class ParticularsIncorrect(NotAllowed):
    ground = "particulars-incorrect"


class AlreadyReleased(NotAllowed):
    ground = "released"


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
    """Guard an amendment of the declaration in `state` to the (validated, normalised)
    `document`: the changes it makes, or NotAllowed / AmendmentInvalid (pointers
    into the document)."""
    guard(state)
    changes = differences(state.document, document)
    fixed = [c for c in changes
             if any(c.pointer == p or c.pointer.startswith(p + "/") for p in FIXED)]
    if fixed:
        raise AmendmentInvalid([(c.pointer, "identifies the declaration and cannot be amended "
                                 f"(it is {c.before!r})") for c in fixed])
    if not changes:
        raise AmendmentInvalid([("", "the corrected document changes no particular")])
    return changes


def guard(state: Lifecycle) -> None:
    """NotAllowed, naming its ground, unless UCC art. 173 allows an amendment now."""
    check_open(state)
    if state.released:
        raise AlreadyReleased("the goods are released: a declaration is not amended after "
                              "release (UCC art. 173(2)(c)); a post-release amendment "
                              "(art. 173(3)) is not offered by this service yet")
    if state.particulars_incorrect:
        raise ParticularsIncorrect("a control found particulars of the declaration incorrect "
                                   "(UCC art. 173(2)(b))")
    if state.examination_notified:
        raise ExaminationNotified("an examination of the goods was notified (UCC art. "
                                  "173(2)(a))")
