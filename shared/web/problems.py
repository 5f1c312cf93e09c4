"""Errors as `application/problem+json` (RFC 9457), mapped from exceptions in one table.

Each service declares one `ErrorTable` (its `errors.py`): exception class -> status, type and
title. The HTTP entrypoint consults it for every exception; anything not in it is a 500 whose
detail is hidden from the caller (and logged).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Response

PROBLEM_TYPE_BASE = "https://open-clearance.org/problems/"
PROBLEM_JSON = "application/problem+json"


@dataclass
class Problem(Exception):
    """An error that already knows its HTTP shape."""

    status: int
    title: str
    detail: str = ""
    type: str = "about:blank"
    errors: Sequence[Mapping[str, str]] = field(default_factory=list)
    extra: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status,
                                "detail": self.detail}
        if self.errors:
            body["errors"] = [dict(e) for e in self.errors]
        body.update(self.extra)
        return body

    def response(self) -> Response:
        return Response(json.dumps(self.body(), sort_keys=True), status=self.status,
                        mimetype=PROBLEM_JSON, headers=dict(self.headers))


@dataclass(frozen=True)
class ProblemSpec:
    status: int
    slug: str
    title: str
    errors: Callable[[BaseException], Sequence[Mapping[str, str]]] | None = None
    detail: Callable[[BaseException], str] = str


class ErrorTable:
    """Exception class -> problem. The first matching class in declaration order wins."""

    def __init__(self, table: Mapping[type[BaseException], ProblemSpec]) -> None:
        self.table = dict(table)

    def problem(self, exc: BaseException) -> Problem | None:
        if isinstance(exc, Problem):
            return exc
        for cls, spec in self.table.items():
            if isinstance(exc, cls):
                return Problem(
                    status=spec.status,
                    title=spec.title,
                    detail=spec.detail(exc),
                    type=PROBLEM_TYPE_BASE + spec.slug,
                    errors=list(spec.errors(exc)) if spec.errors else [],
                )
        return None

    def extend(self, more: Mapping[type[BaseException], ProblemSpec]) -> ErrorTable:
        return ErrorTable({**more, **self.table})


def validation_problem(errors: Sequence[Mapping[str, str]], detail: str) -> Problem:
    return Problem(status=422, title="The document is not valid", detail=detail,
                   type=PROBLEM_TYPE_BASE + "validation", errors=errors)


def schema_pointers(exc: BaseException) -> list[dict[str, str]]:
    """Field pointers of a marshmallow ValidationError on a flat request body."""
    messages = getattr(exc, "messages", None)
    if not isinstance(messages, dict):
        messages = {"": messages}
    return [{"pointer": f"/{field}" if field else "",
             "message": "; ".join(map(str, msgs)) if isinstance(msgs, list) else str(msgs)}
            for field, msgs in messages.items()]
