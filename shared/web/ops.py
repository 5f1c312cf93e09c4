"""Endpoints every service has: /health, /ready, /metrics, /openapi.json.

A service class inherits `OpsEndpoints` and sets `name`; its `@api` routes make its document.
`/ready` says whether the service can take work: its store answers (200) or not (503). The
broker is reported too but does not decide: with the broker down, intake goes on (the log is
the outbox; the relay publishes when it is back), so a load balancer must not take the
service out. `/health` says only that the process serves HTTP. `/metrics` is the Prometheus text
format whatever the Accept header (nameko-prometheus answered 500 without one).
"""

from __future__ import annotations

from typing import Any, ClassVar

from kombu.connection import Connection
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Request, Response

from shared.observability.metrics import metrics

from .entrypoint import api
from .identity import PUBLIC
from .openapi import build_openapi, operations_of


class OpsEndpoints:
    name: ClassVar[str]
    config: Any  # nameko's Config dependency, provided by the service class
    store: Any  # the store dependency, provided by the service class

    @api("GET", "/health", roles=PUBLIC, summary="The process is alive",
         responses={200: "alive"})
    def health(self, request: Request) -> Any:
        return {"status": "alive", "service": self.name}

    @api("GET", "/ready", roles=PUBLIC,
         summary="The store answers (the broker's state is reported, not required)",
         responses={200: "ready", 503: "not ready: the store does not answer"})
    def ready(self, request: Request) -> Any:
        checks: dict[str, str] = {}
        try:
            self.store.ping()
            checks["store"] = "ok"
        except Exception as exc:  # reported, not raised: this endpoint's job is to say so
            checks["store"] = f"unreachable: {type(exc).__name__}"
        try:
            with Connection(self.config["AMQP_URI"], connect_timeout=2) as connection:  # type: ignore[no-untyped-call]
                connection.ensure_connection(max_retries=1)
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = (f"unreachable: {type(exc).__name__} (not required: events wait"
                                " in the log)")
        ready = checks["store"] == "ok"
        return (200 if ready else 503), {"ready": ready, "checks": checks}

    @api("GET", "/metrics", roles=PUBLIC, summary="Prometheus metrics (text format)",
         responses={200: "metrics"})
    def metrics(self, request: Request) -> Any:
        self.refresh_metrics()
        return Response(generate_latest(metrics().registry), status=200,
                        content_type=CONTENT_TYPE_LATEST)

    def refresh_metrics(self) -> None:
        """Set the gauges read from the store just before a scrape (a service overrides)."""

    @api("GET", "/openapi.json", roles=PUBLIC, summary="This document",
         responses={200: "OpenAPI 3"})
    def openapi(self, request: Request) -> Any:
        return build_openapi(f"Open Clearance {self.name} service", "1.0.0",
                             operations_of(type(self)))
