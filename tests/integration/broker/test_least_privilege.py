"""Least-privilege broker users on the real RabbitMQ (issue 11).

Strategy: a private vhost holds the deployment's topology (`services.topology.TOPOLOGY`, the
releases exchange), declared by the operator (guest) as the definitions do at boot. Each
service gets the broker user the users file gives it (`service_users`: the permissions
generated from the topology), made with rabbitmqctl. Plain clients connected as those users
then try what a compromised service would: publish another service's event on the events
exchange, put a message straight into another service's queue through the default exchange
or through that service's republish exchange, read another service's queue. The broker must
refuse each (ACCESS_REFUSED, reply code 403) and the target queue must stay empty; what the
service legitimately does (publish its own category, declare its own queues, retry through
its own exchange and have the retry queue dead-letter back) must still work.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

import amqp
import amqp.exceptions
import pika.exceptions
import pytest

from services.release.notifications import EXCHANGE as RELEASES_EXCHANGE
from services.topology import TOPOLOGY
from shared.messaging.publisher import close_quietly, connect
from shared.messaging.topology import Topology
from shared.testing import rabbit
from shared.testing.waiting import wait_until

pytestmark = pytest.mark.rabbitmq

# Short retry delays: the permissions do not depend on them.
TOPO = replace(TOPOLOGY, retry_delays=(0.3, 0.6))


@dataclass(frozen=True)
class Broker:
    admin: str  # guest: the operator
    users: Mapping[str, str]  # service -> its least-privilege AMQP URI


def declare_all(uri: str, topology: Topology) -> None:
    connection = connect(uri)
    try:
        channel = connection.channel()
        topology.declare(channel)
        channel.exchange_declare(RELEASES_EXCHANGE, "topic", durable=True, auto_delete=False)
    finally:
        close_quietly(connection)


@pytest.fixture
def broker() -> Iterator[Broker]:
    with rabbit.private_vhost("clearance_lp") as admin:
        declare_all(admin, TOPO)
        with rabbit.service_users(admin, TOPO) as users:
            yield Broker(admin, users)


def refused(action: object) -> str:
    """Run `action()` (a plain pika publish); the broker's refusal text (asserts 403)."""
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as closed:
        action()  # type: ignore[operator]
    assert closed.value.reply_code == 403, closed.value
    assert "ACCESS_REFUSED" in closed.value.reply_text
    return str(closed.value.reply_text)


def test_risk_user_is_refused_publishing_a_payment_event(broker: Broker) -> None:
    risk = broker.users["risk"]
    text = refused(lambda: rabbit.publish(risk, TOPO.exchange, "payment.PaymentReceived",
                                          b'{"forged": true}', message_id="forged-1"))
    assert "payment.PaymentReceived" in text
    assert rabbit.message_count(broker.admin, "release.facts") == 0
    # Nor with a routing key that only starts like its own category.
    refused(lambda: rabbit.publish(risk, TOPO.exchange, "risk.RiskAssessed.payment",
                                   b"{}", message_id="forged-2"))


def test_risk_user_publishes_its_own_events(broker: Broker) -> None:
    rabbit.publish(broker.users["risk"], TOPO.exchange, "risk.RiskAssessed", b"{}",
                   message_id="own-1")
    assert rabbit.message_count(broker.admin, "release.facts") == 1
    assert rabbit.message_count(broker.admin, "risk.declarations") == 0


def test_no_service_reaches_another_services_queue(broker: Broker) -> None:
    risk = broker.users["risk"]
    # Through the default exchange (amq.default), which would reach any queue by its name.
    refused(lambda: rabbit.publish(risk, "", "release.facts", b"{}", message_id="forged-3"))
    # Through the release service's own republish exchange.
    refused(lambda: rabbit.publish(risk, TOPO.republish_exchange("release.facts"),
                                   "release.facts", b"{}", message_id="forged-4"))
    # Not even into its own queue through the default exchange.
    refused(lambda: rabbit.publish(risk, "", "risk.declarations", b"{}",
                                   message_id="forged-5"))
    for queue in ("release.facts", "risk.declarations"):
        assert rabbit.message_count(broker.admin, queue) == 0

    # Nor read it, nor bind it to more events, nor delete it.
    connection = connect(risk)
    try:
        for attempt in (
            lambda c: c.basic_get("release.facts"),
            lambda c: c.queue_bind("risk.declarations", TOPO.exchange, "payment.#"),
            lambda c: c.queue_delete("release.facts"),
            lambda c: c.exchange_delete(TOPO.exchange),
        ):
            with pytest.raises(amqp.exceptions.AccessRefused):
                attempt(connection.channel())
    finally:
        close_quietly(connection)
    assert rabbit.queue_state(broker.admin, "release.facts") == (0, 0)


def test_each_service_declares_only_its_own_namespace() -> None:
    with rabbit.private_vhost("clearance_lp_fresh") as admin:
        connection = connect(admin)  # the operator made only the events exchange
        try:
            connection.channel().exchange_declare(TOPO.exchange, "topic", durable=True,
                                                  auto_delete=False)
        finally:
            close_quietly(connection)
        with rabbit.service_users(admin, TOPO) as users:
            connection = connect(users["risk"])
            try:
                channel = connection.channel()
                TOPO.declare(channel)  # the relay: everything it may, the rest skipped
                TOPO.declare(channel, ["risk.declarations"])  # the consumer: its own queue
                with pytest.raises(amqp.exceptions.AccessRefused):
                    TOPO.declare(connection.channel(), ["release.facts"])
            finally:
                close_quietly(connection)
            for spec in TOPO.queue_specs("risk.declarations"):
                assert rabbit.queue_state(admin, spec.name) == (0, 0)  # exists
            assert not rabbit.queue_exists(admin, "release.facts")
            assert not rabbit.queue_exists(admin, "payment.declarations")


def test_retry_copies_go_through_the_services_own_exchange_and_come_back(
        broker: Broker) -> None:
    queue = "payment.declarations"
    payment = broker.users["payment"]
    exchange = TOPO.republish_exchange(queue)
    assert exchange == "payment.retry"
    retry = TOPO.retry_queue(queue, 1)
    rabbit.publish(payment, exchange, retry, b'{"retry": 1}', message_id="retry-1")
    assert rabbit.message_count(broker.admin, retry) == 1
    # The retry queue's TTL dead-letters it back to the queue through payment.retry.
    [back] = wait_until(lambda: rabbit.drain(broker.admin, queue), timeout=10,
                        message="the retried message back in its queue")
    assert back.body == b'{"retry": 1}'
    assert rabbit.message_count(broker.admin, retry) == 0
    rabbit.publish(payment, exchange, TOPO.parking_queue(queue), b"{}", message_id="park-1")
    assert rabbit.message_count(broker.admin, TOPO.parking_queue(queue)) == 1
    # A service cannot republish into another service's queue through its own exchange:
    # nothing is bound there but its own queues (mandatory: the broker returns it).
    with pytest.raises(pika.exceptions.UnroutableError):
        rabbit.publish(payment, exchange, "release.facts", b"{}", message_id="park-2")


def test_a_broker_with_the_former_retry_queues_takes_the_new_topology() -> None:
    """The former retry queues `Q.retry.<n>` (dead-lettered through the default exchange) stay
    as they are; the new ones have new names. The former classic queues of the same names
    (subscription and parking queues) are converted by the operator (`convert_queues`, as
    `clearance queues convert` and `make start` do) before the services declare theirs, so
    declaring does not meet PRECONDITION_FAILED; `delete_obsolete` removes the former retry
    queues once they are empty."""
    from shared.messaging.convert import convert_queues
    from shared.messaging.topology import delete_obsolete, legacy_retry_queue_name

    with rabbit.private_vhost("clearance_lp_upgrade") as admin:
        connection = connect(admin)
        try:
            channel = connection.channel()
            channel.exchange_declare(TOPO.exchange, "topic", durable=True, auto_delete=False)
            for queue in TOPO.subscriptions:  # what the previous version declared
                channel.queue_declare(queue, durable=True, auto_delete=False)
                for level, delay in enumerate(TOPO.retry_delays, start=1):
                    channel.queue_declare(
                        legacy_retry_queue_name(queue, level), durable=True, auto_delete=False,
                        arguments={"x-message-ttl": int(delay * 1000),
                                   "x-dead-letter-exchange": "",
                                   "x-dead-letter-routing-key": queue})
                channel.queue_declare(f"{queue}.parked", durable=True, auto_delete=False)
            old = legacy_retry_queue_name("risk.declarations", 2)
            channel.basic_publish(amqp.Message(b"in flight"), "", old)
        finally:
            close_quietly(connection)
        converted = convert_queues(admin, TOPO.all_queue_specs(), TOPO.exchanges())
        assert {c.queue for c in converted} == {
            name for queue in TOPO.subscriptions for name in (queue, f"{queue}.parked")}
        assert convert_queues(admin, TOPO.all_queue_specs(), TOPO.exchanges()) == []  # done: nothing more

        with rabbit.service_users(admin, TOPO) as users:
            for service, uri in users.items():  # each service starts as its own user
                connection = connect(uri)
                try:
                    for queue in TOPO.queues_of(service):
                        TOPO.declare(connection.channel(), [queue])
                finally:
                    close_quietly(connection)
        # The message in flight in a former retry queue still comes back to its queue.
        [back] = wait_until(lambda: rabbit.drain(admin, "risk.declarations"), timeout=10,
                            message="the in-flight retry back in its queue")
        assert back.body == b"in flight"

        connection = connect(admin)
        try:
            deleted = delete_obsolete(connection.channel(), TOPO)
        finally:
            close_quietly(connection)
        assert sorted(deleted) == sorted(TOPO.obsolete_queues())
        assert not any(rabbit.queue_exists(admin, name) for name in TOPO.obsolete_queues())
        assert all(rabbit.queue_exists(admin, spec.name) for spec in TOPO.all_queue_specs())


def test_the_declaration_relay_deletes_the_retired_status_queue(broker: Broker) -> None:
    """A broker upgraded from a version whose status projection heard every event through
    `declaration.status`: that queue (bound to everything, holding copies) and its retry and
    parking queues are deleted when the declaration service's relay connects as its own user
    (the projection follows the log now, so nothing would ever drain them)."""
    retired = TOPO.retired_queues()
    assert "declaration.status" in retired and "declaration.status.parked" in retired
    connection = connect(broker.admin)
    try:
        channel = connection.channel()
        for name in retired:
            channel.queue_declare(name, durable=True, auto_delete=False,
                                  arguments={"x-queue-type": "quorum"})
        channel.queue_bind("declaration.status", TOPO.exchange, "risk.RiskAssessed")
    finally:
        close_quietly(connection)
    rabbit.publish(broker.users["risk"], TOPO.exchange, "risk.RiskAssessed", b"{}",
                   message_id="before-upgrade")
    wait_until(lambda: rabbit.message_count(broker.admin, "declaration.status") == 1,
               timeout=5, message="the old queue holds a copy")

    connection = connect(broker.users["declaration"])
    try:
        TOPO.declare(connection.channel())  # what the relay does on each new connection
    finally:
        close_quietly(connection)
    assert not any(rabbit.queue_exists(broker.admin, name) for name in retired)
    # and connecting again (nothing left to delete) is no error
    connection = connect(broker.users["declaration"])
    try:
        TOPO.declare(connection.channel())
    finally:
        close_quietly(connection)
