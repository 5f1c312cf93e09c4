"""Time Release Study (TRS): how long clearance takes, stage by stage, read from the event log.

Following the WCO Time Release Study guide, a consignment's clearance is cut at milestones,
each taken from one event of the consignment (the correlation id) at the event's
`occurred_at` (the business time, not the recording time):

=============  ======================  ==================================================
milestone      event                   which one, when a consignment has several
=============  ======================  ==================================================
lodgement      DeclarationReceived     the earliest
acceptance     DeclarationAccepted     the earliest
risk decision  RiskAssessed            the earliest (the first selectivity decision)
control        ControlCompleted        the latest (the control the release waited for);
                                       none for a consignment that had no control
assessment     DutyAssessed            the earliest
payment        PaymentReceived         the earliest that left `balance_due` <= 0; when no
                                       payment settled the debt, the latest payment
release        GoodsReleased           the earliest (there is one per consignment)
=============  ======================  ==================================================

Partner agencies' holds (AgencyHoldPlaced, AgencyHoldDecided, per agency) are no milestones:
they are measured against the critical path (see **Partner agencies** below).

Every rule is a minimum or a maximum, so folding the events is order-independent and
idempotent: events of a consignment may come in any order, and the same event seen twice
changes nothing (no event-id set is kept, which keeps the reader small on a large log).

**Intervals (stages).** The stages are the steps of the chain lodgement -> acceptance ->
risk decision -> control -> assessment -> payment -> release, each named after the milestone
that ends it (`STAGES`), plus `total` = lodgement -> release. They are measured on the
critical path of a *released* consignment:

* milestones after the release are dropped: they did not hold the goods (a payment against a
  guarantee after release, a blue-lane audit after release);
* an absent milestone has no stage (a green consignment has no `control` stage, a zero-duty
  one no `payment` stage) and the next stage is measured from the last milestone present;
* stages run in parallel in this platform (duty is assessed while an examination runs), so a
  milestone's effective time is the latest of its own time and the effective time of the
  milestone before it: a stage that ended before the stage before it adds 0 seconds.

So the stages of a released consignment are never negative and add up exactly to its total.

**Statistics** (per stage, overall and per group): `count`, `median`, `p90`, `p95`, `mean`,
`max`, in seconds, over the released consignments lodged in the window (open consignments
are censored: they count only in `lodged` and in the shares below). Percentiles use
**linear interpolation between closest ranks** (Hyndman and Fan type 7, NumPy's default
"linear", Excel's PERCENTILE.INC): for sorted values x[0..n-1] and p in [0, 100], h =
(n - 1) * p / 100 and P = x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h]); the
median is P at p = 50 (the mean of the two middle values when n is even).

**Shares.** `released_within_10m` and `released_within_1h`: the released consignments whose
total is <= 600 s (<= 3600 s), divided by *all* consignments lodged in the window (open ones
count as not released). Rejected declarations (DeclarationRejected, never accepted) are not
clearance requests and are counted apart (`rejected`); consignments whose release was
refused (ReleaseRefused, final) count in `lodged` and in `refused`, those invalidated before
release (DeclarationInvalidated) in `lodged` and in `invalidated`; neither is `open`.
`time_share`: of the summed totals of the released consignments, the part spent in `customs` control (stages `risk` and `control`),
waiting on the `trader` (stage `payment`: the debt due and unpaid), waiting on partner
`agencies` (below) and `other` (stages `acceptance`, `assessment` and `release`, less the
agencies' part: processing and the release decision). The four add up to 1 (to rounding).
The `agencies` part is there only when a consignment of the window had an agency hold (the
report of a log without any is exactly what it was before agencies held goods).

**Partner agencies.** A hold of agency A on a consignment runs from its placement
(AgencyHoldPlaced, the earliest of A's, at its `occurred_at`) to A's decision
(AgencyHoldDecided, the earliest of A's, at its `occurred_at`; the decision, `approved` or
`refused`, is that event's). A hold runs in parallel with customs' own work, so only the part
of it the release waited for is taken from the critical path: the **ready** time of a released
consignment is the effective time of the last milestone before the release (every customs and
trader condition met: the start of the `release` stage above), and the **agency wait** of A is
the time of [ready, release] during which A's hold was open (placed, not yet decided; a hold
with no decision in the log is open until the release). Where several agencies' holds were
open at once, the overlapping time is split equally between them, so the agencies' waits add
up to the time the release waited for agency decisions only, which is taken out of the
`release` stage's share in `other`: customs + trader + agencies + other = total. An approval
that came before the consignment was ready (say before the payment) is a wait of 0; a hold
placed after the release did not hold the goods (0 too). The report's `agencies` section
gives per agency code: the `holds` placed in the window's consignments (one per agency and
consignment), how many were `decided` (`approved`, `refused`) or are still `open`,
`hold_duration` (placement -> decision, raw, not clipped, over the decided holds),
`release_waited` (the agency wait of each released consignment it held, 0s included) and its
`time_share` of the summed totals (the same denominator as the overall `time_share`, so the
agencies' shares add up to its `agencies` part). A decision whose placement is not in the log
is left out. A release refused by an agency (ReleaseRefused) counts in `refused` as any.

**Groups.** Dimensions `lane` (from RiskAssessed, the latest), `office` and `transport_mode`
(from DeclarationAccepted, the latest); for a released consignment the values recorded on
GoodsReleased win. A breakdown groups by one dimension or by a combination of them; a
consignment without a value (no risk decision yet) falls in the group `None`.

**Window.** `since` (inclusive) and `until` (exclusive) select consignments by lodgement time;
consignments whose lodgement is not in the log (`without_lodgement`) are left out.

Pure functions over `RecordedEvent`s (`Collector`, `critical_path`, `agency_waits`, `percentile`,
`summarize`, `build_report`) and one streaming reader over the store (`read_store`): a single
pass over `EventStore.iter_all`, keeping one small record per consignment.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.events.declaration import (
    DeclarationAccepted,
    DeclarationInvalidated,
    DeclarationReceived,
    DeclarationRejected,
)
from shared.events.envelope import RecordedEvent, as_utc, isoformat
from shared.events.payment import DutyAssessed, PaymentReceived
from shared.events.release import (
    AgencyHoldDecided,
    AgencyHoldPlaced,
    GoodsReleased,
    ReleaseRefused,
)
from shared.events.risk import ControlCompleted, RiskAssessed

if TYPE_CHECKING:
    from shared.eventstore import EventStore

MILESTONES = ("lodgement", "acceptance", "risk", "control", "assessment", "payment", "release")
STAGES = MILESTONES[1:]
"""Stage names: each is the interval from the previous milestone present to this milestone."""
TOTAL = "total"
INTERVALS = (*STAGES, TOTAL)
INTERVAL_LABELS = {
    "acceptance": "lodgement -> acceptance",
    "risk": "acceptance -> risk decision",
    "control": "risk decision -> control completed",
    "assessment": "control (or risk decision) -> duty assessed",
    "payment": "duty assessed -> debt paid",
    "release": "previous milestone -> release",
    TOTAL: "lodgement -> release",
}
DIMENSIONS = ("lane", "office", "transport_mode")
TIME_SHARE_BUCKETS = {
    "customs": ("risk", "control"),
    "trader": ("payment",),
    "other": ("acceptance", "assessment", "release"),
}
AGENCIES = "agencies"
"""The time-share part waiting for partner agencies only, taken out of the `release` stage."""
WITHIN_10M = 600.0
WITHIN_1H = 3600.0
PERCENTILE_METHOD = "linear interpolation between closest ranks (Hyndman-Fan type 7)"
CATEGORIES = ("declaration", "risk", "payment", "release")  # where the milestones live

_TRACKED = frozenset({
    "DeclarationReceived", "DeclarationAccepted", "DeclarationRejected", "RiskAssessed",
    "ControlCompleted", "DutyAssessed", "PaymentReceived", "GoodsReleased", "ReleaseRefused",
    "DeclarationInvalidated", "AgencyHoldPlaced", "AgencyHoldDecided",
})


# -- folding events into milestones -------------------------------------------------------
_FIELDS = {"lodgement": "lodged", "acceptance": "accepted", "risk": "risk",
           "control": "control", "assessment": "assessed", "release": "released"}


@dataclass(slots=True)
class Hold:
    """One partner agency's hold on a consignment (POSIX seconds, UTC)."""

    placed: float | None = None  # the earliest AgencyHoldPlaced
    decided: tuple[float, int, str] | None = None  # (at, position, decision) of the earliest

    @property
    def decided_at(self) -> float | None:
        return None if self.decided is None else self.decided[0]

    @property
    def decision(self) -> str | None:
        return None if self.decided is None else self.decided[2]


@dataclass(slots=True)
class Consignment:
    """The milestones of one consignment (POSIX seconds, UTC) and its grouping values."""

    consignment_id: str
    lodged: float | None = None
    accepted: float | None = None
    risk: float | None = None
    control: float | None = None
    assessed: float | None = None
    settled: float | None = None       # earliest payment leaving balance_due <= 0
    last_payment: float | None = None  # latest payment of any kind
    released: float | None = None
    rejected: bool = False
    refused: bool = False  # release refused (final): never released, not open either
    invalidated: bool = False  # the declaration was invalidated (before or after release)
    # (occurred_at, position, value...) of the event the values were taken from
    accepted_values: tuple[float, int, str, str] | None = None  # office, transport_mode
    risk_values: tuple[float, int, str] | None = None           # lane
    release_values: tuple[float, int, str, str, str] | None = None  # lane, office, mode
    holds: dict[str, Hold] | None = None  # by agency code; None when no agency held it

    def hold(self, agency: str) -> Hold:
        if self.holds is None:
            self.holds = {}
        found = self.holds.get(agency)
        if found is None:
            found = self.holds[sys.intern(agency)] = Hold()
        return found

    @property
    def paid(self) -> float | None:
        return self.settled if self.settled is not None else self.last_payment

    def milestone(self, name: str) -> float | None:
        if name == "payment":
            return self.paid
        value: float | None = getattr(self, _FIELDS[name])
        return value

    def value(self, dimension: str) -> str | None:
        if self.release_values is not None:
            _, _, lane, office, mode = self.release_values
            return {"lane": lane, "office": office, "transport_mode": mode}[dimension]
        if dimension == "lane":
            return None if self.risk_values is None else self.risk_values[2]
        if self.accepted_values is None:
            return None
        return self.accepted_values[2] if dimension == "office" else self.accepted_values[3]


def _min(current: float | None, candidate: float) -> float:
    return candidate if current is None or candidate < current else current


def _max(current: float | None, candidate: float) -> float:
    return candidate if current is None or candidate > current else current


def _later(current: Any, candidate: Any) -> Any:
    return candidate if current is None or candidate[:2] > current[:2] else current


def _earlier(current: Any, candidate: Any) -> Any:
    return candidate if current is None or candidate[:2] < current[:2] else current


class Collector:
    """Folds events (any order, duplicates allowed) into one `Consignment` per correlation id,
    from their typed payloads (current version)."""

    def __init__(self) -> None:
        self.consignments: dict[str, Consignment] = {}

    def add_all(self, events: Iterable[RecordedEvent]) -> Collector:
        for event in events:
            self.add(event)
        return self

    def add(self, event: RecordedEvent) -> None:
        if event.type not in _TRACKED:
            return
        payload = event.payload
        at = as_utc(event.occurred_at).timestamp()
        key = event.correlation_id
        record = self.consignments.get(key)
        if record is None:
            record = self.consignments[key] = Consignment(sys.intern(key))
        match payload:
            case DeclarationReceived():
                record.lodged = _min(record.lodged, at)
            case DeclarationAccepted():
                record.accepted = _min(record.accepted, at)
                record.accepted_values = _later(record.accepted_values, (
                    at, event.position, sys.intern(payload.office),
                    sys.intern(payload.transport_mode)))
            case DeclarationRejected():
                record.rejected = True
            case RiskAssessed():
                record.risk = _min(record.risk, at)
                record.risk_values = _later(record.risk_values,
                                            (at, event.position, sys.intern(payload.lane)))
            case ControlCompleted():
                record.control = _max(record.control, at)
            case DutyAssessed():
                record.assessed = _min(record.assessed, at)
            case PaymentReceived():
                record.last_payment = _max(record.last_payment, at)
                if payload.balance_due <= 0:
                    record.settled = _min(record.settled, at)
            case ReleaseRefused():
                record.refused = True
            case DeclarationInvalidated():
                record.invalidated = True
            case AgencyHoldPlaced():
                hold = record.hold(payload.agency)
                hold.placed = _min(hold.placed, at)
            case AgencyHoldDecided():
                hold = record.hold(payload.agency)
                hold.decided = _earlier(hold.decided, (at, event.position,
                                                       sys.intern(payload.decision)))
            case GoodsReleased():
                record.released = _min(record.released, at)
                record.release_values = _earlier(record.release_values, (
                    at, event.position, sys.intern(payload.lane), sys.intern(payload.office),
                    sys.intern(payload.transport_mode)))


def collect(events: Iterable[RecordedEvent]) -> dict[str, Consignment]:
    """The milestones of every consignment in `events`."""
    return Collector().add_all(events).consignments


def critical_path(consignment: Consignment) -> dict[str, float] | None:
    """Seconds per stage (only the stages present) plus `total`, for a released consignment
    with a lodgement; None otherwise. The stages add up to the total (see the module doc)."""
    walked = _walk(consignment)
    return None if walked is None else walked[0]


def _walk(consignment: Consignment) -> tuple[dict[str, float], float] | None:
    """The critical path and the ready time (the start of the `release` stage)."""
    lodged, released = consignment.lodged, consignment.released
    if lodged is None or released is None:
        return None
    stages: dict[str, float] = {}
    previous = ready = lodged
    for name in STAGES:
        at = consignment.milestone(name)
        if at is None or (name != "release" and at > released):
            continue
        if name == "release":
            ready = previous
        effective = max(at, previous)
        stages[name] = effective - previous
        previous = effective
    stages[TOTAL] = previous - lodged
    return stages, ready


def agency_waits(consignment: Consignment) -> dict[str, float] | None:
    """Seconds the release waited for each agency that placed a hold (0 included), for a
    released consignment with a lodgement; None otherwise. The time of [ready, release] during
    which holds were open, split equally where several were (see the module doc); the waits
    add up to at most the `release` stage."""
    walked = _walk(consignment)
    if walked is None:
        return None
    ready, released = walked[1], consignment.released
    assert released is not None
    spans: dict[str, tuple[float, float]] = {}
    waits: dict[str, float] = {}
    for agency, hold in (consignment.holds or {}).items():
        if hold.placed is None:
            continue
        waits[agency] = 0.0
        decided = hold.decided_at
        start = max(hold.placed, ready)
        end = released if decided is None else min(decided, released)
        if end > start:
            spans[agency] = (start, end)
    if spans:
        points = sorted({t for span in spans.values() for t in span})
        pieces: dict[str, list[float]] = {agency: [] for agency in spans}
        for low, high in zip(points, points[1:], strict=False):
            waiting = [a for a, (start, end) in spans.items() if start <= low and high <= end]
            for agency in waiting:
                pieces[agency].append((high - low) / len(waiting))
        for agency, parts in pieces.items():
            waits[agency] = math.fsum(parts)
    return waits


# -- statistics ---------------------------------------------------------------------------
def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile (an integer 0 <= p <= 100) of ascending values, by linear
    interpolation between closest ranks (Hyndman-Fan type 7; NumPy's default):
    `statistics.quantiles(method="inclusive")`."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100 or p != int(p):
        raise ValueError(f"percentile {p} not an integer in [0, 100]")
    if p == 0 or len(sorted_values) == 1:
        return sorted_values[0]
    if p == 100:
        return sorted_values[-1]
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[int(p) - 1]


@dataclass(frozen=True)
class Stats:
    count: int
    median: float | None
    p90: float | None
    p95: float | None
    mean: float | None
    max: float | None

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "median": _round(self.median), "p90": _round(self.p90),
                "p95": _round(self.p95), "mean": _round(self.mean), "max": _round(self.max)}


def summarize(values: Iterable[float]) -> Stats:
    ordered = sorted(values)
    if not ordered:
        return Stats(0, None, None, None, None, None)
    return Stats(len(ordered), percentile(ordered, 50), percentile(ordered, 90),
                 percentile(ordered, 95), math.fsum(ordered) / len(ordered), ordered[-1])


# -- the report ---------------------------------------------------------------------------
GroupKey = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class Group:
    """The statistics of one group of consignments (the overall one has an empty key)."""

    key: GroupKey
    lodged: int
    released: int
    released_within_10m: float | None  # share of `lodged`
    released_within_1h: float | None
    intervals: dict[str, Stats]        # STAGES and TOTAL
    time_share: dict[str, float] | None
    totals: tuple[float, ...] = field(repr=False)  # sorted totals of the released (for plots)
    refused: int = 0  # release refused: final, neither released nor open
    invalidated: int = 0  # invalidated before release: neither released nor open

    @property
    def label(self) -> str:
        return ", ".join("-" if v is None else v for _, v in self.key) or "all"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": dict(self.key),
            "lodged": self.lodged,
            "released": self.released,
            "open": self.lodged - self.released - self.refused - self.invalidated,
            "refused": self.refused,
            "invalidated": self.invalidated,
            "released_within_10m": _round(self.released_within_10m),
            "released_within_1h": _round(self.released_within_1h),
            "intervals": {name: stats.to_json() for name, stats in self.intervals.items()},
            "time_share": None if self.time_share is None
            else {k: _round(v) for k, v in self.time_share.items()},
        }


@dataclass(frozen=True)
class Breakdown:
    by: tuple[str, ...]
    groups: tuple[Group, ...]

    def to_json(self) -> dict[str, Any]:
        return {"by": list(self.by), "groups": [g.to_json() for g in self.groups]}


@dataclass(frozen=True)
class Report:
    since: datetime | None
    until: datetime | None
    lodged: int
    released: int
    rejected: int
    without_lodgement: int
    refused: int
    invalidated: int
    first_lodgement: datetime | None
    last_lodgement: datetime | None
    overall: Group
    breakdowns: tuple[Breakdown, ...]
    agencies: dict[str, AgencyStats] = field(default_factory=dict)  # by code, sorted

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (see `cli/commands/trs.py`)."""
        buckets: dict[str, list[str]] = {k: list(v) for k, v in TIME_SHARE_BUCKETS.items()}
        if self.agencies:
            buckets = {"customs": buckets["customs"], "trader": buckets["trader"],
                       AGENCIES: ["release"], "other": buckets["other"]}
        return {
            "window": {"since": _iso(self.since), "until": _iso(self.until),
                       "on": "lodgement (DeclarationReceived occurred_at)",
                       "first_lodgement": _iso(self.first_lodgement),
                       "last_lodgement": _iso(self.last_lodgement)},
            "units": "seconds",
            "percentile_method": PERCENTILE_METHOD,
            "intervals": [{"name": n, "label": INTERVAL_LABELS[n]} for n in INTERVALS],
            "time_share_buckets": buckets,
            "consignments": {"lodged": self.lodged, "released": self.released,
                             "open": (self.lodged - self.released - self.refused
                                      - self.invalidated),
                             "refused": self.refused, "invalidated": self.invalidated,
                             "rejected": self.rejected,
                             "without_lodgement": self.without_lodgement},
            "overall": self.overall.to_json(),
            "breakdowns": [b.to_json() for b in self.breakdowns],
            "agencies": {code: a.to_json() for code, a in self.agencies.items()},
        }


@dataclass(frozen=True)
class AgencyStats:
    """One partner agency's holds on the window's consignments (see the module doc)."""

    agency: str
    holds: int
    decided: int
    approved: int
    refused: int
    hold_duration: Stats   # placement -> decision, decided holds
    release_waited: Stats  # the agency wait of each released consignment it held
    time_share: float | None  # of the summed totals of the released consignments

    @property
    def open(self) -> int:
        return self.holds - self.decided

    def to_json(self) -> dict[str, Any]:
        return {"holds": self.holds, "decided": self.decided, "approved": self.approved,
                "refused": self.refused, "open": self.open,
                "hold_duration": self.hold_duration.to_json(),
                "release_waited": self.release_waited.to_json(),
                "time_share": _round(self.time_share)}


@dataclass(frozen=True)
class _Row:
    consignment: Consignment
    path: dict[str, float] | None
    waits: dict[str, float] | None = None  # agency waits of a released consignment


def _group(key: GroupKey, rows: Sequence[_Row], with_agencies: bool = False) -> Group:
    paths = [r.path for r in rows if r.path is not None]
    lodged, released = len(rows), len(paths)
    totals = sorted(p[TOTAL] for p in paths)
    intervals = {name: summarize(p[name] for p in paths if name in p) for name in INTERVALS}
    time_share: dict[str, float] | None = None
    grand = math.fsum(totals)
    if grand > 0:
        parts = {bucket: [p.get(s, 0.0) for p in paths for s in stages]
                 for bucket, stages in TIME_SHARE_BUCKETS.items()}
        if with_agencies:
            waited = [w for r in rows if r.waits for w in r.waits.values()]
            parts = {"customs": parts["customs"], "trader": parts["trader"],
                     AGENCIES: waited, "other": [*parts["other"], *(-w for w in waited)]}
        time_share = {bucket: max(0.0, math.fsum(values)) / grand
                      for bucket, values in parts.items()}
    ended = [r.consignment for r in rows if r.path is None]  # not released
    refused = sum(1 for c in ended if c.refused)
    invalidated = sum(1 for c in ended if c.invalidated and not c.refused)
    return Group(
        key=key, lodged=lodged, released=released, refused=refused, invalidated=invalidated,
        released_within_10m=_share(sum(1 for t in totals if t <= WITHIN_10M), lodged),
        released_within_1h=_share(sum(1 for t in totals if t <= WITHIN_1H), lodged),
        intervals=intervals, time_share=time_share, totals=tuple(totals),
    )


def parse_breakdown(text: str) -> tuple[str, ...]:
    """`"lane"` -> ("lane",); `"office,lane"` -> ("office", "lane"). ValueError if unknown."""
    dims = tuple(d.strip() for d in text.split(",") if d.strip())
    unknown = [d for d in dims if d not in DIMENSIONS]
    if not dims or unknown:
        raise ValueError(f"unknown dimension {','.join(unknown) or text!r}; "
                         f"choose from {', '.join(DIMENSIONS)} (comma-joined to combine)")
    return dims


def build_report(
    consignments: Iterable[Consignment],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: Sequence[Sequence[str]] = (("lane",),),
) -> Report:
    """The TRS report over the consignments lodged in [since, until) (see the module doc)."""
    breakdowns = [tuple(dims) for dims in by]
    for dims in breakdowns:
        parse_breakdown(",".join(dims))
    low = None if since is None else as_utc(since).timestamp()
    high = None if until is None else as_utc(until).timestamp()
    rows: list[_Row] = []
    rejected = without_lodgement = 0
    for consignment in consignments:
        lodged = consignment.lodged
        if lodged is None:
            without_lodgement += 1
            continue
        if (low is not None and lodged < low) or (high is not None and lodged >= high):
            continue
        if consignment.rejected and consignment.accepted is None:
            rejected += 1
            continue
        walked = critical_path(consignment)
        waits = agency_waits(consignment) if walked is not None and consignment.holds else None
        rows.append(_Row(consignment, walked, waits))
    agencies = _agencies(rows)
    with_agencies = bool(agencies)  # some consignment of the window had a hold placed

    result: list[Breakdown] = []
    for dims in breakdowns:
        members: dict[GroupKey, list[_Row]] = {}
        for row in rows:
            key = tuple((d, row.consignment.value(d)) for d in dims)
            members.setdefault(key, []).append(row)
        ordered = sorted(members.items(),
                         key=lambda item: [(v is None, v or "") for _, v in item[0]])
        result.append(Breakdown(dims, tuple(_group(k, m, with_agencies) for k, m in ordered)))

    lodgements = [r.consignment.lodged for r in rows if r.consignment.lodged is not None]
    overall = _group((), rows, with_agencies)
    return Report(
        since=since, until=until, lodged=overall.lodged, released=overall.released,
        rejected=rejected, without_lodgement=without_lodgement, refused=overall.refused,
        invalidated=overall.invalidated,
        first_lodgement=_from_ts(min(lodgements)) if lodgements else None,
        last_lodgement=_from_ts(max(lodgements)) if lodgements else None,
        overall=overall, breakdowns=tuple(result), agencies=agencies,
    )


def _agencies(rows: Sequence[_Row]) -> dict[str, AgencyStats]:
    """Per agency code (sorted), its holds on the consignments of `rows` (see the module doc)."""
    holds: dict[str, list[Hold]] = {}
    waited: dict[str, list[float]] = {}
    for row in rows:
        for agency, hold in (row.consignment.holds or {}).items():
            if hold.placed is not None:
                holds.setdefault(agency, []).append(hold)
        for agency, wait in (row.waits or {}).items():
            waited.setdefault(agency, []).append(wait)
    grand = math.fsum(r.path[TOTAL] for r in rows if r.path is not None)
    result: dict[str, AgencyStats] = {}
    for agency in sorted(holds):
        placed = holds[agency]
        decided = [h for h in placed if h.decided is not None]
        waits = waited.get(agency, [])
        result[agency] = AgencyStats(
            agency=agency, holds=len(placed), decided=len(decided),
            approved=sum(1 for h in decided if h.decision == "approved"),
            refused=sum(1 for h in decided if h.decision == "refused"),
            hold_duration=summarize(_duration(h) for h in decided),
            release_waited=summarize(waits),
            time_share=math.fsum(waits) / grand if grand > 0 else None,
        )
    return result



def _duration(hold: Hold) -> float:
    """Placement -> decision of a decided hold (0 if the clocks put the decision first)."""
    assert hold.placed is not None and hold.decided is not None
    return max(0.0, hold.decided[0] - hold.placed)


# -- the streaming reader -------------------------------------------------------------------
def read_store(
    store: EventStore,
    *,
    page: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Consignment]:
    """One pass over the whole log (`iter_all`), folding the clearance events into one small
    record per consignment; `progress(events_read, position)` after each page."""
    collector = Collector()
    read = 0
    # No category filter: every event of the log is in CATEGORIES today, other types are
    # skipped by `Collector.add`, and `position > after` alone walks the primary key (with a
    # category filter SQLite prefers the category index and sorts each page: quadratic).
    for batch in store.iter_all(0, page):
        collector.add_all(batch)
        read += len(batch)
        if progress is not None:
            progress(read, batch[-1].position)
    return collector.consignments


def trs_report(
    store: EventStore,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: Sequence[Sequence[str]] = (("lane",),),
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """`build_report` over `read_store`."""
    return build_report(read_store(store, progress=progress).values(),
                        since=since, until=until, by=by)


# -- helpers --------------------------------------------------------------------------------
def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _from_ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else isoformat(value)
