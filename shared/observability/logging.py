"""Structured JSON logs through structlog, with context carried in contextvars.

`bound(consignment_id=..., event_id=...)` binds context for the current greenthread (greenlet
keeps a context per greenthread), so every log line written while handling an event carries
the consignment and the event ids.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

_configured = False


def configure(service: str | None = None, level: str | None = None) -> None:
    global _configured
    if _configured:
        return
    log_level = getattr(logging, (level or os.environ.get("LOG_LEVEL", "INFO")).upper())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(sort_keys=True),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(log_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    _configured = True


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


@contextmanager
def bound(**context: Any) -> Iterator[None]:
    with structlog.contextvars.bound_contextvars(**context):
        yield
