"""The payment domain and the reference loaders stay free of infrastructure.

Strategy: two independent checks, so neither a direct nor an indirect import slips through:
parse every module's imports (AST), and import the packages in a fresh interpreter and look
at what ended up in `sys.modules`. The documented examples (doctests) run too.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PURE_PACKAGES = ("services/payment/domain", "shared/reference")
FORBIDDEN = (
    "nameko",
    "sqlalchemy",
    "kombu",
    "structlog",
    "prometheus_client",
    "eventlet",
    "pika",
    "amqp",
    "psycopg2",
    "werkzeug",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_no_module_imports_infrastructure(package: str) -> None:
    files = sorted((ROOT / package).glob("*.py"))
    assert files
    for path in files:
        assert not _imports(path) & set(FORBIDDEN), path


def test_importing_the_domain_loads_no_infrastructure() -> None:
    code = (
        "import sys, services.payment.domain, shared.reference; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "module",
    ["shared.reference", "shared.reference.tariff", "services.payment.domain.duty"],
)
def test_the_documented_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
