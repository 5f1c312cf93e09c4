"""The payment service: duty and tax assessment on acceptance, and payments.

    nameko run --config services/payment/config.yaml services.payment.service

Hears `DeclarationAccepted` on `payment.declarations`, `ControlCompleted` on
`payment.controls` and `DeclarationInvalidated` on `payment.invalidations`; appends only `payment-*` streams (a declaration's
`payment-<consignment id>`, an account's `payment-account-<number>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nameko.dependency_providers import Config
from werkzeug.wrappers import Request

from services.topology import TOPOLOGY
from services.wiring import Application, reference_data
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted, DeclarationInvalidated
from shared.events.envelope import RecordedEvent
from shared.events.risk import ControlCompleted
from shared.eventstore import EventStore
from shared.identity import Caller
from shared.messaging.consumer import event_handler
from shared.messaging.relay import RelayProvider
from shared.messaging.store_provider import EventStoreProvider
from shared.web import PUBLIC, api, json_body, ops
from shared.web.fields import positive_amount_pattern

from .application import Payments
from .errors import ERRORS
from .schemas import (
    AccountSchema,
    AccountViewSchema,
    ClosureSchema,
    DebtNotifiedSchema,
    DebtSchema,
    DirectDebitSchema,
    LimitSchema,
    PaymentRecordedSchema,
    PaymentSchema,
    RepaymentRecordedSchema,
    RepaymentSchema,
    WriteOffSchema,
    WrittenOffSchema,
)

PAYMENT = PaymentSchema()  # built once: a schema is reusable across requests
ACCOUNT, LIMIT, DIRECT_DEBIT = AccountSchema(), LimitSchema(), DirectDebitSchema()
CLOSURE, REPAYMENT, DEBT = ClosureSchema(), RepaymentSchema(), DebtSchema()
WRITE_OFF = WriteOffSchema()
# Who reads an account: its holder (a declarant or a trader's cashier whose token names the
# holder's EORI), officers, auditors and operators.
ACCOUNT_READERS = ("declarant", "cashier", "officer", "auditor", "operator")

def build(store: EventStore, config: Mapping[str, Any]) -> Payments:
    return Payments(store, reference_data(config))


class PaymentService(ops.OpsEndpoints):
    """Assesses duty and VAT, and takes payments.

    Example `POST /payments`:
    `{"mrn": "26GBK2M9Q4R8T1X5R5", "reference": "PAY-000001", "amount": "2387.45",
      "currency": "GBP"}`
    """

    name = "payment"
    config = Config()
    store = EventStoreProvider(registry())
    app: Payments = Application(build)
    relay = RelayProvider(TOPOLOGY, "payment")

    @api("GET", "/openapi.json", roles=PUBLIC, summary="This document",
         responses={200: "OpenAPI 3"})
    def openapi(self, request: Request) -> Any:
        """The document, with what the deployment's reference data decides: the one
        currency payments and accounts are taken in (the national currency), amounts and
        limits positive and in its minor units (422 otherwise); and an AEO reduction for a
        guarantee only."""
        document: dict[str, Any] = super().openapi(request)
        schemas = document["components"]["schemas"]
        national = self.app.reference.rates.national_currency
        for name in ("Payment", "Repayment", "Account"):
            schemas[name]["properties"]["currency"]["enum"] = [national]
        # Not zero: a digit 1-9 before the point, or else in the fraction.
        amount = positive_amount_pattern(min(self.app.reference.currencies[national], 4))
        for name, field in (("Payment", "amount"), ("Repayment", "amount"), ("Debt", "amount"),
                            ("WriteOff", "amount"), ("Account", "limit"), ("Limit", "limit")):
            schemas[name]["properties"][field]["pattern"] = amount
        schemas["Account"]["anyOf"] = [
            {"properties": {"type": {"enum": ["guarantee"]}}},
            {"properties": {"aeo_reduction_pct": {"enum": [0]}}}]
        return document

    @api("POST", "/payments", roles=("cashier",), errors=ERRORS,
         summary="Record a payment (idempotent on its reference)", request=PaymentSchema,
         responses={201: PaymentRecordedSchema, 200: PaymentRecordedSchema,
                    404: "no assessed declaration with this MRN, or not the cashier's",
                    409: "reference reused for another payment, the declaration was "
                         "invalidated, or it kept changing meanwhile",
                    422: "invalid payment"})
    def post_payment(self, request: Request, caller: Caller) -> Any:
        body = PAYMENT.load(json_body(request))
        result = self.app.pay(body["mrn"], body["reference"], body["amount"], body["currency"],
                              caller)
        return (201 if result.created else 200), result.body

    @api("POST", "/repayments", roles=("cashier",), errors=ERRORS,
         summary="Record a repayment paid out (within what was decided repayable)",
         request=RepaymentSchema,
         responses={201: RepaymentRecordedSchema, 200: RepaymentRecordedSchema,
                    404: "no assessed declaration with this MRN",
                    409: "reference reused for another repayment, or the declaration kept "
                         "changing meanwhile",
                    422: "invalid, or more than the repayment decided and not paid yet"})
    def post_repayment(self, request: Request, caller: Caller) -> Any:
        body = REPAYMENT.load(json_body(request))
        result = self.app.repay(body["mrn"], body["reference"], body["amount"],
                                body["currency"], caller)
        return (201 if result.created else 200), result.body

    @api("POST", "/additional-debts", roles=("officer",), errors=ERRORS,
         summary="Notify a debt a post-clearance check found on released goods",
         request=DebtSchema,
         responses={201: DebtNotifiedSchema,
                    404: "no assessed declaration with this MRN at the officer's offices",
                    409: "the goods are not released, or the declaration was invalidated",
                    422: "invalid debt"})
    def post_debt(self, request: Request, caller: Caller) -> Any:
        body = DEBT.load(json_body(request))
        return 201, self.app.notify_debt(body["mrn"], body["amount"], body["finding"], caller)

    @api("POST", "/write-offs", roles=("operator",), errors=ERRORS,
         summary="Write off what is owed on a declaration (irrecoverable or remitted)",
         request=WriteOffSchema,
         responses={201: WrittenOffSchema, 404: "no assessed declaration with this MRN",
                    409: "the declaration was invalidated, or kept changing meanwhile",
                    422: "invalid, or more than is owed"})
    def post_write_off(self, request: Request, caller: Caller) -> Any:
        body = WRITE_OFF.load(json_body(request))
        return 201, self.app.write_off(body["mrn"], body["amount"], body["reason"], caller)

    @api("POST", "/accounts", roles=("operator",), errors=ERRORS,
         summary="Open a deferment or guarantee account", request=AccountSchema,
         responses={201: AccountViewSchema, 409: "an account with this number exists",
                    422: "invalid account (shape, limit, or not the national currency)"})
    def post_account(self, request: Request, caller: Caller) -> Any:
        body = ACCOUNT.load(json_body(request))
        return 201, self.app.accounts.open(body["number"], body["type"], body["holder_eori"],
                                           body["limit"], body["currency"], caller,
                                           aeo_reduction_pct=body["aeo_reduction_pct"])

    @api("GET", "/accounts/<string:number>", roles=ACCOUNT_READERS, errors=ERRORS,
         summary="An account: limit, charged, reserved, available, and its entries",
         responses={200: AccountViewSchema, 404: "no such account, or not the holder's"})
    def get_account(self, request: Request, caller: Caller, number: str) -> Any:
        return 200, self.app.accounts.read(number, caller)

    @api("POST", "/accounts/<string:number>/limit", roles=("operator",), errors=ERRORS,
         summary="Change an account's limit (charges waiting for balance are tried again)",
         request=LimitSchema,
         responses={200: AccountViewSchema, 404: "no such account",
                    409: "the account is closed", 422: "invalid limit"})
    def post_limit(self, request: Request, caller: Caller, number: str) -> Any:
        body = LIMIT.load(json_body(request))
        return 200, self.app.accounts.change_limit(number, body["limit"], caller)

    @api("POST", "/accounts/<string:number>/direct-debit", roles=("operator",), errors=ERRORS,
         summary="End a deferment period: collect its charges by direct debit",
         request=DirectDebitSchema,
         responses={200: AccountViewSchema, 404: "no such account",
                    409: "not a deferment account"})
    def post_direct_debit(self, request: Request, caller: Caller, number: str) -> Any:
        body = DIRECT_DEBIT.load(json_body(request))
        return 200, self.app.accounts.collect(number, body["period_end"], caller)

    @api("POST", "/accounts/<string:number>/closure", roles=("operator",), errors=ERRORS,
         summary="Close an account: no more charges or securities on it",
         request=ClosureSchema,
         responses={200: AccountViewSchema, 404: "no such account", 422: "no reason given"})
    def post_closure(self, request: Request, caller: Caller, number: str) -> Any:
        body = CLOSURE.load(json_body(request))
        return 200, self.app.accounts.close(number, body["reason"], caller)

    # The assessment is computed here, in the worker, outside any transaction; the group
    # commit records it with the inbox record. A redelivery (rare) computes it again and is
    # dropped by that inbox record: cheaper than an inbox query for every delivery.
    @event_handler("payment.declarations", topology=TOPOLOGY, precheck=False)
    def on_accepted(self, event: RecordedEvent, accepted: DeclarationAccepted) -> Any:
        return self.app.assessment(accepted, event)

    @event_handler("payment.controls", topology=TOPOLOGY, precheck=False)
    def on_control(self, event: RecordedEvent, completed: ControlCompleted) -> Any:
        return self.app.control_finding(completed, event)

    @event_handler("payment.invalidations", topology=TOPOLOGY, precheck=False)
    def on_invalidated(self, event: RecordedEvent, invalidated: DeclarationInvalidated) -> Any:
        return self.app.invalidated(invalidated, event)
