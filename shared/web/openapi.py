"""The OpenAPI 3 document of a service, generated from its marshmallow schemas (apispec).

Each route is declared once, by its `@api(...)` decorator, which records its `Operation`;
`operations_of(service_class)` collects them and `/openapi.json` serves the document.

The document says what the service does (issue 15, "The API documents are true"; the fuzzer
in tests/fuzz holds it to that): every status a route can answer, errors as
`application/problem+json`, and the constraints the service enforces. Beside the statuses a
route declares, `build_openapi` adds those the shared edge answers for it: 401 (with its
`WWW-Authenticate` challenge), 403 and 503 (with `Retry-After`: the store or the broker did
not answer) for a route that needs a token; 400 (malformed JSON),
413, 415 and 422 for a route that reads a body; 404 for a route with path parameters; 400
for one with query parameters. A field's own JSON Schema (`json_schema()`, e.g. the decimal
strings) and its regular expressions, spelled for ECMA-262 (`^...$`), come from the fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import marshmallow
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["pointer", "message"],
            "properties": {"pointer": {"type": "string"}, "message": {"type": "string"}}}},
    },
}

#: What the endpoints every service has (shared.web.ops) answer, where their declaration
#: gives only a description.
_READY = {"type": "object", "required": ["ready", "checks"], "properties": {
    "ready": {"type": "boolean"},
    "checks": {"type": "object", "additionalProperties": {"type": "string"}}}}
OPS_BODIES: dict[tuple[str, int], tuple[str, dict[str, Any]]] = {
    ("/health", 200): ("application/json", {
        "type": "object", "required": ["status", "service"], "properties": {
            "status": {"type": "string", "enum": ["alive"]}, "service": {"type": "string"}}}),
    ("/ready", 200): ("application/json", _READY),
    ("/ready", 503): ("application/json", _READY),
    ("/metrics", 200): ("text/plain", {"type": "string"}),
    ("/openapi.json", 200): ("application/json", {"type": "object",
                                                   "required": ["openapi", "paths"]}),
}


@dataclass(frozen=True)
class Parameter:
    """A query (or header) parameter of a route, with the JSON Schema of its value."""

    name: str
    schema: Mapping[str, Any]
    description: str = ""
    location: str = "query"
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    request: type[marshmallow.Schema] | None = None
    responses: dict[int, type[marshmallow.Schema] | str] = field(default_factory=dict)
    parameters: Sequence[str] = ()
    roles: tuple[str, ...] | None = None  # who may call it (None: anyone, no token)
    query: Sequence[Parameter] = ()  # query and header parameters


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


def ecma_pattern(pattern: str) -> str:
    """A marshmallow `Regexp` (matched from the start, `re.match`) as a JSON Schema pattern
    (searched anywhere, ECMA-262): anchored at the start; `\\Z` (or a closing `$`) spelled `$`.
    The fields' patterns are written for both readings (ASCII classes, no `\\d`)."""
    body, end = pattern, ""
    if body.startswith("^"):
        body = body[1:]
    elif body.startswith("\\A"):
        body = body[2:]
    if body.endswith("\\Z"):
        body, end = body[:-2], "$"
    elif body.endswith("$") and not body.endswith("\\$"):
        body, end = body[:-1], "$"
    return f"^(?:{body}){end}"


def _edge_properties(self: Any, field: marshmallow.fields.Field[Any], **kwargs: Any,
                     ) -> dict[str, Any]:
    """apispec attribute function: a field's own `json_schema()` in place of what apispec
    made of it (its description, default and nullable kept), and its pattern as ECMA."""
    ret: dict[str, Any] = kwargs["ret"]  # what the other attribute functions made, merged
    own = getattr(field, "json_schema", None)
    if callable(own):
        kept = {k: v for k, v in ret.items() if k in ("description", "default", "nullable")}
        ret.clear()  # apispec merges into this very dict: replaced, not merged
        ret.update(kept, **own())
    if "pattern" in ret:
        ret["pattern"] = ecma_pattern(ret["pattern"])
    # A nested schema that may be null: apispec's second branch would take any object.
    branches = ret.get("anyOf")
    if isinstance(branches, list) and {"nullable": True, "type": "object"} in branches:
        ret["anyOf"] = [b if b != {"nullable": True, "type": "object"}
                        else {"nullable": True, "enum": [None]} for b in branches]
    return {}


def _problem(description: str, headers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    if headers:
        response["headers"] = dict(headers)
    return response


def build_openapi(title: str, version: str, operations: Sequence[Operation]) -> dict[str, Any]:
    plugin = MarshmallowPlugin()
    spec = APISpec(title=title, version=version, openapi_version="3.0.3", plugins=[plugin])
    assert plugin.converter is not None
    plugin.converter.add_attribute_function(_edge_properties)  # type: ignore[no-untyped-call]
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
        parameters = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                      for p in op.parameters]
        parameters += [{"name": q.name, "in": q.location, "required": q.required,
                        "schema": dict(q.schema),
                        **({"description": q.description} if q.description else {})}
                       for q in op.query]
        if parameters:
            operation["parameters"] = parameters
        if op.request is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": op.request}}}
        responses = dict(op.responses)
        if op.roles is not None:
            responses.setdefault(401, "no valid bearer token (WWW-Authenticate says why)")
            responses.setdefault(403, "the caller has none of the roles")
            if op.method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
                responses.setdefault(415, "the body is not application/json")
            responses.setdefault(503, "the store or the broker did not answer: send the same "
                                      "request again after Retry-After seconds")
        if op.request is not None:
            responses.setdefault(400, "the body is not UTF-8 JSON (or nested too deeply)")
            responses.setdefault(413, "the body is too large")
            responses.setdefault(422, "the body is not valid (field pointers)")
        if op.parameters:
            responses.setdefault(404, "not found")
        if op.query:
            responses.setdefault(400, "a query parameter out of range")
        for status, response in sorted(responses.items()):
            if isinstance(response, str) and (op.path, status) in OPS_BODIES:
                media, schema = OPS_BODIES[(op.path, status)]
                operation["responses"][str(status)] = {"description": response, "content": {
                    media: {"schema": schema}}}
            elif isinstance(response, str):
                if status < 400:
                    raise ValueError(f"{op.method} {op.path}: give the {status} answer's "
                                     "schema, not only its description")
                headers = {"WWW-Authenticate": {
                    "description": 'Bearer error="invalid_token" (RFC 6750)', "required": True,
                    "schema": {"type": "string", "pattern": "^Bearer"}}} if status == 401 else (
                    {"Retry-After": {"description": "seconds to wait before the repeat",
                                     "required": True, "schema": {"type": "integer"}}}
                    if status == 503 and (op.path, status) not in OPS_BODIES else None)
                operation["responses"][str(status)] = _problem(response, headers)
            else:
                operation["responses"][str(status)] = {"description": response.__name__,
                    "content": {"application/json": {"schema": response}}}
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    for path, ops in paths.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()
