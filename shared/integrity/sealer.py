"""Sealing the log: read the head, check the chain since the previous seal, sign, write the
file, publish it.

A seal vouches only for a log that checks out: the previous seal's position must still hold
the previous seal's hash (else the log was rewritten or cut since: sealing refuses, and
`clearance verify` names the position), and every event after it must link to its predecessor.
The file is written before anything is published, so a broker that is down loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.eventstore import EventStore
from shared.eventstore.dialects import mark
from shared.eventstore.reader import SELECT_EVENTS, fetch, statement
from shared.eventstore.tables import GENESIS_HASH
from shared.eventstore.verify import row_link
from shared.messaging.publisher import Delivery, OutgoingMessage, Publisher

from .seals import (
    EXCHANGE,
    EXCHANGE_TYPE,
    FINGERPRINT_BYTES,
    Seal,
    SealError,
    fingerprint,
    make_seal,
    open_seal,
    seal_bytes,
    write_seal,
)


class SealRefused(SealError):
    """The log does not check out since the previous seal: nothing is sealed."""


class NothingToSeal(SealRefused):
    """The log holds no event yet."""


@dataclass(frozen=True)
class Sealed:
    document: dict[str, Any]
    path: Path

    @property
    def position(self) -> int:
        return int(self.document["position"])

    def as_previous(self, key: Ed25519PrivateKey) -> Seal:
        """This seal as the previous one of the next round."""
        return open_seal(self.document, key.public_key(), source=str(self.path),
                         with_fingerprints=False)


def seal_log(store: EventStore, key: Ed25519PrivateKey, directory: Path,
             previous: Seal | None, *, page: int = 5000,
             now: datetime | None = None) -> Sealed | None:
    """Seal the log's head into a new file in `directory`, following `previous` (the last
    seal, or None for the first); None when the head is where `previous` sealed it."""
    document = store.run(lambda connection: _read_and_sign(connection, store.dialect, key,
                                                           previous, page, now))
    if document is None:
        return None
    return Sealed(document, write_seal(directory, document))


def _read_and_sign(connection: Any, dialect: str, key: Ed25519PrivateKey,
                   previous: Seal | None, page: int, now: datetime | None
                   ) -> dict[str, Any] | None:
    begin = ("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if dialect == "postgresql"
             else "BEGIN")
    statement(connection, begin)
    try:
        return _sign_head(connection, dialect, key, previous, page, now)
    finally:
        statement(connection, "ROLLBACK")


def _sign_head(connection: Any, dialect: str, key: Ed25519PrivateKey, previous: Seal | None,
               page: int, now: datetime | None) -> dict[str, Any] | None:
    m = mark(dialect)
    head = fetch(connection, "SELECT position, hash FROM event_log_head WHERE id = 1")
    head_position, head_hash = (int(head[0][0]), str(head[0][1])) if head else (0, GENESIS_HASH)
    if head_position == 0:
        raise NothingToSeal("the log holds no event: nothing to seal")
    start, previous_hash, log = 1, GENESIS_HASH, None
    if previous is not None:
        if head_position < previous.position:
            raise SealRefused(
                f"the log head is at position {head_position}, before the previous seal's "
                f"position {previous.position} ({previous.source}): the log was cut; run "
                "clearance verify")
        at = fetch(connection, f"SELECT hash FROM events WHERE position = {m}",
                   (previous.position,))
        if not at or at[0][0] != previous.chain_hash:
            raise SealRefused(
                f"position {previous.position} no longer holds the hash the previous seal "
                f"({previous.source}) vouches for: the log was rewritten; run clearance verify")
        if head_position == previous.position:
            return None
        start, previous_hash, log = previous.position + 1, previous.chain_hash, previous.log
    fingerprints = bytearray()
    expected = start
    after = start - 1
    while expected <= head_position:
        rows = fetch(connection, f"{SELECT_EVENTS} WHERE position > {m} AND position <= {m} "
                                 f"ORDER BY position LIMIT {m}", (after, head_position, page))
        if not rows:
            break
        for row in rows:
            position = int(row[0])
            if position != expected:
                raise SealRefused(f"position {expected} is missing: run clearance verify")
            if row_link(row, previous_hash) != row[12]:
                raise SealRefused(f"the hash chain is broken at position {position}: run "
                                  "clearance verify")
            previous_hash = row[12]
            if log is None:
                log = previous_hash
            fingerprints += fingerprint(previous_hash)
            expected += 1
        after = int(rows[-1][0])
    if expected != head_position + 1 or previous_hash != head_hash or log is None:
        raise SealRefused(f"the log head (position {head_position}) does not match the end of "
                          f"the chain (position {expected - 1}): run clearance verify")
    assert len(fingerprints) == (head_position - start + 1) * FINGERPRINT_BYTES
    return make_seal(key, log=log, position=head_position, chain_hash=head_hash,
                     from_position=start, fingerprints=bytes(fingerprints),
                     sealed_at=now or datetime.now(UTC))



# -- publishing ------------------------------------------------------------------------------

def declare_exchange(channel: Any) -> None:
    """`clearance.seals`: durable, fanout (every archiver binds its own queue)."""
    channel.exchange_declare(EXCHANGE, EXCHANGE_TYPE, durable=True, auto_delete=False)


def seal_publisher(amqp_uri: str, *, timeout: float = 10.0) -> Publisher:
    return Publisher(amqp_uri, on_connect=declare_exchange, confirm_timeout=timeout,
                     connect_timeout=timeout)


def seal_message(document: dict[str, Any]) -> OutgoingMessage:
    return OutgoingMessage(
        body=seal_bytes(document), routing_key="seal", exchange=EXCHANGE,
        message_id=f"seal-{document['position']}-{str(document['hash'])[:16]}",
        type="clearance.seal", mandatory=False,  # no archiver bound is not a failure
        headers={"position": int(document["position"]), "key_id": str(document["key_id"])})


def publish(publisher: Publisher, documents: list[dict[str, Any]]) -> list[Delivery]:
    """Publish the seals in order; each one's delivery (confirmed or why not)."""
    return list(publisher.publish([seal_message(d) for d in documents]).deliveries)
