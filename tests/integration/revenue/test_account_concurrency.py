"""Concurrent charges against one account never overdraw it (issue 13): on the real servers,
writers charge declarations to one deferment account at the same moment, each in its own
transaction, as the payment service's replicas would. The account's row lock decides them one
after the other on the fold of the account's stream: exactly as many are charged as the limit
allows, the rest wait for balance (nothing charged for them), and the fold never goes below
zero. Run on PostgreSQL and on one SQLite file."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

from services.payment.accounting import Accounts, Charge, account_stream, account_work
from services.payment.domain import accounts as domain
from shared.events import payment as p
from shared.events.catalog import registry
from shared.eventstore import EventStore
from shared.identity import Caller

from .driver import CASHIER, Driver

HOLDER = "GB123456789000"
OPERATOR = Caller("ops", frozenset({"operator"}))


def assessed(number: str, amount: str) -> p.DutyAssessed:
    cid = str(uuid.uuid4())
    return p.DutyAssessed(cid, f"26GB{cid[:12].upper()}", "GBP", Decimal(0), Decimal(amount),
                          Decimal(amount), "2026-07", "2026-11", "HALF_UP", {}, 1, "deferment",
                          number)


def test_concurrent_charges_never_overdraw_the_account(store_url: str) -> None:
    store = EventStore(store_url, registry())
    try:
        number = "DANRACE01"
        Accounts(store, {"GBP": 2}, "GBP").open(number, "deferment", HOLDER, Decimal("100.00"),
                                                "GBP", OPERATOR)
        writers = 8
        barrier = threading.Barrier(writers)
        errors: list[BaseException] = []

        def charge() -> None:
            event = registry().new_event(assessed(number, "30.00"), correlation_id="x",
                                         actor="t")
            barrier.wait()
            try:
                with store.transaction() as tx:
                    account_work(tx, [Charge(event, True, HOLDER)])
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=charge) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        history = [e.payload for e in store.read_stream(account_stream(number))]
        account = domain.fold(history)
        assert account is not None
        charged = [e for e in history if isinstance(e, p.DebtCharged)]
        refused = [e for e in history if isinstance(e, p.ChargeRefused)]
        assert len(charged) == 3 and len(refused) == writers - 3
        assert account.charged == Decimal("90.00") and account.available == Decimal("10.00")
        assert all(r.reason == "insufficient_balance" and r.available == Decimal("10.00")
                   for r in refused)
        assert len(account.waiting) == writers - 3
        # each step of the fold stayed within the limit
        running = None
        for payload in history:
            running = domain.apply(running, payload)
            assert running is not None and running.charged <= running.limit
    finally:
        store.close()


def test_concurrent_payments_on_one_declaration_are_all_recorded(store_url: str) -> None:
    """Payments with different references on one declaration at once (as a control's notice
    written meanwhile would move the stream too): each is recorded (the loser of the stream
    version reads the stream again), none is lost, none answers 500."""
    store = EventStore(store_url, registry())
    try:
        driver = Driver(store)
        mrn = driver.lodge("1500.00")
        due = driver.position(0).debt
        part = (due / 4).quantize(Decimal("0.01"))
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def pay(n: int) -> None:
            barrier.wait()
            try:
                driver.payments.pay(mrn, f"CONC-{n}", part, "GBP", CASHIER)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=pay, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        position = driver.position(0)
        assert position.paid == part * 4 and len(position.references) == 4
    finally:
        store.close()
