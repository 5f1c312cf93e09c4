"""Every domain package stays pure (STYLE.md point 2): no nameko, SQLAlchemy, kombu, structlog,
prometheus, broker or database driver, and none of our own infrastructure packages.

Strategy: two independent checks, so neither a direct nor an indirect import slips through:
parse each module's imports (AST, full dotted names), and import the packages in a fresh
interpreter and look at what ended up in `sys.modules`. The published language
(`shared.events`), the reference data (`shared.reference`) and the caller as a value
(`shared.identity`, without its token verifier) are allowed: they are pure too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE_PACKAGES = {
    "services/declaration/domain": "services.declaration.domain",
    "services/risk/domain": "services.risk.domain",
    "services/payment/domain": "services.payment.domain",
    "services/release/domain": "services.release.domain",
    "shared/reference": "shared.reference",
}
FORBIDDEN = (
    "nameko", "sqlalchemy", "kombu", "structlog", "prometheus_client", "eventlet", "pika",
    "amqp", "psycopg2", "werkzeug", "alembic", "jwt", "cryptography",
    "shared.eventstore", "shared.messaging", "shared.observability", "shared.web",
    "shared.testing", "shared.identity.tokens", "shared.identity.development",
)


def forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("folder", sorted(PURE_PACKAGES))
def test_no_module_imports_infrastructure(folder: str) -> None:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files
    offenders = {p.name: sorted(n for n in imports(p) if forbidden(n)) for p in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_domains_loads_no_infrastructure() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in PURE_PACKAGES.values())
        + f"FORBIDDEN = {FORBIDDEN!r}\n"
        "print(sorted(m for m in sys.modules if any(m == f or m.startswith(f + '.') "
        "for f in FORBIDDEN)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"
