"""The Time Release Study from a real log, on SQLite and PostgreSQL: the streaming reader,
`clearance trs` (text, --json, --since/--until, --by, bad usage) and `--plot` writing a PNG.

The synthetic log has durations chosen by hand (seconds after each consignment's lodgement):

  G1 green air  GBLHR001: risk 2, assessed 2, paid 62, released 63           total 63
  G2 green air  GBLHR001: risk 4, assessed 3, paid 424, released 425         total 425
  R1 red   sea  GBFXT001: risk 5, assessed 5, paid 65, control 3605, rel 3606 total 3606
  Y1 yellow sea GBFXT001: risk 5, assessed 5, paid 20, control 1205, rel 1206 total 1206
  B1 blue  air  GBLHR001: risk 1, assessed 1, no duty, released 2           total 2
  O1 red   air  GBLHR001: risk 3, assessed 3, examination not done yet        open

Lodgements one minute apart from 08:00 in that order. The events are appended in the order
they happened across the consignments, as the services would.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from audit.trs import build_report, read_store
from cli.main import main
from services.declaration.domain.identifiers import SERIAL_SPACE, format_mrn
from shared.events import declaration as d
from shared.events import payment as p
from shared.events import release as r
from shared.events import risk as k
from shared.events.catalog import registry
from shared.eventstore import EventStore

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#        id    lane      mode   office      risk ass  paid  control released
PLAN = [("G1", "green", "air", "GBLHR001", 2, 2, 62, None, 63),
        ("G2", "green", "air", "GBLHR001", 4, 3, 424, None, 425),
        ("R1", "red", "sea", "GBFXT001", 5, 5, 65, 3605, 3606),
        ("Y1", "yellow", "sea", "GBFXT001", 5, 5, 20, 1205, 1206),
        ("B1", "blue", "air", "GBLHR001", 1, 1, None, None, 2),
        ("O1", "red", "air", "GBLHR001", 3, 3, None, None, None)]


def synthetic_log() -> list[tuple[datetime, str, Any]]:
    """(occurred_at, stream, payload) of every event, in the order they happened."""
    steps: list[tuple[datetime, str, Any]] = []
    for n, (cid, lane, mode, office, risk, assessed, paid, control, released) in \
            enumerate(PLAN):
        lodged = T0 + timedelta(minutes=n)
        at = lambda s, lodged=lodged: lodged + timedelta(seconds=s)  # noqa: E731
        mrn = format_mrn(2026, "GB", uuid.uuid4().int % SERIAL_SPACE)
        due = "0.00" if paid is None else "30.00"
        doc = {"lrn": f"L-{cid}"}
        steps += [
            (lodged, f"declaration-{cid}",
             d.DeclarationReceived(cid, f"L-{cid}", "GB1", "sha256:x", doc)),
            (lodged, f"declaration-{cid}",
             d.DeclarationAccepted(cid, mrn, f"L-{cid}", "GB1", office, mode, date(2026, 3, 2),
                                   1, doc)),
            (at(risk), f"risk-{cid}", k.RiskAssessed(cid, mrn, lane, 0, [], "v1", None, {}, {})),
            (at(assessed), f"payment-{cid}",
             p.DutyAssessed(cid, mrn, "GBP", Decimal(due), Decimal("0"), Decimal(due), "t",
                            "r", "HALF_UP", {})),
        ]
        if lane in ("yellow", "red"):
            steps.append((at(risk), f"risk-{cid}", k.ControlOrdered(
                cid, mrn, "documentary" if lane == "yellow" else "examination", lane)))
        if control is not None:
            steps.append((at(control), f"risk-{cid}",
                          k.ControlCompleted(cid, mrn, "compliant", [], None, Decimal("0"))))
        if paid is not None:
            steps.append((at(paid), f"payment-{cid}", p.PaymentReceived(
                cid, mrn, f"REF-{cid}", Decimal(due), "GBP", Decimal("0"), Decimal("0"))))
        if released is not None:
            steps.append((at(released), f"release-{cid}", r.GoodsReleased(
                cid, mrn, 1, office, lane, mode, lodged, at(released))))
    return sorted(steps, key=lambda step: step[0])


@pytest.fixture
def filled(store_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    store = EventStore(store_url, registry())
    try:
        for occurred_at, stream, payload in synthetic_log():
            event = registry().new_event(payload, correlation_id=payload.consignment_id,
                                         actor="trs-test", occurred_at=occurred_at)
            store.append(stream, [event], expected_version=None)
    finally:
        store.close()
    monkeypatch.setenv("EVENT_STORE_URL", store_url)
    return store_url


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["trs", "--json", *args]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_reader_builds_the_milestones_in_one_pass_whatever_the_page(filled: str) -> None:
    store = EventStore(filled)
    try:
        pages: list[int] = []
        whole = read_store(store, progress=lambda read, position: pages.append(read))
        small = read_store(store, page=3)
    finally:
        store.close()
    assert set(whole) == {cid for cid, *_ in PLAN}
    assert pages[-1] == len(synthetic_log())  # every event read once
    by = [("lane",), ("office",), ("transport_mode",)]
    assert build_report(small.values(), by=by) == build_report(whole.values(), by=by)
    assert whole["R1"].control == (T0 + timedelta(minutes=2, seconds=3605)).timestamp()


def test_trs_json_from_the_store(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    report = run_json(capsys)
    assert report["consignments"] == {"lodged": 6, "released": 5, "open": 1, "refused": 0,
                                      "invalidated": 0, "rejected": 0, "without_lodgement": 0}
    overall = report["overall"]
    # totals 2, 63, 425, 1206, 3606 of 6 lodged
    assert overall["released_within_10m"] == round(3 / 6, 6)
    assert overall["released_within_1h"] == round(4 / 6, 6)
    total = overall["intervals"]["total"]
    assert (total["count"], total["median"], total["max"]) == (5, 425.0, 3606.0)
    assert total["mean"] == pytest.approx(1060.4)               # 5302 / 5
    assert total["p90"] == pytest.approx(2646.0)                # h = 3.6: 1206 + 0.6 * 2400
    assert total["p95"] == pytest.approx(3126.0)                # h = 3.8: 1206 + 0.8 * 2400
    control = overall["intervals"]["control"]                   # R1 3600, Y1 1200
    assert (control["count"], control["median"]) == (2, 2400.0)
    payment = overall["intervals"]["payment"]                   # G1 60, G2 420; R1, Y1 0
    assert (payment["count"], payment["median"], payment["max"]) == (4, 30.0, 420.0)
    # customs 2+4+5+3600+5+1200+1 = 4817, trader 480, other 5 x 1 (release) of 5302
    assert overall["time_share"] == {"customs": round(4817 / 5302, 6),
                                     "trader": round(480 / 5302, 6),
                                     "other": round(5 / 5302, 6)}
    lanes = {g["key"]["lane"]: g for g in report["breakdowns"][0]["groups"]}
    assert list(lanes) == ["blue", "green", "red", "yellow"]
    assert lanes["red"]["lodged"] == 2 and lanes["red"]["released"] == 1
    assert lanes["red"]["released_within_1h"] == 0.0           # 3606 > 3600; O1 open
    assert lanes["green"]["intervals"]["total"]["median"] == 244.0  # (63 + 425) / 2


def test_trs_window_and_breakdowns(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    report = run_json(capsys, "--since", "2026-03-02T08:01:00", "--until",
                      "2026-03-02T08:03:00Z", "--by", "office", "office,transport_mode")
    assert report["consignments"]["lodged"] == 2                # G2, R1
    assert report["window"]["since"] == "2026-03-02T08:01:00.000000+00:00"
    offices = report["breakdowns"][0]
    assert offices["by"] == ["office"]
    assert [(g["key"]["office"], g["lodged"]) for g in offices["groups"]] == [
        ("GBFXT001", 1), ("GBLHR001", 1)]
    assert report["breakdowns"][1]["by"] == ["office", "transport_mode"]
    assert run_json(capsys, "--since", "2027-01-01")["consignments"]["lodged"] == 0


def test_trs_text_and_plot(filled: str, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "trs.png"
    assert main(["trs", "--by", "lane", "transport_mode", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "lodged 6, released 5 (83.3%), open 1" in out
    assert "released within 10 min: 50.0%, within 1 h: 66.7%" in out
    assert "by lane: lodgement -> release" in out and "by transport_mode" in out
    total_line = next(line for line in out.splitlines()
                      if line.startswith("lodgement -> release"))
    assert total_line.split()[3:] == ["5", "7m05s", "44m06s", "52m06s", "17m40s", "1h00m06s"]
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000

    json_png = tmp_path / "trs-json.png"
    report = run_json(capsys, "--plot", str(json_png))          # JSON stays clean
    assert report["consignments"]["lodged"] == 6
    assert json_png.read_bytes().startswith(PNG_SIGNATURE)


def test_trs_bad_usage(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["trs", "--by", "colour"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["trs", "--since", "yesterday"])
    assert exc.value.code == 2
    assert main(["trs", "--since", "2026-03-03", "--until", "2026-03-02"]) == 2
    assert "--since must be before --until" in capsys.readouterr().err
