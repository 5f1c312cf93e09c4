"""The declaration domain imports nothing from the infrastructure (STYLE.md, point 2).

Strategy: parse every module under `services/declaration/domain` and fail on an import of
nameko, SQLAlchemy, kombu, structlog, prometheus, or marshmallow (schemas live outside the
domain), or of another part of the project than the domain itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import services.declaration.domain as domain

FORBIDDEN = {
    "nameko",
    "sqlalchemy",
    "kombu",
    "structlog",
    "prometheus_client",
    "marshmallow",
    "eventlet",
    "amqp",
    "pika",
    "psycopg2",
    "werkzeug",
    "shared",
    "yaml",
}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_domain_imports_no_infrastructure() -> None:
    modules = sorted(Path(domain.__file__).parent.glob("*.py"))
    assert len(modules) >= 6
    offenders = {
        path.name: sorted(imported_roots(path) & FORBIDDEN)
        for path in modules
        if imported_roots(path) & FORBIDDEN
    }
    assert offenders == {}
