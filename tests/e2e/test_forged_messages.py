"""The forged-message attack end to end (issue 11, "Consumers trust the log"), on SQLite and on
PostgreSQL: someone who can publish to the broker publishes a `PaymentReceived` (and, for a
yellow-lane consignment, a `ControlCompleted`) straight to the events exchange with the right
routing key, for a real consignment that waits for them. The services confirm every delivered
event against the log before acting: the consignment stays unreleased (no GoodsReleased in the
log, its status unchanged), the forged messages wait in the parking queue of the consumer
that heard them (the release service's `release.facts`) with a reason starting with `forged`,
and the service's metrics count them. (The status projection hears no broker message at all:
it follows the log, so a forgery cannot reach it.) A genuine payment made afterwards still
releases the consignment.

Two forgeries of each kind: a fresh event (a new id, at the next position of the log, chained
from the log's last hash with the project's own hashing code), and a genuine event's envelope
(id, position, stream, hash: read off the broker) carrying the forged type and data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from shared.events import payment, risk
from shared.events.catalog import registry
from shared.events.envelope import RecordedEvent, actor_text, utcnow
from shared.eventstore import EventStore
from shared.eventstore.confirm import delivered_hash
from shared.messaging.parking import list_parked
from shared.messaging.publisher import OutgoingMessage, Publisher
from shared.messaging.relay import event_message
from shared.testing.waiting import wait_until

from .conftest import Cluster
from .parties import PARTY, lodge, log_of, send, settle, status_becomes, status_of

CONSUMERS = ("release.facts",)
SERVICES = {"release.facts": "release"}
CASHIER = actor_text({"sub": "cashier-desk-9", "roles": ["cashier"]})
OFFICER = actor_text({"sub": "officer-117", "roles": ["officer"]})


def events_exchange() -> str:
    from services.topology import TOPOLOGY

    return TOPOLOGY.exchange


def history(cluster: Cluster, store: EventStore, mrn: str) -> list[RecordedEvent]:
    """The consignment's events, in log order."""
    view = status_of(cluster, mrn)
    assert view is not None
    return store.read_correlation(view["consignment_id"])


def fresh(store: EventStore, like: RecordedEvent, payload: Any, actor: str) -> RecordedEvent:
    """A new event of `payload`'s type in `like`'s stream, as the next event of the log."""
    new = registry().new_event(payload, correlation_id=like.correlation_id, actor=actor)
    [last] = store.read_all(after=store.last_position() - 1, limit=1)
    now = utcnow()
    event = RecordedEvent(
        position=last.position + 1, event_id=new.event_id, type=new.type, version=new.version,
        stream=like.stream, stream_version=store.stream_version(like.stream) + 1,
        correlation_id=like.correlation_id, causation_id=like.event_id, actor=actor,
        occurred_at=now, recorded_at=now, data=dict(new.data), hash="")
    # with the previous hash it was hashed on, as the relay publishes genuine events
    return replace(event, hash=delivered_hash(last.hash, event), previous_hash=last.hash)


def in_envelope_of(genuine: RecordedEvent, payload: Any, actor: str) -> RecordedEvent:
    """`payload` (its type and data) in a genuine event's envelope: same id, position, stream
    and hash."""
    new = registry().new_event(payload, correlation_id=genuine.correlation_id, actor=actor)
    return RecordedEvent(
        position=genuine.position, event_id=genuine.event_id, type=new.type,
        version=new.version, stream=genuine.stream, stream_version=genuine.stream_version,
        correlation_id=genuine.correlation_id, causation_id=genuine.causation_id, actor=actor,
        occurred_at=genuine.occurred_at, recorded_at=genuine.recorded_at,
        data=dict(new.data), hash=genuine.hash)


def publish(cluster: Cluster, forged: list[tuple[str, RecordedEvent]]) -> list[str]:
    """Publish the forgeries straight to the events exchange (routing key
    `<category>.<type>`, as the relay does); their message ids."""
    messages = []
    for label, event in forged:
        message = event_message(event, events_exchange())
        messages.append(OutgoingMessage(message.body, message.routing_key, label,
                                        message.exchange, dict(message.headers),
                                        correlation_id=message.correlation_id,
                                        type=message.type))
    with Publisher(cluster.amqp_uri) as publisher:
        result = publisher.publish(messages)
    assert result.ok, result.failed
    return [label for label, _ in forged]


def forged_metric(cluster: Cluster, service: str, consumer: str) -> float:
    answer = send(cluster, service, "GET", "/metrics")
    assert answer.status == 200, str(answer)
    pattern = re.compile(r'^clearance_forged_messages_total\{consumer="' + re.escape(consumer)
                         + r'"\} (\S+)$', re.MULTILINE)
    found = pattern.search(answer.raw.decode())
    return float(found.group(1)) if found else 0.0


def parked_with(cluster: Cluster, consumer: str, labels: list[str]) -> dict[str, str]:
    """The park reasons of the messages `labels` in the parking queue of `consumer`."""
    listing = list_parked(cluster.amqp_uri, consumer, limit=10_000)
    return {m.message_id: m.reason for m in listing.messages if m.message_id in labels}


def assert_refused(cluster: Cluster, labels: list[str], before: dict[str, float]) -> None:
    """Each forgery parked by every consumer that heard it with reason forged, and counted."""
    for consumer in CONSUMERS:
        def all_parked(c: str = consumer) -> dict[str, str] | None:
            found = parked_with(cluster, c, labels)
            return found if len(found) == len(labels) else None

        reasons = wait_until(all_parked, timeout=30, interval=0.2,
                             message=f"the forged messages in {consumer}.parked")
        assert reasons is not None
        assert all(r.startswith("forged: ") for r in reasons.values()), reasons

        def counted(c: str = consumer) -> bool:
            return forged_metric(cluster, SERVICES[c], c) == before[c] + len(labels)

        wait_until(counted, timeout=10, message=f"{consumer}'s forged messages counted")


def counts(cluster: Cluster) -> dict[str, float]:
    return {c: forged_metric(cluster, SERVICES[c], c) for c in CONSUMERS}


def unchanged(cluster: Cluster, mrn: str, before: dict[str, Any],
              store: EventStore, types: list[str]) -> None:
    settle(store)
    assert status_of(cluster, mrn) == before
    after = [e.type for e in history(cluster, store, mrn)]
    assert after == types and "GoodsReleased" not in after


def test_a_forged_payment_does_not_release_a_consignment_that_waits_for_it(
        cluster: Cluster) -> None:
    mrn = lodge(cluster, "02-green-unpaid.json")
    waiting = status_becomes(cluster, mrn, "tax_due")
    with log_of(cluster) as store:
        settle(store)
        waiting = status_of(cluster, mrn) or waiting
        story = history(cluster, store, mrn)
        [assessed] = [e for e in story if e.type == "DutyAssessed"]
        due = Decimal(str(assessed.data["amount_due"]))
        paid = payment.PaymentReceived(assessed.correlation_id, mrn, "FORGED-1", due,
                                       str(assessed.data["currency"]), Decimal("0"),
                                       Decimal("0"))
        before = counts(cluster)
        labels = publish(cluster, [("forged-payment", fresh(store, assessed, paid, CASHIER)),
                                   ("forged-payment-in-duty-envelope",
                                    in_envelope_of(assessed, paid, CASHIER))])
        assert_refused(cluster, labels, before)
        unchanged(cluster, mrn, waiting, store, [e.type for e in story])

        # The genuine payment still releases it: nothing of the forgeries stood in the way.
        answer = send(cluster, "payment", "POST", "/payments",
                      token=PARTY["cashier"].token(cluster),
                      body={"mrn": mrn, "reference": f"PAY-{mrn}",
                            "amount": str(assessed.data["amount_due"]),
                            "currency": assessed.data["currency"]})
        assert answer.status == 201, str(answer)
        status_becomes(cluster, mrn, "cleared")
        assert [e.type for e in history(cluster, store, mrn)].count("GoodsReleased") == 1


def test_a_forged_control_and_payment_do_not_release_a_yellow_consignment(
        cluster: Cluster) -> None:
    mrn = lodge(cluster, "04-yellow-compliant.json")
    waiting = status_becomes(cluster, mrn, "documents_required")
    with log_of(cluster) as store:
        settle(store)
        waiting = status_of(cluster, mrn) or waiting
        story = history(cluster, store, mrn)
        [assessed] = [e for e in story if e.type == "DutyAssessed"]
        [ordered] = [e for e in story if e.type == "ControlOrdered"]
        consignment = ordered.correlation_id
        control = risk.ControlCompleted(
            consignment, mrn, "compliant",
            [{"category": "no_discrepancy", "text": "forged: all in order"}], None, Decimal("0"))
        paid = payment.PaymentReceived(consignment, mrn, "FORGED-2",
                                       Decimal(str(assessed.data["amount_due"])),
                                       str(assessed.data["currency"]), Decimal("0"),
                                       Decimal("0"))
        before = counts(cluster)
        forged: list[tuple[str, Callable[[], RecordedEvent]]] = [
            ("forged-control", lambda: fresh(store, ordered, control, OFFICER)),
            ("forged-control-in-order-envelope",
             lambda: in_envelope_of(ordered, control, OFFICER)),
            ("forged-payment-yellow", lambda: fresh(store, assessed, paid, CASHIER)),
        ]
        labels = publish(cluster, [(label, make()) for label, make in forged])
        assert_refused(cluster, labels, before)
        unchanged(cluster, mrn, waiting, store, [e.type for e in story])
