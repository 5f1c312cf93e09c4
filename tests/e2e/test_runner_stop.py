"""The front door's stop, timed on the real services: `make stop`, Ctrl-C on `make run`, and
`services.runner stop` with a hung service stop all four services at once, within 3 s, and
leave no process of theirs and no listening port behind. `make start` after a service was
killed, and left a zombie by a parent that does not reap, starts it again.

Each test starts the four services as `make start` does (`python -m services.runner start`)
on free ports, a private vhost and a SQLite store of their own. Processes are checked through
/proc (each service leads its own process group), ports by connecting to them.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shared.testing.databases import sqlite_url
from shared.testing.rabbit import private_vhost

from .conftest import ROOT, SERVICES, cluster_env

LIMIT = 3.0  # seconds: the whole stop, from the command (or the Ctrl-C) to its exit
# `make` without remaking the installed-venv stamp: the timed recipe is the stop itself.
MAKE = ["make", "-s", "-o", ".venv/.installed"]


def state(pid: int) -> str | None:
    """The process state letter from /proc/<pid>/stat (Z: zombie), None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return text.rsplit(")", 1)[1].split()[0]


def live(pid: int) -> bool:
    return state(pid) not in (None, "Z", "X")


def group(pgid: int) -> set[int]:
    """The live processes of process group `pgid`."""
    members = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            if fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
                members.add(int(entry.name))
    return members


def listening(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Services:
    env: dict[str, str]
    var: Path
    seen: set[int] = field(default_factory=set)  # every process of theirs seen, for cleanup
    groups: set[int] = field(default_factory=set)  # their process groups (one per service)

    def runner(self, action: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "services.runner", action], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=timeout)

    def start(self) -> None:
        started = self.runner("start")
        assert started.returncode == 0, started.stdout + started.stderr + self.logs()
        self.processes()

    def pids(self) -> dict[str, int]:
        return {s: int((self.var / "run" / f"{s}.pid").read_text()) for s in SERVICES}

    def processes(self) -> set[int]:
        """Every live process of the four services' process groups (and remember them)."""
        self.groups |= set(self.pids().values())
        found = {pid for pgid in self.pids().values() for pid in group(pgid)}
        self.seen |= found
        return found

    def addresses(self) -> dict[str, str]:
        return {s: self.env[f"{s.upper()}_HTTP"] for s in SERVICES}

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n" + p.read_text()[-2000:]
                         for p in sorted((self.var / "log").glob("*.log")))

    def assert_all_running(self) -> set[int]:
        processes = self.processes()
        assert set(self.pids().values()) <= processes, self.logs()
        assert all(listening(a) for a in self.addresses().values())
        return processes

    def assert_nothing_left(self, processes: set[int]) -> None:
        assert not [pid for pid in processes if live(pid)], "a service process is still alive"
        assert not [pgid for pgid in self.groups if group(pgid)], "a process group is left"
        assert not [a for a in self.addresses().values() if listening(a)], "a port still listens"
        assert not list((self.var / "run").glob("*.pid")), "pid files left"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """The four services' environment; whatever a test leaves running is killed afterwards."""
    with private_vhost("clearance_stop") as amqp_uri:
        env = cluster_env(sqlite_url(tmp_path), amqp_uri, tmp_path / "var")
        deployed = Services(env, tmp_path / "var")
        try:
            yield deployed
        finally:
            for pid in deployed.seen:
                if live(pid):
                    os.kill(pid, signal.SIGCONT)
                    os.kill(pid, signal.SIGKILL)


def test_make_stop_stops_the_four_services_at_once_within_3s(services: Services) -> None:
    services.start()
    processes = services.assert_all_running()

    began = time.monotonic()
    stopped = subprocess.run([*MAKE, "stop"], cwd=ROOT, env=services.env, capture_output=True,
                             text=True, timeout=60)
    took = time.monotonic() - began

    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert took < LIMIT, f"make stop took {took:.1f}s:\n{stopped.stdout}"
    services.assert_nothing_left(processes)
    for service in SERVICES:
        assert f"{service}: " in stopped.stdout


def test_a_hung_service_is_killed_within_the_limit(services: Services) -> None:
    services.start()
    processes = services.assert_all_running()
    hung = services.pids()["risk"]
    os.kill(hung, signal.SIGSTOP)  # it can no longer handle SIGTERM
    deadline = time.monotonic() + 5
    while state(hung) != "T" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state(hung) == "T", "the service should be stopped (hung)"

    began = time.monotonic()
    stopped = services.runner("stop", timeout=60)
    took = time.monotonic() - began

    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert took < LIMIT, f"stop took {took:.1f}s with a hung service:\n{stopped.stdout}"
    assert "risk: killed after" in stopped.stdout
    services.assert_nothing_left(processes)


def test_ctrl_c_on_make_run_stops_the_four_services_within_3s(services: Services,
                                                              tmp_path: Path) -> None:
    output = tmp_path / "make-run.out"
    with open(output, "wb") as out:
        # Its own session, as a terminal's foreground job: Ctrl-C is SIGINT to the whole group.
        run = subprocess.Popen([*MAKE, "run"], cwd=ROOT, env=services.env, stdout=out,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while "Serving:" not in output.read_text() and time.monotonic() < deadline:
            assert run.poll() is None, output.read_text()
            time.sleep(0.2)
        assert "Serving:" in output.read_text(), output.read_text()
        processes = services.assert_all_running()

        began = time.monotonic()
        os.killpg(run.pid, signal.SIGINT)
        run.wait(60)
        took = time.monotonic() - began
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)

    text = output.read_text()
    assert took < LIMIT, f"Ctrl-C on make run took {took:.1f}s to stop:\n{text[-2000:]}"
    services.assert_nothing_left(processes)
    for service in SERVICES:
        assert f"{service}: stopped" in text or f"{service}: killed" in text, text[-2000:]


PR_SET_CHILD_SUBREAPER = 36


def set_subreaper(on: bool) -> None:
    """Make this process the parent of its orphaned descendants (as a container's init is),
    without reaping them: a killed service then stays a zombie."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0, os.strerror(
        ctypes.get_errno())


def test_make_start_restarts_a_service_that_was_killed_and_left_a_zombie(
        services: Services) -> None:
    set_subreaper(True)
    orphans: set[int] = set()
    try:
        services.start()  # the runner exits: the services become this process's children
        services.assert_all_running()
        killed = services.pids()["risk"]
        orphans |= set(services.pids().values())
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while state(killed) != "Z" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state(killed) == "Z", "the killed service should be a zombie nobody reaped"

        status = services.runner("status")
        assert status.returncode == 1 and "risk" in status.stdout
        assert [line for line in status.stdout.splitlines() if line.startswith("risk")][0] \
            .split()[1] == "stopped", status.stdout

        started = subprocess.run([*MAKE, "start"], cwd=ROOT, env=services.env,
                                 capture_output=True, text=True, timeout=180)
        assert started.returncode == 0, started.stdout + started.stderr + services.logs()
        assert "risk: already running" not in started.stdout
        assert "declaration: already running" in started.stdout
        restarted = services.pids()["risk"]
        orphans |= set(services.pids().values())
        assert restarted != killed and live(restarted)
        processes = services.assert_all_running()
        assert services.runner("status").returncode == 0

        stopped = services.runner("stop", timeout=60)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        services.assert_nothing_left(processes)
    finally:
        set_subreaper(False)
        for pid in orphans | services.seen:
            try:
                if live(pid):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def test_make_start_never_stops_a_healthy_service_and_ignores_a_stale_pid_file(
        services: Services) -> None:
    """One service cannot start (another program holds its port): `start` fails naming it,
    and the three that were running keep running, untouched. A pid file naming another
    program's process (a pid reused) does not count as running: the next start heals."""
    services.start()
    before = services.pids()
    processes = services.assert_all_running()
    os.killpg(before["risk"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while group(before["risk"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group(before["risk"])
    stranger = subprocess.Popen(["sleep", "300"])
    pid_file = services.var / "run" / "risk.pid"
    try:
        pid_file.write_text(str(stranger.pid))  # a pid the system gave to another program
        host, _, port = services.addresses()["risk"].rpartition(":")
        squatter = socket.socket()
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((host, int(port)))
        squatter.listen()
        try:
            failed = services.runner("start")
        finally:
            squatter.close()
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "risk exited" in failed.stderr, failed.stderr
        assert not pid_file.exists()  # the failed start cleaned up after itself only
        for service in ("declaration", "payment", "release"):
            after = int((services.var / "run" / f"{service}.pid").read_text())
            assert after == before[service] and live(before[service]), service
            assert listening(services.addresses()[service]), service
        assert stranger.poll() is None, "the runner must not touch another program's process"

        pid_file.write_text(str(stranger.pid))
        services.start()  # the port is free again: only risk is started
        healed = services.pids()
        assert healed["risk"] not in (before["risk"], stranger.pid)
        assert {s: healed[s] for s in healed if s != "risk"} == \
            {s: before[s] for s in before if s != "risk"}
        processes |= services.assert_all_running()
        assert services.runner("status").returncode == 0
    finally:
        stranger.kill()
        stranger.wait()
    stopped = services.runner("stop", timeout=60)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    services.assert_nothing_left(processes)
