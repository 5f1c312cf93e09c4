"""Decision replay (`clearance verify --decisions`) on the real store.

A log is built by the risk and payment services' own application code from real declarations
(sample documents). Untouched, every decision re-derives. Then the tariff of the version the
assessment recorded is changed in a copy of the reference data: the replay must flag exactly
that assessment, naming its position, while the risk decisions still pass.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pytest

from audit.decisions import ReplayReference, replay_decisions
from cli.main import main
from services.declaration.domain.identifiers import SERIAL_SPACE, format_mrn
from services.payment.application import Payments
from services.risk.application import Risk, RiskReference
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted
from shared.events.envelope import stream_name
from shared.eventstore import EventStore
from shared.messaging.writes import perform
from shared.reference import PACKAGED_DATA_DIR, load_reference_data

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ["01-green-paid.json", "05-red-non-compliant.json", "07-blue-aeo.json"]


KEY = {"RISK_DRAW_KEY": "5d1c0e9a7b3f48e2a6c4d8b0f1e3a5c79b2d4f6e8a0c1b3d5f7e9a2c4b6d8f0e"}


def build_log(store: EventStore, key: Mapping[str, str] = KEY) -> dict[str, int]:
    """Accept three sample declarations and let risk (drawing under `key`) and payment
    decide; their positions."""
    reference = load_reference_data()
    risk = Risk(store, RiskReference.load(key, reference.rates))
    payments = Payments(store, reference)
    positions = {}
    for name in SAMPLES:
        document = json.loads((ROOT / "samples" / name).read_text())
        cid = str(uuid.uuid4())
        accepted = DeclarationAccepted(cid, format_mrn(2026, "GB", uuid.uuid4().int % SERIAL_SPACE),
                                       document["lrn"], document["declarant"]["eori"],
                                       document["office"], document["transport"]["mode"],
                                       date(2026, 11, 27), 1, document)
        cause = store.append(stream_name("declaration", cid), [registry().new_event(
            accepted, correlation_id=cid, actor="test")], 0)[0]
        with store.transaction() as tx:
            perform(tx, risk.assessment(accepted, cause))
        with store.transaction() as tx:
            perform(tx, payments.assessment(accepted, cause))
        positions[name] = store.read_stream(stream_name("payment", cid))[0].position
    return positions


def test_untouched_log_replays_and_a_changed_tariff_is_flagged(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    store = EventStore(store_url, registry())
    positions = build_log(store)
    report = replay_decisions(store, ReplayReference.from_settings(KEY))
    assert report.ok and (report.risk_checked, report.duty_checked) == (3, 3)

    # Someone edits the published tariff version after the fact: smartphones' VAT 20 -> 21.
    changed = tmp_path / "reference"
    shutil.copytree(PACKAGED_DATA_DIR, changed)
    version = store.read_all(limit=1000, categories=["payment"])[0].data["tariff_version"]
    tariff = changed / "tariff" / f"tariff-{version}.csv"
    lines = tariff.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("851713,,"))
    assert lines[index].endswith(",20")
    lines[index] = lines[index][: -len("20")] + "21"
    tariff.write_text("\n".join(lines) + "\n")

    report = replay_decisions(store, ReplayReference.from_settings(
        {"REFERENCE_DATA_DIR": str(changed), **KEY}))
    assert [m.position for m in report.mismatches] == [positions["01-green-paid.json"]]
    assert "tariff" in report.mismatches[0].detail and report.risk_checked == 3

    # the same through the command line, as an auditor runs it
    monkeypatch.setenv("EVENT_STORE_URL", store_url)
    monkeypatch.setenv("RISK_DRAW_KEY", KEY["RISK_DRAW_KEY"])
    monkeypatch.setenv("REFERENCE_DATA_DIR", str(changed))
    assert main(["verify", "--decisions", "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["ok"] is False and body["first_bad_position"] is None  # the chain is intact
    assert body["decisions"]["mismatches"][0]["position"] == positions["01-green-paid.json"]
    monkeypatch.delenv("REFERENCE_DATA_DIR")
    assert main(["verify", "--decisions"]) == 0
    store.close()
