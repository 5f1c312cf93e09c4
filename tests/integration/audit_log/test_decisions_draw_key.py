"""`clearance verify --decisions` and the keyed draw, on the real store (SQLite and PostgreSQL).

Strategy: risk decisions are taken by the risk service's own application code under a known
draw key (RiskAssessed version 2, naming the key's id), or appended as a version 1 decision of
the public-salt era exactly as the old code stored it. The replay, given the right key,
re-derives every draw; given another key, or none, it reports the keyed draws as not
re-derivable and calls nothing a mismatch; a draw that does not follow from its inputs (drawn
under another key but labelled with ours, or computed with the public salt and labelled with
ours) is a mismatch naming the draw. Legacy decisions re-derive with the public salt, key or
no key. Then the same through the command line, as an auditor runs it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from audit.decisions import ReplayReference, replay_decisions
from cli.main import main
from services.declaration.domain.identifiers import SERIAL_SPACE, format_mrn
from services.risk.application import Risk, RiskReference, declaration_facts
from services.risk.development import dev_draw_environment
from services.risk.domain import Draw, DrawKey, assess, keyed_draw, seeded_draw
from shared.events import NewEvent
from shared.events import risk as events
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted
from shared.events.envelope import stream_name
from shared.eventstore import EventStore
from shared.messaging.writes import perform
from shared.reference import load_reference_data

ROOT = Path(__file__).resolve().parents[3]
KEY_TEXT = "5d1c0e9a7b3f48e2a6c4d8b0f1e3a5c79b2d4f6e8a0c1b3d5f7e9a2c4b6d8f0e"
OTHER_TEXT = "c3a1e5f7092b4d6f8a1c3e5b7d9f0a2c4e6b8d1f3a5c7e9b0d2f4a6c8e1b3d5f"
KEY, OTHER = DrawKey.parse(KEY_TEXT), DrawKey.parse(OTHER_TEXT)
SAMPLES = ["01-green-paid.json", "05-red-non-compliant.json", "07-blue-aeo.json"]


def accepted(store: EventStore, name: str) -> tuple[DeclarationAccepted, Any]:
    document = json.loads((ROOT / "samples" / name).read_text())
    cid = str(uuid.uuid4())
    payload = DeclarationAccepted(cid, format_mrn(2026, "GB", uuid.uuid4().int % SERIAL_SPACE), document["lrn"],
                                  document["declarant"]["eori"], document["office"],
                                  document["transport"]["mode"], date(2026, 11, 27), 1, document)
    cause = store.append(stream_name("declaration", cid), [registry().new_event(
        payload, correlation_id=cid, actor="test")], 0)[0]
    return payload, cause


def decide(store: EventStore, settings: dict[str, str], name: str) -> int:
    """The risk service's own assessment of a sample under `settings`; its position."""
    payload, cause = accepted(store, name)
    risk = Risk(store, RiskReference.load(settings, load_reference_data().rates))
    with store.transaction() as tx:
        perform(tx, risk.assessment(payload, cause))
    return store.read_stream(stream_name("risk", payload.consignment_id))[0].position


DrawFor = Callable[[str, str], Draw]  # (consignment id, rule-set version) -> the draw


def append_decision(store: EventStore, name: str, draw_for: DrawFor, key_id: str | None) -> int:
    """A decision drawn by `draw_for`, labelled `key_id`, its working consistent (as a forger,
    or for key id None the old code, storing version 1, would record it); its position."""
    payload, _ = accepted(store, name)
    reference = RiskReference.load({"RISK_DRAW_KEY": KEY_TEXT}, load_reference_data().rates)
    draw = draw_for(payload.consignment_id, reference.ruleset.version)
    decision = assess(declaration_facts(payload, reference.rates), reference.ruleset,
                      reference.aeo, payload.acceptance_date, draw)
    data = registry().encode(events.RiskAssessed(
        payload.consignment_id, payload.mrn, decision.lane.value, decision.score, [],
        reference.ruleset.version, None, decision.random.to_dict(), decision.to_dict(), key_id))
    version = registry().current_version("RiskAssessed")
    if key_id is None:  # version 1: no key id, no declaration version
        del data["draw_key_id"], data["declaration_version"]
        version = 1
    cid = payload.consignment_id
    return store.append(stream_name("risk", cid), [NewEvent(
        "RiskAssessed", version, data, correlation_id=cid, actor="risk-service")], 0)[0].position


def replay(store: EventStore, tmp_path: Path, **settings: str) -> Any:
    # an empty var folder: no development key is picked up from the checkout
    return replay_decisions(store, ReplayReference.from_settings(
        {"CLEARANCE_VAR": str(tmp_path / "no-var"), **settings}))


def test_keyed_decisions_name_their_key_and_re_derive_with_it(store_url: str,
                                                              tmp_path: Path) -> None:
    store = EventStore(store_url, registry())
    positions = [decide(store, {"RISK_DRAW_KEY": KEY_TEXT}, name) for name in SAMPLES]
    for event in store.read_all(categories=["risk"]):
        if event.type == "RiskAssessed":
            assert event.version >= 2 and event.data["draw_key_id"] == KEY.key_id
            assert KEY_TEXT not in json.dumps(event.data)
            draw = keyed_draw(KEY, event.correlation_id, event.data["ruleset_version"])
            assert event.data["draw"]["seed"] == draw.seed
            assert event.data["draw"]["seed"] != seeded_draw(
                event.correlation_id, event.data["ruleset_version"]).seed

    report = replay(store, tmp_path, RISK_DRAW_KEY=KEY_TEXT)
    assert report.ok, report.to_json()
    assert (report.risk_checked, report.draws_rederived) == (3, 3)

    other = replay(store, tmp_path, RISK_DRAW_KEY=OTHER_TEXT)
    assert other.mismatches == [] and not other.ok
    assert [n.position for n in other.not_rederivable] == positions
    detail = other.not_rederivable[0].detail
    assert "not re-derivable" in detail and KEY.key_id in detail and OTHER.key_id in detail
    assert other.to_json()["draws_not_rederivable"][0]["draw_key_id"] == KEY.key_id

    none = replay(store, tmp_path)
    assert none.mismatches == [] and len(none.not_rederivable) == 3
    assert "no draw key was given (set RISK_DRAW_KEY)" in none.not_rederivable[0].detail

    # a key given under a hand-set id re-derives decisions recorded under its derived id
    named = replay(store, tmp_path, RISK_DRAW_KEY=KEY_TEXT, RISK_DRAW_KEY_ID="audit-copy")
    assert named.ok and named.draws_rederived == 3
    store.close()


def test_a_draw_that_does_not_follow_from_its_key_is_a_mismatch(store_url: str,
                                                                tmp_path: Path) -> None:
    store = EventStore(store_url, registry())
    honest = decide(store, {"RISK_DRAW_KEY": KEY_TEXT}, SAMPLES[0])
    # drawn under another key, labelled with ours (a risk service given the wrong key)
    wrong = decide(store, {"RISK_DRAW_KEY": OTHER_TEXT, "RISK_DRAW_KEY_ID": KEY.key_id},
                   SAMPLES[1])
    # the public-salt draw, as a broker could compute it, labelled with our key
    forged = append_decision(store, SAMPLES[2], seeded_draw, KEY.key_id)

    report = replay(store, tmp_path, RISK_DRAW_KEY=KEY_TEXT)
    assert [m.position for m in report.mismatches] == [wrong, forged]
    assert all("recorded draw" in m.detail and KEY.key_id in m.detail
               for m in report.mismatches)
    assert report.not_rederivable == [] and report.draws_rederived == 1
    assert honest not in [m.position for m in report.mismatches]
    store.close()


def test_legacy_decisions_re_derive_with_the_public_salt(store_url: str, tmp_path: Path) -> None:
    store = EventStore(store_url, registry())
    good = [append_decision(store, name, seeded_draw, None) for name in SAMPLES]
    # a version 1 decision whose seed the old formula never gives
    bad = append_decision(store, SAMPLES[0], lambda cid, version: Draw.from_seed("0" * 64), None)
    assert all(e.version == 1 for e in store.read_all(categories=["risk"]))
    for settings in ({}, {"RISK_DRAW_KEY": KEY_TEXT}):
        report = replay(store, tmp_path, **settings)
        assert [m.position for m in report.mismatches] == [bad]
        assert "public salt" in report.mismatches[0].detail
        assert report.draws_rederived == len(good) and report.not_rederivable == []
    store.close()


def test_the_development_key_of_the_var_folder_re_derives_its_own_decisions(
        sqlite_url: str, tmp_path: Path) -> None:
    store = EventStore(sqlite_url, registry())
    var = tmp_path / "var"
    decide(store, dev_draw_environment(var), SAMPLES[0])
    assert store.read_all(categories=["risk"])[0].data["draw_key_id"].startswith("dev-draw-")
    report = replay_decisions(store, ReplayReference.from_settings({"CLEARANCE_VAR": str(var)}))
    assert report.ok and report.draws_rederived == 1
    store.close()


def test_clearance_verify_decisions_with_and_without_the_key(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = EventStore(sqlite_url, registry())
    positions = [decide(store, {"RISK_DRAW_KEY": KEY_TEXT}, name) for name in SAMPLES]
    store.close()
    monkeypatch.setenv("EVENT_STORE_URL", sqlite_url)
    monkeypatch.setenv("CLEARANCE_VAR", str(tmp_path / "no-var"))
    monkeypatch.setenv("RISK_DRAW_KEY", KEY_TEXT)
    assert main(["verify", "--decisions", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["decisions"]["draws_rederived"] == 3

    monkeypatch.setenv("RISK_DRAW_KEY", OTHER_TEXT)
    assert main(["verify", "--decisions", "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["decisions"]["mismatches"] == []
    assert [n["position"] for n in body["decisions"]["draws_not_rederivable"]] == positions

    monkeypatch.setenv("RISK_DRAW_KEY", "abc123")
    assert main(["verify", "--decisions"]) == 1
    assert "RISK_DRAW_KEY is too short" in capsys.readouterr().err
