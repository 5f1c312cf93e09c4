"""`clearance trs`: the Time Release Study report from the log (see `audit/trs.py`).

    clearance trs [--json] [--since TIME] [--until TIME] [--by DIM ...] [--plot FILE]

One pass over the whole log. `--since` (inclusive) and `--until` (exclusive) select the
consignments by lodgement time (ISO 8601 date or date-time; without a zone it is UTC).
`--by` takes `lane`, `office`, `transport_mode`, or a comma-joined combination such as
`office,lane`; each value is one breakdown (default: `lane`). `--plot FILE` also writes a PNG
of two panels, for all consignments and each group of the first breakdown: the share of the
lodged consignments released within a time (the ECDF of lodgement -> release on a log scale,
with 10 min and 1 h marked), and where the time goes (the mean time per stage stacked, a stage
a consignment did not have counting 0, so the bar adds up to the mean total; the median and
p90 of the total marked). Stage medians are in the tables: stacked, they would not add up.

Durations are seconds; shares are fractions of 1; percentiles by linear interpolation
between closest ranks (Hyndman-Fan type 7); stage statistics cover the released
consignments, `released_within_*` divide by every consignment lodged in the window. Every
stage is always in `intervals` (statistics null when its count is 0); `time_share` is null
when no released consignment took any time. `--json` on the log of
tests/integration/audit/test_trs_store.py (keys are sorted in the real output)::

    {
      "window": {"since": "2026-03-02T00:00:00.000000+00:00", "until": null,
                 "on": "lodgement (DeclarationReceived occurred_at)",
                 "first_lodgement": "2026-03-02T08:00:00.000000+00:00",
                 "last_lodgement": "2026-03-02T08:05:00.000000+00:00"},
      "units": "seconds",
      "percentile_method": "linear interpolation between closest ranks (Hyndman-Fan type 7)",
      "intervals": [{"name": "acceptance", "label": "lodgement -> acceptance"},
                    {"name": "risk", "label": "acceptance -> risk decision"},
                    {"name": "control", "label": "risk decision -> control completed"},
                    {"name": "assessment",
                     "label": "control (or risk decision) -> duty assessed"},
                    {"name": "payment", "label": "duty assessed -> debt paid"},
                    {"name": "release", "label": "previous milestone -> release"},
                    {"name": "total", "label": "lodgement -> release"}],
      "time_share_buckets": {"customs": ["risk", "control"], "trader": ["payment"],
                             "other": ["acceptance", "assessment", "release"]},
      "consignments": {"lodged": 6, "released": 5, "open": 1, "refused": 0, "invalidated": 0,
                       "rejected": 0, "without_lodgement": 0},
      "overall": {
        "key": {},
        "lodged": 6, "released": 5, "open": 1, "refused": 0, "invalidated": 0,
        "released_within_10m": 0.5, "released_within_1h": 0.666667,
        "intervals": {
          "acceptance": {"count": 5, "median": 0.0, "p90": 0.0, "p95": 0.0, "mean": 0.0,
                         "max": 0.0},
          "risk":       {"count": 5, "median": 4.0, "p90": 5.0, "p95": 5.0, "mean": 3.4,
                         "max": 5.0},
          "control":    {"count": 2, "median": 2400.0, "p90": 3360.0, "p95": 3480.0,
                         "mean": 2400.0, "max": 3600.0},
          "assessment": {"count": 5, "median": 0.0, "p90": 0.0, "p95": 0.0, "mean": 0.0,
                         "max": 0.0},
          "payment":    {"count": 4, "median": 30.0, "p90": 312.0, "p95": 366.0,
                         "mean": 120.0, "max": 420.0},
          "release":    {"count": 5, "median": 1.0, "p90": 1.0, "p95": 1.0, "mean": 1.0,
                         "max": 1.0},
          "total":      {"count": 5, "median": 425.0, "p90": 2646.0, "p95": 3126.0,
                         "mean": 1060.4, "max": 3606.0}
        },
        "time_share": {"customs": 0.908525, "trader": 0.090532, "other": 0.000943}
      },
      "breakdowns": [
        {"by": ["lane"],
         "groups": [
           {"key": {"lane": "blue"}, "lodged": 1, "released": 1, "open": 0, "refused": 0,
            "invalidated": 0, "released_within_10m": 1.0, "released_within_1h": 1.0,
            "intervals": {"control": {"count": 0, "median": null, "p90": null, "p95": null,
                                      "mean": null, "max": null},
                          "...": "every stage and total, as in overall"},
            "time_share": {"customs": 0.5, "trader": 0.0, "other": 0.5}},
           {"key": {"lane": "green"}, "...": "as above"}
         ]}
      ],
      "agencies": {}
    }

**Partner agencies** (`audit/trs.py` defines the agency wait). `agencies` holds one entry per
agency code that placed a hold on a consignment of the window (`{}` when none did). When
there is one, `time_share` (overall and in every group) gains `agencies`, the time the
release waited for agency decisions only, taken out of `other` (so customs + trader +
agencies + other = 1), and `time_share_buckets` gains `"agencies": ["release"]`. An entry,
for a consignment GBFSA held from 10 s to 900 s after lodgement, paid at 130 s, released at
901 s::

      "agencies": {
        "GBFSA": {"holds": 1, "decided": 1, "approved": 1, "refused": 0, "open": 0,
                  "hold_duration": {"count": 1, "median": 890.0, "p90": 890.0,
                                    "p95": 890.0, "mean": 890.0, "max": 890.0},
                  "release_waited": {"count": 1, "median": 770.0, "p90": 770.0,
                                     "p95": 770.0, "mean": 770.0, "max": 770.0},
                  "time_share": 0.854606}
      }

`hold_duration`: placement -> decision over the decided holds; `release_waited`: the agency
wait of each released consignment the agency held (0 when it decided before every other
condition was met); `time_share`: their sum over the summed totals (the agencies' shares add
up to the overall `time_share.agencies`). The text output adds an `agencies` column to the
breakdowns and a table per agency.

Group keys hold one entry per dimension of the breakdown (`{"office": "GBFXT001",
"transport_mode": "sea"}` for `--by office,transport_mode`); a value is null when the log
does not tell it yet (no risk decision: no lane). Groups are sorted by key, null last.

Exit 0 with the report (also when the window holds no consignment), 1 when there is no store
or no event at EVENT_STORE_URL (nothing is created) or the plot cannot be drawn (`--plot`
needs matplotlib, the `plot` extra) or written, 2 on bad usage (`--since` not before
`--until` among it). On a terminal the pass over the log shows a progress bar on stderr (not
with `--json`, nor when piped).
"""

from __future__ import annotations

import argparse
import importlib.util
from datetime import UTC, datetime
from typing import Any

from audit.trs import (
    DIMENSIONS,
    INTERVAL_LABELS,
    INTERVALS,
    PERCENTILE_METHOD,
    STAGES,
    TOTAL,
    WITHIN_1H,
    WITHIN_10M,
    AgencyStats,
    Group,
    Report,
    parse_breakdown,
    trs_report,
)

from ..output import Failed, Progress, UsageError, emit_json, error
from ..store import open_store


def when(text: str) -> datetime:
    """An ISO 8601 date or date-time; UTC when it names no zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def breakdown(text: str) -> tuple[str, ...]:
    try:
        return parse_breakdown(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "trs", help="the Time Release Study report from the log",
        description="Time Release Study: stage durations and release shares from the log.")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--since", type=when, default=None, metavar="TIME",
                        help="only consignments lodged at or after TIME (ISO 8601, UTC default)")
    parser.add_argument("--until", type=when, default=None, metavar="TIME",
                        help="only consignments lodged before TIME")
    parser.add_argument("--by", type=breakdown, nargs="+", action="extend", default=None,
                        metavar="DIM",
                        help=f"breakdowns: {', '.join(DIMENSIONS)}, or comma-joined "
                             "combinations (default: lane)")
    parser.add_argument("--plot", default=None, metavar="FILE",
                        help="also draw the distributions as a PNG")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.since is not None and args.until is not None and args.since >= args.until:
        raise UsageError("--since must be before --until")
    by: list[tuple[str, ...]] = list(dict.fromkeys(args.by or [("lane",)]))
    if args.plot and importlib.util.find_spec("matplotlib") is None:  # before the long pass
        raise Failed("--plot needs matplotlib, which is not installed: it is the `plot` extra "
                     "(pip install 'open-clearance[plot]')")
    store = open_store()
    try:
        with Progress("trs", store.last_position(), show=not args.json) as bar:
            report = trs_report(store, since=args.since, until=args.until, by=by,
                                progress=bar.callback)
            bar.complete()
    finally:
        store.close()
    if args.plot:
        try:
            plot(report, args.plot)
        except OSError as exc:
            error(f"cannot write {args.plot}: {exc.strerror or exc}")
            return 1
    if args.json:
        emit_json(report.to_json())
    else:
        print_report(report)
        if args.plot:
            print(f"\nplot written to {args.plot}")
    return 0


# -- text ---------------------------------------------------------------------------------
def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m{whole % 60:02d}s"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h{whole % 3600 // 60:02d}m"


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _stamp(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%SZ")


def print_report(report: Report) -> None:
    window = f"since {_stamp(report.since)}" if report.since else "from the start"
    window += f", until {_stamp(report.until)}" if report.until else ", to the end"
    print(f"Time Release Study: consignments lodged {window} of the log "
          f"(first {_stamp(report.first_lodgement)}, last {_stamp(report.last_lodgement)})")
    opened = report.lodged - report.released - report.refused - report.invalidated
    print(f"lodged {report.lodged:,}, released {report.released:,} "
          f"({share(report.released / report.lodged if report.lodged else None)}), "
          f"open {opened:,}, release refused {report.refused:,}, "
          f"invalidated {report.invalidated:,}, rejected {report.rejected:,}")
    print(f"stage statistics over the released consignments; percentiles by {PERCENTILE_METHOD}")
    print()
    overall = report.overall
    header = f"{'interval':<46}{'n':>8}{'median':>11}{'p90':>11}{'p95':>11}{'mean':>11}{'max':>11}"
    print(header)
    print("-" * len(header))
    for name in INTERVALS:
        s = overall.intervals[name]
        print(f"{INTERVAL_LABELS[name]:<46}{s.count:>8,}{duration(s.median):>11}"
              f"{duration(s.p90):>11}{duration(s.p95):>11}{duration(s.mean):>11}"
              f"{duration(s.max):>11}")
    print()
    print(f"released within 10 min: {share(overall.released_within_10m)}, "
          f"within 1 h: {share(overall.released_within_1h)} (of the consignments lodged)")
    print(_time_share(overall))
    if report.agencies:
        print_agencies(report.agencies)
    agencies = bool(report.agencies)
    for item in report.breakdowns:
        by = ",".join(item.by)
        width = max([len(by), 5, *(len(g.label) for g in item.groups)]) + 2
        print()
        print(f"by {by}: lodgement -> release")
        header = (f"{by:<{width}}{'lodged':>8}{'released':>9}{'<=10min':>9}{'<=1h':>8}"
                  f"{'median':>11}{'p90':>11}{'p95':>11}{'mean':>11}{'max':>11}"
                  f"{'customs':>9}{'trader':>8}" + (f"{'agencies':>10}" if agencies else "")
                  + f"{'other':>8}")
        print(header)
        print("-" * len(header))
        for g in item.groups:
            t = g.intervals[TOTAL]
            ts = g.time_share or {}
            print(f"{g.label:<{width}}{g.lodged:>8,}{g.released:>9,}"
                  f"{share(g.released_within_10m):>9}{share(g.released_within_1h):>8}"
                  f"{duration(t.median):>11}{duration(t.p90):>11}{duration(t.p95):>11}"
                  f"{duration(t.mean):>11}{duration(t.max):>11}{share(ts.get('customs')):>9}"
                  f"{share(ts.get('trader')):>8}"
                  + (f"{share(ts.get('agencies')):>10}" if agencies else "")
                  + f"{share(ts.get('other')):>8}")
        print()
        print(f"by {by}: median of each stage (n in brackets)")
        header = f"{by:<{width}}" + "".join(f"{n:>18}" for n in STAGES)
        print(header)
        print("-" * len(header))
        for g in item.groups:
            cells = "".join(
                f"{duration(g.intervals[n].median) + f' ({g.intervals[n].count})':>18}"
                for n in STAGES)
            print(f"{g.label:<{width}}{cells}")


def _time_share(group: Group) -> str:
    ts = group.time_share
    if ts is None:
        return "time of the released consignments: -"
    agencies = ("" if "agencies" not in ts else
                f"waiting on partner agencies only {share(ts['agencies'])}, ")
    return (f"time of the released consignments: customs control (risk, control) "
            f"{share(ts['customs'])}, waiting on the trader (payment) {share(ts['trader'])}, "
            f"{agencies}other (acceptance, assessment, release) {share(ts['other'])}")


def print_agencies(agencies: dict[str, AgencyStats]) -> None:
    """Per partner agency: its holds, how long they lasted and how long the release waited."""
    width = max([len("agency"), *(len(code) for code in agencies)]) + 2
    print()
    print("partner agencies: holds (placement -> decision) and the release's wait for each "
          "(after every other condition was met; overlaps split equally)")
    header = (f"{'agency':<{width}}{'holds':>7}{'approved':>9}{'refused':>8}{'open':>6}"
              f"{'hold median':>13}{'hold p90':>11}{'hold max':>11}{'waited n':>9}"
              f"{'median':>11}{'p90':>11}{'mean':>11}{'max':>11}{'share':>8}")
    print(header)
    print("-" * len(header))
    for code, a in agencies.items():
        h, w = a.hold_duration, a.release_waited
        print(f"{code:<{width}}{a.holds:>7,}{a.approved:>9,}{a.refused:>8,}{a.open:>6,}"
              f"{duration(h.median):>13}{duration(h.p90):>11}{duration(h.max):>11}"
              f"{w.count:>9,}{duration(w.median):>11}{duration(w.p90):>11}"
              f"{duration(w.mean):>11}{duration(w.max):>11}{share(a.time_share):>8}")


# -- plot ---------------------------------------------------------------------------------
_STAGE_COLOURS = {"acceptance": "#bdbdbd", "risk": "#6a51a3", "control": "#8c510a",
                  "assessment": "#dd3497", "payment": "#fd8d3c", "release": "#35978f"}
_LANE_COLOURS = {"green": "#2ca02c", "yellow": "#e6b800", "red": "#d62728", "blue": "#1f77b4"}
_TICKS = [(0.1, "0.1s"), (1, "1s"), (10, "10s"), (60, "1m"), (600, "10m"), (3600, "1h"),
          (6 * 3600, "6h"), (86400, "1d"), (7 * 86400, "7d"), (30 * 86400, "30d")]
_FLOOR = 0.1


def plot(report: Report, path: str) -> None:
    """A PNG of two panels, for all consignments and each group of the first breakdown:
    the share of the lodged consignments released within a time (an ECDF of lodgement ->
    release on a log scale, open consignments never reach it), and where the time goes: the
    mean seconds per stage stacked (a stage a consignment did not have counts 0, so the
    stages add up to the mean total), with the median and p90 of the total marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    first = report.breakdowns[0] if report.breakdowns else None
    groups = [report.overall, *(first.groups if first else ())]
    by = ",".join(first.by) if first else ""
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 6.5),
                                      gridspec_kw={"width_ratios": [1.1, 1]})

    longest = max((g.totals[-1] for g in groups if g.totals), default=3600.0)
    right_edge = max(2 * 3600.0, longest * 1.5)
    for g in groups:
        if not g.lodged:
            continue
        xs = [max(_FLOOR, t) for t in g.totals]
        ys = [(i + 1) / g.lodged for i in range(len(xs))]
        style: dict[str, Any] = {"linewidth": 1.6}
        if not g.key:
            style = {"color": "black", "linewidth": 2.4}
        elif by == "lane" and g.label in _LANE_COLOURS:
            style["color"] = _LANE_COLOURS[g.label]
        left.step([_FLOOR, *xs, right_edge], [0.0, *ys, ys[-1] if ys else 0.0], where="post",
                  label=f"{g.label}: {g.released:,} of {g.lodged:,} released", **style)
    for limit, text in ((WITHIN_10M, "10 min"), (WITHIN_1H, "1 h")):
        left.axvline(limit, color="grey", linestyle="--", linewidth=1)
        left.text(limit * 1.08, 0.02, text, ha="left", va="bottom", fontsize=9,
                  color="dimgrey")
    left.set_xscale("log")
    left.set_xlim(_FLOOR, right_edge)
    left.set_ylim(0, 1.0)
    ticks = [(v, t) for v, t in _TICKS if _FLOOR <= v <= right_edge]
    left.set_xticks([v for v, _ in ticks], [t for _, t in ticks])
    left.minorticks_off()
    left.yaxis.set_major_formatter(PercentFormatter(1.0))
    left.grid(True, alpha=0.3)
    left.set_xlabel(f"lodgement -> release (log scale; under {_FLOOR:g}s drawn at {_FLOOR:g}s)")
    left.set_ylabel("share of the consignments lodged, released within")
    left.set_title("Released within a time" + (f", by {by}" if by else ""))
    if any(g.lodged for g in groups):
        left.legend(loc="upper left", fontsize=9, framealpha=0.9)

    scale, unit = _unit(max([*(g.intervals[TOTAL].p90 or 0.0 for g in groups), 1.0]))
    positions = list(range(len(groups)))[::-1]
    starts = [0.0] * len(groups)
    for stage in STAGES:
        widths = [_mean_over_released(g, stage) / scale for g in groups]
        right.barh(positions, widths, left=starts, height=0.6, color=_STAGE_COLOURS[stage],
                   label=stage, edgecolor="white", linewidth=0.5)
        starts = [a + b for a, b in zip(starts, widths, strict=True)]
    for marker, stat in (("D", "median"), ("|", "p90")):
        points = [(getattr(g.intervals[TOTAL], stat), y) for g, y in zip(groups, positions,
                                                                           strict=True)]
        right.scatter([x / scale for x, _ in points if x is not None],
                      [y for x, y in points if x is not None], marker=marker, color="black",
                      s=60 if marker == "|" else 30, zorder=3, label=f"{stat} total")
    for y, g in zip(positions, groups, strict=True):
        t = g.intervals[TOTAL]
        right.text(0, y + 0.33, f" total: mean {duration(t.mean)}, median "
                   f"{duration(t.median)}, p90 {duration(t.p90)}", fontsize=8, va="bottom",
                   ha="left")
    right.set_yticks(positions, [f"{g.label}\n(n={g.released:,})" for g in groups])
    right.set_ylim(-0.5, len(groups) - 0.1)
    right.set_xlim(left=0)
    right.set_xlabel(f"{unit}: mean time per stage over the released consignments "
                     "(stages add up to the mean total)", fontsize=9)
    right.set_title("Where the time goes, lodgement -> release")
    right.grid(True, axis="x", alpha=0.3)
    right.legend(loc="best", fontsize=8, ncols=2)

    window = (f"lodged {_stamp(report.first_lodgement)} to {_stamp(report.last_lodgement)}"
              if report.lodged else "no consignment lodged in the window")
    fig.suptitle(f"Time Release Study: {report.lodged:,} lodged, {report.released:,} released; "
                 f"{window}", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)


def _mean_over_released(group: Group, stage: str) -> float:
    stats = group.intervals[stage]
    if not group.released or stats.mean is None:
        return 0.0
    return stats.mean * stats.count / group.released


def _unit(longest: float) -> tuple[float, str]:
    if longest >= 2 * 86400:
        return 86400.0, "days"
    if longest >= 2 * 3600:
        return 3600.0, "hours"
    if longest >= 120:
        return 60.0, "minutes"
    return 1.0, "seconds"
