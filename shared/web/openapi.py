"""The OpenAPI 3 document of a service, generated from its marshmallow schemas (apispec).

Each route is declared once, by its `@api(...)` decorator, which records its `Operation`;
`operations_of(service_class)` collects them and `/openapi.json` serves the document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import marshmallow
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["pointer", "message"],
            "properties": {"pointer": {"type": "string"}, "message": {"type": "string"}}}},
    },
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    request: type[marshmallow.Schema] | None = None
    responses: dict[int, type[marshmallow.Schema] | str] = field(default_factory=dict)
    parameters: Sequence[str] = ()
    roles: tuple[str, ...] | None = None  # who may call it (None: anyone, no token)


_CONVERTER = re.compile(r"<(?:[a-z_]+:)?([A-Za-z_][A-Za-z0-9_]*)>")


def openapi_path(url: str) -> str:
    """A werkzeug route (`/controls/<string:mrn>`) as an OpenAPI path (`/controls/{mrn}`)."""
    return _CONVERTER.sub(r"{\1}", url)


def path_parameters(url: str) -> tuple[str, ...]:
    return tuple(_CONVERTER.findall(url))


def operations_of(cls: type[Any]) -> list[Operation]:
    """The operations declared by the `@api` entrypoints of a service class (and its bases)."""
    found: dict[tuple[str, str], Operation] = {}
    for klass in reversed(cls.__mro__):
        for member in vars(klass).values():
            operation = getattr(member, "operation", None)
            if isinstance(operation, Operation):
                found[(operation.method, operation.path)] = operation
    return sorted(found.values(), key=lambda op: (op.path, op.method))


def build_openapi(title: str, version: str, operations: Sequence[Operation]) -> dict[str, Any]:
    spec = APISpec(title=title, version=version, openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()])
    spec.components.schema("Problem", PROBLEM)
    spec.components.security_scheme("bearer", {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "A JWT signed by the identity provider (ES256 or RS256), with the "
                       "roles claim naming the caller's roles"})
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        operation: dict[str, Any] = {"summary": op.summary, "responses": {}}
        if op.roles is None:
            operation["security"] = []
        else:
            operation["security"] = [{"bearer": []}]
            operation["x-roles"] = list(op.roles)
            operation["description"] = f"Roles: {', '.join(op.roles)}."
        if op.parameters:
            operation["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in op.parameters
            ]
        if op.request is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": op.request}}}
        responses = dict(op.responses)
        if op.roles is not None:
            responses.setdefault(401, "no valid bearer token (WWW-Authenticate says why)")
            responses.setdefault(403, "the caller has none of the roles")
            if op.method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
                responses.setdefault(415, "the body is not application/json")
        for status, response in sorted(responses.items()):
            if isinstance(response, str):
                operation["responses"][str(status)] = {"description": response, "content": {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            else:
                operation["responses"][str(status)] = {"description": response.__name__,
                    "content": {"application/json": {"schema": response}}}
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    for path, ops in paths.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()
