"""The deployment's environment variables and their defaults, in one table.

Services read them through their `config.yaml` (`${VARIABLE:default}`, the same defaults);
the command line, the local runner and the tests read them here with `setting(name)`.
`tests/unit/test_settings.py` keeps each `config.yaml` default equal to this table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

SERVICES = ("declaration", "risk", "payment", "release")

DEFAULTS: Mapping[str, str] = {
    "AMQP_URI": "amqp://guest:guest@localhost:5672/",
    "EVENT_STORE_URL": "sqlite:///var/clearance.db",
    "DECLARATION_HTTP": "127.0.0.1:8001",
    "RISK_HTTP": "127.0.0.1:8002",
    "PAYMENT_HTTP": "127.0.0.1:8003",
    "RELEASE_HTTP": "127.0.0.1:8004",
    "REFERENCE_DATA_DIR": "",
    "RISK_RULESET_DIR": "",
    "RISK_RULESET_VERSION": "2026.1",
    "RISK_AEO_DIR": "",
    "RISK_AEO_VERSION": "2026.1",
    # The partner-agency register (YAML or JSON; empty: the packaged sample): shared/reference.
    "AGENCY_REGISTER_FILE": "",
    "RETRY_DELAYS": "1,5,30",
    "MAX_WORKERS": "10",
    # The HTTP servers' limits (shared/web/entrypoint.py, ProblemWebServer).
    "HTTP_SOCKET_TIMEOUT": "30",
    "HTTP_MAX_CONNECTIONS": "256",
    "EVENT_HANDLER_BATCH": "64",
    "EVENT_HANDLER_LINGER": "0.02",
    "LOG_LEVEL": "INFO",
    # The post-release amendment (UCC art. 173(3)): days after acceptance; 0: not offered.
    "POST_RELEASE_AMENDMENT_DAYS": "1095",
    # Identity (README, "Identity and access"): bearer tokens verified with a JWKS document.
    "AUTH_JWKS_FILE": "",
    "AUTH_JWKS_URL": "",
    "AUTH_ISSUER": "",
    "AUTH_AUDIENCE": "clearance",
    "AUTH_ROLES_CLAIM": "roles",
    "AUTH_ALLOW_DEV_KEY": "",
    # Integrity (README, "Integrity"): the keyed random draw, the sealed log, database roles.
    "RISK_DRAW_KEY": "",
    "RISK_DRAW_KEY_ID": "",
    "SEAL_KEY_FILE": "",
    "SEAL_PUBLIC_KEY_FILE": "",
    "SEAL_DIR": "",
    "EVENT_STORE_OWNER_URL": "",
    # PostgreSQL limits (seconds; 0: none): shared/eventstore/connections.py.
    "EVENT_STORE_CONNECT_TIMEOUT": "5",
    "EVENT_STORE_STATEMENT_TIMEOUT": "30",
    "EVENT_STORE_LOCK_TIMEOUT": "10",
    "EVENT_STORE_IDLE_TIMEOUT": "60",
}


def setting(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The variable's value from the environment, or its default (KeyError: not a setting)."""
    default = DEFAULTS[name]
    value = (os.environ if environ is None else environ).get(name, "")
    return value if value.strip() else default


def http_address(service: str, environ: Mapping[str, str] | None = None) -> str:
    """`host:port` of a service's HTTP server (`<SERVICE>_HTTP`)."""
    return setting(f"{service.upper()}_HTTP", environ)
