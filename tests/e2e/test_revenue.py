"""Revenue through the four real services (issue 13): a declaration charged to a deferment
account or secured by a guarantee is released without waiting for payment; an account short
of balance holds it at `insufficient_balance` (14) with nothing charged, until the limit is
raised; a guarantee's reservation is freed when the debt is paid; an invalidation takes a
deferment charge back. Bad account requests are 4xx problem+json and store nothing."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from .conftest import Cluster
from .parties import (
    OWN_EORI,
    PARTY,
    events_of,
    log_of,
    pay,
    sample,
    send,
    settle,
    status_becomes,
    status_of,
    types_of,
)


def operator(cluster: Cluster, method: str, path: str, body: Any = None) -> Any:
    return send(cluster, "payment", method, path, token=PARTY["operator"].token(cluster),
                body=body)


def open_account(cluster: Cluster, kind: str, limit: str, holder: str = OWN_EORI) -> str:
    number = f"{kind[:3].upper()}{uuid.uuid4().hex[:8].upper()}"
    answer = operator(cluster, "POST", "/accounts",
                      {"number": number, "type": kind, "holder_eori": holder,
                       "limit": limit, "currency": "GBP"})
    assert answer.status == 201, str(answer)
    assert answer.body["available"] == answer.body["limit"]
    return number


def account(cluster: Cluster, number: str, party: str = "declarant") -> dict[str, Any]:
    answer = send(cluster, "payment", "GET", f"/accounts/{number}",
                  token=PARTY[party].token(cluster))
    assert answer.status == 200, str(answer)
    body: dict[str, Any] = answer.body
    return body


def lodge_on(cluster: Cluster, sample_name: str, method: str, number: str) -> str:
    document = {**sample(sample_name), "payment": {"method": method, "account": number}}
    answer = send(cluster, "declaration", "POST", "/declarations",
                  token=PARTY["declarant"].token(cluster), body=document)
    assert answer.status == 201, str(answer)
    return str(answer.body["mrn"])




def test_a_deferment_account_releases_and_clears_without_payment(cluster: Cluster) -> None:
    number = open_account(cluster, "deferment", "100000.00")
    mrn = lodge_on(cluster, "02-green-unpaid.json", "deferment", number)
    view = status_becomes(cluster, mrn, "cleared")
    assert view["amount_paid"] == "0.00" and view["released_at"] is not None
    due = Decimal(view["amount_due"])
    held = account(cluster, number)
    assert Decimal(held["charged"]) == due
    assert Decimal(held["available"]) == Decimal("100000.00") - due
    assert [e["kind"] for e in held["entries"]] == ["charged"]
    assert held["entries"][0]["mrn"] == mrn
    assert "PaymentReceived" not in types_of(cluster, mrn)
    # the period ends: the direct debit collects it, the limit is whole again
    collected = operator(cluster, "POST", f"/accounts/{number}/direct-debit",
                         {"period_end": "2026-11-30"})
    assert collected.status == 200, str(collected)
    assert collected.body["charged"] == "0.00"
    assert collected.body["available"] == collected.body["limit"]
    assert collected.body["entries"][-1]["kind"] == "direct_debit"
    assert Decimal(collected.body["entries"][-1]["amount"]) == due
    assert collected.body["statements"] == [
        {"period_end": "2026-11-30", "amount": f"{due:.2f}", "charges": 1}]


def test_insufficient_balance_waits_then_releases_when_the_limit_is_raised(
        cluster: Cluster) -> None:
    number = open_account(cluster, "deferment", "10.00")
    mrn = lodge_on(cluster, "02-green-unpaid.json", "deferment", number)
    view = status_becomes(cluster, mrn, "insufficient_balance")
    assert view["status"]["code"] == "14" and view["released_at"] is None
    held = account(cluster, number)
    assert held["charged"] == "0.00" and held["available"] == "10.00"  # nothing charged
    assert held["waiting"] == [{"mrn": mrn, "amount": view["amount_due"]}]
    assert "GoodsReleased" not in types_of(cluster, mrn)

    raised = operator(cluster, "POST", f"/accounts/{number}/limit", {"limit": "100000.00"})
    assert raised.status == 200, str(raised)
    assert raised.body["waiting"] == []
    assert Decimal(raised.body["charged"]) == Decimal(view["amount_due"])
    status_becomes(cluster, mrn, "cleared")
    assert types_of(cluster, mrn).count("GoodsReleased") == 1


def test_an_aeo_lodges_a_reduced_security_for_the_same_reference_amount(
        cluster: Cluster) -> None:
    number = f"AEO{uuid.uuid4().hex[:8].upper()}"
    body = {"number": number, "type": "guarantee", "holder_eori": OWN_EORI,
            "limit": "80000.00", "currency": "GBP", "aeo_reduction_pct": 70}
    opened = operator(cluster, "POST", "/accounts", body)
    assert opened.status == 201, str(opened)
    assert opened.body["security_lodged"] == "24000.00"
    assert opened.body["available"] == "80000.00"  # the reference amount
    for bad in ({**body, "aeo_reduction_pct": 30}, {**body, "number": number + "D",
                                                    "type": "deferment"}):
        assert operator(cluster, "POST", "/accounts", bad).status == 422, bad


def test_a_guarantee_releases_and_its_reservation_is_freed_on_payment(cluster: Cluster) -> None:
    number = open_account(cluster, "guarantee", "50000.00")
    mrn = lodge_on(cluster, "02-green-unpaid.json", "guarantee", number)
    view = status_becomes(cluster, mrn, "released")  # secured: released, not cleared
    due = view["amount_due"]
    held = account(cluster, number, "officer_here")
    assert held["reserved"] == due and held["charged"] == "0.00"
    assert Decimal(held["available"]) == Decimal("50000.00") - Decimal(due)

    pay(cluster, mrn, due)
    status_becomes(cluster, mrn, "cleared")
    freed = account(cluster, number)
    assert freed["reserved"] == "0.00" and freed["available"] == "50000.00"
    assert [e["kind"] for e in freed["entries"]] == ["secured", "security_released"]
    assert freed["entries"][-1]["detail"] == "paid"


def test_an_invalidation_takes_a_deferment_charge_back(cluster: Cluster) -> None:
    number = open_account(cluster, "deferment", "100000.00")
    mrn = lodge_on(cluster, "04-yellow-compliant.json", "deferment", number)
    status_becomes(cluster, mrn, "documents_required")
    charged = account(cluster, number)
    assert Decimal(charged["charged"]) > 0  # charged on assessment; released after control
    answer = send(cluster, "declaration", "POST", f"/declarations/{mrn}/invalidation",
                  token=PARTY["declarant"].token(cluster), body={"reason": "sent twice"})
    assert answer.status == 200, str(answer)
    status_becomes(cluster, mrn, "invalidated")
    with log_of(cluster) as store:
        settle(store)
    back = account(cluster, number)
    assert back["charged"] == "0.00" and back["available"] == "100000.00"
    assert [e["kind"] for e in back["entries"]] == ["charged", "charge_cancelled"]


def test_a_declaration_naming_an_account_it_may_not_use_is_422(cluster: Cluster) -> None:
    """Another holder's, unknown, of the other type or closed: refused at lodgement, with
    the pointer, nothing stored; another holder's reads exactly as an unknown one."""
    others = open_account(cluster, "deferment", "100000.00", holder="GB000000000001")
    guarantee = open_account(cluster, "guarantee", "100000.00")
    closed = open_account(cluster, "deferment", "100000.00")
    assert operator(cluster, "POST", f"/accounts/{closed}/closure",
                    {"reason": "mandate cancelled"}).status == 200
    with log_of(cluster) as store:
        before = settle(store)
        answers = {}
        for name, method, number in (("others", "deferment", others),
                                     ("unknown", "deferment", "NOSUCHACCOUNT"),
                                     ("type", "deferment", guarantee),
                                     ("closed", "deferment", closed)):
            document = {**sample("02-green-unpaid.json"),
                        "payment": {"method": method, "account": number}}
            answer = send(cluster, "declaration", "POST", "/declarations",
                          token=PARTY["declarant"].token(cluster), body=document)
            assert answer.status == 422, (name, str(answer))
            assert answer.content_type == "application/problem+json"
            [problem] = answer.body["errors"]
            assert problem["pointer"] == "/payment/account", problem
            answers[name] = problem["message"].replace(number, "N")
        assert answers["others"] == answers["unknown"]
        assert "guarantee account" in answers["type"] and "closed" in answers["closed"]
        assert store.last_position() == before


def test_bad_account_requests_are_4xx_and_store_nothing(cluster: Cluster) -> None:
    number = open_account(cluster, "guarantee", "1000.00")
    good = {"number": "NEW" + uuid.uuid4().hex[:8].upper(), "type": "deferment",
            "holder_eori": OWN_EORI, "limit": "1000.00", "currency": "GBP"}
    with log_of(cluster) as store:
        before = settle(store)
        for body, status in (
            ({**good, "limit": "0"}, 422),
            ({**good, "limit": "-5.00"}, 422),
            ({**good, "currency": "EUR"}, 422),
            ({**good, "type": "credit"}, 422),
            ({**good, "number": number}, 409),  # the number is taken
        ):
            answer = operator(cluster, "POST", "/accounts", body)
            assert answer.status == status, (body, str(answer))
            assert answer.content_type == "application/problem+json"
        for path, body, status in (
            (f"/accounts/{number}/limit", {"limit": "0.00"}, 422),
            ("/accounts/NOSUCHACCOUNT/limit", {"limit": "10.00"}, 404),
            # the account's type forbids it: a conflict with its state (issue 15, the fuzzer)
            (f"/accounts/{number}/direct-debit", {"period_end": "2026-11-30"}, 409),
        ):
            answer = operator(cluster, "POST", path, body)
            assert answer.status == status, (path, str(answer))
        # the cashier may not open one; another holder's account is as if it did not exist
        answer = send(cluster, "payment", "POST", "/accounts", body=good,
                      token=PARTY["cashier"].token(cluster))
        assert answer.status == 403, str(answer)
        other = send(cluster, "payment", "GET", f"/accounts/{number}",
                     token=PARTY["declarant_other"].token(cluster))
        missing = send(cluster, "payment", "GET", "/accounts/NOSUCHACCOUNT",
                       token=PARTY["declarant_other"].token(cluster))
        assert other.status == missing.status == 404
        assert other.body["detail"].replace(number, "X") \
            == missing.body["detail"].replace("NOSUCHACCOUNT", "X")
        assert store.last_position() == before
    # a closed account takes no more charges
    closed = operator(cluster, "POST", f"/accounts/{number}/closure", {"reason": "revoked"})
    assert closed.status == 200 and closed.body["closed"] is True, str(closed)
    again = operator(cluster, "POST", f"/accounts/{number}/limit", {"limit": "5000.00"})
    assert again.status == 409, str(again)


def test_a_low_value_consignment_is_relieved_of_duty_and_vat(cluster: Cluster) -> None:
    answer = send(cluster, "declaration", "POST", "/declarations",
                  token=PARTY["declarant"].token(cluster), body=sample("12-green-low-value.json"))
    assert answer.status == 201, str(answer)
    mrn = answer.body["mrn"]
    view = status_becomes(cluster, mrn, "cleared")  # nothing due: released and cleared
    assert view["amount_due"] == "0.00" and view["amount_paid"] == "0.00"
    consignment = view["consignment_id"]
    with log_of(cluster) as store:
        settle(store)
        [assessed] = [e.payload for e in store.read_correlation(consignment)
                      if e.type == "DutyAssessed"]
    relief = assessed.working["relief"]
    assert relief["applied"] is True and relief["code"] == "GB-LVC-135"
    assert Decimal(relief["intrinsic_value"]) <= Decimal("135.00")
    assert Decimal(relief["duty_relieved"]) + Decimal(relief["vat_relieved"]) > 0
    # the items keep what the tariff says: the relief is visible, not silent
    assert sum(Decimal(i["vat"]) for i in assessed.working["items"]) \
        == Decimal(relief["vat_relieved"])


def repay(cluster: Cluster, mrn: str, amount: str, reference: str) -> Any:
    return send(cluster, "payment", "POST", "/repayments",
                token=PARTY["cashier"].token(cluster),
                body={"mrn": mrn, "reference": reference, "amount": amount, "currency": "GBP"})


def revenue_events(cluster: Cluster, mrn: str, kind: str) -> list[Any]:
    return [e.payload for e in events_of(cluster, mrn) if e.type == kind]


def test_an_additional_debt_from_a_control_is_notified_and_paid(cluster: Cluster) -> None:
    number = open_account(cluster, "guarantee", "100000.00")
    mrn = lodge_on(cluster, "05-red-non-compliant.json", "guarantee", number)
    assessed = status_becomes(cluster, mrn, "examination_intended")["amount_due"]
    answer = send(cluster, "risk", "POST", f"/controls/{mrn}",
                  token=PARTY["officer_here"].token(cluster),
                  body={"result": "non_compliant", "outcome": "release_after_payment",
                        "additional_duty": "150.00",
                        "findings": [{"category": "valuation", "text": "invoice understated"}]})
    assert answer.status == 201, str(answer)
    # the guarantee secures the assessed duty; the additional debt is to be paid
    status_becomes(cluster, mrn, "tax_due")
    [debt] = revenue_events(cluster, mrn, "AdditionalDebtNotified")
    assert debt.amount == Decimal("150.00") and debt.cause == "control_finding"
    assert "105(4)" in debt.legal_basis
    assert (debt.due_date - date.today()).days in (10, 11)  # UCC art. 108(1), from today
    pay(cluster, mrn, "150.00")
    status_becomes(cluster, mrn, "released")  # on the guarantee: not cleared yet
    pay(cluster, mrn, assessed)  # the secured duty, paid after release
    status_becomes(cluster, mrn, "cleared")
    assert account(cluster, number)["reserved"] == "0.00"


def test_an_overpayment_is_decided_repayable_and_repaid(cluster: Cluster) -> None:
    answer = send(cluster, "declaration", "POST", "/declarations",
                  token=PARTY["declarant"].token(cluster), body=sample("02-green-unpaid.json"))
    mrn = answer.body["mrn"]
    due = Decimal(status_becomes(cluster, mrn, "tax_due")["amount_due"])
    pay(cluster, mrn, str(due + Decimal("40.00")))
    status_becomes(cluster, mrn, "cleared")
    [decided] = revenue_events(cluster, mrn, "RepaymentDecided")
    assert decided.amount == Decimal("40.00") and decided.cause == "overpayment"
    assert status_of(cluster, mrn)["amount_repayable"] == "40.00"  # type: ignore[index]
    reference = f"REP-{uuid.uuid4().hex[:8]}"
    too_much = repay(cluster, mrn, "40.01", reference)
    assert too_much.status == 422, str(too_much)
    paid_out = repay(cluster, mrn, "40.00", reference)
    assert paid_out.status == 201 and paid_out.body["still_repayable"] == "0.00", str(paid_out)
    assert repay(cluster, mrn, "40.00", reference).status == 200  # the same repayment again
    assert repay(cluster, mrn, "1.00", f"REP-{uuid.uuid4().hex[:8]}").status == 422
    with log_of(cluster) as store:
        settle(store)
    assert status_of(cluster, mrn)["amount_repayable"] == "0.00"  # type: ignore[index]


def test_what_was_paid_on_an_invalidated_declaration_is_repaid(cluster: Cluster) -> None:
    answer = send(cluster, "declaration", "POST", "/declarations",
                  token=PARTY["declarant"].token(cluster), body=sample("04-yellow-compliant.json"))
    mrn = answer.body["mrn"]
    due = Decimal(status_becomes(cluster, mrn, "documents_required")["amount_due"])
    part = (due / 2).quantize(Decimal("0.01"))
    pay(cluster, mrn, str(part))
    invalidated = send(cluster, "declaration", "POST", f"/declarations/{mrn}/invalidation",
                       token=PARTY["declarant"].token(cluster), body={"reason": "cancelled"})
    assert invalidated.status == 200, str(invalidated)
    [decided] = revenue_events(cluster, mrn, "RepaymentDecided")
    assert decided.amount == part and decided.cause == "invalidation"
    assert repay(cluster, mrn, str(part), f"REP-{uuid.uuid4().hex[:8]}").status == 201
    with log_of(cluster) as store:
        settle(store)
    assert status_of(cluster, mrn)["amount_repayable"] == "0.00"  # type: ignore[index]


def test_a_post_clearance_check_notifies_a_debt_on_released_goods(cluster: Cluster) -> None:
    answer = send(cluster, "declaration", "POST", "/declarations",
                  token=PARTY["declarant"].token(cluster), body=sample("02-green-unpaid.json"))
    mrn = answer.body["mrn"]
    due = status_becomes(cluster, mrn, "tax_due")["amount_due"]
    body = {"mrn": mrn, "amount": "75.00", "finding": "royalties not added to the price"}
    officer = PARTY["officer_here"].token(cluster)
    with log_of(cluster) as store:
        before = settle(store)
        early = send(cluster, "payment", "POST", "/additional-debts", token=officer, body=body)
        assert early.status == 409 and early.body["type"].endswith("/not-released"), str(early)
        for party, status in (("officer_elsewhere", 404), ("declarant", 403),
                              ("cashier", 403)):
            refused = send(cluster, "payment", "POST", "/additional-debts",
                           token=PARTY[party].token(cluster), body=body)
            assert refused.status == status, (party, str(refused))
        zero = send(cluster, "payment", "POST", "/additional-debts", token=officer,
                    body={**body, "amount": "0.00"})
        assert zero.status == 422, str(zero)
        assert store.last_position() == before
    pay(cluster, mrn, due)
    status_becomes(cluster, mrn, "cleared")
    notified = send(cluster, "payment", "POST", "/additional-debts", token=officer, body=body)
    assert notified.status == 201, str(notified)
    assert notified.body["cause"] == "post_clearance_check"
    assert "arts. 48 and 105(4)" in notified.body["legal_basis"]
    assert notified.body["detail"] == body["finding"]
    [debt] = revenue_events(cluster, mrn, "AdditionalDebtNotified")
    assert debt.amount == Decimal("75.00") and (debt.due_date - date.today()).days in (10, 11)
    view = status_of(cluster, mrn)
    assert view is not None and Decimal(view["amount_due"]) == Decimal(due) + 75
    answer = send(cluster, "payment", "POST", "/payments", token=PARTY["cashier"].token(cluster),
                  body={"mrn": mrn, "reference": f"PCC-{uuid.uuid4().hex[:8]}",
                        "amount": "75.00", "currency": "GBP"})
    assert answer.status == 201 and answer.body["balance_due"] == "0.00", str(answer)
    assert revenue_events(cluster, mrn, "RepaymentDecided") == []  # not an overpayment


def test_a_write_off_settles_what_is_left_and_is_posted_as_a_loss(cluster: Cluster) -> None:
    answer = send(cluster, "declaration", "POST", "/declarations",
                  token=PARTY["declarant"].token(cluster), body=sample("02-green-unpaid.json"))
    mrn = answer.body["mrn"]
    due = Decimal(status_becomes(cluster, mrn, "tax_due")["amount_due"])
    pay(cluster, mrn, str(due - Decimal("0.45")))
    status_becomes(cluster, mrn, "tax_due")
    body = {"mrn": mrn, "amount": "0.46", "reason": "below the collection threshold"}
    with log_of(cluster) as store:
        before = settle(store)
        assert operator(cluster, "POST", "/write-offs", body).status == 422  # more than owed
        cashier = send(cluster, "payment", "POST", "/write-offs", body=body,
                       token=PARTY["cashier"].token(cluster))
        assert cashier.status == 403, str(cashier)
        assert store.last_position() == before
    written = operator(cluster, "POST", "/write-offs", {**body, "amount": "0.45"})
    assert written.status == 201 and written.body["still_owed"] == "0.00", str(written)
    view = status_becomes(cluster, mrn, "cleared")  # settled: released and cleared
    assert Decimal(view["amount_paid"]) == due - Decimal("0.45")
    assert view["amount_repayable"] == "0.00"


def test_an_amendment_keeps_the_account_and_a_lower_debt_takes_the_charge_back(
        cluster: Cluster) -> None:
    number = open_account(cluster, "deferment", "100000.00")
    document = {**sample("02-green-unpaid.json"),
                "payment": {"method": "deferment", "account": number}}
    answer = send(cluster, "declaration", "POST", "/declarations",
                  token=PARTY["declarant"].token(cluster), body=document)
    mrn = answer.body["mrn"]
    first = Decimal(status_becomes(cluster, mrn, "cleared")["amount_due"])
    # the payment block cannot change in an amendment
    moved = send(cluster, "declaration", "POST", f"/declarations/{mrn}/amendments",
                 token=PARTY["declarant"].token(cluster),
                 body={"reason": "pay cash", "document": {**document, "payment": {
                     "method": "immediate", "account": None}}})
    assert moved.status in (409, 422), str(moved)
    # after release, a lower debt: the officer grants it; the excess charge is taken back
    lower = {**document, "items": [{**document["items"][0], "value": "7500.00"}]}
    asked = send(cluster, "declaration", "POST", f"/declarations/{mrn}/amendments",
                 token=PARTY["declarant"].token(cluster),
                 body={"reason": "credit note", "document": lower})
    assert asked.status == 202, str(asked)
    granted = send(cluster, "declaration", "POST", f"/declarations/{mrn}/amendments/decision",
                   token=PARTY["officer_here"].token(cluster),
                   body={"decision": "granted", "reason": "credit note checked"})
    assert granted.status == 200, str(granted)
    wait = status_becomes(cluster, mrn, "cleared")
    second = Decimal(wait["amount_due"])
    assert second < first
    with log_of(cluster) as store:
        settle(store)
    held = account(cluster, number)
    assert Decimal(held["charged"]) == second  # the excess taken back before collection
    assert [e["kind"] for e in held["entries"]] == ["charged", "charge_cancelled"]
    assert status_of(cluster, mrn)["amount_repayable"] == "0.00"  # type: ignore[index]
