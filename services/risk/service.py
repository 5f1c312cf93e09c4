"""The risk service: selectivity (lanes) on acceptance, and officers' control results.

    nameko run --config services/risk/config.yaml services.risk.service

Hears `DeclarationAccepted` on `risk.declarations`; appends only `risk-*` streams.
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

from .application import Risk, RiskReference
from .errors import ERRORS
from .schemas import ControlRecordedSchema, ControlResultSchema

CONTROL_RESULT = ControlResultSchema()  # built once: a schema is reusable across requests

def build(store: EventStore, config: Mapping[str, Any]) -> Risk:
    return Risk(store, RiskReference.load(config, reference_data(config).rates))


class RiskService(ops.OpsEndpoints):
    """Assesses accepted declarations and records control results.

    Example `POST /controls/26GBK2M9Q4R8T1X5R5`:
    `{"result": "non_compliant",
      "findings": [{"category": "valuation", "text": "invoice understated"}],
      "outcome": "release_after_payment", "additional_duty": "412.50"}`
    """

    name = "risk"
    config = Config()
    store = EventStoreProvider(registry())
    app: Risk = Application(build)
    relay = RelayProvider(TOPOLOGY, "risk")

    @api("POST", "/controls/<string:mrn>", roles=("officer",), errors=ERRORS,
         summary="Record an officer's control result (the officer: the caller)",
         request=ControlResultSchema,
         responses={201: ControlRecordedSchema,
                    404: "unknown MRN, or not at one of the officer's offices",
                    409: "no control open for this declaration, or it was invalidated",
                    422: "invalid result (shape, or findings, outcome and additional duty "
                         "that do not agree with it)"})
    def post_control(self, request: Request, caller: Caller, mrn: str) -> Any:
        body = CONTROL_RESULT.load(json_body(request))
        return 201, self.app.record_control(mrn, caller, body["result"], body["findings"],
                                            body["outcome"], body["additional_duty"])

    # The assessment is computed here, in the worker, outside any transaction; the group
    # commit records it with the inbox record. A redelivery (rare) computes it again and is
    # dropped by that inbox record: cheaper than an inbox query for every delivery.
    @event_handler("risk.declarations", topology=TOPOLOGY, precheck=False)
    def on_accepted(self, event: RecordedEvent, accepted: DeclarationAccepted) -> Any:
        return self.app.assessment(accepted, event)
