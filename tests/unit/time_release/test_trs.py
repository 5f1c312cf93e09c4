"""The Time Release Study's pure part: milestones, critical-path stages, statistics, groups.

The synthetic set (`JOURNEYS`) has durations chosen by hand; every expected figure below is
worked out in the comments from those durations, not from the code under test.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.trs import (
    INTERVALS,
    STAGES,
    Consignment,
    agency_waits,
    build_report,
    collect,
    critical_path,
    parse_breakdown,
    percentile,
    summarize,
)
from cli.commands.trs import duration, print_report
from services.declaration.domain.identifiers import SERIAL_SPACE, format_mrn
from shared.events import declaration as d
from shared.events import payment as p
from shared.events import release as r
from shared.events import risk as k
from shared.events.catalog import registry
from shared.events.envelope import RecordedEvent

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
_positions = iter(range(1, 10**9))


def recorded(payload: Any, at: datetime, cid: str) -> RecordedEvent:
    """A RecordedEvent as the store would give it, with valid data for its schema."""
    return RecordedEvent(
        position=next(_positions), event_id=str(uuid.uuid4()), type=payload.TYPE,
        version=payload.VERSION, stream=f"{payload.CATEGORY}-{cid}", stream_version=1,
        correlation_id=cid, causation_id=None, actor="test", occurred_at=at, recorded_at=at,
        data=registry().encode(payload), hash="0" * 64, decoder=registry().decode,
    )


def journey(
    cid: str,
    lodged: datetime,
    *,
    lane: str | None = "green",
    office: str = "GBLHR001",
    mode: str = "air",
    accepted: float | None = 0,
    risk: float | None = None,
    control: float | None = None,
    assessed: float | None = None,
    amount_due: str = "100.00",
    payments: Sequence[tuple[float, str]] = (),
    released: float | None = None,
    release_lane: str | None = None,
) -> list[RecordedEvent]:
    """The events of one consignment; every time is seconds after `lodged`."""
    mrn = format_mrn(2026, "GB", int.from_bytes(cid.encode()) % SERIAL_SPACE)
    at = lambda s: lodged + timedelta(seconds=s)  # noqa: E731
    out = [recorded(d.DeclarationReceived(cid, f"LRN-{cid}", "GB1", "f", {}), lodged, cid)]
    if accepted is not None:
        out.append(recorded(d.DeclarationAccepted(cid, mrn, f"LRN-{cid}", "GB1", office, mode,
                                                  date(2026, 3, 2), 1, {}), at(accepted), cid))
    if risk is not None and lane is not None:
        out.append(recorded(k.RiskAssessed(cid, mrn, lane, 0, [], "v1", None, {}, {}),
                            at(risk), cid))
        if lane in ("yellow", "red"):
            kind = "documentary" if lane == "yellow" else "examination"
            out.append(recorded(k.ControlOrdered(cid, mrn, kind, lane), at(risk), cid))
    if control is not None:
        out.append(recorded(k.ControlCompleted(cid, mrn, "compliant", [], None,
                                               Decimal("0")), at(control), cid))
    if assessed is not None:
        out.append(recorded(p.DutyAssessed(cid, mrn, "GBP", Decimal("0"), Decimal(amount_due),
                                           Decimal(amount_due), "t1", "r1", "half-up", {}),
                            at(assessed), cid))
    for n, (offset, balance) in enumerate(payments):
        out.append(recorded(p.PaymentReceived(cid, mrn, f"REF-{cid}-{n}", Decimal("1"), "GBP",
                                              Decimal(balance), Decimal("0")), at(offset), cid))
    if released is not None:
        out.append(recorded(r.GoodsReleased(cid, mrn, 1, office, release_lane or lane or "green",
                                            mode, lodged, at(released)), at(released), cid))
    return out


def journeys() -> list[RecordedEvent]:
    """Five consignments with hand-picked durations (seconds after each one's lodgement).

    A green: risk 10, assessed 10, paid 130, released 131
       -> acceptance 0, risk 10, assessment 0, payment 120, release 1; total 131
    B green, duty assessed (5) before the risk decision (20): the stages run in parallel
       -> acceptance 0, risk 20, assessment 0, payment 300 (paid 320), release 1; total 321
    C red: risk 10, assessed 10, paid 130, control completed 1810, released 1811
       -> acceptance 0, risk 10, control 1800, assessment 0, payment 0, release 1; total 1811
    D yellow, by sea at GBFXT001: risk 15, assessed 15, still waiting for the document check
       -> open (not released)
    E green, zero duty: risk 5, assessed 5, no payment, released 6
       -> acceptance 0, risk 5, assessment 0, release 1; total 6
    """
    return [
        *journey("A", T0, risk=10, assessed=10, payments=[(130, "0")], released=131),
        *journey("B", T0 + timedelta(minutes=1), risk=20, assessed=5,
                 payments=[(320, "0")], released=321),
        *journey("C", T0 + timedelta(minutes=2), lane="red", risk=10, assessed=10,
                 payments=[(130, "0")], control=1810, released=1811),
        *journey("D", T0 + timedelta(minutes=3), lane="yellow", office="GBFXT001", mode="sea",
                 risk=15, assessed=15),
        *journey("E", T0 + timedelta(minutes=4), risk=5, assessed=5, amount_due="0",
                 released=6),
    ]


TOTALS = [6.0, 131.0, 321.0, 1811.0]  # released, sorted


def as_json(events: Sequence[RecordedEvent], **kwargs: Any) -> dict[str, Any]:
    return build_report(collect(events).values(), **kwargs).to_json()


# -- percentiles --------------------------------------------------------------------------
def test_percentile_is_linear_interpolation_between_closest_ranks() -> None:
    assert percentile([15, 20, 35, 40, 50], 40) == pytest.approx(29)  # 20 + 0.6 * 15
    assert percentile([1, 2, 3, 4], 50) == 2.5   # even n: the mean of the middle two
    assert percentile([1, 2, 3, 4], 90) == pytest.approx(3.7)
    assert percentile([7], 95) == 7
    assert percentile([1, 3], 0) == 1 and percentile([1, 3], 100) == 3
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)
    with pytest.raises(ValueError):  # the report's percentiles are whole numbers
        percentile([1, 2], 1.5)


@given(st.lists(st.floats(0, 1e7, allow_nan=False), min_size=1, max_size=60),
       st.integers(0, 100))
def test_percentile_agrees_with_numpy_linear(values: list[float], p: int) -> None:
    ordered = sorted(values)
    assert percentile(ordered, p) == pytest.approx(float(numpy.percentile(ordered, p)),
                                                   rel=1e-9, abs=1e-6)


def test_summarize() -> None:
    s = summarize(TOTALS)
    assert s.count == 4
    assert s.median == 226.0                        # (131 + 321) / 2
    assert s.p90 == pytest.approx(1364.0)           # h = 3 * 0.9 = 2.7: 321 + 0.7 * 1490
    assert s.p95 == pytest.approx(1587.5)           # h = 2.85: 321 + 0.85 * 1490
    assert s.mean == 567.25                         # 2269 / 4
    assert s.max == 1811.0
    empty = summarize([])
    assert (empty.count, empty.median, empty.p95, empty.mean, empty.max) == (0, None, None,
                                                                             None, None)


# -- milestones and stages ----------------------------------------------------------------
def test_milestones_and_critical_path_of_each_consignment() -> None:
    found = collect(journeys())
    assert critical_path(found["A"]) == {"acceptance": 0, "risk": 10, "assessment": 0,
                                         "payment": 120, "release": 1, "total": 131}
    assert critical_path(found["B"]) == {"acceptance": 0, "risk": 20, "assessment": 0,
                                         "payment": 300, "release": 1, "total": 321}
    assert critical_path(found["C"]) == {"acceptance": 0, "risk": 10, "control": 1800,
                                         "assessment": 0, "payment": 0, "release": 1,
                                         "total": 1811}
    assert critical_path(found["D"]) is None  # not released
    # no control, no payment: those stages are absent, not zero
    assert critical_path(found["E"]) == {"acceptance": 0, "risk": 5, "assessment": 0,
                                         "release": 1, "total": 6}
    assert found["C"].value("lane") == "red" and found["D"].value("office") == "GBFXT001"
    assert found["D"].value("transport_mode") == "sea"


def test_payment_milestone_is_the_payment_that_settled_the_debt() -> None:
    events = journey("P", T0, risk=1, assessed=1,
                     payments=[(100, "50.00"), (200, "0.00"), (300, "-5.00")], released=400)
    c = collect(events)["P"]
    assert c.paid == (T0 + timedelta(seconds=200)).timestamp()  # the one that left 0 due
    assert critical_path(c) == {"acceptance": 0, "risk": 1, "assessment": 0, "payment": 199,
                                "release": 200, "total": 400}
    # never settled: the last payment
    unsettled = collect(journey("Q", T0, risk=1, assessed=1,
                                payments=[(100, "50.00"), (150, "20.00")]))["Q"]
    assert unsettled.paid == (T0 + timedelta(seconds=150)).timestamp()


def test_milestones_after_release_did_not_hold_the_goods() -> None:
    # released against a guarantee at 60, the payment came at 900; a blue-lane audit after
    events = journey("G", T0, lane="blue", risk=10, assessed=10, payments=[(900, "0")],
                     control=1200, released=60)
    assert critical_path(collect(events)["G"]) == {"acceptance": 0, "risk": 10,
                                                   "assessment": 0, "release": 50, "total": 60}


@given(st.lists(st.one_of(st.none(), st.integers(-100, 5000)), min_size=5, max_size=5),
       st.integers(0, 6000))
def test_stages_are_never_negative_and_add_up_to_the_total(
        offsets: list[int | None], released: int) -> None:
    c = Consignment("X", lodged=1_000_000.0, released=1_000_000.0 + released)
    for name, offset in zip(("accepted", "risk", "control", "assessed", "settled"), offsets,
                            strict=True):
        if offset is not None:
            setattr(c, name, 1_000_000.0 + offset)
    path = critical_path(c)
    assert path is not None
    assert all(v >= 0 for v in path.values())
    assert sum(v for n, v in path.items() if n != "total") == pytest.approx(path["total"])
    assert path["total"] == max(0, released)


# -- the report ---------------------------------------------------------------------------
def test_overall_statistics_and_shares() -> None:
    report = as_json(journeys(), by=[])
    assert report["consignments"] == {"lodged": 5, "released": 4, "open": 1, "refused": 0,
                                      "invalidated": 0, "rejected": 0,
                                      "without_lodgement": 0}
    overall = report["overall"]
    assert overall["released_within_10m"] == 0.6    # A, B, E of 5 lodged (D counts as not)
    assert overall["released_within_1h"] == 0.8     # and C
    assert overall["intervals"]["total"] == {"count": 4, "median": 226.0, "p90": 1364.0,
                                             "p95": 1587.5, "mean": 567.25, "max": 1811.0}
    assert overall["intervals"]["control"] == {"count": 1, "median": 1800.0, "p90": 1800.0,
                                               "p95": 1800.0, "mean": 1800.0, "max": 1800.0}
    payment = overall["intervals"]["payment"]       # A 120, B 300, C 0; E has none
    assert (payment["count"], payment["median"], payment["max"]) == (3, 120.0, 300.0)
    assert payment["mean"] == 140.0
    assert payment["p90"] == pytest.approx(264.0)   # h = 1.8: 120 + 0.8 * 180
    risk = overall["intervals"]["risk"]             # 5, 10, 10, 20
    assert (risk["count"], risk["median"], risk["mean"]) == (4, 10.0, 11.25)
    assert overall["intervals"]["release"]["median"] == 1.0
    # customs: risk + control = 10 + 20 + 1810 + 5; trader: payment = 120 + 300; other:
    # acceptance + assessment + release = 4 x 1; of 2269 seconds in all
    assert overall["time_share"] == {"customs": round(1845 / 2269, 6),
                                     "trader": round(420 / 2269, 6),
                                     "other": round(4 / 2269, 6)}
    assert [i["name"] for i in report["intervals"]] == list(INTERVALS)
    assert report["window"]["first_lodgement"] == "2026-03-02T08:00:00.000000+00:00"
    assert report["window"]["last_lodgement"] == "2026-03-02T08:04:00.000000+00:00"


def test_grouping_by_lane_and_by_a_combination() -> None:
    report = as_json(journeys(), by=[("lane",), ("office", "transport_mode")])
    lanes = {g["key"]["lane"]: g for g in report["breakdowns"][0]["groups"]}
    assert list(lanes) == ["green", "red", "yellow"]
    green = lanes["green"]                          # A 131, B 321, E 6
    assert (green["lodged"], green["released"], green["open"]) == (3, 3, 0)
    assert green["released_within_10m"] == 1.0
    assert green["intervals"]["total"]["median"] == 131.0
    assert green["intervals"]["total"]["p90"] == pytest.approx(283.0)  # 131 + 0.8 * 190
    assert green["intervals"]["control"]["count"] == 0
    assert green["intervals"]["control"]["median"] is None
    red = lanes["red"]
    assert (red["released_within_10m"], red["released_within_1h"]) == (0.0, 1.0)
    assert red["intervals"]["control"]["median"] == 1800.0
    yellow = lanes["yellow"]                        # D: lodged, never released
    assert (yellow["lodged"], yellow["released"], yellow["released_within_1h"]) == (1, 0, 0.0)
    assert yellow["intervals"]["total"]["count"] == 0 and yellow["time_share"] is None

    combined = report["breakdowns"][1]
    assert combined["by"] == ["office", "transport_mode"]
    assert [(g["key"], g["lodged"]) for g in combined["groups"]] == [
        ({"office": "GBFXT001", "transport_mode": "sea"}, 1),
        ({"office": "GBLHR001", "transport_mode": "air"}, 4),
    ]


def test_the_same_events_twice_change_nothing() -> None:
    events = journeys()
    assert as_json(events + events) == as_json(events)
    assert as_json([e for e in events for _ in range(3)]) == as_json(events)


def test_events_out_of_order_within_a_consignment_change_nothing() -> None:
    events = journeys()
    expected = as_json(events, by=[("lane",), ("office",)])
    assert as_json(events[::-1], by=[("lane",), ("office",)]) == expected
    shuffled = list(events)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert as_json(shuffled, by=[("lane",), ("office",)]) == expected


def test_window_on_lodgement_time() -> None:
    events = journeys()                              # lodged at 08:00, :01, :02, :03, :04
    report = as_json(events, since=T0 + timedelta(minutes=1),
                     until=T0 + timedelta(minutes=3))
    assert report["consignments"]["lodged"] == 2    # B and C; until is exclusive
    assert report["overall"]["intervals"]["total"]["max"] == 1811.0
    assert report["window"]["since"] == "2026-03-02T08:01:00.000000+00:00"
    naive = as_json(events, since=datetime(2026, 3, 2, 8, 4))  # naive means UTC
    assert naive["consignments"]["lodged"] == 1


def test_rejected_and_headless_consignments_are_counted_apart() -> None:
    rejected = [recorded(d.DeclarationReceived("R", "LRN-R", "GB1", "f", {}), T0, "R"),
                recorded(d.DeclarationRejected("R", "LRN-R", "GB1", []), T0, "R")]
    headless = journey("H", T0, risk=1, released=2)[1:]  # its lodgement is not in the log
    report = as_json(journeys() + rejected + headless)
    assert report["consignments"] == {"lodged": 5, "released": 4, "open": 1, "refused": 0,
                                      "invalidated": 0, "rejected": 1, "without_lodgement": 1}


def test_a_refused_release_is_lodged_neither_released_nor_open() -> None:
    refused = journey("X", T0, lane="red", risk=1, control=50, assessed=2)
    refused.append(recorded(r.ReleaseRefused("X", "M", 1, "GBLHR001", "control", "e-ctl",
                                             None, "", [], T0 + timedelta(seconds=51)),
                            T0 + timedelta(seconds=51), "X"))
    report = as_json(journeys() + refused)
    assert report["consignments"]["lodged"] == 6 and report["consignments"]["refused"] == 1
    assert report["consignments"]["open"] == 1  # the open one of journeys(), not this one
    [red] = [g for g in report["breakdowns"][0]["groups"] if g["key"] == {"lane": "red"}]
    assert red["refused"] == 1 and red["open"] == red["lodged"] - red["released"] - 1


def test_an_invalidated_consignment_is_neither_released_nor_open() -> None:
    gone = journey("V", T0, risk=1, assessed=2)
    gone.append(recorded(d.DeclarationInvalidated("V", "M", 1, "withdrawn", False, None),
                         T0 + timedelta(seconds=30), "V"))
    report = as_json(journeys() + gone)
    assert report["consignments"]["invalidated"] == 1
    assert report["consignments"]["open"] == 1 and report["consignments"]["refused"] == 0


def test_lane_follows_the_latest_decision_and_the_release() -> None:
    events = journey("L", T0, risk=10, assessed=10, released=100, amount_due="0")
    events.insert(2, recorded(k.RiskAssessed("L", "M", "red", 0, [], "v1", None, {}, {}),
                              T0 + timedelta(seconds=50), "L"))
    c = collect(events)["L"]
    assert c.risk == (T0 + timedelta(seconds=10)).timestamp()  # the first decision
    assert c.value("lane") == "green"               # what the release recorded
    unreleased = collect(events[:-1])["L"]
    assert unreleased.value("lane") == "red"        # the latest decision


def test_other_events_are_ignored_and_empty_input_is_a_report() -> None:
    held = recorded(r.GoodsHeld("A", "M", "agency"), T0, "A")
    assert as_json(journeys() + [held]) == as_json(journeys())
    empty = as_json([])
    assert empty["consignments"]["lodged"] == 0
    assert empty["overall"]["released_within_10m"] is None
    assert all(empty["overall"]["intervals"][n]["count"] == 0 for n in INTERVALS)
    assert empty["breakdowns"] == [{"by": ["lane"], "groups": []}]


def test_unknown_dimensions_are_refused() -> None:
    assert parse_breakdown("office, lane") == ("office", "lane")
    with pytest.raises(ValueError, match="colour"):
        parse_breakdown("lane,colour")
    with pytest.raises(ValueError):
        build_report([], by=[("declarant",)])


def test_stage_names_and_duration_text() -> None:
    assert STAGES == ("acceptance", "risk", "control", "assessment", "payment", "release")
    assert [duration(x) for x in (None, 0.24, 59.94, 61, 3599.6, 3661, 90061)] == [
        "-", "0.2s", "59.9s", "1m01s", "1h00m00s", "1h01m01s", "1d01h01m"]


# -- partner agencies ---------------------------------------------------------------------
def held(cid: str, lodged: datetime, agency: str, placed: float, decided: float | None = None,
         decision: str = "approved") -> list[RecordedEvent]:
    """An agency's hold on a consignment; times are seconds after `lodged`."""
    def at(seconds: float) -> datetime:
        return lodged + timedelta(seconds=seconds)

    out = [recorded(r.AgencyHoldPlaced(cid, "M", 1, "GBLHR001", "air", agency, [], "2026.1",
                                       at(placed), at(placed + 86400)), at(placed), cid)]
    if decided is not None:
        out.append(recorded(r.AgencyHoldDecided(cid, "M", agency, decision, "REF-1", "",
                                                at(decided)), at(decided), cid))
    return out


def stats(value: float, count: int = 1) -> dict[str, Any]:
    return {"count": count, "median": value, "p90": value, "p95": value, "mean": value,
            "max": value}


def agency_journeys() -> list[RecordedEvent]:
    """Four consignments held by partner agencies (seconds after each one's lodgement).

    F green: risk 10, assessed 10, paid 130; GBFSA placed 10, approved 900; released 901
       -> ready at 130 (paid): GBFSA wait 900 - 130 = 770; release stage 771 = 770 + 1 other
    P green: risk 10, assessed 10, GBFSA placed 0, approved 60 (before payment), paid 130,
       released 131 -> GBFSA wait 0, hold 60; stages as A of journeys(), total 131
    W green: risk 10, assessed 10, paid 130; GBFSA placed 0, approved 700; GBAPHA placed 5,
       approved 1000; released 1001 -> ready 130: [130, 700) both open, 285 each;
       [700, 1000) GBAPHA alone, 300: GBFSA 285, GBAPHA 585; release stage 871 = 870 + 1
    X red: risk 1, assessed 2, no duty; GBAPHA placed 0, refused at 300; release refused
    """
    f0, p0, w0, x0 = (T0 + timedelta(minutes=m) for m in range(4))
    refusal = r.ReleaseRefused("X", "M", 1, "GBLHR001", "agency", "e-hold", "GBAPHA",
                               "no certificate", ["GBAPHA"], x0 + timedelta(seconds=300))
    return [
        *journey("F", f0, risk=10, assessed=10, payments=[(130, "0")], released=901),
        *held("F", f0, "GBFSA", 10, 900),
        *journey("P", p0, risk=10, assessed=10, payments=[(130, "0")], released=131),
        *held("P", p0, "GBFSA", 0, 60),
        *journey("W", w0, risk=10, assessed=10, payments=[(130, "0")], released=1001),
        *held("W", w0, "GBFSA", 0, 700),
        *held("W", w0, "GBAPHA", 5, 1000),
        *journey("X", x0, lane="red", risk=1, assessed=2, amount_due="0"),
        *held("X", x0, "GBAPHA", 0, 300, "refused"),
        recorded(refusal, x0 + timedelta(seconds=300), "X"),
    ]


def test_an_approval_after_every_other_condition_is_the_release_waiting_for_the_agency() -> None:
    events = journey("F", T0, risk=10, assessed=10, payments=[(130, "0")], released=901)
    events += held("F", T0, "GBFSA", 10, 900)
    c = collect(events)["F"]
    # the stages are the same as without the hold
    assert critical_path(c) == {"acceptance": 0, "risk": 10, "assessment": 0, "payment": 120,
                                "release": 771, "total": 901}
    assert agency_waits(c) == {"GBFSA": 770.0}
    report = as_json(events)
    # customs 10, trader 120, agencies 770, other 1 (the release stage less the wait)
    share = report["overall"]["time_share"]
    assert share == {"customs": round(10 / 901, 6), "trader": round(120 / 901, 6),
                     "agencies": round(770 / 901, 6), "other": round(1 / 901, 6)}
    assert sum(share.values()) == pytest.approx(1.0, abs=1e-5)
    assert report["breakdowns"][0]["groups"][0]["time_share"] == share
    assert report["time_share_buckets"]["agencies"] == ["release"]
    # the example of cli/commands/trs.py
    assert report["agencies"] == {"GBFSA": {
        "holds": 1, "decided": 1, "approved": 1, "refused": 0, "open": 0,
        "hold_duration": stats(890.0), "release_waited": stats(770.0),
        "time_share": 0.854606}}


def test_an_approval_before_the_payment_kept_the_release_waiting_for_nothing() -> None:
    events = journey("P", T0, risk=10, assessed=10, payments=[(130, "0")], released=131)
    events += held("P", T0, "GBFSA", 0, 60)
    report = as_json(events)
    assert report["overall"]["time_share"] == {
        "customs": round(10 / 131, 6), "trader": round(120 / 131, 6), "agencies": 0.0,
        "other": round(1 / 131, 6)}
    gbfsa = report["agencies"]["GBFSA"]
    assert gbfsa["hold_duration"] == stats(60.0)        # the hold itself is still reported
    assert gbfsa["release_waited"] == stats(0.0) and gbfsa["time_share"] == 0.0


def test_agencies_open_at_the_same_time_split_the_wait_equally() -> None:
    events = journey("W", T0, risk=10, assessed=10, payments=[(130, "0")], released=1001)
    events += held("W", T0, "GBFSA", 0, 700) + held("W", T0, "GBAPHA", 5, 1000)
    c = collect(events)["W"]
    assert agency_waits(c) == {"GBFSA": 285.0, "GBAPHA": 585.0}  # 570 / 2; 570 / 2 + 300
    share = as_json(events)["overall"]["time_share"]
    assert share["agencies"] == round(870 / 1001, 6) and share["other"] == round(1 / 1001, 6)
    agencies = as_json(events)["agencies"]
    assert list(agencies) == ["GBAPHA", "GBFSA"]
    assert agencies["GBAPHA"]["time_share"] + agencies["GBFSA"]["time_share"] == \
        pytest.approx(share["agencies"], abs=2e-6)


def test_a_refused_hold_counts_as_refused_without_release_statistics() -> None:
    report = as_json(agency_journeys())
    assert report["consignments"] == {"lodged": 4, "released": 3, "open": 0, "refused": 1,
                                      "invalidated": 0, "rejected": 0,
                                      "without_lodgement": 0}
    gbapha = report["agencies"]["GBAPHA"]              # W approved, X refused
    assert (gbapha["holds"], gbapha["decided"], gbapha["approved"], gbapha["refused"],
            gbapha["open"]) == (2, 2, 1, 1, 0)
    assert gbapha["hold_duration"]["count"] == 2      # 995 and 300
    assert (gbapha["hold_duration"]["median"], gbapha["hold_duration"]["max"]) == (647.5, 995)
    assert gbapha["release_waited"] == stats(585.0)   # W only: X was never released
    gbfsa = report["agencies"]["GBFSA"]                # F 770, P 0, W 285
    assert (gbfsa["holds"], gbfsa["approved"], gbfsa["release_waited"]["count"]) == (3, 3, 3)
    assert gbfsa["release_waited"]["median"] == 285.0
    # of 901 + 131 + 1001 = 2033 s: agencies 770 + 285 + 585, other 1 + 1 + 1
    share = report["overall"]["time_share"]
    assert share["agencies"] == round(1640 / 2033, 6) and share["other"] == round(3 / 2033, 6)
    assert gbfsa["time_share"] == round(1055 / 2033, 6)
    assert gbapha["time_share"] == round(585 / 2033, 6)


def test_holds_open_undecided_or_decided_without_placement() -> None:
    # still open at the release (its decision not in the log): open until the release;
    # a decision whose placement is not in the log is left out
    events = journey("U", T0, risk=10, assessed=10, amount_due="0", released=100)
    events += held("U", T0, "GBFSA", 0)
    events.append(recorded(r.AgencyHoldDecided("U", "M", "GBHSE", "approved", "R", "",
                                               T0 + timedelta(seconds=50)),
                           T0 + timedelta(seconds=50), "U"))
    assert agency_waits(collect(events)["U"]) == {"GBFSA": 90.0}
    agencies = as_json(events)["agencies"]
    assert list(agencies) == ["GBFSA"]
    assert (agencies["GBFSA"]["open"], agencies["GBFSA"]["hold_duration"]["count"]) == (1, 0)
    # a hold placed after the release did not hold the goods
    late = journey("L", T0, risk=10, assessed=10, amount_due="0", released=100)
    late += held("L", T0, "GBFSA", 200, 300)
    assert agency_waits(collect(late)["L"]) == {"GBFSA": 0.0}


def test_without_holds_the_report_is_as_before() -> None:
    report = as_json(journeys())
    assert report["agencies"] == {}
    assert set(report["overall"]["time_share"]) == {"customs", "trader", "other"}
    assert "agencies" not in report["time_share_buckets"]
    assert agency_waits(collect(journeys())["A"]) == {}


def test_agency_events_twice_or_shuffled_change_nothing() -> None:
    events = agency_journeys()
    expected = as_json(events)
    assert as_json(events + events[::-1]) == expected


@given(st.randoms(use_true_random=False), st.lists(st.integers(0, 10**6), max_size=12))
def test_agency_report_is_order_independent_and_idempotent(
        rng: random.Random, repeats: list[int]) -> None:
    events = AGENCY_EVENTS
    shuffled = list(events) + [events[i % len(events)] for i in repeats]
    rng.shuffle(shuffled)
    assert as_json(shuffled, by=[("lane",)]) == AGENCY_EXPECTED


AGENCY_EVENTS = agency_journeys()
AGENCY_EXPECTED = as_json(AGENCY_EVENTS, by=[("lane",)])

hold_times = st.tuples(st.integers(-100, 3000), st.one_of(st.none(), st.integers(-100, 3000)))


@given(st.lists(st.one_of(st.none(), st.integers(-100, 2000)), min_size=5, max_size=5),
       st.integers(0, 3000), st.lists(hold_times, min_size=1, max_size=3))
def test_agency_waits_fit_in_the_release_stage_and_shares_add_up(
        offsets: list[int | None], released: int,
        holds: list[tuple[int, int | None]]) -> None:
    base = 1_000_000.0
    c = Consignment("X", lodged=base, released=base + released)
    for name, offset in zip(("accepted", "risk", "control", "assessed", "settled"), offsets,
                            strict=True):
        if offset is not None:
            setattr(c, name, base + offset)
    for n, (placed, decided) in enumerate(holds):
        hold = c.hold(f"AG{n}")
        hold.placed = base + placed
        hold.decided = None if decided is None else (base + decided, n, "approved")
    path, waits = critical_path(c), agency_waits(c)
    assert path is not None and waits is not None
    assert all(w >= 0 for w in waits.values())
    assert math.fsum(waits.values()) <= path["release"] + 1e-6
    if path["total"] > 0:
        report = build_report([c], by=[])
        share = report.overall.time_share
        assert share is not None and sum(share.values()) == pytest.approx(1.0)
        assert math.fsum(a.time_share or 0.0 for a in report.agencies.values()) == \
            pytest.approx(share["agencies"])


def test_text_output_has_the_agency_table(capsys: pytest.CaptureFixture[str]) -> None:
    print_report(build_report(collect(agency_journeys()).values()))
    out = capsys.readouterr().out
    assert "waiting on partner agencies only 80.7%" in out   # 1640 / 2033
    assert "partner agencies: holds" in out
    [row] = [line for line in out.splitlines() if line.startswith("GBAPHA")]
    # holds, approved, refused, open; hold (300, 995) median 647.5, p90 300 + 0.9 * 695 =
    # 925.5, max 995; waited (W: 585) n, median, p90, mean, max; share 585 / 2033
    assert row.split()[1:] == ["2", "1", "1", "0", "10m48s", "15m26s", "16m35s", "1",
                               "9m45s", "9m45s", "9m45s", "9m45s", "28.8%"]
    header = next(line for line in out.splitlines() if line.startswith("lane"))
    assert header.split()[-4:] == ["customs", "trader", "agencies", "other"]
