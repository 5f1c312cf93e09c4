"""The trader's pull feed: a declaration's status changes, each at the log position of the
fact that made it (pure: the facts arrive as values).

`status_changes(facts)` folds a consignment's facts in log order exactly as `derive` does
(`status_view`): after each fact, the status its facts so far call for is taken when the
transition table allows it. Each time the status changes (and at the first fact, which makes
the declaration `received`) it reports a `StatusChange`: the position and time of that fact,
the new status, and the MRN (None before acceptance), LRN and declaration version known at
that point. Facts are the
log's, so the changes at a position are the same whenever they are asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .status import TRANSITIONS, Status
from .status_view import Fact, _position, _Seen


@dataclass(frozen=True)
class StatusChange:
    position: int
    at: str
    mrn: str | None  # None before acceptance
    lrn: str
    declaration_version: int
    status: Status

    def as_json(self) -> dict[str, Any]:
        return {"position": self.position, "mrn": self.mrn, "lrn": self.lrn,
                "declaration_version": self.declaration_version,
                "status": self.status.as_json(), "at": self.at}


def status_changes(facts: Mapping[str, Fact]) -> list[StatusChange]:
    """Every status change of one consignment, in log order (see the module docstring)."""
    seen = _Seen()
    status = Status.RECEIVED  # where `derive` starts
    changes: list[StatusChange] = []
    for fact in sorted(facts.values(), key=_position):
        seen.add(fact)
        target = seen.called_for()
        moved = target is not status and target in TRANSITIONS[status]
        if moved:
            status = target
        if moved or not changes:  # the first fact reports the status it leaves
            last = seen.last
            known = last.get("DeclarationAccepted") or last.get("DeclarationReceived")
            identity = known["data"] if known else {}
            changes.append(StatusChange(
                fact["position"], fact["at"], identity.get("mrn"), identity.get("lrn", ""),
                int(identity.get("declaration_version", 1)), status))
    return changes
