"""Use cases of the payment service: assess duty on acceptance, receive payments.

The assessment is pure (`domain/duty.py`): this layer turns the DeclarationAccepted document
into its inputs and records the result with every term of the working in DutyAssessed, on
`payment-<consignment id>`. The ledger of a declaration is folded from that stream. A payment
reference is unique across all declarations (`payment_references`, claimed in the same
transaction as the PaymentReceived event): the same reference with the same body answers the
original result again; with another body it is a conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from shared.events import payment as events
from shared.events.catalog import registry
from shared.events.codec import json_value
from shared.events.declaration import DeclarationAccepted, DeclarationInvalidated
from shared.events.envelope import NewEvent, RecordedEvent, actor_text, stream_name, utcnow
from shared.events.release import GoodsReleased
from shared.events.risk import ControlCompleted
from shared.eventstore import EventStore, KeyTaken, Transaction, WrongExpectedVersion
from shared.identity import Caller
from shared.messaging.writes import AnyWrite, Append, Together
from shared.reference import ReferenceData
from shared.reference.documents import PROOF_OF_ORIGIN_TYPES

from .accounting import (
    Accounts,
    Book,
    Charge,
    Invalidation,
    account_work,
    free_security,
    service_event,
)
from .domain import revenue
from .domain.access import may_check, may_pay
from .domain.duty import (
    DutyDeclaration,
    DutyItem,
    PreferenceClaim,
    assess,
    assessment_to_dict,
    decimal_places,
)
from .domain.errors import InvalidPaymentAmount, PaymentReferenceConflict
from .domain.ledger import Ledger, Payment, PaymentOutcome, check_reference
from .domain.revenue import WriteOffRefused
from .projections import CASES, REFERENCES, project_cases, project_references

CATEGORY = "payment"
SERVICE_ACTOR = actor_text(Caller.service(CATEGORY).actor())



def unknown(mrn: str) -> str:
    """The one answer for a declaration that is unknown or not the caller's: the same words,
    so that an MRN cannot be probed."""
    return f"no duty assessment for MRN {mrn} (unknown, or not assessed yet)"


class UnknownDeclaration(LookupError):
    """No assessed declaration with this MRN."""


# Tries of a write to a declaration's payment stream that another write (a payment, the
# payment service's own notice) may have moved meanwhile: each reads the stream again.
ATTEMPTS = 5


class NotAssessedYet(Exception):
    """A fact about a declaration whose duty assessment is not recorded yet (retried)."""


class NotReleased(Exception):
    """A post-clearance debt on goods not released yet."""


class ConcurrentUpdate(Exception):
    """The declaration's payment stream kept moving under a request: nothing was recorded."""


class NotCustoms(PermissionError):
    """A trader's cashier asked for what only customs' own cashiers do."""


class InvalidatedDeclaration(Exception):
    """The declaration was invalidated (UCC art. 174): nothing is due on it any more, and no
    payment is taken (what was paid before is repayable)."""


@dataclass(frozen=True)
class PaymentResult:
    created: bool
    body: dict[str, Any]


def duty_declaration(document: Mapping[str, Any]) -> DutyDeclaration:
    items = []
    for item in document["items"]:
        claim = None
        if item.get("preference"):
            proof = next((d.get("reference") for d in item.get("documents") or []
                          if str(d.get("type", "")).upper() in PROOF_OF_ORIGIN_TYPES), None)
            claim = PreferenceClaim(scheme=str(item["preference"]), proof_document=proof)
        items.append(DutyItem(
            hs_code=item["hs_code"], origin=item["origin"], quantity=Decimal(item["quantity"]),
            unit=item["unit"], net_mass_kg=Decimal(item["net_mass_kg"]),
            value=Decimal(item["value"]), preference=claim))
    return DutyDeclaration(currency=document["currency"], incoterm=document["incoterm"],
                           freight=Decimal(document.get("freight") or "0"),
                           insurance=Decimal(document.get("insurance") or "0"),
                           items=tuple(items))


def payment_method(document: Mapping[str, Any]) -> tuple[str, str | None]:
    """How the declaration says its debt is settled: (method, account); immediate (paid at
    once, no account) when it says nothing."""
    block = document.get("payment") or {}
    return str(block.get("method") or "immediate"), block.get("account")


class Payments:
    def __init__(self, store: EventStore, reference: ReferenceData) -> None:
        self.store = store
        self.reference = reference
        self.accounts = Accounts(store, reference.currencies, reference.rates.national_currency)

    def assessment(self, accepted: DeclarationAccepted, cause: RecordedEvent) -> list[AnyWrite]:
        """Assess the duty of an accepted declaration: the writes that record it (computed
        outside any transaction; the consumer commits them with its inbox record)."""
        assessment = assess(duty_declaration(accepted.document), accepted.acceptance_date,
                            self.reference.tariff, self.reference.rates,
                            minor_units=self.reference.currencies,
                            reliefs=self.reference.reliefs)
        method, account = payment_method(accepted.document)
        event = registry().new_event(
            events.DutyAssessed(
                consignment_id=accepted.consignment_id, mrn=accepted.mrn,
                currency=assessment.national_currency, duty_total=assessment.total_duty,
                vat_total=assessment.total_vat, amount_due=assessment.total_due,
                tariff_version=assessment.tariff_version,
                rates_version=assessment.rates_version, rounding=assessment.rounding_rule,
                working=assessment_to_dict(assessment),
                declaration_version=accepted.declaration_version,
                payment_method=method, account=account),
            correlation_id=accepted.consignment_id, actor=SERVICE_ACTOR,
            causation_id=cause.event_id)
        # The first version opens the stream (a redelivery finds it taken); an amendment's
        # assessment is kept once by the consumer's inbox, in the same transaction. Its
        # amount due replaces the earlier one: more is an additional debt, less repayable.
        first = accepted.declaration_version == 1
        if account is not None or not first:  # with what follows: a charge, a new debt...
            return [Together(_project_cases, event),
                    Together(account_work, Charge(event, first, accepted.declarant_eori))]
        return [Together(_project_cases, event),
                Append(stream_name(CATEGORY, accepted.consignment_id), [event],
                       expected_version=0 if first else None)]

    def pay(self, mrn: str, reference: str, amount: Decimal, currency: str,
            caller: Caller) -> PaymentResult:
        """Record a payment by `caller` (idempotent on its reference)."""
        consignment_id = self._consignment(mrn)
        # The declarant matters only to a trader's cashier (a customs cashier pays any).
        declarant = self._declarant(consignment_id) if caller.eori is not None else None
        if not may_pay(caller, declarant):
            raise UnknownDeclaration(unknown(mrn))  # as if there were none
        payment = Payment(mrn, reference, amount, currency)
        stream = stream_name(CATEGORY, consignment_id)
        for _attempt in range(ATTEMPTS):
            earlier = self._earlier(reference)
            if earlier is not None:
                check_reference(earlier[0], payment)  # raises PaymentReferenceConflict
                return PaymentResult(False, earlier[1])
            history = self.store.read_stream(stream)
            ledger = fold_ledger(mrn, history, self.reference.currencies)
            position = revenue.fold(e.payload for e in history)
            additional = self._additional_duty(consignment_id, mrn, position.version)
            position = replace(position, additional=additional)
            # What is owed besides the assessment: a control's additional duty, a check's
            # debt, money repaid already; less what was written off (never below nothing).
            ledger = ledger.with_amount_due(max(
                ledger.amount_due + additional + position.checked + position.repaid
                - position.written_off, Decimal(0)))
            outcome, after = ledger.receive(payment)
            if outcome is not PaymentOutcome.RECORDED:
                continue  # the same reference recorded since the check above: a repeat
            balance = after.balance
            event = registry().new_event(
                events.PaymentReceived(consignment_id, mrn, reference, amount, currency,
                                       balance.balance_due, balance.credit),
                correlation_id=consignment_id, actor=actor_text(caller.actor()))
            method, account = account_of(history)
            # Paid beyond the debt: a repayment is decided with the payment.
            position = revenue.apply(position, event.payload)
            try:
                with self.store.transaction() as tx:
                    # The reference is claimed and the account's row locked first: the
                    # appends (`flush`) take the log-head lock, held to the COMMIT, so they
                    # come last.
                    project_references(tx, [event])
                    book = Book(tx)
                    if account is not None:
                        book.lock([account])  # a guarantee to free, a charge to count
                    book.add(stream, event, len(history))
                    if method == "guarantee" and balance.settled:  # the reservation is freed
                        free_security(book, consignment_id, cause="paid",
                                      caused_by=event.event_id)
                    charged = book.charged_for(account, consignment_id)
                    decided = revenue.repayment(
                        position, consignment_id, "overpayment", charged,
                        charged - book.uncollected_for(account, consignment_id))
                    if decided is not None:
                        book.add(stream, service_event(decided, consignment_id,
                                                       event.event_id), None)
                    recorded = book.flush()
            except KeyTaken:
                continue  # the same reference was recorded concurrently: answer as a repeat
            except WrongExpectedVersion:
                continue  # another write to the declaration's stream (a payment, a notice)
            return PaymentResult(True, payment_body(recorded[0]))
        raise ConcurrentUpdate(f"{mrn} kept changing while the payment was recorded; "
                               "nothing was recorded, send it again")

    def invalidated(self, invalidated: DeclarationInvalidated,
                    cause: RecordedEvent) -> list[AnyWrite]:
        """A declaration was invalidated: free its guarantee's reservation, or take back its
        deferment charge, and decide what was paid repayable (the debt is extinguished, UCC
        art. 117)."""
        return [Together(account_work, Invalidation(invalidated.consignment_id, cause.event_id))]

    def control_finding(self, completed: ControlCompleted,
                        cause: RecordedEvent) -> list[AnyWrite]:
        """A control's release after payment of an additional duty: the additional debt is
        notified, with its legal basis and due date (the release service waits for it from
        the control itself; `pay` reads it from the risk stream, so nothing waits for this
        notice)."""
        if completed.outcome != "release_after_payment" or completed.additional_duty <= 0:
            return []
        stream = stream_name(CATEGORY, completed.consignment_id)
        if not any(isinstance(e.payload, events.DutyAssessed)
                   for e in self.store.read_stream(stream)):
            # The declaration's assessment opens its payment stream: the notice follows it
            # (retried with the consumer's delays until the assessment is recorded).
            raise NotAssessedYet(f"{completed.mrn}: the control's debt waits for the duty "
                                 "assessment")
        detail = "; ".join(f"{f.get('category')}: {f.get('text')}" for f in completed.findings)
        debt = revenue.notified_debt(
            completed.consignment_id, completed.mrn, completed.declaration_version,
            self.reference.rates.national_currency, cause="control_finding",
            amount=completed.additional_duty, detail=detail, notified_on=utcnow().date())
        return [Append(stream, [service_event(debt, completed.consignment_id, cause.event_id)],
                       None)]

    def notify_debt(self, mrn: str, amount: Decimal, finding: str,
                    caller: Caller) -> dict[str, Any]:
        """An officer's post-clearance check (UCC art. 48) found a debt above the one entered
        on released goods: notified with its legal basis and due date; it is paid as any
        debt of the declaration (`pay`)."""
        consignment_id = self._consignment(mrn)
        accepted = self._accepted(consignment_id)
        if not may_check(caller, accepted.office):
            raise UnknownDeclaration(unknown(mrn))  # as if there were none
        if amount <= 0 or decimal_places(amount) > self.reference.currencies[
                self.reference.rates.national_currency]:
            raise InvalidPaymentAmount(amount, "a debt is a positive amount in minor units")
        found = self.store.of_types_in_streams(
            (GoodsReleased.TYPE, DeclarationInvalidated.TYPE),
            [stream_name("release", consignment_id), stream_name("declaration", consignment_id)])
        if any(isinstance(e.payload, DeclarationInvalidated) for e in found):
            raise InvalidatedDeclaration(f"{mrn} was invalidated: no debt is owed on it")
        if not any(isinstance(e.payload, GoodsReleased) for e in found):
            raise NotReleased(f"{mrn} is not released: a control's result records what it "
                              "finds before release (POST /controls/{mrn})")
        stream = stream_name(CATEGORY, consignment_id)
        position = revenue.fold(e.payload for e in self.store.read_stream(stream))
        debt = revenue.notified_debt(consignment_id, mrn, position.version, position.currency,
                                     cause="post_clearance_check", amount=amount,
                                     detail=finding, notified_on=utcnow().date())
        event = registry().new_event(debt, correlation_id=consignment_id,
                                     actor=actor_text(caller.actor()))
        [recorded] = self.store.append(stream, [event], expected_version=None)
        return debt_body(recorded)

    def write_off(self, mrn: str, amount: Decimal, reason: str,
                  caller: Caller) -> dict[str, Any]:
        """Write off what is left of a declaration's debt, or part of it (the accounting
        office's decision: an irrecoverable or remitted amount)."""
        consignment_id = self._consignment(mrn)
        stream = stream_name(CATEGORY, consignment_id)
        for _attempt in range(ATTEMPTS):
            history = self.store.read_stream(stream)
            if self._invalidated(consignment_id):
                raise InvalidatedDeclaration(f"{mrn} was invalidated: nothing is owed on it")
            position = revenue.fold(e.payload for e in history)
            position = replace(position, additional=self._additional_duty(
                consignment_id, mrn, position.version))
            method, account = account_of(history)
            national = self.reference.rates.national_currency
            if decimal_places(amount) > self.reference.currencies[national]:
                raise WriteOffRefused(f"{amount}: more decimal places than "
                                      f"{national} has")
            charged = self.accounts.charged_for(account, consignment_id)
            written = revenue.write_off(position, consignment_id, amount, reason, charged)
            event = registry().new_event(written, correlation_id=consignment_id,
                                         actor=actor_text(caller.actor()))
            try:
                [recorded] = self.store.append(stream, [event], expected_version=len(history))
            except WrongExpectedVersion:
                continue  # a payment or a notice meanwhile: decide again
            return {"mrn": mrn, "amount": json_value(written.amount),
                    "currency": written.currency, "reason": written.reason,
                    "still_owed": json_value(revenue.apply(position, written).outstanding(
                        charged)),
                    "recorded_at": recorded.recorded_at.isoformat()}
        raise ConcurrentUpdate(f"{mrn} kept changing while the write-off was recorded; "
                               "nothing was recorded, send it again")

    def repay(self, mrn: str, reference: str, amount: Decimal, currency: str,
              caller: Caller) -> PaymentResult:
        """Record a repayment paid out (idempotent on its reference within the declaration).
        Customs pays repayments: a trader's cashier (a token naming an EORI) may not."""
        if caller.eori is not None:
            raise NotCustoms("repayments are recorded by customs' own cashiers")
        consignment_id = self._consignment(mrn)
        stream = stream_name(CATEGORY, consignment_id)
        for _attempt in range(ATTEMPTS):
            history = self.store.read_stream(stream)
            position = revenue.fold(e.payload for e in history)
            if not revenue.check_repayment(position, reference, amount, currency):
                earlier = next(e for e in history if isinstance(e.payload, events.RepaymentPaid)
                               and e.payload.reference == reference)
                if earlier.payload.amount != amount or earlier.payload.currency != currency:
                    raise PaymentReferenceConflict(reference)
                return PaymentResult(False, repayment_body(earlier, position))
            event = registry().new_event(
                events.RepaymentPaid(consignment_id, mrn, reference, amount, currency),
                correlation_id=consignment_id, actor=actor_text(caller.actor()))
            try:
                recorded = self.store.append(stream, [event], expected_version=len(history))
            except WrongExpectedVersion:
                continue  # something else was recorded meanwhile: decide again
            return PaymentResult(True, repayment_body(recorded[0],
                                                      revenue.apply(position, event.payload)))
        raise ConcurrentUpdate(f"{mrn} kept changing while the repayment was recorded; "
                               "nothing was recorded, send it again")

    def _earlier(self, reference: str) -> tuple[Payment, dict[str, Any]] | None:
        claimed = REFERENCES.find(self.store, reference=reference)
        if claimed is None:
            return None
        consignment_id = self._consignment(claimed["mrn"])
        event = next(e for e in self.store.read_stream(stream_name(CATEGORY, consignment_id))
                     if e.event_id == claimed["event_id"])
        paid: events.PaymentReceived = event.payload
        return (Payment(paid.mrn, paid.reference, paid.amount, paid.currency),
                payment_body(event))

    def _invalidated(self, consignment_id: str) -> bool:
        return bool(self.store.of_types_in_streams(
            (DeclarationInvalidated.TYPE,), [stream_name("declaration", consignment_id)]))

    def _additional_duty(self, consignment_id: str, mrn: str, version: int) -> Decimal:
        """The additional debt of the controls of declaration version `version` whose
        outcome is release after payment (from the log: the risk stream's ControlCompleted
        events): part of the amount due. The same read finds an invalidation in the
        declaration's stream (InvalidatedDeclaration)."""
        found = self.store.of_types_in_streams(
            (ControlCompleted.TYPE, DeclarationInvalidated.TYPE),
            [stream_name("risk", consignment_id), stream_name("declaration", consignment_id)])
        if any(isinstance(event.payload, DeclarationInvalidated) for event in found):
            raise InvalidatedDeclaration(f"{mrn} was invalidated: nothing is due on it")
        return sum((event.payload.additional_duty for event in found
                    if isinstance(event.payload, ControlCompleted)
                    and event.payload.outcome == "release_after_payment"
                    and event.payload.declaration_version == version), Decimal(0))

    def _declarant(self, consignment_id: str) -> str:
        """The declarant's EORI (from the log: the declaration's acceptance)."""
        return self._accepted(consignment_id).declarant_eori

    def _accepted(self, consignment_id: str) -> DeclarationAccepted:
        """The declaration's first acceptance (from the log)."""
        for event in self.store.read_stream(stream_name("declaration", consignment_id)):
            if isinstance(event.payload, DeclarationAccepted):
                return event.payload
        raise UnknownDeclaration(f"consignment {consignment_id} has no accepted declaration")

    def _consignment(self, mrn: str) -> str:
        found = CASES.find(self.store, mrn=mrn)
        if found is None:
            raise UnknownDeclaration(unknown(mrn))
        return str(found["consignment_id"])


def fold_ledger(mrn: str, history: list[RecordedEvent], minor: Mapping[str, int]) -> Ledger:
    ledger: Ledger | None = None
    version = 0  # the declaration version the amount due is of: the latest assessed wins
    for event in history:
        match event.payload:
            case events.DutyAssessed() as assessed if assessed.declaration_version >= version:
                version = assessed.declaration_version
                base = ledger or Ledger(mrn, assessed.currency, minor[assessed.currency])
                ledger = base.with_amount_due(assessed.amount_due)
            case events.PaymentReceived() as paid if ledger is not None:
                ledger = ledger.apply(Payment(mrn, paid.reference, paid.amount, paid.currency))
    if ledger is None:
        raise UnknownDeclaration(f"no duty assessment for MRN {mrn}")
    return ledger


def account_of(history: list[RecordedEvent]) -> tuple[str, str | None]:
    """How the declaration version in force settles its debt: (method, account)."""
    found = [e.payload for e in history if isinstance(e.payload, events.DutyAssessed)]
    latest = max(found, key=lambda a: a.declaration_version, default=None)
    if latest is None:
        return "immediate", None
    return latest.payment_method, latest.account


def debt_body(event: RecordedEvent) -> dict[str, Any]:
    """The answer to POST /additional-debts."""
    debt: events.AdditionalDebtNotified = event.payload
    return {"mrn": debt.mrn, "declaration_version": debt.declaration_version,
            "amount": json_value(debt.amount), "currency": debt.currency, "cause": debt.cause,
            "legal_basis": debt.legal_basis, "due_date": debt.due_date.isoformat(),
            "detail": debt.detail, "notified_at": event.recorded_at.isoformat()}


def repayment_body(event: RecordedEvent, position: revenue.Position) -> dict[str, Any]:
    """The answer to POST /repayments."""
    repaid: events.RepaymentPaid = event.payload
    return {"mrn": repaid.mrn, "reference": repaid.reference,
            "amount": json_value(repaid.amount), "currency": repaid.currency,
            "still_repayable": json_value(position.outstanding_repayment),
            "recorded_at": event.recorded_at.isoformat()}


def payment_body(event: RecordedEvent) -> dict[str, Any]:
    """The answer to POST /payments (the amounts as recorded, decimal strings)."""
    paid: events.PaymentReceived = event.payload
    return {"mrn": paid.mrn, "reference": paid.reference, "amount": json_value(paid.amount),
            "currency": paid.currency, "balance_due": json_value(paid.balance_due),
            "credit": json_value(paid.credit), "recorded_at": event.recorded_at.isoformat()}


def _project_cases(tx: Transaction, events: list[NewEvent]) -> None:
    project_cases(tx, events)
