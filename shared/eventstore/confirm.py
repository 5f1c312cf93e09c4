"""Confirming delivered events against the log: trust the log, not the wire.

A consumer rebuilds each event from a broker message, and anyone who can publish to the
broker can write such a message. Before a consumer acts on delivered events it confirms them
here, in the transaction that records and writes their effects.

A delivered event is confirmed when

* the log holds its event id, at the same position, in the same stream, with the same hash;
* and its content (the envelope fields and the data as delivered) really hashes to that
  hash: `link(hash of position - 1 (the genesis hash for position 1),
  header_text(envelope), canonical_json(data))`, the chain's own formula (`hashing.py`).

The relay publishes each event with its predecessor's hash (`previous_hash`), so the second
point needs no query: the consumer's worker checks it before the transaction (`vouch`), and
the transaction checks the first by key while it writes the inbox records (`record_held_sql`,
`confirm_and_record`: one statement for a batch, as the inbox records alone were). An event
without a previous hash (published before it was carried), a redelivered duplicate and a
forgery are told apart by one more query (`confirm`), which reads the stored row by event id
with its predecessor's hash and says why an event is refused.

So a message with an unknown id, a genuine id at another position or in another stream, or a
genuine envelope carrying other data (or another type, actor, time, previous hash...) is
refused, with the reason; the caller makes sure a refused event has no effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from shared.events.envelope import RecordedEvent

from .dialects import mark, time_param
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


class Records(Executes, Protocol):
    """... and what recording confirmed events in the inbox needs of it."""

    def record_inbox_many(self, handled: Sequence[tuple[str, str, int]]
                          ) -> set[tuple[str, str]]: ...


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


def vouch(event: RecordedEvent, content: Content) -> bool | str:
    """What `event` proves of itself when it carries its predecessor's hash
    (`RecordedEvent.previous_hash`, published by the relay): True when its content
    (`delivered_content`) hashes to its `hash` on top of that hash, the reason when it does
    not; False when it carries none (the log must then give the predecessor's hash).

    True is worth as much as the log's own predecessor: sha256 is preimage resistant, so
    content hashing to a hash the log holds at the event's position is the content the log
    hashed there (a previous hash is 64 hex digits, so where it ends and the header begins is
    fixed); the log then need only hold (position, event id, stream, hash), found by key."""
    previous = event.previous_hash
    if previous is None:
        return False
    if isinstance(content, str):
        return content
    if len(previous) != len(GENESIS_HASH) or not _HEX.issuperset(previous):
        return f"event {event.event_id} carries a malformed previous hash"
    try:
        content_hash = link(previous, *content)
    except ValueError as exc:  # an unpaired surrogate: not UTF-8, nothing the log holds
        return f"the content of event {event.event_id} cannot be hashed ({exc})"
    if content_hash != event.hash:
        return (f"the content of event {event.event_id} does not hash to its hash on top of "
                "the previous hash it carries (altered envelope, data or previous hash)")
    return True


_HEX = frozenset("0123456789abcdef")


def record_held_sql(dialect: str, rows: int) -> str:
    """The inbox records of `rows` (consumer, event id, position, stream, hash), one
    statement for both backends, for those whose position, event id, stream and hash the
    log holds (a join by primary key); the (consumer, event id) of each newly recorded."""
    m = mark(dialect)
    values = ", ".join([f"({m}, {m}, CAST({m} AS bigint), {m}, {m})"] * rows)
    return (f"WITH v (consumer, event_id, position, stream, hash) AS (VALUES {values})"
            " INSERT INTO inbox (consumer, event_id, position, processed_at)"
            f" SELECT v.consumer, v.event_id, v.position, {m} FROM v"
            " JOIN events e ON e.position = v.position AND e.event_id = v.event_id"
            " AND e.stream = v.stream AND e.hash = v.hash"
            " WHERE true"  # SQLite: an INSERT ... SELECT before ON CONFLICT needs a WHERE
            " ON CONFLICT (consumer, event_id) DO NOTHING RETURNING consumer, event_id")


Handled = tuple[str, RecordedEvent, Content, bool | str]  # consumer, event, content, vouch


def confirm_and_record(tx: Records, handled: Sequence[Handled], recorded_at: Any
                       ) -> tuple[list[ForgedEvent | None], set[tuple[str, str]]]:
    """Confirm the events of `handled` ((consumer, event, its `delivered_content`, its
    `vouch`) tuples) and record the confirmed ones in the inbox, in `tx`: per tuple, None or
    the `ForgedEvent`; and the (consumer, event id) pairs newly recorded (the others are
    duplicates, as a pair repeated after its first occurrence is).

    An event that vouches for its content is recorded by ONE statement for the batch, which
    joins it to the log by key (`record_held_sql`): the usual case, as the relay publishes.
    Only the events left over (carrying no previous hash, or not recorded by it: a
    redelivered duplicate, or one the log does not hold) are `confirm`ed (one more query),
    so that a duplicate is told from a forgery, with the reason; the confirmed ones among
    those that carried no previous hash are then recorded."""
    outcomes: list[ForgedEvent | None] = [
        ForgedEvent(event.event_id, check) if isinstance(check, str) else None
        for _, event, _, check in handled]
    rows: dict[tuple[str, str], RecordedEvent] = {}
    for consumer, event, _, check in handled:
        if check is True and "\x00" not in event.event_id + event.stream:
            rows.setdefault((consumer, event.event_id), event)
    new: set[tuple[str, str]] = set()
    if rows:
        params: list[Any] = []
        for (consumer, event_id), event in rows.items():
            params += (consumer, event_id, event.position, event.stream, event.hash)
        params.append(time_param(tx.dialect, recorded_at))
        found = tx.execute(record_held_sql(tx.dialect, len(rows)), params)
        new = {(str(consumer), str(event_id)) for consumer, event_id in found}
    rest = [index for index, (consumer, event, _, check) in enumerate(handled)
            if outcomes[index] is None
            and (check is not True or (consumer, event.event_id) not in new)]
    if not rest:
        return outcomes, new
    refusals = confirm(tx, [handled[i][1] for i in rest], [handled[i][2] for i in rest])
    unrecorded: list[tuple[str, str, int]] = []
    for index, refused in zip(rest, refusals, strict=True):
        consumer, event, _, check = handled[index]
        if refused is not None:
            outcomes[index] = refused
        elif check is not True:  # confirmed by the log's predecessor: not recorded yet
            unrecorded.append((consumer, event.event_id, event.position))
    if unrecorded:
        new |= tx.record_inbox_many(unrecorded)
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
