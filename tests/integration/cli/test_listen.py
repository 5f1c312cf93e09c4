"""Release notifications on the real broker, as a partner agency receives them (issue 11).

Strategy: in a private vhost, the agency's durable queue `agency.pha` is made and bound to
`GBLHR001.*` beforehand, as `clearance agency add PHA --bind 'GBLHR001.*'` does, and the
agency's broker user may only READ that queue (configure and write: nothing), made with
rabbitmqctl. The real notification relay of the release service publishes a GoodsReleased of
a red-lane consignment from a real SQLite log. Then:

- the message is schema version 2 (body and header), has no `lane` key, validates against
  the version-2 JSON Schema, and its routing key is `<office>.<transport_mode>`: a
  `GBLHR001.*` binding gets it, a version-1 style `GBLHR001.*.*` binding does not;
- the real `clearance listen --queue agency.pha`, run with the read-only user, prints it
  (and a version-1 message left in the queue from before the upgrade) without any lane, and
  exits 0: it declared and bound nothing, which the user could not have done (checked: the
  same user is refused an exchange declare), and the queue's bindings are unchanged;
- without read permission on a queue, listen exits 1 naming the refusal.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote, urlsplit

import jsonschema
import pika
import pika.exceptions
import pytest
from clirun import clearance

from services.release.domain import load_notification_schema
from services.release.notifications import EXCHANGE, NotificationRelay
from services.topology import TOPOLOGY
from shared.events.catalog import registry
from shared.events.release import GoodsReleased
from shared.eventstore import EventStore
from shared.testing import rabbit

pytestmark = pytest.mark.rabbitmq

QUEUE = "agency.pha"
OTHER_QUEUE = "agency.vet"


@dataclass(frozen=True)
class Broker:
    admin_uri: str  # guest, everything on the vhost
    agency_uri: str  # read-only on agency.pha
    vhost: str


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def bindings(vhost: str, queue: str) -> set[tuple[str, str]]:
    """(exchange, routing key) of every binding of `queue` but the default exchange's."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_bindings", "-p", vhost, "--no-table-headers",
         "source_name", "destination_name", "routing_key"],
        check=True, capture_output=True, text=True, timeout=60).stdout
    found = set()
    for line in listed.splitlines():
        source, destination, key = (line.split("\t") + ["", ""])[:3]
        if destination == queue and source:
            found.add((source, key))
    return found


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    """One vhost and one user for the module (rabbitmqctl takes seconds per call)."""
    with rabbit.private_vhost("clearance_listen") as admin_uri:
        vhost = unquote(urlsplit(admin_uri).path[1:])
        user, password = f"agency_pha_{uuid.uuid4().hex[:10]}", secrets.token_hex(16)
        rabbitmqctl("add_user", user, password)
        try:
            rabbitmqctl("set_permissions", "-p", vhost, user, "^$", "^$", r"^agency\.pha$")
            # What `clearance agency add PHA --bind 'GBLHR001.*'` makes (and one other agency).
            connection = pika.BlockingConnection(pika.URLParameters(admin_uri))
            channel = connection.channel()
            channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
            for queue, pattern in ((QUEUE, "GBLHR001.*"), (OTHER_QUEUE, "#")):
                channel.queue_declare(queue, durable=True)
                channel.queue_bind(queue, EXCHANGE, routing_key=pattern)
            connection.close()
            host = rabbit.RABBIT_HOST
            yield Broker(admin_uri, f"amqp://{user}:{password}@{host}/{quote(vhost, safe='')}",
                         vhost)
        finally:
            rabbitmqctl("delete_user", user)


@pytest.fixture(autouse=True)
def empty_queues(broker: Broker) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(broker.admin_uri))
    for queue in (QUEUE, OTHER_QUEUE):
        connection.channel().queue_purge(queue)
    connection.close()


def publish_a_red_release(store_url: str, amqp_uri: str) -> str:
    """A GoodsReleased (red lane, GBLHR001, air) appended to a real log and published by the
    release service's notification relay. Its MRN."""
    store = EventStore(store_url, registry())
    try:
        consignment, mrn = str(uuid.uuid4()), "26GBSTEN00000001R9"
        lodged = datetime.now(UTC) - timedelta(hours=2)
        store.append(f"release-{consignment}", [registry().new_event(
            GoodsReleased(consignment, mrn, 2, "GBLHR001", "red", "air", lodged,
                          datetime.now(UTC)),
            correlation_id=consignment, actor="test")], expected_version=0)
        relay = NotificationRelay(store, amqp_uri, TOPOLOGY, "release")
        try:
            assert relay.run_once() == 1
        finally:
            relay.publisher.close()
        return mrn
    finally:
        store.close()


def test_a_notification_is_version_2_without_lane_and_routed_on_office_and_mode(
        broker: Broker, sqlite_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(broker.admin_uri))
    channel = connection.channel()
    old_style = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(old_style, EXCHANGE, routing_key="GBLHR001.*.*")
    mrn = publish_a_red_release(sqlite_url, broker.admin_uri)

    method, properties, body = channel.basic_get(QUEUE, auto_ack=True)
    assert method is not None, "the GBLHR001.* binding received nothing"
    assert method.routing_key == "GBLHR001.air"
    assert properties.delivery_mode == 2 and properties.headers == {"schema_version": 2}
    notification = json.loads(body)
    assert notification["mrn"] == mrn and notification["schema_version"] == 2
    assert notification["declaration_version"] == 2
    assert "lane" not in notification and b"red" not in body
    jsonschema.Draft202012Validator(
        load_notification_schema(),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(notification)
    assert channel.basic_get(old_style, auto_ack=True)[0] is None  # two words, not three
    assert channel.basic_get(OTHER_QUEUE, auto_ack=True)[0] is not None  # `#` still matches
    connection.close()


def test_listen_consumes_a_pre_made_queue_with_a_read_only_user(
        broker: Broker, sqlite_url: str) -> None:
    # The user really is read-only: declaring the exchange (as listen used to) is refused.
    connection = pika.BlockingConnection(pika.URLParameters(broker.agency_uri))
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
        connection.channel().exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    assert refused.value.reply_code == 403
    connection.close()

    # A version 1 message from before the upgrade, still waiting in the queue, then a release.
    old = {"schema_version": 1, "notification_id": str(uuid.uuid4()),
           "mrn": "26GBSTEN00000000R0", "consignment_id": "c-old", "declaration_version": 1,
           "office": "GBLHR001", "transport_mode": "air", "lane": "yellow",
           "released_at": "2026-03-02T09:07:00.000000+00:00", "position": 1}
    rabbit.publish(broker.admin_uri, EXCHANGE, "GBLHR001.air", json.dumps(old).encode(),
                   message_id=old["notification_id"])
    mrn = publish_a_red_release(sqlite_url, broker.admin_uri)
    before = bindings(broker.vhost, QUEUE)
    assert before == {(EXCHANGE, "GBLHR001.*")}

    run = clearance("listen", "--queue", QUEUE, "--count", "2", "--idle", "20", "--json",
                    url=sqlite_url, env={"AMQP_URI": broker.agency_uri}, timeout=60)
    assert run.code == 0, run
    printed = [json.loads(line) for line in run.out.splitlines()]
    assert [n["mrn"] for n in printed] == [old["mrn"], mrn]
    assert all("lane" not in n for n in printed)
    assert "yellow" not in run.out and "red" not in run.out
    assert printed[1]["schema_version"] == 2
    assert bindings(broker.vhost, QUEUE) == before  # nothing bound
    assert rabbit.message_count(broker.admin_uri, QUEUE) == 0  # both consumed and acked

    # The text form shows no lane either.
    rabbit.publish(broker.admin_uri, EXCHANGE, "GBLHR001.air", json.dumps(old).encode(),
                   message_id=old["notification_id"])
    run = clearance("listen", "--queue", QUEUE, "--count", "1", "--idle", "20",
                    url=sqlite_url, env={"AMQP_URI": broker.agency_uri}, timeout=60)
    assert run.code == 0, run
    assert "RELEASED  26GBSTEN00000000R0  office GBLHR001  air" in run.out
    assert "lane" not in run.out and "yellow" not in run.out


def test_listen_without_read_permission_on_a_queue_exits_1(broker: Broker,
                                                           sqlite_url: str) -> None:
    run = clearance("listen", "--queue", OTHER_QUEUE, "--count", "1", "--idle", "5",
                    url=sqlite_url, env={"AMQP_URI": broker.agency_uri}, timeout=60)
    assert run.code == 1, run
    assert "ACCESS_REFUSED" in run.err and run.out == ""


def test_listen_makes_and_binds_a_queue_of_its_own(broker: Broker, sqlite_url: str) -> None:
    """With an admin user and a --queue that does not exist, listen makes it durable and binds
    each --bind pattern over `<office>.<transport_mode>`."""
    run = clearance("listen", "--queue", "agency.own", "--bind", "GBLHR001.*", "--bind",
                    "*.sea", "--idle", "1", url=sqlite_url,
                    env={"AMQP_URI": broker.admin_uri}, timeout=60)
    assert run.code == 0, run
    assert bindings(broker.vhost, "agency.own") == {(EXCHANGE, "GBLHR001.*"),
                                                    (EXCHANGE, "*.sea")}
    publish_a_red_release(sqlite_url, broker.admin_uri)
    assert rabbit.message_count(broker.admin_uri, "agency.own") == 1
