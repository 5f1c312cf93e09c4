"""Use cases of deferment and guarantee accounts: open one, change its limit, close it,
collect a deferment period by direct debit, read it; and, for the other use cases, charge a
declaration's debt to an account, free a guarantee's reservation, and try again the charges
that waited for balance.

Each account is its own stream, `payment-account-<number>`; its balance is the fold of that
stream (`domain/accounts.py`). Every write to an account first locks the account's row in
`payment_accounts` (to the COMMIT), then reads and folds the stream inside the transaction:
concurrent charges on one account are decided one after the other, and the second sees the
first. A group commit may charge several accounts in one transaction: it locks them all at
once, in number order, before any append (the appends take the log-head lock), so two
writers never wait for each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from shared.events import payment as events
from shared.events.catalog import registry
from shared.events.codec import json_value
from shared.events.declaration import DeclarationInvalidated
from shared.events.envelope import (
    NewEvent,
    RecordedEvent,
    actor_text,
    isoformat,
    stream_name,
    utcnow,
)
from shared.events.payment import account_stream
from shared.eventstore import EventStore, KeyTaken, Transaction
from shared.identity import Caller

from .domain import accounts as domain
from .domain import revenue
from .domain.access import may_read_account
from .domain.accounts import Account, AccountType, Refusal
from .projections import ACCOUNTS, lock_accounts, project_accounts

CATEGORY = "payment"
SERVICE_ACTOR = actor_text(Caller.service(CATEGORY).actor())


class NotDeferment(Exception):
    """A direct debit asked of a guarantee account: the account's state forbids it (409)."""


class UnknownAccount(LookupError):
    """No account with this number, or not the caller's: the same words for both."""


def unknown(number: str) -> UnknownAccount:
    return UnknownAccount(f"no account {number} (unknown, or not yours)")


@dataclass(frozen=True)
class Charge:
    """A declaration's assessed debt to charge to (deferment) or secure by (guarantee) the
    account the declaration named: recorded with its DutyAssessed event."""

    assessed: NewEvent  # the DutyAssessed event, appended first
    first: bool  # the declaration's first version (its assessment opens the stream)
    declarant_eori: str


class Accounts:
    def __init__(self, store: EventStore, minor_units: Mapping[str, int],
                 national_currency: str) -> None:
        self.store = store
        self.minor = minor_units
        self.national = national_currency

    # -- the operator's use cases -------------------------------------------------------------
    def open(self, number: str, account_type: str, holder_eori: str, limit: Decimal,
             currency: str, caller: Caller, *, aeo_reduction_pct: int = 0) -> dict[str, Any]:
        if currency != self.national:
            raise domain.AccountError(
                f"accounts are kept in the national currency, {self.national}, not {currency}")
        domain.check_limit(limit, self.minor[currency])
        if aeo_reduction_pct and account_type != AccountType.GUARANTEE.value:
            raise domain.AccountError("an AEO reduction applies to a guarantee's security only")
        event = registry().new_event(
            events.AccountOpened(number, account_type, holder_eori, limit, currency,
                                 aeo_reduction_pct),
            correlation_id=number, actor=actor_text(caller.actor()))
        try:
            with self.store.transaction() as tx:
                project_accounts(tx, [event])  # the number is claimed first
                tx.append(account_stream(number), [event], expected_version=0)
        except KeyTaken:
            raise domain.AccountExists(f"account {number} exists; nothing was recorded") \
                from None
        return self.read(number, caller)

    def change_limit(self, number: str, limit: Decimal, caller: Caller) -> dict[str, Any]:
        """A new limit; the charges waiting for balance are tried again with it."""
        with self.store.transaction() as tx:
            book = self._book(tx, number)
            account = book.account(number)
            domain.check_limit(limit, self.minor[account.currency])
            if account.closed:
                raise domain.AccountClosedError(f"account {number} is closed")
            if limit != account.limit:
                changed = book.record(number, events.AccountLimitChanged(
                    number, limit, account.limit), number, actor=actor_text(caller.actor()))
                settle_waiting(book, number, changed)
            book.flush()
        return self.read(number, caller)

    def close(self, number: str, reason: str, caller: Caller) -> dict[str, Any]:
        with self.store.transaction() as tx:
            book = self._book(tx, number)
            if not book.account(number).closed:
                book.record(number, events.AccountClosed(number, reason), number,
                            actor=actor_text(caller.actor()))
            book.flush()
        return self.read(number, caller)

    def collect(self, number: str, period_end: date, caller: Caller) -> dict[str, Any]:
        """End a deferment period: what was charged in it is collected by direct debit, and
        the charges waiting for balance are tried again."""
        with self.store.transaction() as tx:
            book = self._book(tx, number)
            account = book.account(number)
            if account.account_type is not AccountType.DEFERMENT:
                raise NotDeferment(f"account {number} is a guarantee: nothing is "
                                          "collected from it by direct debit")
            collected = book.record(number, events.DirectDebitCollected(
                number, period_end, account.charged, len(account.uncollected)), number,
                actor=actor_text(caller.actor()))
            settle_waiting(book, number, collected)
            book.flush()
        return self.read(number, caller)

    # -- reads ------------------------------------------------------------------------------
    def read(self, number: str, caller: Caller) -> dict[str, Any]:
        """The account as `GET /accounts/{number}` shows it: limit, charged, reserved,
        available, the charges waiting, and its entries."""
        history = self.store.read_stream(account_stream(number))
        account = domain.fold(e.payload for e in history)
        if account is None or not may_read_account(caller, account.holder_eori):
            raise unknown(number)
        return account_body(account, history, self.minor[account.currency])

    def charged_for(self, number: str | None, consignment_id: str) -> Decimal:
        """What the deferment account `number` holds charged for the declaration (no lock)."""
        if number is None:
            return Decimal(0)
        account = domain.fold(e.payload for e in self.store.read_stream(account_stream(number)))
        return account.charged_for(consignment_id) if account is not None else Decimal(0)

    def _book(self, tx: Transaction, number: str) -> Book:
        book = Book(tx)
        book.lock([number])
        if book.accounts.get(number) is None:
            raise unknown(number)
        return book


class Book:
    """The accounts one transaction writes: their rows locked (to the COMMIT) and their
    streams folded BEFORE anything is appended, the decisions applied to the folds as they
    are taken (a second charge in the same batch sees the first), and every event appended
    at the end (`flush`), in the order recorded. The log-head lock, which every append takes
    to the COMMIT, is taken last: the reads and decisions happen under the accounts' own
    locks only."""

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx
        self.accounts: dict[str, Account | None] = {}
        self.pending: list[tuple[str, NewEvent, int | None]] = []

    def lock(self, numbers: Sequence[str]) -> None:
        """Lock the accounts `numbers` that exist and are not locked yet, in number order,
        and fold their streams (a number no account has folds to None)."""
        wanted = sorted(set(numbers) - set(self.accounts))
        existing = list(ACCOUNTS.select(self.tx, wanted, [])) if wanted else []
        lock_accounts(self.tx, existing)
        for number in wanted:
            history = self.tx.log.read_stream(account_stream(number)) if number in existing \
                else []
            self.accounts[number] = domain.fold(e.payload for e in history)

    def account(self, number: str) -> Account:
        account = self.accounts.get(number)
        assert account is not None, f"account {number} is not locked, or does not exist"
        return account

    def record(self, number: str, payload: Any, correlation_id: str, *,
               cause: str | None = None, actor: str = SERVICE_ACTOR) -> str:
        """Record an event on the account's stream (after what it holds); its id."""
        account = self.account(number)
        event = registry().new_event(payload, correlation_id=correlation_id, actor=actor,
                                     causation_id=cause)
        self.pending.append((account_stream(number), event, account.version))
        self.accounts[number] = domain.apply(account, payload)
        return event.event_id

    def charged_for(self, number: str | None, consignment_id: str) -> Decimal:
        """What the deferment account `number` (locked) holds charged for the declaration,
        collected or not (0 for no account)."""
        account = self.accounts.get(number) if number else None
        return account.charged_for(consignment_id) if account is not None else Decimal(0)

    def uncollected_for(self, number: str | None, consignment_id: str) -> Decimal:
        """Of that, what is not collected yet."""
        account = self.accounts.get(number) if number else None
        return account.uncollected_for(consignment_id) if account is not None else Decimal(0)

    def add(self, stream: str, event: NewEvent, expected_version: int | None) -> None:
        """Append `event` to another stream (a declaration's), in order with the rest."""
        self.pending.append((stream, event, expected_version))

    def flush(self) -> list[RecordedEvent]:
        recorded: list[RecordedEvent] = []
        for stream, event, expected in self.pending:
            recorded += self.tx.append(stream, [event], expected_version=expected)
        self.pending.clear()
        return recorded


def account_body(account: Account, history: Sequence[RecordedEvent],
                 minor_units: int) -> dict[str, Any]:
    """The account's figures as decimal strings in its currency's minor units."""
    unit = Decimal(1).scaleb(-minor_units)

    def money(amount: Decimal) -> str:
        return str(json_value(amount.quantize(unit)))

    entries = [domain.entry(e.position, isoformat(e.recorded_at), e.payload) for e in history]
    return {
        "number": account.number, "type": account.account_type.value,
        "holder_eori": account.holder_eori, "currency": account.currency,
        "closed": account.closed, "limit": money(account.limit),
        "charged": money(account.charged), "reserved": money(account.reserved_total),
        "available": money(account.available),
        "waiting": [{"mrn": w.mrn, "amount": money(w.amount)} for w in account.waiting],
        "statements": [{"period_end": st.period_end.isoformat(), "amount": money(st.amount),
                        "charges": st.charges} for st in account.statements],
        "aeo_reduction_pct": account.aeo_reduction_pct,
        "security_lodged": money(account.security_lodged),
        "entries": [{"position": x.position, "at": x.at, "kind": x.kind,
                     "amount": money(x.amount), "mrn": x.mrn, "detail": x.detail}
                    for x in entries if x is not None],
    }


# -- charging, called inside other use cases' transactions --------------------------------------


@dataclass(frozen=True)
class Invalidation:
    """A declaration invalidated (UCC art. 174), heard by the payment service."""

    consignment_id: str
    event_id: str


def account_work(tx: Transaction, items: list[Charge | Invalidation]) -> None:
    """The account work of a group commit's batch, in one call (the `Together` write of the
    assessment and invalidation handlers): every account any item touches is locked, in
    number order, before anything is appended, and everything is appended at the end."""
    book = Book(tx)
    assessments = {i.consignment_id: _assessment(tx, i.consignment_id) for i in items
                   if isinstance(i, Invalidation)}
    book.lock([*(i.assessed.payload.account for i in items
                 if isinstance(i, Charge) and i.assessed.payload.account),
               *(a.account for a in assessments.values() if a is not None and a.account)])
    for item in items:
        if isinstance(item, Charge):
            _assessed(book, item)
        elif assessments[item.consignment_id] is not None:  # else nothing was due or paid
            _invalidated_item(book, item)
    book.flush()


def _assessed(book: Book, charge: Charge) -> None:
    """Record an assessment with what follows from it: its debt charged to (or secured by)
    the declaration's account; for an amended version, the additional debt notified, or the
    excess taken back (a charge not collected yet, a reservation) and repaid."""
    assessed: events.DutyAssessed = charge.assessed.payload
    cid, cause = assessed.consignment_id, charge.assessed.event_id
    stream = stream_name(CATEGORY, cid)
    book.add(stream, charge.assessed, 0 if charge.first else None)
    if charge.first:
        if assessed.account is not None:
            _charge(book, assessed, charge.declarant_eori, assessed.amount_due, cause=cause)
        return
    position = revenue.fold([*(e.payload for e in book.tx.log.read_stream(stream)), assessed])
    notice = revenue.amendment_debt(position, cid, utcnow().date())
    if notice is not None:
        book.add(stream, service_event(notice, cid, cause), None)
    number = assessed.account
    charged = book.charged_for(number, cid)
    if number is not None and position.balance(charged) > 0:
        _charge(book, assessed, charge.declarant_eori, position.balance(), cause=cause)
        return
    if number is not None:
        _take_back(book, number, assessed, position, cause)
        charged = book.charged_for(number, cid)
    decided = revenue.repayment(position, cid, "amendment", charged,
                                charged - book.uncollected_for(number, cid))
    if decided is not None:
        book.add(stream, service_event(decided, cid, cause), None)


def _take_back(book: Book, number: str, assessed: events.DutyAssessed,
               position: revenue.Position, cause: str) -> None:
    """An amended version owes less than the account holds for it: the excess of a
    guarantee's reservation is freed, and of a deferment charge not collected yet taken
    back (what was collected is repaid)."""
    account = book.accounts.get(number)
    if account is None:
        return
    cid = assessed.consignment_id
    unpaid = position.outstanding()  # what the reservation still has to secure
    excess_security = account.secured_for(cid) - unpaid
    if excess_security > 0:
        book.record(number, events.SecurityReleased(number, cid, assessed.mrn, excess_security,
                                                    "amendment"), cid, cause=cause)
    excess_charge = min(-position.balance(account.charged_for(cid)),
                        account.uncollected_for(cid))
    if excess_charge > 0:
        book.record(number, events.ChargeCancelled(number, cid, assessed.mrn, excess_charge,
                                                   "amendment"), cid, cause=cause)


def _charge(book: Book, assessed: events.DutyAssessed, declarant_eori: str,
            owed: Decimal, *, cause: str | None) -> None:
    """Charge (or secure) on `assessed`'s account (locked in `book`) what is `owed` and not
    charged or secured yet, or record why not: on the account when it waits for balance,
    otherwise on the declaration's stream."""
    number = assessed.account
    assert number is not None
    account = book.accounts.get(number)
    cid, mrn, version = assessed.consignment_id, assessed.mrn, assessed.declaration_version
    outstanding = owed
    if account is not None:  # only what the account does not hold for it yet
        outstanding -= account.charged_for(cid) + account.secured_for(cid)
    if outstanding <= 0 or _invalidated(book.tx, cid):
        return
    refusal = domain.charge_refusal(account, method=assessed.payment_method,
                                    declarant_eori=declarant_eori,
                                    currency=assessed.currency, amount=outstanding)
    payload: Any
    if refusal is None:
        kind = (events.DebtCharged if assessed.payment_method == "deferment"
                else events.DebtSecured)
        payload = kind(number, cid, mrn, version, outstanding, assessed.currency)
    else:
        payload = events.ChargeRefused(
            number, cid, mrn, version, assessed.payment_method, outstanding,
            account.available if account is not None else Decimal(0), refusal.value)
        if account is None or not refusal.waits:
            book.add(stream_name(CATEGORY, cid), service_event(payload, cid, cause), None)
            return
    book.record(number, payload, cid, cause=cause)


def settle_waiting(book: Book, number: str, cause: str | None) -> None:
    """Try again, in the order they were refused, the charges waiting on account `number`
    (locked in `book`) after the event `cause` made room: each that the account now allows
    is charged; one whose debt was settled another way meanwhile (paid, written off), or
    whose declaration was invalidated or now names another account, is left."""
    for waiting in book.account(number).waiting:
        account = book.account(number)
        cid = waiting.consignment_id
        payloads = [e.payload for e in book.tx.log.read_stream(stream_name(CATEGORY, cid))]
        assessed = _latest(payloads)
        if assessed is None or assessed.account != number:
            continue
        owed = revenue.fold(payloads).balance()  # before what the account holds
        net = owed - account.charged_for(cid) - account.secured_for(cid)
        if 0 < net <= account.available:
            _charge(book, assessed, account.holder_eori, owed, cause=cause)


def free_security(book: Book, consignment_id: str, *, cause: str,
                  caused_by: str | None = None) -> None:
    """After the debt of a declaration secured by a guarantee was paid (`cause` "paid") or
    the declaration invalidated ("invalidated"): free the reservation; on invalidation, take
    back a deferment charge not collected yet. Then try the charges waiting on the account."""
    assessed = _assessment(book.tx, consignment_id)
    if assessed is None or assessed.account is None:
        return
    number = assessed.account
    book.lock([number])  # before anything is appended: `flush` comes last
    account = book.accounts.get(number)
    if account is None:
        return
    payload: Any = None
    if account.secured_for(consignment_id) > 0:
        payload = events.SecurityReleased(number, consignment_id, assessed.mrn,
                                          account.secured_for(consignment_id), cause)
    elif cause == "invalidated" and account.uncollected_for(consignment_id) > 0:
        payload = events.ChargeCancelled(number, consignment_id, assessed.mrn,
                                         account.uncollected_for(consignment_id), cause)
    if payload is not None:
        freed = book.record(number, payload, consignment_id, cause=caused_by)
        settle_waiting(book, number, freed)


def _invalidated_item(book: Book, item: Invalidation) -> None:
    """An invalidated declaration: its guarantee's reservation freed or its deferment charge
    not collected yet taken back (`free_security`), and all the money customs holds for it
    (paid, or collected by direct debit) decided repayable (UCC art. 117)."""
    cid = item.consignment_id
    free_security(book, cid, cause="invalidated", caused_by=item.event_id)
    stream = stream_name(CATEGORY, cid)
    payloads = [e.payload for e in book.tx.log.read_stream(stream)]
    latest = _latest(payloads)
    number = latest.account if latest is not None else None
    charged = book.charged_for(number, cid)
    decided = revenue.repayment(revenue.fold(payloads, invalidated=True), cid, "invalidation",
                                charged, charged - book.uncollected_for(number, cid))
    if decided is not None:
        book.add(stream, service_event(decided, cid, item.event_id), None)


def service_event(payload: Any, consignment_id: str, cause: str | None) -> NewEvent:
    """An event of the payment service's own decision about a declaration."""
    return registry().new_event(payload, correlation_id=consignment_id, actor=SERVICE_ACTOR,
                                causation_id=cause)


def _assessment(tx: Transaction, consignment_id: str) -> events.DutyAssessed | None:
    """The latest DutyAssessed of the declaration (the version in force)."""
    return _latest(e.payload for e in tx.log.read_stream(stream_name(CATEGORY,
                                                                     consignment_id)))


def _latest(payloads: Iterable[Any]) -> events.DutyAssessed | None:
    found = [p for p in payloads if isinstance(p, events.DutyAssessed)]
    return max(found, key=lambda a: a.declaration_version, default=None)


def _invalidated(tx: Transaction, consignment_id: str) -> bool:
    return bool(tx.log.of_types_in_streams((DeclarationInvalidated.TYPE,),
                                           [stream_name("declaration", consignment_id)]))


__all__ = ["Accounts", "Book", "Charge", "Invalidation", "Refusal", "UnknownAccount",
           "account_stream", "account_work", "free_security", "service_event",
           "settle_waiting"]
