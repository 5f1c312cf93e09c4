"""The risk service's draw key as processes see it: the runner's development key (made once
under the var folder, private, the same for processes that ask at once, and only when no
RISK_DRAW_KEY is set), a real risk service refusing to start without a usable key, and a
running one recording the id of the key it was given with each decision."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from services import runner
from services.risk.development import (
    dev_draw_environment,
    dev_key_path,
    ensure_dev_draw_key,
    read_dev_draw_key,
)
from services.risk.domain import DrawKey, keyed_draw
from shared.events.envelope import stream_name
from shared.testing.processes import TEST_DRAW_KEY, ServiceProcess, free_port
from shared.testing.rabbit import private_vhost
from shared.testing.waiting import wait_until

from .conftest import ROOT, Running, sample

ENSURE = ("import sys, time; from pathlib import Path;"
          "from services.risk.development import ensure_dev_draw_key;"
          "go = float(sys.argv[2]); time.sleep(max(0, go - time.time()));"
          "print(ensure_dev_draw_key(Path(sys.argv[1])).key_id)")


def test_the_development_key_is_made_once_private_and_reused(tmp_path: Path) -> None:
    var = tmp_path / "var"
    assert read_dev_draw_key(var) is None
    key = ensure_dev_draw_key(var)
    path = dev_key_path(var)
    assert path == var / "risk" / "draw.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert key.key_id.startswith("dev-draw-") and len(key.secret) == 32
    text = path.read_text()
    for _ in range(3):
        assert ensure_dev_draw_key(var) == key
    assert path.read_text() == text
    assert dev_draw_environment(var) == {"RISK_DRAW_KEY": key.text(),
                                         "RISK_DRAW_KEY_ID": key.key_id}
    path.chmod(0o644)  # someone made it readable: it is made private again, not replaced
    assert ensure_dev_draw_key(var) == key and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_processes_asking_at_once_get_the_same_key(tmp_path: Path) -> None:
    var, go = tmp_path / "var", time.time() + 1.5
    processes = [subprocess.Popen([sys.executable, "-c", ENSURE, str(var), str(go)], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
    results = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, results
    assert {out.strip() for out, _ in results} == {ensure_dev_draw_key(var).key_id}
    assert [p.name for p in (var / "risk").iterdir()] == ["draw.key"]  # no temporary left


def test_the_runner_gives_the_development_key_only_when_none_is_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    var = tmp_path / "var"
    monkeypatch.setattr(runner, "VAR", var)
    monkeypatch.delenv("RISK_DRAW_KEY", raising=False)
    first = runner.draw_environment()
    assert first == dev_draw_environment(var) and runner.draw_environment() == first
    monkeypatch.setenv("RISK_DRAW_KEY", TEST_DRAW_KEY)
    assert runner.draw_environment() == {}  # the environment's own key, passed through


@pytest.mark.parametrize(("key", "words"), [
    ("", "RISK_DRAW_KEY is not set"),
    ("abcdef0123", "RISK_DRAW_KEY is too short"),
    ("not a key at all, not even hexadecimal, and long enough to look like one....",
     "RISK_DRAW_KEY is malformed"),
])
def test_the_risk_service_refuses_to_start_without_a_usable_key(
        tmp_path: Path, key: str, words: str) -> None:
    with private_vhost("clearance_svc") as amqp_uri:
        config = {"AMQP_URI": amqp_uri, "EVENT_STORE_URL": f"sqlite:///{tmp_path}/store.db",
                  "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}", "serializer": "json",
                  "RISK_DRAW_KEY": key}
        process = ServiceProcess(["services.risk.service"], config, tmp_path, name="risk")
        process.start()
        try:
            wait_until(lambda: not process.alive, timeout=60,
                       message="the risk service to exit without a key")
        finally:
            process.stop()
        assert process.process is not None and process.process.returncode != 0
        assert words in process.output()


def test_a_running_risk_service_records_the_id_of_its_key(
        run_service: Callable[[str], Running]) -> None:
    running = run_service("risk")  # with the session's TEST_DRAW_KEY (see conftest)
    consignment = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
    running.accept(sample("01-green-paid.json"), "26GBK2M9Q4R8T1X9R1", consignment)
    (assessed, *_) = running.stream(stream_name("risk", consignment))
    key = DrawKey.parse(TEST_DRAW_KEY)
    assert assessed.type == "RiskAssessed" and assessed.version == 3  # the key id since 2
    assert assessed.data["draw_key_id"] == key.key_id
    assert assessed.data["draw"]["seed"] == keyed_draw(
        key, consignment, assessed.data["ruleset_version"]).seed
