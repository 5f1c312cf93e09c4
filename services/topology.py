"""The deployment's broker topology: which queue of which service hears which events.

The relays publish only the event types some subscription hears (`Topology.routed`): the
others (e.g. `DeclarationReceived`, `GoodsReleased`) stay in the log, which the declaration
service's status projection follows directly (`shared.messaging.follower`). A subscription
added later for such a type hears its events from then on (as any new queue does; the earlier
ones are in the log). So the relay's
mandatory publishing meets an unroutable event only when a queue was deleted behind its back.
`declaration.status`, the queue through which the status projection heard every event before,
is retired: the relays delete it, with its retry and parking queues, where it is left.
`RETRY_DELAYS` (seconds, comma separated) sets the retry
queues' delays; tests shorten them.

Each service connects to the broker as its own least-privilege user (`service_users`: the
permissions generated from this topology, see `shared.messaging.topology.service_permissions`);
infra/rabbitmq/generate.py writes them into the users file, tests create them with
`shared.testing.rabbit.service_users`.
"""

from __future__ import annotations

import re
from typing import Any

from shared.events.catalog import registry
from shared.messaging.topology import (
    Grant,
    Permissions,
    QueueType,
    Topology,
    queue_type_arguments,
    rpc_grant,
    service_permissions,
)
from shared.settings import SERVICES, setting

RELEASES_EXCHANGE = "clearance.releases"  # services/release/notifications.py: topic, agencies
# Each partner agency's own feed (hold requests, its releases and refusals): topic, routing key
# `<AGENCY>.<kind>`; the agency's queue `agency.<code>` is bound with `<AGENCY>.#`.
AGENCIES_EXCHANGE = "clearance.agencies"
AGENCY_QUEUE_PREFIX = "agency."
SEALS_EXCHANGE = "clearance.seals"  # signed checkpoints of the log: fanout, anyone may archive
# Exchanges, besides its namespace and the events exchange, that a service declares and
# publishes to (configure and write permission).
SERVICE_EXCHANGES: dict[str, tuple[str, ...]] = {
    "release": (RELEASES_EXCHANGE, AGENCIES_EXCHANGE),
}
# More a service needs: the declaration service answers nameko RPC (lodge, status); the
# release service declares the register's agency queues and binds them to their feed.
_AGENCY_QUEUES = rf"{re.escape(AGENCY_QUEUE_PREFIX)}[a-z0-9_-]+"
SERVICE_GRANTS: dict[str, Grant] = {
    "declaration": rpc_grant("declaration"),
    "release": Grant(configure=(_AGENCY_QUEUES,), write=(_AGENCY_QUEUES,),
                     read=(re.escape(AGENCIES_EXCHANGE),)),
}


def agency_queue(code: str) -> str:
    """The durable queue of partner agency `code`: `agency.<code in lower case>`."""
    return f"{AGENCY_QUEUE_PREFIX}{code.lower()}"

FACTS_FOR_RELEASE = (
    "DeclarationAccepted", "RiskAssessed", "ControlOrdered", "ControlCompleted",
    "DutyAssessed", "PaymentReceived", "DebtCharged", "DebtSecured", "DebtWrittenOff",
    "AdditionalDebtNotified", "DeclarationInvalidated",
)

SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    "risk.declarations": ("DeclarationAccepted",),
    "payment.declarations": ("DeclarationAccepted",),
    "payment.controls": ("ControlCompleted",),
    "payment.invalidations": ("DeclarationInvalidated",),
    "release.facts": FACTS_FOR_RELEASE,
}
# Subscriptions of former versions, deleted where found (see `Topology.retired`).
RETIRED = ("declaration.status",)


def retry_delays() -> tuple[float, ...]:
    text = setting("RETRY_DELAYS")
    return tuple(float(part) for part in text.split(",") if part.strip())


# Every durable queue is a quorum queue (replicated, at-least-once dead-lettering, delivery
# limit; RabbitMQ 3.10 or later): the subscriptions with their retry and parking queues, and
# the agencies' queues. A broker holding classic queues of the same names is converted by
# `clearance queues convert` (`make start` does it on a stopped local stack).
QUEUE_TYPE: QueueType = "quorum"


def agency_queue_arguments() -> dict[str, Any]:
    """The declaration arguments of an agency's queue (the release service and `clearance
    agency add` declare it alike)."""
    return queue_type_arguments(QUEUE_TYPE)


def topology() -> Topology:
    return Topology(registry(), SUBSCRIPTIONS, retry_delays=retry_delays(),
                    queue_type=QUEUE_TYPE, retired=RETIRED)


TOPOLOGY = topology()


def service_users(topo: Topology | None = None) -> dict[str, Permissions]:
    """Each service's broker user (named after the service) and its least privilege."""
    topo = topo or TOPOLOGY
    return {service: service_permissions(topo, service,
                                         exchanges=SERVICE_EXCHANGES.get(service, ()),
                                         grant=SERVICE_GRANTS.get(service, Grant()))
            for service in SERVICES}
