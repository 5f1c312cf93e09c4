"""End-to-end strategy: the four services as real processes, started as `make start` starts
them (`python -m services.runner start`), on the real broker (a private vhost per cluster) and
a store of their own (SQLite file or a new PostgreSQL database). Tests talk to them only over
HTTP and AMQP, as brokers, officers and partner agencies do, and read the log to check that
nothing was left behind by refused documents.

With no JWKS configured, the runner makes the services trust the development signing key under
the cluster's var folder (`var/auth/`); tests act with real tokens signed by that key
(`cluster.token(roles, ...)`, or `cluster.parties(entries)` for the demo's three parties).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cli import demo
from shared.identity.development import mint
from shared.testing import databases
from shared.testing.processes import free_port
from shared.testing.rabbit import private_vhost

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("declaration", "risk", "payment", "release")


@dataclass(frozen=True)
class Cluster:
    env: dict[str, str]
    store_url: str
    amqp_uri: str
    var: Path

    def run(self, *args: str, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """`args` run in the checkout with the cluster's environment (or `env`)."""
        return subprocess.run(list(args), cwd=ROOT, env=env or self.env, capture_output=True,
                              text=True, timeout=timeout)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n" + p.read_text()[-3000:]
                         for p in sorted((self.var / "log").glob("*.log")))

    def token(self, roles: Sequence[str], **claims: Any) -> str:
        """A bearer token the cluster's services accept: signed by the development key under
        its var folder, with `roles` and `claims` (sub, eori, offices, agency, ttl; see
        `shared.identity.development.mint`)."""
        return mint(self.var, roles=roles, **claims)

    def parties(self, entries: list[demo.Entry]) -> demo.Parties:
        """The demo's broker, officer and cashier for `entries`, with this cluster's key."""
        return demo.Parties.for_entries(entries, self.var)


def cluster_env(store_url: str, amqp_uri: str, var: Path,
                extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "EVENT_STORE_URL": store_url, "AMQP_URI": amqp_uri,
           "CLEARANCE_VAR": str(var), "RETRY_DELAYS": "0.2,0.5,1", "LOG_LEVEL": "WARNING",
           **(extra or {})}
    for service in SERVICES:
        env[f"{service.upper()}_HTTP"] = f"127.0.0.1:{free_port()}"
    return env


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def cluster(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The four services running on one backend (parametrised: SQLite, then PostgreSQL);
    shared by the tests of a module."""
    yield from running_cluster(request, tmp_path_factory)


def running_cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                    extra: dict[str, str] | None = None) -> Iterator[Cluster]:
    """The four services on the backend `request.param` names, with `extra` environment."""
    tmp_path = tmp_path_factory.mktemp(f"cluster-{request.param}")
    with private_vhost("clearance_e2e") as amqp_uri:
        if request.param == "sqlite":
            yield from _running(databases.sqlite_url(tmp_path), amqp_uri, tmp_path / "var",
                                extra)
        else:
            with databases.postgres_database() as url:
                yield from _running(url, amqp_uri, tmp_path / "var", extra)


def _running(store_url: str, amqp_uri: str, var: Path,
             extra: dict[str, str] | None = None) -> Iterator[Cluster]:
    cluster = Cluster(cluster_env(store_url, amqp_uri, var, extra), store_url, amqp_uri, var)
    started = cluster.run(sys.executable, "-m", "services.runner", "start", timeout=180)
    try:
        assert started.returncode == 0, started.stdout + started.stderr + cluster.logs()
        yield cluster
    finally:
        cluster.run(sys.executable, "-m", "services.runner", "stop", timeout=120)
