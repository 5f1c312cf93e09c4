"""Partner agencies through the four real services (issue 14): single-window holds, decisions
and a feed per agency.

The cluster runs with a register of two agencies (AGENCY_REGISTER_FILE): GBFSA regulates
chilled beef (HS 0201) with a 48-hour time limit, GBVET frozen beef (0202) from Argentina or
Brazil with a one-second limit, so its holds go overdue at once. Each party acts with its own
token: the broker lodges, customs' cashier pays, and each agency's staff decide their holds.

Each agency's broker user is made as an operator makes it (`clearance agency add CODE`); the
agency reads its queue `agency.<code>` with plain pika, written from `docs/asyncapi.yaml`
alone: the message `type` property picks the payload schema in the document, which each
body must satisfy.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pika
import pika.exceptions
import pytest
import yaml

from shared.eventstore import EventStore
from shared.testing import rabbit
from shared.testing.databases import owner_url
from shared.testing.waiting import wait_until

from .conftest import ROOT, Cluster, running_cluster
from .parties import (
    PARTY,
    events_of,
    log_of,
    pay,
    send,
    settle,
    status_becomes,
    status_of,
    types_of,
)

REGISTER = """\
version: "e2e-1"
description: Two agencies for the end-to-end tests.
agencies:
  - code: GBFSA
    name: Food Standards Agency (port health)
    interest:
      hs_prefixes: ["0201"]
    time_limit: PT48H
  - code: GBVET
    name: Veterinary border checks (short limit, to go overdue)
    interest:
      hs_prefixes: ["0202"]
      origins: [AR, BR]
    time_limit: PT1S
"""
PHONES = "01-green-paid.json"
BEEF = "14-green-agency-beef.json"


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def cluster(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("register")
    (folder / "agencies.yaml").write_text(REGISTER, encoding="utf-8")
    yield from running_cluster(request, tmp_path_factory,
                               {"AGENCY_REGISTER_FILE": str(folder / "agencies.yaml")})


def staff(cluster: Cluster, agency: str) -> str:
    return cluster.token(["agency"], sub=f"{agency.lower()}-inspector", agency=agency)


def document(*, frozen: bool = False, with_phones: bool = False) -> dict[str, Any]:
    """The beef sample (chilled: GBFSA's; frozen from Brazil: GBVET's), optionally with the
    phones of sample 01 as a first item (nobody's)."""
    beef = json.loads((ROOT / "samples" / BEEF).read_text(encoding="utf-8"))
    beef["lrn"] = f"E2E-AG-{uuid.uuid4().hex[:10].upper()}"
    if frozen:
        item = beef["items"][0]
        item.update(hs_code="0202300000", origin="BR",
                    description="Frozen boneless beef, vacuum packed")
    if with_phones:
        phones = json.loads((ROOT / "samples" / PHONES).read_text(encoding="utf-8"))
        beef["items"].insert(0, copy.deepcopy(phones["items"][0]))
        beef["gross_mass_kg"] = "1306.0"
    return beef


def lodge(cluster: Cluster, body: dict[str, Any]) -> str:
    answer = send(cluster, "declaration", "POST", "/declarations",
                  token=PARTY["declarant"].token(cluster), body=body)
    assert answer.status == 201, str(answer)
    return str(answer.body["mrn"])


def lodge_sample(cluster: Cluster, name: str) -> str:
    body = json.loads((ROOT / "samples" / name).read_text(encoding="utf-8"))
    body["lrn"] = f"E2E-AG-{uuid.uuid4().hex[:10].upper()}"
    return lodge(cluster, body)


def holds(cluster: Cluster, token: str, state: str = "open") -> list[dict[str, Any]]:
    answer = send(cluster, "release", "GET", f"/holds?state={state}", token=token)
    assert answer.status == 200, str(answer)
    found: list[dict[str, Any]] = answer.body["holds"]
    return found


def decide(cluster: Cluster, mrn: str, agency: str, decision: str, *,
           token: str | None = None, note: str = "") -> Any:
    return send(cluster, "release", "POST", f"/holds/{mrn}/{agency}",
                token=token or staff(cluster, agency),
                body={"decision": decision, "reference": f"REF-{mrn[-6:]}", "note": note})


def held(cluster: Cluster, mrn: str) -> dict[str, Any]:
    view = status_becomes(cluster, mrn, "held_by_agency")
    assert view["status"]["code"] == "50"
    return view


# -- held, decided, released ----------------------------------------------------------------
def test_beef_is_held_for_the_food_agency_then_approved_and_released(cluster: Cluster) -> None:
    mrn = lodge(cluster, document(with_phones=True))
    view = held(cluster, mrn)
    paid = pay(cluster, mrn, view["amount_due"])
    assert paid["balance_due"] == "0.00"
    # Paid in full, yet nothing is released before the agency decides.
    time.sleep(1.0)
    assert status_of(cluster, mrn)["status"]["name"] == "held_by_agency"  # type: ignore[index]
    assert "GoodsReleased" not in types_of(cluster, mrn)

    # The agency sees its hold, with the beef only (item 2), nothing of the phones.
    mine = [h for h in holds(cluster, staff(cluster, "GBFSA")) if h["mrn"] == mrn]
    assert len(mine) == 1
    assert [(i["item"], i["hs_code"]) for i in mine[0]["items"]] == [(2, "0201300000")]
    assert "value" not in mine[0]["items"][0]
    assert mine[0]["state"] == "open" and mine[0]["overdue"] is False
    # Another agency does not see it; the officer at the office does.
    assert all(h["mrn"] != mrn for h in holds(cluster, staff(cluster, "GBVET")))
    assert any(h["mrn"] == mrn for h in holds(cluster, PARTY["officer_here"].token(cluster)))
    assert all(h["mrn"] != mrn
               for h in holds(cluster, PARTY["officer_elsewhere"].token(cluster)))

    answer = decide(cluster, mrn, "GBFSA", "approved", note="Health certificate checked.")
    assert answer.status == 200, str(answer)
    assert answer.body["state"] == "approved" and answer.body["reference"] == f"REF-{mrn[-6:]}"
    status_becomes(cluster, mrn, "cleared")

    events = events_of(cluster, mrn)
    kinds = [e.type for e in events]
    assert kinds.count("AgencyHoldPlaced") == 1 and kinds.count("GoodsReleased") == 1
    assert kinds.index("AgencyHoldDecided") < kinds.index("GoodsReleased")
    decided = next(e for e in events if e.type == "AgencyHoldDecided")
    assert json.loads(decided.actor)["sub"] == "gbfsa-inspector"  # the authenticated author
    released = next(e for e in events if e.type == "GoodsReleased")
    assert released.payload.agencies == ["GBFSA"]
    # A decision is final.
    again = decide(cluster, mrn, "GBFSA", "refused")
    assert again.status == 409 and again.headers["content-type"].startswith(
        "application/problem+json"), str(again)


def test_a_hold_refused_by_the_agency_refuses_the_release(cluster: Cluster) -> None:
    mrn = lodge(cluster, document())
    view = held(cluster, mrn)
    pay(cluster, mrn, view["amount_due"])
    answer = decide(cluster, mrn, "GBFSA", "refused",
                    note="No valid health certificate; goods to be destroyed or re-exported.")
    assert answer.status == 200, str(answer)
    assert answer.body["state"] == "refused"
    final = status_becomes(cluster, mrn, "release_refused")
    assert final["status"]["code"] == "18"
    events = events_of(cluster, mrn)
    refused = [e.payload for e in events if e.type == "ReleaseRefused"]
    assert len(refused) == 1
    assert (refused[0].refused_by, refused[0].agency) == ("agency", "GBFSA")
    assert refused[0].reason.startswith("No valid health certificate")  # customs is told why
    assert "GoodsReleased" not in [e.type for e in events]
    assert [h["state"] for h in holds(cluster, staff(cluster, "GBFSA"), "all")
            if h["mrn"] == mrn] == ["refused"]


def test_bad_decisions_are_refused_and_store_nothing(cluster: Cluster) -> None:
    mrn = lodge(cluster, document())
    held(cluster, mrn)
    before = len(events_of(cluster, mrn))
    problems = [
        decide(cluster, mrn, "GBFSA", "maybe"),  # unknown decision
        decide(cluster, mrn, "GBFSA", "approved", token=staff(cluster, "GBVET")),  # not its
        decide(cluster, mrn, "GBVET", "approved"),  # no such hold on this declaration
        decide(cluster, "26GB00000000000AA0", "GBFSA", "approved"),  # no such declaration
        decide(cluster, mrn, "GBFSA", "approved", token=PARTY["officer_here"].token(cluster)),
        send(cluster, "release", "POST", f"/holds/{mrn}/GBFSA", token=staff(cluster, "GBFSA"),
             body={"decision": "approved", "extra": 1}),
        send(cluster, "release", "GET", "/holds?state=sideways",
             token=staff(cluster, "GBFSA")),
    ]
    assert [p.status for p in problems] == [422, 403, 404, 404, 403, 422, 400], [
        str(p) for p in problems]
    for problem in problems:
        assert problem.headers["content-type"].startswith("application/problem+json")
    assert len(events_of(cluster, mrn)) == before
    assert status_of(cluster, mrn)["status"]["name"] == "held_by_agency"  # type: ignore[index]


def test_an_overdue_hold_shows_and_alerts(cluster: Cluster, tmp_path: Path) -> None:
    mrn = lodge(cluster, document(frozen=True))
    held(cluster, mrn)
    officer = PARTY["officer_here"].token(cluster)

    def overdue() -> bool:
        return any(h["mrn"] == mrn and h["overdue"] for h in holds(cluster, officer))

    wait_until(overdue, timeout=15, interval=0.2, message="the GBVET hold to be overdue")
    (hold,) = [h for h in holds(cluster, staff(cluster, "GBVET")) if h["mrn"] == mrn]
    assert hold["agency"] == "GBVET" and hold["placed_at"] < hold["due_at"]

    scraped = send(cluster, "release", "GET", "/metrics").raw.decode()
    values = {line.split("{", 1)[1].split("}", 1)[0]: float(line.rsplit(" ", 1)[1])
              for line in scraped.splitlines()
              if line.startswith("clearance_agency_holds_overdue{")}
    assert values['agency="GBVET"'] >= 1, scraped
    assert values['agency="GBFSA"'] == 0, scraped
    # The alert rule fires on what the service exposes: promtool evaluates it on the scraped
    # figures.
    series = "\n".join(
        f"      - series: 'clearance_agency_holds_overdue{{{labels},instance=\"release\"}}'\n"
        f"        values: '{int(value)}x10'" for labels, value in sorted(values.items()))
    rule = next(r for group in yaml.safe_load(
        (ROOT / "infra" / "prometheus" / "alerts.yml").read_text())["groups"]
        for r in group["rules"] if r.get("alert") == "AgencyHoldOverdue")

    def annotation(text: str, agency: str, value: float) -> str:
        filled = text.replace("{{ $labels.agency }}", agency).replace("{{ $value }}",
                                                                         f"{value:g}")
        return json.dumps(filled)

    expected = "\n".join(
        f"          - exp_labels: {{severity: warning, agency: {agency}}}\n"
        f"            exp_annotations:\n"
        + "".join(f"              {key}: {annotation(text, agency, value)}\n"
                  for key, text in rule["annotations"].items())
        for agency, value in ((labels.split('"')[1], value)
                              for labels, value in sorted(values.items())) if value > 0)
    test = tmp_path / "overdue.test.yml"
    test.write_text(f"""rule_files:
  - {ROOT / "infra" / "prometheus" / "alerts.yml"}
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
{series}
    alert_rule_test:
      - eval_time: 2m
        alertname: AgencyHoldOverdue
        exp_alerts:
{expected}
""")
    checked = subprocess.run(["promtool", "test", "rules", str(test)], capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # Decided late, it is no longer overdue.
    assert decide(cluster, mrn, "GBVET", "approved").status == 200
    assert not overdue()


def test_a_consignment_of_no_agency_interest_is_never_held(cluster: Cluster) -> None:
    mrn = lodge_sample(cluster, PHONES)
    view = status_becomes(cluster, mrn, "tax_due")
    pay(cluster, mrn, view["amount_due"])
    status_becomes(cluster, mrn, "cleared")
    kinds = types_of(cluster, mrn)
    assert "AgencyHoldPlaced" not in kinds and "GoodsHeld" not in kinds
    released = next(e for e in events_of(cluster, mrn) if e.type == "GoodsReleased")
    assert released.payload.agencies == []
    assert all(h["mrn"] != mrn for h in holds(cluster, PARTY["auditor"].token(cluster), "all"))


# -- each agency's own feed -----------------------------------------------------------------
def asyncapi_schemas() -> dict[str, dict[str, Any]]:
    """The payload schema of each message of docs/asyncapi.yaml, by its AMQP `type` (the
    message's `name`), as an agency's developer would read them."""
    document = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    found = {}
    for message in document["components"]["messages"].values():
        payload = message["payload"]
        if "$ref" in payload:
            payload = schemas[payload["$ref"].rsplit("/", 1)[1]]
        found[message["name"]] = payload
    return found


def add_agency(cluster: Cluster, code: str, password_file: Path) -> None:
    added = cluster.run(sys.executable, "-m", "cli.main", "agency", "add", code,
                        "--password-file", str(password_file), timeout=120)
    assert added.returncode == 0, added.stdout + added.stderr


def read_queue(uri: str, queue: str) -> list[tuple[str, dict[str, Any]]]:
    """(type, body) of every message waiting in `queue`, consumed and acknowledged with plain
    pika, as an agency's consumer does."""
    connection = pika.BlockingConnection(pika.URLParameters(uri))
    try:
        channel = connection.channel()
        found = []
        while True:
            method, properties, body = channel.basic_get(queue)
            if method is None:
                return found
            assert properties.delivery_mode == 2 and properties.message_id
            found.append((str(properties.type), json.loads(body)))
            channel.basic_ack(method.delivery_tag)
    finally:
        connection.close()


@pytest.fixture
def agency_users(cluster: Cluster) -> Iterator[dict[str, str]]:
    """GBFSA's and GBVET's broker users (read-only on their queues): code -> AMQP URI."""
    vhost = rabbit.vhost_of(cluster.amqp_uri)
    uris = {}
    with tempfile.TemporaryDirectory() as folder:
        for code in ("GBFSA", "GBVET"):
            password = f"{code.lower()}-{uuid.uuid4().hex[:8]}"
            path = Path(folder) / code
            path.write_text(password + "\n")
            os.chmod(path, 0o600)
            add_agency(cluster, code, path)
            uris[code] = rabbit.amqp_uri(vhost, f"agency-{code.lower()}", password)
    try:
        yield uris
    finally:
        for code in ("GBFSA", "GBVET"):
            cluster.run(sys.executable, "-m", "cli.main", "agency", "remove", code, timeout=120)


def test_each_agency_queue_gets_only_its_own_messages(cluster: Cluster,
                                                      agency_users: dict[str, str]) -> None:
    chilled, frozen, phones = (lodge(cluster, document()), lodge(cluster, document(frozen=True)),
                               lodge_sample(cluster, PHONES))
    for mrn in (chilled, frozen):
        pay(cluster, mrn, held(cluster, mrn)["amount_due"])
    pay(cluster, phones, status_becomes(cluster, phones, "tax_due")["amount_due"])
    assert decide(cluster, chilled, "GBFSA", "approved").status == 200
    assert decide(cluster, frozen, "GBVET", "refused", note="Not from an approved plant").status \
        == 200
    status_becomes(cluster, chilled, "cleared")
    status_becomes(cluster, frozen, "release_refused")
    status_becomes(cluster, phones, "cleared")

    schemas = asyncapi_schemas()
    wanted = {"GBFSA": {("HoldRequest", chilled), ("ReleaseNotification", chilled)},
              "GBVET": {("HoldRequest", frozen), ("ReleaseRefusal", frozen)}}
    received: dict[str, list[tuple[str, dict[str, Any]]]] = {"GBFSA": [], "GBVET": []}

    def arrived() -> bool:
        for code, uri in agency_users.items():
            received[code] += read_queue(uri, f"agency.{code.lower()}")
        return all(wanted[code] <= {(kind, body["mrn"]) for kind, body in received[code]}
                   for code in wanted)

    wait_until(arrived, timeout=30, interval=0.3,
               message=lambda: f"each agency's messages (got {received})")
    held_by = {code: {h["mrn"] for h in holds(cluster, staff(cluster, code), "all")}
               for code in wanted}
    for code, messages in received.items():
        for kind, body in messages:
            jsonschema.validate(body, schemas[kind],
                                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
            # Only its own: consignments it held, its own hold requests.
            assert body["mrn"] in held_by[code], (code, kind, body)
            assert body["mrn"] != phones
            if kind == "HoldRequest":
                assert body["agency"] == code
    assert (("HoldRequest", chilled) not in
            {(kind, body["mrn"]) for kind, body in received["GBVET"]})

    # An agency reads nothing but its own queue.
    connection = pika.BlockingConnection(pika.URLParameters(agency_users["GBFSA"]))
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            connection.channel().basic_get("agency.gbvet")
        assert refused.value.reply_code == 403
    finally:
        connection.close()


def test_the_http_feed_re_reads_an_agency_s_messages_from_a_position(cluster: Cluster) -> None:
    mrn = lodge(cluster, document())
    pay(cluster, mrn, held(cluster, mrn)["amount_due"])
    assert decide(cluster, mrn, "GBFSA", "approved").status == 200
    status_becomes(cluster, mrn, "cleared")

    def feed(token: str, after: int = 0) -> dict[str, Any]:
        answer = send(cluster, "release", "GET", f"/notifications?after={after}", token=token)
        assert answer.status == 200, str(answer)
        return answer.body  # type: ignore[no-any-return]

    fsa, vet = feed(staff(cluster, "GBFSA")), feed(staff(cluster, "GBVET"))
    requests = [m for m in fsa["hold_requests"] if m["mrn"] == mrn]
    releases = [m for m in fsa["notifications"] if m["mrn"] == mrn]
    assert len(requests) == 1 and len(releases) == 1
    assert all(m["agency"] == "GBFSA" for m in fsa["hold_requests"])
    assert all(m["mrn"] != mrn for kind in ("hold_requests", "notifications", "refusals")
               for m in vet[kind])
    schemas = asyncapi_schemas()
    jsonschema.validate(requests[0], schemas["HoldRequest"])
    jsonschema.validate(releases[0], schemas["ReleaseNotification"])

    # From the hold request's position: the release comes again, the request does not.
    later = feed(staff(cluster, "GBFSA"), after=requests[0]["position"])
    assert [m["mrn"] for m in later["hold_requests"]].count(mrn) == 0
    assert [m["notification_id"] for m in later["notifications"] if m["mrn"] == mrn] == [
        releases[0]["notification_id"]]
    assert later["next_after"] >= releases[0]["position"]


def test_the_holds_rebuild_from_the_log_as_they_are(cluster: Cluster) -> None:
    """After every test above: the release service's cases (its own hold facts among them)
    and the holds, rebuilt from the log, equal the live tables row for row."""
    from audit.rebuild import check

    with log_of(cluster) as store:
        settle(store)
    # The rebuild's new tables are made as the schema owner (on PostgreSQL, not the services'
    # role), as `clearance rebuild` makes them.
    owner = cluster.store_url if cluster.store_url.startswith("sqlite") else owner_url(
        cluster.store_url)
    store = EventStore.open_existing(owner)
    try:
        report = check(store)
    finally:
        store.close()
    compared = {c.name: c.identical for c in report.comparisons}
    assert compared["release_holds"] and compared["release_cases"], report.to_json()
    assert report.identical, report.to_json()
