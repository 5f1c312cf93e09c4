"""`clearance queues convert` (`shared.messaging.convert`): a broker holding the former
classic queues, with messages waiting in them, gets the topology's quorum queues with the same
messages (bodies, ids and headers), the same bindings, and nothing left behind; a conversion
cut short is finished by the next run."""

from __future__ import annotations

from dataclasses import replace

import amqp
import pytest

from services.topology import TOPOLOGY
from shared.messaging.convert import HOLDING_SUFFIX, convert_queues
from shared.messaging.publisher import close_quietly, connect
from shared.messaging.topology import QueueSpec
from shared.testing import rabbit

pytestmark = pytest.mark.rabbitmq

TOPO = replace(TOPOLOGY, retry_delays=(0.3, 0.6))
QUEUE = "risk.declarations"


def declared_as(uri: str, spec: QueueSpec) -> bool:
    """Whether the broker accepts the spec's declaration of the existing queue: it has the
    spec's type and arguments (RabbitMQ refuses an inequivalent one)."""
    connection = connect(uri)
    try:
        channel = connection.channel()
        try:
            channel.queue_declare(spec.name, durable=True, auto_delete=False,
                                  arguments=dict(spec.arguments))
            return True
        except amqp.exceptions.PreconditionFailed:
            return False
    finally:
        close_quietly(connection)


def body(message: amqp.Message) -> bytes:
    raw = message.body
    return raw if isinstance(raw, bytes) else raw.encode()


def former_version(uri: str, waiting: int) -> None:
    """The classic queues a former version declared, with `waiting` messages in QUEUE and one
    parked with its failure headers."""
    connection = connect(uri)
    try:
        channel = connection.channel()
        channel.exchange_declare(TOPO.exchange, "topic", durable=True, auto_delete=False)
        channel.exchange_declare("risk.retry", "direct", durable=True, auto_delete=False)
        for name in (QUEUE, f"{QUEUE}.parked"):
            channel.queue_declare(name, durable=True, auto_delete=False)
            channel.queue_bind(name, "risk.retry", name)
        for n in range(waiting):
            channel.basic_publish(amqp.Message(f"event {n}".encode(), message_id=f"e{n}",
                                               application_headers={"n": n},
                                               delivery_mode=2), "", QUEUE)
        channel.basic_publish(amqp.Message(b"parked", message_id="p1", delivery_mode=2,
                                           application_headers={"x-park-reason": "a bug"}),
                              "", f"{QUEUE}.parked")
    finally:
        close_quietly(connection)


def test_classic_queues_become_quorum_with_their_messages() -> None:
    with rabbit.private_vhost("clearance_convert") as uri:
        former_version(uri, waiting=250)  # more than one batch
        specs = TOPO.queue_specs(QUEUE)
        converted = convert_queues(uri, specs)
        assert {(c.queue, c.moved) for c in converted} == {(QUEUE, 250), (f"{QUEUE}.parked", 1)}
        for spec in specs:
            assert spec.arguments["x-queue-type"] == "quorum"
            assert declared_as(uri, spec), spec.name
            assert not rabbit.queue_exists(uri, spec.name + HOLDING_SUFFIX)
        messages = rabbit.drain(uri, QUEUE)
        assert [body(m) for m in messages] == [f"event {n}".encode() for n in range(250)]
        assert [m.properties["message_id"] for m in messages] == [f"e{n}" for n in range(250)]
        assert [m.properties["application_headers"]["n"] for m in messages] == list(range(250))
        [parked] = rabbit.drain(uri, f"{QUEUE}.parked")
        assert parked.properties["application_headers"]["x-park-reason"] == "a bug"
        # The bindings are the topology's: an event published now reaches the queue.
        key = TOPO.routing_key("DeclarationAccepted")
        rabbit.publish(uri, TOPO.exchange, key, b"after")
        assert [body(m) for m in rabbit.drain(uri, QUEUE)] == [b"after"]
        assert convert_queues(uri, specs) == []  # matches now: left alone


def test_a_conversion_cut_short_is_finished_by_the_next_run() -> None:
    """The messages were moved to the holding queue and the old queue deleted when the run
    stopped: the next run declares the queue and brings them back."""
    with rabbit.private_vhost("clearance_convert") as uri:
        connection = connect(uri)
        try:
            channel = connection.channel()
            channel.exchange_declare(TOPO.exchange, "topic", durable=True, auto_delete=False)
            channel.exchange_declare("risk.retry", "direct", durable=True, auto_delete=False)
            holding = QUEUE + HOLDING_SUFFIX
            channel.queue_declare(holding, durable=True, auto_delete=False,
                                  arguments={"x-queue-type": "quorum"})
            for n in range(3):
                channel.basic_publish(amqp.Message(f"held {n}".encode(), message_id=f"h{n}",
                                                   delivery_mode=2), "", holding)
        finally:
            close_quietly(connection)
        [conversion] = convert_queues(uri, TOPO.queue_specs(QUEUE)[:1])
        assert (conversion.queue, conversion.moved) == (QUEUE, 3)
        assert not rabbit.queue_exists(uri, holding)
        assert [body(m) for m in rabbit.drain(uri, QUEUE)] == [b"held 0", b"held 1", b"held 2"]
