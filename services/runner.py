"""Run the four services locally as background processes: `make start` / `make stop`.

    python -m services.runner start     # broker check, then the four services; waits until ready
    python -m services.runner stop
    python -m services.runner status

Each service is its own `nameko run --config services/<name>/config.yaml services.<name>.service`
process; logs go to `var/log/<name>.log`, pid files to `var/run/<name>.pid`. The environment
(AMQP_URI, EVENT_STORE_URL, *_HTTP, ...) is passed through unchanged.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from kombu.connection import Connection

ROOT = Path(__file__).resolve().parents[1]
VAR = Path(os.environ.get("CLEARANCE_VAR", ROOT / "var"))
SERVICES = ("declaration", "risk", "payment", "release")
DEFAULT_HTTP = {"declaration": "127.0.0.1:8001", "risk": "127.0.0.1:8002",
                "payment": "127.0.0.1:8003", "release": "127.0.0.1:8004"}
DEFAULT_AMQP = "amqp://guest:guest@localhost:5672/"


def http_address(service: str) -> str:
    return os.environ.get(f"{service.upper()}_HTTP", DEFAULT_HTTP[service])


def pid_file(service: str) -> Path:
    return VAR / "run" / f"{service}.pid"


def log_file(service: str) -> Path:
    return VAR / "log" / f"{service}.log"


def running_pid(service: str) -> int | None:
    try:
        pid = int(pid_file(service).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def broker_reachable(uri: str) -> bool:
    try:
        with Connection(uri, connect_timeout=3) as connection:  # type: ignore[no-untyped-call]
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


def ensure_broker() -> None:
    """Reach the broker; start a local rabbitmq-server if one is installed and stopped."""
    uri = os.environ.get("AMQP_URI", DEFAULT_AMQP)
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


def is_ready(service: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{http_address(service)}/ready", timeout=2) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start(timeout: float = 90.0) -> int:
    ensure_broker()
    (VAR / "run").mkdir(parents=True, exist_ok=True)
    (VAR / "log").mkdir(parents=True, exist_ok=True)
    nameko = Path(sys.executable).with_name("nameko")
    started = []
    for service in SERVICES:
        if running_pid(service):
            print(f"{service}: already running (pid {running_pid(service)})")
            continue
        with open(log_file(service), "ab") as log:
            process = subprocess.Popen(
                [str(nameko), "run", "--config", f"services/{service}/config.yaml",
                 f"services.{service}.service"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env={**os.environ, "SERVICE_NAME": service},
            )
        pid_file(service).write_text(str(process.pid))
        started.append(service)
    deadline = time.monotonic() + timeout
    pending = list(SERVICES)
    while pending and time.monotonic() < deadline:
        pending = [s for s in pending if not is_ready(s)]
        for service in pending:
            if not running_pid(service):
                print(f"{service} exited; the end of {log_file(service)}:", file=sys.stderr)
                print("".join(log_file(service).read_text().splitlines(True)[-30:]),
                      file=sys.stderr)
                stop()
                return 1
        time.sleep(0.3)
    if pending:
        print(f"not ready after {timeout:.0f}s: {', '.join(pending)} (logs in {VAR / 'log'})",
              file=sys.stderr)
        return 1
    for service in SERVICES:
        print(f"{service:12} ready  http://{http_address(service)}  pid {running_pid(service)}"
              f"  log {log_file(service).relative_to(ROOT) if log_file(service).is_relative_to(ROOT) else log_file(service)}")
    return 0


def stop(timeout: float = 20.0) -> int:
    for service in SERVICES:
        pid = running_pid(service)
        if pid is None:
            pid_file(service).unlink(missing_ok=True)
            continue
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while running_pid(service) and time.monotonic() < deadline:
            time.sleep(0.1)
        if running_pid(service):
            os.killpg(pid, signal.SIGKILL)
        pid_file(service).unlink(missing_ok=True)
        print(f"{service}: stopped")
    return 0


def status() -> int:
    code = 0
    for service in SERVICES:
        pid = running_pid(service)
        state = "ready" if pid and is_ready(service) else ("starting" if pid else "stopped")
        code = code or (0 if state == "ready" else 1)
        print(f"{service:12} {state:9} http://{http_address(service)}")
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the four services locally.")
    parser.add_argument("action", choices=["start", "stop", "status"])
    args = parser.parse_args()
    return {"start": start, "stop": stop, "status": status}[args.action]()


if __name__ == "__main__":
    sys.exit(main())
