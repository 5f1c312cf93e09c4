"""`EventStore.scan`, the lean page reader of projection rebuilds, and the status projection's
rebuild fold built on it: both must give exactly what the event-by-event paths give, on
SQLite and PostgreSQL: typed payloads (upcast from older versions) holding the fields asked
for, whatever the strings hold."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from audit.rebuild import _digest, rebuild_projection
from services.declaration import projections as declaration
from shared.events import NewEvent
from shared.events.catalog import registry
from shared.events.codec import kept_fields
from shared.events.envelope import isoformat
from shared.eventstore import EventStore
from shared.testing.databases import owner_url

FIXTURES = Path(__file__).parents[3] / "shared" / "events" / "fixtures"
FLOW = ("DeclarationReceived", "DeclarationAccepted", "RiskAssessed", "ControlOrdered",
        "ControlCompleted", "DutyAssessed", "PaymentReceived", "GoodsReleased", "GoodsHeld",
        "DeclarationRejected")
ODD = ['é "q" \\ \t\n', "☃", "\u2028", "'", "\x7f", "\\u0041"]


def fixture(event_type: str, version: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (FIXTURES / f"{event_type}.v{version}.json").read_text())["data"]
    return data


def odd_payload(rng: random.Random, event_type: str, version: int,
                consignment: str) -> dict[str, Any]:
    """The golden payload of that version with this consignment's ids, and odd characters
    (quotes, escapes, control and line-separator characters) in its free-text fields (those
    the read models store in columns wide enough for them)."""
    data = fixture(event_type, version)
    data["consignment_id"] = consignment
    if "mrn" in data:
        data["mrn"] = "26GB" + consignment[:14]
    for key in ("lrn", "reason", "findings", "officer", "reference", "tariff_version"):
        if key in data and rng.random() < 0.5:
            if isinstance(data[key], list):  # findings since ControlCompleted v3
                data[key] = [{**f, "text": f["text"] + rng.choice(ODD)} for f in data[key]]
            else:
                data[key] += rng.choice(ODD)
    return data


def append_histories(store: EventStore, consignments: int, seed: int) -> None:
    rng = random.Random(seed)
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(consignments)]
    plan = [(c, t) for c in ids for t in rng.sample(FLOW, rng.randint(1, len(FLOW)))]
    rng.shuffle(plan)  # consignments interleaved in the log, as in production
    for consignment, event_type in plan:
        versions = registry().versions(event_type)
        version = rng.choice(versions)  # stored events of older versions stay in the log
        store.append(f"{registry().category(event_type)}-{consignment}", [NewEvent(
            event_type, version, odd_payload(rng, event_type, version, consignment),
            correlation_id=consignment, actor="t")], None)


def lean(store: EventStore, page: int, fields: dict[str, tuple[str, ...]]) -> list[Any]:
    up_to = store.last_position()
    return [(position, event_id, type_, version, consignment, at,
             None if payload is None else kept_fields(payload, fields[type_]))
            for rows in store.scan(0, up_to, page, fields)
            for position, event_id, type_, version, consignment, at, payload in rows]


def test_scan_gives_typed_payloads_of_the_fields_asked_for(store_url: str) -> None:
    store = EventStore(store_url)
    append_histories(store, 15, seed=1)
    assert {e.version for page in store.iter_all() for e in page if e.type == "GoodsReleased"} \
        == {1, 2, 3}, "the log holds every version of GoodsReleased"
    # A string jsonb refuses (NUL): on PostgreSQL that page is picked in Python instead.
    held = fixture("GoodsHeld", 1) | {"consignment_id": "nul", "reason": "a\x00b"}
    store.append("release-nul", [NewEvent("GoodsHeld", 1, held, correlation_id="nul",
                                          actor="t")], None)
    logged = [e for page in store.iter_all(page=1000) for e in page]
    fields = {**declaration.KEPT_FIELDS, "GoodsHeld": ("reason", "mrn")}
    expected = [(e.position, e.event_id, e.type, e.version, e.correlation_id,
                 isoformat(e.occurred_at),
                 None if e.type not in fields else kept_fields(e.payload, fields[e.type]))
                for e in logged]
    released = [row for row in expected if row[2] == "GoodsReleased"]
    assert all(row[6]["released_at"] for row in released)  # upcast v1 rows read as v2
    for page in (1, 7, 1000):
        assert lean(store, page, fields) == expected
    scanned = [row for rows in store.scan(5, 9, 2, fields) for row in rows]
    assert [row[0] for row in scanned] == [6, 7, 8, 9]
    store.close()


def test_a_field_the_event_does_not_have_is_refused(store_url: str) -> None:
    store = EventStore(store_url)
    with pytest.raises(ValueError, match="no field"):
        next(store.scan(0, 10, 5, {"RiskAssessed": ("lane", "colour")}))
    store.close()


@pytest.mark.parametrize("keep", [50_000, 3])
def test_status_rebuild_fold_equals_the_live_projection(store_url: str, keep: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """rebuild_projection (scan + StatusFold, COPY on PostgreSQL) against project() fed one
    event at a time; small pages split consignments over pages, and a small KEEP makes the
    fold read older consignments' facts back from the table. A rebuild creates tables: on
    PostgreSQL it runs as the schema owner."""
    monkeypatch.setattr(declaration.StatusFold, "KEEP", keep)
    store = EventStore(owner_url(store_url))
    append_histories(store, 40, seed=2)
    for page in store.iter_all(page=1000):
        for event in page:
            with store.transaction() as tx:
                declaration.project(tx, [event])
    live = declaration.STATUS.all(store)
    assert len(live) == 40
    for page_size in (1, 5, 64, 5000):
        before = set(inspect(store.schema_engine).get_table_names())
        applied = rebuild_projection(store, "declaration_status", page=page_size, keep=True)
        assert applied == store.last_position()
        (name,) = set(inspect(store.schema_engine).get_table_names()) - before
        rebuilt_model = declaration.STATUS.renamed(name)
        rebuilt = rebuilt_model.all(store)
        assert rebuilt == live
        assert _digest(rebuilt) == _digest(live)
        with store.schema_engine.begin() as connection:
            rebuilt_model.table.drop(connection)
    store.close()
