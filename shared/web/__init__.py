"""The HTTP edge shared by the four services: JSON in and out, errors as RFC 9457 problems,
health/ready/metrics/openapi endpoints."""

from .entrypoint import api, json_body
from .problems import ErrorTable, Problem, ProblemSpec

__all__ = ["ErrorTable", "Problem", "ProblemSpec", "api", "json_body"]
