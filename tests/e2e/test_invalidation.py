"""Invalidation (UCC art. 174) through the four real services (issue 12): before release the
declarant's request invalidates at once (200, status `invalidated`, 10) and nothing releases
the goods after it; after release it is a request (202) an officer of the office decides.
Money paid on an invalidated declaration is repayable, and no payment or control result is
taken on it after. Each refusal is a 409 whose type names its ground; bad input is 4xx;
nothing refused is stored."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from .conftest import Cluster
from .parties import PARTY, lodge, log_of, pay, send, settle, status_becomes, status_of

PROBLEMS = "https://open-clearance.org/problems/"


def invalidate(cluster: Cluster, mrn: str, reason: Any = "lodged in error",
               party: str = "declarant") -> Any:
    return send(cluster, "declaration", "POST", f"/declarations/{mrn}/invalidation",
                token=PARTY[party].token(cluster), body={"reason": reason})


def decide(cluster: Cluster, mrn: str, decision: str, party: str = "officer_here") -> Any:
    return send(cluster, "declaration", "POST", f"/declarations/{mrn}/invalidation/decision",
                token=PARTY[party].token(cluster),
                body={"decision": decision, "reason": f"{decision}: goods re-exported"})



def refused_with(answer: Any, status: int, ground: str | None = None) -> None:
    assert answer.status == status, str(answer)
    assert answer.content_type == "application/problem+json", str(answer)
    if ground is not None:
        assert answer.body["type"] == PROBLEMS + ground, answer.body


def stores_nothing(cluster: Cluster, attempt: Any) -> None:
    with log_of(cluster) as store:
        before = settle(store)
        attempt()
        assert store.last_position() == before, "a refused request stored something"


def test_before_release_invalidated_at_once_and_never_released(cluster: Cluster) -> None:
    mrn = lodge(cluster, "02-green-unpaid.json")
    due = Decimal(status_becomes(cluster, mrn, "tax_due")["amount_due"])
    part = (due / 2).quantize(Decimal("0.01"))
    pay(cluster, mrn, str(part))
    status_becomes(cluster, mrn, "tax_due")
    answer = invalidate(cluster, mrn)
    assert answer.status == 200, str(answer)
    assert answer.body["status"] == {"name": "invalidated", "code": "10"}
    assert answer.body["invalidation"] == "invalidated"
    assert status_of(cluster, mrn)["status"]["code"] == "10"  # type: ignore[index]
    # what was paid is repayable; the rest is no longer taken, and nothing releases the goods
    stores_nothing(cluster, lambda: refused_with(send(
        cluster, "payment", "POST", "/payments", token=PARTY["cashier"].token(cluster),
        body={"mrn": mrn, "reference": f"INV-{uuid.uuid4().hex[:10]}",
              "amount": str(due - part), "currency": "GBP"}), 409, "invalidated"))
    with log_of(cluster) as store:
        settle(store)
        consignment = status_of(cluster, mrn)["consignment_id"]  # type: ignore[index]
        types = [e.type for e in store.read_correlation(consignment)]
    assert "GoodsReleased" not in types and types.count("DeclarationInvalidated") == 1
    view = status_of(cluster, mrn)
    assert view is not None and view["status"]["name"] == "invalidated"
    assert view["amount_repayable"] == view["amount_paid"] == str(part)
    stores_nothing(cluster, lambda: refused_with(invalidate(cluster, mrn), 409,
                                                  "invalidated"))


def test_no_control_result_on_an_invalidated_declaration(cluster: Cluster) -> None:
    mrn = lodge(cluster, "04-yellow-compliant.json")
    status_becomes(cluster, mrn, "documents_required")
    assert invalidate(cluster, mrn).status == 200
    stores_nothing(cluster, lambda: refused_with(send(
        cluster, "risk", "POST", f"/controls/{mrn}", token=PARTY["officer_here"].token(cluster),
        body={"result": "compliant", "findings": []}), 409, "invalidated"))


def test_not_while_a_notified_examination_has_not_taken_place(cluster: Cluster) -> None:
    mrn = lodge(cluster, "06-red-compliant.json")
    status_becomes(cluster, mrn, "examination_intended")
    stores_nothing(cluster, lambda: refused_with(invalidate(cluster, mrn), 409,
                                                  "examination-notified"))
    examined = send(cluster, "risk", "POST", f"/controls/{mrn}",
                    token=PARTY["officer_here"].token(cluster),
                    body={"result": "compliant", "findings": []})
    assert examined.status == 201, str(examined)
    status_becomes(cluster, mrn, "tax_due")
    assert invalidate(cluster, mrn).status == 200


def test_after_release_an_officer_decides_the_request(cluster: Cluster) -> None:
    mrn = lodge(cluster, "02-green-unpaid.json")
    due = status_becomes(cluster, mrn, "tax_due")["amount_due"]
    stores_nothing(cluster, lambda: refused_with(decide(cluster, mrn, "granted"), 409,
                                                  "no-invalidation-request"))
    pay(cluster, mrn, due)
    status_becomes(cluster, mrn, "cleared")

    asked = invalidate(cluster, mrn, "to be re-exported unopened")
    assert asked.status == 202, str(asked)
    assert asked.body["invalidation"] == "requested"
    assert asked.body["status"]["name"] == "cleared"
    stores_nothing(cluster, lambda: refused_with(invalidate(cluster, mrn), 409,
                                                  "invalidation-already-requested"))
    stores_nothing(cluster, lambda: refused_with(
        decide(cluster, mrn, "granted", party="officer_elsewhere"), 404))

    refused = decide(cluster, mrn, "refused")
    assert refused.status == 200, str(refused)
    assert refused.body["decision"] == "refused" and refused.body["status"]["name"] == "cleared"
    assert invalidate(cluster, mrn, "proof of re-export attached").status == 202
    granted = decide(cluster, mrn, "granted")
    assert granted.status == 200, str(granted)
    assert granted.body["status"] == {"name": "invalidated", "code": "10"}
    with log_of(cluster) as store:  # the payment service decides the repayment on hearing it
        settle(store)
        consignment = status_of(cluster, mrn)["consignment_id"]  # type: ignore[index]
        decided = [e.payload for e in store.read_correlation(consignment)
                   if e.type == "RepaymentDecided"]
    assert [(d.amount, d.cause) for d in decided] == [(Decimal(due), "invalidation")]
    view = status_of(cluster, mrn)
    assert view is not None and view["amount_repayable"] == due
    assert view["released_at"] is not None  # the release stays a fact of the log

    feed = send(cluster, "declaration", "GET", "/status-notifications?after=0&limit=1000",
                token=PARTY["declarant"].token(cluster))
    names = [n["status"]["name"] for n in feed.body["notifications"] if n["mrn"] == mrn]
    assert names[-3:] == ["released", "cleared", "invalidated"], names


def test_bad_requests_are_4xx_problems_and_store_nothing(cluster: Cluster) -> None:
    mrn = lodge(cluster, "02-green-unpaid.json")
    status_becomes(cluster, mrn, "tax_due")
    path = f"/declarations/{mrn}/invalidation"
    token = PARTY["declarant"].token(cluster)

    def attempts() -> None:
        for body in ({"reason": ""}, {}, {"reason": "x", "extra": 1}, {"reason": 5}, ["x"],
                     {"reason": "x" * 2001}):
            refused_with(send(cluster, "declaration", "POST", path, token=token, body=body),
                         422)
        refused_with(invalidate(cluster, mrn, party="declarant_other"), 404)
        refused_with(send(cluster, "declaration", "POST", f"{path}/decision",
                          token=PARTY["officer_here"].token(cluster),
                          body={"decision": "maybe", "reason": "x"}), 422)
        for party in ("officer_here", "cashier", "auditor"):  # the declarant's to ask
            refused_with(invalidate(cluster, mrn, party=party), 403)

    stores_nothing(cluster, attempts)
    assert status_of(cluster, mrn)["status"]["name"] == "tax_due"  # type: ignore[index]
