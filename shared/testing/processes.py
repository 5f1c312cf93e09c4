"""Real service processes for tests: `python -m nameko run --config <file> module:Service`
(or, with `module=JSON_LOGGING_RUN`, the same through `shared.observability.logging`, which
makes every line of the process JSON from its first).

The risk service refuses to start without a draw key: a risk service started here gets
`TEST_DRAW_KEY` (one random key per test session) unless its config or `env` names
RISK_DRAW_KEY itself (an empty value included: a test of the refusal)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO_ROOT = Path(__file__).resolve().parents[2]
JSON_LOGGING_RUN = "shared.observability.logging"
RISK_SERVICE = "services.risk.service"


def new_draw_key() -> str:
    """A random draw key's text (64 hex digits; never all digits, which YAML reads as a
    number)."""
    while (text := secrets.token_hex(32)).isdigit():
        pass
    return text


TEST_DRAW_KEY = new_draw_key()


def draw_key_environment(key: str = TEST_DRAW_KEY) -> dict[str, str]:
    """The setting under which a risk service draws with `key` (its id derived from it)."""
    return {"RISK_DRAW_KEY": key}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """One `nameko run` subprocess; its output goes to `<directory>/<name>.log`."""

    def __init__(
        self,
        services: Sequence[str],
        config: Mapping[str, Any],
        directory: Path,
        *,
        name: str = "service",
        env: Mapping[str, str] | None = None,
        module: str = "nameko",
        config_file: Path | None = None,
    ) -> None:
        self.services = list(services)
        self.config = dict(config)
        self.directory = directory
        self.name = name
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.module = module  # run as `python -m <module> run ...`
        # an existing nameko config (e.g. a service's own config.yaml) instead of `config`
        self.config_path = config_file or directory / f"{name}.yaml"
        self.config_file = config_file
        self.log_path = directory / f"{name}.log"
        self._log: IO[bytes] | None = None

    def start(self) -> ServiceProcess:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f"{self.name} is already running")
        config, env = self.config, {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        if self._runs_risk() and "RISK_DRAW_KEY" not in self.config and (
                "RISK_DRAW_KEY" not in self.env):
            if self.config_file is None:
                config = {**config, **draw_key_environment()}
            elif not env.get("RISK_DRAW_KEY"):
                env.update(draw_key_environment())
        if self.config_file is None:
            self.config_path.write_text(yaml.safe_dump(config))
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _reap
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, "run", "--config", str(self.config_path),
             *self.services],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def _runs_risk(self) -> bool:
        return any(s == RISK_SERVICE or s.startswith(f"{RISK_SERVICE}:") for s in self.services)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind (a crash)."""
        if self.alive:
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGKILL)
        self._reap(10)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (nameko stops gracefully), then SIGKILL after `timeout`."""
        if self.alive:
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._reap(10)

    def _reap(self, timeout: float) -> None:
        if self.process is not None:
            self.process.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def check_alive(self) -> None:
        if not self.alive:
            raise AssertionError(f"{self.name} exited:\n{self.output()[-5000:]}")


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the Prometheus endpoint on `port`, by (name, labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode("utf-8")
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = float(sample.value)
    return samples


def scraped(port: int, name: str, labels: Mapping[str, str] | None = None) -> float:
    """One sample's value from the endpoint on `port` (0 when absent or unreachable)."""
    try:
        return scrape(port).get((name, frozenset((labels or {}).items())), 0.0)
    except OSError:
        return 0.0
