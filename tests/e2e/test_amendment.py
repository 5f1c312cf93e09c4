"""Amendment (UCC art. 173) through the four real services (issue 12): the declarant sends the
whole corrected document; a new declaration version is accepted under the same MRN, assessed
again by risk and payment, and released on its own decisions: a higher duty is owed before
release, a lower one leaves what was paid beyond it repayable. The release names the version
released. After release, the post-release amendment (art. 173(3)) is applied for and an
officer decides it; its version is cleared in turn. Each refusal is a 409 whose type names
its ground of art. 173; bad input is a 4xx problem; nothing refused is stored; of two
concurrent amendments one wins, the other is 409."""

from __future__ import annotations

import copy
import threading
from decimal import Decimal
from typing import Any

from .conftest import Cluster
from .parties import (
    PARTY,
    events_of,
    log_of,
    pay,
    sample,
    send,
    settle,
    status_becomes,
    status_of,
)

PROBLEMS = "https://open-clearance.org/problems/"


def lodged(cluster: Cluster, name: str) -> tuple[str, dict[str, Any]]:
    document = sample(name)
    answer = send(cluster, "declaration", "POST", "/declarations",
                  token=PARTY["declarant"].token(cluster), body=document)
    assert answer.status == 201, str(answer)
    return str(answer.body["mrn"]), document


def amend(cluster: Cluster, mrn: str, document: Any, reason: Any = "invoice corrected",
          party: str = "declarant", of_version: str | None = None) -> Any:
    return send(cluster, "declaration", "POST", f"/declarations/{mrn}/amendments",
                token=PARTY[party].token(cluster), body={"reason": reason, "document": document},
                headers={} if of_version is None else {"If-Match": of_version})


def with_value(document: dict[str, Any], factor: str) -> dict[str, Any]:
    corrected = copy.deepcopy(document)
    item = corrected["items"][0]
    item["value"] = str((Decimal(item["value"]) * Decimal(factor)).quantize(Decimal("0.01")))
    return corrected




def refused(cluster: Cluster, answer_of: Any, status: int, ground: str | None = None) -> Any:
    """Send a request that must be refused; check it stored nothing."""
    with log_of(cluster) as store:
        before = settle(store)
        answer = answer_of()
        assert answer.status == status, str(answer)
        assert answer.content_type == "application/problem+json", str(answer)
        if ground is not None:
            assert answer.body["type"] == PROBLEMS + ground, answer.body
        assert store.last_position() == before, "a refused request stored something"
    return answer


def test_amended_before_payment_it_is_assessed_again_and_its_version_released(
        cluster: Cluster) -> None:
    mrn, document = lodged(cluster, "02-green-unpaid.json")
    before = status_becomes(cluster, mrn, "tax_due")
    first = Decimal(before["amount_due"])
    assert before["previous_lane"] is None  # not amended
    answer = amend(cluster, mrn, with_value(document, "2"), "invoice was for two lots")
    assert answer.status == 201, str(answer)
    assert answer.body["declaration_version"] == 2
    [change] = answer.body["changes"]
    assert change["pointer"] == "/items/0/value"
    assert Decimal(change["after"]) == 2 * Decimal(change["before"])

    def reassessed() -> dict[str, Any]:
        view = status_becomes(cluster, mrn, "tax_due")
        return view if view["declaration_version"] == 2 else reassessed()

    view = reassessed()
    second = Decimal(view["amount_due"])
    assert second > first  # the higher duty is owed before release
    pay(cluster, mrn, str(first))
    with log_of(cluster) as store:
        settle(store)
    assert status_of(cluster, mrn)["status"]["name"] == "tax_due"  # type: ignore[index]
    pay(cluster, mrn, str(second - first))
    released = status_becomes(cluster, mrn, "cleared")
    assert released["declaration_version"] == 2 and released["amount_repayable"] == "0.00"
    history = events_of(cluster, mrn)
    [goods] = [e.payload for e in history if e.type == "GoodsReleased"]
    assert goods.declaration_version == 2
    assert [e.payload.declaration_version for e in history if e.type == "DutyAssessed"] == [1, 2]
    assert [e.type for e in history if e.stream.startswith("declaration-")] == [
        "DeclarationReceived", "DeclarationAccepted", "DeclarationAmended",
        "DeclarationAccepted"]
    notes = send(cluster, "release", "GET", "/notifications?after=0&limit=1000",
                 token=PARTY["auditor"].token(cluster))
    assert [n["declaration_version"] for n in notes.body["notifications"]
            if n["mrn"] == mrn] == [2]


def test_a_lower_duty_leaves_what_was_paid_beyond_it_repayable(cluster: Cluster) -> None:
    mrn, document = lodged(cluster, "02-green-unpaid.json")
    due = Decimal(status_becomes(cluster, mrn, "tax_due")["amount_due"])
    half = (due / 2).quantize(Decimal("0.01"))
    pay(cluster, mrn, str(half))
    assert amend(cluster, mrn, with_value(document, "0.1")).status == 201
    # A value a tenth of the first is itself a risk (the sample rules send it to yellow): the
    # documentary check of the new version comes first.
    # The officer who checks the documents sees the lane of the version before.
    seen = status_becomes(cluster, mrn, "documents_required",
                          token=PARTY["officer_here"].token(cluster))
    assert seen["lane"] == "yellow" and seen["previous_lane"] == "green"
    result = send(cluster, "risk", "POST", f"/controls/{mrn}",
                  token=PARTY["officer_here"].token(cluster),
                  body={"result": "compliant", "findings": []})
    assert result.status == 201, str(result)
    view = status_becomes(cluster, mrn, "cleared")
    assert view["declaration_version"] == 2
    assert Decimal(view["amount_repayable"]) == half - Decimal(view["amount_due"]) > 0


def test_a_documentary_check_is_ordered_again_for_the_new_version(cluster: Cluster) -> None:
    mrn, document = lodged(cluster, "04-yellow-compliant.json")
    status_becomes(cluster, mrn, "documents_required")
    corrected = copy.deepcopy(document)
    corrected["items"][0]["description"] += " (corrected)"
    assert amend(cluster, mrn, corrected, "description completed").status == 201
    view = status_becomes(cluster, mrn, "documents_required")
    assert view["declaration_version"] == 2 or status_becomes(
        cluster, mrn, "documents_required")["declaration_version"] == 2
    ordered = [e.payload for e in events_of(cluster, mrn) if e.type == "ControlOrdered"]
    assert [o.declaration_version for o in ordered] == [1, 2]
    result = send(cluster, "risk", "POST", f"/controls/{mrn}",
                  token=PARTY["officer_here"].token(cluster),
                  body={"result": "compliant", "findings": []})
    assert result.status == 201, str(result)
    due = status_becomes(cluster, mrn, "tax_due")["amount_due"]
    pay(cluster, mrn, due)
    assert status_becomes(cluster, mrn, "cleared")["declaration_version"] == 2


def test_each_ground_of_art_173_refuses_it(cluster: Cluster) -> None:
    red, red_document = lodged(cluster, "06-red-compliant.json")
    status_becomes(cluster, red, "examination_intended")
    refused(cluster, lambda: amend(cluster, red, with_value(red_document, "2")), 409,
            "examination-notified")

    yellow, yellow_document = lodged(cluster, "04-yellow-compliant.json")
    status_becomes(cluster, yellow, "documents_required")
    found = send(cluster, "risk", "POST", f"/controls/{yellow}",
                 token=PARTY["officer_here"].token(cluster),
                 body={"result": "non_compliant", "outcome": "release",
                       "findings": [{"category": "documents", "text": "invoice unsigned"}]})
    assert found.status == 201, str(found)
    status_becomes(cluster, yellow, "tax_due")
    refused(cluster, lambda: amend(cluster, yellow, with_value(yellow_document, "2")), 409,
            "particulars-incorrect")

    green, green_document = lodged(cluster, "02-green-unpaid.json")
    pay(cluster, green, status_becomes(cluster, green, "tax_due")["amount_due"])
    status_becomes(cluster, green, "cleared")
    # after release only the post-release amendment, on application: one at a time
    assert amend(cluster, green, with_value(green_document, "2")).status == 202
    refused(cluster, lambda: amend(cluster, green, with_value(green_document, "3")), 409,
            "amendment-already-requested")


def decide(cluster: Cluster, mrn: str, decision: str, party: str = "officer_here") -> Any:
    return send(cluster, "declaration", "POST", f"/declarations/{mrn}/amendments/decision",
                token=PARTY[party].token(cluster),
                body={"decision": decision, "reason": f"{decision}: credit note checked"})


def test_after_release_an_officer_decides_the_post_release_amendment(cluster: Cluster) -> None:
    """UCC art. 173(3): the declarant applies (202), an officer of the office decides. Granted,
    version 2 is assessed again: its higher duty is owed (released, 08, until paid), then it
    is cleared (09) in turn; the goods are not released again."""
    mrn, document = lodged(cluster, "02-green-unpaid.json")
    first = status_becomes(cluster, mrn, "tax_due")["amount_due"]
    pay(cluster, mrn, first)
    status_becomes(cluster, mrn, "cleared")
    refused(cluster, lambda: decide(cluster, mrn, "granted"), 409, "no-amendment-request")

    applied = amend(cluster, mrn, with_value(document, "2"), "a second lot was invoiced late")
    assert applied.status == 202, str(applied)
    assert applied.body["amendment"] == "requested" and applied.body["declaration_version"] == 2
    assert status_of(cluster, mrn)["declaration_version"] == 1  # type: ignore[index]
    refused(cluster, lambda: decide(cluster, mrn, "granted", party="officer_elsewhere"), 404)
    granted = decide(cluster, mrn, "granted")
    assert granted.status == 200, str(granted)
    assert granted.body["decision"] == "granted" and granted.body["declaration_version"] == 2

    def owed() -> dict[str, Any]:
        view = status_becomes(cluster, mrn, "released")
        return view if view["declaration_version"] == 2 else owed()

    view = owed()
    assert Decimal(view["amount_due"]) > Decimal(first) == Decimal(view["amount_paid"])
    pay(cluster, mrn, str(Decimal(view["amount_due"]) - Decimal(first)))
    cleared = status_becomes(cluster, mrn, "cleared")
    assert cleared["declaration_version"] == 2 and cleared["amount_repayable"] == "0.00"
    history = events_of(cluster, mrn)
    types = [e.type for e in history]
    assert types.count("GoodsReleased") == 1
    assert [e.payload.declaration_version for e in history
            if e.type == "DeclarationCleared"] == [1, 2]
    assert [e.type for e in history if e.stream.startswith("declaration-")][-4:] == [
        "AmendmentRequested", "AmendmentDecided", "DeclarationAmended", "DeclarationAccepted"]
    amended = next(e for e in history if e.type == "DeclarationAmended")
    assert "declarant" in amended.actor  # the declarant's amendment, the officer permitted it

    other, other_document = lodged(cluster, "02-green-unpaid.json")
    pay(cluster, other, status_becomes(cluster, other, "tax_due")["amount_due"])
    status_becomes(cluster, other, "cleared")
    assert amend(cluster, other, with_value(other_document, "0.5")).status == 202
    answer = decide(cluster, other, "refused")
    assert answer.status == 200 and answer.body["declaration_version"] == 1, str(answer)
    assert answer.body["status"]["name"] == "cleared"


def test_bad_amendments_are_4xx_problems_and_store_nothing(cluster: Cluster) -> None:
    mrn, document = lodged(cluster, "02-green-unpaid.json")
    status_becomes(cluster, mrn, "tax_due")
    for key, value, pointer in (("lrn", "OTHER-LRN-1", "/document/lrn"),
                                ("office", "GBLHR001", "/document/office")):
        answer = refused(cluster, lambda k=key, v=value: amend(cluster, mrn, {**document, k: v}),
                         422)
        assert [e["pointer"] for e in answer.body["errors"]] == [pointer], answer.body
    other_declarant = {**document, "declarant": {**document["declarant"],
                                                 "eori": "GB999999999000"}}
    refused(cluster, lambda: amend(cluster, mrn, other_declarant), 422)
    refused(cluster, lambda: amend(cluster, mrn, copy.deepcopy(document)), 422)  # no change
    floats = with_value(document, "2")
    floats["freight"] = 120.5
    answer = refused(cluster, lambda: amend(cluster, mrn, floats), 422)
    assert answer.body["errors"][0]["pointer"] == "/document/freight"
    refused(cluster, lambda: amend(cluster, mrn, with_value(document, "2"), reason=""), 422)
    refused(cluster, lambda: amend(cluster, mrn, ["not", "an", "object"]), 422)
    refused(cluster, lambda: amend(cluster, mrn, with_value(document, "2"),
                                   party="declarant_other"), 404)
    refused(cluster, lambda: amend(cluster, mrn, with_value(document, "2"),
                                   party="officer_here"), 403)
    assert status_of(cluster, mrn)["declaration_version"] == 1  # type: ignore[index]


def test_of_two_concurrent_amendments_of_one_version_one_wins(cluster: Cluster) -> None:
    """Two brokers amend version 1 at once, each saying so (If-Match: "1"): one is recorded,
    the other refused, 409 when both read version 1 before either wrote, 412 when the loser
    read version 2 already; it never silently amends a version its sender did not see."""
    mrn, document = lodged(cluster, "02-green-unpaid.json")
    status_becomes(cluster, mrn, "tax_due")
    answers: list[Any] = []
    start = threading.Barrier(2)

    def race(factor: str) -> None:
        start.wait()
        answers.append(amend(cluster, mrn, with_value(document, factor), of_version='"1"'))

    threads = [threading.Thread(target=race, args=(f,)) for f in ("2", "3")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a.status for a in answers)
    assert statuses in ([201, 409], [201, 412]), [str(a) for a in answers]
    lost = next(a for a in answers if a.status != 201)
    assert lost.body["type"] == PROBLEMS + (
        "concurrent-update" if lost.status == 409 else "version-mismatch")
    types = [e.type for e in events_of(cluster, mrn)]
    assert types.count("DeclarationAmended") == 1
    # amending the version now current is fine; a malformed If-Match is a 4xx
    assert amend(cluster, mrn, with_value(document, "4"), of_version='"2"').status == 201
    refused(cluster, lambda: amend(cluster, mrn, with_value(document, "5"), of_version="v2"),
            422)
