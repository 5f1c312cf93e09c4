"""Cross-cutting concerns: structured logs (structlog, contextvars) and Prometheus metrics."""
