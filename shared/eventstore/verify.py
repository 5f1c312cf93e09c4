"""Verification of the whole log: the hash chain, gap-free positions, stream versions without
holes, the log head, and the immutability triggers.

Walks the log in position order (page by page, so memory stays flat apart from one integer per
stream) and reports the first position where something is wrong:

- a position missing (an event deleted) or out of sequence (rows renumbered or swapped);
- a stored hash that does not match sha256(previous hash | the row's own content) (an event
  altered, or one removed or inserted behind it, or two swapped);
- a stream version that is not the previous one + 1 (a hole in a stream);
- the log head pointing elsewhere than the last event;
- an immutability trigger missing, disabled, replica-only (PostgreSQL) or altered: each
  trigger's definition and its function's body must be what migration 0001 creates;
- with seals (`shared/integrity/seals.py`): a seal that does not verify; a chain hash that
  differs from a seal's fingerprint (a REWRITE, even a consistent one with the head fixed:
  the first position that differs is named); a log that ends before a seal's position (a
  TRUNCATION: the first missing position is named). Each seal's fingerprints are loaded when
  the walk reaches its first position and dropped after its last.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.integrity.seals import Seal, SealError, SealSet, key_id

from .dialects import mark, read_time
from .hashing import canonical_time, header_text, link
from .reader import SELECT_EVENTS, fetch, statement
from .store import EventStore
from .tables import GENESIS_HASH

Progress = Callable[[int, int], None]  # (events checked, last position)

# What migration 0001 creates, as the database shows it back (whitespace normalised):
# PostgreSQL's pg_get_triggerdef (table unqualified) and SQLite's sqlite_master.sql.
EXPECTED_TRIGGERS = {
    "postgresql": {
        "events_immutable": "CREATE TRIGGER events_immutable BEFORE DELETE OR UPDATE ON events "
                            "FOR EACH ROW EXECUTE FUNCTION clearance_events_immutable()",
        "events_no_truncate": "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
                              "FOR EACH STATEMENT EXECUTE FUNCTION clearance_events_immutable()",
    },
    "sqlite": {
        "events_immutable": "CREATE TRIGGER events_immutable BEFORE UPDATE ON events "
                            "BEGIN SELECT RAISE(ABORT, 'events are immutable: UPDATE rejected'); "
                            "END",
        "events_no_delete": "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
                            "BEGIN SELECT RAISE(ABORT, 'events are immutable: DELETE rejected'); "
                            "END",
    },
}
REQUIRED_TRIGGERS = {dialect: set(triggers) for dialect, triggers in EXPECTED_TRIGGERS.items()}
TRIGGER_FUNCTION = "clearance_events_immutable"
# pg_trigger.tgenabled: O fires in origin and local sessions (the default), A always; D never,
# R only in sessions with session_replication_role = replica (so never in normal ones).
_ENABLED_STATES = {"O", "A"}
_DISABLED_STATES = {"D": "disabled", "R": "replica-only (never fires in normal sessions)"}


def _expected_function_body() -> str:
    """The body (between the $$) of the trigger function as migration 0001 defines it."""
    migration = importlib.import_module("shared.eventstore.migrations.versions.0001_event_log")
    source: str = migration.PG_IMMUTABLE
    return source.split("$$")[1]


def _normal(sql: str) -> str:
    return " ".join(sql.split())


@dataclass(frozen=True)
class Problem:
    position: int | None
    kind: str
    detail: str


@dataclass
class SealReport:
    """What the seals said: how many were checked against the log, the highest position any
    vouches for, and the key."""

    checked: int = 0
    invalid: int = 0
    latest_position: int | None = None
    key_id: str | None = None
    contradicted: int = 0  # seals a rewrite contradicts (the first one is the problem named)

    def to_json(self) -> dict[str, object]:
        return {"checked": self.checked, "invalid": self.invalid,
                "latest_position": self.latest_position, "key_id": self.key_id,
                "contradicted": self.contradicted}


@dataclass
class VerificationResult:
    events_checked: int = 0
    last_position: int = 0
    problems: list[Problem] = field(default_factory=list)
    seals: SealReport = field(default_factory=SealReport)

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
            "seals": self.seals.to_json(),
        }


def verify_log(
    store: EventStore,
    *,
    page: int = 5000,
    progress: Progress | None = None,
    stop_at_first: bool = True,
    seals: SealSet | None = None,
) -> VerificationResult:
    """Walk the whole log in one read snapshot (see the module docstring), checking it against
    `seals` too when given."""
    return store.run(lambda connection: _verify(connection, store.dialect, page, progress,
                                                stop_at_first, seals))


def _verify(connection: Any, dialect: str, page: int, progress: Progress | None,
            stop_at_first: bool, seals: SealSet | None) -> VerificationResult:
    result = VerificationResult()
    checker = _SealChecker(seals, result)
    m = mark(dialect)
    begin = ("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if dialect == "postgresql"
             else "BEGIN")
    statement(connection, begin)
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
                if problem is None and checker.active:
                    problem = checker.observe(position, row[12])
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
        checker.finish(result.last_position)
    finally:
        statement(connection, "ROLLBACK")
    return _finish(result, progress)



def row_link(row: Sequence[Any], previous_hash: str) -> str:
    """The chain hash a row (in `SELECT_EVENTS` order) should have after `previous_hash`."""
    (position, event_id, stream, stream_version, type_, version, correlation_id, causation_id,
     actor, occurred_at, recorded_at, data, _) = row
    header = header_text(int(position), event_id, stream, stream_version, type_, version,
                         correlation_id, causation_id, actor,
                         canonical_time(read_time(occurred_at)),
                         canonical_time(read_time(recorded_at)))
    return link(previous_hash, header, data)


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
    if row_link(row, previous_hash) != row[12]:
        return Problem(position, "hash",
                       "hash does not match the event's content and its predecessor's hash")
    stream, stream_version = row[2], row[3]
    expected_version = stream_versions.get(stream, 0) + 1
    if int(stream_version) != expected_version:
        return Problem(position, "stream_version",
                       f"stream {stream} jumps to version {stream_version}, "
                       f"expected {expected_version}")
    return None


class _SealChecker:
    """Compares the chain hashes the walk reads, in position order, with the seals: each
    seal's fingerprints are read when the walk reaches its first position and dropped after
    its last, so only the seals covering the current position are held."""

    def __init__(self, seals: SealSet | None, result: VerificationResult) -> None:
        self.result = result
        self.seals = seals
        self.pending: list[Seal] = []  # by from_position, not reached yet
        self.current: list[Seal] = []  # covering the walk's position, with fingerprints
        # every seal not yet met in full nor contradicted, by signature
        self.unfinished: dict[str, Seal] = {}
        self.rewrite_reported = False
        report = result.seals
        if seals is None:
            return
        report.invalid = len(seals.invalid)
        for source, reason in seals.invalid:
            result.problems.append(Problem(None, "seal", f"seal {source}: {reason}"))
        if seals.unchecked:
            result.problems.append(Problem(
                None, "seal", f"{len(seals.unchecked)} seal file(s) but no public key to check "
                              "them against (set SEAL_PUBLIC_KEY_FILE or pass "
                              "--seal-public-key)"))
        if seals.public_key is not None:
            report.key_id = key_id(seals.public_key)
        report.checked = len(seals.seals)
        report.latest_position = seals.latest_position
        self.pending = list(seals.seals)  # sorted by from_position
        self.pending.reverse()  # popped from the end
        self.unfinished = {seal.signature: seal for seal in seals.seals}

    @property
    def active(self) -> bool:
        return bool(self.unfinished)

    def observe(self, position: int, chain_hash: str) -> Problem | None:
        problem: Problem | None = None
        if position == 1:
            for seal in list(self.unfinished.values()):
                if seal.log != chain_hash:
                    problem = problem or self._rewrite(
                        seal, 1, f"position 1 differs from seal {seal.name}: its log begins "
                                 f"with hash {seal.log[:16]}..., this one with "
                                 f"{chain_hash[:16]}... (a rewrite from position 1, or a seal "
                                 "of another log)")
        while self.pending and self.pending[-1].from_position <= position:
            seal = self.pending.pop()
            if seal.signature not in self.unfinished:
                continue
            if seal.from_position < position:  # positions skipped: reported as missing
                self._drop(seal)
                continue
            assert self.seals is not None
            try:
                self.current.append(self.seals.fingerprints_of(seal))
            except SealError as exc:
                self._drop(seal)
                self.result.problems.append(Problem(None, "seal", f"seal {seal.source}: {exc}"))
        fingerprint = chain_hash[:16]
        for seal in list(self.current):
            if seal.fingerprint_at(position) != fingerprint or (
                    position == seal.position and seal.chain_hash != chain_hash):
                where = ("" if seal.from_position == 1 else
                         f" (the seal covers positions {seal.from_position}..{seal.position}; "
                         f"an earlier one it does not cover may differ too)")
                problem = problem or self._rewrite(
                    seal, position, f"position {position} differs from seal {seal.name} "
                                    f"(sealed at {seal.sealed_at}, up to position "
                                    f"{seal.position}): the log was rewritten{where}")
            elif position >= seal.position:
                self._drop(seal)
        return problem

    def _rewrite(self, seal: Seal, position: int, detail: str) -> Problem | None:
        self._drop(seal)
        self.result.seals.contradicted += 1
        if self.rewrite_reported:
            return None
        self.rewrite_reported = True
        return Problem(position, "rewrite", detail)

    def _drop(self, seal: Seal) -> None:
        self.unfinished.pop(seal.signature, None)
        self.current = [s for s in self.current if s.signature != seal.signature]

    def finish(self, last_position: int) -> None:
        """After the whole log: a seal beyond its end means the tail was cut off."""
        beyond = [s for s in self.unfinished.values() if s.position > last_position]
        if not beyond:
            return
        furthest = max(beyond, key=lambda s: s.position)
        missing = last_position + 1
        self.result.problems.append(Problem(
            missing, "truncation",
            f"the log ends at position {last_position}, but seal {furthest.name} (sealed at "
            f"{furthest.sealed_at}) vouches for position {furthest.position}: positions "
            f"{missing}..{furthest.position} are missing"))


def _check_triggers(connection: Any, dialect: str, result: VerificationResult) -> None:
    """Each immutability trigger present, enabled, and defined as migration 0001 defines it
    (on PostgreSQL its function's body and language too)."""
    expected = EXPECTED_TRIGGERS[dialect]
    found: dict[str, str | None] = {}  # name -> what is wrong with it (None: nothing)
    if dialect == "postgresql":
        rows = fetch(connection, """
            SELECT t.tgname, t.tgenabled, pg_get_triggerdef(t.oid), n.nspname, p.proname,
                   l.lanname, p.prosrc
            FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_proc p ON p.oid = t.tgfoid
            JOIN pg_language l ON l.oid = p.prolang
            WHERE t.tgrelid = 'events'::regclass AND NOT t.tgisinternal""")
        body = _normal(_expected_function_body())
        for name, enabled, definition, schema, function, language, source in rows:
            if name not in expected:
                continue
            shown = re.sub(rf"\bON {re.escape(schema)}\.events\b", "ON events",
                           _normal(definition))
            if isinstance(enabled, bytes):
                enabled = enabled.decode()
            if enabled not in _ENABLED_STATES:
                found[name] = _DISABLED_STATES.get(enabled, f"in state {enabled!r}")
            elif shown != expected[name]:
                found[name] = f"altered (defined as: {shown})"
            elif (function != TRIGGER_FUNCTION or language != "plpgsql"
                  or _normal(source) != body):
                found[name] = f"altered (its function {function} is not the migration's)"
            else:
                found[name] = None
    else:
        rows = fetch(connection, "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                 "AND tbl_name = 'events'")
        for name, sql in rows:
            if name in expected:
                shown = _normal(sql or "")
                found[name] = None if shown == expected[name] else f"altered (defined as: {shown})"
    for name in sorted(expected):
        if name not in found:
            result.problems.append(Problem(None, "trigger",
                                           f"immutability trigger {name} is missing"))
        elif found[name] is not None:
            result.problems.append(Problem(None, "trigger",
                                           f"immutability trigger {name} is {found[name]}"))


def _finish(result: VerificationResult, progress: Progress | None) -> VerificationResult:
    if progress is not None:
        progress(result.events_checked, result.last_position)
    return result
