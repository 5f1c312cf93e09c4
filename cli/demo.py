"""The sample consignments' journey through the four running services (`make demo`, `make run`).

    python -m cli.demo [--samples samples] [--timeout 120] [--run-id ID]

For each entry of `samples/plan.json`: lodge the document over HTTP (invalid documents must get
a 4xx problem and leave nothing behind), wait for the risk lane and the duty, record the
officer's control result for yellow and red lanes (compliant, or non-compliant with the
plan's outcome: released, released after paying an additional duty, release refused), pay in
full, half or twice the amount due, amend or invalidate where the plan says so, then wait
until the declaration reaches its expected final status. A sample whose plan names an
`account` (a deferment or guarantee account its `payment` block charges) has it opened first
by the operator (an account already open is used as it is). A sample whose plan names an
`agency` is held by that partner agency (status `held_by_agency`): the agency's staff decide
the hold as the plan says (approved or refused). Prints each journey and
exits 0 when every consignment ends as expected, 1 otherwise. Each run suffixes the LRNs with a
run id, so the samples go through afresh every time (the log keeps earlier runs).

Each party acts with a token of its own, signed by the development key (`clearance token`):
the broker lodges and follows its declarations as `declarant`, an officer of the samples'
office records the controls, the customs cashier records the payments, an operator opens the
accounts, and each partner agency's staff decide its holds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.identity.development import default_var, mint

from .http import Reply, call, describe_problem

ROOT = Path(__file__).resolve().parents[1]
SETTLED = {"cleared", "release_refused", "invalidated", "query_raised", "rejected"}
HOLD_SECONDS = 2.0


@dataclass(frozen=True)
class Parties:
    """The demo's identities: one token per party (see the module docstring)."""

    broker: str
    officer: str
    cashier: str
    operator: str
    agencies: Mapping[str, str] = field(default_factory=dict)  # agency code -> its staff's

    @classmethod
    def for_entries(cls, entries: list[Entry], var: Path | None = None) -> Parties:
        """Tokens for the parties of these samples (the first document's declarant, the
        offices of all), signed by the development key under `var` (default: CLEARANCE_VAR)."""
        documents = [e.document for e in entries if e.document is not None]
        var = var or default_var()
        return cls(
            broker=mint(var, roles=["declarant"], sub="broker-demo",
                        eori=str(documents[0]["declarant"]["eori"])),
            officer=mint(var, roles=["officer"], sub="officer-demo",
                         offices=sorted({str(d["office"]) for d in documents})),
            cashier=mint(var, roles=["cashier"], sub="cashier-demo"),
            operator=mint(var, roles=["operator"], sub="operator-demo"),
            agencies={code: mint(var, roles=["agency"], sub=f"{code.lower()}-demo", agency=code)
                      for code in sorted({e.plan["agency"]["code"] for e in entries
                                          if e.plan.get("agency")})})


@dataclass
class Journey:
    file: str
    plan: dict[str, Any]
    mrn: str | None = None
    steps: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    final: str | None = None
    problem: str | None = None
    acted: set[str] = field(default_factory=set)
    holding_since: float | None = None
    paid: Decimal = Decimal(0)  # what the demo's cashier paid so far
    payments: int = 0
    document: dict[str, Any] | None = None  # as lodged (an amendment corrects it)

    def note(self, text: str) -> None:
        self.steps.append(f"{time.monotonic() - self.started:6.2f}s  {text}")

    @property
    def ok(self) -> bool:
        if self.plan.get("invalid"):
            return self.problem is None and self.final == "refused"
        return self.problem is None and self.final == self.plan["final"]


def lodge(journey: Journey, document: dict[str, Any], run_id: str, parties: Parties) -> None:
    document["lrn"] = f"{document['lrn']}-{run_id}" if run_id else document["lrn"]
    reply = call("declaration", "POST", "/declarations", document, token=parties.broker)
    if reply.status not in (200, 201):
        journey.problem = describe_problem(reply)
        return
    journey.mrn = reply.body["mrn"]
    journey.document = document
    journey.note(f"lodged   LRN {document['lrn']} -> MRN {journey.mrn} "
                 f"({reply.body['status']['name']}, HTTP {reply.status})")


def lodge_invalid(journey: Journey, raw: bytes, parties: Parties) -> None:
    reply = call("declaration", "POST", "/declarations", raw=raw, token=parties.broker)
    is_problem = isinstance(reply.body, dict) and {"type", "title", "status"} <= set(reply.body)
    if 400 <= reply.status < 500 and is_problem:
        first = (reply.body.get("errors") or [{"pointer": "", "message": reply.body["detail"]}])[0]
        journey.note(f"refused  HTTP {reply.status}: {first['pointer'] or '/'}: {first['message']}")
        journey.final = "refused"
    else:
        journey.problem = f"expected a 4xx problem, got HTTP {reply.status}: {reply.body}"


def step(journey: Journey, run_id: str, parties: Parties) -> None:
    """Look at the declaration's status once and do what its plan calls for next."""
    reply = call("declaration", "GET", f"/declarations/{journey.mrn}", token=parties.broker)
    if not reply.ok:
        return
    view = reply.body
    status = view["status"]["name"]
    if not journey.statuses or journey.statuses[-1] != status:
        journey.statuses.append(status)
        extra = f", lane {view['lane']}" if view["lane"] else ""
        if view["amount_due"] is not None:
            extra += f", due {view['amount_due']} {view['currency']}, paid {view['amount_paid']}"
        journey.note(f"status   {status} ({view['status']['code']}){extra}")
    plan = journey.plan
    if status in ("documents_required", "examination_intended") and "control" not in journey.acted:
        journey.acted.add("control")
        result = plan.get("control", "compliant")
        body: dict[str, Any] = {"result": result, "findings": [
            {"category": "no_discrepancy", "text": "documents and goods as declared"}]}
        if result == "non_compliant":
            body = {"result": result,
                    "findings": [{"category": "valuation", "text": "invoice value understated"}],
                    "outcome": plan.get("outcome", "release"),
                    "additional_duty": plan.get("additional_duty", "0.00")}
        outcome = f", outcome {body['outcome']}" if "outcome" in body else ""
        check(journey, call("risk", "POST", f"/controls/{journey.mrn}", body,
                            token=parties.officer),
              f"control  {result}{outcome} recorded by officer-demo")
    if status == "held_by_agency" and plan.get("agency") and "agency" not in journey.acted:
        decide_hold(journey, plan["agency"], parties)
    if plan.get("amend") and status == "tax_due" and "amend" not in journey.acted:
        amend(journey, Decimal(plan["amend"]), parties)
    amended = not plan.get("amend") or view["declaration_version"] > 1
    if view["amount_due"] is not None and plan.get("pay") and amended:
        pay(journey, view, status, run_id, parties)
    if plan.get("invalidate") and status == "tax_due" and "invalidate" not in journey.acted:
        journey.acted.add("invalidate")
        check(journey, call("declaration", "POST", f"/declarations/{journey.mrn}/invalidation",
                            {"reason": "lodged in error: the order was cancelled"},
                            token=parties.broker),
              "invalidation requested by broker-demo")
    planned = ({"pay"} if plan.get("pay") else set()) | (
        {"agency"} if plan.get("agency") else set())
    if status in SETTLED:
        journey.final = status
    elif status == plan["final"] and planned <= journey.acted:
        # An unsettled final status (tax due) counts once it has held for a moment.
        journey.holding_since = journey.holding_since or time.monotonic()
        if time.monotonic() - journey.holding_since >= HOLD_SECONDS:
            journey.final = status
    else:
        journey.holding_since = None


def decide_hold(journey: Journey, decision: Mapping[str, str], parties: Parties) -> None:
    """The plan's partner agency decides its hold, as its own staff."""
    journey.acted.add("agency")
    code = decision["code"]
    body = {"decision": decision["decision"], "reference": decision.get("reference", ""),
            "note": decision.get("note", "")}
    check(journey, call("release", "POST", f"/holds/{journey.mrn}/{code}", body,
                        token=parties.agencies[code]),
          f"agency   {code} {decision['decision']} its hold ({body['reference'] or 'no ref'})")


def amend(journey: Journey, factor: Decimal, parties: Parties) -> None:
    """The plan's amendment: the first item's value corrected by `factor`, version 1 amended
    (If-Match), so that a second run of this step could never amend a version unseen."""
    journey.acted.add("amend")
    assert journey.document is not None
    document = json.loads(json.dumps(journey.document))
    item = document["items"][0]
    item["value"] = str((Decimal(item["value"]) * factor).quantize(Decimal("0.01")))
    reply = call("declaration", "POST", f"/declarations/{journey.mrn}/amendments",
                 {"reason": "the supplier's corrected invoice", "document": document},
                 token=parties.broker, headers={"If-Match": '"1"'})
    check(journey, reply, f"amended  item 1 value -> {item['value']} "
                          f"(version {reply.body.get('declaration_version') if reply.ok else '?'})")


def pay(journey: Journey, view: dict[str, Any], status: str, run_id: str,
        parties: Parties) -> None:
    """The plan's payment, once ("full" pays the amount due, "half" half of it, "double"
    twice it); and for "full", the rest when the amount due grew (a control's additional
    duty) once the declaration shows what was paid so far."""
    due, shown_paid = Decimal(view["amount_due"]), Decimal(view["amount_paid"] or "0")
    how = journey.plan["pay"]
    if "pay" not in journey.acted:
        amount = {"full": due, "half": (due / 2).quantize(Decimal("0.01")),
                  "double": due * 2}[how]
    elif how == "full" and status == "tax_due" and shown_paid == journey.paid < due:
        amount = due - journey.paid
    else:
        return
    journey.acted.add("pay")
    suffix = f"-{journey.payments}" if journey.payments else ""
    body = {"mrn": journey.mrn, "reference": f"PAY-{journey.mrn}-{run_id}{suffix}",
            "amount": str(amount), "currency": view["currency"]}
    journey.payments += 1
    journey.paid += amount
    check(journey, call("payment", "POST", "/payments", body, token=parties.cashier),
          f"payment  {amount} {view['currency']} ({how})")


def check(journey: Journey, reply: Reply, text: str) -> None:
    if reply.ok:
        journey.note(f"{text} (HTTP {reply.status})")
    else:
        journey.problem = f"{text}: {describe_problem(reply)}"


@dataclass(frozen=True)
class Entry:
    """One consignment to send: its plan, and the document (or raw bytes for invalid ones)."""

    name: str
    plan: dict[str, Any]
    document: dict[str, Any] | None = None
    raw: bytes | None = None


def load_plan(samples: Path) -> list[Entry]:
    plan = json.loads((samples / "plan.json").read_text())
    entries = []
    for item in plan["samples"]:
        path = samples / item["file"]
        if item.get("invalid"):
            entries.append(Entry(item["file"], item, raw=path.read_bytes()))
        else:
            entries.append(Entry(item["file"], item, document=json.loads(path.read_text())))
    return entries


def run_plan(entries: list[Entry], run_id: str, timeout: float, *, workers: int = 4,
             poll: float = 0.2, parties: Parties | None = None) -> list[Journey]:
    """Send every entry through the running services and follow it to its final state, as
    `parties` (default: minted for the entries)."""
    parties = parties or Parties.for_entries(entries)
    journeys = [Journey(entry.name, entry.plan) for entry in entries]
    open_accounts(entries, journeys, parties)

    def send(pair: tuple[Entry, Journey]) -> None:
        entry, journey = pair
        if journey.problem:  # its account could not be opened
            return
        if entry.plan.get("invalid"):
            assert entry.raw is not None
            lodge_invalid(journey, entry.raw, parties)
        else:
            assert entry.document is not None
            lodge(journey, dict(entry.document), run_id, parties)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(send, zip(entries, journeys, strict=True)))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        open_ = [j for j in journeys if j.mrn and j.final is None and j.problem is None]
        if not open_:
            break
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda j: step(j, run_id, parties), open_))
        time.sleep(poll)
    return journeys


def open_accounts(entries: list[Entry], journeys: list[Journey], parties: Parties) -> None:
    """Open each account the entries' plans name, once (409: open already, used as it is);
    a refusal is the problem of every journey that needs the account."""
    needed: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry.plan.get("account"):
            needed.setdefault(entry.plan["account"]["number"], entry.plan["account"])
    for number, account in needed.items():
        reply = call("payment", "POST", "/accounts", account, token=parties.operator)
        if reply.status not in (201, 409):
            for entry, journey in zip(entries, journeys, strict=True):
                if (entry.plan.get("account") or {}).get("number") == number:
                    journey.problem = f"account {number}: {describe_problem(reply)}"


def report(journeys: list[Journey]) -> int:
    """Print every journey; the number that did not end as planned."""
    failures = 0
    for journey in journeys:
        expected = "refused (4xx)" if journey.plan.get("invalid") else journey.plan["final"]
        mark = "ok  " if journey.ok else "FAIL"
        print(f"\n[{mark}] {journey.file}  expected: {expected}"
              + (f"  MRN {journey.mrn}" if journey.mrn else ""))
        for line in journey.steps:
            print(f"         {line}")
        if journey.problem:
            print(f"         problem: {journey.problem}")
        elif not journey.ok:
            print(f"         ended as: {journey.statuses[-1] if journey.statuses else 'unknown'}")
        failures += 0 if journey.ok else 1
    total = len(journeys)
    print(f"\n{total - failures} of {total} sample consignments ended as expected.")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT / "samples")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--run-id", default=time.strftime("%H%M%S"))
    args = parser.parse_args(argv)
    journeys = run_plan(load_plan(args.samples), args.run_id, args.timeout)
    return 0 if report(journeys) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
