"""The auditor's consignment history: every event of one consignment, across all services.

    store = EventStore(url)
    consignment_id = resolve(store, "26GBK2M9Q4R8T1X5R5")   # an MRN or a consignment id
    h = history(store, consignment_id)                      # or as_of=datetime(...)
    to_json(h); to_csv(h); to_text(h); to_html(h)

`history` reads the consignment with `EventStore.read_correlation` (the `ix_events_correlation`
index: the cost depends on the consignment, not on the size of the log) plus one primary-key
lookup of the hashes just before each of its events, so each event's place in the hash chain
can be shown and re-computed. With `as_of`, only the events *recorded* at or before that time
are kept, and the status and key facts are derived from those events alone with the
declaration service's own `derive` (the same pure function the status projection uses), so
the answer is the status as it stood then, not as it is now.

Each event carries a one-line human summary of its key facts (the lane with the rules hit and
their rationale, the duty totals with the tariff version, rate and rounding, a payment with the
balance after it, a control's result and findings, the release time and lane). Everything a
trader typed is data: the HTML renderer escapes all of it, and the CSV writer neutralises cells
a spreadsheet would read as a formula.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from string import Template
from typing import Any

from services.declaration.domain.status_view import KEPT_FIELDS, StatusView, derive, fact_of
from services.declaration.projections import STATUS
from shared.events.declaration import (
    AmendmentDecided,
    AmendmentRequested,
    DeclarationAccepted,
    DeclarationAmended,
    DeclarationInvalidated,
    DeclarationReceived,
    DeclarationRejected,
    InvalidationRefused,
    InvalidationRequested,
)
from shared.events.envelope import RecordedEvent, as_utc, author_of, isoformat, utcnow
from shared.events.payment import DutyAssessed, PaymentReceived
from shared.events.release import DeclarationCleared, GoodsHeld, GoodsReleased, ReleaseRefused
from shared.events.risk import ControlCompleted, ControlOrdered, RiskAssessed
from shared.eventstore import EventStore, EventStoreError
from shared.eventstore.dialects import mark
from shared.eventstore.hashing import canonical_json, chain_hash
from shared.eventstore.reader import fetch
from shared.eventstore.tables import GENESIS_HASH

MRN_PATTERN = re.compile(r"^\d{2}[A-Z]{2}[A-Z0-9]{12}[A-Z]\d$")

# One colour per service (stream category); other categories get one from FALLBACK_COLOURS.
SERVICE_COLOURS = {
    "declaration": "#1f5fa8",
    "risk": "#b35c00",
    "payment": "#1d7a3a",
    "release": "#6b3fa0",
}
FALLBACK_COLOURS = ("#8a2b2b", "#2b6f7a", "#5c5c5c", "#7a6a1f")


# -- resolving an MRN or a consignment id ---------------------------------------------------


def is_mrn(value: str) -> bool:
    return MRN_PATTERN.match(value) is not None


def resolve(store: EventStore, consignment_or_mrn: str) -> str | None:
    """The consignment id named by an MRN or a consignment id, or None when unknown.

    An MRN (`^\\d{2}[A-Z]{2}[A-Z0-9]{12}[A-Z]\\d$`) is looked up in the declaration status projection
    (`declaration_status`, unique on mrn). If the projection has no row for it (not yet
    projected, or being rebuilt), the log itself is searched: the `DeclarationAccepted`
    events of the `declaration` category, oldest first. That fallback is correct but slow:
    it reads every acceptance in the log (the category index narrows it to declaration events
    and a text pre-filter to the rows naming the MRN, but it is still a scan that grows with
    the log), so it is only a safety net.

    Anything else is taken as a consignment id (the correlation id of its events) and
    returned when at least one event carries it (an index lookup).
    """
    value = consignment_or_mrn.strip()
    if is_mrn(value.upper()):
        mrn = value.upper()
        return _consignment_of_mrn(store, mrn) or _scan_acceptances(store, mrn)
    m = mark(store.dialect)
    found = store.run(lambda c: fetch(
        c, f"SELECT position FROM events WHERE correlation_id = {m} LIMIT 1", (value,)))
    return value if found else None


def _consignment_of_mrn(store: EventStore, mrn: str) -> str | None:
    try:
        row = STATUS.find(store, mrn=mrn)
    except Exception:  # noqa: BLE001 - no projection table (a store without read models)
        return None
    return None if row is None else str(row["consignment_id"])


def _scan_acceptances(store: EventStore, mrn: str) -> str | None:
    # Stored data is canonical JSON (no spaces), so the MRN appears as `"mrn":"<MRN>"`; the
    # MRN is [A-Z0-9] only, so it holds no LIKE wildcard. Each candidate is read, typed and
    # upcast, to confirm.
    m = mark(store.dialect)
    candidates = store.log.select(
        f"WHERE category = 'declaration' AND type = 'DeclarationAccepted' AND data LIKE {m} "
        "ORDER BY position", (f'%"mrn":"{mrn}"%',))
    for event in candidates:
        if event.payload.mrn == mrn:
            return event.correlation_id
    return None


# -- the history ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEvent:
    """One event of the history, with its place in the hash chain and a human summary."""

    position: int
    recorded_at: datetime
    occurred_at: datetime
    service: str
    stream: str
    stream_version: int
    type: str
    version: int
    actor: str  # as stored (and hashed): the author as JSON, or a name before issue 10
    causation_id: str | None
    event_id: str
    previous_hash: str
    hash: str
    hash_verified: bool  # the stored hash re-computes from the previous hash and this event
    summary: str
    data: Mapping[str, Any]  # as stored (what the hash covers)
    payload: Any  # the typed event, current version (None: a type this code does not know)

    @property
    def author(self) -> dict[str, Any]:
        """Who made it happen: `{"sub", "roles", "iss"?, "jti"?}` (see `author_of`)."""
        return author_of(self.actor)

    @property
    def author_line(self) -> str:
        author = self.author
        roles = ", ".join(author.get("roles") or [])
        return f"{author['sub']} ({roles})" if roles else str(author["sub"])

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "recorded_at": isoformat(self.recorded_at),
            "occurred_at": isoformat(self.occurred_at),
            "service": self.service,
            "stream": self.stream,
            "stream_version": self.stream_version,
            "type": self.type,
            "version": self.version,
            "actor": self.author,
            "causation_id": self.causation_id,
            "event_id": self.event_id,
            "previous_hash": self.previous_hash,
            "hash": self.hash,
            "hash_verified": self.hash_verified,
            "summary": self.summary,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class KeyFacts:
    """What was known about the consignment at the end of the history (or at `as_of`)."""

    mrn: str | None
    lrn: str | None
    lane: str | None
    amount_due: str | None
    amount_paid: str | None
    currency: str | None
    lodged_at: str | None
    released: bool
    released_at: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "mrn": self.mrn, "lrn": self.lrn, "lane": self.lane,
            "amount_due": self.amount_due, "amount_paid": self.amount_paid,
            "currency": self.currency, "lodged_at": self.lodged_at,
            "released": self.released, "released_at": self.released_at,
        }


@dataclass(frozen=True)
class History:
    consignment_id: str
    as_of: datetime | None
    events: list[HistoryEvent]
    view: StatusView | None  # None when nothing was recorded yet (as_of before the first event)
    generated_at: datetime
    log_head: int  # the log's last position when the history was read

    @property
    def mrn(self) -> str | None:
        if self.view is not None and self.view.mrn:
            return self.view.mrn
        for event in self.events:
            mrn = getattr(event.payload, "mrn", None)
            if isinstance(mrn, str):
                return mrn
        return None

    @property
    def status(self) -> dict[str, str] | None:
        return None if self.view is None else self.view.status.as_json()

    @property
    def facts(self) -> KeyFacts | None:
        view = self.view
        if view is None:
            return None
        return KeyFacts(
            mrn=view.mrn, lrn=view.lrn or None, lane=view.lane, amount_due=view.amount_due,
            amount_paid=view.amount_paid, currency=view.currency, lodged_at=view.lodged_at,
            released=view.released_at is not None, released_at=view.released_at,
        )

    @property
    def first_position(self) -> int | None:
        return self.events[0].position if self.events else None

    @property
    def last_position(self) -> int | None:
        return self.events[-1].position if self.events else None


def history(store: EventStore, consignment_id: str, as_of: datetime | None = None) -> History:
    """Every event of `consignment_id` in log order (only those recorded at or before `as_of`
    when given), with the status and key facts derived from exactly those events."""
    generated_at = utcnow()
    log_head = store.last_position()
    recorded = store.read_correlation(consignment_id)
    if as_of is not None:
        limit = as_utc(as_of)
        recorded = [e for e in recorded if as_utc(e.recorded_at) <= limit]
    previous = _previous_hashes(store, [e.position for e in recorded])
    items = [_history_event(e, previous[e.position]) for e in recorded]
    facts = {
        e.event_id: fact
        for e, item in zip(recorded, items, strict=True)
        if e.type in KEPT_FIELDS and item.payload is not None
        and (fact := fact_of(e.type, e.position, isoformat(e.occurred_at), item.payload))
        is not None
    }
    return History(
        consignment_id=consignment_id,
        as_of=None if as_of is None else as_utc(as_of),
        events=items,
        view=derive(facts) if facts else None,
        generated_at=generated_at,
        log_head=max(log_head, max((e.position for e in recorded), default=0)),
    )


def _previous_hashes(store: EventStore, positions: Sequence[int]) -> dict[int, str]:
    """position -> the hash of the event just before it (the genesis hash before the first);
    one primary-key lookup for the whole consignment."""
    wanted = sorted({p - 1 for p in positions if p > 1})
    found: dict[int, str] = {}
    if wanted:
        m = mark(store.dialect)
        rows = store.run(lambda c: fetch(
            c, f"SELECT position, hash FROM events WHERE position IN "
               f"({', '.join([m] * len(wanted))})", wanted))
        found = {int(position): str(hash_) for position, hash_ in rows}
    return {p: GENESIS_HASH if p == 1 else found.get(p - 1, "") for p in positions}


def _history_event(event: RecordedEvent, previous_hash: str) -> HistoryEvent:
    recomputed = chain_hash(
        previous_hash, position=event.position, event_id=event.event_id, stream=event.stream,
        stream_version=event.stream_version, type=event.type, version=event.version,
        correlation_id=event.correlation_id, causation_id=event.causation_id,
        actor=event.actor, occurred_at=event.occurred_at, recorded_at=event.recorded_at,
        data_text=canonical_json(dict(event.data)),
    )
    payload = _payload(event)
    return HistoryEvent(
        position=event.position, recorded_at=as_utc(event.recorded_at),
        occurred_at=as_utc(event.occurred_at), service=event.category, stream=event.stream,
        stream_version=event.stream_version, type=event.type, version=event.version,
        actor=event.actor, causation_id=event.causation_id, event_id=event.event_id,
        previous_hash=previous_hash, hash=event.hash,
        hash_verified=bool(previous_hash) and recomputed == event.hash,
        summary=summarise(event, payload), data=dict(event.data), payload=payload,
    )


def _payload(event: RecordedEvent) -> Any:
    """The typed event, or None when this code does not know its type or cannot read it (the
    history still shows it, with its stored data)."""
    try:
        return event.payload
    except (LookupError, ValueError, TypeError, KeyError, EventStoreError):
        return None


# -- summaries ---------------------------------------------------------------------------------


def _changes(changes: list[dict[str, Any]], shown: int = 5) -> str:
    """An amendment's changes, the first `shown` of them: `pointer: before -> after`."""
    text = "; ".join(f"{c['pointer']}: {c['before']!r} -> {c['after']!r}"
                     for c in changes[:shown])
    more = len(changes) - shown
    return text + (f"; and {more} more" if more > 0 else "")


def summarise(event: RecordedEvent, payload: Any) -> str:
    """One line of the key facts of an event, from its typed payload (current version); an
    event this code cannot read is summarised by its stored field names."""
    line = None if payload is None else _summary(payload, event)
    if line is not None:
        return line
    fields = ", ".join(sorted(str(key) for key in event.data)) or "no data"
    return f"{event.type} v{event.version} ({fields})"


def _summary(payload: Any, event: RecordedEvent) -> str | None:
    match payload:
        case DeclarationReceived():
            document = payload.document
            items = document.get("items") or []
            mode = _get(document, "transport", "mode", default="?")
            return (f"Declaration LRN {payload.lrn} received from declarant "
                    f"{payload.declarant_eori}: {document.get('type', '?')} at office "
                    f"{document.get('office', '?')}, {len(items)} item(s), {mode} transport, "
                    f"invoice currency {document.get('currency', '?')}")
        case DeclarationAccepted():
            return (f"Accepted as MRN {payload.mrn} (LRN {payload.lrn}, declaration version "
                    f"{payload.declaration_version}) at office {payload.office}, "
                    f"{payload.transport_mode}, acceptance date "
                    f"{payload.acceptance_date.isoformat()}")
        case DeclarationRejected():
            reasons = "; ".join(f"{problem.get('pointer', '')}: {problem.get('message', '')}"
                                for problem in payload.problems)
            return (f"Rejected LRN {payload.lrn}: {len(payload.problems)} problem(s): "
                    f"{reasons or 'none given'}")
        case RiskAssessed():
            rules = "; ".join(f"{h.get('rule_id')} ({h.get('lane')}, score {h.get('score')}): "
                              f"{h.get('rationale')}" for h in payload.rules_hit)
            drawn = ""
            if "value" in payload.draw:
                drawn = (f"; random draw {payload.draw['value']}"
                         f"{' selected' if payload.draw.get('selected') else ' not selected'}")
            aeo = f"; AEO {payload.aeo_status}" if payload.aeo_status else ""
            return (f"Lane {payload.lane.upper()} (score {payload.score}, rule set "
                    f"{payload.ruleset_version}): "
                    + (f"rules hit: {rules}" if payload.rules_hit else "no rule hit")
                    + drawn + aeo)
        case ControlOrdered():
            kind = ("Physical examination" if payload.kind == "examination"
                    else "Documentary check")
            return f"{kind} ordered ({payload.lane} lane)"
        case ControlCompleted():
            result = payload.result.replace("_", "-")
            findings = "; ".join(f"{f['category']}: {f['text']}" for f in payload.findings)
            extra = ""
            if payload.outcome is not None:
                extra = f"; outcome {payload.outcome.replace('_', ' ')}"
            elif payload.result == "non_compliant":
                extra = "; no outcome decided (customs hold)"
            if payload.additional_duty != 0:
                extra += f", additional duty {payload.additional_duty}"
            return (f"Control result {result.upper()} by {event.author['sub']}: findings "
                    f"{findings or 'none'}{extra}")
        case DutyAssessed():
            working = payload.working
            rate = _get(working, "exchange_rate", "rate")
            rate_currency = _get(working, "exchange_rate", "currency")
            rate_text = (f", rate 1 {rate_currency} = {rate} {payload.currency}"
                         if rate is not None and rate_currency else "")
            rounding = _get(working, "rounding", "rule") or payload.rounding
            return (f"Duty {payload.duty_total} + VAT {payload.vat_total} = "
                    f"{payload.amount_due} {payload.currency} due (tariff "
                    f"{payload.tariff_version}, rates {payload.rates_version}{rate_text}, "
                    f"rounding {rounding})")
        case PaymentReceived():
            balance = f"balance due {payload.balance_due} {payload.currency}"
            if payload.credit != 0:
                balance += f", credit {payload.credit} {payload.currency}"
            return (f"Payment {payload.reference} of {payload.amount} {payload.currency} "
                    f"received; {balance}")
        case GoodsReleased():
            seconds = (payload.released_at - payload.lodged_at).total_seconds()
            return (f"Released at {payload.released_at.isoformat()} ({payload.lane} lane, "
                    f"office {payload.office}, {payload.transport_mode}), "
                    f"{_duration(seconds)} after lodgement")
        case DeclarationCleared():
            return (f"Cleared at {payload.cleared_at.isoformat()}: every debt paid "
                    f"({payload.amount_paid} paid against {payload.amount_due} due, "
                    f"declaration version {payload.declaration_version})")
        case GoodsHeld():
            return f"Goods held: {payload.reason}"
        case DeclarationAmended():
            return (f"Amended to version {payload.declaration_version} ({payload.reason}): "
                    f"{_changes(payload.changes)}")
        case AmendmentRequested():
            return (f"Post-release amendment to version {payload.declaration_version} applied "
                    f"for ({payload.reason}): {_changes(payload.changes)}")
        case AmendmentDecided():
            return f"Post-release amendment {payload.decision}: {payload.reason}"
        case InvalidationRequested():
            return (f"Invalidation requested after release (declaration version "
                    f"{payload.declaration_version}): {payload.reason}")
        case DeclarationInvalidated():
            how = ("granted after release" if payload.after_release
                   else "before release, at the declarant's request")
            return f"Declaration invalidated ({how}): {payload.reason}"
        case InvalidationRefused():
            return f"Invalidation refused: {payload.reason}"
        case ReleaseRefused():
            return (f"Release refused at {payload.refused_at.isoformat()} (office "
                    f"{payload.office}), by the control's outcome")
    return None


def _get(data: Mapping[str, Any], *path: str, default: Any = None) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return default
        value = value[key]
    return value


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d"] if days else []
    if hours or days:
        parts.append(f"{hours} h")
    parts.append(f"{minutes} min")
    if not days and not hours:
        parts.append(f"{secs} s")
    return " ".join(parts)


# -- output: JSON, CSV, text ------------------------------------------------------------------


def to_json(h: History) -> dict[str, Any]:
    """The contract's shape: {"consignment_id", "events": [...], "status", "as_of", ...}."""
    facts = h.facts
    return {
        "consignment_id": h.consignment_id,
        "mrn": h.mrn,
        "as_of": None if h.as_of is None else isoformat(h.as_of),
        "status": h.status,
        "facts": None if facts is None else facts.to_json(),
        "generated_at": isoformat(h.generated_at),
        "positions": {"first": h.first_position, "last": h.last_position,
                      "log_head": h.log_head},
        "events": [e.to_json() for e in h.events],
    }


CSV_COLUMNS = (
    "position", "recorded_at", "occurred_at", "service", "stream", "stream_version", "type",
    "version", "actor", "causation_id", "event_id", "previous_hash", "hash", "hash_verified",
    "summary", "data",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """A free-text cell that a spreadsheet would not execute (OWASP CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(h: History) -> str:
    """One row per event; `data` is a JSON cell (canonical JSON, as stored)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in h.events:
        writer.writerow([
            e.position, isoformat(e.recorded_at), isoformat(e.occurred_at), e.service,
            _cell(e.stream), e.stream_version, e.type, e.version, _cell(e.actor),
            e.causation_id or "", e.event_id, e.previous_hash, e.hash,
            "true" if e.hash_verified else "false", _cell(e.summary),
            canonical_json(dict(e.data)),
        ])
    return out.getvalue()


def _status_text(h: History) -> str:
    if h.status is None:
        return "nothing recorded yet"
    return f"{h.status['name']} ({h.status['code']})"


def to_text(h: History) -> str:
    """A readable table in log order, with the status and key facts above it."""
    lines = [
        f"consignment  {h.consignment_id}",
        f"MRN          {h.mrn or '-'}",
        f"status       {_status_text(h)}"
        + ("" if h.as_of is None else f"  as of {isoformat(h.as_of)}"),
    ]
    facts = h.facts
    if facts is not None:
        money = "-"
        if facts.amount_due is not None or facts.amount_paid is not None:
            unit = f" {facts.currency}" if facts.currency else ""
            money = f"due {facts.amount_due or '-'}{unit}, paid {facts.amount_paid or '0.00'}{unit}"
        lines += [
            f"lane         {facts.lane or '-'}",
            f"amounts      {money}",
            f"released     {facts.released_at or 'no'}",
        ]
    lines.append(f"events       {len(h.events)}"
                 + (f" (positions {h.first_position}-{h.last_position})" if h.events else ""))
    lines.append("")
    if not h.events:
        return "\n".join(lines) + "\n(no event recorded at or before that time)\n"
    rows = [("POS", "RECORDED (UTC)", "SERVICE", "TYPE", "ACTOR", "SUMMARY")]
    for e in h.events:
        rows.append((str(e.position), isoformat(e.recorded_at)[:26].replace("T", " "),
                     e.service, e.type, _one_line(e.author_line), _one_line(e.summary)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        cells = [row[i].ljust(widths[i]) if i else row[i].rjust(widths[i]) for i in range(5)]
        lines.append("  ".join(cells) + "  " + row[5])
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- output: the HTML timeline -----------------------------------------------------------------


TEMPLATES = Path(__file__).resolve().parent / "templates"


def _template(name: str) -> str:
    # By file path, not importlib.resources on the package: a test package named `audit`
    # (tests/integration/audit) may shadow this package's name on sys.path under pytest.
    return (TEMPLATES / name).read_text(encoding="utf-8")


def service_colour(service: str) -> str:
    if service in SERVICE_COLOURS:
        return SERVICE_COLOURS[service]
    index = int(hashlib.sha256(service.encode("utf-8")).hexdigest(), 16)
    return FALLBACK_COLOURS[index % len(FALLBACK_COLOURS)]


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def to_html(h: History) -> str:
    """A self-contained HTML page: inline CSS, no external resource, readable without JS (a
    few lines of inline JS only add expand/collapse-all buttons and open every block for
    printing). Everything that comes from the log is HTML-escaped; a Content-Security-Policy
    forbids any resource or script but the page's own."""
    script = _template("timeline.js")
    script_hash = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    event_template = Template(_template("event.html"))
    blocks = "\n".join(_event_html(event_template, e) for e in h.events)
    facts = h.facts
    services = sorted({e.service for e in h.events})
    legend = " ".join(
        f'<span class="badge" style="--svc:{service_colour(s)}">{_e(s)}</span>' for s in services)
    if h.events:
        positions = (f"{h.first_position:,}&ndash;{h.last_position:,} "
                     f"(log head {h.log_head:,} when generated)")
    else:
        positions = f"none (log head {h.log_head:,} when generated)"
    money = "&ndash;"
    if facts is not None and (facts.amount_due is not None or facts.amount_paid is not None):
        currency = _e(facts.currency or "")
        money = (f"due {_e(facts.amount_due or '-')} {currency}, paid "
                 f"{_e(facts.amount_paid or '0.00')} {currency}")
    page = Template(_template("timeline.html"))
    return page.substitute(
        title=_e(f"History of {h.mrn or h.consignment_id}"),
        script_hash=script_hash,
        script=script,
        consignment_id=_e(h.consignment_id),
        mrn=_e(h.mrn or "-"),
        status=_e(_status_text(h)),
        status_code=_e(h.status["code"] if h.status else ""),
        as_of=_e("now (all events)" if h.as_of is None else isoformat(h.as_of)),
        lane=_e(facts.lane if facts and facts.lane else "-"),
        money=money,
        released=_e(facts.released_at if facts and facts.released_at else "not released"),
        generated_at=_e(isoformat(h.generated_at)),
        positions=positions,
        count=len(h.events),
        legend=legend or "&ndash;",
        events=blocks or '<p class="empty">No event recorded at that time.</p>',
    )


def _event_html(template: Template, e: HistoryEvent) -> str:
    data = json.dumps(dict(e.data), indent=2, sort_keys=True, ensure_ascii=False)
    return template.substitute(
        position=e.position,
        colour=service_colour(e.service),
        recorded_at=_e(isoformat(e.recorded_at)),
        occurred_at=_e(isoformat(e.occurred_at)),
        service=_e(e.service),
        type=_e(e.type),
        version=e.version,
        stream=_e(e.stream),
        stream_version=e.stream_version,
        actor=_e(e.author_line),
        causation_id=_e(e.causation_id or "-"),
        event_id=_e(e.event_id),
        summary=_e(e.summary),
        previous_hash=_e(e.previous_hash),
        hash=_e(e.hash),
        verified_class="ok" if e.hash_verified else "bad",
        verified=("&#10003; re-computed" if e.hash_verified else "&#10007; does not re-compute"),
        data=_e(data),
    )


def render(h: History, fmt: str) -> str:
    """The history as `text`, `json`, `csv` or `html`."""
    if fmt == "json":
        return json.dumps(to_json(h), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return to_csv(h)
    if fmt == "html":
        return to_html(h)
    if fmt == "text":
        return to_text(h)
    raise ValueError(f"unknown format {fmt!r}")
