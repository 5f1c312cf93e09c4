"""The risk domain imports nothing from the infrastructure.

Strategy: parse every module of services/risk/domain and list its imports (a static check:
it also covers imports inside functions and never executes the code).
"""

from __future__ import annotations

import ast
from pathlib import Path

import services.risk.domain as domain

FORBIDDEN = {"nameko", "sqlalchemy", "kombu", "structlog", "prometheus_client", "amqp", "pika"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_infrastructure_imports():
    modules = sorted(Path(domain.__file__).parent.glob("*.py"))
    assert len(modules) > 5
    for path in modules:
        roots = imported_roots(path)
        assert not roots & FORBIDDEN, (path.name, roots & FORBIDDEN)
        assert not any(root.startswith("prometheus") for root in roots), path.name
