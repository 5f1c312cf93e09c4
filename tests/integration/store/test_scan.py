"""`EventStore.scan`, the lean page reader of projection rebuilds, and the status projection's
rebuild fold built on it: both must give exactly what the event-by-event paths give, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from audit.rebuild import _digest, _rows, rebuild_projection
from services.declaration import projections as declaration
from shared.events import NewEvent
from shared.events.envelope import isoformat
from shared.eventstore import EventStore

FIXTURES = Path(__file__).parents[3] / "shared" / "events" / "fixtures"
FLOW = ("DeclarationReceived", "DeclarationAccepted", "RiskAssessed", "ControlOrdered",
        "ControlCompleted", "DutyAssessed", "PaymentReceived", "GoodsReleased", "GoodsHeld",
        "DeclarationRejected")
CATEGORY = {"DeclarationReceived": "declaration", "DeclarationAccepted": "declaration",
            "DeclarationRejected": "declaration", "RiskAssessed": "risk",
            "ControlOrdered": "risk", "ControlCompleted": "risk", "DutyAssessed": "payment",
            "PaymentReceived": "payment", "GoodsReleased": "release", "GoodsHeld": "release"}


def fixture(event_type: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{event_type}.v1.json").read_text())["data"]
    return data


# Fields the status view computes with (left valid), and ones its table needs unique/non-null.
INTERPRETED = {"amount", "amount_due", "currency", "lane", "result", "kind", "released_at",
               "declaration_version", "consignment_id"}
NOT_NULL = {"lrn", "declarant_eori", "mrn"}


def odd_payloads(rng: random.Random, event_type: str, consignment: str) -> dict[str, Any]:
    """The golden payload, varied: fields dropped or null, unicode, quotes, escapes, big
    numbers and nesting; each consignment its own MRN."""
    data = fixture(event_type)
    data["consignment_id"] = consignment
    if "mrn" in data:
        data["mrn"] = "26GB" + consignment[:14]
    for key in list(data):
        if key in INTERPRETED:
            continue
        roll = rng.random()
        if roll < 0.1 and key != "mrn":
            del data[key]
        elif roll < 0.15 and key not in NOT_NULL:
            data[key] = None
        elif roll < 0.3 and isinstance(data[key], str) and key != "mrn":
            data[key] += rng.choice(['é "q" \\ \t\n', "☃", "\u2028", "'", "\x7f"])
    data["extra"] = {"nested": [1, 2, {"deep": "x" * rng.randint(0, 50)}], "n": 10**20}
    return data


def append_histories(store: EventStore, consignments: int, seed: int) -> None:
    rng = random.Random(seed)
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(consignments)]
    plan = [(c, t) for c in ids for t in rng.sample(FLOW, rng.randint(1, len(FLOW)))]
    rng.shuffle(plan)  # consignments interleaved in the log, as in production
    for consignment, event_type in plan:
        store.append(f"{CATEGORY[event_type]}-{consignment}", [NewEvent(
            event_type, 1, odd_payloads(rng, event_type, consignment),
            correlation_id=consignment, actor="t")], None)
        if rng.random() < 0.1:
            store.append(f"other-{consignment}", [NewEvent(
                "SomethingElse", 1, {"x": 1}, correlation_id=consignment, actor="t")], None)


def test_scan_gives_the_logs_rows_whole_or_with_picked_fields(store_url: str) -> None:
    store = EventStore(store_url)
    append_histories(store, 15, seed=1)
    if store.dialect == "postgresql":  # a payload jsonb refuses: that page is picked in Python
        store.append("risk-nul", [NewEvent("RiskAssessed", 1, {"lane": "red", "note": "a\x00b"},
                                           correlation_id="nul", actor="t")], None)
    logged = [e for page in store.iter_all(page=1000) for e in page]
    up_to = logged[-1].position
    for page in (1, 7, 1000):
        whole = [row for rows in store.scan(0, up_to, page) for row in rows]
        assert whole == [(e.position, e.event_id, e.type, e.correlation_id,
                          isoformat(e.occurred_at), json.dumps(dict(e.data), sort_keys=True,
                          separators=(",", ":"), ensure_ascii=False)) for e in logged]
        fields = declaration.KEPT_FIELDS
        picked = [row for rows in store.scan(0, up_to, page, fields) for row in rows]
        expected = [(e.position, e.event_id, e.type, e.correlation_id, isoformat(e.occurred_at),
                     None if e.type not in fields
                     else {k: e.data[k] for k in fields[e.type] if k in e.data}) for e in logged]
        assert [(*row[:5], json.loads(row[5]) if isinstance(row[5], str) else row[5])
                for row in picked] == expected
    assert [row for rows in store.scan(5, 9, 2) for row in rows] == [
        row for row in whole if 5 < row[0] <= 9]
    store.close()


@pytest.mark.parametrize("keep", [50_000, 3])
def test_status_rebuild_fold_equals_the_live_projection(store_url: str, keep: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """rebuild_projection (scan + StatusFold, COPY on PostgreSQL) against project() fed one
    event at a time; small pages split consignments over pages, and a small KEEP makes the
    fold read older consignments' facts back from the table."""
    monkeypatch.setattr(declaration.StatusFold, "KEEP", keep)
    store = EventStore(store_url)
    append_histories(store, 40, seed=2)
    for page in store.iter_all(page=1000):
        for event in page:
            with store.transaction() as tx:
                declaration.project(tx.connection, [event])
    live_table = declaration.status_table()
    for page_size in (1, 5, 64, 5000):
        before = set(inspect(store.engines.writer).get_table_names())
        applied = rebuild_projection(store, "declaration_status", page=page_size, keep=True)
        assert applied == store.last_position()
        (name,) = set(inspect(store.engines.writer).get_table_names()) - before
        rebuilt_table = declaration.status_table(name)
        with store.engines.reader.connect() as connection:
            live = _rows(connection, live_table, ("consignment_id",))
            rebuilt = _rows(connection, rebuilt_table, ("consignment_id",))
        assert rebuilt == live
        assert _digest(rebuilt) == _digest(live)
        with store.engines.writer.begin() as connection:
            rebuilt_table.drop(connection)
    store.close()
