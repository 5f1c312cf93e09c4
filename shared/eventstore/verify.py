"""Verification of the whole log: the hash chain, gap-free positions, stream versions without
holes, the log head, and the immutability triggers.

Walks the log in position order (page by page, so memory stays flat apart from one integer per
stream) and reports the first position where something is wrong:

- a position missing (an event deleted) or out of sequence (rows renumbered or swapped);
- a stored hash that does not match sha256(previous hash | the row's own content) (an event
  altered, or one removed or inserted behind it, or two swapped);
- a stream version that is not the previous one + 1 (a hole in a stream);
- the log head pointing elsewhere than the last event;
- an immutability trigger missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select, text

from .hashing import row_hash
from .store import EventStore
from .tables import GENESIS_HASH, events, log_head

Progress = Callable[[int, int], None]  # (events checked, last position)

REQUIRED_TRIGGERS = {
    "postgresql": {"events_immutable", "events_no_truncate"},
    "sqlite": {"events_immutable", "events_no_delete"},
}


@dataclass(frozen=True)
class Problem:
    position: int | None
    kind: str
    detail: str


@dataclass
class VerificationResult:
    events_checked: int = 0
    last_position: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_position(self) -> int | None:
        positions = [p.position for p in self.problems if p.position is not None]
        return min(positions) if positions else None

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "last_position": self.last_position,
            "first_bad_position": self.first_bad_position,
            "problems": [
                {"position": p.position, "kind": p.kind, "detail": p.detail}
                for p in self.problems
            ],
        }


def verify_log(
    store: EventStore,
    *,
    page: int = 5000,
    progress: Progress | None = None,
    stop_at_first: bool = True,
) -> VerificationResult:
    result = VerificationResult()
    with store.engines.reader.connect() as connection:
        _check_triggers(connection, store.dialect, result)
        head = connection.execute(
            select(log_head.c.position, log_head.c.hash).where(log_head.c.id == 1)
        ).first()
        previous_hash = GENESIS_HASH
        expected_position = 1
        stream_versions: dict[str, int] = {}
        after = -1  # also catches rows at position 0 or below, inserted behind our back
        while True:
            rows = connection.execute(
                select(events).where(events.c.position > after)
                .order_by(events.c.position).limit(page)
            ).mappings().all()
            if not rows:
                break
            for row in rows:
                position = int(row["position"])
                problem = _check_row(row, position, expected_position, previous_hash,
                                     stream_versions)
                if problem is not None:
                    result.problems.append(problem)
                    if stop_at_first:
                        return _finish(result, progress)
                previous_hash = row["hash"]
                expected_position = position + 1
                stream_versions[row["stream"]] = int(row["stream_version"])
                result.events_checked += 1
                result.last_position = position
            after = int(rows[-1]["position"])
            if progress is not None:
                progress(result.events_checked, result.last_position)
        if head is not None and (
            int(head.position) != result.last_position or head.hash != previous_hash
        ):
            result.problems.append(Problem(
                result.last_position + 1 if int(head.position) > result.last_position
                else int(head.position),
                "head",
                f"log head says position {head.position}, the log ends at "
                f"{result.last_position}",
            ))
    return _finish(result, progress)


def _check_row(
    row: Mapping[Any, Any],
    position: int,
    expected_position: int,
    previous_hash: str,
    stream_versions: dict[str, int],
) -> Problem | None:
    if position != expected_position:
        if position > expected_position:
            return Problem(expected_position, "missing",
                           f"position {expected_position} is missing (next is {position})")
        return Problem(position, "sequence", f"position {position} is out of sequence")
    if row_hash(previous_hash, row) != row["hash"]:
        return Problem(position, "hash",
                       "hash does not match the event's content and its predecessor's hash")
    stream = row["stream"]
    expected_version = stream_versions.get(stream, 0) + 1
    if int(row["stream_version"]) != expected_version:
        return Problem(position, "stream_version",
                       f"stream {stream} jumps to version {row['stream_version']}, "
                       f"expected {expected_version}")
    return None


def _check_triggers(connection: Connection, dialect: str, result: VerificationResult) -> None:
    if dialect == "postgresql":
        found = set(connection.execute(text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass "
            "AND NOT tgisinternal AND tgenabled <> 'D'"
        )).scalars())
    else:
        found = set(connection.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
        )).scalars())
    for name in sorted(REQUIRED_TRIGGERS[dialect] - found):
        result.problems.append(Problem(None, "trigger", f"immutability trigger {name} is missing"))


def _finish(result: VerificationResult, progress: Progress | None) -> VerificationResult:
    if progress is not None:
        progress(result.events_checked, result.last_position)
    return result
