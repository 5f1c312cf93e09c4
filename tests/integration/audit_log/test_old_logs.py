"""A log written before identity came in (issue 10) still verifies, rebuilds and reads the same.

Such a log holds version 1 events (ControlCompleted with the self-asserted officer in its data,
GoodsReleased without the declaration version) and plain-text actors ("officer-117",
"risk-service"). They are appended here exactly as the old code stored them (the stored data
and envelope of the golden v1 fixtures); then the chain verifies, a rebuild equals the live
read models projected event by event, the typed payloads come upcast, and the history names
each author (a service's own decisions as the service).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from audit.history import history, to_json
from audit.rebuild import check
from services.declaration import projections as declaration
from services.payment import projections as payment
from services.release import projections as release
from services.risk import projections as risk
from shared.events import NewEvent
from shared.events.catalog import registry
from shared.events.release import GoodsReleased
from shared.events.risk import ControlCompleted
from shared.eventstore import EventStore
from shared.eventstore.verify import verify_log
from shared.testing.databases import owner_url

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "shared" / "events" / "fixtures"
CID = "5f0c8e1e-6a1b-4d5e-9b1a-2f8e7d6c5b4a"  # the fixtures' consignment
# (stream category, type, stored version, the old plain-text actor)
OLD_LOG = [
    ("declaration", "DeclarationReceived", 1, "GB123456789000"),
    ("declaration", "DeclarationAccepted", 1, "declaration-service"),
    ("risk", "RiskAssessed", 1, "risk-service"),
    ("risk", "ControlOrdered", 1, "risk-service"),
    ("payment", "DutyAssessed", 1, "payment-service"),
    ("risk", "ControlCompleted", 1, "officer-117"),
    ("payment", "PaymentReceived", 1, "payer:PAY-000001"),
    ("release", "GoodsReleased", 1, "release-service"),
]


def fixture(event_type: str, version: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (FIXTURES / f"{event_type}.v{version}.json").read_text())["data"]
    return data


def old_log(store: EventStore) -> None:
    """The old events, appended as they were stored, and projected as the live services
    did, one event at a time."""
    for category, event_type, version, actor in OLD_LOG:
        data = fixture(event_type, version)
        data["consignment_id"] = CID
        recorded = store.append(f"{category}-{CID}", [NewEvent(
            event_type, version, data, correlation_id=CID, actor=actor)], None)
        with store.transaction() as tx:
            declaration.project(tx, recorded)
            risk.project(tx, recorded)
            payment.project_cases(tx, recorded)
            payment.project_references(tx, recorded)
            release.project(tx, recorded)


def test_an_old_log_verifies_rebuilds_and_reads_typed(store_url: str) -> None:
    store = EventStore(owner_url(store_url))  # writes an old-format log and rebuilds: the owner
    old_log(store)
    assert verify_log(store).ok
    assert check(store).identical

    events = store.read_correlation(CID)
    completed = next(e for e in events if e.type == "ControlCompleted")
    assert completed.version == 1 and completed.data["officer"] == "officer-117"
    assert isinstance(completed.payload, ControlCompleted)  # upcast to the current version
    assert not hasattr(completed.payload, "officer")
    released = next(e for e in events if e.type == "GoodsReleased")
    assert isinstance(released.payload, GoodsReleased)
    assert released.payload.declaration_version == 1
    assert registry().current_version("ControlCompleted") == 3
    assert completed.payload.findings == [{"category": "valuation",
                                           "text": "invoice understated"}]
    assert completed.payload.outcome is None  # a customs hold: no outcome was decided

    authors = {e["type"]: e["actor"] for e in to_json(history(store, CID))["events"]}
    assert authors["ControlCompleted"]["sub"] == "officer-117"
    assert authors["RiskAssessed"] == {"sub": "risk-service", "roles": ["service"],
                                       "recorded_as": "text"}
    assert authors["DeclarationReceived"]["roles"] == []
    store.close()


def test_clearance_verify_and_rebuild_check_accept_an_old_log(sqlite_url: str) -> None:
    store = EventStore(sqlite_url)
    old_log(store)
    store.close()
    for command in (["verify"], ["rebuild", "--check"]):
        run = subprocess.run([sys.executable, "-m", "cli.main", *command, "--json"], cwd=ROOT,
                             env={"EVENT_STORE_URL": sqlite_url, "PATH": "/usr/bin:/bin"},
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        body = json.loads(run.stdout)
        assert body.get("ok", body.get("identical")) is True, body
