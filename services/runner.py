"""Run the four services locally as background processes: `make start` / `make stop`.

    python -m services.runner start     # broker check, then the four services; waits until ready
    python -m services.runner stop      # all four at once: SIGTERM, a grace period, then SIGKILL
    python -m services.runner status

Each service is its own `nameko run --config services/<name>/config.yaml services.<name>.service`
process (started through `python -m shared.observability.logging run`, so that every line it
writes is JSON), leader of its own process group; logs go to `var/log/<name>.log`, pid files
to `var/run/<name>.pid`. The environment (AMQP_URI, EVENT_STORE_URL, *_HTTP, ...) is passed
through unchanged; the defaults are those of `shared.settings`. Two development defaults fill
in what the environment does not set: the identity signing key under `var/auth/` (no JWKS
configured) and the risk draw key `var/risk/draw.key` (no RISK_DRAW_KEY).

A pid file is trusted only while its process is alive (not a zombie) and is that service's
`nameko run`: a service that was killed, or a pid the system has since given to another
program, counts as stopped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from shared.settings import SERVICES, http_address, setting

ROOT = Path(__file__).resolve().parents[1]
VAR = Path(os.environ.get("CLEARANCE_VAR", ROOT / "var"))
PROC = Path("/proc")

# `stop`: a service that has not exited this long after SIGTERM is killed. nameko's graceful
# stop takes 1.5 to 2.4 s when the four stop together on two cores: the relays save their
# checkpoints and release their leases within the first second, then each consumer waits up to
# a second for its last drain. A killed service loses nothing: its relay's events are published
# again by the next holder of its lease (the inboxes drop the repeats), unacknowledged
# deliveries go back to their queues.
GRACE = 2.3
# ... and then this long for the kernel to take the killed processes and their ports away.
KILL_WAIT = 0.8


def pid_file(service: str) -> Path:
    return VAR / "run" / f"{service}.pid"


def log_file(service: str) -> Path:
    return VAR / "log" / f"{service}.log"


# -- processes ----------------------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, ...)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


# The wait status of each child `alive` reaped (to tell how a service that died ended).
_ENDED: dict[int, int] = {}


def alive(pid: int) -> bool:
    """Whether `pid` is a live process: not gone, not a zombie. A zombie child of this process
    is reaped on the way."""
    try:
        reaped, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    else:
        if reaped == pid:
            _ENDED[pid] = status
    if not PROC.is_dir():  # no procfs: a zombie would count as alive here
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X", "x")


def _is_service(pid: int, service: str) -> bool:
    """Whether `pid` runs `nameko run ... services.<service>.service` (pids are reused)."""
    try:
        arguments = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:  # no procfs: trust the pid file
        return True
    return f"services.{service}.service".encode() in arguments


def running_pid(service: str) -> int | None:
    """The pid of the service's live process, from its pid file; None when it is not running."""
    try:
        pid = int(pid_file(service).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if pid <= 0 or not alive(pid) or not _is_service(pid, service):
        return None
    return pid


def group_members(pgid: int) -> list[int]:
    """The live processes of process group `pgid` (each service leads its own group)."""
    if not PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[2] == str(pgid) and alive(int(entry.name)):
                members.append(int(entry.name))
    return members


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def listening(address: str) -> bool:
    """Whether something accepts TCP connections at `host:port`."""
    host, _, port = address.rpartition(":")
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=0.2):
            return True
    except OSError:
        return False


# -- broker -------------------------------------------------------------------------------------

def broker_reachable(uri: str) -> bool:
    from kombu.connection import Connection

    try:
        with Connection(uri, connect_timeout=3) as connection:  # type: ignore[no-untyped-call]
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


def ensure_broker() -> None:
    """Reach the broker; start a local rabbitmq-server if one is installed and stopped."""
    uri = setting("AMQP_URI")
    if broker_reachable(uri):
        return
    server = shutil.which("rabbitmq-server")
    if server is None:
        sys.exit(
            f"The broker at {uri} is not reachable and RabbitMQ is not installed here.\n"
            "Install it (Debian/Ubuntu: `sudo apt-get install rabbitmq-server`), or point "
            "AMQP_URI at a running RabbitMQ, then run this again."
        )
    print("starting the local RabbitMQ (rabbitmq-server -detached) ...", flush=True)
    subprocess.run([server, "-detached"], check=False)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if broker_reachable(uri):
            return
        time.sleep(1)
    sys.exit(f"RabbitMQ was started but {uri} is still not reachable; see its logs.")


# -- commands -----------------------------------------------------------------------------------

def is_ready(service: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{http_address(service)}/ready", timeout=2) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def identity_environment() -> dict[str, str]:
    """The environment's AUTH_* settings when it names a JWKS; otherwise the embedded default:
    the development signing key under var/auth/ (made if missing), trusted explicitly."""
    if setting("AUTH_JWKS_FILE") or setting("AUTH_JWKS_URL"):
        return {}
    from shared.identity.development import dev_environment

    return dev_environment(VAR)


def draw_environment() -> dict[str, str]:
    """Nothing when the environment sets RISK_DRAW_KEY (passed through as it is); otherwise
    the development draw key under var/risk/ (made once, then reused), for the risk service
    alone: it refuses to start without a key."""
    if setting("RISK_DRAW_KEY"):
        return {}
    from services.risk.development import dev_draw_environment

    return dev_draw_environment(VAR)


def migrate_schema() -> bool:
    """On PostgreSQL the services do not migrate the schema (they connect as a role that may
    not): `clearance migrate` brings it to the head as the owner (EVENT_STORE_OWNER_URL, or
    EVENT_STORE_URL) before they start. SQLite, embedded, is migrated by the services."""
    if not setting("EVENT_STORE_URL").startswith("postgresql"):
        return True
    done = subprocess.run([sys.executable, "-m", "cli.main", "migrate"], cwd=ROOT,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        print(f"clearance migrate failed (exit {done.returncode}); no service started:\n"
              f"{done.stderr.strip()}", file=sys.stderr)
        return False
    return True


def convert_queues() -> bool:
    """With the stack stopped, make the broker's queues the topology's (as `clearance queues
    convert`: e.g. classic queues a former version declared, converted to quorum, their
    messages kept), so that the services can declare theirs."""
    from amqp.exceptions import AMQPError

    from services.topology import TOPOLOGY
    from shared.messaging.convert import convert_queues as convert

    try:
        converted = convert(setting("AMQP_URI"), TOPOLOGY.all_queue_specs(), TOPOLOGY.exchanges())
    except (AMQPError, OSError, RuntimeError) as exc:
        print(f"converting the broker's queues failed ({type(exc).__name__}: {exc}); no"
              " service started. Run `clearance queues convert` as the operator.",
              file=sys.stderr)
        return False
    for conversion in converted:
        print(f"broker: converted {conversion.queue} to the topology's queue"
              f" ({conversion.moved} messages carried over)")
    return True


def start(timeout: float = 90.0) -> int:
    ensure_broker()
    (VAR / "run").mkdir(parents=True, exist_ok=True)
    (VAR / "log").mkdir(parents=True, exist_ok=True)
    identity = identity_environment()
    if identity:
        print(f"identity: the development signing key ({_shown(VAR / 'auth')}); "
              "`clearance token --role ROLE` signs tokens with it")
    if not migrate_schema():
        return 1
    if not any(running_pid(service) for service in SERVICES) and not convert_queues():
        return 1
    draw = draw_environment()
    if draw:
        print(f"risk: the development draw key {draw['RISK_DRAW_KEY_ID']} "
              f"({_shown(VAR / 'risk' / 'draw.key')}); set RISK_DRAW_KEY for your own")
    started: dict[str, subprocess.Popen[bytes]] = {}
    for service in SERVICES:
        pid = running_pid(service)
        if pid is not None:
            print(f"{service}: already running (pid {pid})")
            continue
        with open(log_file(service), "ab") as log:
            process = started[service] = subprocess.Popen(
                [sys.executable, "-m", "shared.observability.logging", "run",
                 "--config", f"services/{service}/config.yaml", f"services.{service}.service"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **identity, **(draw if service == "risk" else {}),
                     "SERVICE_NAME": service},
            )
        pid_file(service).write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    pending = list(SERVICES)
    while pending and time.monotonic() < deadline:
        pending = [s for s in pending if not is_ready(s)]
        for service in pending:
            if not running_pid(service):
                print(f"{service} exited{_how(started.get(service))}; the end of"
                      f" {log_file(service)}:", file=sys.stderr)
                print("".join(log_file(service).read_text().splitlines(True)[-30:]),
                      file=sys.stderr)
                # Only what this run started is stopped: a service that was already
                # running (healthy) keeps running.
                stop(only=started)
                return 1
        time.sleep(0.3)
    if pending:
        print(f"not ready after {timeout:.0f}s: {', '.join(pending)} (logs in {VAR / 'log'})",
              file=sys.stderr)
        return 1
    for service in SERVICES:
        print(f"{service:12} ready  http://{http_address(service)}  pid {running_pid(service)}"
              f"  log {_shown(log_file(service))}")
    return 0


def _how(process: subprocess.Popen[bytes] | None) -> str:
    """How a service this runner started ended: its exit status or the signal that killed it
    (a process that dies before writing its log says nothing else)."""
    if process is None:
        return ""
    if process.pid in _ENDED:
        code = os.waitstatus_to_exitcode(_ENDED[process.pid])
    else:
        try:
            code = process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return f" (pid {process.pid} no longer runs the service)"
    if code < 0:
        return f" (killed by {signal.Signals(-code).name})"
    return f" (exit status {code})"


def _wait(groups: Iterable[int], until: float) -> set[int]:
    """Wait until every group is empty or `until` passes; the groups still populated."""
    left = set(groups)
    while True:
        left = {pgid for pgid in left if group_members(pgid)}
        if not left or time.monotonic() >= until:
            return left
        time.sleep(0.05)


def stop(grace: float = GRACE, only: Iterable[str] | None = None) -> int:
    """Stop the four services (or `only` those) at once: SIGTERM to every process group,
    SIGKILL to those still there after `grace` seconds; then check that their HTTP ports are
    free. Exit 1 if a process or a listening port is left."""
    # A second Ctrl-C on `make run` must not cut the stop short: it takes a few seconds at most.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    chosen = SERVICES if only is None else tuple(s for s in SERVICES if s in set(only))
    groups = {service: pid for service in chosen if (pid := running_pid(service)) is not None}
    for pgid in groups.values():
        _signal_group(pgid, signal.SIGTERM)
    started = time.monotonic()
    hung = _wait(groups.values(), started + grace)
    for pgid in hung:
        _signal_group(pgid, signal.SIGKILL)
    left = _wait(hung, time.monotonic() + KILL_WAIT)
    code = 0
    for service in chosen:
        if service not in groups:
            pid_file(service).unlink(missing_ok=True)
        elif groups[service] in left:
            print(f"{service}: process group {groups[service]} still there after SIGKILL",
                  file=sys.stderr)
            code = 1
        else:
            pid_file(service).unlink(missing_ok=True)
            how = f"killed after {grace:g}s" if groups[service] in hung else "stopped"
            print(f"{service}: {how}")
    ports = {service: http_address(service) for service, pgid in groups.items()
             if pgid not in left}
    until = time.monotonic() + KILL_WAIT
    while (busy := [s for s, a in ports.items() if listening(a)]) and time.monotonic() < until:
        time.sleep(0.05)
    for service in busy:
        print(f"{service}: {ports[service]} still accepts connections after the service stopped"
              " (another program listens there)", file=sys.stderr)
        code = 1
    if groups:
        print(f"stopped in {time.monotonic() - started:.1f}s")
    return code


def status() -> int:
    code = 0
    for service in SERVICES:
        pid = running_pid(service)
        state = "ready" if pid and is_ready(service) else ("starting" if pid else "stopped")
        code = code or (0 if state == "ready" else 1)
        print(f"{service:12} {state:9} http://{http_address(service)}")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the four services locally.")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--grace", type=float, default=GRACE,
                        help=f"stop: seconds before SIGKILL (default {GRACE:g})")
    args = parser.parse_args(argv)
    if args.action == "stop":
        return stop(args.grace)
    return {"start": start, "status": status}[args.action]()


if __name__ == "__main__":
    sys.exit(main())
