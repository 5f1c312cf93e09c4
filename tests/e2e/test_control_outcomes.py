"""What follows a control's result, through the four real services (issue 12): an officer's
non-compliant finding leads somewhere. Release after payment waits for the assessed duty and
the additional duty; `release` releases at once (once paid); `refuse_release` is final: one
ReleaseRefused in the log, status `release_refused` (18), and nothing releases the goods
after it, not even full payment. A result that does not agree with itself is 422, nothing
stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .conftest import Cluster
from .parties import (
    PARTY,
    lodge,
    log_of,
    pay,
    send,
    settle,
    status_becomes,
    status_of,
    types_of,
)

VALUATION = [{"category": "valuation", "text": "invoice understated"}]


def control(cluster: Cluster, mrn: str, body: dict[str, Any]) -> Any:
    return send(cluster, "risk", "POST", f"/controls/{mrn}",
                token=PARTY["officer_here"].token(cluster), body=body)




def test_release_after_payment_waits_for_the_additional_duty(cluster: Cluster) -> None:
    mrn = lodge(cluster, "05-red-non-compliant.json")
    assessed = Decimal(status_becomes(cluster, mrn, "examination_intended")["amount_due"])
    answer = control(cluster, mrn, {"result": "non_compliant", "findings": VALUATION,
                                    "outcome": "release_after_payment",
                                    "additional_duty": "150.00"})
    assert answer.status == 201, str(answer)
    view = status_becomes(cluster, mrn, "tax_due")
    assert Decimal(view["amount_due"]) == assessed + Decimal("150.00")
    assert view["status"]["code"] == "13"

    paid = pay(cluster, mrn, str(assessed))
    assert Decimal(paid["balance_due"]) == Decimal("150.00")
    with log_of(cluster) as store:
        settle(store)
    assert status_of(cluster, mrn)["status"]["name"] == "tax_due"  # type: ignore[index]
    assert "GoodsReleased" not in types_of(cluster, mrn)

    assert pay(cluster, mrn, "150.00")["balance_due"] == "0.00"
    released = status_becomes(cluster, mrn, "cleared")
    assert released["amount_repayable"] == "0.00"
    assert types_of(cluster, mrn).count("GoodsReleased") == 1


def test_a_refused_release_is_final_even_when_paid(cluster: Cluster) -> None:
    mrn = lodge(cluster, "06-red-compliant.json")
    due = status_becomes(cluster, mrn, "examination_intended")["amount_due"]
    answer = control(cluster, mrn, {
        "result": "non_compliant", "outcome": "refuse_release",
        "findings": [{"category": "prohibited_goods", "text": "counterfeit goods"}]})
    assert answer.status == 201, str(answer)
    view = status_becomes(cluster, mrn, "release_refused")
    assert view["status"]["code"] == "18" and view["released_at"] is None
    pay(cluster, mrn, due)
    with log_of(cluster) as store:
        settle(store)
    assert status_of(cluster, mrn)["status"]["name"] == "release_refused"  # type: ignore[index]
    types = types_of(cluster, mrn)
    assert types.count("ReleaseRefused") == 1 and "GoodsReleased" not in types
    # the trader's feed says so too
    feed = send(cluster, "declaration", "GET", "/status-notifications?after=0&limit=1000",
                token=PARTY["declarant"].token(cluster))
    names = [n["status"]["name"] for n in feed.body["notifications"] if n["mrn"] == mrn]
    assert names[-1] == "release_refused", names


def test_an_inconsistent_result_is_422_and_stores_nothing(cluster: Cluster) -> None:
    mrn = lodge(cluster, "04-yellow-compliant.json")
    status_becomes(cluster, mrn, "documents_required")
    with log_of(cluster) as store:
        before = settle(store)
        for body in (
            {"result": "compliant", "findings": VALUATION},
            {"result": "compliant", "outcome": "release"},
            {"result": "non_compliant", "findings": VALUATION},
            {"result": "non_compliant", "findings": VALUATION, "outcome": "release",
             "additional_duty": "5.00"},
            {"result": "non_compliant", "findings": VALUATION,
             "outcome": "release_after_payment"},
            {"result": "non_compliant", "findings": [{"category": "hearsay", "text": "x"}],
             "outcome": "release"},
        ):
            answer = control(cluster, mrn, body)
            assert answer.status == 422, (body, str(answer))
            assert answer.content_type == "application/problem+json"
        assert store.last_position() == before
    # the non-compliant result released at once: the goods follow the normal conditions
    answer = control(cluster, mrn, {"result": "non_compliant", "findings": VALUATION,
                                    "outcome": "release"})
    assert answer.status == 201, str(answer)
    status_becomes(cluster, mrn, "tax_due")
