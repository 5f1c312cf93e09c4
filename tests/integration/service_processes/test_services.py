"""Each service alone on the real broker: what it hears, what it appends, what it answers.

Every call but /metrics carries a real bearer token of the party that makes it (signed by the
development key the service under test trusts; see conftest.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pika
from prometheus_client.parser import text_string_to_metric_families

from services.payment.application import duty_declaration
from services.payment.domain.duty import assess, verify_assessment
from services.release.notifications import NAME as NOTIFICATIONS
from shared.events.catalog import registry
from shared.events.envelope import stream_name
from shared.events.payment import DutyAssessed, PaymentReceived
from shared.events.risk import ControlCompleted, RiskAssessed
from shared.reference import load_reference_data
from shared.testing import rabbit
from shared.testing.waiting import wait_until

from .conftest import TEST_TOPOLOGY, Running, sample

DECLARANT_EORI = "GB123456789000"  # the declarant of every sample
OFFICE = "GBDEM001"  # the office of declaration of every sample


def post(http: str, path: str, body: Any, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://{http}{path}", data=json.dumps(body).encode(),
                                     method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def get(http: str, path: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://{http}{path}",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_declaration_service_accepts_publishes_and_shows_status(
    run_service: Callable[[str], Running],
) -> None:
    running = run_service("declaration")
    document = sample("01-green-paid.json")
    assert document["declarant"]["eori"] == DECLARANT_EORI
    broker = running.token(["declarant"], sub="broker-1", eori=DECLARANT_EORI)
    status, body = post(running.http, "/declarations", document, broker)
    assert status == 201 and body["status"] == {"name": "accepted", "code": "01"}
    events = running.store.read_stream(stream_name("declaration", body["consignment_id"]))
    assert [e.type for e in events] == ["DeclarationReceived", "DeclarationAccepted"]
    assert events[1].data["mrn"] == body["mrn"]
    status, view = get(running.http, f"/declarations/{body['mrn']}", broker)
    assert status == 200 and view["status"]["code"] == "01" and view["lrn"] == document["lrn"]
    # its relay published both events: the status consumer heard them (inbox) and the
    # risk queue holds the acceptance for the risk service
    from shared.testing.rabbit import message_count

    wait_until(lambda: message_count(running.amqp_uri, "risk.declarations") == 1, timeout=20,
               message="DeclarationAccepted queued for risk")


def test_risk_service_decides_lanes_and_records_controls(
    run_service: Callable[[str], Running],
) -> None:
    running = run_service("risk")
    green, red = str(uuid.uuid4()), str(uuid.uuid4())
    running.accept(sample("01-green-paid.json"), "26GBMO0000000001R4", green)
    running.accept(sample("05-red-non-compliant.json"), "26GBMO0000000002R3", red)
    green_events = running.stream(stream_name("risk", green))
    red_events = running.stream(stream_name("risk", red), types=2)
    assert [e.type for e in green_events] == ["RiskAssessed"]
    decision = registry().decode(green_events[0])
    assert isinstance(decision, RiskAssessed) and decision.lane == "green"
    assert decision.ruleset_version == "2026.1" and "seed" in decision.draw
    assert [e.type for e in red_events] == ["RiskAssessed", "ControlOrdered"]
    assert red_events[0].data["lane"] == "red" and red_events[0].data["rules_hit"]
    assert all(e.causation_id for e in red_events)

    # The officer is the token's subject (the body names no officer).
    officer = running.token(["officer"], sub="officer-7", offices=[OFFICE])
    result = {"result": "non_compliant",
              "findings": [{"category": "valuation", "text": "undervalued"}],
              "outcome": "release_after_payment", "additional_duty": "120.00"}
    # A result that does not agree with itself is 422 and stores nothing.
    for wrong in ({"additional_duty": "0.00"}, {"outcome": None},
                  {"findings": [{"category": "no_discrepancy", "text": "fine"}]},
                  {"result": "compliant"}, {"additional_duty": "1.005"}):
        status, problem = post(running.http, "/controls/26GBMO0000000002R3",
                               {**result, **wrong}, officer)
        assert status == 422 and problem["status"] == 422, (wrong, problem)
    assert [e.type for e in running.store.read_stream(stream_name("risk", red))] == [
        "RiskAssessed", "ControlOrdered"]
    status, body = post(running.http, "/controls/26GBMO0000000002R3", result, officer)
    assert status == 201 and body["result"] == "non_compliant"
    assert body["officer"] == "officer-7" and body["findings"] == result["findings"]
    assert body["outcome"] == "release_after_payment" and body["additional_duty"] == "120.00"
    recorded = registry().decode(running.store.read_stream(stream_name("risk", red))[-1])
    assert isinstance(recorded, ControlCompleted) and recorded.additional_duty == Decimal("120")
    assert running.store.read_stream(stream_name("risk", red))[-1].type == "ControlCompleted"
    status, problem = post(running.http, "/controls/26GBMO0000000002R3", result, officer)
    assert status == 409 and problem["status"] == 409  # no control open any more
    status, _ = post(running.http, "/controls/26GBMO0000000001R4", result, officer)
    assert status == 409  # green: no control was ever opened


def test_payment_service_assesses_with_its_working_and_takes_payments(
    run_service: Callable[[str], Running],
) -> None:
    running = run_service("payment")
    consignment, mrn = str(uuid.uuid4()), "26GBMO0000000003R2"
    document = sample("01-green-paid.json")
    running.accept(document, mrn, consignment)
    events = running.stream(stream_name("payment", consignment))
    duty = registry().decode(events[0])
    assert isinstance(duty, DutyAssessed)
    reference = load_reference_data()
    verify_assessment(duty.working, reference.tariff, reference.rates,  # re-derives the same
                      reference.reliefs)
    expected = assess(duty_declaration(document), date.today(), reference.tariff,
                      reference.rates, minor_units=reference.currencies,
                      reliefs=reference.reliefs)
    assert duty.amount_due == expected.total_due and duty.currency == "GBP"

    cashier = running.token(["cashier"], sub="cashier-1")  # customs' own cashier
    half = (duty.amount_due / 2).quantize(Decimal("0.01"))
    payment = {"mrn": mrn, "reference": f"P-{mrn}", "amount": str(half), "currency": "GBP"}
    status, body = post(running.http, "/payments", payment, cashier)
    assert status == 201 and Decimal(body["balance_due"]) == duty.amount_due - half
    assert post(running.http, "/payments", payment, cashier) == (200, body)
    assert post(running.http, "/payments", {**payment, "amount": "1.00"}, cashier)[0] == 409
    rest = {"mrn": mrn, "reference": f"Q-{mrn}", "amount": str(duty.amount_due), "currency": "GBP"}
    status, body = post(running.http, "/payments", rest, cashier)
    assert status == 201 and Decimal(body["credit"]) == half and body["balance_due"] == "0.00"
    paid = [registry().decode(e) for e in running.store.read_stream(
        stream_name("payment", consignment)) if e.type == "PaymentReceived"]
    assert [p.reference for p in paid if isinstance(p, PaymentReceived)] == [f"P-{mrn}", f"Q-{mrn}"]
    assert post(running.http, "/payments", {**rest, "currency": "USD",
                                             "reference": "X"}, cashier)[0] == 422


def test_release_service_releases_once_whatever_the_order_and_tells_agencies(
    run_service: Callable[[str], Running],
) -> None:
    running = run_service("release")
    connection = pika.BlockingConnection(pika.URLParameters(running.amqp_uri))
    channel = connection.channel()
    channel.exchange_declare("clearance.releases", exchange_type="topic", durable=True)
    channel.queue_declare("agency", durable=True)
    channel.queue_bind("agency", "clearance.releases", routing_key="GBDEM001.*")
    consignment, mrn = str(uuid.uuid4()), "26GBMO0000000004R1"
    now = datetime.now(UTC)

    def new(payload: Any) -> Any:
        return registry().new_event(payload, correlation_id=consignment, actor="test")

    # Payment first, then the risk decision, then the duty, then the acceptance: the release
    # decides from the set of facts, not from their order.
    running.store.append(stream_name("payment", consignment), [new(PaymentReceived(
        consignment, mrn, "R1", Decimal("50.00"), "GBP", Decimal("0"), Decimal("0")))], 0)
    running.publish("payment")
    running.store.append(stream_name("risk", consignment), [new(RiskAssessed(
        consignment, mrn, "green", 0, [], "2026.1", None, {}, {}))], 0)
    running.publish("risk")
    running.store.append(stream_name("payment", consignment), [new(DutyAssessed(
        consignment, mrn, "GBP", Decimal("10.00"), Decimal("40.00"), Decimal("50.00"),
        "2026-07", "2026", "ROUND_HALF_UP", {}))], 1)
    running.publish("payment")
    assert running.store.read_stream(stream_name("release", consignment)) == []
    running.accept(sample("01-green-paid.json"), mrn, consignment)
    released = running.stream(stream_name("release", consignment))
    # paid in full before release: cleared in the same append
    assert [e.type for e in released] == ["GoodsReleased", "DeclarationCleared"]
    assert released[0].data["lane"] == "green" and released[0].data["mrn"] == mrn
    assert released[0].occurred_at >= now

    def notification() -> Any:
        method, properties, body = channel.basic_get("agency", auto_ack=True)
        return None if method is None else (method, properties, json.loads(body))

    method, properties, body = wait_until(notification, timeout=20, message="notification heard")
    assert properties.delivery_mode == 2 and body["mrn"] == mrn and body["schema_version"] == 2
    # Schema version 2: no selectivity lane in the body nor in the routing key.
    assert "lane" not in body and method.routing_key == f"{body['office']}.{body['transport_mode']}"

    # A duplicated fact: the payment delivered a second time (the same wire message, routing
    # key and message id, from a plain client, as a broker redelivery or a replayed publish
    # would bring it). The release service must hear it and do nothing with it.
    def handled() -> float:
        return metric(running.http, "clearance_events_consumed_total", consumer="release.facts")

    def duplicates() -> float:
        return metric(running.http, "clearance_events_duplicates_ignored_total",
                      consumer="release.facts")

    wait_until(lambda: handled() == 4, timeout=20, message=lambda: f"4 facts handled, not "
               f"{handled()}")  # the four facts above, each with effect
    assert duplicates() == 0
    [paid] = [e for e in running.store.read_stream(stream_name("payment", consignment))
              if e.type == "PaymentReceived"]
    rabbit.publish(running.amqp_uri, TEST_TOPOLOGY.exchange,
                   TEST_TOPOLOGY.routing_key(paid.type),
                   json.dumps(paid.to_message()).encode(), message_id=paid.event_id)
    wait_until(lambda: duplicates() == 1, timeout=20,
               message=lambda: f"the release service to recognise the duplicate (duplicates "
               f"{duplicates()}, handled {handled()})")
    assert handled() == 4  # heard, and ignored
    # ...and it changed nothing: still one release and one clearance, one notification listed
    released = running.store.read_stream(stream_name("release", consignment))
    assert [e.type for e in released] == ["GoodsReleased", "DeclarationCleared"]
    agency = running.token(["agency"], sub="agency-staff-1", agency="PHA")
    status, listing = get(running.http, "/notifications?after=0", agency)
    assert status == 200 and [n["mrn"] for n in listing["notifications"]] == [mrn]
    # Nothing more is heard: once the notification relay's checkpoint is at the last release
    # event of the log, whatever it would publish for it is already in the agency's queue.
    last_release = running.store.read_all(categories=["release"])[-1].position
    wait_until(lambda: running.store.checkpoint(NOTIFICATIONS) == last_release,
               timeout=20, message="the notification relay to be past the last release")
    assert channel.basic_get("agency", auto_ack=True)[0] is None
    connection.close()


def metric(http: str, name: str, **labels: str) -> float:
    """One sample of a service's /metrics (0 when the service has not recorded it yet)."""
    with urllib.request.urlopen(f"http://{http}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return 0.0
