"""The fuzz runs' cluster (the four services as `make start` starts them, on SQLite and a
private vhost of the real broker, as tests/e2e does) and the figures printed at the end of
the session: requests, failures, 5xx answers (`make fuzz` runs it at full size)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.testing import databases
from shared.testing.rabbit import private_vhost
from tests.e2e.conftest import Cluster, _running

from .fuzzing import Run

RUNS: list[Run] = []


@pytest.fixture(scope="session")
def fuzz_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp_path = tmp_path_factory.mktemp("fuzz-cluster")
    with private_vhost("clearance_fuzz") as amqp_uri:
        yield from _running(databases.sqlite_url(tmp_path), amqp_uri, tmp_path / "var")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RUNS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fuzz (schemathesis, all checks)")
    for run in RUNS:
        write(f"{run.label:<24} {run.operations:>3} operations {run.requests:>7} requests "
              f"{len(run.failures):>3} failures {run.server_errors:>3} 5xx")
    write(f"{'total':<24} {sum(r.operations for r in RUNS):>3} operations "
          f"{sum(r.requests for r in RUNS):>7} requests "
          f"{sum(len(r.failures) for r in RUNS):>3} failures "
          f"{sum(r.server_errors for r in RUNS):>3} 5xx")
