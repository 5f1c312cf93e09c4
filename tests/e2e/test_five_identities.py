"""One consignment driven by five identities (issue 10, "Done when"), on SQLite and on
PostgreSQL: a declarant lodges a yellow-lane declaration, an officer at its office records the
documentary control, a cashier takes the payment, an auditor reads the status, and a partner
agency reads its release on `GET /notifications` (the port authority GBPORT: not in the agency
register, it holds nothing and listens to every release). Then `clearance history --json <MRN>`, run
as a real process on the cluster's store, shows each event's true author: the verified caller
(its `sub`, roles, issuer and token id) for what a person did, `<service>-service` for what a
service decided.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

from shared.identity.development import DEV_ISSUER, mint
from shared.testing.waiting import wait_until

from .conftest import ROOT, Cluster
from .parties import ELSEWHERE, OFFICE, OWN_EORI, sample, send, status_becomes


def test_a_consignment_driven_by_five_identities_has_each_event_by_its_true_author(
        cluster: Cluster) -> None:
    run = uuid.uuid4().hex[:8]
    people: dict[str, dict[str, Any]] = {
        "declarant": {"sub": f"broker-acme-{run}", "roles": ["declarant"], "eori": OWN_EORI},
        "officer": {"sub": f"officer-117-{run}", "roles": ["officer"],
                    "offices": [ELSEWHERE, OFFICE]},
        "cashier": {"sub": f"cashier-desk-3-{run}", "roles": ["cashier"]},
        "auditor": {"sub": f"auditor-{run}", "roles": ["auditor"]},
        "agency": {"sub": f"port-authority-{run}", "roles": ["agency"], "agency": "GBPORT"},
    }
    jti = {name: f"jti-{name}-{run}" for name in people}
    token = {name: mint(cluster.var, token_id=jti[name], **claims)
             for name, claims in people.items()}

    # The declarant lodges (as itself).
    answer = send(cluster, "declaration", "POST", "/declarations", token=token["declarant"],
                  body=sample("04-yellow-compliant.json", f"FIVE-{run}"))
    assert answer.status == 201, str(answer)
    mrn = answer.body["mrn"]
    due = status_becomes(cluster, mrn, "documents_required",
                         token=token["auditor"])["amount_due"]

    # The officer at the office records the documentary check (the officer: the caller).
    answer = send(cluster, "risk", "POST", f"/controls/{mrn}", token=token["officer"],
                  body={"result": "compliant", "findings": "invoice and origin checked"})
    assert answer.status == 201, str(answer)
    assert answer.body["officer"] == people["officer"]["sub"]

    # The cashier takes the payment of the amount due.
    answer = send(cluster, "payment", "POST", "/payments", token=token["cashier"],
                  body={"mrn": mrn, "reference": f"FIVE-PAY-{run}", "amount": due,
                        "currency": "GBP"})
    assert answer.status == 201, str(answer)

    # The auditor reads the status: released.
    released = status_becomes(cluster, mrn, "cleared", token=token["auditor"])
    assert released["released_at"] is not None

    # The agency reads its feed and finds the release.
    def notified() -> dict[str, Any] | None:
        answer = send(cluster, "release", "GET", "/notifications?after=0&limit=10000",
                      token=token["agency"])
        assert answer.status == 200, str(answer)
        return next((n for n in answer.body["notifications"] if n["mrn"] == mrn), None)

    notification = wait_until(notified, timeout=20, interval=0.1,
                              message=f"the agency's notification of {mrn}")
    # ...without the selectivity lane (yellow here): that is customs' risk information.
    assert notification["office"] == OFFICE and notification["schema_version"] == 2
    assert "lane" not in notification

    # The history, as an auditor's command line reads it from the store.
    done = subprocess.run([sys.executable, "-m", "cli.main", "history", "--json", mrn],
                          cwd=ROOT, env={**cluster.env, "EVENT_STORE_URL": cluster.store_url},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    history = json.loads(done.stdout)
    assert history["mrn"] == mrn

    def person(name: str) -> dict[str, Any]:
        return {"sub": people[name]["sub"], "roles": people[name]["roles"], "iss": DEV_ISSUER,
                "jti": jti[name]}

    def service(name: str) -> dict[str, Any]:
        return {"sub": f"{name}-service", "roles": ["service"]}

    expected = {
        "DeclarationReceived": person("declarant"),
        "DeclarationAccepted": service("declaration"),
        "RiskAssessed": service("risk"),
        "ControlOrdered": service("risk"),
        "DutyAssessed": service("payment"),
        "ControlCompleted": person("officer"),
        "PaymentReceived": person("cashier"),
        "GoodsReleased": service("release"),
        "DeclarationCleared": service("release"),
    }
    authors = [(event["type"], event["actor"]) for event in history["events"]]
    assert sorted(t for t, _ in authors) == sorted(expected), authors
    wrong = [(t, actor, expected[t]) for t, actor in authors if actor != expected[t]]
    assert not wrong, "events whose author is not the one who made them happen:\n" + "\n".join(
        f"  {t}: recorded {actor}, expected {want}" for t, actor, want in wrong)
    # The log's order is the story's: lodged, assessed, controlled, paid, released, cleared.
    types = [t for t, _ in authors]
    assert types[0] == "DeclarationReceived" and types[-2:] == ["GoodsReleased",
                                                                 "DeclarationCleared"]
    assert types.index("ControlCompleted") < types.index("PaymentReceived")
    assert all(event["hash_verified"] for event in history["events"])
