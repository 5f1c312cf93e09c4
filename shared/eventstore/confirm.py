"""Confirming delivered events against the log: trust the log, not the wire.

A consumer rebuilds each event from a broker message, and anyone who can publish to the
broker can write such a message. Before a consumer acts on a batch of delivered events it
confirms them here, with ONE query for the whole batch (in the transaction that records and
writes their effects): each event's stored row, found by event id, joined with the hash of
the event before it in the log.

A delivered event is confirmed when

* the log holds its event id, at the same position, in the same stream, with the same hash;
* and its content (the envelope fields and the data as delivered) really hashes to that
  stored hash: `link(hash of position - 1 (the genesis hash for position 1),
  header_text(envelope), canonical_json(data))`, the chain's own formula (`hashing.py`).

So a message with an unknown id, a genuine id at another position or in another stream, or a
genuine envelope carrying other data (or another type, actor, time...) is refused, with the
reason; the caller makes sure a refused event has no effect.

The texts hashed (`delivered_content`: the header and the canonical data) do not depend on the
log, so a caller may make them before its transaction (the group committer has each worker
make its own while the committer writes), leaving one sha256 per event inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from shared.events.envelope import RecordedEvent

from .dialects import mark
from .hashing import canonical_json, canonical_time, header_text, link
from .tables import GENESIS_HASH

FORGED = "forged"
# What an event's chain hash covers besides the previous hash: (header text, data text); a
# str when the delivered content cannot be hashed (the reason).
Content = tuple[str, str] | str


class Executes(Protocol):
    """What confirming needs of a store transaction (`Transaction.execute`)."""

    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...


class ForgedEvent(Exception):  # noqa: N818 - what it is, not an error of ours
    """A delivered event the log does not confirm; its text starts with `forged: `."""

    def __init__(self, event_id: str, reason: str) -> None:
        super().__init__(f"{FORGED}: {reason}")
        self.event_id = event_id
        self.reason = reason


def confirm_sql(dialect: str, count: int) -> str:
    """The one statement: the stored rows of `count` event ids, with their predecessor's
    hash (both lookups by key: the unique event id, the position)."""
    m = mark(dialect)
    return ("SELECT e.event_id, e.position, e.stream, e.hash, p.hash FROM events e "
            "LEFT JOIN events p ON p.position = e.position - 1 "
            f"WHERE e.event_id IN ({', '.join([m] * count)})")


def delivered_content(event: RecordedEvent) -> Content:
    """The header text and canonical data text of `event` as delivered (what its chain hash
    covers), or why they cannot be made (NaN, an unpaired surrogate: nothing the log holds)."""
    try:
        header = header_text(event.position, event.event_id, event.stream,
                             event.stream_version, event.type, event.version,
                             event.correlation_id, event.causation_id, event.actor,
                             canonical_time(event.occurred_at),
                             canonical_time(event.recorded_at))
        data = event.data
        text = canonical_json(data if type(data) is dict else dict(data))
    except ValueError as exc:
        return f"the content of event {event.event_id} cannot be hashed ({exc})"
    return header, text


def delivered_hash(previous_hash: str, event: RecordedEvent) -> str:
    """The chain hash of `event` as delivered (its envelope fields and data), linked to
    `previous_hash`: what the log computed when it appended the genuine event."""
    content = delivered_content(event)
    if isinstance(content, str):
        raise ValueError(content)
    return link(previous_hash, *content)  # ValueError too for an unpaired surrogate


def mismatch(event: RecordedEvent, stored: Sequence[Any] | None,
             content: Content | None = None) -> str | None:
    """Why `event` (whose `delivered_content` is `content`, made here if None) is not the
    stored row `stored` ((event_id, position, stream, hash, previous hash) or None when the
    log has no such id); None when it is."""
    if stored is None:
        return f"unknown event id {event.event_id!r}"
    _id, position, stream, stored_hash, previous = stored
    if int(position) != event.position:
        return (f"event {event.event_id} is at position {position} in the log, "
                f"not {event.position}")
    if stream != event.stream:
        return f"event {event.event_id} is in stream {stream!r}, not {event.stream!r}"
    if stored_hash != event.hash:
        return f"event {event.event_id} has another hash in the log"
    if previous is None:
        if event.position != 1:
            return f"event {event.event_id} has no predecessor in the log"
        previous = GENESIS_HASH
    if content is None:
        content = delivered_content(event)
    if isinstance(content, str):
        return content
    try:
        content_hash = link(str(previous), *content)
    except ValueError as exc:  # an unpaired surrogate: not UTF-8, nothing the log holds
        return f"the content of event {event.event_id} cannot be hashed ({exc})"
    if content_hash != stored_hash:
        return (f"the content of event {event.event_id} does not hash to its stored hash "
                "(altered envelope or data)")
    return None


def confirm_and_record_sql(count: int, rows: int) -> str:
    """PostgreSQL: the confirming query and the inbox records in ONE statement (one round
    trip for a batch): the stored rows of `count` event ids with their predecessor's hash,
    and the inbox records of the `rows` (consumer, event id, position, stream, hash) whose id,
    position, stream and hash the log holds; rows tagged 's' (stored: event id, position,
    stream, hash, previous hash) and 'r' (recorded: event id, consumer)."""
    ids = ", ".join(["%s"] * count)
    values = ", ".join(["(%s, %s, %s::bigint, %s, %s)"] * rows)
    return (
        "WITH stored AS (SELECT e.event_id, e.position, e.stream, e.hash, p.hash AS previous"
        " FROM events e LEFT JOIN events p ON p.position = e.position - 1"
        f" WHERE e.event_id IN ({ids})),"
        " recorded AS (INSERT INTO inbox (consumer, event_id, position, processed_at)"
        " SELECT v.consumer, v.event_id, v.position, %s"
        f" FROM (VALUES {values}) AS v (consumer, event_id, position, stream, hash)"
        " JOIN stored s ON s.event_id = v.event_id AND s.position = v.position"
        " AND s.stream = v.stream AND s.hash = v.hash"
        " ON CONFLICT (consumer, event_id) DO NOTHING RETURNING consumer, event_id)"
        " SELECT 's', event_id, position, stream, hash, previous FROM stored"
        " UNION ALL SELECT 'r', event_id, NULL, consumer, NULL, NULL FROM recorded"
    )


def confirm_and_record(tx: Executes, handled: Sequence[tuple[str, RecordedEvent]],
                       contents: Sequence[Content], recorded_at: Any
                       ) -> tuple[list[ForgedEvent | None], set[tuple[str, str]]]:
    """PostgreSQL: `confirm` the events of `handled` ((consumer, event) pairs) and record the
    confirmed ones in the inbox in ONE statement (`confirm_and_record_sql`): per pair, None or
    the `ForgedEvent`; and the (consumer, event id) pairs newly recorded (the others are
    duplicates, as a pair repeated after its first occurrence is).

    The statement records an event whose id, position, stream and hash the log holds before
    its content is hashed here; when that content then does not hash to the stored hash (a
    genuine envelope around other data, which only an attack makes), its new inbox record is
    deleted again in `tx` (one more statement), so it stands for nothing: the genuine event,
    when it comes, is not taken for a duplicate."""
    if not handled:
        return [], set()
    ids = list(dict.fromkeys(e.event_id for _, e in handled if "\x00" not in e.event_id))
    rows: dict[tuple[str, str], RecordedEvent] = {}
    for consumer, event in handled:
        if "\x00" not in event.event_id:
            rows.setdefault((consumer, event.event_id), event)
    if not ids:
        return [ForgedEvent(e.event_id, f"unknown event id {e.event_id!r}")
                for _, e in handled], set()
    params: list[Any] = [*ids, recorded_at]
    for (consumer, event_id), event in rows.items():
        params += (consumer, event_id, event.position, event.stream, event.hash)
    found = tx.execute(confirm_and_record_sql(len(ids), len(rows)), params)
    stored = {str(row[1]): row[1:] for row in found if row[0] == "s"}
    new = {(str(row[3]), str(row[1])) for row in found if row[0] == "r"}
    outcomes: list[ForgedEvent | None] = []
    undo: list[tuple[str, str]] = []
    for (consumer, event), content in zip(handled, contents, strict=True):
        reason = mismatch(event, stored.get(event.event_id), content)
        if reason is None:
            outcomes.append(None)
            continue
        if (consumer, event.event_id) in new:
            new.discard((consumer, event.event_id))
            undo.append((consumer, event.event_id))
        outcomes.append(ForgedEvent(event.event_id, reason))
    if undo:
        pairs = ", ".join(["(%s, %s)"] * len(undo))
        tx.execute(f"DELETE FROM inbox WHERE (consumer, event_id) IN ({pairs})",
                   [value for pair in undo for value in pair])
    return outcomes, new


def confirm(tx: Executes, events: Sequence[RecordedEvent],
            contents: Sequence[Content] | None = None) -> list[ForgedEvent | None]:
    """Each of `events` confirmed against the log in ONE query made in `tx`: per event, in
    order, None when the log confirms it, else the `ForgedEvent` saying why not.
    `contents`: their `delivered_content`, if already made."""
    if not events:
        return []
    ids = list(dict.fromkeys(e.event_id for e in events if "\x00" not in e.event_id))
    rows = tx.execute(confirm_sql(tx.dialect, len(ids)), ids) if ids else []
    stored = {str(row[0]): row for row in rows}
    outcomes: list[ForgedEvent | None] = []
    for index, event in enumerate(events):
        content = None if contents is None else contents[index]
        reason = mismatch(event, stored.get(event.event_id), content)
        outcomes.append(None if reason is None else ForgedEvent(event.event_id, reason))
    return outcomes
