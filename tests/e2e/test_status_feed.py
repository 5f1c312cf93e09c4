"""The trader's pull feed (`GET /status-notifications`) through the four real services: a
declarant follows its declarations' status changes in log order from a position, as CDS's
pull notifications let a broker's software follow hundreds of declarations with one request
every few seconds. Each party sees only what it may see; bad windows are 400 problems."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .conftest import Cluster
from .parties import PARTY, lodge, send, status_becomes


def feed(cluster: Cluster, party: str, after: int = 0, limit: int = 1000) -> dict[str, Any]:
    answer = send(cluster, "declaration", "GET",
                  f"/status-notifications?after={after}&limit={limit}",
                  token=PARTY[party].token(cluster))
    assert answer.status == 200, str(answer)
    return dict(answer.body)


def followed(cluster: Cluster, party: str, limit: int) -> list[dict[str, Any]]:
    """The whole feed, read `limit` at a time, following `next_after`."""
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        page = feed(cluster, party, after, limit)
        assert len(page["notifications"]) <= limit
        found += page["notifications"]
        if page["next_after"] == after:
            return found
        after = page["next_after"]


def test_a_declarant_follows_its_declaration_from_lodgement_to_release(
        cluster: Cluster) -> None:
    mrn = lodge(cluster, "02-green-unpaid.json")
    due = status_becomes(cluster, mrn, "tax_due")["amount_due"]
    paid = send(cluster, "payment", "POST", "/payments", token=PARTY["cashier"].token(cluster),
                body={"mrn": mrn, "reference": f"FEED-{mrn}", "amount": due,
                      "currency": "GBP"})
    assert paid.status == 201, str(paid)
    status_becomes(cluster, mrn, "cleared")

    mine = [n for n in feed(cluster, "declarant")["notifications"] if n["mrn"] == mrn]
    names = [n["status"]["name"] for n in mine]
    assert names[0] == "accepted" and names[-2:] == ["released", "cleared"], names
    assert "tax_due" in names
    assert [n["status"]["code"] for n in mine][-2:] == ["08", "09"]
    positions = [n["position"] for n in mine]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert {n["declaration_version"] for n in mine} == {1}
    assert all(n["at"] and n["lrn"] for n in mine)

    # the same changes, read one at a time from any position
    assert [n for n in followed(cluster, "declarant", 1) if n["mrn"] == mrn] == mine
    after_accepted = feed(cluster, "declarant", after=positions[0])["notifications"]
    assert [n for n in after_accepted if n["mrn"] == mrn] == mine[1:]

    # the officer at the office and the auditor see them; other parties do not
    for party in ("officer_here", "auditor"):
        assert [n for n in feed(cluster, party)["notifications"] if n["mrn"] == mrn] == mine
    for party in ("declarant_other", "officer_elsewhere", "cashier_other"):
        assert not [n for n in feed(cluster, party)["notifications"] if n["mrn"] == mrn]


def test_a_window_out_of_range_is_a_400_problem_and_no_token_a_401(cluster: Cluster) -> None:
    token = PARTY["declarant"].token(cluster)
    for query in ("after=-1", "after=x", "limit=0", "limit=1001", "limit=1.5", "after=1e3"):
        answer = send(cluster, "declaration", "GET", f"/status-notifications?{query}",
                      token=token)
        assert answer.status == 400, (query, str(answer))
        assert answer.content_type == "application/problem+json"
    answer = send(cluster, "declaration", "GET", "/status-notifications")
    assert answer.status == 401, str(answer)
    for party in ("agency", "operator"):  # neither reads declarations
        answer = send(cluster, "declaration", "GET", "/status-notifications",
                      token=PARTY[party].token(cluster))
        assert answer.status == 403, (party, str(answer))


def test_an_overpayment_is_repayable_and_the_view_names_the_declaration_version(
        cluster: Cluster) -> None:
    mrn = lodge(cluster, "02-green-unpaid.json")
    view = status_becomes(cluster, mrn, "tax_due")
    assert view["declaration_version"] == 1 and view["amount_repayable"] == "0.00"
    over = f"{Decimal(view['amount_due']) + Decimal('5.00'):.2f}"
    paid = send(cluster, "payment", "POST", "/payments", token=PARTY["cashier"].token(cluster),
                body={"mrn": mrn, "reference": f"OVER-{mrn}", "amount": over,
                      "currency": "GBP"})
    assert paid.status == 201, str(paid)
    released = status_becomes(cluster, mrn, "cleared")
    assert released["amount_paid"] == over and released["amount_repayable"] == "5.00"
