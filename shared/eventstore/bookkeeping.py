"""The consumers' and relays' bookkeeping beside the log: the inbox (event ids a consumer has
handled), relay checkpoints (the last position the broker confirmed) and leases (one holder
at a time). One driver-level statement each; the same SQL on both backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from shared.events.envelope import utcnow

from .dialects import mark, time_param
from .reader import fetch


def inbox_contains(connection: Any, dialect: str, consumer: str, event_id: str) -> bool:
    m = mark(dialect)
    return bool(fetch(connection, f"SELECT 1 FROM inbox WHERE consumer = {m} AND event_id = {m}",
                      (consumer, event_id)))


def record_inbox(connection: Any, dialect: str,
                 handled: Sequence[tuple[str, str, int]]) -> set[tuple[str, str]]:
    """Record many (consumer, event_id, position) in one statement; the (consumer, event_id)
    pairs that were new (the others are duplicates, as is a pair repeated within `handled`
    after its first occurrence)."""
    rows: dict[tuple[str, str], int] = {}
    for consumer, event_id, position in handled:
        rows.setdefault((consumer, event_id), position)
    if not rows:
        return set()
    m = mark(dialect)
    now = time_param(dialect, utcnow())
    values = ", ".join([f"({m}, {m}, {m}, {m})"] * len(rows))
    params: list[Any] = []
    for (consumer, event_id), position in rows.items():
        params += (consumer, event_id, position, now)
    found = fetch(connection,
                  "INSERT INTO inbox (consumer, event_id, position, processed_at)"
                  f" VALUES {values} ON CONFLICT (consumer, event_id) DO NOTHING"
                  " RETURNING consumer, event_id", params)
    return {(str(c), str(e)) for c, e in found}


def checkpoint(connection: Any, dialect: str, name: str) -> int:
    rows = fetch(connection, f"SELECT position FROM relay_checkpoints WHERE name = {mark(dialect)}",
                 (name,))
    return int(rows[0][0]) if rows else 0


def save_checkpoint(connection: Any, dialect: str, name: str, position: int,
                    lease: str | None = None, owner: str | None = None) -> bool:
    """Move a checkpoint forward (never back). With `lease`/`owner`, only while `owner` still
    holds the lease (a fence against a replica whose lease was taken over): the lease check
    is part of the upsert, so the fence holds at the moment of the write."""
    m = mark(dialect)
    row = f"{m}, {m}, {m}"
    params: tuple[Any, ...] = (name, position, time_param(dialect, utcnow()))
    source = f"VALUES ({row})"
    if lease is not None:
        source = (f"SELECT {row} WHERE EXISTS (SELECT 1 FROM leases"
                  f" WHERE name = {m} AND owner = {m})")
        params += (lease, owner)
    sql = (f"INSERT INTO relay_checkpoints (name, position, updated_at) {source}"
           " ON CONFLICT (name) DO UPDATE SET position = excluded.position,"
           " updated_at = excluded.updated_at"
           " WHERE relay_checkpoints.position < excluded.position")
    cursor = connection.cursor()
    try:
        cursor.execute(sql, params)
        written = int(cursor.rowcount) == 1
    finally:
        cursor.close()
    if written or lease is None:
        return True
    # Nothing written: the lease is not ours, or the checkpoint was already as far.
    return holds_lease(connection, dialect, lease, str(owner))


def holds_lease(connection: Any, dialect: str, name: str, owner: str) -> bool:
    m = mark(dialect)
    return bool(fetch(connection, f"SELECT 1 FROM leases WHERE name = {m} AND owner = {m}",
                      (name, owner)))


def acquire_lease(connection: Any, dialect: str, name: str, owner: str,
                  ttl: timedelta, now: datetime | None = None) -> bool:
    """Take or renew the lease `name` for `owner`; False while someone else holds it.

    On PostgreSQL the expiry is set and compared on the DATABASE's clock (`clock_timestamp()`),
    never a replica's: replicas on hosts whose clocks disagree cannot take a lease that has
    not run out, nor keep one that has. (SQLite is one file on one host: its processes share
    a clock.) A holder counts its own lease with its monotonic clock from before it asked, so
    it always stops before the database lets anyone else take over."""
    m = mark(dialect)
    if dialect == "postgresql" and now is None:
        found = fetch(connection,
                      "INSERT INTO leases (name, owner, expires_at)"
                      " VALUES (%s, %s, clock_timestamp() + make_interval(secs => %s))"
                      " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                      " expires_at = excluded.expires_at"
                      " WHERE leases.owner = excluded.owner"
                      " OR leases.expires_at < clock_timestamp()"
                      " RETURNING owner",
                      (name, owner, ttl.total_seconds()))
        return bool(found)
    now = now or utcnow()
    found = fetch(connection,
                  f"INSERT INTO leases (name, owner, expires_at) VALUES ({m}, {m}, {m})"
                  " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                  " expires_at = excluded.expires_at"
                  f" WHERE leases.owner = excluded.owner OR leases.expires_at < {m}"
                  " RETURNING owner",
                  (name, owner, time_param(dialect, now + ttl), time_param(dialect, now)))
    return bool(found)


def release_lease(connection: Any, dialect: str, name: str, owner: str) -> None:
    m = mark(dialect)
    cursor = connection.cursor()
    try:
        cursor.execute(f"DELETE FROM leases WHERE name = {m} AND owner = {m}", (name, owner))
    finally:
        cursor.close()
