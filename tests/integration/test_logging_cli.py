"""The `clearance` command's logging (`configure_cli()`): what a command makes libraries log
is JSON on stderr, from WARNING on unless LOG_LEVEL asks for more; messages for people stay
as they are.

A real process calls `configure_cli()` as the command does, creates a store on a new SQLite
file (Alembic migrates it, logging at INFO), triggers a Python warning, a library warning and
structlog events, and prints a message for people.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from shared.testing import databases

ROOT = Path(__file__).resolve().parents[2]
COMMAND = """
import logging, sys, warnings
from shared.observability.logging import configure_cli, get_logger
configure_cli()
from shared.events.catalog import registry
from shared.eventstore import EventStore
EventStore(sys.argv[1], registry()).close()
warnings.warn("a warning the command triggers", UserWarning)
logging.getLogger("kombu.connection").warning("a library's warning")
get_logger("cli.test").warning("a structlog warning", detail=1)
get_logger("cli.test").info("a structlog info line")
print("clearance: a message for people", file=sys.stderr)
"""


def run(tmp_path: Path, **env: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The JSON records and the other lines the command wrote on stderr (stdout: nothing)."""
    environ = {k: v for k, v in os.environ.items() if k != "LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", COMMAND, databases.sqlite_url(tmp_path)],
                          cwd=ROOT, env={**environ, **env}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    records, others = [], []
    for line in done.stderr.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            assert {"timestamp", "level", "service", "event"} <= set(record), line
            assert record["service"] == "clearance"
            records.append(record)
        else:
            others.append(line)
    return records, others


def test_what_a_command_makes_libraries_log_is_json_from_warning_on(tmp_path: Path) -> None:
    records, others = run(tmp_path)
    assert others == ["clearance: a message for people"]
    assert [(r["level"], r.get("logger")) for r in records] == [
        ("warning", "py.warnings"), ("warning", "kombu.connection"), ("warning", None)]
    assert "UserWarning: a warning the command triggers" in records[0]["event"]
    assert (records[2]["event"], records[2]["detail"]) == ("a structlog warning", 1)


def test_log_level_info_shows_alembic_lines_as_json(tmp_path: Path) -> None:
    records, others = run(tmp_path, LOG_LEVEL="INFO")
    assert others == ["clearance: a message for people"]
    alembic = [r["event"] for r in records if r.get("logger") == "alembic.runtime.migration"]
    assert "Context impl SQLiteImpl." in alembic
    assert [r for r in records if r["event"] == "a structlog info line"]
