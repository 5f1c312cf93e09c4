"""The deployment's broker topology: which queue of which service hears which events.

Every event type has at least one subscriber (the declaration service's status projection
hears them all), so the relay's mandatory publishing never meets an unroutable event unless a
queue was deleted behind its back. `RETRY_DELAYS` (seconds, comma separated) sets the retry
queues' delays; tests shorten them.
"""

from __future__ import annotations

from shared.events.catalog import registry
from shared.messaging.topology import Topology
from shared.settings import setting

FACTS_FOR_RELEASE = (
    "DeclarationAccepted", "RiskAssessed", "ControlOrdered", "ControlCompleted",
    "DutyAssessed", "PaymentReceived",
)

SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    "risk.declarations": ("DeclarationAccepted",),
    "payment.declarations": ("DeclarationAccepted",),
    "release.facts": FACTS_FOR_RELEASE,
    "declaration.status": tuple(registry().types()),
}


def retry_delays() -> tuple[float, ...]:
    text = setting("RETRY_DELAYS")
    return tuple(float(part) for part in text.split(",") if part.strip())


def topology() -> Topology:
    return Topology(registry(), SUBSCRIPTIONS, retry_delays=retry_delays())


TOPOLOGY = topology()
