"""The auditor's consignment history (`audit.history`, `clearance history`) on the real stores.

A known history is appended through `EventStore.append` with the deployment's registry: one
yellow-lane consignment through all four services (received, accepted, lane and documentary
check, duty, control result, two payments, release), each step in its own append so every
step has its own recorded instant, with another consignment's events interleaved. The tests
check the order, services, summaries, the contract's JSON, `--as-of` at every instant, CSV,
MRN lookup (projection and log fallback), the HTML timeline in headless Chromium, and that
the read uses the correlation index whatever the size of the log.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from audit.history import History, history, resolve, to_csv, to_html, to_json
from cli.main import main
from services.declaration.projections import project
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted, DeclarationReceived
from shared.events.envelope import RecordedEvent, author_of, isoformat, stream_name
from shared.events.payment import DutyAssessed, PaymentReceived
from shared.events.release import DeclarationCleared, GoodsReleased
from shared.events.risk import ControlCompleted, ControlOrdered, RiskAssessed
from shared.eventstore import EventStore
from shared.eventstore.reader import fetch

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")

MRN = "26GBK2M9Q4R8T1X5R5"
OTHER_MRN = "26GBL3N0P5S9U2Y6R4"
HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)> & \"quotes\""
RATIONALE = "Smartphones from CN: documentary check of the invoice"


def document(lrn: str, description: str = "Smartphones, 128 GB") -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((ROOT / "samples" / "04-yellow-compliant.json").read_text())
    doc = copy.deepcopy(doc)
    doc["lrn"] = lrn
    doc["items"][0]["description"] = description
    return doc


@dataclass
class Step:
    """One append: the events it recorded and the state expected right after it."""

    recorded: list[RecordedEvent]
    status: tuple[str, str] | None = None  # (name, code) for the main consignment
    lane: str | None = None
    amount_due: str | None = None
    amount_paid: str | None = None
    released: bool = False

    @property
    def at(self) -> datetime:
        return self.recorded[0].recorded_at


@dataclass
class Built:
    consignment_id: str
    other_id: str
    steps: list[Step] = field(default_factory=list)  # the main consignment's steps, in order
    mine: list[RecordedEvent] = field(default_factory=list)
    others: list[RecordedEvent] = field(default_factory=list)


class Writer:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.versions: dict[str, int] = {}

    def append(self, category: str, consignment_id: str, *payloads: Any,
               actor: str = "test", occurred_at: datetime | None = None) -> list[RecordedEvent]:
        stream = stream_name(category, consignment_id)
        new = [registry().new_event(p, correlation_id=consignment_id, actor=actor,
                                    occurred_at=occurred_at or datetime.now(UTC))
               for p in payloads]
        recorded = self.store.append(stream, new, self.versions.get(stream, 0))
        self.versions[stream] = self.versions.get(stream, 0) + len(new)
        time.sleep(0.02)  # distinct recorded instants for each append
        return recorded


def build(store: EventStore, description: str = "Smartphones, 128 GB",
          findings: str = "invoice matches the goods") -> Built:
    c, d = "c0ffee00-0000-4000-8000-00000000000c", "d00d0000-0000-4000-8000-00000000000d"
    built = Built(c, d)
    w = Writer(store)
    lodged = datetime.now(UTC)

    def mine(recorded: list[RecordedEvent], *state: Any, **facts: Any) -> None:
        built.mine.extend(recorded)
        built.steps.append(Step(recorded, *state, **facts))

    def other(recorded: list[RecordedEvent]) -> None:
        built.others.extend(recorded)

    doc = document("ACME-2026-000123", description)
    mine(w.append("declaration", c, DeclarationReceived(c, doc["lrn"], "GB123456789000",
                                                        "sha256:" + "ab" * 32, doc),
                  actor="declarant:GB123456789000", occurred_at=lodged),
         ("received", "02"))
    mine(w.append("declaration", c, DeclarationAccepted(
        c, MRN, doc["lrn"], "GB123456789000", "GBDEM001", "air", date(2026, 11, 29), 1, doc),
        actor="declaration-service"), ("accepted", "01"))
    other_doc = document("OTHER-2026-000001")
    other(w.append("declaration", d, DeclarationReceived(d, other_doc["lrn"], "GB111111111000",
                                                         "sha256:" + "cd" * 32, other_doc),
                   DeclarationAccepted(d, OTHER_MRN, other_doc["lrn"], "GB111111111000",
                                       "GBDEM001", "sea", date(2026, 11, 29), 1, other_doc)))
    mine(w.append("risk", c, RiskAssessed(
        c, MRN, "yellow", 45,
        [{"rule_id": "R-ORIGIN-CN-8517", "lane": "yellow", "score": 45, "rationale": RATIONALE}],
        "2026.1", None, {"seed": "cd" * 32, "selected": False, "value": "0.734512"},
        {"lane": "yellow"}), ControlOrdered(c, MRN, "documentary", "yellow"),
        actor="risk-service"), ("documents_required", "06"), "yellow")
    mine(w.append("payment", c, DutyAssessed(
        c, MRN, "GBP", Decimal("0.00"), Decimal("2387.45"), Decimal("2387.45"), "2026-07",
        "2026-11", "ROUND_HALF_UP",
        {"exchange_rate": {"currency": "USD", "rate": "0.7912"},
         "rounding": {"mode": "ROUND_HALF_UP", "minor_units": 2,
                      "rule": "half up to 0.01 GBP per item"},
         "totals": {"duty": "0.00", "vat": "2387.45", "due": "2387.45"}}),
        actor="payment-service"), ("documents_required", "06"), "yellow", "2387.45", "0.00")
    other(w.append("risk", d, RiskAssessed(d, OTHER_MRN, "green", 0, [], "2026.1", None,
                                           {"seed": "ef" * 32, "selected": False,
                                            "value": "0.5"}, {"lane": "green"})))
    mine(w.append("risk", c, ControlCompleted(c, MRN, "compliant",
                                              [{"category": "no_discrepancy", "text": findings}],
                                              None, Decimal("0.00")),
                  actor="officer-117"), ("tax_due", "13"), "yellow", "2387.45", "0.00")
    mine(w.append("payment", c, PaymentReceived(c, MRN, "PAY-000001", Decimal("1000.00"), "GBP",
                                                Decimal("1387.45"), Decimal("0.00")),
                  actor="payer:PAY-000001"), ("tax_due", "13"), "yellow", "2387.45", "1000.00")
    mine(w.append("payment", c, PaymentReceived(c, MRN, "PAY-000002", Decimal("1387.45"), "GBP",
                                                Decimal("0.00"), Decimal("0.00")),
                  actor="payer:PAY-000002"), ("accepted", "01"), "yellow", "2387.45", "2387.45")
    released_at = datetime.now(UTC)
    mine(w.append("release", c, GoodsReleased(c, MRN, 1, "GBDEM001", "yellow", "air", lodged,
                                              released_at), actor="release-service"),
         ("released", "08"), "yellow", "2387.45", "2387.45", True)
    mine(w.append("release", c, DeclarationCleared(c, MRN, 1, Decimal("2387.45"),
                                                   Decimal("2387.45"), released_at),
                  actor="release-service"),
         ("cleared", "09"), "yellow", "2387.45", "2387.45", True)
    return built


@pytest.fixture
def store(store_url: str) -> Iterator[EventStore]:
    s = EventStore(store_url, registry())
    yield s
    s.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[EventStore]:
    s = EventStore(sqlite_url, registry())
    yield s
    s.close()


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str,
        *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("EVENT_STORE_URL", url)
    capsys.readouterr()
    try:
        code = main(["history", *args])
    except SystemExit as exc:  # argparse's bad usage
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# -- order, services, summaries, JSON ----------------------------------------------------------


def test_history_in_log_order_across_services_with_summaries(store: EventStore) -> None:
    built = build(store)
    h = history(store, built.consignment_id)

    assert [e.position for e in h.events] == [e.position for e in built.mine]
    assert [e.position for e in h.events] == sorted(e.position for e in h.events)
    assert not {e.event_id for e in built.others} & {e.event_id for e in h.events}
    assert [e.service for e in h.events] == ["declaration", "declaration", "risk", "risk",
                                             "payment", "risk", "payment", "payment", "release",
                                             "release"]
    assert [e.type for e in h.events] == [
        "DeclarationReceived", "DeclarationAccepted", "RiskAssessed", "ControlOrdered",
        "DutyAssessed", "ControlCompleted", "PaymentReceived", "PaymentReceived",
        "GoodsReleased", "DeclarationCleared"]
    assert all(e.hash_verified for e in h.events)
    assert [e.hash for e in h.events] == [e.hash for e in built.mine]
    # the chain links: a previous hash is the stored hash of the event just before it
    by_position = {e.position: e.hash for e in built.mine + built.others}
    for e in h.events:
        if e.position - 1 in by_position:
            assert e.previous_hash == by_position[e.position - 1]

    s = {e.type + str(i): e.summary for i, e in enumerate(h.events)}
    assert "ACME-2026-000123" in s["DeclarationReceived0"]
    assert MRN in s["DeclarationAccepted1"]
    risk = s["RiskAssessed2"]
    assert "Lane YELLOW" in risk and "R-ORIGIN-CN-8517" in risk and RATIONALE in risk
    assert "2026.1" in risk and "0.734512" in risk
    assert s["ControlOrdered3"] == "Documentary check ordered (yellow lane)"
    duty = s["DutyAssessed4"]
    assert "Duty 0.00 + VAT 2387.45 = 2387.45 GBP due" in duty
    assert "tariff 2026-07" in duty and "rates 2026-11" in duty
    assert "rate 1 USD = 0.7912 GBP" in duty and "half up to 0.01 GBP per item" in duty
    assert "COMPLIANT" in s["ControlCompleted5"] and "invoice matches the goods" in s[
        "ControlCompleted5"]
    assert "1000.00 GBP" in s["PaymentReceived6"] and "balance due 1387.45 GBP" in s[
        "PaymentReceived6"]
    assert "balance due 0.00 GBP" in s["PaymentReceived7"]
    release = s["GoodsReleased8"]
    assert "Released at" in release and "yellow lane" in release and "after lodgement" in release
    assert s["DeclarationCleared9"].startswith("Cleared at") and "2387.45 paid" in s[
        "DeclarationCleared9"]

    assert h.status == {"name": "cleared", "code": "09"}
    assert h.mrn == MRN
    facts = h.facts
    assert facts is not None and facts.lane == "yellow" and facts.released
    assert (facts.amount_due, facts.amount_paid) == ("2387.45", "2387.45")


def test_json_has_the_contract_shape(store: EventStore, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    built = build(store)
    code, out, _ = cli(monkeypatch, capsys, store.url, built.consignment_id, "--json")
    assert code == 0
    body = json.loads(out)
    assert {"consignment_id", "events", "status", "as_of"} <= set(body)
    assert body["consignment_id"] == built.consignment_id
    assert body["as_of"] is None
    assert body["status"] == {"name": "cleared", "code": "09"}
    assert body["mrn"] == MRN
    assert body["facts"]["lane"] == "yellow" and body["facts"]["released"] is True
    assert len(body["events"]) == len(built.mine)
    for got, recorded in zip(body["events"], built.mine, strict=True):
        assert {"position", "recorded_at", "service", "type", "version", "data"} <= set(got)
        assert got["position"] == recorded.position
        assert got["recorded_at"] == isoformat(recorded.recorded_at)
        assert got["service"] == recorded.category
        assert got["type"] == recorded.type and got["version"] == recorded.version
        assert got["data"] == dict(recorded.data)
        assert got["actor"] == author_of(recorded.actor) and got["event_id"] == recorded.event_id
        assert {"sub", "roles"} <= set(got["actor"])
        assert got["hash"] == recorded.hash and got["hash_verified"] is True
    assert body["positions"]["first"] == built.mine[0].position
    assert body["positions"]["last"] == built.mine[-1].position

    code, out, _ = cli(monkeypatch, capsys, store.url, built.consignment_id)  # the text table
    assert code == 0
    assert "cleared (09)" in out
    lines = [line for line in out.splitlines() if re.match(r"\s*\d+\s", line)]
    assert [int(line.split()[0]) for line in lines] == [e.position for e in built.mine]


# -- as of each instant ------------------------------------------------------------------------


def test_as_of_every_instant_gives_the_state_as_it_stood(
        store: EventStore, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    built = build(store)
    instants = [step.at for step in built.steps]
    assert instants == sorted(instants) and len(set(instants)) == len(instants)
    statuses = [step.status for step in built.steps]
    assert statuses[:3] == [("received", "02"), ("accepted", "01"),
                            ("documents_required", "06")]
    assert ("tax_due", "13") in statuses and statuses[-2:] == [("released", "08"), ("cleared", "09")]

    before = history(store, built.consignment_id, as_of=instants[0] - timedelta(microseconds=1))
    assert before.events == [] and before.status is None and before.facts is None

    seen = 0
    for step in built.steps:
        seen += len(step.recorded)
        for as_of in (step.at, step.at + timedelta(microseconds=1)):
            h = history(store, built.consignment_id, as_of=as_of)
            assert [e.position for e in h.events] == [e.position for e in built.mine[:seen]]
            assert step.status is not None
            assert h.status == {"name": step.status[0], "code": step.status[1]}, step
            facts = h.facts
            assert facts is not None
            assert facts.lane == step.lane
            assert facts.amount_due == step.amount_due
            assert facts.amount_paid == step.amount_paid
            assert facts.released is step.released
        if step is not built.steps[-1]:  # just before the next step: still this state
            nxt = built.steps[built.steps.index(step) + 1].at
            h = history(store, built.consignment_id, as_of=nxt - timedelta(microseconds=1))
            assert len(h.events) == seen

    # the command line: naive ISO time = UTC, an aware one in another zone, JSON carries as_of
    tax_due = next(s for s in built.steps if s.status == ("tax_due", "13"))
    naive = tax_due.at.astimezone(UTC).replace(tzinfo=None).isoformat()
    code, out, _ = cli(monkeypatch, capsys, store.url, MRN, "--as-of", naive, "--json")
    assert code == 0, out
    body = json.loads(out)
    assert body["status"] == {"name": "tax_due", "code": "13"}
    assert body["as_of"] == isoformat(tax_due.at)
    assert body["facts"]["amount_due"] == "2387.45" and body["facts"]["released"] is False
    zoned = tax_due.at.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    code, out, _ = cli(monkeypatch, capsys, store.url, MRN, "--as-of", zoned, "--json")
    assert code == 0 and json.loads(out)["status"]["code"] == "13"
    code, out, _ = cli(monkeypatch, capsys, store.url, MRN, "--as-of",
                       tax_due.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    assert code == 0 and "tax_due (13)" in out


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_parses_one_row_per_event(store: EventStore, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    built = build(store)
    code, out, _ = cli(monkeypatch, capsys, store.url, built.consignment_id, "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["position"]) for r in rows] == [e.position for e in built.mine]
    assert [r["service"] for r in rows] == [e.category for e in built.mine]
    assert [r["type"] for r in rows] == [e.type for e in built.mine]
    assert [json.loads(r["data"]) for r in rows] == [dict(e.data) for e in built.mine]
    assert all(r["hash_verified"] == "true" for r in rows)
    assert RATIONALE in rows[2]["summary"]
    assert out == to_csv(history(store, built.consignment_id))


def test_csv_neutralises_formula_cells(sqlite_store: EventStore) -> None:
    w = Writer(sqlite_store)
    doc = document("=HYPERLINK(\"http://x\")")
    w.append("declaration", "F1", DeclarationReceived("F1", doc["lrn"], "GB1", "sha256:x", doc),
             actor="=cmd|' /C calc'!A0")
    rows = list(csv.DictReader(io.StringIO(to_csv(history(sqlite_store, "F1")))))
    assert rows[0]["actor"].startswith("'=")
    assert json.loads(rows[0]["data"])["lrn"] == doc["lrn"]  # data itself is untouched


# -- MRN lookup --------------------------------------------------------------------------------


def test_mrn_lookup_through_the_projection_and_the_log(
        store: EventStore, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    built = build(store)
    # no projection row yet: found by scanning the acceptances in the log
    assert resolve(store, MRN) == built.consignment_id
    assert resolve(store, OTHER_MRN) == built.other_id
    assert resolve(store, MRN.lower()) == built.consignment_id
    # with the declaration projection run over the appended events
    with store.transaction() as tx:
        project(tx, built.mine + built.others)
    assert resolve(store, MRN) == built.consignment_id
    assert resolve(store, built.consignment_id) == built.consignment_id
    assert resolve(store, "26GBZZZZZZZZZZZZR8") is None
    assert resolve(store, "no-such-consignment") is None

    code, out, _ = cli(monkeypatch, capsys, store.url, MRN, "--json")
    assert code == 0 and json.loads(out)["consignment_id"] == built.consignment_id
    code, out, err = cli(monkeypatch, capsys, store.url, "26GBZZZZZZZZZZZZR8")
    assert code == 1 and out == "" and "26GBZZZZZZZZZZZZR8" in err
    code, _, _ = cli(monkeypatch, capsys, store.url, "no-such-consignment", "--json")
    assert code == 1
    code, _, err = cli(monkeypatch, capsys, store.url, MRN, "--as-of", "yesterday")
    assert code == 2 and "ISO 8601" in err
    code, _, _ = cli(monkeypatch, capsys, store.url, MRN, "--json", "--csv")
    assert code == 2


def test_mrn_lookup_prefers_the_projection(sqlite_store: EventStore) -> None:
    built = build(sqlite_store)
    with sqlite_store.transaction() as tx:
        project(tx, built.mine)
        tx.execute(  # the projection says so: the log is not scanned
            "UPDATE declaration_status SET mrn = '26GBQQQQQQQQQQQQR1' WHERE consignment_id = ?",
            (built.consignment_id,))
    assert resolve(sqlite_store, "26GBQQQQQQQQQQQQR1") == built.consignment_id


# -- the HTML timeline in headless Chromium -----------------------------------------------------


def chromium() -> str:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is required at {CHROMIUM} for the HTML timeline test: install "
                    "it with `apt-get install -y chromium` (CI's .ci/run installs it)")
    return str(CHROMIUM)


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-extensions",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}",
               "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_html_timeline_renders_in_chromium(sqlite_store: EventStore, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # trader- and officer-typed text with markup in it, in the data and in a summary
    built = build(sqlite_store, description=HOSTILE, findings=HOSTILE)
    page = tmp_path / "history.html"
    code, _, err = cli(monkeypatch, capsys, sqlite_store.url, MRN, "--html", str(page))
    assert code == 0 and str(page) in err, err
    text = page.read_text(encoding="utf-8")

    # self-contained: no external resource of any kind, and the trader's markup is escaped
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", text, re.I)
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert HOSTILE not in text and "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert text.count("<script") == 1
    for e in built.mine:
        assert f'id="event-{e.position}"' in text and e.hash in text
    assert MRN in text and built.consignment_id in text and "cleared (09)" in text

    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-3000:]
    rendered = dom.stdout
    for e in built.mine:
        block = re.search(rf'<li class="event" id="event-{e.position}"[^>]*>(.*?)</li>',
                          rendered, re.S)
        assert block is not None, f"event {e.position} missing from the rendered DOM"
        assert f"#{e.position}" in block.group(1) and e.type in block.group(1)
        assert e.category in block.group(1)
    assert "<script>alert" not in rendered  # the DOM holds the text, not an element
    assert 'id="tools" hidden' not in rendered, "the inline script did not run (CSP hash?)"
    # the page writes nothing to the console: no uncaught error, no CSP violation (which
    # Chromium reports as a console message), no failed load
    problems = [line for line in dom.stderr.splitlines()
                if ":CONSOLE" in line or "Uncaught" in line or "net::ERR_" in line]
    assert not problems, "\n".join(problems)

    shot = tmp_path / "history.png"
    capture = run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1800",
                           "--hide-scrollbars", page.as_uri())
    assert capture.returncode == 0, capture.stderr[-3000:]
    assert shot.exists() and png_size(shot) == (1280, 1800)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    assert not [line for line in capture.stderr.splitlines()
                if ":CONSOLE" in line or "Uncaught" in line]


# -- the read does not grow with the log --------------------------------------------------------


def test_history_read_uses_the_correlation_index(store: EventStore,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    built = build(store)
    noise = 0
    for batch in range(10):  # 10,000 other events: 1,000 per append, one consignment each
        stream = f"payment-noise{batch}"
        new = [registry().new_event(
            PaymentReceived(f"N{batch}-{i}", OTHER_MRN, f"REF-{batch}-{i}", Decimal("1.00"),
                            "GBP", Decimal("0.00"), Decimal("0.00")),
            correlation_id=f"N{batch}-{i}", actor="noise") for i in range(1000)]
        noise += len(store.append(stream, new, 0))
    assert noise == 10_000
    if store.dialect == "postgresql":
        with store.transaction() as tx:
            tx.execute("ANALYZE events")

    statements: list[tuple[str, Any]] = []

    class Recording:  # a driver connection that records what is executed on it
        def __init__(self, connection: Any) -> None:
            self.connection = connection

        def cursor(self) -> Any:
            cursor = self.connection.cursor()
            execute = cursor.execute

            def recorded(statement: str, parameters: Any = ()) -> Any:
                statements.append((statement, parameters))
                return execute(statement, parameters)

            return type("RecordingCursor", (), {
                "execute": staticmethod(recorded), "fetchall": cursor.fetchall,
                "fetchone": cursor.fetchone, "close": cursor.close})()

    real_run = store.pool.run

    def recording_run(work: Any) -> Any:
        return real_run(lambda connection: work(Recording(connection)))

    monkeypatch.setattr(store.pool, "run", recording_run)
    monkeypatch.setattr(store.log, "run", recording_run)
    h = history(store, built.consignment_id)
    monkeypatch.undo()
    assert [e.position for e in h.events] == [e.position for e in built.mine]

    reads = [(s, p) for s, p in statements if "FROM events" in s]
    correlation = [(s, p) for s, p in reads if "correlation_id" in s]
    assert len(correlation) == 1, statements
    plans = {s: explain(store, s, p) for s, p in reads}
    plan = plans[correlation[0][0]]
    assert "ix_events_correlation" in plan, plan
    for statement, text in plans.items():  # no read of the history scans the whole log
        if store.dialect == "sqlite":
            assert not re.search(r"\bSCAN events\b(?! USING)", text), (statement, text)
        else:
            assert "Seq Scan on events" not in text, (statement, text)
    if store.dialect == "sqlite":
        assert "SEARCH events USING INDEX ix_events_correlation" in plan, plan
    else:
        assert re.search(r"(Index|Index Only|Bitmap Index) Scan", plan), plan


def explain(store: EventStore, statement: str, parameters: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
    rows = store.run(lambda connection: fetch(connection, prefix + statement, parameters))
    return "\n".join(str(row[-1]) for row in rows)


def test_history_object_round_trips_to_html_and_json(sqlite_store: EventStore) -> None:
    """Every field of every event, as appended, comes back in the JSON and in the HTML."""
    import html

    built = build(sqlite_store)
    h: History = history(sqlite_store, built.consignment_id)
    log = sqlite_store.read_all(limit=1000)
    previous = {e.position: p.hash for p, e in zip(log, log[1:], strict=False)}
    previous[log[0].position] = "0" * 64  # the chain's genesis
    assert all(r.correlation_id == built.consignment_id for r in built.mine)

    body = json.loads(json.dumps(to_json(h)))
    assert body["consignment_id"] == built.consignment_id and body["mrn"] == MRN
    assert body["as_of"] is None and body["generated_at"] == isoformat(h.generated_at)
    assert body["status"] == {"name": "cleared", "code": "09"}
    assert body["positions"] == {"first": built.mine[0].position,
                                 "last": built.mine[-1].position,
                                 "log_head": sqlite_store.last_position()}
    assert len(body["events"]) == len(built.mine) == len(h.events)
    for got, appended, shown in zip(body["events"], built.mine, h.events, strict=True):
        assert isinstance(shown.summary, str) and shown.summary
        assert got == {
            "position": appended.position,
            "recorded_at": isoformat(appended.recorded_at),
            "occurred_at": isoformat(appended.occurred_at),
            "service": appended.category,
            "stream": appended.stream,
            "stream_version": appended.stream_version,
            "type": appended.type,
            "version": appended.version,
            "actor": author_of(appended.actor),
            "causation_id": appended.causation_id,
            "event_id": appended.event_id,
            "previous_hash": previous[appended.position],
            "hash": appended.hash,
            "hash_verified": True,
            "summary": shown.summary,
            "data": dict(appended.data),
        }, appended.type

    page = to_html(h)
    assert page.startswith("<!DOCTYPE html>")
    blocks = re.findall(r'<li class="event" id="event-(\d+)".*?</li>', page, re.S)
    assert [int(b) for b in blocks] == [r.position for r in built.mine]
    for appended, shown in zip(built.mine, h.events, strict=True):
        block = re.search(rf'<li class="event" id="event-{appended.position}".*?</li>', page,
                          re.S)
        assert block is not None
        text = block.group(0)
        data = json.dumps(dict(appended.data), indent=2, sort_keys=True, ensure_ascii=False)
        for value in (appended.position, isoformat(appended.recorded_at),
                      isoformat(appended.occurred_at), appended.category, appended.stream,
                      f"version {appended.stream_version}", appended.type,
                      f"v{appended.version}", author_of(appended.actor)["sub"],
                      appended.causation_id or "-",
                      appended.event_id, previous[appended.position], appended.hash,
                      shown.summary, data):
            assert html.escape(str(value), quote=True) in text, (appended.type, value)
