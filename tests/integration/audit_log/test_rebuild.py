"""Rebuilding the read models from the log.

Property: for random histories of several consignments (every lane, controls, payments,
releases and holds), the live read models fed by deliveries that come late, twice and in
another order than the log equal a fresh rebuild from the log, table by table, byte for byte
(`check`). Then: `rebuild` swaps the new tables in while writers keep appending and a live
projection keeps applying, on SQLite and PostgreSQL, and nothing is lost.
"""

from __future__ import annotations

import tempfile
import threading
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.rebuild import check, rebuild
from services.declaration import projections as declaration
from services.declaration.domain.identifiers import SERIAL_SPACE, format_mrn
from services.payment import projections as payment
from services.release import projections as release
from services.risk import projections as risk
from shared.events import declaration as d
from shared.events import payment as p
from shared.events import release as r
from shared.events import risk as k
from shared.events.catalog import registry
from shared.events.envelope import RecordedEvent, stream_name
from shared.eventstore import EventStore
from shared.testing.databases import owner_url

DOCUMENT = {"lrn": "L", "currency": "GBP", "items": []}


def consignment_history(lane: str, control: str, payments: int, settle: bool) -> list[Any]:
    """(category, payload) in a causal order for one consignment."""
    cid = str(uuid.uuid4())
    mrn = format_mrn(2026, "GB", uuid.uuid4().int % SERIAL_SPACE)
    steps: list[Any] = [
        ("declaration", d.DeclarationReceived(cid, f"L-{cid[:8]}", "GB1", "sha256:x", DOCUMENT)),
        ("declaration", d.DeclarationAccepted(cid, mrn, f"L-{cid[:8]}", "GB1", "GBDEM001", "air",
                                              date(2026, 11, 29), 1, DOCUMENT)),
        ("risk", k.RiskAssessed(cid, mrn, lane, 10, [], "2026.1", None, {}, {})),
    ]
    if lane in ("yellow", "red"):
        steps.append(("risk", k.ControlOrdered(cid, mrn, "documentary" if lane == "yellow"
                                               else "examination", lane)))
    steps.append(("payment", p.DutyAssessed(cid, mrn, "GBP", Decimal("10.00"), Decimal("20.00"),
                                            Decimal("30.00"), "2026-07", "2026", "HALF_UP", {})))
    if lane in ("yellow", "red"):
        refused = control == "non_compliant"
        steps.append(("risk", k.ControlCompleted(
            cid, mrn, control, [{"category": "documents" if refused else "no_discrepancy",
                                 "text": "x"}], "refuse_release" if refused else None,
            Decimal("0"))))
    if not payments:  # the debt on a deferment account, opened for it
        number = f"DAN{cid[:8].upper()}"
        steps.append(("payment", p.AccountOpened(number, "deferment", "GB1", Decimal("100.00"),
                                                 "GBP")))
        steps.append(("payment", p.DebtCharged(number, cid, mrn, 1, Decimal("30.00"), "GBP")))
    for n in range(payments):
        steps.append(("payment", p.PaymentReceived(cid, mrn, f"R-{cid[:8]}-{n}", Decimal("30.00"),
                                                   "GBP", Decimal("0.00"), Decimal("0.00"))))
    if settle and control == "non_compliant" and lane in ("yellow", "red"):
        steps.append(("release", r.ReleaseRefused(cid, mrn, 1, "GBDEM001", "control", "x", None, "", [],
                                                  datetime.now(UTC))))
    elif settle and payments:
        now = datetime.now(UTC)
        steps.append(("release", r.GoodsReleased(cid, mrn, 1, "GBDEM001", lane, "air", now, now)))
        steps.append(("release", r.DeclarationCleared(cid, mrn, 1, Decimal("30.00"),
                                                      Decimal(30 * payments), now)))
    return [(cid, category, payload) for category, payload in steps]


histories = st.lists(
    st.tuples(st.sampled_from(["green", "yellow", "red", "blue"]),
              st.sampled_from(["compliant", "non_compliant"]),
              st.integers(0, 2), st.booleans()),
    min_size=1, max_size=4,
)


def append_all(store: EventStore, plans: list[list[Any]], order: list[int]) -> list[RecordedEvent]:
    """Append the consignments' steps interleaved by `order`, keeping each one's own order;
    the projections a service writes in its append transaction are written there."""
    cursors = [0] * len(plans)
    recorded: list[RecordedEvent] = []
    for index in order:
        plan = plans[index % len(plans)]
        if cursors[index % len(plans)] >= len(plan):
            continue
        cid, category, payload = plan[cursors[index % len(plans)]]
        cursors[index % len(plans)] += 1
        stream = stream_name(category, cid)
        with store.transaction() as tx:
            new = tx.append(stream, [registry().new_event(payload, correlation_id=cid,
                                                          actor="t")], None)
            risk.project(tx, new)
            payment.project_cases(tx, new)
            payment.project_references(tx, new)
            payment.project_accounts(tx, new)
            # the release service records its outcome with its event
            release.project(tx, [e for e in new if e.type in release.OUTCOMES])
        recorded.extend(new)
    for i, plan in enumerate(plans):  # whatever `order` left out
        for cid, category, payload in plan[cursors[i]:]:
            with store.transaction() as tx:
                new = tx.append(stream_name(category, cid), [registry().new_event(
                    payload, correlation_id=cid, actor="t")], None)
                risk.project(tx, new)
                payment.project_cases(tx, new)
                payment.project_references(tx, new)
                payment.project_accounts(tx, new)
                release.project(tx, [e for e in new if e.type in release.OUTCOMES])
            recorded.extend(new)
    return recorded


def deliver(store: EventStore, deliveries: list[RecordedEvent]) -> None:
    """What the broker-fed consumers do with each delivery (status projection, release facts)."""
    for event in deliveries:
        with store.transaction() as tx:
            declaration.project(tx, [event])
            if release.stored_fact(event) is not None:
                release.project(tx, [event])


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(plans=histories, data=st.data())
def test_rebuilt_equals_live_for_reordered_and_duplicated_deliveries(plans: Any, data: Any) -> None:
    steps = [consignment_history(*plan) for plan in plans]
    order = data.draw(st.lists(st.integers(0, len(steps) - 1), max_size=40), label="interleaving")
    with tempfile.TemporaryDirectory() as folder:
        store = EventStore(f"sqlite:///{folder}/log.db", registry())
        recorded = append_all(store, steps, order)
        deliveries = data.draw(st.permutations(recorded), label="delivery order")
        duplicates = data.draw(st.lists(st.sampled_from(recorded), max_size=10), label="again")
        positions = data.draw(st.lists(st.integers(0, len(deliveries)), min_size=len(duplicates),
                                       max_size=len(duplicates)), label="where")
        deliveries = list(deliveries)
        for event, at in zip(duplicates, positions, strict=True):
            deliveries.insert(at, event)
        deliver(store, deliveries)
        report = check(store)
        assert report.identical, report.to_json()
        assert report.events == len(recorded)
        store.close()


def test_rebuild_swaps_in_while_writers_append(store_url: str) -> None:
    store = EventStore(owner_url(store_url), registry())  # a rebuild swaps tables: the owner
    stop = threading.Event()
    written: list[str] = []

    def writer() -> None:
        while not stop.is_set():
            for cid, category, payload in consignment_history("green", "compliant", 1, True):
                with store.transaction() as tx:
                    new = tx.append(stream_name(category, cid), [registry().new_event(
                        payload, correlation_id=cid, actor="t")], None)
                    declaration.project(tx, new)  # a live projection, kept up
                    risk.project(tx, new)
                    payment.project_cases(tx, new)
                    payment.project_references(tx, new)
                    release.project(tx, new)  # its facts and its outcomes
            written.append(cid)

    for _ in range(30):  # a log to rebuild from
        for cid, category, payload in consignment_history("red", "non_compliant", 1, True):
            store.append(stream_name(category, cid), [registry().new_event(
                payload, correlation_id=cid, actor="t")], None)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = rebuild(store, page=50)
    finally:
        stop.set()
        thread.join(60)
    assert result.events >= 30 * 7
    assert {t.name for t in result.tables} == {
        "declaration_status", "risk_cases", "payment_cases", "payment_references",
        "payment_accounts", "release_cases", "release_holds"}
    report = check(store)
    assert report.identical, report.to_json()
    status_rows = next(c for c in report.comparisons if c.name == "declaration_status")
    assert status_rows.live_rows == 30 + len(written)
    store.close()
