"""Each route is declared once: the OpenAPI document of every service is built from the same
`@api` declarations nameko routes, so it lists exactly the routes the service serves, with
their path parameters, request schema and responses."""

from __future__ import annotations

import pytest

from services.declaration.service import DeclarationService
from services.payment.service import PaymentService
from services.release.service import ReleaseService
from services.risk.service import RiskService
from shared.web.entrypoint import ApiHandler
from shared.web.openapi import build_openapi, openapi_path, operations_of

SERVICES = [DeclarationService, RiskService, PaymentService, ReleaseService]


def routes(cls: type) -> set[tuple[str, str]]:
    """What nameko will serve: the (method, path) of every ApiHandler entrypoint."""
    found = set()
    for klass in cls.__mro__:
        for member in vars(klass).values():
            for entrypoint in getattr(member, "nameko_entrypoints", ()):
                if isinstance(entrypoint, ApiHandler):
                    found.add((entrypoint.method, openapi_path(entrypoint.url)))
    return found


@pytest.mark.parametrize("cls", SERVICES, ids=lambda c: c.name)
def test_the_document_lists_exactly_the_routes_served(cls: type) -> None:
    document = build_openapi("t", "1", operations_of(cls))
    documented = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item}
    assert documented == routes(cls)
    assert {"/health", "/ready", "/metrics", "/openapi.json"} <= set(document["paths"])


def test_path_parameters_and_bodies_come_from_the_declaration() -> None:
    document = build_openapi("t", "1", operations_of(RiskService))
    post = document["paths"]["/controls/{mrn}"]["post"]
    assert [p["name"] for p in post["parameters"]] == ["mrn"]
    assert "application/json" in post["requestBody"]["content"]
    assert {"201", "409", "422"} <= set(post["responses"])


def test_werkzeug_routes_become_openapi_paths() -> None:
    assert openapi_path("/holds/<string:mrn>/<agency>") == "/holds/{mrn}/{agency}"


@pytest.mark.parametrize("cls", SERVICES, ids=lambda c: c.name)
def test_the_document_shows_the_bearer_scheme_and_each_operations_roles(cls: type) -> None:
    document = build_openapi("t", "1", operations_of(cls))
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            declared = next(op for op in operations_of(cls)
                            if op.path == path and op.method.lower() == method)
            if declared.roles is None:
                assert operation["security"] == [] and "x-roles" not in operation
            else:
                assert operation["security"] == [{"bearer": []}]
                assert operation["x-roles"] == list(declared.roles)
                assert {"401", "403"} <= set(operation["responses"])
                if method == "post":
                    assert "415" in operation["responses"]


def _walk(value: object) -> list[dict]:  # type: ignore[type-arg]
    found = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@pytest.mark.parametrize("cls", SERVICES, ids=lambda c: c.name)
def test_the_document_is_valid_openapi_with_ecma_patterns_and_numeric_bounds(cls: type) -> None:
    """Issue 15: the risk document had `minimum: "0"` (a string) and every document Python's
    `\\Z`, which no OpenAPI tool reads; schemathesis validates the document as it loads it."""
    import re

    import schemathesis

    document = build_openapi("t", "1", operations_of(cls))
    schemathesis.openapi.from_dict(document)  # raises on an invalid document
    for node in _walk(document):
        for bound in ("minimum", "maximum", "minLength", "maxLength", "maxItems"):
            if bound in node:
                assert isinstance(node[bound], int) and not isinstance(node[bound], bool), node
        if isinstance(node.get("pattern"), str):
            assert "\\Z" not in node["pattern"] and "\\d" not in node["pattern"], node
            re.compile(node["pattern"])


@pytest.mark.parametrize("cls", SERVICES, ids=lambda c: c.name)
def test_errors_are_problems_and_bodies_declare_their_refusals(cls: type) -> None:
    document = build_openapi("t", "1", operations_of(cls))
    for item in document["paths"].values():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and not (int(status) == 503):
                    assert list(response["content"]) == ["application/problem+json"]
                else:
                    assert response.get("content"), (method, status)
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= set(operation["responses"])
            if any(p["in"] == "path" for p in operation.get("parameters", ())):
                assert "404" in operation["responses"]
            if "401" in operation["responses"]:
                assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]


def test_the_feeds_declare_their_query_bounds() -> None:
    notifications = build_openapi("t", "1", operations_of(ReleaseService))["paths"][
        "/notifications"]["get"]
    query = {p["name"]: p["schema"] for p in notifications["parameters"]}
    assert (query["limit"]["minimum"], query["limit"]["maximum"]) == (1, 10_000)
    assert query["after"]["minimum"] == 0 and "400" in notifications["responses"]
    feed = build_openapi("t", "1", operations_of(DeclarationService))["paths"][
        "/status-notifications"]["get"]
    assert {p["name"] for p in feed["parameters"]} == {"after", "limit"}
