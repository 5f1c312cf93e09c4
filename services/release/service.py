"""The release service: the release decision, holds, and release notifications for agencies.

    nameko run --config services/release/config.yaml services.release.service

Hears the facts of every consignment on `release.facts`; appends only `release-*` streams.
Each GoodsReleased is published to partner agencies on the durable topic exchange
`clearance.releases` (docs/asyncapi.yaml); `GET /notifications?after=N` re-reads them.
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
from shared.web import Problem, api, ops

from .application import Releases
from .notifications import NotificationRelayProvider


def build(store: EventStore, config: Mapping[str, Any]) -> Releases:
    return Releases(store)


class ReleaseService(ops.OpsEndpoints):
    """Releases consignments when every condition holds and tells partner agencies."""

    name = "release"
    config = Config()
    store = EventStoreProvider(registry())
    app: Releases = Application(build)
    relay = RelayProvider(TOPOLOGY, "release")
    notifier = NotificationRelayProvider()

    @api("GET", "/notifications", roles=("agency", "officer", "auditor"),
         summary="Release notifications after a log position (query: after, limit)",
         responses={200: "a list of notifications", 400: "after or limit not an integer"})
    def get_notifications(self, request: Request, caller: Caller) -> Any:
        try:
            after = int(request.args.get("after", "0"))
            limit = min(int(request.args.get("limit", "1000")), 10_000)
        except ValueError:
            raise Problem(400, "Bad query", "after and limit must be integers") from None
        found = self.app.notifications(after, limit)
        return {"notifications": found,
                "next_after": found[-1]["position"] if found else after}

    # The work is done in the returned write, in the transaction: no inbox pre-check.
    @event_handler("release.facts", topology=TOPOLOGY, precheck=False)
    def on_fact(self, event: RecordedEvent, payload: Any) -> Any:
        # One call for all the facts the service commits together (see Releases.hear_all).
        return Together(self.app.hear_all, event)
