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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .dialects import mark, read_time
from .hashing import canonical_time, header_text, link
from .reader import SELECT_EVENTS, fetch
from .store import EventStore
from .tables import GENESIS_HASH

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
    """Walk the whole log in one read snapshot (see the module docstring)."""
    return store.run(lambda connection: _verify(connection, store.dialect, page, progress,
                                                stop_at_first))


def _verify(connection: Any, dialect: str, page: int, progress: Progress | None,
            stop_at_first: bool) -> VerificationResult:
    result = VerificationResult()
    m = mark(dialect)
    begin = ("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if dialect == "postgresql"
             else "BEGIN")
    _statement(connection, begin)
    try:
        _check_triggers(connection, dialect, result)
        heads = fetch(connection, "SELECT position, hash FROM event_log_head WHERE id = 1")
        previous_hash = GENESIS_HASH
        expected_position = 1
        stream_versions: dict[str, int] = {}
        after = -1  # also catches rows at position 0 or below, inserted behind our back
        while True:
            rows = fetch(connection, f"{SELECT_EVENTS} WHERE position > {m} "
                                     f"ORDER BY position LIMIT {m}", (after, page))
            if not rows:
                break
            for row in rows:
                position = int(row[0])
                problem = _check_row(row, position, expected_position, previous_hash,
                                     stream_versions)
                if problem is not None:
                    result.problems.append(problem)
                    if stop_at_first:
                        return _finish(result, progress)
                previous_hash = row[12]
                expected_position = position + 1
                stream_versions[row[2]] = int(row[3])
                result.events_checked += 1
                result.last_position = position
            after = int(rows[-1][0])
            if progress is not None:
                progress(result.events_checked, result.last_position)
        if heads:
            head_position, head_hash = int(heads[0][0]), heads[0][1]
            if head_position != result.last_position or head_hash != previous_hash:
                result.problems.append(Problem(
                    result.last_position + 1 if head_position > result.last_position
                    else head_position,
                    "head",
                    f"log head says position {head_position}, the log ends at "
                    f"{result.last_position}",
                ))
    finally:
        _statement(connection, "ROLLBACK")
    return _finish(result, progress)


def _statement(connection: Any, sql: str) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def _check_row(
    row: Sequence[Any],
    position: int,
    expected_position: int,
    previous_hash: str,
    stream_versions: dict[str, int],
) -> Problem | None:
    """`row` in `SELECT_EVENTS` order: position, event_id, stream, stream_version, type,
    version, correlation_id, causation_id, actor, occurred_at, recorded_at, data, hash."""
    if position != expected_position:
        if position > expected_position:
            return Problem(expected_position, "missing",
                           f"position {expected_position} is missing (next is {position})")
        return Problem(position, "sequence", f"position {position} is out of sequence")
    (_, event_id, stream, stream_version, type_, version, correlation_id, causation_id, actor,
     occurred_at, recorded_at, data, stored_hash) = row
    header = header_text(position, event_id, stream, stream_version, type_, version,
                         correlation_id, causation_id, actor,
                         canonical_time(read_time(occurred_at)),
                         canonical_time(read_time(recorded_at)))
    if link(previous_hash, header, data) != stored_hash:
        return Problem(position, "hash",
                       "hash does not match the event's content and its predecessor's hash")
    expected_version = stream_versions.get(stream, 0) + 1
    if int(stream_version) != expected_version:
        return Problem(position, "stream_version",
                       f"stream {stream} jumps to version {stream_version}, "
                       f"expected {expected_version}")
    return None


def _check_triggers(connection: Any, dialect: str, result: VerificationResult) -> None:
    if dialect == "postgresql":
        rows = fetch(connection, "SELECT tgname FROM pg_trigger WHERE tgrelid = "
                                 "'events'::regclass AND NOT tgisinternal AND tgenabled <> 'D'")
    else:
        rows = fetch(connection, "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                 "AND tbl_name = 'events'")
    found = {row[0] for row in rows}
    for name in sorted(REQUIRED_TRIGGERS[dialect] - found):
        result.problems.append(Problem(None, "trigger", f"immutability trigger {name} is missing"))


def _finish(result: VerificationResult, progress: Progress | None) -> VerificationResult:
    if progress is not None:
        progress(result.events_checked, result.last_position)
    return result
