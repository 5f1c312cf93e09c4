"""The payment service: duty and tax assessment on acceptance, and payments.

    nameko run --config services/payment/config.yaml services.payment.service

Hears `DeclarationAccepted` on `payment.declarations`; appends only `payment-*` streams.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nameko.dependency_providers import Config
from werkzeug.wrappers import Request

from services.topology import TOPOLOGY
from services.wiring import Application, reference_data
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted
from shared.events.envelope import RecordedEvent
from shared.eventstore import EventStore
from shared.identity import Caller
from shared.messaging.consumer import event_handler
from shared.messaging.relay import RelayProvider
from shared.messaging.store_provider import EventStoreProvider
from shared.web import api, json_body, ops

from .application import Payments
from .errors import ERRORS
from .schemas import PaymentRecordedSchema, PaymentSchema

PAYMENT = PaymentSchema()  # built once: a schema is reusable across requests

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

    @api("POST", "/payments", roles=("cashier",), errors=ERRORS,
         summary="Record a payment (idempotent on its reference)", request=PaymentSchema,
         responses={201: PaymentRecordedSchema, 200: PaymentRecordedSchema,
                    404: "no assessed declaration with this MRN, or not the cashier's",
                    409: "reference reused for another payment, or the declaration was "
                         "invalidated",
                    422: "invalid payment"})
    def post_payment(self, request: Request, caller: Caller) -> Any:
        body = PAYMENT.load(json_body(request))
        result = self.app.pay(body["mrn"], body["reference"], body["amount"], body["currency"],
                              caller)
        return (201 if result.created else 200), result.body

    # The assessment is computed here, in the worker, outside any transaction; the group
    # commit records it with the inbox record. A redelivery (rare) computes it again and is
    # dropped by that inbox record: cheaper than an inbox query for every delivery.
    @event_handler("payment.declarations", topology=TOPOLOGY, precheck=False)
    def on_accepted(self, event: RecordedEvent, accepted: DeclarationAccepted) -> Any:
        return self.app.assessment(accepted, event)
