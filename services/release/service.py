"""The release service: the release decision, holds, and release notifications for agencies.

    nameko run --config services/release/config.yaml services.release.service

Hears the facts of every consignment on `release.facts`; appends only `release-*` streams.
Each GoodsReleased is published to partner agencies on the durable topic exchange
`clearance.releases`, and each agency's hold requests, releases and refusals on its own feed
(`clearance.agencies`, docs/asyncapi.yaml); `GET /notifications?after=N` re-reads them.
Partner agencies decide their holds with `POST /holds/{mrn}/{agency}`; the register of
agencies is `AGENCY_REGISTER_FILE` (the packaged sample by default): a bad one stops the
service at start, naming the line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nameko.dependency_providers import Config
from werkzeug.wrappers import Request

from services.topology import TOPOLOGY
from services.wiring import Application
from shared.events.catalog import registry
from shared.events.envelope import RecordedEvent
from shared.eventstore import EventStore
from shared.identity import Caller
from shared.messaging.consumer import event_handler
from shared.messaging.relay import RelayProvider
from shared.messaging.store_provider import EventStoreProvider
from shared.messaging.writes import Together
from shared.observability.metrics import metrics
from shared.reference.agencies import load_register
from shared.web import Problem, api, json_body, log_window, ops
from shared.web.entrypoint import window_parameters
from shared.web.openapi import Parameter

from .application import Releases
from .errors import ERRORS
from .notifications import NotificationRelayProvider
from .projections import HOLD_STATES
from .schemas import DecisionSchema, HoldSchema, HoldsSchema, NotificationsSchema

DECISION = DecisionSchema()


def build(store: EventStore, config: Mapping[str, Any]) -> Releases:
    return Releases(store, load_register(config.get("AGENCY_REGISTER_FILE") or None))


class ReleaseService(ops.OpsEndpoints):
    """Releases consignments when every condition holds and tells partner agencies."""

    name = "release"
    config = Config()
    store = EventStoreProvider(registry())
    app: Releases = Application(build)
    relay = RelayProvider(TOPOLOGY, "release")
    notifier = NotificationRelayProvider()

    @api("GET", "/notifications", roles=("agency", "officer", "auditor"),
         summary="Release notifications, hold requests and refusals after a log position "
                 "(query: after, limit); an agency gets its own feed",
         responses={200: NotificationsSchema,
                    400: "after not a position, or limit not from 1 to 10000"},
         query=window_parameters(default_limit=1000, max_limit=10_000))
    def get_notifications(self, request: Request, caller: Caller) -> Any:
        after, limit = log_window(request, default_limit=1000, max_limit=10_000)
        return self.app.notifications(after, limit, caller)

    @api("GET", "/holds", roles=("agency", "officer", "auditor"), errors=ERRORS,
         summary="Partner-agency holds (query: state = open, approved, refused, closed or "
                 "all; default open): an agency its own, an officer those at its offices",
         responses={200: HoldsSchema, 400: "unknown state"},
         query=[Parameter("state", {"type": "string", "enum": [*HOLD_STATES, "all"],
                                    "default": "open"}, "which holds")])
    def get_holds(self, request: Request, caller: Caller) -> Any:
        state = request.args.get("state", "open")
        if state not in (*HOLD_STATES, "all"):
            raise Problem(400, "Bad query",
                          f"state must be one of {', '.join((*HOLD_STATES, 'all'))}")
        return {"holds": self.app.holds(caller, state=state)}

    @api("POST", "/holds/<string:mrn>/<string:agency>", roles=("agency",), errors=ERRORS,
         summary="A partner agency's decision on its hold: approved or refused (final)",
         request=DecisionSchema,
         responses={200: HoldSchema, 403: "another agency's hold",
                    404: "no hold of this agency on this declaration",
                    409: "decided already, or the release was refused or invalidated",
                    422: "invalid decision"})
    def post_hold_decision(self, request: Request, caller: Caller, mrn: str,
                           agency: str) -> Any:
        body = DECISION.load(json_body(request))
        return 200, self.app.decide_hold(mrn, agency, body["decision"], body["reference"],
                                         body["note"], caller)

    def refresh_metrics(self) -> None:
        """Before each scrape: the open holds past their time limit, per agency."""
        for agency, count in self.app.overdue().items():
            metrics().agency_holds_overdue.labels(agency).set(count)

    # The work is done in the returned write, in the transaction: no inbox pre-check.
    @event_handler("release.facts", topology=TOPOLOGY, precheck=False)
    def on_fact(self, event: RecordedEvent, payload: Any) -> Any:
        # One call for all the facts the service commits together (see Releases.hear_all).
        return Together(self.app.hear_all, event)
