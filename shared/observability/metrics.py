"""The platform's Prometheus metrics, on a registry that tests can replace.

Business code never touches these: the store, the relay and the consumer entrypoint record
them. `metrics()` returns the process-wide set; `use_registry()` swaps in a fresh registry
(tests do, so counts never leak between tests).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    appended: Counter
    published: Counter
    unroutable: Counter
    relay_lag: Gauge
    relay_batch_seconds: Histogram
    consumed: Counter
    duplicates: Counter
    retried: Counter
    parked: Counter
    forged: Counter
    handler_seconds: Histogram
    commit_batch: Histogram
    release_latency: Histogram
    agency_holds_overdue: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> Metrics:
        return cls(
            registry=registry,
            appended=Counter("clearance_events_appended", "Events appended to the log",
                             ["category"], registry=registry),
            # Relay metrics carry the relay's name too: a service may run more than one relay
            # of its category (the release service: events and partner notifications).
            published=Counter("clearance_relay_published", "Events published and confirmed",
                              ["category", "relay"], registry=registry),
            unroutable=Counter("clearance_relay_unroutable",
                               "Events the broker returned as unroutable (republished later)",
                               ["category", "relay"], registry=registry),
            relay_lag=Gauge("clearance_relay_lag_events",
                            "Events appended but not yet confirmed by the broker",
                            ["category", "relay"], registry=registry),
            relay_batch_seconds=Histogram("clearance_relay_batch_seconds",
                                          "Time to publish and confirm one relay batch",
                                          ["category", "relay"], registry=registry),
            consumed=Counter("clearance_events_consumed", "Events handled with effect",
                             ["consumer"], registry=registry),
            duplicates=Counter("clearance_events_duplicates_ignored",
                               "Redelivered events recognised by the inbox and ignored",
                               ["consumer"], registry=registry),
            retried=Counter("clearance_events_retried", "Failed handlings sent for a retry",
                            ["consumer"], registry=registry),
            parked=Counter("clearance_events_parked", "Events moved to a parking queue",
                           ["consumer"], registry=registry),
            # Delivered events the log does not confirm (shared.eventstore.confirm): refused
            # without effect and parked. Any at all means someone publishes forged events.
            forged=Counter("clearance_forged_messages",
                           "Messages refused because the log does not confirm their event",
                           ["consumer"], registry=registry),
            handler_seconds=Histogram("clearance_handler_seconds", "Event handler duration",
                                      ["consumer"], registry=registry),
            commit_batch=Histogram("clearance_commit_batch_events",
                                   "Handled events written per store transaction (group commit)",
                                   registry=registry,
                                   buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256)),
            release_latency=Histogram(
                "clearance_release_latency_seconds",
                "Lodgement to release of each consignment, by risk lane",
                ["lane"], registry=registry,
                buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 1800, 3600, 14400,
                         86400)),
            # Read from the release service's holds at each scrape (the same figure from every
            # replica: alert on the max per agency).
            agency_holds_overdue=Gauge(
                "clearance_agency_holds_overdue",
                "Open partner-agency holds past their time limit, per agency",
                ["agency"], registry=registry),
        )


_current: Metrics | None = None


def metrics() -> Metrics:
    global _current
    if _current is None:
        _current = Metrics.create(REGISTRY)
    return _current


def use_registry(registry: CollectorRegistry | None = None) -> Metrics:
    """Replace the process-wide metrics with a set on `registry` (a fresh one by default)."""
    global _current
    _current = Metrics.create(registry or CollectorRegistry())
    return _current


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    """The current value of one sample (0 when absent); for tests and the command line."""
    value = metrics().registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value
