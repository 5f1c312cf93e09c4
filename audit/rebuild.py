"""Rebuild every read model from the log, and swap it in without stopping the services.

    result = rebuild(store, progress=...)   # new tables, then an atomic swap
    report = check(store)                   # a fresh rebuild compared with the live tables

Each projection is defined once, by its service (`projections.py`): a table factory and an
`apply(connection, events, table)` used by the live path and by the rebuild alike.

How the swap stays correct while the services run:

1. the new tables `<name>__<token>` are filled from the log up to the head read at the start,
   page by page (live writers go on meanwhile);
2. one write transaction then holds back every append (SQLite: the file's write lock;
   PostgreSQL: the log-head row lock plus ACCESS EXCLUSIVE locks on the live tables), applies
   the events appended since step 1, and renames: live -> `<name>__old_<token>` (dropped),
   new -> live. Readers and writers see the old tables until the commit and the new ones
   after it; a live statement that waited on a swapped table fails once and is retried by the
   consumer's retry queue.

Events not yet delivered to a live consumer when the swap commits are already in the rebuilt
tables; when they are delivered, the projections' idempotence (facts keyed by event id,
inserts that ignore existing keys) makes them no-ops, and the release decision is taken again
from the full set of facts.
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Table, select, text

from services.declaration import projections as declaration
from services.payment import projections as payment
from services.release import projections as release
from services.risk import projections as risk
from shared.events.envelope import RecordedEvent, isoformat
from shared.eventstore import EventStore

Apply = Callable[[Connection, Sequence[RecordedEvent], Table], None]
Progress = Callable[[int, int], None]  # (events applied, position reached)


class Fold(Protocol):
    """A projection's own way to fill its new, empty table from the log in order (optional):
    fed pages of lean rows (see `EventStore.scan`). `prepare` folds a page and returns its
    write (or None); writes run in page order, each in one transaction."""

    def apply_rows(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> None: ...

    def prepare(self, rows: Sequence[Sequence[Any]]) -> Callable[[Connection], None] | None: ...


@dataclass(frozen=True)
class Projection:
    name: str  # the live table
    make_table: Callable[[str], Table]
    apply: Apply
    key: tuple[str, ...]
    fold: Callable[[Table, str], Fold] | None = None  # (new table, dialect) -> Fold


PROJECTIONS = (
    Projection("declaration_status", declaration.status_table, declaration.project,
               ("consignment_id",), declaration.StatusFold),
    Projection("risk_cases", risk.cases_table, risk.project, ("mrn",)),
    Projection("payment_cases", payment.cases_table, payment.project_cases, ("mrn",)),
    Projection("payment_references", payment.references_table, payment.project_references,
               ("reference",)),
    Projection("release_cases", release.cases_table, release.project, ("consignment_id",)),
)


@dataclass
class TableSummary:
    name: str
    rows: int
    digest: str


@dataclass
class RebuildResult:
    events: int
    last_position: int
    seconds: float
    tables: list[TableSummary] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"events": self.events, "last_position": self.last_position,
                "seconds": round(self.seconds, 3),
                "events_per_second": round(self.events / self.seconds) if self.seconds else None,
                "projections": [vars(t) for t in self.tables]}


@dataclass
class Comparison:
    name: str
    live_rows: int
    rebuilt_rows: int
    live_digest: str
    rebuilt_digest: str
    differing_keys: list[str]

    @property
    def identical(self) -> bool:
        return self.live_digest == self.rebuilt_digest


@dataclass
class CheckResult:
    events: int
    comparisons: list[Comparison]

    @property
    def identical(self) -> bool:
        return all(c.identical for c in self.comparisons)

    def to_json(self) -> dict[str, Any]:
        return {"identical": self.identical, "events": self.events,
                "projections": [{**vars(c), "identical": c.identical}
                                for c in self.comparisons]}


def rebuild(store: EventStore, *, page: int = 2000, progress: Progress | None = None) -> RebuildResult:
    """Rebuild every projection into new tables and swap them in (see the module docstring)."""
    token = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    tables = {p.name: p.make_table(f"{p.name}__{token}") for p in PROJECTIONS}
    try:
        applied, reached = _fill(store, tables, page, progress)
        with store.transaction() as tx:
            _hold_everything(tx, store.dialect)
            applied += _catch_up(tx, tables, reached, page)
            reached = max(reached, _head(tx.connection))
            for projection in PROJECTIONS:
                old = f"{projection.name}__old_{token}"
                tx.connection.execute(text(f'ALTER TABLE "{projection.name}" RENAME TO "{old}"'))
                tx.connection.execute(text(
                    f'ALTER TABLE "{tables[projection.name].name}" RENAME TO "{projection.name}"'))
                tx.connection.execute(text(f'DROP TABLE "{old}"'))
    except BaseException:
        _drop(store, tables.values())
        raise
    result = RebuildResult(applied, reached, time.perf_counter() - started)
    with store.engines.reader.connect() as connection:
        for projection in PROJECTIONS:
            rows = _rows(connection, projection.make_table(projection.name), projection.key)
            result.tables.append(TableSummary(projection.name, len(rows), _digest(rows)))
    return result


def check(store: EventStore, *, page: int = 2000, progress: Progress | None = None) -> CheckResult:
    """Rebuild into scratch tables and compare them with the live ones (nothing replaced)."""
    token = uuid.uuid4().hex[:8]
    tables = {p.name: p.make_table(f"{p.name}__check_{token}") for p in PROJECTIONS}
    try:
        applied, reached = _fill(store, tables, page, progress)
        comparisons = []
        with store.transaction() as tx:
            _hold_everything(tx, store.dialect)
            applied += _catch_up(tx, tables, reached, page)
            for projection in PROJECTIONS:
                live = _rows(tx.connection, projection.make_table(projection.name), projection.key)
                rebuilt = _rows(tx.connection, tables[projection.name], projection.key)
                comparisons.append(Comparison(
                    projection.name, len(live), len(rebuilt), _digest(live), _digest(rebuilt),
                    _differences(live, rebuilt, projection.key)))
    finally:
        _drop(store, tables.values())
    return CheckResult(applied, comparisons)


def rebuild_projection(store: EventStore, name: str, *, page: int = 2000,
                       keep: bool = False) -> int:
    """Fill one projection (`name`, a live table) from the whole log into a fresh scratch
    table, as `rebuild` does for it; the scratch table is dropped unless `keep`. Returns the
    number of events applied (the benchmark of the status projection, S4)."""
    projection = next(p for p in PROJECTIONS if p.name == name)
    table = projection.make_table(f"{name}__scratch_{uuid.uuid4().hex[:8]}")
    only = Projection(table.name, projection.make_table, projection.apply, projection.key,
                      projection.fold)
    try:
        applied, _ = _fill(store, {table.name: table}, page, None, (only,))
    finally:
        if not keep:
            _drop(store, [table])
    return applied


# -- internals --------------------------------------------------------------------------------
def _fill(store: EventStore, tables: dict[str, Table], page: int,
          progress: Progress | None,
          projections: Sequence[Projection] = PROJECTIONS) -> tuple[int, int]:
    """Fill the new tables from the log up to the head read now, one transaction per page.
    Projections with a `fold` get lean rows; when every one has, the log is read as lean rows
    only (`EventStore.scan`, the next page read while this one is applied).

    While it runs, the objects the process already had are frozen for the garbage collector
    (gc.freeze): each page allocates ~10,000 containers that live for the page, and without
    it every other page set off a full collection of everything else in the process
    (~35 ms each, ~18% of the fill's CPU). They are unfrozen after; nothing is kept."""
    with store.engines.writer.begin() as connection:
        for table in tables.values():
            table.create(connection)
    folds = {p.name: p.fold(tables[p.name], store.dialect) for p in projections if p.fold}
    paged = [p for p in projections if p.fold is None]
    up_to = store.last_position()
    gc.freeze()
    try:
        if not paged:
            return _fill_folded(store, folds, up_to, page, progress)
        return _fill_paged(store, tables, paged, folds, up_to, page, progress)
    finally:
        gc.unfreeze()


def _fill_folded(store: EventStore, folds: dict[str, Fold], up_to: int, page: int,
                 progress: Progress | None) -> tuple[int, int]:
    """Read, fold and write overlap: three threads, one page each."""
    def write(writes: list[Callable[[Connection], None]]) -> None:
        with store.engines.writer.begin() as connection:
            for page_write in writes:
                page_write(connection)

    applied = reached = 0
    with ThreadPoolExecutor(1, thread_name_prefix="rebuild-write") as writer:
        pending: Future[None] | None = None
        wanted = _fields_wanted(folds.values())
        for rows in store.scan(0, up_to, page, wanted):
            writes = [w for w in (f.prepare(rows) for f in folds.values()) if w is not None]
            if pending is not None:
                pending.result()  # at most one page in flight; a failure stops the fill
                if progress is not None:
                    progress(applied, reached)
            pending = writer.submit(write, writes)
            applied += len(rows)
            reached = rows[-1][0]
        if pending is not None:
            pending.result()
            if progress is not None:
                progress(applied, reached)
    return applied, reached


def _fill_paged(store: EventStore, tables: dict[str, Table], paged: Sequence[Projection],
                folds: dict[str, Fold], up_to: int, page: int,
                progress: Progress | None) -> tuple[int, int]:
    """Page by page as RecordedEvents, each page the position window (after, after + page]
    (positions are gap-free; see `EventStore.scan` for why a window and not a LIMIT)."""
    applied = reached = 0
    after = 0
    while after < up_to:
        end = min(after + page, up_to)
        batch = store.read_all(after, page, up_to=end)
        after = end
        if not batch:
            continue
        with store.engines.writer.begin() as connection:
            _apply(connection, tables, batch, paged)
            if folds:
                lean = [(e.position, e.event_id, e.type, e.correlation_id,
                         isoformat(e.occurred_at), e.data) for e in batch]
                for fold in folds.values():
                    fold.apply_rows(connection, lean)
        applied += len(batch)
        reached = batch[-1].position
        if progress is not None:
            progress(applied, reached)
    return applied, reached


def _fields_wanted(folds: Any) -> dict[str, tuple[str, ...]] | None:
    """The data fields the folds read, per event type (None: whole payloads)."""
    wanted: dict[str, set[str]] = {}
    for fold in folds:
        fields = getattr(fold, "FIELDS", None)
        if fields is None:
            return None
        for event_type, names in fields.items():
            wanted.setdefault(event_type, set()).update(names)
    return {t: tuple(sorted(names)) for t, names in wanted.items()}


def _catch_up(tx: Any, tables: dict[str, Table], after: int, page: int) -> int:
    applied = 0
    while True:
        batch = tx.read_all(after, page)
        if not batch:
            return applied
        _apply(tx.connection, tables, batch)
        applied += len(batch)
        after = batch[-1].position


def _apply(connection: Connection, tables: dict[str, Table], batch: Sequence[RecordedEvent],
           projections: Sequence[Projection] = PROJECTIONS) -> None:
    for projection in projections:
        projection.apply(connection, batch, tables[projection.name])


def _hold_everything(tx: Any, dialect: str) -> None:
    tx.lock_appends()
    if dialect == "postgresql":
        names = ", ".join(f'"{p.name}"' for p in PROJECTIONS)
        tx.connection.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))


def _head(connection: Connection) -> int:
    return int(connection.execute(text("SELECT position FROM event_log_head WHERE id = 1"))
               .scalar_one())


def _drop(store: EventStore, tables: Sequence[Table] | Any) -> None:
    with store.engines.writer.begin() as connection:
        for table in tables:
            table.drop(connection, checkfirst=True)


Row = dict[str, Any]


def _rows(connection: Connection, table: Table, key: tuple[str, ...]) -> list[Row]:
    query = select(table).order_by(*[table.c[k] for k in key])
    return [{k: _plain(v) for k, v in row.items()} for row in connection.execute(query).mappings()]


def _plain(value: Any) -> Any:
    return isoformat(value) if isinstance(value, datetime) else value


def _digest(rows: list[Row]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, separators=(",", ":")).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _differences(live: list[Row], rebuilt: list[Row], key: tuple[str, ...],
                 limit: int = 20) -> list[str]:
    def keyed(rows: list[Row]) -> dict[str, Row]:
        return {"/".join(str(r[k]) for k in key): r for r in rows}

    a, b = keyed(live), keyed(rebuilt)
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))[:limit]
