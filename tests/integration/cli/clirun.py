"""The real `clearance` in a child process (`python -m cli.main` of this tree), with its stderr
on a pipe or on a pseudo-terminal, as a user at a terminal would have it.

(No `__init__.py` in this folder: a package named `cli` here would shadow the real one.)
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from services.declaration.domain.identifiers import format_mrn
from shared.events.catalog import registry
from shared.events.declaration import DeclarationAccepted, DeclarationReceived
from shared.eventstore import EventStore

ROOT = Path(__file__).resolve().parents[3]
COLUMNS = 100


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str  # what the command wrote on stderr (on a terminal: every byte it wrote there)


def environment(url: str | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment less tqdm's settings, with this tree first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TQDM_")}
    env["PYTHONPATH"] = str(ROOT)
    if url is None:
        env.pop("EVENT_STORE_URL", None)
    else:
        env["EVENT_STORE_URL"] = url
    env.update(extra or {})
    return env


def clearance(*args: str, url: str | None, tty: bool = False,
              env: Mapping[str, str] | None = None, timeout: float = 180.0) -> Run:
    command = [sys.executable, "-m", "cli.main", *args]
    environ = environment(url, env)
    if not tty:
        done = subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        return Run(done.returncode, done.stdout, done.stderr)
    return _on_terminal(command, environ, timeout)


def _on_terminal(command: list[str], environ: dict[str, str], timeout: float) -> Run:
    """stderr on the slave side of a new pseudo-terminal (COLUMNS wide); stdout to a file."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLUMNS, 0, 0))
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, cwd=ROOT, env=environ, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=slave)
        os.close(slave)
        chunks: list[bytes] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                if time.monotonic() > deadline:
                    process.kill()
                    raise AssertionError(f"{command} did not finish in {timeout}s")
                ready, _, _ = select.select([master], [], [], 0.2)
                if not ready:
                    continue
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal (it has exited)
                    break
                if not data:
                    break
                chunks.append(data)
            code = process.wait(timeout=30)
        finally:
            os.close(master)
        out.seek(0)
        stdout = out.read().decode()
    return Run(code, stdout, b"".join(chunks).decode())


def fill(url: str, consignments: int) -> int:
    """Lodge and accept `consignments` declarations in the store at `url` (created and
    migrated here, as a service would): two events each, in one transaction. The last
    position."""
    events = registry()
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    store = EventStore(url, events)
    try:
        with store.transaction() as transaction:
            for n in range(consignments):
                cid, lrn, at = f"C{n:07d}", f"L{n:07d}", start + timedelta(seconds=n)
                document = {"lrn": lrn}
                received = DeclarationReceived(
                    consignment_id=cid, lrn=lrn, declarant_eori="GB1", fingerprint="sha256:x",
                    document=document)
                accepted = DeclarationAccepted(
                    consignment_id=cid, mrn=format_mrn(2026, "GB", n), lrn=lrn, declarant_eori="GB1",
                    office="GBLHR001", transport_mode="air", acceptance_date=date(2026, 3, 2),
                    declaration_version=1, document=document)
                transaction.append(f"declaration-{cid}", [
                    events.new_event(payload, correlation_id=cid, actor="cli-test",
                                     occurred_at=at) for payload in (received, accepted)],
                    expected_version=None)
        return store.last_position()
    finally:
        store.close()
