"""`clearance accounts` and its daily export, run as a user runs them (issue 13): the accounts
with their figures, the ledger's balances and its checks; the CSV for finance, one row per
posting of the day and a TOTAL row whose debits equal its credits; usage errors exit 2."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from clirun import clearance

from shared.events.catalog import registry
from shared.eventstore import EventStore
from shared.testing.databases import sqlite_url
from tests.integration.revenue.driver import OPERATOR, Driver


def revenue_store(folder: Path) -> str:
    url = sqlite_url(folder)
    store = EventStore(url, registry())
    try:
        driver = Driver(store)
        driver.open("DAN1", "deferment", "1000.00")
        driver.open("GUA1", "guarantee", "1000.00")
        driver.lodge("1500.00", "deferment", "DAN1")  # charged
        driver.lodge("400.00", "guarantee", "GUA1")  # secured
        driver.lodge("400.00")
        driver.pay(2, "1.25")  # overpaid: a repayment is decided
        driver.repay(2)
        driver.lodge("9000.00", "deferment", "DAN1")  # beyond the limit: waits
        driver.payments.accounts.change_limit("DAN1", Decimal("5000.00"), OPERATOR)
    finally:
        store.close()
    return url


def test_accounts_lists_each_account_and_the_ledger_checks(tmp_path: Path) -> None:
    url = revenue_store(tmp_path)
    run = clearance("accounts", "--json", url=url)
    assert run.code == 0, run.err
    report = json.loads(run.out)
    accounts = {a["number"]: a for a in report["accounts"]}
    assert accounts["DAN1"]["limit"] == "5000.00" and accounts["DAN1"]["waiting"] == 0
    assert Decimal(accounts["DAN1"]["charged"]) > 0
    assert Decimal(accounts["GUA1"]["reserved"]) > 0
    assert report["problems"] == [] and report["entries"] > 0
    assert sum(Decimal(v) for v in report["ledger"].values()) == 0
    assert run.err == ""
    text = clearance("accounts", url=url)
    assert text.code == 0 and "DAN1" in text.out and "the ledger sums to 0" in text.out


def test_the_daily_export_balances(tmp_path: Path) -> None:
    url = revenue_store(tmp_path)
    today = datetime.now(UTC).date().isoformat()
    run = clearance("accounts", "export", "--date", today, url=url)
    assert run.code == 0, run.err
    rows = list(csv.reader(io.StringIO(run.out)))
    assert rows[0][:3] == ["date", "recorded_at", "position"]
    body, total = rows[1:-1], rows[-1]
    assert body and all(row[0] == today for row in body)
    debits = sum(Decimal(row[7]) for row in body)
    credits = sum(Decimal(row[8]) for row in body)
    assert total[0] == "TOTAL" and Decimal(total[7]) == debits == credits == Decimal(total[8])
    kinds = {row[4] for row in body}
    assert {"DutyAssessed", "DebtCharged", "DebtSecured", "PaymentReceived",
            "RepaymentDecided", "RepaymentPaid"} <= kinds
    out = tmp_path / "export.csv"
    saved = clearance("accounts", "export", "--date", today, "--output", str(out), url=url)
    assert saved.code == 0 and out.read_text() == run.out
    assert "debit =" in saved.out
    # another day: the header and a zero total
    empty = clearance("accounts", "export", "--date", "2020-01-01", url=url)
    assert empty.code == 0 and empty.out.splitlines()[-1].startswith("TOTAL")


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    url = revenue_store(tmp_path)
    for args in (["accounts", "export"], ["accounts", "export", "--date", "2026-13-01"],
                 ["accounts", "--date", "2026-12-01"], ["accounts", "import"]):
        run = clearance(*args, url=url)
        assert run.code == 2, (args, run.out, run.err)
        assert run.out == ""
