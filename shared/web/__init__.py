"""The HTTP edge shared by the four services: JSON in and out, errors as RFC 9457 problems,
bearer tokens verified and roles checked per route, health/ready/metrics/openapi endpoints."""

from .entrypoint import api, json_body, log_window
from .identity import PUBLIC
from .problems import ErrorTable, Problem, ProblemSpec

__all__ = ["PUBLIC", "ErrorTable", "Problem", "ProblemSpec", "api", "json_body", "log_window"]
